"""The code location Dagster's UI and daemon load (``taxinav pipeline ui``).

The definitions are built lazily from the environment's settings when Dagster asks.
"""

import dagster as dg

from taxinav.pipeline.assets import build_definitions
from taxinav.settings import get_settings


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(get_settings())
