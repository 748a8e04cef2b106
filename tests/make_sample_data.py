"""Build the sample data shipped in hl_notebook/data/ from the real data in ../shared/data.

The shipped files are inputs, committed as they are; this script documents (and a test checks) exactly
how they were derived. Selection is deterministic and keeps whole prompts together:

1. group the rows of the source file by ``prompt``;
2. order the prompts by the SHA-256 of their UTF-8 text (hex), ascending;
3. take whole prompts in that order until at least ``TARGET`` rows are taken;
4. write the taken rows in their original file order, each with a ``pair_id``
   (``"<name>-<nnnn>"``, numbered in that order) put first, as UTF-8 JSON lines
   (``json.dumps(..., ensure_ascii=False)``), gzip level 9 with no file name and mtime 0.

Run: ``python tests/make_sample_data.py [SHARED_DATA_DIR] [OUT_DIR]``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "hl_notebook" / "data"

#: name -> (source file in the shared data folder, rows to take at least)
SOURCES = {
    "hh_harmless": ("hh_harmless_dev.jsonl", 150),
    "pandalm": ("pandalm_dev.jsonl", 150),
}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def select(rows: list[dict], target: int) -> list[int]:
    """Indices (in file order) of the rows of whole prompts, taken by prompt hash until >= target."""
    by_prompt: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_prompt.setdefault(row["prompt"], []).append(i)
    taken: list[int] = []
    for prompt in sorted(by_prompt, key=_digest):
        if len(taken) >= target:
            break
        taken.extend(by_prompt[prompt])
    return sorted(taken)


def build(name: str, shared: Path) -> bytes:
    """The gzip bytes of one shipped sample file."""
    filename, target = SOURCES[name]
    with open(shared / filename, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    lines = []
    for k, i in enumerate(select(rows, target)):
        record = {"pair_id": f"{name}-{k:04d}", **rows[i]}
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write("".join(lines).encode("utf-8"))
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    shared = Path(args[0]) if args else DEFAULT_SHARED
    out = Path(args[1]) if len(args) > 1 else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    for name in SOURCES:
        data = build(name, shared)
        (out / f"{name}.jsonl.gz").write_bytes(data)
        print(f"{name}: {len(data):,} bytes -> {out / f'{name}.jsonl.gz'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
