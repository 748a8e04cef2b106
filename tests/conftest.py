"""Shared fixtures. Each area keeps its own fixtures in its test modules or helper modules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The browser tests' session fixtures (one Jupyter server, one Chromium), defined here once: a
# test module importing them would get its own session copy and a second Playwright would fail.
from jupyter_harness import browser, chromium_path, jupyter  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
#: The source of the shipped samples, beside the repository (../shared/data) or $HL_SHARED_DATA.
#: Only tests/test_datasets.py reads it (and skips without it); every other test uses the samples
#: shipped in hl_notebook/data (see tests/real_data.py).
SHARED_DATA = Path(os.environ.get("HL_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A fresh store file path in a temporary folder."""
    return tmp_path / "feedback.sqlite"


@pytest.fixture
def store(store_path: Path):
    """A fresh file-backed store, closed after the test."""
    import hl_notebook as hl

    s = hl.Store(store_path)
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _isolated_default_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Each test gets its own default store location; nothing writes into the work tree."""
    import hl_notebook._store.default as store_module

    monkeypatch.setenv("HL_STORE", str(tmp_path / "default.sqlite"))
    monkeypatch.setattr(store_module, "_default", None)
    yield
    if store_module._default is not None:
        store_module._default.close()
