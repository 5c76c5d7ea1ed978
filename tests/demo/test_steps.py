"""A finished step is reused only while the store it wrote is still there."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rich.console import Console

from taxinav.demo.batch import _run_step, _Warehouse
from taxinav.settings import Settings
from taxinav.warehouse import connect


def test_a_step_whose_output_is_gone_runs_again(tmp_path: Path) -> None:
    wh = _Warehouse(Settings(home=tmp_path / "var"), connect(":memory:"))
    console = Console(file=io.StringIO())
    out = tmp_path / "landing.duckdb"
    calls: list[int] = []

    def work() -> dict[str, Any]:
        calls.append(1)
        out.write_text("x")
        return {"n": len(calls)}

    assert _run_step(wh, console, "landing", "fp1", work, output=out) == {"n": 1}
    assert _run_step(wh, console, "landing", "fp1", work, output=out) == {"n": 1}  # reused
    out.unlink()
    assert _run_step(wh, console, "landing", "fp1", work, output=out) == {"n": 2}
    assert _run_step(wh, console, "landing", "fp2", work, output=out) == {"n": 3}  # new inputs
    assert len(calls) == 3
