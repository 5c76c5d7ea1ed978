"""Schemathesis fuzzes every operation of the OpenAPI document, with each role's token:
no answer may be a server error (5xx)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from taxinav.settings import Settings
from tests.serve.conftest import TOKENS
from tests.serve.test_durability import _free_port, _start

pytestmark = [pytest.mark.data, pytest.mark.slow]


def test_no_server_error_for_any_generated_request(
    service_settings: Settings, tmp_path: Path
) -> None:
    port = _free_port()
    proc = _start(service_settings, port, tmp_path / "server.log")
    st = str(Path(sys.executable).parent / "st")
    outputs = []
    try:
        for role in ("operator", "ingest", "driver"):
            out = subprocess.run(
                [st, "run", f"http://127.0.0.1:{port}/openapi.json",
                 "--checks", "not_a_server_error", "--max-examples", "25", "--seed", "7",
                 "-H", f"Authorization: Bearer {TOKENS[role]}", "--workers", "1"],
                capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            outputs.append((role, out.returncode, out.stdout[-3000:]))
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    for role, code, text in outputs:
        assert code == 0, f"{role}:\n{text}"
        generated = re.search(r"(\d+) generated, (\d+) passed", text)
        assert generated is not None and int(generated.group(2)) > 100, text
