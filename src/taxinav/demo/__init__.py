"""The ``make demo`` batch: every step from the source files to the report, each skipped when
its inputs are unchanged (fingerprints), the pipeline driven through an orchestrator."""

from taxinav.demo.batch import run_batch
from taxinav.demo.stages import Orchestrator, data_days

__all__ = ["Orchestrator", "data_days", "run_batch"]
