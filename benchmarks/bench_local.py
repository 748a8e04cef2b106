"""Benchmark the local model: serving through the OpenAI-compatible server (this part) and local
fine-tuning (added beside it, in its own functions).

Serving (SmolLM2-135M-Instruct on the CPU, greedy, real prompts from the shipped samples):

(a) ``hl.generate`` through ``hl.local_client()`` at concurrency 8, in completion tokens per second,
    beside direct batched ``model.generate`` calls in the same process on the same prompts and
    token limit (batches of 8, left-padded: the batch that concurrency 8 keeps in flight, with no
    HTTP, JSON or store in the way). Goal: ratio >= 0.8.
(b) Completion tokens per second at concurrency 8 beside concurrency 1, both through the server.
    Goal: ratio >= 2.5.

The server's own batch-size counts (decode steps per number of rows) are printed too. Figures go
to ``benchmarks/out/local.json`` as ``{"figure", "value", "baseline", "ratio", "date"}`` rows.

Run: ``.venv/bin/python benchmarks/bench_local.py [--prompts 40] [--max-tokens 32] [--threads N]``
(a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out" / "local.json"


def serving_prompts(count: int) -> list[str]:
    """``count`` distinct real prompts of at most 600 characters from the shipped samples
    (PandaLM instructions, then Anthropic HH conversations), in file order."""
    import hl_notebook as hl

    pool = list(hl.datasets.load_sample("pandalm")["prompt"])
    pool += list(hl.datasets.load_sample("hh_harmless", kind="pairs")["prompt"].str.strip())
    prompts = [p for p in dict.fromkeys(pool) if len(p) <= 600]
    if len(prompts) < count:
        raise SystemExit(f"only {len(prompts)} distinct prompts in the samples; ask for fewer")
    return prompts[:count]


def direct_generate(model: Any, tokenizer: Any, prompts: list[str], max_tokens: int, batch: int = 8) -> dict:
    """Greedy ``model.generate`` over left-padded batches: completion tokens and seconds."""
    import torch

    eos = {tokenizer.eos_token_id, *([model.generation_config.eos_token_id]
                                     if isinstance(model.generation_config.eos_token_id, int)
                                     else model.generation_config.eos_token_id or [])}
    rendered = [tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                              tokenize=True, return_dict=False) for p in prompts]
    tokens = 0
    start = time.perf_counter()
    for i in range(0, len(rendered), batch):
        chunk = rendered[i:i + batch]
        longest = max(len(r) for r in chunk)
        ids = torch.full((len(chunk), longest), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for j, r in enumerate(chunk):
            ids[j, longest - len(r):] = torch.tensor(r)
            mask[j, longest - len(r):] = 1
        with torch.inference_mode():
            out = model.generate(ids, attention_mask=mask, max_new_tokens=max_tokens, do_sample=False)
        for row in out[:, longest:].tolist():
            for t in row:  # generated tokens up to (not counting) the first end-of-turn token
                if t in eos:
                    break
                tokens += 1
    return {"tokens": tokens, "seconds": time.perf_counter() - start}


def served_generate(client: Any, prompts: list[str], max_tokens: int, concurrency: int) -> dict:
    """``hl.generate`` through the local server: completion tokens and seconds."""
    import pandas as pd

    import hl_notebook as hl

    df = pd.DataFrame({"prompt": prompts})
    start = time.perf_counter()
    out = hl.generate(df, "{prompt}", model="smollm2", client=client, concurrency=concurrency,
                      temperature=0, max_completion_tokens=max_tokens, store=False, progress=False)
    seconds = time.perf_counter() - start
    errors = out["error"].notna().sum()
    if errors:
        raise RuntimeError(f"{errors} requests failed: {out['error'].dropna().iloc[0]}")
    return {"tokens": int(out["completion_tokens"].sum()), "seconds": seconds}


def bench_serving(prompts: int = 40, max_tokens: int = 32, threads: int | None = None) -> list[dict]:
    """Figures (a) and (b); returns the rows written to ``benchmarks/out/local.json``.

    ``threads`` sets PyTorch's intra-op threads for the whole run (default: PyTorch's own choice)."""
    import torch

    import hl_notebook as hl
    from hl_notebook._local.server import shared_server

    if threads is not None:
        torch.set_num_threads(threads)

    texts = serving_prompts(prompts)
    client = hl.local_client()
    served = shared_server().get("smollm2")
    # warm-up: first calls pay one-off costs (thread pools, allocator)
    served_generate(client, texts[:2], 4, 2)
    direct_generate(served.model, served.tokenizer, texts[:2], 4)

    direct = direct_generate(served.model, served.tokenizer, texts, max_tokens)
    before = served.engine.stats()["decode_batch_sizes"]
    c8 = served_generate(client, texts, max_tokens, 8)
    after = served.engine.stats()["decode_batch_sizes"]
    c1 = served_generate(client, texts, max_tokens, 1)
    steps = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}

    def rate(r: dict) -> float:
        return r["tokens"] / r["seconds"]

    import os

    print(f"{len(texts)} prompts from the samples, greedy, max {max_tokens} tokens, SmolLM2-135M-Instruct "
          f"on {served.engine.device}, {torch.get_num_threads()} PyTorch threads, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  direct model.generate, batches of 8: {direct['tokens']} tokens in {direct['seconds']:.1f} s "
          f"= {rate(direct):.1f} tokens/s")
    print(f"  hl.generate via local server, concurrency 8: {c8['tokens']} tokens in {c8['seconds']:.1f} s "
          f"= {rate(c8):.1f} tokens/s (decode steps by rows: {steps})")
    print(f"  hl.generate via local server, concurrency 1: {c1['tokens']} tokens in {c1['seconds']:.1f} s "
          f"= {rate(c1):.1f} tokens/s")
    today = dt.date.today().isoformat()
    rows = [
        {"figure": "local serving tokens/s, hl.generate concurrency 8 vs direct batched model.generate",
         "value": round(rate(c8), 2), "baseline": round(rate(direct), 2),
         "ratio": round(rate(c8) / rate(direct), 3), "date": today},
        {"figure": "local serving tokens/s, concurrency 8 vs concurrency 1",
         "value": round(rate(c8), 2), "baseline": round(rate(c1), 2),
         "ratio": round(rate(c8) / rate(c1), 3), "date": today},
    ]
    print(f"(a) served at concurrency 8 / direct batched generate: {rows[0]['ratio']:.2f}  (goal >= 0.8)")
    print(f"(b) concurrency 8 / concurrency 1:                     {rows[1]['ratio']:.2f}  (goal >= 2.5)")
    return rows


def write_rows(rows: list[dict], path: Path = OUT) -> None:
    """Replace the rows of the same figures in ``path`` (other parts' rows are kept)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    names = {r["figure"] for r in rows}
    path.write_text(json.dumps([r for r in old if r.get("figure") not in names] + rows, indent=2) + "\n",
                    encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=40)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None,
                        help="PyTorch intra-op threads (default: PyTorch's choice, one per core)")
    args = parser.parse_args()
    rows = bench_serving(args.prompts, args.max_tokens, args.threads)
    write_rows(rows)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
