"""The ML flow: MLflow tracking and the registry (champion / challenger gated on days after
the training data, rollback), training jobs, tuning, realised accuracy (in-sample hours
labelled and kept out of alerts), monitoring with alerts and metrics."""

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

__all__ = [
    "CHAMPION",
    "Alert",
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
