"""The Python entry point for notebooks and scripts: ``taxinav.open(home)``.

Read-only access to a home — the warehouse as DataFrames, the road network and demand as
GeoDataFrames, routes planned at a moment, backtests and MLflow runs, figures returned as
``matplotlib`` ``Figure`` objects (nothing switches pyplot's backend, so a notebook shows them
inline). The warehouse is opened through its published read copy when there is one, so a
notebook never holds the pipeline's write lock.

>>> import taxinav
>>> tx = taxinav.open(home)
>>> tx.days()
[datetime.date(2008, 5, 18), datetime.date(2008, 5, 19), datetime.date(2008, 5, 20)]
>>> fixes = tx.telemetry("2008-05-19")
>>> sorted(fixes.columns)
['lat', 'lon', 'occupied', 'ts', 'vehicle_id']
>>> cells = tx.demand("h3", "2008-05-19")
>>> cells.crs.to_epsg(), cells.geometry.iloc[0].geom_type
(4326, 'Polygon')
>>> int(cells["pickups"].sum()) == int(tx.sql(
...     "SELECT sum(pickups) FROM demand_counts WHERE unit_type = 'h3' "
...     "AND slot_start >= '2008-05-19 07:00+00' AND slot_start < '2008-05-20 07:00+00'"
... ).iloc[0, 0])
True
>>> roads = tx.segments()
>>> len(roads) == int(tx.sql("SELECT count(*) FROM road_segments").iloc[0, 0])
True
>>> fig = tx.demand_map("h3", "2008-05-19")
>>> type(fig).__name__
'Figure'
>>> tx.close()
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from taxinav.calendar import Day
from taxinav.settings import Settings

if TYPE_CHECKING:
    import duckdb
    import geopandas as gpd
    from matplotlib.figure import Figure


def open_home(home: str | Path | None = None, **settings: Any) -> Workbench:
    """A read-only workbench on ``home`` (default: ``TAXINAV_HOME`` or ``var``); other
    settings by keyword (``timezone="Europe/Berlin"``) or from ``TAXINAV_*`` variables."""
    if home is not None:
        settings["home"] = Path(home)
    s = Settings(**settings)
    if not s.warehouse_path.exists():
        raise FileNotFoundError(f"no warehouse at {s.warehouse_path}; run `make demo` or the "
                                "pipeline first, or pass the home that has one")  # fmt: skip
    return Workbench(s)


def _day(day: date | str) -> date:
    return date.fromisoformat(day) if isinstance(day, str) else day


class Workbench:
    """What a home holds, for reading (see the module's examples)."""

    def __init__(self, settings: Settings) -> None:
        from taxinav.warehouse import open_reader

        self.settings = settings
        self._con: duckdb.DuckDBPyConnection | None = open_reader(settings)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise RuntimeError("this workbench is closed")
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> Workbench:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"taxinav.open({str(self.settings.home)!r})"

    # the warehouse -------------------------------------------------------------------------
    def sql(self, query: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Any read-only query on the warehouse."""
        return self.con.execute(query, params).df() if params else self.con.sql(query).df()

    def day(self, day: date | str) -> Day:
        """The local day's bounds in the fleet's city."""
        return Day.of(_day(day), self.settings.tz)

    def days(self) -> list[date]:
        """Local days with telemetry."""
        tz = self.settings.timezone
        rows = self.con.execute(
            f"SELECT DISTINCT (ts AT TIME ZONE '{tz}')::DATE AS d FROM telemetry ORDER BY d"
        ).fetchall()
        return [r[0] for r in rows]

    def telemetry(self, day: date | str, vehicle: str | None = None) -> pd.DataFrame:
        """The day's fixes (one vehicle's with ``vehicle``), in time order."""
        d = self.day(day)
        where = " AND vehicle_id = ?" if vehicle else ""
        params: list[Any] = [d.start, d.end] + ([vehicle] if vehicle else [])
        return self.con.execute(
            f"SELECT vehicle_id, ts, lat, lon, occupied FROM telemetry WHERE ts >= ? AND ts < ?"
            f"{where} ORDER BY vehicle_id, ts", params
        ).df()  # fmt: skip

    def trips(self, day: date | str) -> pd.DataFrame:
        """Passenger trips picked up on the day."""
        d = self.day(day)
        return self.con.execute(
            "SELECT * FROM trips WHERE pickup_ts >= ? AND pickup_ts < ? ORDER BY pickup_ts",
            [d.start, d.end],
        ).df()

    def segments(self) -> gpd.GeoDataFrame:
        """The road network: one row per directed segment, with its polyline."""
        from taxinav import exports

        return exports.segments(self.con)

    def demand(self, unit: str = "h3", day: date | str | None = None) -> gpd.GeoDataFrame:
        """Pickups and vacant taxis per unit (``h3`` cell or ``road`` segment) and slot of the
        day (default: the last day with telemetry)."""
        from taxinav import exports

        d = self.day(day if day is not None else self.days()[-1])
        return exports.demand(self.con, unit, d.start, d.end)

    def forecasts(self, unit: str = "h3", day: date | str | None = None,
                  model: str = "champion") -> gpd.GeoDataFrame:  # fmt: skip
        """A model's stored forecasts of every unit × slot of the day."""
        from taxinav import exports

        d = self.day(day if day is not None else self.days()[-1])
        return exports.forecasts(self.con, unit, d.start, d.end, model)

    # guidance --------------------------------------------------------------------------------
    def recommend(self, at: datetime | str, vehicle: str | None = None) -> gpd.GeoDataFrame:
        """The coordinated cruising routes of the vacant taxis at ``at`` (city time if no
        offset), as `taxinav recommend` plans them; one vehicle's with ``vehicle``."""
        from taxinav import exports
        from taxinav.guidance.recommend import recommend_at
        from taxinav.roads import read_graph

        moment = datetime.fromisoformat(at) if isinstance(at, str) else at
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.settings.tz)
        rec = recommend_at(self.con, self.settings, moment)
        graph = read_graph(self.con)
        chosen = [r for k, r in sorted(rec.routes.items()) if vehicle in (None, k)]
        if not chosen:
            raise LookupError(f"vehicle {vehicle!r} has no route at {moment}")
        return exports.routes([r.geojson(graph) for r in chosen])

    def simulate(self, day: date | str, policy: str = "historical", share: float = 1.0,
                 other: str | None = None, seeds: int = 1) -> pd.DataFrame:  # fmt: skip
        """Replay the day's real demand with a cruising policy (``taxinav simulate``'s
        choices) for ``share`` of the taxis; one row per group of taxis with each KPI's mean,
        min and max over the seeds."""
        from taxinav.guidance.experiment import simulate
        from taxinav.sim.report import KPI_COLUMNS

        out = simulate(self.con, self.settings, _day(day), 1, policy, share=share, other=other,
                       seeds=seeds)  # fmt: skip
        rows = []
        for group, kpis in out.summary.to_json().items():
            if group == "real":
                continue
            rows.append({"group": group, **{f"{c}_{s}": kpis[c][s] for c in KPI_COLUMNS
                                            for s in ("mean", "min", "max")}})  # fmt: skip
        return pd.DataFrame(rows)

    # experiments ---------------------------------------------------------------------------
    def backtests(self) -> pd.DataFrame:
        """The latest backtest of each unit type: one row per model with its test-window
        scores (from ``<home>/reports/forecast``)."""
        rows = []
        for path in sorted((self.settings.reports_dir / "forecast").glob("backtest_*.json")):
            result = json.loads(path.read_text())
            for name, scores in result.get("models", {}).items():
                numbers = {k: v for k, v in scores.items() if isinstance(v, int | float)}
                rows.append({"unit_type": result["unit_type"], "model": name,
                             "test_start": result["test_start"],
                             "test_days": result["test_days"], **numbers})  # fmt: skip
        return pd.DataFrame(rows)

    def runs(self, unit: str = "h3") -> pd.DataFrame:
        """The unit type's MLflow runs (parameters, metrics, tags), newest first; empty when
        tracking is off."""
        if not self.settings.mlops.track:
            return pd.DataFrame()
        import mlflow

        from taxinav.mlops.registry import tracking_uri
        from taxinav.mlops.tracking import experiment_id

        mlflow.set_tracking_uri(tracking_uri(self.settings.home, self.settings.mlops.tracking_uri))
        found = mlflow.search_runs([experiment_id(self.settings, unit)],
                                   order_by=["start_time DESC"])  # fmt: skip
        return found if isinstance(found, pd.DataFrame) else pd.DataFrame()

    # figures -------------------------------------------------------------------------------
    def demand_map(self, unit: str = "h3", day: date | str | None = None) -> Figure:
        """Pickups of the day per unit on the road network (a Figure; a notebook shows it)."""
        from taxinav.plotting import subplots

        frame = self.demand(unit, day)
        total = frame.groupby("unit_id", as_index=False).agg(pickups=("pickups", "sum"))
        shapes = frame.drop_duplicates("unit_id").set_index("unit_id").geometry
        geo = shapes.loc[total["unit_id"]].reset_index(drop=True)
        fig, ax = subplots(figsize=(7, 7))
        self.segments().plot(ax=ax, color="0.85", linewidth=0.4)
        import geopandas as gpd

        gpd.GeoDataFrame(total, geometry=geo.to_numpy(), crs=frame.crs).plot(
            ax=ax, column="pickups", cmap="viridis", legend=True, alpha=0.8,
            linewidth=1.5 if unit == "road" else 0.2,
        )  # fmt: skip
        ax.set_title(f"Pickups per {'road segment' if unit == 'road' else 'H3 cell'}")
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        return fig
