"""Benchmark hl.generate against the loopback OpenAI server (run in separate processes).

(a) 1,000 rows, 500 ms latency, 10 % injected errors (5 % 429 with retry-after-ms 100, 5 % 500
    after the full latency, retried by the SDK's backoff), concurrency 32:
    throughput as a fraction of the bound concurrency / latency = 64 rows/s, and rows lost.
    Goal: >= 0.85 of the bound, 0 rows lost.
(b) CPU ceiling at 0 ms latency: hl.generate rows/s (logging to a SQLite store, progress bar on)
    beside a plain concurrent.futures.ThreadPoolExecutor calling client.chat.completions.create
    directly (what a user would write), same server, same rows, concurrency 32. Goal: ratio >= 0.9.

Run: ``.venv/bin/python benchmarks/bench_generate.py`` (about a minute on 2 cores); the figures
go to ``benchmarks/out/bench_generate.json`` too, for ``render_readme.py``.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SERVER = ROOT / "tests" / "openai_server.py"

import figures  # noqa: E402  (benchmarks/figures.py)

KEY = "sk-loopback-0000"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(*args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(SERVER), "--port", str(port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    base_url = proc.stdout.readline().strip()
    for _ in range(100):
        try:
            req = urllib.request.Request(base_url + "/models", headers={"Authorization": f"Bearer {KEY}"})
            urllib.request.urlopen(req, timeout=1).read()
            break
        except OSError:
            time.sleep(0.05)
    return proc, base_url


def rows(count: int, tag: str) -> pd.DataFrame:
    return pd.DataFrame({"text": [f"{tag} sentence number {i} with a few words to fix" for i in range(count)]})


def bench_a(hl, openai) -> dict:
    proc, base_url = start_server("--latency", "0.5", "--rate-429", "0.05", "--rate-500", "0.05", "--retry-after-ms", "100", "--seed", "7")
    try:
        client = openai.OpenAI(base_url=base_url, api_key=KEY)
        df = rows(1000, "a")
        t0 = time.perf_counter()
        out = hl.generate(df, "Fix the grammar: {text}", model="gpt-4o-mini", client=client, concurrency=32,
                          store=False, progress=False)
        seconds = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait()
    lost = int(out["completion"].isna().sum())
    rate = len(out) / seconds
    bound = 32 / 0.5
    print("(a) 1,000 rows, 500 ms latency, 10% injected errors (5% 429 with retry-after-ms 100, 5% 500), concurrency 32")
    print(f"    hl.generate: {seconds:.2f} s, {rate:.1f} rows/s; bound {bound:.0f} rows/s; "
          f"ratio {rate / bound:.3f} (goal >= 0.85); rows lost {lost} (goal 0)")
    return figures.figure(
        "generate.latency_errors", "`hl.generate`, 500 ms latency, 10% errors, concurrency 32",
        f"{rate / bound:.2f} of the {bound:.0f} rows/s bound, {lost} rows lost", "—",
        value=rate, unit="rows/s", baseline=bound,
        baseline_name="concurrency / latency (32 / 0.5 s)", rows_lost=lost, goal=">= 0.85, 0 lost")


def bench_b(hl, openai, count: int = 2000, rounds: int = 2) -> dict:
    proc, base_url = start_server("--latency", "0")
    try:
        client = openai.OpenAI(base_url=base_url, api_key=KEY)
        plain_rates, hl_rates = [], []
        with tempfile.TemporaryDirectory() as tmp:
            store = hl.Store(Path(tmp) / "bench.sqlite")
            # warm the connection pool
            hl.generate(rows(64, "warm"), "{text}", model="gpt-4o-mini", client=client, concurrency=32,
                        store=False, progress=False)
            for r in range(rounds):
                df = rows(count, f"plain{r}")
                prompts = [f"Fix the grammar: {t}" for t in df["text"]]

                def one(p: str) -> str:
                    resp = client.chat.completions.create(model="gpt-4o-mini",
                                                          messages=[{"role": "user", "content": p}])
                    return resp.choices[0].message.content

                t0 = time.perf_counter()
                with cf.ThreadPoolExecutor(32) as pool:
                    done = list(pool.map(one, prompts))
                plain_rates.append(len(done) / (time.perf_counter() - t0))

                df = rows(count, f"hl{r}")  # new prompts: no cache hits
                t0 = time.perf_counter()
                out = hl.generate(df, "Fix the grammar: {text}", model="gpt-4o-mini", client=client,
                                  concurrency=32, store=store, progress=True)
                hl_rates.append(len(out) / (time.perf_counter() - t0))
                assert out["error"].isna().all() and len(store) == (r + 1) * count
            store.close()
    finally:
        proc.terminate()
        proc.wait()
    plain, ours = max(plain_rates), max(hl_rates)
    print(f"(b) 0 ms latency, {count:,} rows, concurrency 32, best of {rounds}")
    print(f"    plain ThreadPoolExecutor + client.chat.completions.create: {plain:.1f} rows/s "
          f"(rounds {', '.join(f'{x:.1f}' for x in plain_rates)})")
    print(f"    hl.generate (logging to SQLite, progress bar on):          {ours:.1f} rows/s "
          f"(rounds {', '.join(f'{x:.1f}' for x in hl_rates)})")
    print(f"    ratio {ours / plain:.3f} (goal >= 0.9)")
    return figures.figure(
        "generate.cpu_ceiling", "`hl.generate`, CPU ceiling", f"{ours:,.0f} rows/s",
        f"{ours / plain:.2f} × a plain thread pool", value=ours, unit="rows/s", baseline=plain,
        baseline_name="ThreadPoolExecutor(32) + client.chat.completions.create", goal=">= 0.9 x")


def main() -> None:
    import openai

    import hl_notebook as hl

    print(f"cores: {os.cpu_count()}, openai {openai.__version__}, python {sys.version.split()[0]}")
    measured = [bench_a(hl, openai), bench_b(hl, openai)]
    figures.write("bench_generate.py", measured, params={"rows_a": 1000, "rows_b": 2000},
                  documented_size=True)


if __name__ == "__main__":
    main()
