"""Forecasting assets of one unit type: features, forecasts and realised accuracy per day, and
the model retrained over a rolling window and gated into the registry."""

import dagster as dg

from taxinav import roads
from taxinav.features.counts import CountSpec
from taxinav.features.slots import HISTORY_DAYS
from taxinav.forecast.daily import features_day, forecasts_day
from taxinav.mlops.accuracy import accuracy_day
from taxinav.mlops.job import launch_training
from taxinav.mlops.registry import champion_card
from taxinav.pipeline.assets.sources import GROUP
from taxinav.pipeline.assets.spark import lake_features_day
from taxinav.pipeline.resources import (
    SHARED_STORE_RETRY,
    Materialized,
    TaxinavResource,
    meta,
    warehouse,
    write_metrics,
)


def unit_assets(
    unit: str,
    code_versions: dict[str, str],
    part: dg.DailyPartitionsDefinition,
    demand: dg.AssetsDefinition,
    pickups: dg.AssetsDefinition,
) -> list[dg.AssetsDefinition]:
    """Features, forecasts, realised accuracy and the trained model of one unit type."""
    # a day's features read the demand of the day and of the HISTORY_DAYS + 1 before it
    history = dg.TimeWindowPartitionMapping(start_offset=-(HISTORY_DAYS + 1))

    @dg.asset(
        retry_policy=SHARED_STORE_RETRY,
        name=f"model_{unit}",
        group_name=f"{GROUP}_models",
        deps=[demand, pickups],
        code_version=code_versions["model"],
    )
    def model(taxinav: TaxinavResource) -> Materialized:
        """LightGBM retrained over the rolling window (``forecast.train_window_days``) before
        the gate days, logged to MLflow, registered as challenger and promoted only past the
        gate (beats the champion and the base model on the gate days); then scored on the
        test days."""
        s = taxinav.settings()
        # Its own process (mlops.job): retraining's memory and cores stay out of this run's.
        run = launch_training(s, unit, s.forecast.demo_test_days)
        with warehouse(s, f"model_{unit}") as con:
            write_metrics(con, s)
        models, m, job = run["models"], run.get("mlflow") or {}, run["job"]
        gate = {"rmse": m["challenger_rmse"], "champion_rmse": m["champion_rmse"]} if m else {}
        return dg.MaterializeResult(
            metadata={
                "rmse": float(models["lightgbm"]["rmse"]),
                "base_rmse": float(models["historical_average"]["rmse"]),
                "gate_window": m.get("gate_window", ""),
                "gate": meta({**gate, "base_rmse": m["base_rmse"]} if m else {}),
                "run_id": m.get("run_id", ""),
                "version": m.get("version", ""),
                "champion": str(m.get("champion") or ""),
                "promoted": bool(m.get("promoted")),
                "job_peak_rss_gib": float(job["peak_rss_gib"]),
                "job_seconds": float(job["seconds"]),
            }
        )

    @dg.asset(
        retry_policy=SHARED_STORE_RETRY,
        name=f"features_{unit}",
        group_name=GROUP,
        partitions_def=part,
        deps=[dg.AssetDep(demand, partition_mapping=history)],
        code_version=code_versions["features"],
    )
    def features(context: dg.AssetExecutionContext, taxinav: TaxinavResource) -> Materialized:
        """Forecasting features of every unit × slot of the day, from its demand counts and
        those of the days its historical statistics look back on (``HISTORY_DAYS``)."""
        s = taxinav.settings()
        spec, d = CountSpec.of(s), taxinav.day(context)
        if s.engine == "spark":
            out = lake_features_day(s, spec, unit, d)
        else:
            with warehouse(s, f"features_{unit}") as con:
                out = features_day(con, spec, roads.read_graph(con), unit, d)
        return dg.MaterializeResult(metadata=meta(out))

    @dg.asset(
        retry_policy=SHARED_STORE_RETRY,
        name=f"forecasts_{unit}",
        group_name=GROUP,
        partitions_def=part,
        deps=[features, model],
        code_version=code_versions["forecasts"],
    )
    def forecasts(context: dg.AssetExecutionContext, taxinav: TaxinavResource) -> Materialized:
        """Pickups over the forecast horizon from every slot: ``@champion`` (labelled in-sample
        on days it was trained on) and the base model."""
        s = taxinav.settings()
        with warehouse(s, f"forecasts_{unit}") as con:
            out = forecasts_day(con, unit, taxinav.day(context),
                                lambda u: champion_card(s, u), s.forecast.valid_days)  # fmt: skip
        return dg.MaterializeResult(metadata=meta(out))

    @dg.asset(
        retry_policy=SHARED_STORE_RETRY,
        name=f"accuracy_{unit}",
        group_name=GROUP,
        partitions_def=part,
        deps=[forecasts],
        code_version=code_versions["accuracy"],
    )
    def accuracy(context: dg.AssetExecutionContext, taxinav: TaxinavResource) -> Materialized:
        """Realised errors per hour of the served (champion) and base forecasts; alerts on
        out-of-sample hours only."""
        s = taxinav.settings()
        with warehouse(s, f"accuracy_{unit}") as con:
            out = accuracy_day(con, s.tz, unit, taxinav.day(context), taxinav.monitor())
            write_metrics(con, s)
        return dg.MaterializeResult(metadata=meta(out))

    return [features, model, forecasts, accuracy]
