"""Training as its own job: a child process per training, with a memory bound.

Retraining (features over the whole window, LightGBM, the backtest) takes gigabytes for
minutes; run inside the pipeline's or the service's process it would hold that memory and
those cores. :func:`launch_training` starts ``python -m taxinav.cli model train-job`` with the
settings in a file, watches the child's resident memory (its process tree, every
``POLL_S``) and stops it beyond ``mlops.job_memory_gib``; the child
(:func:`train_in_this_process`) trains as ``training.backtest`` always did and records its
peak memory and seconds with the MLflow run (``job.peak_rss_gib``, ``job.seconds``).

The child writes the warehouse, so the launching process must not hold it open meanwhile
(DuckDB admits one writing process). To train on a bigger machine, the same command runs
there against the same warehouse and tracking server (README, deployment).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from taxinav.settings import Settings

POLL_S = 0.5  # seconds between two looks at the job's memory


class TrainingJobError(RuntimeError):
    """A training job failed or outgrew its memory bound (the message says which)."""


def launch_training(settings: Settings, unit: str, test_days: int) -> dict[str, Any]:
    """Run the training of ``unit`` in a child process; its result (``Training.to_json()``
    with a ``job`` entry: peak GiB, seconds, pid). Raises :class:`TrainingJobError` with the
    child's last error line, or when it passed ``mlops.job_memory_gib``."""
    jobs = settings.home / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    bound = settings.mlops.job_memory_gib
    with tempfile.TemporaryDirectory(dir=jobs) as tmp:
        conf, out, log = Path(tmp) / "settings.json", Path(tmp) / "out.json", jobs / f"{unit}.log"
        conf.write_text(settings.model_dump_json())
        cmd = [sys.executable, "-m", "taxinav.cli", "model", "train-job", "--settings", str(conf),
               "--unit", unit, "--test-days", str(test_days), "--out", str(out)]  # fmt: skip
        with log.open("wb") as sink:
            proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT)
            peak = _watch(proc, bound)
        if peak > bound:
            raise TrainingJobError(
                f"training job for {unit} stopped at {peak:.2f} GiB: beyond its bound of "
                f"{bound:g} GiB (TAXINAV_MLOPS__JOB_MEMORY_GIB); log in {log}"
            )
        if proc.returncode != 0:
            raise TrainingJobError(f"{_last_line(log)} (training job for {unit}, exit "
                                   f"{proc.returncode}; log in {log})")  # fmt: skip
        result: dict[str, Any] = json.loads(out.read_text())
    result["job"]["watched_peak_gib"] = round(peak, 3)
    return result


def _watch(proc: subprocess.Popen[bytes], bound_gib: float) -> float:
    """Wait for ``proc``; its highest resident GiB seen (it is killed once above the bound)."""
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, tree_rss_gib(proc.pid))
        if peak > bound_gib:
            proc.kill()
            proc.wait()
            break
        time.sleep(POLL_S)
    return peak


def tree_rss_gib(pid: int) -> float:
    """Resident GiB of process ``pid`` and its descendants (0 once it is gone)."""
    return _tree_rss_bytes(pid) / 2**30


def _tree_rss_bytes(pid: int) -> int:
    total = 0
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        total += pages * os.sysconf("SC_PAGESIZE")
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += _tree_rss_bytes(int(child))
    except (FileNotFoundError, ProcessLookupError):  # it ended while being read
        pass
    return total


def _last_line(log: Path) -> str:
    """The job's last words: its one-line error (``error: …``) when it failed as expected."""
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    last = lines[-1] if lines else "no output"
    return last.removeprefix("error:").strip()


def train_in_this_process(settings: Settings, unit: str, test_days: int) -> dict[str, Any]:
    """The job's own work: train and backtest ``unit``, then record the process's peak
    memory and seconds with the run."""
    from taxinav.mlops.tracking import log_job
    from taxinav.mlops.training import backtest
    from taxinav.warehouse import open_warehouse

    started = time.perf_counter()
    con = open_warehouse(settings)
    try:
        run = backtest(con, settings, unit, None, test_days)
    finally:
        con.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    seconds = time.perf_counter() - started
    if run.tracked is not None:
        log_job(settings, run.tracked.run_id, peak, seconds)
    out = run.to_json()
    out["job"] = {"peak_rss_gib": round(peak, 3), "seconds": round(seconds, 1),
                  "pid": os.getpid()}  # fmt: skip
    return out
