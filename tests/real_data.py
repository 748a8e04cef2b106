"""Real human-preference data for the tests, from the samples shipped in ``hl_notebook/data``.

The tests never read ``../shared/data``: a fresh clone has nothing beside it. Everything here is
built from `hl.datasets.load_sample`, real labels by people outside this project:

- ``hh_harmless``: 150 Anthropic HH-RLHF harmless-base pairs (MIT), the crowdworker's less
  harmful reply as ``chosen``;
- ``pandalm``: 150 PandaLM pairs (Apache-2.0) over 21 instructions, each with the three
  annotators' votes (0 tie, 1 a, 2 b) and their majority (127 with a winner, 23 ties).

`pandalm_ratings` turns PandaLM's votes into ratings for the ratings code paths (the shipped
samples hold no ratings of their own); its docstring says exactly how.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import hl_notebook as hl

UP, DOWN = "👍", "👎"


def hh_pairs(n: int | None = None) -> pd.DataFrame:
    """The first ``n`` (at most 150) HH-harmless pairs: ``prompt, chosen, rejected``."""
    pairs = hl.datasets.load_sample("hh_harmless", kind="pairs")[["prompt", "chosen", "rejected"]]
    if n is not None and n > len(pairs):
        raise ValueError(f"the shipped HH sample has {len(pairs)} pairs; asked for {n}")
    return pairs.iloc[:n].reset_index(drop=True)


def hh_rows(n: int | None = None) -> pd.DataFrame:
    """The first ``n`` HH pairs as one row per reply: all chosen replies (``truth`` 👍), then all
    rejected ones (👎); columns ``prompt, completion, truth``."""
    pairs = hh_pairs(n)
    return pd.DataFrame({
        "prompt": pd.concat([pairs["prompt"], pairs["prompt"]], ignore_index=True),
        "completion": pd.concat([pairs["chosen"], pairs["rejected"]], ignore_index=True),
        "truth": [UP] * len(pairs) + [DOWN] * len(pairs),
    })


def pandalm_votes() -> pd.DataFrame:
    """All 150 PandaLM pairs as compare-widget votes by model: ``prompt, completion_a,
    completion_b, model_a, model_b, preferred`` (``a``, ``b`` or ``tie``) and the raw ``votes``."""
    pl = hl.datasets.load_sample("pandalm", kind="pairs")
    return pl[["prompt", "completion_a", "completion_b", "model_a", "model_b", "preferred", "votes"]]


def pandalm_pairs() -> pd.DataFrame:
    """The 127 PandaLM pairs with a majority winner: ``prompt, chosen, rejected, model_pair``."""
    v = pandalm_votes()
    v = v[v["preferred"] != "tie"]
    a_won = (v["preferred"] == "a").to_numpy()
    return pd.DataFrame({
        "prompt": v["prompt"].to_numpy(),
        "chosen": np.where(a_won, v["completion_a"], v["completion_b"]),
        "rejected": np.where(a_won, v["completion_b"], v["completion_a"]),
        "model_pair": (v["model_a"] + "_" + v["model_b"]).to_numpy(),
    })


def pandalm_rows() -> pd.DataFrame:
    """One row per PandaLM response (300): ``prompt, completion, model`` and ``label`` 👍 when
    it won its pair's majority vote, 👎 when it lost, None for a tie."""
    v = pandalm_votes()

    def side(own: str, other: str, model: str, completion: str) -> pd.DataFrame:
        label = np.where(v["preferred"] == own, UP, np.where(v["preferred"] == other, DOWN, None))
        return pd.DataFrame({"prompt": v["prompt"], "completion": v[completion],
                             "model": v[model], "label": label})

    return pd.concat([side("a", "b", "model_a", "completion_a"),
                      side("b", "a", "model_b", "completion_b")], ignore_index=True)


def pandalm_ratings() -> pd.DataFrame:
    """PandaLM's three annotators' votes turned into a 1-5 rating per response (107 rows).

    Each vote scores a response 1 when it won, 0.5 for a tie and 0 when it lost. A response
    (one model's reply to one instruction, usually compared with several other models') is
    rated ``1 + 4 x`` the mean score of every vote on it: 5 when every annotator preferred it in
    every comparison, 1 when none did. Columns ``prompt, completion, model, rating`` (float),
    in first-seen order. Derived here, at test time, from the shipped sample; nothing else.
    """
    v = pandalm_votes()
    scores = []
    for r in v.itertuples(index=False):
        for own, model, completion in ((1, r.model_a, r.completion_a), (2, r.model_b, r.completion_b)):
            for vote in r.votes:
                score = 0.5 if vote == 0 else (1.0 if vote == own else 0.0)
                scores.append((r.prompt, completion, model, score))
    long = pd.DataFrame(scores, columns=["prompt", "completion", "model", "score"])
    mean = long.groupby(["prompt", "completion", "model"], sort=False)["score"].mean()
    return (1 + 4 * mean).rename("rating").reset_index()
