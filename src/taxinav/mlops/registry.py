"""Model registry on MLflow: champion / challenger aliases, a promotion gate, rollback.

One registered model per unit type (``taxinav-road``, ``taxinav-h3``). A new version becomes
``challenger``; it is promoted to ``champion`` only if it beats the current champion and the
base model (the tuned historical average) by a margin on the run's gate window — days after
the challenger's training data and before the test window that is reported. Every decision is
recorded on the version (tags with the numbers and both windows), and the champions' history
is kept on the registered model so that ``rollback`` can restore the previous one (and record
that). A version's ``trained_before`` (the first day its training data did not reach) comes
from its run's parameters.
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
    window: str = ""  # the days the RMSEs are of (the gate window), e.g. "2008-05-24 + 2 days"
    champion_in_sample: bool = False  # the champion had trained on some of those days


def gate(
    challenger_rmse: float, champion_rmse: float | None, base_rmse: float, margin: float, *,
    window: str = "", champion_in_sample: bool = False,
) -> Decision:  # fmt: skip
    """Promote only if the challenger's RMSE is at least ``margin`` (a share) below both the
    base model's and the current champion's (when there is one), all on the same ``window``.
    A champion scored on days it was trained on is still compared (it can only make the gate
    stricter), and the reason says so."""
    nums = (challenger_rmse, champion_rmse, base_rmse, margin, window, champion_in_sample)
    note = " (champion scored in-sample on the gate window)" if champion_in_sample else ""
    if not challenger_rmse <= base_rmse * (1 - margin):
        return Decision(False, f"not {margin:.0%} better than the base model", *nums)
    if champion_rmse is not None and not challenger_rmse <= champion_rmse * (1 - margin):
        return Decision(False, f"not {margin:.0%} better than the champion{note}", *nums)
    return Decision(True, f"better than the base model and the champion{note}", *nums)


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
        champion_rmse: float | None, base_rmse: float, margin: float, *,
        window: str = "", champion_in_sample: bool = False,
    ) -> Decision:  # fmt: skip
        """Apply the gate to ``version`` (RMSEs of the gate ``window``) and record the decision
        on it."""
        d = gate(challenger_rmse, champion_rmse, base_rmse, margin, window=window,
                 champion_in_sample=champion_in_sample)  # fmt: skip
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

    def in_sample(self, day: date) -> bool | None:
        """Whether ``day`` was in the training data (None: the window is not recorded)."""
        return None if self.trained_before is None else day < self.trained_before


def trained_before(registry: Registry, unit: str, version: str) -> date | None:
    """The first day ``version``'s training data did not reach: its run's ``trained_before``
    parameter (the gate window's first day), or, for runs logged before there was a gate
    window, ``test_start`` (their models were fitted on every day before the test); None when
    the run records neither."""
    mv = registry.client.get_model_version(registry.name(unit), version)
    run_id = mv.run_id or mv.tags.get("run_id")
    if not run_id:
        return None
    params = registry.client.get_run(run_id).data.params
    day = params.get("trained_before") or params.get("test_start")
    return date.fromisoformat(day) if day else None


def champion_card(settings: Settings, unit: str) -> ModelCard | None:
    """``models:/taxinav-<unit>@champion`` with its training window, or None."""
    loaded = champion_loader(settings)(unit)
    if loaded is None:
        return None
    version, predict = loaded
    reg = Registry.from_settings(settings)
    return ModelCard(reg.name(unit), version, trained_before(reg, unit, version), predict)
