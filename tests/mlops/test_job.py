"""Training as its own job: the child process's memory bound and its one-line failures."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from taxinav.mlops.job import TrainingJobError, launch_training, tree_rss_gib
from taxinav.settings import MlopsSettings, Settings


def _settings(tmp_path: Path, bound_gib: float) -> Settings:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return Settings(home=tmp_path / "var", data_dir=data,
                    mlops=MlopsSettings(job_memory_gib=bound_gib))  # fmt: skip


def test_a_job_beyond_its_memory_bound_is_stopped_and_says_which_setting(
    tmp_path: Path,
) -> None:
    # An interpreter that imports the command line holds far more than 20 MiB.
    started = time.monotonic()
    with pytest.raises(TrainingJobError, match=r"beyond its bound of 0\.02 GiB "
                       r"\(TAXINAV_MLOPS__JOB_MEMORY_GIB\)"):  # fmt: skip
        launch_training(_settings(tmp_path, 0.02), "h3", 7)
    assert time.monotonic() - started < 30  # stopped, not left to fail on its own


def test_a_failing_job_reports_its_one_line_error(tmp_path: Path) -> None:
    # An empty home: the child ends with "error: no road network …" and exit code 1.
    with pytest.raises(TrainingJobError, match=r"^no road network in the warehouse.*exit 1"):
        launch_training(_settings(tmp_path, 8.0), "h3", 7)
    assert (tmp_path / "var" / "jobs" / "h3.log").is_file()


def test_tree_memory_counts_the_children() -> None:
    # A parent holding ~0 and a child holding 200 MiB of touched pages.
    child = "b = bytearray(200 * 2**20); import time; time.sleep(30)"
    parent = (
        "import subprocess, sys, time; "
        f"subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(30)"
    )
    proc = subprocess.Popen([sys.executable, "-c", parent])
    try:
        deadline = time.monotonic() + 20
        while tree_rss_gib(proc.pid) < 0.2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert tree_rss_gib(proc.pid) >= 200 / 1024
        own = int(Path(f"/proc/{proc.pid}/statm").read_text().split()[1]) * os.sysconf(
            "SC_PAGESIZE"
        )
        assert own < 100 * 2**20  # the 200 MiB are the child's
    finally:
        for line in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split():
            os.kill(int(line), 9)
        proc.kill()
        proc.wait()
    assert tree_rss_gib(proc.pid) == 0.0
