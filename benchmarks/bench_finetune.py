"""Benchmark: export + validate 100k fine-tuning examples beside tokenizing the same text alone.

Run: ``.venv/bin/python benchmarks/bench_finetune.py [--data ../shared/data] [--n 100000]``
(the figures go to ``benchmarks/out/bench_finetune.json`` too, for ``render_readme.py``).

The rows are real HH-harmless dialogues (``--data``: ../shared/data or $HL_SHARED_DATA), repeated with a
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
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import figures  # noqa: E402  (benchmarks/figures.py)

import hl_notebook as hl  # noqa: E402
from hl_notebook._finetune.tokens import counter_for  # noqa: E402

DEFAULT_N = 100_000


def frame(data: Path, n: int) -> pd.DataFrame:
    with open(data / "hh_harmless_dev.jsonl", encoding="utf-8") as f:
        pairs = [json.loads(line) for line in f]
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
    ap.add_argument("--data", type=Path, default=figures.DEFAULT_DATA,
                    help="folder with hh_harmless_dev.jsonl (default ../shared/data beside the "
                         "repository, or $HL_SHARED_DATA)")
    ap.add_argument("--n", type=int, default=DEFAULT_N)
    args = ap.parse_args()
    figures.need_data(args.data, ["hh_harmless_dev.jsonl"], script="bench_finetune.py")
    df = frame(args.data, args.n)
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
    n_text = f"{args.n // 1000:,}k" if args.n % 1000 == 0 else f"{args.n:,}"
    figures.write("bench_finetune.py", [figures.figure(
        "finetune.export_validate", f"export + validate {n_text} fine-tuning examples",
        f"{total:.1f} s", f"{total / t_tok:.2f} × tokenizing alone", value=total, unit="s",
        baseline=t_tok, baseline_name="tokenizing every counted text alone (encode_ordinary_batch)",
        goal="<= 2.0 x", export_s=t_export, validate_s=t_valid, tokens=n_tokens)],
        params={"n": args.n}, documented_size=args.n == DEFAULT_N)


if __name__ == "__main__":
    main()
