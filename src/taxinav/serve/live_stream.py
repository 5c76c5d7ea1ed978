"""The live state as a consumer of the telemetry stream (``taxinav consume live``).

The consumer applies the stream's fixes and meter pickups to a :class:`LiveState` in the
stream's order — the same code the service runs on the batches its ingest workers hand back,
so the counts are those of the daily pipeline for the same fixes. Every ``checkpoint_s`` it
writes into its folder, each file through a temporary one and a rename:

- ``state.pkl``: the last stream sequence applied (a JSON line) and the state — where a
  restart continues;
- ``counts-h3.parquet``, ``counts-road.parquet`` (unit_id, slot_start, pickups, vacant) and
  ``vehicles.parquet`` (the latest fix of each vehicle): the live view for readers elsewhere;
- ``live.json``: the sequence, the clock and the time of writing;

and then acknowledges the messages applied. The checkpoint, not the broker, says where the
consumer is: on start it re-creates its durable consumer (``live``) at the sequence after the
checkpoint's, so a consumer killed at any moment applies every message exactly once and in
order, whatever it had fetched unacknowledged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from taxinav.serve.ingest_process import parse_fixes, parse_pickups
from taxinav.serve.live import LiveState
from taxinav.serve.stream import FETCH, _url, ensure_stream
from taxinav.settings import StreamSettings

log = logging.getLogger(__name__)
LIVE = "live"  # the durable name of the live consumer
VEHICLES_WINDOW = timedelta(days=1)  # vehicles in the snapshot: seen within this of the clock


@dataclass(frozen=True)
class LiveSnapshot:
    """What a live consumer last wrote."""

    seq: int  # the last stream sequence applied
    fixes: int  # fixes applied (repeats left out) since the first checkpoint
    clock: datetime | None  # the newest fix applied
    counts: dict[str, pa.Table]  # unit type → (unit_id, slot_start, pickups, vacant)
    vehicles: pa.Table


def _replace(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def _write_table(path: Path, table: pa.Table) -> None:
    _replace(path, lambda p: pq.write_table(table, p))


def write_checkpoint(folder: Path, state: LiveState, seq: int, fixes: int) -> None:
    """The state and the live view at ``seq``, after ``fixes`` fixes (``state.pkl`` last: it
    commits the rest)."""
    folder.mkdir(parents=True, exist_ok=True)
    for unit in ("h3", "road"):
        _write_table(folder / f"counts-{unit}.parquet", state.counts(unit))
    rows = state.latest(VEHICLES_WINDOW)
    vehicles = pa.table(
        {
            "vehicle_id": pa.array([k for k, _ in rows], pa.string()),
            "ts": pa.array([v.ts for _, v in rows], pa.timestamp("us", tz="UTC")),
            "lat": pa.array([v.lat for _, v in rows], pa.float64()),
            "lon": pa.array([v.lon for _, v in rows], pa.float64()),
            "occupied": pa.array([v.occupied for _, v in rows], pa.bool_()),
            "heading": pa.array([v.heading for _, v in rows], pa.float64()),
        }
    )
    _write_table(folder / "vehicles.parquet", vehicles)
    meta = {"seq": seq, "fixes": fixes, "clock": state.clock.isoformat() if state.clock else None,
            "written_at": datetime.now(UTC).isoformat()}  # fmt: skip
    _replace(folder / "live.json", lambda p: p.write_text(json.dumps(meta)))
    head = json.dumps({"seq": seq, "fixes": fixes}).encode()
    _replace(folder / "state.pkl", lambda p: p.write_bytes(head + b"\n" + state.dumps()))


def restore_checkpoint(folder: Path, state: LiveState) -> tuple[int, int]:
    """Load the folder's checkpoint (our own file) into ``state``; its sequence and fixes
    ((0, 0): none)."""
    path = folder / "state.pkl"
    if not path.exists():
        return 0, 0
    head, _, body = path.read_bytes().partition(b"\n")
    meta = json.loads(head)
    state.loads(body)
    return int(meta["seq"]), int(meta["fixes"])


def read_snapshot(folder: Path) -> LiveSnapshot:
    """The live view a consumer last wrote into ``folder``."""
    if not (folder / "live.json").exists():
        raise FileNotFoundError(f"no live snapshot in {folder}; is `taxinav consume live` on?")
    meta = json.loads((folder / "live.json").read_text())
    clock = datetime.fromisoformat(meta["clock"]) if meta["clock"] else None
    counts = {u: pq.read_table(folder / f"counts-{u}.parquet") for u in ("h3", "road")}
    return LiveSnapshot(
        int(meta["seq"]),
        int(meta["fixes"]),
        clock,
        counts,
        pq.read_table(folder / "vehicles.parquet"),
    )


async def consume_live(
    settings: StreamSettings, state: LiveState, folder: Path, checkpoint_s: float,
    stop: asyncio.Event | None = None,
) -> int:  # fmt: skip
    """Apply the stream to ``state`` from ``folder``'s checkpoint until ``stop`` is set,
    checkpointing every ``checkpoint_s`` seconds and at the end; messages applied."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
    from nats.js.errors import NotFoundError

    seq, fixes = restore_checkpoint(folder, state)
    nc = await nats.connect(_url(settings), connect_timeout=5, max_reconnect_attempts=-1)
    js = nc.jetstream()
    await ensure_stream(js, settings)
    try:
        await js.delete_consumer(settings.name, LIVE)
    except NotFoundError:
        pass
    at: dict[str, Any] = {"deliver_policy": DeliverPolicy.ALL}
    if seq:
        at = {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": seq + 1}
    config = ConsumerConfig(durable_name=LIVE, ack_policy=AckPolicy.ALL,
                            ack_wait=max(10.0, 4 * checkpoint_s), **at)  # fmt: skip
    sub = await js.pull_subscribe(f"{settings.subject}.>", durable=LIVE, stream=settings.name,
                                  config=config)  # fmt: skip
    applied, last_msg, due = 0, None, time.monotonic() + checkpoint_s
    try:
        while stop is None or not stop.is_set():
            try:
                batch = await sub.fetch(FETCH, timeout=min(1.0, checkpoint_s))
            except TimeoutError:  # nats raises its own subclass or asyncio's
                batch = []
            fresh = [m for m in batch if int(m.metadata.sequence.stream) > seq]
            if fresh:
                fixes += _apply(state, fresh)
                seq, last_msg = int(fresh[-1].metadata.sequence.stream), fresh[-1]
                applied += len(fresh)
            if time.monotonic() >= due and last_msg is not None:
                await _checkpoint(folder, state, seq, fixes, last_msg)
                last_msg, due = None, time.monotonic() + checkpoint_s
        if last_msg is not None:
            await _checkpoint(folder, state, seq, fixes, last_msg)
    finally:
        await nc.close()
    return applied


def _apply(state: LiveState, msgs: list[Any]) -> int:
    """One batch: the meter pickups, then the fixes (one road snap for all); new fixes."""
    fixes = []
    for m in msgs:
        kind = m.subject.split(".")[-2]
        if kind == "fixes":
            fixes.extend(parse_fixes(m.data))
        elif kind == "rides":
            for e in parse_pickups(m.data):
                if e.kind == "pickup":
                    state.add_reported_pickup(e.lat, e.lon, e.ts)
    return len(state.add_fixes(fixes)[0])


async def _checkpoint(folder: Path, state: LiveState, seq: int, fixes: int, last: Any) -> None:
    """Prune, write the checkpoint, acknowledge everything up to ``last``."""
    state.prune()
    await asyncio.to_thread(write_checkpoint, folder, state, seq, fixes)
    await last.ack()
