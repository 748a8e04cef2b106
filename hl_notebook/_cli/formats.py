"""The formats ``hl-notebook export`` writes: the store's own (JSONL, CSV, Parquet) and the
fine-tuning files (OpenAI SFT / DPO, TRL), each with a line of help.

The command line owns this registry; the store and the fine-tuning exports only provide writers.
Add a format with one more entry in `EXPORT_FORMATS`. A writer returns `Written`: how many
records it wrote (logs for the store's formats, examples for the fine-tuning ones) and, for the
fine-tuning formats, the report of what was kept and dropped.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EXPORT_FORMATS", "ExportFormat", "Written"]


@dataclass(frozen=True)
class Written:
    """What a writer wrote: ``count`` records (``unit``: "logs" or "examples") and its report."""

    count: int
    unit: str
    report: Any = None


@dataclass(frozen=True)
class ExportFormat:
    """How to write a frame of logs (the columns of `Store.to_pandas`) to a binary stream."""

    write: Callable[[pd.DataFrame, IO[bytes]], Written]
    help: str
    #: Binary formats are never written to a terminal.
    binary: bool = False
    suffix: str = ""


def _store_writer(name: str) -> Callable[[pd.DataFrame, IO[bytes]], Written]:
    """One record per log, with `hl_notebook._store.files`' writer ``name``."""

    def write(frame: pd.DataFrame, out: IO[bytes]) -> Written:
        from .._store import files

        getattr(files, name)(frame, out)
        return Written(len(frame), "logs")

    return write


def _finetune_writer(name: str, method: str) -> Callable[[pd.DataFrame, IO[bytes]], Written]:
    """Export with `hl.to_openai` / `hl.to_hf` to a temporary file and stream it out."""

    def write(frame: pd.DataFrame, out: IO[bytes]) -> Written:
        from .._finetune import export

        fn = getattr(export, name)
        with tempfile.TemporaryDirectory(prefix="hl-export-") as folder:
            path = Path(folder) / "export.jsonl"
            report = fn(frame, path, method=method)
            with open(path, "rb") as fh:
                shutil.copyfileobj(fh, out)
        return Written(report.n_kept, "examples", report)

    return write


#: Export formats by name, in the order ``--help`` lists them.
EXPORT_FORMATS: dict[str, ExportFormat] = {
    "jsonl": ExportFormat(_store_writer("write_jsonl"), "one JSON object per line (UTF-8)",
                          suffix=".jsonl"),
    "csv": ExportFormat(
        _store_writer("write_csv"), "CSV with a header; messages/inputs/metadata as JSON text",
        suffix=".csv",
    ),
    "parquet": ExportFormat(
        _store_writer("write_parquet"), "Apache Parquet; JSON columns as JSON text", binary=True,
        suffix=".parquet",
    ),
    "openai-sft": ExportFormat(
        _finetune_writer("to_openai", "supervised"),
        "OpenAI chat fine-tuning JSONL (👍 rows, corrected 👎 rows)", suffix=".jsonl",
    ),
    "openai-dpo": ExportFormat(
        _finetune_writer("to_openai", "dpo"),
        "OpenAI preference (DPO) JSONL from corrections, 👍/👎 and votes", suffix=".jsonl",
    ),
    "trl": ExportFormat(
        _finetune_writer("to_hf", "dpo"), "TRL preference JSONL: prompt, chosen, rejected",
        suffix=".jsonl",
    ),
}
