"""``taxinav lab``: JupyterLab on this project's environment, on loopback, behind a token."""

from __future__ import annotations

import importlib.util
import os
import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer

from taxinav.cli.common import console, fail
from taxinav.settings import get_settings


def lab_command(port: int, token: str, root: Path) -> list[str]:
    """The JupyterLab server's command line: loopback only, the token, ``root`` open, quiet
    (its own log would print the token again); as root (containers, CI) it must be allowed."""
    as_root = ["--allow-root"] if os.geteuid() == 0 else []
    return [sys.executable, "-m", "jupyter", "lab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}", "--ServerApp.log_level=WARN",
            "--LabApp.log_level=WARN", *as_root]  # fmt: skip


def lab(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1.")] = 8888,
    folder: Annotated[Path | None, typer.Option(
        "--dir", help="Folder the lab opens (default: ./notebooks, else the current folder)."
    )] = None,
) -> None:  # fmt: skip
    """Start JupyterLab for notebooks on this home (TAXINAV_HOME): bound to 127.0.0.1, with a
    new token printed once; Ctrl-C stops it. Needs JupyterLab (the package's lab extra)."""
    if importlib.util.find_spec("jupyterlab") is None:
        fail("taxinav lab needs JupyterLab: pip install 'taxinav[lab]' (or jupyterlab)")
    settings = get_settings()
    root = folder or (Path("notebooks") if Path("notebooks").is_dir() else Path.cwd())
    if not root.is_dir():
        fail(f"--dir {root} is not a folder")
    token = secrets.token_urlsafe(24)
    env = {**os.environ, "TAXINAV_HOME": str(settings.home.resolve())}
    console.print(f"JupyterLab on http://127.0.0.1:{port}/lab?token={token}  (home "
                  f"{settings.home.resolve()}; the token is shown only here)")  # fmt: skip
    sys.stdout.flush()
    # This process becomes the server: Ctrl-C and SIGTERM reach it, and nothing is left behind.
    cmd = lab_command(port, token, root.resolve())
    os.execve(cmd[0], cmd, env)
