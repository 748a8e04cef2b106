"""Benchmark: export + validate 100k fine-tuning examples beside tokenizing the same text alone.

Run: ``.venv/bin/python benchmarks/bench_finetune.py [--n 100000]``

The rows are real HH-harmless dialogues (../shared/data or $HL_SHARED_DATA), repeated with a
distinguishing tag to reach ``--n`` labelled rows (👍, or 👎 with a correction). Three figures,
all measured in this run:

- tokenizing alone: every text the validator counts (roles and contents of every message),
  encoded once with ``encode_ordinary_batch(..., num_threads=2)``, the floor for any counter;
- export: ``hl.to_openai(df, path)``;
- validate: ``hl.validate_finetune_file(path)`` (parse, check and count every line).

Goal: export + validate <= 2 x tokenizing alone.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

import hl_notebook as hl
from hl_notebook._finetune.tokens import counter_for

DATA = Path(os.environ.get("HL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def frame(n: int) -> pd.DataFrame:
    pairs = [json.loads(line) for line in open(DATA / "hh_harmless_dev.jsonl", encoding="utf-8")]
    prompts, completions, labels, corrections = [], [], [], []
    for i in range(n):
        p = pairs[i % len(pairs)]
        tag = f" [{i // len(pairs)}]"
        prompts.append(p["prompt"] + tag)
        if i % 2:
            completions.append(p["rejected"])
            labels.append("👎")
            corrections.append(p["chosen"])
        else:
            completions.append(p["chosen"])
            labels.append("👍")
            corrections.append(None)
    return pd.DataFrame({"prompt": prompts, "completion": completions, "label": labels, "correction": corrections})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args()
    df = frame(args.n)
    counter = counter_for("gpt-4o-mini-2024-07-18")
    counter.count("warm up")
    texts = []
    for p, c, corr in zip(df["prompt"], df["completion"], df["correction"], strict=False):
        texts += ["user", p, "assistant", corr if isinstance(corr, str) else c]

    t0 = time.perf_counter()
    n_tokens = sum(counter.count_many(texts))
    t_tok = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "train.jsonl"
        t0 = time.perf_counter()
        report = hl.to_openai(df, path)
        t_export = time.perf_counter() - t0
        t0 = time.perf_counter()
        v = hl.validate_finetune_file(path)
        t_valid = time.perf_counter() - t0
        size = path.stat().st_size
    assert v.ok and v.n_examples == report.n_train == args.n, (v, report)
    total = t_export + t_valid
    print(f"examples: {args.n:,}  file: {size / 1e6:.1f} MB  tokens (content): {n_tokens:,}")
    print(f"tokenizing alone (baseline):  {t_tok:6.2f} s  ({args.n / t_tok:,.0f} examples/s)")
    print(f"export (hl.to_openai):        {t_export:6.2f} s")
    print(f"validate (hl.validate_...):   {t_valid:6.2f} s")
    print(f"export + validate:            {total:6.2f} s  ({args.n / total:,.0f} examples/s)")
    print(f"ratio to tokenizing alone:    {total / t_tok:6.2f} x  (goal <= 2.0 x)")


if __name__ == "__main__":
    main()
