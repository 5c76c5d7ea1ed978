"""``taxinav.open``: the module's examples run as doctests on a small real home, and a
missing home is refused with a message."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import taxinav
from taxinav import workbench


@pytest.mark.data
@pytest.mark.slow
def test_the_examples_in_the_docstrings_run(served_home: Path) -> None:
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(workbench, extraglobs={"home": served_home / "var"},
                             optionflags=flags)  # fmt: skip
    assert result.attempted >= 10 and result.failed == 0


def test_a_home_without_a_warehouse_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no warehouse at"):
        taxinav.open(tmp_path / "nothing-here")


def test_import_taxinav_leaves_the_workbench_unloaded() -> None:
    import subprocess
    import sys

    code = "import sys, taxinav; print('taxinav.workbench' in sys.modules, callable(taxinav.open))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
