"""Running the feature expression on DuckDB and storing the result in the warehouse."""

from __future__ import annotations

import duckdb
import ibis

from taxinav.features.expressions import build_features
from taxinav.features.sources import DemandInputs

_INPUTS = ("units", "slots", "counts", "supply", "neighbors")


def feature_table_name(unit_type: str) -> str:
    return f"features_{unit_type}"


def materialize(
    con: duckdb.DuckDBPyConnection, inputs: DemandInputs, name: str | None = None
) -> str:
    """(Re)build ``name`` — by default ``features_<unit_type>`` — (grain: unit × slot; key:
    unit_id, slot)."""
    backend = ibis.duckdb.from_connection(con)
    tables = {
        name: backend.create_table(
            f"_in_{inputs.unit_type}_{name}", getattr(inputs, name), overwrite=True
        )
        for name in _INPUTS
    }
    expr = build_features(
        tables["units"],
        tables["slots"],
        tables["counts"],
        tables["supply"],
        tables["neighbors"],
        inputs.slotting,
    )
    name = name or feature_table_name(inputs.unit_type)
    sql = ibis.to_sql(expr, dialect="duckdb")
    con.execute(f"CREATE OR REPLACE TABLE {name} AS {sql} ORDER BY slot, unit_id")
    for n in _INPUTS:
        con.execute(f"DROP TABLE IF EXISTS _in_{inputs.unit_type}_{n}")
    return name
