"""Benchmark the store beside raw sqlite3 on the same machine, in one run, on temp files.

Figures (each beside its baseline, as a ratio):

1. ``Store.log_many`` of 100k rows vs raw ``sqlite3.executemany`` of the same rows into a
   same-shaped table (WAL, synchronous=FULL, text primary key, one transaction): the limit.
   Goal: log_many >= 0.5 x raw.
2. A per-row ``Store.log`` loop (5k rows; one committed transaction each) vs raw per-row commits.
3. 100k feedback events with ``Store.feedback_many`` vs raw ``executemany`` into a same-shaped
   feedback table (plus the latest-feedback update the store keeps); per-call ``Store.feedback``
   on 2k events vs raw per-row commits.
4. ``Store.to_pandas`` of 1M rows (built with ``log_many``) vs raw ``sqlite3`` ``fetchall`` of the
   same query, each the best of 3 interleaved runs. Goal: under 3 s.

Texts are real prompts and completions from ../shared/data (HH-harmless and PandaLM), repeated.

Run: ``.venv/bin/python benchmarks/bench_store.py [--data ../shared/data] [--big 1000000]``
(the figures go to ``benchmarks/out/bench_store.json`` too, for ``render_readme.py``).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import figures  # noqa: E402  (benchmarks/figures.py)

import hl_notebook as hl  # noqa: E402
from hl_notebook._schema import STORE_COLUMNS  # noqa: E402
from hl_notebook._store.ids import new_ids  # noqa: E402

RAW_SCHEMA = """
CREATE TABLE logs (
    log_id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, prompt TEXT NOT NULL,
    completion TEXT NOT NULL, model TEXT, prompt_version TEXT, messages TEXT, inputs TEXT,
    metadata TEXT, label TEXT, rating INTEGER, correction TEXT, comment TEXT, annotator TEXT,
    labelled_at INTEGER
);
CREATE TABLE feedback (
    feedback_id TEXT PRIMARY KEY, log_id TEXT NOT NULL REFERENCES logs(log_id), label TEXT,
    rating INTEGER, correction TEXT, comment TEXT, annotator TEXT, source TEXT NOT NULL,
    cleared TEXT, created_at INTEGER NOT NULL
);
CREATE INDEX feedback_log_id ON feedback(log_id);
"""
MODELS = ["gpt-4o-mini", "llama-7b", "opt-7b", None]
DATA_FILES = ("hh_harmless_dev.jsonl", "pandalm_dev.jsonl")
DEFAULTS = {"rows": 100_000, "loop": 5_000, "calls": 2_000, "big": 1_000_000}


def texts(data: Path) -> tuple[list[str], list[str]]:
    prompts, completions = [], []
    for line in (data / "hh_harmless_dev.jsonl").open(encoding="utf-8"):
        r = json.loads(line)
        prompts.append(r["prompt"])
        completions += [r["chosen"], r["rejected"]]
    for line in (data / "pandalm_dev.jsonl").open(encoding="utf-8"):
        r = json.loads(line)
        prompts.append(r["prompt"])
        completions += [str(r["response_a"]), str(r["response_b"])]
    return prompts, completions


def frame(n: int, prompts: list[str], completions: list[str], seed: int = 0) -> pd.DataFrame:
    rng = random.Random(seed)
    return pd.DataFrame(
        {
            "prompt": [rng.choice(prompts) for _ in range(n)],
            "completion": [rng.choice(completions) for _ in range(n)],
            "model": [MODELS[i % len(MODELS)] for i in range(n)],
        }
    )


def raw_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.executescript(RAW_SCHEMA)
    return conn


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def line(name: str, n: int, seconds: float, base_name: str, base_n: int, base_seconds: float, goal: str = "") -> float:
    """Print one figure beside its baseline; return the ratio of the rates."""
    rate, base_rate = n / seconds, base_n / base_seconds
    print(
        f"{name:<34} {rate:>10,.0f} rows/s ({seconds:6.2f} s)   {base_name:<26} "
        f"{base_rate:>10,.0f} rows/s ({base_seconds:6.2f} s)   ratio {rate / base_rate:5.2f}  {goal}"
    )
    return rate / base_rate


def rows_text(n: int) -> str:
    return f"{n // 1000:,}k" if n % 1000 == 0 and n < 1_000_000 else (
        f"{n / 1e6:g}M" if n % 100_000 == 0 else f"{n:,}")


def rate_text(rate: float) -> str:
    return f"{rate / 1000:,.0f}k rows/s" if rate >= 10_000 else f"{rate:,.0f} rows/s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=figures.DEFAULT_DATA,
                        help="folder with hh_harmless_dev.jsonl and pandalm_dev.jsonl "
                             "(default ../shared/data beside the repository, or $HL_SHARED_DATA)")
    parser.add_argument("--rows", type=int, default=100_000, help="rows for log_many and feedback_many")
    parser.add_argument("--loop", type=int, default=5_000, help="rows for the per-row log loop")
    parser.add_argument("--calls", type=int, default=2_000, help="per-call feedback events")
    parser.add_argument("--big", type=int, default=1_000_000, help="rows for to_pandas")
    args = parser.parse_args(argv)
    figures.need_data(args.data, DATA_FILES, script="bench_store.py")

    prompts, completions = texts(args.data)
    measured: list[dict] = []
    df = frame(args.rows, prompts, completions)
    mean_bytes = (df["prompt"].str.len().mean() + df["completion"].str.len().mean())
    print(f"hl_notebook {hl.__version__}, SQLite {sqlite3.sqlite_version}; real texts, mean "
          f"{mean_bytes:,.0f} chars of prompt + completion per row\n")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)

        # 1. bulk logging
        raw = raw_connection(tmp / "raw.sqlite")
        ids = new_ids("log_", args.rows)
        now = int(time.time() * 1e6)
        raw_rows = [
            (i, now, p, c, m, None, None, None, None)
            for i, p, c, m in zip(ids, df["prompt"], df["completion"], df["model"], strict=True)
        ]

        def raw_bulk() -> None:
            raw.execute("BEGIN IMMEDIATE")
            raw.executemany(
                "INSERT INTO logs (log_id, created_at, prompt, completion, model, prompt_version, "
                "messages, inputs, metadata) VALUES (?,?,?,?,?,?,?,?,?)",
                raw_rows,
            )
            raw.execute("COMMIT")

        t_raw = timed(raw_bulk)
        store = hl.Store(tmp / "store.sqlite")
        log_ids: list = []
        t_store = timed(lambda: log_ids.extend(store.log_many(df)))
        ratio = line(f"Store.log_many {args.rows:,}", args.rows, t_store, "raw executemany", args.rows,
                     t_raw, "(goal >= 0.50)")
        measured.append(figures.figure(
            "store.log_many", f"`Store.log_many`, {rows_text(args.rows)} real rows",
            rate_text(args.rows / t_store), f"{ratio:.2f} × raw `sqlite3.executemany`",
            value=args.rows / t_store, unit="rows/s", baseline=args.rows / t_raw,
            baseline_name="raw sqlite3.executemany, same rows, same table shape", goal=">= 0.50 x"))

        # 2. per-row logging
        loop = df.head(args.loop)
        raw_loop_ids = new_ids("log_", args.loop)

        # fresh files for both loops, so neither pays for checkpointing the bulk insert above
        raw_loop = raw_connection(tmp / "raw_loop.sqlite")
        loop_store = hl.Store(tmp / "loop.sqlite")

        def raw_per_row() -> None:
            for i, p, c, m in zip(raw_loop_ids, loop["prompt"], loop["completion"], loop["model"], strict=True):
                raw_loop.execute("BEGIN IMMEDIATE")
                raw_loop.execute(
                    "INSERT INTO logs (log_id, created_at, prompt, completion, model) VALUES (?,?,?,?,?)",
                    (i, now, p, c, m),
                )
                raw_loop.execute("COMMIT")

        def store_per_row() -> None:
            for p, c, m in zip(loop["prompt"], loop["completion"], loop["model"], strict=True):
                loop_store.log(prompt=p, completion=c, model=m)

        t_raw_loop = timed(raw_per_row)
        t_loop = timed(store_per_row)
        ratio = line(f"Store.log loop {args.loop:,}", args.loop, t_loop, "raw commit per row", args.loop,
                     t_raw_loop)
        measured.append(figures.figure(
            "store.log_loop", f"`Store.log` loop, {args.loop:,} rows", rate_text(args.loop / t_loop),
            f"{ratio:.2f} × raw commit per row", value=args.loop / t_loop, unit="rows/s",
            baseline=args.loop / t_raw_loop, baseline_name="raw sqlite3, one commit per row",
            readme=False))
        line(f"Store.log loop {args.loop:,}", args.loop, t_loop, "raw executemany", args.rows, t_raw,
             "(the price of a commit per row)")
        raw_loop.close()
        loop_store.close()

        # 3. feedback
        rng = random.Random(1)
        targets = [log_ids[rng.randrange(len(log_ids))] for _ in range(args.rows)]
        labels = [("👍", "👎")[k % 2] for k in range(args.rows)]
        records = [{"log_id": t, "label": x, "annotator": "bench"} for t, x in zip(targets, labels, strict=True)]
        raw_targets = [ids[rng.randrange(len(ids))] for _ in range(args.rows)]
        fb_ids = new_ids("fb_", args.rows)

        def raw_feedback() -> None:
            raw.execute("BEGIN IMMEDIATE")
            raw.executemany(
                "INSERT INTO feedback (feedback_id, log_id, label, annotator, source, created_at) "
                "VALUES (?,?,?,?,?,?)",
                [(f, t, x, "bench", "user", now) for f, t, x in zip(fb_ids, raw_targets, labels, strict=True)],
            )
            raw.executemany(
                "UPDATE logs SET label = ?, annotator = ?, labelled_at = ? WHERE log_id = ?",
                [(x, "bench", now, t) for t, x in zip(raw_targets, labels, strict=True)],
            )
            raw.execute("COMMIT")

        t_raw_fb = timed(raw_feedback)
        t_fb = timed(lambda: store.feedback_many(records))
        ratio = line(f"Store.feedback_many {args.rows:,}", args.rows, t_fb, "raw insert + update",
                     args.rows, t_raw_fb)
        measured.append(figures.figure(
            "store.feedback_many", f"`Store.feedback_many`, {rows_text(args.rows)} events",
            rate_text(args.rows / t_fb), f"{ratio:.2f} × raw insert + update",
            value=args.rows / t_fb, unit="rows/s", baseline=args.rows / t_raw_fb,
            baseline_name="raw executemany insert + latest-feedback update", readme=False))

        call_ids = new_ids("fb_", args.calls)

        def raw_feedback_calls() -> None:
            for f, t in zip(call_ids, raw_targets[: args.calls], strict=True):
                raw.execute("BEGIN IMMEDIATE")
                raw.execute(
                    "INSERT INTO feedback (feedback_id, log_id, label, annotator, source, created_at) "
                    "VALUES (?,?,?,?,?,?)",
                    (f, t, "👍", "bench", "user", now),
                )
                raw.execute("UPDATE logs SET label = ?, labelled_at = ? WHERE log_id = ?", ("👍", now, t))
                raw.execute("COMMIT")

        def store_feedback_calls() -> None:
            for t in targets[: args.calls]:
                store.feedback(t, label="👍", annotator="bench")

        t_raw_calls = timed(raw_feedback_calls)
        t_calls = timed(store_feedback_calls)
        ratio = line(f"Store.feedback per call {args.calls:,}", args.calls, t_calls,
                     "raw commit per event", args.calls, t_raw_calls)
        measured.append(figures.figure(
            "store.feedback_call", f"`Store.feedback` per call, {args.calls:,} events",
            rate_text(args.calls / t_calls), f"{ratio:.2f} × raw commit per event",
            value=args.calls / t_calls, unit="rows/s", baseline=args.calls / t_raw_calls,
            baseline_name="raw sqlite3, one commit per event", readme=False))
        raw.close()
        store.close()

        # 4. reading a million rows: real texts, then the same texts cut to 40 characters
        for label, cut in (("real texts", None), ("texts cut to 40 chars", 40)):
            measured.append(read_big(tmp, label, cut, prompts, completions, args))
    params = {"rows": args.rows, "loop": args.loop, "calls": args.calls, "big": args.big}
    figures.write("bench_store.py", measured, params=params, documented_size=params == DEFAULTS)
    return 0


def read_big(tmp: Path, label: str, cut: int | None, prompts: list[str], completions: list[str],
             args: argparse.Namespace) -> dict:
    if cut is not None:
        prompts = [p[:cut] for p in prompts]
        completions = [c[:cut] for c in completions]
    big_path = tmp / f"big-{cut}.sqlite"
    big = hl.Store(big_path)
    t_build = 0.0
    done = 0
    while done < args.big:
        n = min(args.rows, args.big - done)
        chunk = frame(n, prompts, completions, seed=done)
        t_build += timed(lambda chunk=chunk: big.log_many(chunk))
        done += n
    size_mb = big_path.stat().st_size / 1e6
    print(f"\n{label}: built {args.big:,} rows with log_many in {t_build:.1f} s, {size_mb:,.0f} MB")
    big.close()
    sql = f"SELECT {', '.join(STORE_COLUMNS)} FROM logs ORDER BY rowid"
    def raw_fetch() -> None:
        conn = sqlite3.connect(big_path)
        rows = conn.execute(sql).fetchall()
        assert len(rows) == args.big
        conn.close()

    result: dict = {}

    def store_read() -> None:
        with hl.Store(big_path) as s:
            result["frame"] = s.to_pandas()

    # best of 3 for both, interleaved: on a shared 2-core machine one run says more about the
    # neighbours than about the code
    t_raw_read, t_read = float("inf"), float("inf")
    for _ in range(3):
        t_raw_read = min(t_raw_read, timed(raw_fetch))
        t_read = min(t_read, timed(store_read))
    assert len(result["frame"]) == args.big
    line(f"Store.to_pandas {args.big:,}", args.big, t_read, "raw sqlite3 fetchall", args.big, t_raw_read,
         f"(goal < 3 s: {'met' if t_read < 3 else 'NOT met'})")
    big_path.unlink()
    text = "real text" if cut is None else f"text cut to {cut} characters"
    return figures.figure(
        "store.to_pandas" + ("" if cut is None else f".cut{cut}"),
        f"`Store.to_pandas`, {rows_text(args.big)} rows of {text} ({size_mb:,.0f} MB)",
        f"{t_read:.2f} s", f"raw `fetchall` {t_raw_read:.2f} s", value=t_read, unit="s",
        baseline=t_raw_read, baseline_name="raw sqlite3 fetchall of the same query, best of 3",
        goal="< 3 s", readme=cut is None)


if __name__ == "__main__":
    raise SystemExit(main())
