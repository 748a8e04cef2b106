"""Helpers shared by the fine-tuning tests: real HH-harmless pairs as labelled logs."""

from __future__ import annotations

import json

import pandas as pd
from real_data import hh_pairs

__all__ = ["chat", "hh_logs", "hh_pairs", "pref", "write_jsonl"]


def hh_logs(n: int | None = None) -> pd.DataFrame:
    """HH pairs as feedback logs: the chosen reply labelled 👍, the rejected one 👎, same prompt."""
    pairs = hh_pairs(n)
    rows = []
    for i, r in enumerate(pairs.itertuples(index=False)):
        rows.append({"log_id": f"hh-{i}-c", "prompt": r.prompt, "completion": r.chosen, "label": "👍"})
        rows.append({"log_id": f"hh-{i}-r", "prompt": r.prompt, "completion": r.rejected, "label": "👎"})
    return pd.DataFrame(rows)


def write_jsonl(path, records) -> str:
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return str(path)


def chat(i: int, answer: str | None = None) -> dict:
    return {"messages": [{"role": "user", "content": f"What is {i} + {i}?"},
                         {"role": "assistant", "content": answer or str(2 * i)}]}


def pref(i: int) -> dict:
    return {"input": {"messages": [{"role": "user", "content": f"What is {i} + {i}?"}]},
            "preferred_output": [{"role": "assistant", "content": str(2 * i)}],
            "non_preferred_output": [{"role": "assistant", "content": str(2 * i + 1)}]}
