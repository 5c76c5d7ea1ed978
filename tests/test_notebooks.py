"""The notebooks run top to bottom on a small real home, and are committed without outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_the_three_notebooks_and_none_keeps_outputs() -> None:
    import nbformat

    assert [p.name[:3] for p in NOTEBOOKS] == ["01_", "02_", "03_"]
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        code = [c for c in book.cells if c.cell_type == "code"]
        assert code and all(not c.outputs and c.execution_count is None for c in code), path


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_runs_top_to_bottom(
    path: Path, served_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("TAXINAV_HOME", str(served_home / "var"))
    monkeypatch.setenv("TAXINAV_DATA_DIR", str(served_home / "data"))
    monkeypatch.setenv("TAXINAV_MLOPS__TRACK", "false")
    book = nbformat.read(path, as_version=4)
    NotebookClient(book, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]  # fmt: skip
    assert not errors
    pictures = [o for c in book.cells if c.cell_type == "code" for o in c.outputs
                if "image/png" in o.get("data", {})]  # fmt: skip
    assert pictures, "each notebook shows at least one figure inline"
