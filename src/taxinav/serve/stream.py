"""The telemetry stream on NATS JetStream, beside the embedded append log.

With ``stream.url`` set, the ingest path publishes every accepted batch to the stream
(:class:`Publisher`) and answers the client only after the broker acknowledged it: fixes on
``<subject>.fixes.<p>`` (``p`` a stable hash of the vehicle id modulo ``stream.partitions``,
so a vehicle's fixes keep their order), ride events on ``<subject>.rides.0``. Each message
carries a ``Nats-Msg-Id`` made from its subject and bytes: a batch published again within
``stream.duplicate_window_s`` (a retry after a lost acknowledgement) is dropped by the broker.

Consumers are processes of their own with durable names, so they resume where they stopped:
:func:`consume_landing` writes each message as landing files named by its stream sequence
(``fixes-stream-<seq>.parquet``, through a temporary file and a rename) and acknowledges it
after; a consumer killed between the two gets the message again and writes the same files,
so every acknowledged fix is landed exactly once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import zlib
from collections import defaultdict
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from taxinav.serve.landing import write_lines
from taxinav.settings import StreamSettings

log = logging.getLogger(__name__)
T = TypeVar("T")
LANDING = "landing"  # the durable name of the landing consumer
FETCH = 256  # messages a consumer asks for at a time
ACK_WAIT_S = 10.0  # seconds before a message fetched and not acknowledged is delivered again


def partition(vehicle_id: str, partitions: int) -> int:
    """The fix subject of a vehicle: stable across processes and runs (not Python's hash)."""
    return zlib.crc32(vehicle_id.encode()) % partitions


def messages(settings: StreamSettings, kind: str, raw: bytes) -> dict[str, bytes]:
    """The subjects and bodies of one accepted batch (a JSON array of fixes or ride events)."""
    if kind != "fixes":
        return {f"{settings.subject}.{kind}.0": raw}
    parts: dict[int, list[Any]] = defaultdict(list)
    for item in json.loads(raw):
        parts[partition(str(item["vehicle_id"]), settings.partitions)].append(item)
    return {f"{settings.subject}.fixes.{p}": json.dumps(items, separators=(",", ":")).encode()
            for p, items in sorted(parts.items())}  # fmt: skip


def _url(settings: StreamSettings) -> str:
    if settings.url is None:
        raise ValueError("no stream URL (TAXINAV_STREAM__URL)")
    return settings.url


def message_id(subject: str, body: bytes) -> str:
    return hashlib.sha256(subject.encode() + b"\0" + body).hexdigest()


async def ensure_stream(js: Any, settings: StreamSettings) -> None:
    """Create the stream if it is not there (file storage: it outlives the broker)."""
    from nats.js.api import StreamConfig
    from nats.js.errors import NotFoundError

    try:
        await js.stream_info(settings.name)
    except NotFoundError:
        await js.add_stream(StreamConfig(
            name=settings.name, subjects=[f"{settings.subject}.>"],
            duplicate_window=settings.duplicate_window_s,
        ))  # fmt: skip


class Publisher:
    """Publishes accepted batches and waits for the broker's acknowledgements; callable from
    any thread (its own event loop runs in a thread of its own)."""

    def __init__(self, settings: StreamSettings) -> None:
        _url(settings)
        self.settings = settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="jetstream",
                                        daemon=True)  # fmt: skip
        self._thread.start()
        self._nc: Any = None
        self._js: Any = None
        self._call(self._connect())

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=self.settings.ack_timeout_s + 5)

    async def _connect(self) -> None:
        import nats

        self._nc = await nats.connect(_url(self.settings), connect_timeout=5,
                                      max_reconnect_attempts=-1)  # fmt: skip
        self._js = self._nc.jetstream()
        await ensure_stream(self._js, self.settings)

    def append(self, kind: str, raw: bytes) -> None:
        """Publish a batch; returns once every part is acknowledged (raises otherwise)."""
        self._call(self._publish(kind, raw))

    async def _publish(self, kind: str, raw: bytes) -> None:
        parts = messages(self.settings, kind, raw)
        await asyncio.gather(*(
            self._js.publish(subject, body, timeout=self.settings.ack_timeout_s,
                             headers={"Nats-Msg-Id": message_id(subject, body)})
            for subject, body in parts.items()
        ))  # fmt: skip

    def close(self) -> None:
        if self._nc is not None:
            self._call(self._nc.drain())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


async def consume_landing(settings: StreamSettings, directory: Path,
                          stop: asyncio.Event | None = None) -> int:  # fmt: skip
    """Land the stream's messages into ``directory`` until ``stop`` is set; the count of
    messages landed."""
    import nats
    from nats.js.api import ConsumerConfig

    nc = await nats.connect(_url(settings), connect_timeout=5, max_reconnect_attempts=-1)
    js = nc.jetstream()
    await ensure_stream(js, settings)
    # A message fetched by a consumer that died unacknowledged comes again after ACK_WAIT_S.
    config = ConsumerConfig(durable_name=LANDING, ack_wait=ACK_WAIT_S)
    sub = await js.pull_subscribe(f"{settings.subject}.>", durable=LANDING, stream=settings.name,
                                  config=config)  # fmt: skip
    landed = 0
    try:
        while stop is None or not stop.is_set():
            try:
                batch = await sub.fetch(FETCH, timeout=1.0)
            except TimeoutError:  # nats raises its own subclass or asyncio's
                continue
            for msg in batch:
                kind = msg.subject.split(".")[-2]
                seq = int(msg.metadata.sequence.stream)
                # The message is the JSON array the ingest process validated: landed as a log
                # line without decoding it here.
                line = b'{"kind":"' + kind.encode() + b'","items":' + msg.data + b"}\n"
                write_lines(directory, seq, [line], datetime.now(UTC), "stream")
                await msg.ack_sync()  # after the files are durable: a redelivery rewrites them
                landed += 1
    finally:
        await nc.close()
    return landed
