"""Acknowledgements in a process of their own (``TAXINAV_SERVE__INGEST_PROCESS``, on by default
for ``taxinav serve``).

Acknowledging a batch of fixes (parse, validate, claim, log + fdatasync) took a few ms alone
but tens under load while it shared one interpreter with the live state's updates, the
refresh and route re-draws (``docs/decisions.md``, "The service under load"). Here a child
process owns the append log and acknowledges: the service's event loop forwards each ingest
request to it over a Unix socket — HTTP, to the same ingest endpoints, so the answers are
those of the in-process API — and the child hands every accepted batch back over a queue,
which the service applies to its live state.

The child holds an exclusive lock on the log folder, so a second ingesting process on the
same log waits (a restarted service's child waits for the old one's last flush); it stops,
flushing, when the service's process is gone.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import multiprocessing
import os
import queue
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from taxinav.serve.auth import Auth
from taxinav.serve.histograms import Histograms
from taxinav.serve.ingestion import FIXES_JSON, RIDES_JSON, Ingestion
from taxinav.serve.memory import keep_large_blocks_mapped
from taxinav.serve.schemas import Fix, IngestResult, RideEvent
from taxinav.serve.wal import AppendLog
from taxinav.settings import Settings

__all__ = ["IngestProcess", "Received"]
log = logging.getLogger(__name__)
LOCK_WAIT_S = 60.0  # how long a new child waits for the log folder's previous owner
Received = tuple[str, bytes]  # ("fixes", JSON array of Fix) or ("pickups", of RideEvent)


class IngestProcess:
    """The service's handle on its ingesting child: start, forward, receive, stop."""

    def __init__(self, settings: Settings, worker: int = 0) -> None:
        self.settings = settings
        self.worker = worker
        self._dir = Path(tempfile.mkdtemp(prefix="taxinav-ingest-"))  # private (0700)
        self.socket = str(self._dir / "ingest.sock")  # short: socket paths are ≤ 107 bytes
        ctx = multiprocessing.get_context("spawn")
        self.queue: Queue[Received] = ctx.Queue()
        self.proc = ctx.Process(target=_child, name="taxinav-ingest", daemon=False,
                                args=(settings, self.socket, self.queue, os.getpid(),
                                      worker))  # fmt: skip
        self._client: httpx.AsyncClient | None = None
        self.taken = 0  # batches read from the child's queue
        for name in ("httpx", "httpcore"):  # a line per forwarded request otherwise
            logging.getLogger(name).setLevel(logging.WARNING)
        self._sync = httpx.Client(transport=httpx.HTTPTransport(uds=self.socket),
                                  base_url="http://ingest", timeout=10)  # fmt: skip

    def start(self, timeout_s: float = 180.0) -> None:
        """Start the child and wait until it has recovered the log and answers."""
        self.proc.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.proc.is_alive():
                raise RuntimeError(f"the ingest process exited with code {self.proc.exitcode}")
            if _listening(self.socket) and self._sync.get("/healthz").status_code == 200:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the ingest process did not answer within {timeout_s:.0f} s")

    @property
    def alive(self) -> bool:
        return self.proc.is_alive()

    async def forward(self, request: Request) -> Response:
        """The child's answer to ``request`` (an ingest endpoint), as it gave it."""
        if self._client is None:
            self._client = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=self.socket),
                                             base_url="http://ingest", timeout=60)  # fmt: skip
        headers = {k: v for k in ("authorization", "content-type", "content-length")
                   if (v := request.headers.get(k)) is not None}  # fmt: skip
        try:
            r = await self._client.post(request.url.path, content=await request.body(),
                                        headers=headers)  # fmt: skip
        except httpx.HTTPError as exc:  # the child is restarting: nothing was acknowledged
            log.warning("forwarding to the ingest process failed: %s", exc)
            return JSONResponse({"detail": "ingestion is restarting; retry"}, status_code=503,
                                headers={"Retry-After": "1"})  # fmt: skip
        kept = {k: v for k in ("www-authenticate",) if (v := r.headers.get(k)) is not None}
        return Response(r.content, status_code=r.status_code, headers=kept,
                        media_type=r.headers.get("content-type"))  # fmt: skip

    def received(self, wait_s: float) -> list[Received]:
        """What the child accepted since the last call (waits up to ``wait_s`` for a first)."""
        try:
            out = [self.queue.get(timeout=wait_s)]
        except queue.Empty:
            return []
        while True:
            try:
                out.append(self.queue.get_nowait())
            except queue.Empty:
                self.taken += len(out)
                return out

    def unread(self, status: dict[str, Any]) -> int:
        """Batches the child (whose ``status`` this is) accepted that the service has not
        read yet: a service falling behind shows here, and in the child's memory."""
        return max(0, int(status.get("handed_over", self.taken)) - self.taken)

    def status(self) -> dict[str, Any]:
        """The child's counts, step latencies, last fix time and alerts (empty if down)."""
        try:
            return dict(self._sync.get("/internal/status").json())
        except (httpx.HTTPError, ValueError):
            return {}

    def flush(self) -> int:
        """Land the log's closed segments now; the records landed."""
        return int(self._sync.post("/internal/flush").json()["landed"])

    def stop(self) -> list[Received]:
        """Stop the child (it lands what it acknowledged) and wait for it; what it accepted
        and had not handed over yet (read meanwhile: it exits once its queue is drained)."""
        left: list[Received] = []
        if self.proc.is_alive():
            self.proc.terminate()  # SIGTERM: uvicorn's graceful shutdown, then the last flush
            deadline = time.monotonic() + 120
            while self.proc.is_alive() and time.monotonic() < deadline:
                left += self.received(wait_s=0.1)
            if self.proc.is_alive():
                log.error("the ingest process did not stop; killing it (its log is kept)")
                self.proc.kill()
                self.proc.join()
        left += self.received(wait_s=0.0)
        self._sync.close()
        shutil.rmtree(self._dir, ignore_errors=True)
        return left


def _listening(path: str) -> bool:
    """Whether something accepts connections on the Unix socket ``path`` yet."""
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


# The child ------------------------------------------------------------------------------


class _Host:
    """What the ingest endpoints need, in the child: accepted batches go to the queue."""

    def __init__(self, settings: Settings, ingestion: Ingestion, out: Queue[Received]) -> None:
        self.settings, self.ingestion, self.out = settings, ingestion, out
        self.auth = Auth(settings.serve.tokens)
        self.handed_over = 0  # batches put on the queue (under the ingestion's lock)

    def ingest_fixes(self, items: list[Any]) -> IngestResult:
        return self.ingestion.fixes(items, lambda _, raw: self._hand_over(("fixes", raw)))

    def ingest_rides(self, items: list[Any]) -> IngestResult:
        return self.ingestion.rides(items, self._pickups)

    def _pickups(self, events: list[RideEvent]) -> None:
        if events:
            self._hand_over(("pickups", RIDES_JSON.dump_json(events)))

    def _hand_over(self, batch: Received) -> None:
        self.out.put(batch)
        self.handed_over += 1


def _child(settings: Settings, socket_path: str, out: Queue[Received], parent: int,
           worker: int = 0) -> None:  # fmt: skip
    from taxinav import logs

    logs.configure(settings.log_level, settings.log_format)
    keep_large_blocks_mapped()  # request bodies of ~100 kB come and go
    # The flush thread lands the log while requests are acknowledged: a request waits about
    # this long for the interpreter at each hand-over (a spawned process starts at 5 ms).
    sys.setswitchinterval(settings.serve.switch_interval_ms / 1000)
    try:
        _serve(settings, socket_path, out, parent, worker)
    except RuntimeError as exc:  # expected (log folder held, port taken): one line
        log.error("ingest process: %s", exc)
        raise SystemExit(1) from None


def worker_log(settings: Settings, worker: int) -> tuple[Path, str]:
    """The append log folder and the landing source of ingest worker ``worker``."""
    folder = settings.serve.log_dir or settings.home / "serve" / "log"
    if settings.serve.ingest_workers == 1:
        return folder, "api"
    return folder / f"worker-{worker}", f"api-w{worker}"


def _serve(settings: Settings, socket_path: str, out: Queue[Received], parent: int,
           worker: int) -> None:  # fmt: skip
    import uvicorn

    from taxinav.mlops.monitoring import make_monitor
    from taxinav.serve.stream import Publisher

    folder, source = worker_log(settings, worker)
    with _owning(folder):
        applog = AppendLog(folder)
        stats: Counter[str] = Counter()
        monitor = make_monitor(settings.monitoring)
        publisher = Publisher(settings.stream) if settings.stream.url else None
        ingestion = Ingestion(settings, applog, stats, monitor,
                              publisher.append if publisher else None, source)  # fmt: skip
        ingestion.recover(lambda new: out.put(("fixes", FIXES_JSON.dump_json(new))))
        server = uvicorn.Server(uvicorn.Config(
            _app(_Host(settings, ingestion, out), monitor), log_config=None, log_level=None,
            access_log=False, lifespan="off"))  # fmt: skip
        sockets = _listen(socket_path, settings.serve.host, settings.serve.ingest_port,
                          shared=settings.serve.ingest_workers > 1)  # fmt: skip
        # What is alive now lives as long as the process: out of the cyclic collector's
        # sight, or its full collections (every few seconds under load) walk it all,
        # holding up acknowledgements for hundreds of ms (docs/decisions.md).
        gc.collect()
        gc.freeze()
        stop = threading.Event()
        threading.Thread(target=_flush_loop, args=(ingestion, settings, stop), daemon=True).start()
        threading.Thread(target=_orphaned, args=(parent, server, stop), daemon=True).start()
        # uvicorn stops on SIGTERM/SIGINT, then raises the signal again for the handler it
        # found: ignoring it there lets the last flush below run.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        try:
            server.run(sockets=sockets)
        finally:
            stop.set()
            ingestion.flush()
            applog.close()
            if publisher is not None:
                publisher.close()
            out.close()
            out.join_thread()  # every accepted batch reaches the pipe before the child exits


def _listen(path: str, host: str, port: int | None, shared: bool = False) -> list[socket.socket]:
    """The service's Unix socket, and the gateways' TCP port if one is set (``shared``: with
    the other ingest workers, the kernel spreading connections among them)."""
    local = socket.socket(socket.AF_UNIX)
    local.bind(path)
    if port is None:
        return [local]
    try:
        return [local, socket.create_server((host, port), reuse_port=shared)]
    except OSError as exc:
        local.close()
        raise RuntimeError(f"the ingest port {host}:{port} is not free: {exc}") from exc


def _app(host: _Host, monitor: Any) -> FastAPI:
    from taxinav.serve.api.deps import install_auth_errors
    from taxinav.serve.api.ingest import router

    app = FastAPI(title="taxinav ingest", docs_url=None, redoc_url=None, openapi_url=None)
    install_auth_errors(app)
    app.include_router(router(host))
    phases: Histograms = host.ingestion.phases

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/internal/status")
    def status() -> dict[str, Any]:
        return {"stats": dict(host.ingestion.stats), "phases": phases.rows(),
                "last_ingest": host.ingestion.last_ingest, "handed_over": host.handed_over,
                "rss_bytes": _rss_bytes(),
                "switch_interval_ms": sys.getswitchinterval() * 1000,
                "alerts": [vars(a) for a in list(monitor.sent)[-50:]]}  # fmt: skip

    @app.post("/internal/flush")
    def flush() -> dict[str, int]:
        return {"landed": host.ingestion.flush()}

    return app


def _rss_bytes() -> int:
    """This process's resident size (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGESIZE")
    except OSError:
        return 0


def _flush_loop(ingestion: Ingestion, settings: Settings, stop: threading.Event) -> None:
    while not stop.wait(settings.serve.flush_s):
        try:
            ingestion.flush()
        except Exception:  # keep acknowledging; the log keeps the data until a flush works
            log.exception("flushing the append log failed")


def _orphaned(parent: int, server: Any, stop: threading.Event) -> None:
    """Stop the server once the service's process is gone (its children are re-parented)."""
    while not stop.wait(0.2):
        if os.getppid() != parent:
            log.warning("the service's process is gone; the ingest process stops")
            server.should_exit = True
            return


@contextmanager
def _owning(folder: Path) -> Iterator[None]:
    """Hold the log folder's lock (waiting up to ``LOCK_WAIT_S`` for its previous owner)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "owner.lock", "a+b") as fh:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{folder} is held by another ingesting process") from None
                time.sleep(0.1)
        yield


def parse_fixes(raw: bytes) -> list[Fix]:
    """A received batch of fixes (as the child logged them)."""
    return FIXES_JSON.validate_json(raw)


def parse_pickups(raw: bytes) -> list[RideEvent]:
    return RIDES_JSON.validate_json(raw)
