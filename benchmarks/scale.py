"""City scale: every stage through the real code path on synthetic cities of growing size,
with seconds, peak memory and the fitted growth exponent per stage.

    python benchmarks/scale.py [--sizes 6000:500,25000:1000,100000:3000,200000:5000]
                               [--days 2] [--folder var/scale] [--match-traces 2000]

For each size N:M a city of about N directed segments and M taxis over --days days, its pickups
placed by the real San Francisco profiles (``--hour-profile sf --spatial-profile sf``), is written
by ``taxinav synth city`` into --folder (kept, and reused when it is already there), then in a
fresh home each stage runs in a process of its own (its peak resident memory is the process's
``ru_maxrss``):
  landing          the Dagster ``landing`` asset: parse, validate, load the days' telemetry
  roads            the ``road_network`` asset: the OSM PBF into the segment graph
  daily batch      ``taxinav pipeline backfill`` of every day (telemetry, trips, pickups, demand,
                   features, forecasts, accuracy)
  map matching     Valhalla tiles, the vacant traces, and Meili on the first --match-traces
                   traces: the rate in GPS points per second, the seconds a day's vacant traces
                   take and the cores a 6-hour night window needs
  guidance         the service's day (``guidance.day_guidance``), one value iteration, the
                   coordinated plan for every vacant taxi at 18:00 of the last day, one route,
                   the same plan with every taxi vacant at random segments, the live refresh
                   (online road features of every segment + scoring with a LightGBM of the
                   champion's shape), and the payload sizes of the map's network layer and of
                   ``/v1/demand?unit=road``
  simulated day    ``taxinav simulate`` of the last day, every taxi historical
Results go to --folder/scale.json and the plots to <home>/reports/scale/. Targets at 200,000
segments and 5,000 taxis (checked when that size is run; exit 1 on a miss): live refresh
≤ 10 s, coordinated plan ≤ 20 s (also with every taxi vacant), one route ≤ 50 ms (p95),
value iteration ≤ 1 s, the daily batch of a day ≤ 20 min; and every stage's growth exponent in
N ≤ 1.2 (with 3 sizes or more).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

STAGES = ("landing", "roads", "daily batch", "map matching", "guidance", "simulated day")
TARGET_N = 200_000
NIGHT_H = 6.0  # hours of a night-time window for map matching
TAXINAV = str(Path(sys.executable).parent / "taxinav")  # the command line of this environment


@dataclass
class Size:
    segments: int
    taxis: int
    measures: dict[str, float] = field(default_factory=dict)  # name -> value
    peaks: dict[str, float] = field(default_factory=dict)  # stage -> peak RSS MiB
    errors: dict[str, str] = field(default_factory=dict)


def run_timed(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float, int]:
    """Run ``cmd``; seconds, peak RSS (MiB) of the process and its children, exit code."""
    t0 = time.perf_counter()
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, proc.returncode


def run_child(stage: str, env: dict[str, str], log: Path) -> tuple[dict[str, float], float, int]:
    """One in-process stage in a child process: its measures (JSON on the last line)."""
    out = log.with_suffix(f".{stage.replace(' ', '_')}.json")
    cmd = [sys.executable, __file__, "--child", stage, "--result", str(out)]
    _, peak, rc = run_timed(cmd, env, log)
    measures = json.loads(out.read_text()) if rc == 0 and out.is_file() else {}
    return measures, peak, rc


def ensure_city(folder: Path, size: Size, days: int, env: dict[str, str], log: Path) -> Path:
    """The city of ``size`` over ``days`` in ``folder`` (written unless there): its pickups
    follow the real San Francisco ones in the hour of the week and in space, stretched."""
    city = folder / f"city-{size.segments}-{size.taxis}-{days}d-sf"
    if not (city / "city.env").is_file():
        cmd = [TAXINAV, "synth", "city", "--segments", str(size.segments),
               "--taxis", str(size.taxis), "--days", str(days), "--out", str(city),
               "--hour-profile", "sf", "--spatial-profile", "sf"]  # fmt: skip
        secs, peak, rc = run_timed(cmd, env, log)
        if rc != 0:
            raise RuntimeError(f"synth city failed; see {log}")
        size.measures["synth city (s)"] = secs
    return city


def city_env(city: Path, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    for line in (city / "city.env").read_text().splitlines():
        key, _, value = line.partition("=")
        env[key] = value
    env["TAXINAV_HOME"] = str(home)
    env["TAXINAV_SIM__DISPATCH_SHARE"] = "0"  # no booking calibration: one simulated day
    return env


def measure(size: Size, folder: Path, days: int, match_traces: int, console: Console,
            stages: tuple[str, ...] = STAGES) -> None:  # fmt: skip
    """Run ``stages`` on the city of ``size``: all of them in a new home, or some of them
    again in the home an earlier run left."""
    log = folder / f"scale-{size.segments}-{size.taxis}.log"
    home = folder / f"home-{size.segments}-{size.taxis}"
    if stages == STAGES:
        subprocess.run(["rm", "-rf", str(home)], check=True)
    city = ensure_city(folder, size, days, dict(os.environ), log)
    env = city_env(city, home)
    env["TAXINAV_SCALE_MATCH_TRACES"] = str(match_traces)
    env["TAXINAV_SCALE_TAXIS"] = str(size.taxis)
    env["TAXINAV_SCALE_DAY"] = json.loads((city / "city.json").read_text())["last_date"]
    manifest = json.loads((city / "city.json").read_text())
    size.measures["segments"] = float(manifest["segments"])
    first, last = manifest["first_date"], manifest["last_date"]
    size.measures["fixes per day"] = manifest["fixes"] / days
    for stage in stages:
        console.print(f"  {size.segments:,} × {size.taxis:,}: {stage} …")
        if stage in ("daily batch", "simulated day"):
            cmd = ([TAXINAV, "pipeline", "backfill", "--start", first,
                    "--end", last] if stage == "daily batch" else
                   [TAXINAV, "simulate", "--start", last,
                    "--policy", "historical"])  # fmt: skip
            secs, peak, rc = run_timed(cmd, env, log)
            measures = {f"{stage} (s/day)": secs / (days if stage == "daily batch" else 1)}
        else:
            measures, peak, rc = run_child(stage, env, log)
        size.peaks[stage] = peak
        if rc != 0:
            size.errors[stage] = f"exit {rc} (see {log})"
            console.print(f"    [red]failed[/red]: exit {rc}; see {log}")
        size.measures.update(measures)
        if stage == "landing":
            size.measures["landing (s/day)"] = size.measures.pop("landing (s)") / days


# --- stages run in a child process -----------------------------------------------------------


def _child_landing() -> dict[str, float]:
    from taxinav.pipeline import runner
    from taxinav.settings import get_settings

    s = get_settings()
    t0 = time.perf_counter()
    runner.materialize(s, ["landing"], None, runner.instance_for(s))
    return {"landing (s)": time.perf_counter() - t0}


def _child_roads() -> dict[str, float]:
    from taxinav.pipeline import runner
    from taxinav.settings import get_settings

    s = get_settings()
    t0 = time.perf_counter()
    runner.materialize(s, ["road_network"], None, runner.instance_for(s))
    return {"roads (s)": time.perf_counter() - t0}


def _child_matching() -> dict[str, float]:
    from taxinav import roads
    from taxinav.roads.matching import spell_traces
    from taxinav.roads.meili import match_traces
    from taxinav.settings import get_settings
    from taxinav.warehouse import open_reader

    s = get_settings()
    r = s.roads
    t0 = time.perf_counter()
    config = roads.build_tiles(s.osm_path, s.valhalla_dir)
    t1 = time.perf_counter()
    con = open_reader(s)
    graph = roads.read_graph(con)
    traces = spell_traces(con, graph, max_points=r.meili_max_trace_points,
                          road_radius_m=r.meili_search_radius_m)  # fmt: skip
    days = con.execute("SELECT count(DISTINCT ts::DATE) FROM telemetry").fetchone() or (1,)
    t2 = time.perf_counter()
    sample = [t for t in traces.traces if len(t.lat) >= 2][: int(os.environ.get(
        "TAXINAV_SCALE_MATCH_TRACES", "2000"))]  # fmt: skip
    for _ in match_traces(config, sample, workers=r.meili_workers,
                          search_radius_m=r.meili_search_radius_m,
                          gps_accuracy_m=r.meili_gps_accuracy_m):  # fmt: skip
        pass
    t3 = time.perf_counter()
    points = sum(len(t.lat) for t in sample)
    per_core = points / (t3 - t2) / r.meili_workers
    day_points = sum(len(t.lat) for t in traces.traces) / max(int(days[0] or 1), 1)
    return {
        "valhalla tiles (s)": t1 - t0, "vacant traces (s)": t2 - t1,
        "map matching (points/s/core)": per_core,
        "map matching (core-s/day)": day_points / per_core,
        "map matching (cores for a night)": day_points / per_core / (NIGHT_H * 3600),
    }  # fmt: skip


def _child_guidance() -> dict[str, float]:
    import dataclasses
    from types import SimpleNamespace

    import pandas as pd

    from taxinav.calendar import local_midnight
    from taxinav.features import FEATURES
    from taxinav.features.counts import CountSpec
    from taxinav.forecast.gbm import GbmParams
    from taxinav.guidance.demand import road_history
    from taxinav.guidance.factory import day_guidance
    from taxinav.roads import SegmentIndex
    from taxinav.routing.coordination import Coordinator, Fleet
    from taxinav.routing.recommender import FleetState, VehicleState
    from taxinav.serve import planner, views
    from taxinav.serve.live import LiveState
    from taxinav.serve.online import DayForecaster
    from taxinav.settings import get_settings
    from taxinav.warehouse import open_reader

    s = get_settings()
    con = open_reader(s)
    last = date.fromisoformat(os.environ["TAXINAV_SCALE_DAY"])  # the city's last day
    origin = local_midnight(last, s.tz)
    at = origin + timedelta(hours=18)
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    g = day_guidance(con, s, last)
    out["day guidance build (s)"] = time.perf_counter() - t0
    t = 18 * 3600.0
    demand, habits = g.demand_at(t), g.habits_at(t)
    rec = g.recommender
    empty = Fleet(*(np.zeros(0, dtype=np.int64) for _ in range(4)))
    solo = Coordinator(rec.graph, dataclasses.replace(rec.config, coordinate=False))
    out["value iteration (s)"] = _median(lambda: solo.plan(demand, empty, habits), 3)
    rows = con.sql(
        """SELECT vehicle_id, arg_max(lat, ts), arg_max(lon, ts), arg_max(occupied, ts)
           FROM telemetry WHERE ts > $a - INTERVAL 3 MINUTE AND ts <= $a GROUP BY 1
           ORDER BY 1""", params={"a": at}).fetchall()  # fmt: skip
    vacant = [(r[0], r[1], r[2], float("nan")) for r in rows if not r[3]]
    index = SegmentIndex(g.graph)
    fleet = planner.place(g.graph, index, vacant)
    out["vacant taxis at 18:00"] = float(len(fleet))
    state = FleetState(t, fleet, demand, habits)
    t0 = time.perf_counter()
    rec.plan(state)
    out["coordinated plan (s)"] = time.perf_counter() - t0
    rng = np.random.default_rng(s.seed)
    everyone = [
        VehicleState(f"v{i}", int(seg), 0.0)
        for i, seg in enumerate(
            rng.integers(0, rec.graph.n, int(os.environ["TAXINAV_SCALE_TAXIS"]))
        )
    ]
    t0 = time.perf_counter()
    rec.plan(FleetState(t, everyone, demand, habits))
    out["coordinated plan, every taxi vacant (s)"] = time.perf_counter() - t0
    times = []
    for i, seg in enumerate(rng.integers(0, rec.graph.n, 50)):
        t0 = time.perf_counter()
        rec.reroute(VehicleState(f"r{i}", int(seg), 0.0), t)
        times.append(time.perf_counter() - t0)
    out["one route p50 (ms)"] = float(np.median(times)) * 1000
    out["one route p95 (ms)"] = float(np.percentile(times, 95)) * 1000
    # the live refresh: online features of every segment from the stored counts, scored
    spec = CountSpec.of(s)
    before = road_history(con, spec.history_start(origin + timedelta(days=1)), origin)
    live = road_history(con, origin, at)  # the day's counts so far, as the live state has them
    t0 = time.perf_counter()
    day = DayForecaster(s, g.graph, "road", before, origin)
    out["live features: day state (s)"] = time.perf_counter() - t0
    booster = _champion_shaped_model(GbmParams(), len(FEATURES), s.seed)

    def predict(x: pd.DataFrame) -> np.ndarray:
        return np.asarray(booster.predict(x.to_numpy(np.float32)))

    t0 = time.perf_counter()
    scored = day.forecast(live, at, predict)
    out["live refresh (s)"] = time.perf_counter() - t0
    out["live refresh: segments scored"] = float(len(scored.unit_id) if scored else 0)
    t0 = time.perf_counter()
    out["map network layer (MiB)"] = len(json.dumps(views.network(g.graph))) / 2**20
    ctx = SimpleNamespace(origin=origin, graph=g.graph, demand_at=g.demand_at,
                          demand_source="stored")  # fmt: skip
    state_live = LiveState(g.graph, [], s.forecast.h3_resolution, spec.slotting, 600.0, 50.0,
                           25.0)  # fmt: skip
    state_live.clock = at
    payload = views.road_demand(ctx, state_live, timedelta(minutes=5), spec.slotting)  # type: ignore[arg-type]
    out["/v1/demand road (MiB)"] = len(json.dumps(payload)) / 2**20
    return out


def _champion_shaped_model(params: Any, n_features: int, seed: int) -> Any:
    """A LightGBM of the champion's size (its leaves, every round) fitted to noise: what
    scoring costs does not depend on what the trees learned."""
    import lightgbm as lgb

    rng = np.random.default_rng(seed)
    x = rng.random((20_000, n_features)).astype(np.float32)
    y = rng.poisson(1.0 + 3 * x[:, 0])
    p = {**params.lgb_params(), "min_child_samples": 5}
    return lgb.train(p, lgb.Dataset(x, label=y), num_boost_round=params.max_rounds)


def _median(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


CHILDREN = {"landing": _child_landing, "roads": _child_roads, "map matching": _child_matching,
            "guidance": _child_guidance}  # fmt: skip


# --- report -----------------------------------------------------------------------------------

TIMED = ("landing (s/day)", "roads (s)", "daily batch (s/day)", "map matching (core-s/day)",
         "day guidance build (s)", "value iteration (s)", "coordinated plan (s)",
         "coordinated plan, every taxi vacant (s)",
         "one route p95 (ms)", "live refresh (s)", "simulated day (s/day)",
         "map network layer (MiB)", "/v1/demand road (MiB)")  # fmt: skip


def exponent(sizes: list[Size], name: str) -> float | None:
    pts = [(s.measures["segments"], s.measures[name]) for s in sizes
           if name in s.measures and s.measures[name] > 0]  # fmt: skip
    if len(pts) < 2:
        return None
    n, v = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(n, v, 1)[0])


def report(sizes: list[Size], console: Console) -> list[str]:
    table = Table(title="taxinav at city scale (2 cores): per stage, by size")
    table.add_column("measure")
    for s in sizes:
        table.add_column(f"{int(s.measures.get('segments', s.segments)):,} seg\n{s.taxis:,} taxis",
                         justify="right")  # fmt: skip
    table.add_column("exponent in N", justify="right")
    names = [n for n in sizes[-1].measures if n != "segments"] if sizes else []
    for s in sizes:
        names += [n for n in s.measures if n not in names and n != "segments"]
    for name in names:
        e = exponent(sizes, name) if name in TIMED else None
        table.add_row(name, *[_fmt(s.measures.get(name)) for s in sizes],
                      "" if e is None else f"{e:.2f}")  # fmt: skip
    for stage in STAGES:
        table.add_row(f"peak RSS: {stage} (MiB)", *[_fmt(s.peaks.get(stage)) for s in sizes], "")
    console.print(table)
    return _misses(sizes)


def _fmt(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def _misses(sizes: list[Size]) -> list[str]:
    missed = [f"{s.segments:,} × {s.taxis:,}: {k} {v}" for s in sizes for k, v in s.errors.items()]
    big = [s for s in sizes if s.segments >= TARGET_N]
    for s in big:
        m = s.measures
        limits = (("live refresh (s)", 10.0), ("coordinated plan (s)", 20.0),
                  ("coordinated plan, every taxi vacant (s)", 20.0),
                  ("one route p95 (ms)", 50.0), ("value iteration (s)", 1.0))  # fmt: skip
        for name, limit in limits:
            if m.get(name, float("inf")) > limit:
                missed.append(f"{name} at {s.segments:,}: {_fmt(m.get(name))} > {limit:g}")
        batch = m.get("daily batch (s/day)", float("inf")) + m.get("landing (s/day)", 0.0)
        if batch > 20 * 60:
            missed.append(f"daily batch of a day at {s.segments:,}: {batch:,.0f} s > 1,200 s")
    if len(sizes) >= 3:
        for name in TIMED:
            e = exponent(sizes, name)
            if e is not None and e > 1.2:
                missed.append(f"growth exponent of {name}: {e:.2f} > 1.2")
    return missed


def plot(sizes: list[Size], out: Path) -> Path:
    from taxinav.plotting import save, subplots

    fig, (a, b) = subplots(1, 2, figsize=(12, 5))
    for i, name in enumerate(TIMED):  # a second line style once the 10 colours are used
        pts = [(s.measures["segments"], s.measures[name]) for s in sizes if name in s.measures]
        if pts:
            a.plot(*zip(*pts, strict=True), marker="o", label=name, ls="-" if i < 10 else "--")
    for stage in STAGES:
        pts = [(s.measures["segments"], s.peaks[stage]) for s in sizes if stage in s.peaks]
        if pts:
            b.plot(*zip(*pts, strict=True), marker="o", label=stage)
    for ax, ylabel in ((a, "seconds (ms, MiB as labelled)"), (b, "peak resident memory, MiB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("directed road segments")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
    a.set_title("cost per stage")
    b.set_title("peak memory per stage")
    return save(fig, out)


def _results(folder: Path) -> list[dict[str, Any]]:
    path = folder / "scale.json"
    return list(json.loads(path.read_text())) if path.is_file() else []


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="6000:500,25000:1000,100000:3000,200000:5000")
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=Path("var/scale"))
    parser.add_argument("--match-traces", type=int, default=2000)
    parser.add_argument("--stages", default=",".join(STAGES),
                        help="Comma-separated stages to run; a subset runs them again in the "
                        "homes of an earlier run and updates its results.")  # fmt: skip
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.result.write_text(json.dumps(CHILDREN[args.child]()))
        return
    if args.days < 2:
        parser.error("--days must be at least 2 (guidance learns from the days before)")
    stages = tuple(s for s in STAGES if s in args.stages.split(","))
    unknown = set(args.stages.split(",")) - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s) {sorted(unknown)}; choose from {', '.join(STAGES)}")
    console = Console(width=160)
    args.folder.mkdir(parents=True, exist_ok=True)
    earlier = {(r["segments"], r["taxis"]): r for r in _results(args.folder)}
    sizes = []
    for spec in args.sizes.split(","):
        n, m = (int(x) for x in spec.split(":"))
        before = earlier.get((n, m)) if stages != STAGES else None
        sizes.append(Size(n, m, **{k: dict(before[k]) for k in ("measures", "peaks")})
                     if before else Size(n, m))  # fmt: skip
        console.rule(f"{n:,} segments, {m:,} taxis, {args.days} days")
        measure(sizes[-1], args.folder.resolve(), args.days, args.match_traces, console, stages)
        (args.folder / "scale.json").write_text(json.dumps(
            [{"segments": s.segments, "taxis": s.taxis, "measures": s.measures,
              "peaks": s.peaks, "errors": s.errors} for s in sizes], indent=1))  # fmt: skip
    missed = report(sizes, console)
    figure = plot(sizes, Path(os.environ.get("TAXINAV_HOME", "var")) / "reports" / "scale"
                  / "growth.png")  # fmt: skip
    console.print(f"plots → {figure}; results → {args.folder / 'scale.json'}")
    if missed:
        console.print("[red]missed:[/red]\n  " + "\n  ".join(missed))
        sys.exit(1)
    console.print(f"every stated target met ({date.today()})")


if __name__ == "__main__":
    main()
