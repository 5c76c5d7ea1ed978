"""The ML flow: MLflow tracking and the registry (champion / challenger gated on days after
the training data, rollback), training jobs, tuning, realised accuracy (in-sample hours
labelled and kept out of alerts), monitoring with alerts and metrics."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taxinav.mlops.accuracy import accuracy_day
    from taxinav.mlops.monitoring import Alert, Monitor, make_monitor
    from taxinav.mlops.registry import (
        CHAMPION,
        ModelCard,
        Registry,
        champion_card,
        champion_loader,
        trained_before,
    )
    from taxinav.mlops.training import backtest, last_full_days, tune

# Imported on first use: a process that needs one small part (the ingest process needs the
# alert monitor) does not load the model libraries with the rest.
_EXPORTS = {
    "accuracy_day": "taxinav.mlops.accuracy",
    "Alert": "taxinav.mlops.monitoring",
    "Monitor": "taxinav.mlops.monitoring",
    "make_monitor": "taxinav.mlops.monitoring",
    "CHAMPION": "taxinav.mlops.registry",
    "ModelCard": "taxinav.mlops.registry",
    "Registry": "taxinav.mlops.registry",
    "champion_card": "taxinav.mlops.registry",
    "champion_loader": "taxinav.mlops.registry",
    "trained_before": "taxinav.mlops.registry",
    "backtest": "taxinav.mlops.training",
    "last_full_days": "taxinav.mlops.training",
    "tune": "taxinav.mlops.training",
}

__all__ = [
    "Alert",
    "CHAMPION",
    "ModelCard",
    "Monitor",
    "Registry",
    "accuracy_day",
    "backtest",
    "champion_card",
    "champion_loader",
    "last_full_days",
    "make_monitor",
    "trained_before",
    "tune",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
