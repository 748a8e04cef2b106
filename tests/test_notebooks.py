"""examples/quickstart.ipynb, the one journey that always works, runs headless from top to bottom."""

from __future__ import annotations

import os

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient


@pytest.mark.slow
def test_quickstart_runs_headless_without_an_api_key(tmp_path, monkeypatch):
    path = ROOT / "examples" / "quickstart.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), (
        "commit the quickstart without outputs (Edit > Clear Outputs of All Cells)"
    )
    env_store = tmp_path / "quickstart.sqlite"
    monkeypatch.setenv("HL_STORE", str(env_store))
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "examples")}}
    )
    client.execute()
    errors = [
        out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors
    text = "\n".join(
        out.get("text", "") if isinstance(out.get("text"), str) else ""
        for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    )
    assert "sk-" not in text  # no secret printed
    assert env_store.exists()  # the notebook wrote into the store the demo points it at
    # nothing was left behind in the work tree
    assert not (ROOT / "examples" / "hl_feedback.sqlite").exists()
    assert os.environ["HL_STORE"] == str(env_store)
