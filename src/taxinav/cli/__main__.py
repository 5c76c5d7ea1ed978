"""``python -m taxinav.cli``: the command line, as the ``taxinav`` script (a job a process
launches runs with the same interpreter this way)."""

from taxinav.cli import app

if __name__ == "__main__":
    app()
