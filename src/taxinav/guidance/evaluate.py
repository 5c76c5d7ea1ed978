"""One evaluation protocol for guidance: paired simulation runs over days × seeds.

Every arm of a day and seed replays the same requests and fleet presence with the same seed,
so its vehicles are the same and the arms differ only in how the taxis cruise (paired runs).
Guided taxis route on the closed loop (``guidance/demand.py``); the precomputed forecasts,
the day's real pickups and historical means are labelled comparisons. Runs are independent
processes, so both cores work.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import duckdb
import numpy as np

from taxinav.calendar import local_midnight
from taxinav.guidance.demand import check_model_window
from taxinav.guidance.evaluation_report import EvaluationResult, markdown, plot, summarize
from taxinav.guidance.experiment import (
    PolicyBook,
    PolicySpec,
    calibration_config,
    data_end,
    run_config,
    run_seed,
)
from taxinav.mlops.registry import ModelCard, champion_card, tracking_uri
from taxinav.mlops.tracking import experiment_named, git_commit
from taxinav.settings import Settings
from taxinav.sim import Period
from taxinav.sim.booking import BookingModel
from taxinav.sim.calibration import resolve_booking
from taxinav.sim.runs import day_world, prepare
from taxinav.sim.world import World
from taxinav.warehouse import open_reader


@dataclass(frozen=True)
class Arm:
    """Group 0 (``share`` of the fleet) on the first policy, the rest on the second."""

    policies: tuple[str, ...]
    share: float


# The default protocol's arms (read-only: a protocol or a worker is given its own).
ARMS: Mapping[str, Arm] = MappingProxyType({
    "mixed": Arm(("guided", "historical"), 0.2),
    "heatmap": Arm(("heatmap", "historical"), 0.2),
    "fleet-coordinated": Arm(("guided",), 1.0),
    "fleet-independent": Arm(("guided-independent",), 1.0),
    "fleet-historical": Arm(("historical",), 1.0),
    # bounds and the leak ablation: guided on other demand, same runs otherwise
    "bound-oracle": Arm(("guided:oracle", "historical"), 0.2),
    "bound-means": Arm(("guided:historical", "historical"), 0.2),
    "ablation-stored": Arm(("guided:stored", "historical"), 0.2),
    # robustness: smarter rivals, a crude competitor model in the planner
    "rivals-heatmap": Arm(("guided", "heatmap"), 0.2),
    "crude-competitors": Arm(("guided:closed-loop:uniform", "historical"), 0.2),
})  # fmt: skip
MAIN = ("mixed", "heatmap", "fleet-coordinated", "fleet-independent", "fleet-historical")
BOUNDS = ("bound-oracle", "bound-means", "ablation-stored")
GRID_PATIENCE_S = (180.0, 300.0, 600.0)
GRID_RADIUS_M = (50.0, 100.0, 200.0)
GRID_EXTRA = ("rivals-heatmap", "crude-competitors")


@dataclass(frozen=True)
class Task:
    arm: str
    day: date
    seed: int
    patience_s: float  # the simulator's; the planner keeps its own
    radius_m: float
    part: str  # main, bounds or grid


@dataclass(frozen=True)
class Protocol:
    """What ``taxinav evaluate`` runs: main arms on every day × seed; the bounds and the
    leak ablation on ``bound_days`` × ``bound_seeds``; the robustness grid on ``grid_day`` ×
    ``grid_seeds``. ``arms``: what each arm name of a task runs."""

    start: date
    days: int
    seeds: int
    share: float = 0.2
    bound_days: int | None = None  # None: all days
    bound_seeds: int = 1
    grid_day: date | None = None  # None: the first day
    grid_seeds: int = 1
    parts: tuple[str, ...] = ("main", "bounds", "grid")
    arms: Mapping[str, Arm] = field(default=ARMS, hash=False)

    def tasks(self, settings: Settings) -> list[Task]:
        p, r = settings.sim.patience_s, settings.sim.match_radius_m
        days = [self.start + timedelta(days=d) for d in range(self.days)]
        out = [Task(a, d, s, p, r, "main") for d in days for s in range(self.seeds) for a in MAIN]
        if "bounds" in self.parts:
            out += [Task(a, d, s, p, r, "bounds") for d in days[: self.bound_days]
                    for s in range(self.bound_seeds) for a in BOUNDS]  # fmt: skip
        grid_day = self.grid_day or self.start
        for s in range(self.grid_seeds if "grid" in self.parts else 0):
            for pat in GRID_PATIENCE_S:
                for rad in GRID_RADIUS_M:
                    if (pat, rad) != (p, r) or s >= self.seeds:
                        out.append(Task("mixed", grid_day, s, pat, rad, "grid"))
            out += [Task(a, grid_day, s, p, r, "grid") for a in GRID_EXTRA]
        return out


@dataclass
class Worker:
    """One process's warehouse connection and what it learned, reused across its tasks;
    ``arms``: what each arm name of a task runs."""

    settings: Settings
    booking: BookingModel
    start: date
    share: float  # of the fleet in group 0 of the mixed arms
    arms: Mapping[str, Arm] = field(default=ARMS)
    con: duckdb.DuckDBPyConnection = field(init=False)
    periods: dict[float, tuple[Period, PolicyBook]] = field(default_factory=dict)
    worlds: dict[tuple[float, date], World] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.con = open_reader(self.settings, threads=1)

    def run(self, task: Task) -> dict[str, Any]:
        settings = self.settings.model_copy(deep=True)
        settings.sim.patience_s, settings.sim.match_radius_m = task.patience_s, task.radius_m
        config = run_config(settings)
        if task.radius_m not in self.periods:
            period = prepare(self.con, config, self.start)
            first = local_midnight(self.start, settings.tz)
            book = PolicyBook(self.con, period.network, settings, first, data_end(self.con))
            self.periods[task.radius_m] = (period, book)
        period, book = self.periods[task.radius_m]
        key = (task.radius_m, task.day)
        if key not in self.worlds:
            index = (task.day - self.start).days
            self.worlds = {k: w for k, w in self.worlds.items() if k[1] == task.day}
            self.worlds[key] = day_world(self.con, config, period, task.day, index)
        world = self.worlds[key]
        arm = self.arms[task.arm]
        factories = [book.factory(PolicySpec.parse(n)) for n in arm.policies]
        share = self.share if arm.share < 1.0 else 1.0
        run = run_seed(world, factories, config, task.day, task.seed, share,
                       self.booking.for_day(world))  # fmt: skip
        return {"task": task, "kpis": run.kpis, "seconds": run.seconds,
                "policies": list(arm.policies)}  # fmt: skip


_worker: Worker | None = None  # this process's worker (set by the pool's initializer)


def _init(settings: Settings, booking: BookingModel, start: date, share: float,
          arms: dict[str, Arm]) -> None:  # fmt: skip
    global _worker
    _worker = Worker(settings, booking, start, share, arms)


def _run(task: Task) -> dict[str, Any]:
    assert _worker is not None, "the pool initializer sets the worker"
    return _worker.run(task)


def run_line(result: dict[str, Any]) -> str:
    """One finished run, for a progress display."""
    t = result["task"]
    return (f"{t.arm} {t.day} seed {t.seed} ({'+'.join(result['policies'])}) "
            f"{result['seconds']:.0f} s")  # fmt: skip


def run_tasks(
    settings: Settings, booking: BookingModel, protocol: Protocol, tasks: list[Task],
    workers: int, progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Every task in its own run, ``workers`` processes at a time; results in task order."""
    # a plain dict: the arms go to each worker process by pickle
    args = (settings, booking, protocol.start, protocol.share, dict(protocol.arms))
    if workers <= 1:
        worker = Worker(*args)
        results = []
        for t in tasks:
            results.append(worker.run(t))
            if progress:
                progress(results[-1])
        return results
    ctx = multiprocessing.get_context("spawn")  # no forked DuckDB or MLflow state
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init, initargs=args) as pool:
        futures = [pool.submit(_run, t) for t in tasks]
        out = []
        for f in futures:
            out.append(f.result())
            if progress:
                progress(out[-1])
        return out


def period_booking(settings: Settings, start: date) -> BookingModel:
    """The booking model of a period starting at ``start`` (calibrated once, cached)."""
    con = open_reader(settings)
    try:
        return resolve_booking(con, calibration_config(settings), start)
    finally:
        con.close()


def preflight(settings: Settings, protocol: Protocol) -> ModelCard:
    """The road champion the closed loop will forecast with, if it may route the window."""
    card = champion_card(settings, "road")
    if card is None:
        raise LookupError(
            "no road champion to forecast with: run `taxinav forecast backtest --unit road "
            f"--test-start {protocol.start}` (or make demo) first"
        )
    check_model_window(card, protocol.start)
    return card


def evaluate(
    settings: Settings, protocol: Protocol, workers: int = 2, json_out: Path | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> EvaluationResult:  # fmt: skip
    """Run the protocol, compare, write Markdown + JSON + a plot under
    ``reports/evaluate/`` and log the evaluation to MLflow (experiment ``guidance``)."""
    t0 = time.perf_counter()
    preflight(settings, protocol)
    booking = period_booking(settings, protocol.start)
    tasks = protocol.tasks(settings)
    results = run_tasks(settings, booking, protocol, tasks, workers, progress)
    window = {
        "start": protocol.start.isoformat(), "days": protocol.days, "seeds": protocol.seeds,
        "share": protocol.share, "grid_day": (protocol.grid_day or protocol.start).isoformat(),
        "grid_seeds": protocol.grid_seeds, "bound_days": protocol.bound_days or protocol.days,
        "bound_seeds": protocol.bound_seeds, "patience_s": settings.sim.patience_s,
        "radius_m": settings.sim.match_radius_m, "protocol": PROTOCOL_TEXT,
    }  # fmt: skip
    result = summarize(results, window, settings.seed, time.perf_counter() - t0)
    out_dir = settings.reports_dir / "evaluate"
    out_dir.mkdir(parents=True, exist_ok=True)
    data = json.dumps(result.to_json(), indent=1, default=str)
    (json_out or out_dir / "evaluation.json").write_text(data)
    if json_out is not None:
        (out_dir / "evaluation.json").write_text(data)
    figure = plot(result, out_dir / "evaluation.png")
    (out_dir / "evaluation.md").write_text(markdown(result))
    if settings.mlops.track:
        log_evaluation(settings, window, result, [out_dir / "evaluation.md", figure,
                                                  out_dir / "evaluation.json"])  # fmt: skip
    return result


PROTOCOL_TEXT = (
    "paired runs (same requests, presence and seed in every arm); 20 % groups drawn per "
    "vehicle with the seed; guided and heatmap taxis route on the closed-loop forecast "
    "(online features of the simulated telemetry, scored by the road champion, refreshed "
    "every slot), the planner sees each vacant taxi's last fix and models unguided drivers by "
    "habits learned before the window, while the simulated drivers replay habits learned "
    "from every day of the data but the simulated one; every knob was chosen on days before "
    "the window (docs/decisions.md)"
)


def log_evaluation(settings: Settings, window: dict[str, Any], result: EvaluationResult,
                   files: list[Path]) -> None:  # fmt: skip
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(settings.home, settings.mlops.tracking_uri))
    with mlflow.start_run(experiment_id=experiment_named(settings, "guidance"),
                          run_name=f"evaluate {window['start']} × {window['days']}"):  # fmt: skip
        mlflow.log_params({k: v for k, v in window.items() if k != "protocol"})
        mlflow.log_params({f"routing.{k}": v for k, v in settings.routing.model_dump().items()})
        mlflow.log_params({f"sim.{k}": v for k, v in settings.sim.model_dump().items()})
        mlflow.set_tags({"git_commit": git_commit(), "protocol": window["protocol"],
                         **{f"demand.{k}": str(v) for k, v in result.demand.items()}})  # fmt: skip
        for i, c in enumerate(result.comparisons):
            slug = f"c{i:02d}.{c.kpi}"
            mlflow.log_metrics({f"{slug}.mean_pct": c.mean}
                               | ({f"{slug}.lo": c.lo, f"{slug}.hi": c.hi}
                                  if np.isfinite(c.lo) else {}))  # fmt: skip
        for f in files:
            mlflow.log_artifact(str(f))
