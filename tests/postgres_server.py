"""A throw-away PostgreSQL server on a free loopback port, for tests of the stores that can
live in PostgreSQL (the Dagster instance, MLflow's tracking store).

The server is Debian's package (``postgresql``; ``scripts/system-deps.sh`` installs it): its
binaries under ``/usr/lib/postgresql/<version>/bin``. PostgreSQL refuses to run as root, so
as root the cluster belongs to the package's ``postgres`` user and its commands run as that
user (``runuser``)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def postgres_bin() -> Path | None:
    """The newest installed server's binaries, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)  # fmt: skip
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A running server; :meth:`database` creates a database and gives its URL."""

    def __init__(self, binaries: Path, port: int, as_user: list[str]) -> None:
        self.binaries, self.port, self.as_user = binaries, port, as_user

    def run(self, *cmd: str) -> None:
        subprocess.run([*self.as_user, *cmd], check=True, capture_output=True, timeout=120)

    def database(self, name: str) -> str:
        self.run(str(self.binaries / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                 "-U", "taxinav", name)  # fmt: skip
        return f"postgresql://taxinav@127.0.0.1:{self.port}/{name}"


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a cluster in a new folder of the system's temporary directory (pytest's belong
    to root alone), user ``taxinav`` with trust authentication on loopback; stop it and
    remove the folder after."""
    binaries = postgres_bin()
    if binaries is None:
        raise FileNotFoundError("no PostgreSQL server under /usr/lib/postgresql")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="taxinav-pg-"))
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (folder, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        as_user = [shutil.which("runuser") or "runuser", "-u", "postgres", "--"]
    server = PostgresServer(binaries, _free_port(), as_user)
    server.run(str(binaries / "initdb"), "-D", str(data), "-U", "taxinav", "--auth=trust",
               "--encoding=UTF8", "--no-sync")  # fmt: skip
    options = f"-p {server.port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    server.run(str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l",
               str(folder / "log"), "-w", "start")  # fmt: skip
    try:
        yield server
    finally:
        server.run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
