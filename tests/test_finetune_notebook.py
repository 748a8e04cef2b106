"""examples/finetune.ipynb runs headless, offline, end to end (labelled data -> fine-tune -> evaluation)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "finetune.ipynb"


@pytest.mark.slow
def test_finetune_notebook_runs_offline_and_closes_the_loop(monkeypatch, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "HL_MODEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HL_STORE", str(tmp_path / "store.sqlite"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    before = set((ROOT / "examples").iterdir())
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    assert set((ROOT / "examples").iterdir()) == before  # nothing written beside the notebook

    outputs = {i: c.get("outputs", []) for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    text = "\n".join(
        str(o.get("text", "")) + "".join(str(v) for v in o.get("data", {}).values())
        for outs in outputs.values() for o in outs
    )
    assert "error" not in {o.get("output_type") for outs in outputs.values() for o in outs}
    assert "thumbs_down_without_correction" in text  # the export report
    assert "OK:" in text and "estimated cost" in text  # the validation report
    assert "would send" in text  # the dry run
    assert "succeeded" in text and "ft:gpt-4o-mini-2024-07-18:harmless:" in text and "<svg" in text
    assert "fine-tuned" in text and "win_rate" in text  # the evaluation table
    assert any("image/png" in o.get("data", {}) for outs in outputs.values() for o in outs)  # the plot
    assert "sk-loopback" not in text  # the key never shows
