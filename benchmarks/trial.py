"""One simulation trial of a guidance or simulator setting, for choosing values on days
before an evaluation window (record what was tried and the numbers in docs/decisions.md).

    python benchmarks/trial.py --start 2008-05-26 --day 2008-05-27 --policies guided \\
        [--share 0.2] [--seed 0] [--set routing.fleet_temperature=0.2 ...]

``--policies guided,historical`` runs 20 % (``--share``) guided with the rest on drivers'
habits; one policy runs the whole fleet. Prints served passengers and, per group, the median
and mean vacant minutes before a pickup, pickups per vacant hour and revenue per shift hour,
as JSON. Refuses days on or after 2008-05-29 (the evaluation window) unless --allow-window.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import Any

from taxinav.guidance import evaluate as ev
from taxinav.guidance.comparison import KPIS, group_kpi
from taxinav.settings import Settings, get_settings

WINDOW = date(2008, 5, 29)


def _override(settings: Settings, assignment: str) -> None:
    """``section.field=value``, parsed as the field's JSON value."""
    key, _, text = assignment.partition("=")
    section, _, name = key.partition(".")
    target = getattr(settings, section)
    value: Any = json.loads(text) if text not in ("true", "false") else text == "true"
    setattr(target, name, type(getattr(target, name))(value) if value is not None else None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--start", type=date.fromisoformat, required=True,
                   help="first day of the period (booking calibration before it)")  # fmt: skip
    p.add_argument("--day", type=date.fromisoformat, required=True)
    p.add_argument("--policies", required=True)
    p.add_argument("--share", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], help="section.field=value")
    p.add_argument("--allow-window", action="store_true")
    a = p.parse_args()
    if a.day >= WINDOW and not a.allow_window:
        sys.exit(f"{a.day} is in the evaluation window (from {WINDOW}); tune on earlier days")
    settings = get_settings()
    for assignment in a.set:
        _override(settings, assignment)
    booking = ev.period_booking(settings, a.start)
    policies = tuple(a.policies.split(","))
    arms = {"trial": ev.Arm(policies, a.share if len(policies) > 1 else 1.0)}
    worker = ev.Worker(settings, booking, a.start, a.share, arms)
    run = worker.run(ev.Task("trial", a.day, a.seed, settings.sim.patience_s,
                             settings.sim.match_radius_m, "main"))  # fmt: skip
    k = run["kpis"]
    out: dict[str, Any] = {"day": a.day.isoformat(), "policies": policies, "set": a.set,
                           "served": k["served"], "lost": k["lost"], "demand": k.get("demand"),
                           "seconds": round(run["seconds"], 1)}  # fmt: skip
    for g in k["groups"]:
        out[f"group {g}"] = {n: round(group_kpi(k, g, n), 3) for n in KPIS}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
