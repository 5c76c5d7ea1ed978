"""The warehouse's data contracts: every table, its grain and its key, in one place.

Timestamps are ``TIMESTAMPTZ`` (instants, shown in UTC by :func:`connect`); local dates are
derived with the fleet's time zone only at the edges (CLI, reports).
"""

from __future__ import annotations

MACROS = """
-- Great-circle distance in metres (spherical Earth, mean radius).
CREATE OR REPLACE TEMP MACRO hav_m(lat1, lon1, lat2, lon2) AS
    2 * 6371008.8 * asin(sqrt(
        pow(sin(radians(lat2 - lat1) / 2), 2)
        + cos(radians(lat1)) * cos(radians(lat2)) * pow(sin(radians(lon2 - lon1) / 2), 2)));
-- Initial bearing in degrees [0, 360) from point 1 to point 2.
CREATE OR REPLACE TEMP MACRO bearing_deg(lat1, lon1, lat2, lon2) AS
    (degrees(atan2(
        sin(radians(lon2 - lon1)) * cos(radians(lat2)),
        cos(radians(lat1)) * sin(radians(lat2))
        - sin(radians(lat1)) * cos(radians(lat2)) * cos(radians(lon2 - lon1)))) + 360) % 360;
"""

TABLES: dict[str, str] = {
    # grain: one GPS fix; key: (vehicle_id, ts)
    "telemetry": """
        CREATE TABLE IF NOT EXISTS telemetry (
            vehicle_id VARCHAR NOT NULL,
            ts TIMESTAMPTZ NOT NULL,
            lat DOUBLE NOT NULL,
            lon DOUBLE NOT NULL,
            occupied BOOLEAN NOT NULL)""",
    # grain: one rejected input row (or removed fix); key: qkey (source, line, vehicle, ts, reason)
    "quarantine": """
        CREATE TABLE IF NOT EXISTS quarantine (
            qkey VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            line BIGINT,
            vehicle_id VARCHAR,
            ts TIMESTAMPTZ,
            field VARCHAR,
            reason VARCHAR NOT NULL,
            raw VARCHAR)""",
    # grain: one passenger trip with observed pickup and drop-off; key: trip_id
    "trips": """
        CREATE TABLE IF NOT EXISTS trips (
            trip_id VARCHAR NOT NULL,
            vehicle_id VARCHAR NOT NULL,
            pickup_ts TIMESTAMPTZ NOT NULL,
            pickup_lat DOUBLE NOT NULL,
            pickup_lon DOUBLE NOT NULL,
            pickup_heading DOUBLE,
            dropoff_ts TIMESTAMPTZ NOT NULL,
            dropoff_lat DOUBLE NOT NULL,
            dropoff_lon DOUBLE NOT NULL,
            dropoff_heading DOUBLE,
            duration_s DOUBLE NOT NULL,
            distance_m DOUBLE NOT NULL,
            n_fixes INTEGER NOT NULL)""",
    # grain: one vacant spell (search for a passenger); key: spell_id.
    # start_reason: dropoff | shift_start; end_reason: pickup | gap | end_of_data.
    # Only spells ending in 'pickup' measure time-to-find-a-passenger.
    "vacant_spells": """
        CREATE TABLE IF NOT EXISTS vacant_spells (
            spell_id VARCHAR NOT NULL,
            vehicle_id VARCHAR NOT NULL,
            start_ts TIMESTAMPTZ NOT NULL,
            start_lat DOUBLE NOT NULL,
            start_lon DOUBLE NOT NULL,
            start_reason VARCHAR NOT NULL,
            end_ts TIMESTAMPTZ NOT NULL,
            end_lat DOUBLE NOT NULL,
            end_lon DOUBLE NOT NULL,
            end_reason VARCHAR NOT NULL,
            duration_s DOUBLE NOT NULL,
            distance_m DOUBLE NOT NULL,
            n_fixes INTEGER NOT NULL)""",
    # grain: one (kind, reason) of trips/spells cut or dropped in derivation; key: (kind, reason)
    "derivation_counts": """
        CREATE TABLE IF NOT EXISTS derivation_counts (
            kind VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            n BIGINT NOT NULL)""",
    # grain: one road-graph node (intersection or way end); key: node_id (OSM id)
    "road_nodes": """
        CREATE TABLE IF NOT EXISTS road_nodes (
            node_id BIGINT NOT NULL,
            lat DOUBLE NOT NULL,
            lon DOUBLE NOT NULL,
            traffic_signals BOOLEAN NOT NULL,
            stop_sign BOOLEAN NOT NULL)""",
    # grain: one directed road segment, intersection to intersection; key: segment_id
    "road_segments": """
        CREATE TABLE IF NOT EXISTS road_segments (
            segment_id INTEGER NOT NULL,
            way_id BIGINT NOT NULL,
            from_node BIGINT NOT NULL,
            to_node BIGINT NOT NULL,
            node_ids BIGINT[] NOT NULL,
            highway VARCHAR NOT NULL,
            name VARCHAR,
            oneway BOOLEAN NOT NULL,
            length_m DOUBLE NOT NULL,
            speed_kph DOUBLE NOT NULL,
            mid_lat DOUBLE NOT NULL,
            mid_lon DOUBLE NOT NULL,
            h3_cell VARCHAR NOT NULL,
            geometry_wkt VARCHAR NOT NULL)""",
    # grain: one legal move from a segment to the next; key: (segment_id, next_segment_id)
    "road_successors": """
        CREATE TABLE IF NOT EXISTS road_successors (
            segment_id INTEGER NOT NULL,
            next_segment_id INTEGER NOT NULL)""",
    # grain: one trip end (pickup or drop-off); key: (trip_id, end_kind).
    # status: matched | beyond_radius; segment_id is NULL when not matched.
    "trip_end_matches": """
        CREATE TABLE IF NOT EXISTS trip_end_matches (
            trip_id VARCHAR NOT NULL,
            end_kind VARCHAR NOT NULL,
            vehicle_id VARCHAR NOT NULL,
            ts TIMESTAMPTZ NOT NULL,
            segment_id INTEGER,
            distance_m DOUBLE,
            offset_frac DOUBLE,
            status VARCHAR NOT NULL)""",
    # grain: one segment visited by a map-matched vacant spell; key: (spell_id, seq).
    # piece increments where the matched path breaks (unmatched stretch, off-graph edge).
    "spell_paths": """
        CREATE TABLE IF NOT EXISTS spell_paths (
            spell_id VARCHAR NOT NULL,
            vehicle_id VARCHAR NOT NULL,
            seq INTEGER NOT NULL,
            piece INTEGER NOT NULL,
            segment_id INTEGER NOT NULL,
            ts TIMESTAMPTZ NOT NULL,
            n_fixes INTEGER NOT NULL)""",
    # grain: one vacant spell offered to the map matcher; key: spell_id
    # status: matched | off_road (no fix near a road) | too_few_points | off_graph (matched only
    # to ways we do not have) | off_network | failed
    "spell_match_status": """
        CREATE TABLE IF NOT EXISTS spell_match_status (
            spell_id VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            n_points INTEGER NOT NULL,
            n_segments INTEGER NOT NULL)""",
    # grain: one unit × 10-minute slot × model × model version;
    # key: (unit_type, model, model_version, unit_id, slot_start).
    # Forecast pickups over the forecast horizon from slot_start: the daily pipeline's
    # 'champion' and 'base' (one version per day: a day's run replaces the day), and a
    # backtest's served 'lightgbm' (each version keeps its own test windows). model_version is
    # the registry's version, '' for the base model and untracked runs. in_sample: the slot's
    # local day is before the version's trained_before (it was in the training data); NULL
    # when not known (rows written before the column existed, or a model without a window).
    "forecasts": """
        CREATE TABLE IF NOT EXISTS forecasts (
            unit_type VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            unit_id VARCHAR NOT NULL,
            slot_start TIMESTAMPTZ NOT NULL,
            yhat DOUBLE NOT NULL,
            model_version VARCHAR NOT NULL,
            in_sample BOOLEAN)""",
    # grain: one local day × outcome of deriving trips/spells; key: (day, kind, reason).
    "daily_derivation_counts": """
        CREATE TABLE IF NOT EXISTS daily_derivation_counts (
            day DATE NOT NULL,
            kind VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            n BIGINT NOT NULL)""",
    # grain: one unit × 10-minute slot with pickups or vacant vehicles;
    # key: (unit_type, unit_id, slot_start). Absent rows mean zero.
    "demand_counts": """
        CREATE TABLE IF NOT EXISTS demand_counts (
            unit_type VARCHAR NOT NULL,
            unit_id VARCHAR NOT NULL,
            slot_start TIMESTAMPTZ NOT NULL,
            pickups BIGINT NOT NULL,
            vacant BIGINT NOT NULL)""",
    # grain: one unit × slot of the daily pipeline; key: (unit_type, unit_id, slot_start).
    # x holds the forecasting features in the order of features.FEATURES.
    "unit_features": """
        CREATE TABLE IF NOT EXISTS unit_features (
            unit_type VARCHAR NOT NULL,
            unit_id VARCHAR NOT NULL,
            slot_start TIMESTAMPTZ NOT NULL,
            y DOUBLE NOT NULL,
            y_complete INTEGER NOT NULL,
            x DOUBLE[] NOT NULL)""",
    # grain: one unit type × model × local hour of realised accuracy;
    # key: (unit_type, model, hour_start). in_sample: the hour's forecasts came from a model
    # version trained on that day (such hours never raise accuracy alerts); NULL: not known.
    "forecast_accuracy": """
        CREATE TABLE IF NOT EXISTS forecast_accuracy (
            unit_type VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            model_version VARCHAR NOT NULL,
            hour_start TIMESTAMPTZ NOT NULL,
            n BIGINT NOT NULL,
            rmse DOUBLE NOT NULL,
            mae DOUBLE NOT NULL,
            masked_mape DOUBLE,
            in_sample BOOLEAN)""",
    # grain: one meter event received by the API; key: event_key (a retry has no effect).
    "ride_events": """
        CREATE TABLE IF NOT EXISTS ride_events (
            event_key VARCHAR PRIMARY KEY,
            vehicle_id VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            ts TIMESTAMPTZ NOT NULL,
            lat DOUBLE NOT NULL,
            lon DOUBLE NOT NULL,
            received_at TIMESTAMPTZ NOT NULL)""",
    # grain: one finished pipeline step; key: step. Lets a re-run skip unchanged work.
    "step_runs": """
        CREATE TABLE IF NOT EXISTS step_runs (
            step VARCHAR NOT NULL,
            fingerprint VARCHAR NOT NULL,
            finished_at TIMESTAMPTZ NOT NULL,
            summary JSON)""",
}

# Changes after a table was first released, for warehouses created before; run in order on
# every writable open, so each must be idempotent (and cheap when already applied). New
# columns go last, so created and migrated tables have the same column order.
MIGRATIONS = (
    "ALTER TABLE forecasts ADD COLUMN IF NOT EXISTS model_version VARCHAR",
    # model_version joined the key: the base model's (and untracked runs') NULL becomes ''.
    "UPDATE forecasts SET model_version = '' WHERE model_version IS NULL",
    "ALTER TABLE forecasts ALTER COLUMN model_version SET NOT NULL",
    # Rows written before in_sample existed keep NULL: not known.
    "ALTER TABLE forecasts ADD COLUMN IF NOT EXISTS in_sample BOOLEAN",
    "ALTER TABLE forecast_accuracy ADD COLUMN IF NOT EXISTS in_sample BOOLEAN",
)

# The key of each table, used by checksums and tests that prove idempotency.
KEYS: dict[str, tuple[str, ...]] = {
    "telemetry": ("vehicle_id", "ts"),
    "quarantine": ("qkey",),
    "trips": ("trip_id",),
    "vacant_spells": ("spell_id",),
    "derivation_counts": ("kind", "reason"),
    "road_nodes": ("node_id",),
    "road_segments": ("segment_id",),
    "road_successors": ("segment_id", "next_segment_id"),
    "trip_end_matches": ("trip_id", "end_kind"),
    "spell_paths": ("spell_id", "seq"),
    "spell_match_status": ("spell_id",),
    "forecasts": ("unit_type", "model", "model_version", "unit_id", "slot_start"),
    "step_runs": ("step",),
    "daily_derivation_counts": ("day", "kind", "reason"),
    "demand_counts": ("unit_type", "unit_id", "slot_start"),
    "unit_features": ("unit_type", "unit_id", "slot_start"),
    "forecast_accuracy": ("unit_type", "model", "hour_start"),
    "ride_events": ("event_key",),
}
