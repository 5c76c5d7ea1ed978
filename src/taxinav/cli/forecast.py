"""``taxinav forecast …``: parameter search and backtests of the demand forecasters."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from taxinav.cli.common import Unit, UnitOption, console, date_option, fail, writer
from taxinav.settings import get_settings

app = typer.Typer(help="Demand forecasting and backtests.", no_args_is_help=True)


@app.command("tune")
def forecast_tune(
    unit: UnitOption = Unit.h3,
    trials: Annotated[int, typer.Option(min=1)] = 20,
    test_start: Annotated[
        date | None, date_option(help="First test day (default: last days)")
    ] = None,
    test_days: Annotated[int, typer.Option(min=1)] = 7,
) -> None:
    """Optuna search of LightGBM parameters on the validation days; the best are used next."""
    from taxinav.mlops.training import tune
    from taxinav.warehouse import open_warehouse

    settings = get_settings()
    con = open_warehouse(settings)
    with console.status(f"tuning {unit.value} with {trials} trials …"):
        out = tune(con, settings, unit.value, trials, test_start, test_days)
    console.print(f"best validation RMSE {out['best_valid_rmse']:.4f} over {trials} trials "
                  f"(MLflow run {out['run_id']}); saved to {out['saved']}")  # fmt: skip


@app.command("backtest")
def forecast_backtest(
    unit: UnitOption = Unit.h3,
    test_start: Annotated[
        date | None,
        date_option(help="First test day, local date YYYY-MM-DD (default: last days)"),
    ] = None,
    test_days: Annotated[int, typer.Option(min=1)] = 7,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the metrics here.")] = None,
    counts: Annotated[
        Path | None, typer.Option(help="Counts table: unit_id, slot_start, count [, lat, lon]")
    ] = None,
) -> None:
    """Train on everything before the test period and score every model on it."""
    from taxinav.demo.tables import print_backtest
    from taxinav.mlops.training import backtest

    settings = get_settings()
    if counts is not None and not counts.is_file():
        fail(f"{counts} does not exist")
    with writer(settings) as con:
        try:
            result = backtest(con, settings, unit.value, test_start, test_days, counts=counts,
                              json_out=json_out)  # fmt: skip
        except (LookupError, ValueError) as exc:
            fail(str(exc))
        print_backtest(console, result.to_json())
