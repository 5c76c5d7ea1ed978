"""The code location Dagster's UI and daemon load (``taxinav pipeline ui``).

The definitions are built lazily from the environment's settings when Dagster asks; logging
is configured then, as on the command line (``taxinav.logs`` with ``TAXINAV_LOG_LEVEL`` and
``TAXINAV_LOG_FORMAT``), and every run's events go through it (``runner.run_logger``).
"""

import dagster as dg

from taxinav import logs
from taxinav.pipeline.assets import build_definitions
from taxinav.pipeline.runner import run_logger
from taxinav.settings import get_settings


@dg.definitions
def defs() -> dg.Definitions:
    settings = get_settings()
    logs.configure_default(settings.log_level, settings.log_format)
    return dg.Definitions.merge(
        build_definitions(settings), dg.Definitions(loggers={"console": run_logger})
    )
