"""Fleet simulator: replay real demand and fleet presence; judge cruising policies by KPIs."""

from taxinav.sim.calibration import CalibrationConfig
from taxinav.sim.engine import FleetView, SimClock, SimConfig, Simulation, State
from taxinav.sim.events import EVENT_SCHEMA, EventLog, Kind
from taxinav.sim.kpi import SF_2008, Tariff, meter_fare, summarize
from taxinav.sim.policies import WAIT_S, Hotspot, Policy, RandomWalk, demand_gradient
from taxinav.sim.runs import Period, PolicyFactory, RunConfig, SeedRun
from taxinav.sim.world import Network, Presence, Requests, World

__all__ = [
    "EVENT_SCHEMA",
    "SF_2008",
    "WAIT_S",
    "CalibrationConfig",
    "EventLog",
    "FleetView",
    "Hotspot",
    "Kind",
    "Network",
    "Period",
    "Policy",
    "PolicyFactory",
    "Presence",
    "RandomWalk",
    "Requests",
    "RunConfig",
    "SeedRun",
    "SimClock",
    "SimConfig",
    "Simulation",
    "State",
    "Tariff",
    "World",
    "demand_gradient",
    "meter_fare",
    "summarize",
]
