"""``taxinav lab``: loopback only, the token given, and one line when JupyterLab is missing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from typer.testing import CliRunner

from taxinav.cli import app
from taxinav.cli.lab import lab_command
from tests.serve.test_durability import _free_port


def test_the_server_listens_on_loopback_only_with_the_token() -> None:
    cmd = lab_command(8899, "s3cret", Path("/srv/notebooks"))
    assert cmd[1:4] == ["-m", "jupyter", "lab"]
    assert "--ServerApp.ip=127.0.0.1" in cmd and "--ServerApp.port=8899" in cmd
    assert "--IdentityProvider.token=s3cret" in cmd
    assert "--ServerApp.root_dir=/srv/notebooks" in cmd
    assert not [a for a in cmd if "0.0.0.0" in a or "allow_remote" in a]


@pytest.mark.skipif(importlib.util.find_spec("jupyterlab") is not None,
                    reason="JupyterLab is installed here")  # fmt: skip
def test_without_jupyterlab_it_says_how_to_get_it() -> None:
    result = CliRunner().invoke(app, ["lab"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: taxinav lab needs JupyterLab: pip install 'taxinav[lab]' (or jupyterlab)"
    ]


@pytest.mark.slow
def test_the_lab_answers_on_loopback_only_with_its_token(tmp_path: Path) -> None:
    import os
    import re
    import signal
    import subprocess
    import sys
    import time

    import httpx

    if importlib.util.find_spec("jupyterlab") is None:
        if os.environ.get("TAXINAV_REQUIRE_LAB"):
            pytest.fail("JupyterLab is required (make test installs requirements-lab.lock)")
        pytest.skip("JupyterLab is not installed (the lab extra)")
    port = _free_port()
    books = tmp_path / "notebooks"
    books.mkdir()
    (books / "mine.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, '
                                         '"nbformat_minor": 5}')  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "taxinav.cli", "lab", "--port", str(port), "--dir", str(books)],
        env={**os.environ, "TAXINAV_HOME": str(tmp_path / "var"), "JUPYTER_RUNTIME_DIR":
             str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        found = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=(\S+)", first)
        assert found, first
        token = found.group(1)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/api/status?token={token}", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "the lab did not start"
            time.sleep(0.5)
        assert httpx.get(f"{base}/api/contents", timeout=10).status_code == 403  # no token
        listing = httpx.get(f"{base}/api/contents?token={token}", timeout=10).json()
        assert [c["name"] for c in listing["content"]] == ["mine.ipynb"]  # --dir is open
        assert _listening_on(port) == ["0100007F"]  # 127.0.0.1 only (no 0.0.0.0, no IPv6)
    finally:
        proc.send_signal(signal.SIGTERM)  # the server itself: `taxinav lab` becomes it
        try:
            rest, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its session: nothing may hold the pipe
            rest, _ = proc.communicate(timeout=30)
    assert token not in rest  # the token was shown once, in the first line only


def _listening_on(port: int) -> list[str]:
    """The local addresses (hex, as /proc/net shows them) listening on ``port``."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.rpartition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                out.append(address)
    return out
