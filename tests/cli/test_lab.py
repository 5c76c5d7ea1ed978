"""``taxinav lab``: loopback only, the token given, and one line when JupyterLab is missing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from typer.testing import CliRunner

from taxinav.cli import app
from taxinav.cli.lab import lab_command


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
