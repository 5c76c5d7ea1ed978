"""An evaluation's comparisons, tables and figure, from its runs (``guidance/evaluate.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from taxinav.guidance.comparison import KPIS, Comparison, RunKey, compare, group_kpi
from taxinav.plotting import save, subplots


@dataclass(frozen=True)
class EvaluationResult:
    window: dict[str, Any]
    demand: dict[str, Any]  # what guided taxis routed on: source, model, version, window
    comparisons: list[Comparison]
    fleet: dict[str, dict[str, float]]  # arm → mean served, lost, requests
    grid: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"window": self.window, "demand": self.demand, "seconds": self.seconds,
                "comparisons": [c.to_json() for c in self.comparisons],
                "fleet": self.fleet, "grid": self.grid, "runs": self.runs}  # fmt: skip

    def failed(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.met is False]


def _key(r: dict[str, Any]) -> RunKey:
    t = r["task"]
    return RunKey(t.part, t.arm, t.day, t.seed, t.patience_s, t.radius_m)


def summarize(results: list[dict[str, Any]], window: dict[str, Any], seed: int,
              seconds: float) -> EvaluationResult:  # fmt: skip
    runs = {_key(r): r["kpis"] for r in results}
    main = {(k.arm, k.day, k.seed): v for k, v in runs.items() if k.part == "main"}
    bounds = {(k.arm, k.day, k.seed): v for k, v in runs.items() if k.part == "bounds"}
    cmp: list[Comparison] = []
    mixed = sorted((d, s) for a, d, s in main if a == "mixed")

    def lab(d: Any, s: int) -> str:
        return f"{d.isoformat()}/seed{s}"

    targets = {"median": "<= -15", "mean": "<= -10", "revenue_per_shift_h": ">= 8",
               "pickups_per_vacant_h": None}  # fmt: skip
    for kpi, target in targets.items():
        pairs = [(lab(d, s), group_kpi(main["mixed", d, s], 0, kpi),
                  group_kpi(main["mixed", d, s], 1, kpi)) for d, s in mixed]  # fmt: skip
        cmp.append(compare("20 % guided vs historical taxis", kpi, pairs, seed, target))
    for kpi, target in (("revenue_per_shift_h", ">= 8"), ("median", None)):
        pairs = [(lab(d, s), group_kpi(main["mixed", d, s], 0, kpi),
                  group_kpi(main["heatmap", d, s], 0, kpi))
                 for d, s in mixed if ("heatmap", d, s) in main]  # fmt: skip
        cmp.append(compare("20 % guided vs 20 % heatmap", kpi, pairs, seed, target))
    fleet_runs = sorted((d, s) for a, d, s in main if a == "fleet-coordinated")
    for other, target in (("fleet-historical", "all >= 2"), ("fleet-independent", "all > 0")):
        pairs = [(lab(d, s), float(main["fleet-coordinated", d, s]["served"]),
                  float(main[other, d, s]["served"]))
                 for d, s in fleet_runs if (other, d, s) in main]  # fmt: skip
        cmp.append(compare(f"100 % coordinated vs {other.removeprefix('fleet-')}", "served",
                           pairs, seed, target))  # fmt: skip
    for arm, name in (("ablation-stored", "closed loop vs precomputed forecasts (leak)"),
                      ("bound-oracle", "closed loop vs oracle demand (bound)"),
                      ("bound-means", "closed loop vs historical means")):  # fmt: skip
        keys = sorted((d, s) for a, d, s in bounds if a == arm)
        for kpi in ("median", "revenue_per_shift_h"):
            pairs = [(lab(d, s), group_kpi(main["mixed", d, s], 0, kpi),
                      group_kpi(bounds[arm, d, s], 0, kpi))
                     for d, s in keys if ("mixed", d, s) in main]  # fmt: skip
            cmp.append(compare(name, kpi, pairs, seed))
    fleet = {}
    for arm in ("fleet-coordinated", "fleet-independent", "fleet-historical", "mixed"):
        rows = [v for (a, _, _), v in main.items() if a == arm]
        if rows:
            fleet[arm] = {k: float(np.mean([r[k] for r in rows]))
                          for k in ("served", "lost", "requests")}  # fmt: skip
    grid = _grid(runs, main, window)
    if grid:
        every = [g["diff_pct"] for g in grid]
        cmp.append(Comparison("robustness grid: guided vs historical median, every cell",
                              "median", [x for v in every for x in v],
                              [g["cell"] for g in grid for _ in g["diff_pct"]],
                              float(np.mean([np.mean(v) for v in every])), float("nan"),
                              float("nan"), "all < 0",
                              all(x < 0 for v in every for x in v)))  # fmt: skip
    mixed_runs = [r["kpis"].get("demand", {}) for r in results if r["task"].arm == "mixed"]
    demand: dict[str, Any] | None = mixed_runs[0].get("0") if mixed_runs else None
    return EvaluationResult(window, demand or {}, cmp, fleet, grid,
                            [_run_row(r) for r in results], seconds)  # fmt: skip


def _cell(patience_s: float, radius_m: float) -> str:
    return f"patience {patience_s / 60:g} min, radius {radius_m:g} m"


def _grid(runs: dict[RunKey, Any], main: dict[Any, Any], window: dict[str, Any]
          ) -> list[dict[str, Any]]:  # fmt: skip
    """Guided vs historical median per robustness cell; the default cell's runs are the
    main runs of the grid day."""
    cells: dict[str, list[float]] = {}
    for k, v in sorted(runs.items(), key=lambda kv: (kv[0].arm, kv[0].seed)):
        if k.part == "grid":
            cell = k.arm if k.arm != "mixed" else _cell(k.patience_s, k.radius_m)
            cells.setdefault(cell, []).append(_median_diff(v))
    if cells:
        default = _cell(window["patience_s"], window["radius_m"])
        for (arm, d, s), v in sorted(main.items(), key=lambda kv: kv[0][2]):
            if arm == "mixed" and d.isoformat() == window["grid_day"] and s < window["grid_seeds"]:
                cells.setdefault(default, []).append(_median_diff(v))
    return [{"cell": c, "diff_pct": v, "mean_pct": float(np.mean(v))}
            for c, v in sorted(cells.items())]  # fmt: skip


def _median_diff(kpis: dict[str, Any]) -> float:
    a, b = group_kpi(kpis, 0, "median"), group_kpi(kpis, 1, "median")
    return 100.0 * (a - b) / b


def _run_row(r: dict[str, Any]) -> dict[str, Any]:
    t, k = r["task"], r["kpis"]
    groups = {}
    for g in (0, 1):
        if g in k["groups"] or str(g) in k["groups"]:
            groups[str(g)] = {n: group_kpi(k, g, n) for n in KPIS}
    return {"part": t.part, "arm": t.arm, "policies": r["policies"], "day": t.day.isoformat(),
            "seed": t.seed, "patience_s": t.patience_s, "radius_m": t.radius_m,
            "served": k["served"], "lost": k["lost"], "requests": k["requests"],
            "groups": groups, "demand": k.get("demand", {}), "seconds": r["seconds"],
            "planning": k.get("planning", {})}  # fmt: skip


def markdown(res: EvaluationResult) -> str:
    w = res.window
    lines = [f"# Guidance evaluation {w['start']} + {w['days']} days × {w['seeds']} seeds", "",
             f"Demand guided taxis routed on: {res.demand}", "",
             f"Protocol: {w['protocol']}", "",
             "| comparison | KPI | mean Δ % | 95 % interval | runs | per run | target | met |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for c in res.comparisons:
        per = ", ".join(f"{v:+.1f}" for v in c.values)
        met = "" if c.met is None else ("yes" if c.met else "**no**")
        lines.append(f"| {c.name} | {c.kpi} | {c.mean:+.1f} | [{c.lo:+.1f}, {c.hi:+.1f}] | "
                     f"{len(c.values)} | {per} | {c.target or ''} | {met} |")  # fmt: skip
    lines += [
        "",
        "| arm (whole fleet) | served / day | lost / day | requests |",
        "|---|---|---|---|",
    ]
    for arm, v in res.fleet.items():
        lines.append(f"| {arm} | {v['served']:,.0f} | {v['lost']:,.0f} | {v['requests']:,.0f} |")
    lines += ["", "| robustness cell | guided vs historical median, % per seed |", "|---|---|"]
    for g in res.grid:
        lines.append(f"| {g['cell']} | {', '.join(f'{x:+.1f}' for x in g['diff_pct'])} |")
    lines += ["", f"{len(res.runs)} runs in {res.seconds / 60:.1f} min.", ""]
    return "\n".join(lines)


def plot(res: EvaluationResult, path: Path) -> Path:
    """Each comparison's mean paired difference with its 95 % interval, and its target."""
    rows = [c for c in res.comparisons if np.isfinite(c.lo)]
    fig, ax = subplots(figsize=(9, 0.45 * len(rows) + 1.5), dpi=110)
    y = np.arange(len(rows))[::-1]
    for yi, c in zip(y, rows, strict=True):
        colour = "#888" if c.met is None else ("#2a7" if c.met else "#c33")
        ax.errorbar(c.mean, yi, xerr=[[c.mean - c.lo], [c.hi - c.mean]], fmt="o",
                    color=colour, capsize=3)  # fmt: skip
        if c.target and not c.target.startswith("all"):
            ax.plot(float(c.target.split()[1]), yi, "|", color="k", markersize=12)
    ax.axvline(0, color="#999", lw=0.8)
    ax.set_yticks(y, [f"{c.name}: {c.kpi}" for c in rows], fontsize=8)
    ax.set_xlabel("paired difference, % (95 % bootstrap interval; | = target)")
    ax.set_title(f"guidance evaluation {res.window['start']} × {res.window['days']} days")
    return save(fig, path)
