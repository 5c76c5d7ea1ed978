"""Fleet simulator: replay real demand and fleet presence; judge cruising policies by KPIs."""

from taxinav.sim.engine import FleetView, SimClock, SimConfig, Simulation, State
from taxinav.sim.events import EVENT_SCHEMA, EventLog, Kind
from taxinav.sim.kpi import meter_fare, summarize
from taxinav.sim.policies import WAIT_S, Hotspot, Policy, RandomWalk, demand_gradient
from taxinav.sim.world import Network, Presence, Requests, World

__all__ = [
    "EVENT_SCHEMA",
    "WAIT_S",
    "EventLog",
    "FleetView",
    "Hotspot",
    "Kind",
    "Network",
    "Policy",
    "Presence",
    "RandomWalk",
    "Requests",
    "SimClock",
    "SimConfig",
    "Simulation",
    "State",
    "World",
    "demand_gradient",
    "meter_fare",
    "summarize",
]
