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
    con.execute(f"CREATE OR REPLACE TABLE {name} AS {_narrowed(con, sql)} ORDER BY slot, unit_id")
    for n in _INPUTS:
        con.execute(f"DROP TABLE IF EXISTS _in_{inputs.unit_type}_{n}")
    return name


def _narrowed(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """``sql`` with its 128-bit integers (DuckDB's type of a sum of counts) as 64-bit: the
    same values in half the bytes, which a table of every unit × slot holds a dozen of."""
    rel = con.sql(sql)
    wide = [c for c, t in zip(rel.columns, rel.types, strict=True) if str(t) == "HUGEINT"]
    if not wide:
        return sql
    casts = ", ".join(f'CAST("{c}" AS BIGINT) AS "{c}"' for c in wide)
    return f"SELECT * REPLACE ({casts}) FROM ({sql})"
