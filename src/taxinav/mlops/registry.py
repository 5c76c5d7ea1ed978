"""Model registry on MLflow: champion / challenger aliases, a promotion gate, rollback.

One registered model per unit type (``taxinav-road``, ``taxinav-h3``). A new version becomes
``challenger``; it is promoted to ``champion`` only if it beats the current champion and the
base model (the tuned historical average) on the latest evaluation window by a margin. Every
decision is recorded on the version (tags with the numbers), and the champions' history is kept
on the registered model so that ``rollback`` can restore the previous one (and record that).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from taxinav.settings import Settings

log = logging.getLogger(__name__)

CHAMPION, CHALLENGER = "champion", "challenger"
HISTORY_TAG = "champion_history"
EVENTS_TAG = "champion_events"


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    challenger_rmse: float
    champion_rmse: float | None
    base_rmse: float
    margin: float


def gate(challenger_rmse: float, champion_rmse: float | None, base_rmse: float,
         margin: float) -> Decision:  # fmt: skip
    """Promote only if the challenger's RMSE is at least ``margin`` (a share) below both the
    base model's and the current champion's (when there is one)."""
    nums = (challenger_rmse, champion_rmse, base_rmse, margin)
    if not challenger_rmse <= base_rmse * (1 - margin):
        return Decision(False, f"not {margin:.0%} better than the base model", *nums)
    if champion_rmse is not None and not challenger_rmse <= champion_rmse * (1 - margin):
        return Decision(False, f"not {margin:.0%} better than the champion", *nums)
    return Decision(True, "better than the base model and the champion", *nums)


def tracking_uri(home: Path, configured: str | None = None) -> str:
    """The configured tracking server, or a SQLite store under ``home``."""
    return configured or f"sqlite:///{(home / 'mlflow.db').resolve()}"


class Registry:
    def __init__(self, uri: str) -> None:
        import mlflow
        from mlflow import MlflowClient

        mlflow.set_tracking_uri(uri)
        self.client = MlflowClient(tracking_uri=uri)

    @classmethod
    def from_settings(cls, settings: Settings) -> Registry:
        """The registry of these settings' tracking store (the one constructor callers use)."""
        return cls(tracking_uri(settings.home, settings.mlops.tracking_uri))

    @staticmethod
    def name(unit_type: str) -> str:
        return f"taxinav-{unit_type}"

    def register(self, unit_type: str, run_id: str, artifact: str = "model") -> str:
        """A new version from a run's logged model, made the challenger."""
        from mlflow.exceptions import MlflowException

        name = self.name(unit_type)
        try:
            self.client.get_registered_model(name)
        except MlflowException:
            self.client.create_registered_model(name)
        mv = self.client.create_model_version(name, f"runs:/{run_id}/{artifact}", run_id=run_id)
        self.client.set_registered_model_alias(name, CHALLENGER, mv.version)
        return str(mv.version)

    def register_uri(self, unit_type: str, model_uri: str, run_id: str) -> str:
        """A new version from a logged model's URI, made the challenger."""
        import mlflow

        mv = mlflow.register_model(model_uri, self.name(unit_type))
        self.client.set_model_version_tag(self.name(unit_type), mv.version, "run_id", run_id)
        self.client.set_registered_model_alias(self.name(unit_type), CHALLENGER, mv.version)
        return str(mv.version)

    def alias(self, unit_type: str, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(self.name(unit_type), alias).version)
        except MlflowException:
            return None

    def decide(
        self, unit_type: str, version: str, challenger_rmse: float,
        champion_rmse: float | None, base_rmse: float, margin: float,
    ) -> Decision:  # fmt: skip
        """Apply the gate to ``version`` and record the decision on it."""
        d = gate(challenger_rmse, champion_rmse, base_rmse, margin)
        name = self.name(unit_type)
        for key, value in (("gate_decision", "promoted" if d.promote else "rejected"),
                           ("gate_reason", d.reason),
                           ("gate_numbers", json.dumps(d.__dict__))):  # fmt: skip
            self.client.set_model_version_tag(name, version, key, value)
        log.info("model %s v%s: %s (%s)", name, version, "promoted" if d.promote else "kept "
                 "as challenger", d.reason)  # fmt: skip
        if d.promote:
            self.promote(unit_type, version, reason="gate")
        return d

    def promote(self, unit_type: str, version: str, reason: str = "manual") -> None:
        """Make ``version`` the champion (pushed on the champions' stack)."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_model_version(self.name(unit_type), version)
        except MlflowException as exc:
            raise LookupError(f"{self.name(unit_type)} has no version {version}") from exc
        stack = self.history(unit_type)
        if stack and stack[-1] == version:
            return
        self._save(unit_type, [*stack, version], "promote", version, reason)

    def rollback(self, unit_type: str) -> str:
        """Champion back to the previous champion; returns it. The rollback is recorded."""
        stack = self.history(unit_type)
        if len(stack) < 2:
            raise LookupError(f"{self.name(unit_type)} has no previous champion to roll back to")
        self.client.set_model_version_tag(self.name(unit_type), stack[-1], "rolled_back_at",
                                          _now())  # fmt: skip
        self._save(unit_type, stack[:-1], "rollback", stack[-2], f"from v{stack[-1]}")
        return stack[-2]

    def history(self, unit_type: str) -> list[str]:
        """Champions in the order they were made, the current one last."""
        tags = self.client.get_registered_model(self.name(unit_type)).tags
        return [str(v) for v in json.loads(tags.get(HISTORY_TAG, "[]"))]

    def events(self, unit_type: str) -> list[dict[str, str]]:
        tags = self.client.get_registered_model(self.name(unit_type)).tags
        out: list[dict[str, str]] = json.loads(tags.get(EVENTS_TAG, "[]"))
        return out

    def _save(self, unit_type: str, stack: list[str], event: str, version: str,
              reason: str) -> None:  # fmt: skip
        name = self.name(unit_type)
        events = [*self.events(unit_type),
                  {"at": _now(), "event": event, "version": version, "reason": reason}]  # fmt: skip
        self.client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(stack))
        self.client.set_registered_model_tag(name, EVENTS_TAG, json.dumps(events))
        self.client.set_registered_model_alias(name, CHAMPION, version)

    def versions(self, unit_type: str) -> list[dict[str, Any]]:
        """Every version with its aliases and gate decision (LookupError: none registered)."""
        from mlflow.exceptions import MlflowException

        name = self.name(unit_type)
        try:
            self.client.get_registered_model(name)
        except MlflowException as exc:
            raise LookupError(f"no registered model {name} yet") from exc
        champion, challenger = self.alias(unit_type, CHAMPION), self.alias(unit_type, CHALLENGER)
        rows = []
        for mv in self.client.search_model_versions(f"name='{name}'"):
            v = str(mv.version)
            rows.append({"version": v, "run_id": mv.run_id,
                         "aliases": [a for a, x in ((CHAMPION, champion),
                                                    (CHALLENGER, challenger)) if x == v],
                         "decision": mv.tags.get("gate_decision", "")})  # fmt: skip
        return sorted(rows, key=lambda r: int(r["version"]))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


Predict = Callable[[Any], np.ndarray]


def champion_loader(settings: Settings) -> Callable[[str], tuple[str, Predict] | None]:
    """A loader of ``models:/taxinav-<unit>@champion``: (version, predict) or None when
    tracking is off or no champion is registered. Everything that predicts goes through it."""

    def load(unit: str) -> tuple[str, Predict] | None:
        if not settings.mlops.track:
            return None
        import mlflow

        reg = Registry.from_settings(settings)
        version = reg.alias(unit, CHAMPION)
        if version is None:
            return None
        booster = mlflow.lightgbm.load_model(f"models:/{reg.name(unit)}@{CHAMPION}")
        return version, lambda x: np.asarray(booster.predict(x), dtype=np.float64)

    return load


@dataclass(frozen=True)
class ModelCard:
    """A loaded model and what a result that used it must state: name, version, and the
    first day its training data did not reach (``trained_before``; None: not recorded)."""

    name: str
    version: str
    trained_before: date | None
    predict: Predict

    def label(self) -> dict[str, str | None]:
        before = self.trained_before.isoformat() if self.trained_before else None
        return {"model": self.name, "version": self.version, "trained_before": before}


def champion_card(settings: Settings, unit: str) -> ModelCard | None:
    """``models:/taxinav-<unit>@champion`` with its training window, or None."""
    loaded = champion_loader(settings)(unit)
    if loaded is None:
        return None
    version, predict = loaded
    reg = Registry.from_settings(settings)
    mv = reg.client.get_model_version(reg.name(unit), version)
    run_id = mv.run_id or mv.tags.get("run_id")
    start = reg.client.get_run(run_id).data.params.get("test_start") if run_id else None
    return ModelCard(reg.name(unit), version, date.fromisoformat(start) if start else None,
                     predict)  # fmt: skip
