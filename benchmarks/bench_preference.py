"""Benchmark the preference model on real human-preference data, beside baselines run in the same process.

Prints, per dataset (HH-harmless pairs, PandaLM pairs without ties, USR ratings turned into pairs),
pairwise accuracy from 5-fold cross-validation grouped by prompt, with a prompt-clustered
bootstrap 95% CI, for:

- ``hl.PreferenceModel()`` (default features, calibrated),
- "longer wins" (the longer completion is preferred),
- char n-gram TF-IDF + logistic regression on feature differences,

and the model's accuracy as a ratio to each baseline. Then fit time for 10,000 pairs (resampled
from the real pairs) and scoring throughput (completions per second), beside the TF-IDF baseline;
each timing is the best of ``--repeat`` runs (default 3), as the machine may be shared.

When the optional extra is installed (``pip install torch`` (CPU build), then
``pip install "hl_notebook[embeddings]"``), a second table adds ``hl.PreferenceModel(features=
"embeddings")`` beside the baseline "MiniLM embeddings + logistic regression" (the same
all-MiniLM-L6-v2 embeddings, no structure features), same folds and bootstrap, and the timings
add its fit time and scoring throughput with no embedding cached (one run each: embedding is slow).
Without the extra, one line says so.

Run: ``.venv/bin/python benchmarks/bench_preference.py [--data ../shared/data] [--quick]``
(the figures go to ``benchmarks/out/bench_preference.json`` too, for ``render_readme.py``; a
``--quick`` run to ``bench_preference.partial.json``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import figures  # noqa: E402  (benchmarks/figures.py)

import hl_notebook as hl  # noqa: E402
import hl_notebook._learn.features as _pref  # noqa: E402
from hl_notebook._learn.stats import bootstrap_ci  # noqa: E402

DATA_FILES = ("hh_harmless_dev.jsonl", "pandalm_dev.jsonl", "usr_topicalchat_dev.jsonl")
GOAL_ACCURACY = 0.68  # pairwise accuracy goal on HH and PandaLM each


def load(data: Path) -> dict[str, pd.DataFrame]:
    hh = pd.read_json(data / "hh_harmless_dev.jsonl", lines=True)[["prompt", "chosen", "rejected"]]
    pl = pd.read_json(data / "pandalm_dev.jsonl", lines=True)
    pl = pl[pl["label"] != "tie"][["prompt", "chosen", "rejected"]].reset_index(drop=True)
    usr = pd.read_json(data / "usr_topicalchat_dev.jsonl", lines=True)
    rows = []
    for prompt, part in usr.groupby("prompt", sort=False):
        items = list(zip(part["response"], part["overall"], strict=True))
        for ci, ri in items:
            for cj, rj in items:
                if ri - rj >= 1.0 and ci != cj:
                    rows.append((prompt, ci, cj))
    usr_pairs = pd.DataFrame(rows, columns=["prompt", "chosen", "rejected"])
    return {"HH-harmless": hh, "PandaLM (no ties)": pl, "USR (ratings→pairs)": usr_pairs}


def embeddings_available() -> str | None:
    """None when the embeddings extra loads (offline, from its package); else why not."""
    try:
        _pref._load_embedding_model()
    except ImportError as exc:
        return str(exc).split(" (import failed")[0]
    return None


class MiniLMLR:
    """Baseline: all-MiniLM-L6-v2 embeddings + logistic regression on (chosen − rejected)."""

    def fit_pairs(self, pairs: pd.DataFrame) -> MiniLMLR:
        D = self.embed(pairs["chosen"]) - self.embed(pairs["rejected"])
        y = np.r_[np.ones(D.shape[0]), np.zeros(D.shape[0])]
        # C = 0.1: the best of 0.03-1 on these data (HH 0.61, PandaLM 0.62; C = 1 overfits, 0.58 on
        # HH), generous to the baseline
        self.lr = LogisticRegression(C=0.1, fit_intercept=False, max_iter=2000).fit(
            np.vstack([D, -D]), y)
        return self

    @staticmethod
    def embed(texts) -> np.ndarray:
        return _pref._embed(list(texts))  # the same cached embeddings the model uses

    def score(self, texts) -> np.ndarray:
        return self.embed(texts) @ self.lr.coef_.ravel()


class CharTfidfLR:
    """Baseline: char n-gram TF-IDF + logistic regression on (chosen − rejected) differences."""

    def fit_pairs(self, pairs: pd.DataFrame) -> CharTfidfLR:
        self.vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                   min_df=2)
        self.vec.fit(pd.concat([pairs["chosen"], pairs["rejected"]]))
        D = self.vec.transform(pairs["chosen"]) - self.vec.transform(pairs["rejected"])
        y = np.r_[np.ones(D.shape[0]), np.zeros(D.shape[0])]
        self.lr = LogisticRegression(C=0.3, fit_intercept=False, max_iter=2000).fit(
            sp.vstack([D, -D]), y)
        return self

    def score(self, texts) -> np.ndarray:
        return self.vec.transform(texts) @ self.lr.coef_.ravel()


def best_time(fn, repeat: int) -> tuple[float, object]:
    """Best wall time of ``repeat`` runs of ``fn`` (the machine may be shared), and its result."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def grouped_cv(pairs: pd.DataFrame, method: str, *, n_splits: int = 5) -> np.ndarray:
    """Per-pair correctness (1, 0.5 for a tie, 0) from grouped-by-prompt CV."""
    groups = pairs["prompt"].to_numpy()
    correct = np.zeros(len(pairs))
    if method == "longer wins":
        lc, lr = pairs["chosen"].str.len(), pairs["rejected"].str.len()
        return np.where(lc > lr, 1.0, np.where(lc == lr, 0.5, 0.0))
    for train, test in GroupKFold(n_splits=n_splits).split(pairs, groups=groups):
        tr, te = pairs.iloc[train], pairs.iloc[test]
        if method in ("model", "model (embeddings)"):
            feats = "embeddings" if method == "model (embeddings)" else "text"
            m = hl.PreferenceModel(features=feats).fit_pairs(tr)
            d = m.decision_function(pd.DataFrame({"prompt": te["prompt"], "completion": te["chosen"]}))
            d -= m.decision_function(pd.DataFrame({"prompt": te["prompt"], "completion": te["rejected"]}))
        else:
            m = (MiniLMLR() if method == "MiniLM emb + LR" else CharTfidfLR()).fit_pairs(tr)
            d = m.score(te["chosen"]) - m.score(te["rejected"])
        correct[test] = np.where(d > 0, 1.0, np.where(d == 0, 0.5, 0.0))
    return correct


def accuracy_row(name: str, pairs: pd.DataFrame, methods: list[str]) -> tuple[dict[str, float], str]:
    """Grouped-CV accuracy of each method with its prompt-clustered bootstrap CI, and the table row."""
    accs, cells = {}, []
    for method in methods:
        correct = grouped_cv(pairs, method)
        est, lo, hi = bootstrap_ci(correct, groups=pairs["prompt"].to_numpy(), n_boot=1000)
        accs[method] = est
        cells.append(f"{est:.3f} [{lo:.3f}, {hi:.3f}]")
    row = (f"{name:22s} {len(pairs):6d} {pairs['prompt'].nunique():7d}  "
           + "  ".join(f"{c:>22s}" for c in cells))
    return accs, row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=figures.DEFAULT_DATA,
                    help="folder with the HH, PandaLM and USR dev files (default ../shared/data "
                         "beside the repository, or $HL_SHARED_DATA)")
    ap.add_argument("--quick", action="store_true", help="skip the 10k-pair timing")
    ap.add_argument("--repeat", type=int, default=3,
                    help="timings are the best of this many runs (default 3; the machine may be busy)")
    args = ap.parse_args()
    figures.need_data(args.data, DATA_FILES, script="bench_preference.py")
    datasets = load(args.data)
    measured: list[dict] = []
    methods = ["model", "longer wins", "char TF-IDF + LR"]
    print("Pairwise accuracy, 5-fold CV grouped by prompt, 95% CI (prompt-clustered bootstrap)")
    print(f"{'dataset':22s} {'pairs':>6s} {'prompts':>7s}  " + "  ".join(f"{m:>22s}" for m in methods)
          + "   model/longer  model/tfidf")
    text_acc = {}
    all_accs: dict[str, dict[str, float]] = {}
    for name, pairs in datasets.items():
        accs, row = accuracy_row(name, pairs, methods)
        text_acc[name] = accs["model"]
        all_accs[name] = accs
        print(row + f"   {accs['model'] / accs['longer wins']:11.2f}x  "
              + f"{accs['model'] / accs['char TF-IDF + LR']:10.2f}x", flush=True)

    hh, pl = all_accs["HH-harmless"], all_accs["PandaLM (no ties)"]
    short = [n for n, a in (("HH", hh), ("PandaLM", pl)) if a["model"] < GOAL_ACCURACY]
    goal = f"goal {GOAL_ACCURACY:.2f} each: " + (" and ".join(short) + " short" if short else "met")
    measured.append(figures.figure(
        "preference.accuracy", "preference model, grouped-CV pairwise accuracy",
        f"HH {hh['model']:.2f}, PandaLM {pl['model']:.2f} ({goal})",
        f"char TF-IDF + LR {hh['char TF-IDF + LR']:.2f} / {pl['char TF-IDF + LR']:.2f}; "
        f"longer wins {hh['longer wins']:.2f} / {pl['longer wins']:.2f}",
        value=None, unit="accuracy", accuracy={n: a for n, a in all_accs.items()},
        goal=f">= {GOAL_ACCURACY} on HH and PandaLM"))
    emb_accs: dict[str, dict[str, float]] = {}

    why_not = embeddings_available()
    if why_not is None:
        emb_methods = ["model (embeddings)", "MiniLM emb + LR"]
        print("\nWith the embeddings extra (all-MiniLM-L6-v2 from its package, offline), same folds "
              "and bootstrap")
        print(f"{'dataset':22s} {'pairs':>6s} {'prompts':>7s}  "
              + "  ".join(f"{m:>22s}" for m in emb_methods) + "     emb/MiniLM   emb/text")
        for name, pairs in datasets.items():
            accs, row = accuracy_row(name, pairs, emb_methods)
            emb_accs[name] = accs
            print(row + f"   {accs['model (embeddings)'] / accs['MiniLM emb + LR']:11.2f}x  "
                  + f"{accs['model (embeddings)'] / text_acc[name]:8.2f}x", flush=True)
    else:
        print("\nEmbeddings rows (model (embeddings), MiniLM emb + LR) skipped: the extra is not "
              "installed. Install PyTorch (CPU build) first, then pip install "
              "\"hl_notebook[embeddings]\" (bash .ci/install --test does both).")

    if args.quick:
        if emb_accs:
            measured.append(embeddings_figure(emb_accs, None))
        figures.write("bench_preference.py", measured, params=vars_of(args), documented_size=False)
        return
    real = pd.concat([datasets["HH-harmless"], datasets["PandaLM (no ties)"]], ignore_index=True)
    big = real.sample(n=10_000, replace=True, random_state=0).reset_index(drop=True)
    print(f"\nFit on 10,000 pairs (resampled from {len(real)} real HH + PandaLM pairs), "
          f"{os.cpu_count()} cores, best of {args.repeat} runs")
    def best(fn):
        return best_time(fn, args.repeat)

    t_model, model = best(lambda: hl.PreferenceModel().fit_pairs(big))
    t_nocal, _ = best(lambda: hl.PreferenceModel(calibrate=False).fit_pairs(big))
    t_base, base = best(lambda: CharTfidfLR().fit_pairs(big))
    print(f"  model (calibrated)      {t_model:6.2f} s   (goal < 10 s)")
    print(f"  model (calibrate=False) {t_nocal:6.2f} s")
    print(f"  char TF-IDF + LR        {t_base:6.2f} s   model/baseline time ratio {t_model / t_base:.2f}x")

    comps = pd.DataFrame({"prompt": pd.concat([big["prompt"], big["prompt"]], ignore_index=True),
                          "completion": pd.concat([big["chosen"], big["rejected"]], ignore_index=True)})
    comps = comps.iloc[:20_000]
    model.decision_function(comps.iloc[:100])
    rate_model = len(comps) / best(lambda: model.decision_function(comps))[0]
    rate_base = len(comps) / best(lambda: base.score(comps["completion"]))[0]
    print(f"\nScoring {len(comps):,} completions, best of {args.repeat} runs")
    print(f"  model            {rate_model:10,.0f} completions/s   (goal >= 5,000)")
    print(f"  char TF-IDF + LR {rate_base:10,.0f} completions/s   model/baseline {rate_model / rate_base:.2f}x")
    measured.append(figures.figure(
        "preference.speed", "preference model, fit 10k pairs / scoring",
        f"{t_model:.1f} s / {rate_model:,.0f} completions/s",
        f"{t_model / t_base:.2f} × / {rate_model / rate_base:.1f} × char TF-IDF + LR",
        value=t_model, unit="s", baseline=t_base, baseline_name="char TF-IDF + LR, same pairs",
        scoring_per_s=rate_model, baseline_scoring_per_s=rate_base,
        scoring_ratio=rate_model / rate_base, fit_no_calibration_s=t_nocal, goal="fit < 10 s, "
        "scoring >= 5,000 completions/s"))
    rate_emb = None

    if why_not is None:
        # one run each, with no embedding cached: embedding every text is the cost that counts
        n_texts = pd.concat([big["chosen"], big["rejected"]]).nunique()
        _pref._EMBEDDING_CACHE.clear()
        t = time.perf_counter()
        emb = hl.PreferenceModel(features="embeddings").fit_pairs(big)
        t_emb = time.perf_counter() - t
        print(f"\nWith the embeddings extra, one run each, no embedding cached "
              f"({n_texts:,} distinct texts in the 10,000 pairs)")
        print(f"  model (embeddings), fit  {t_emb:6.1f} s   {t_emb / t_model:.0f}x the text model")
        distinct = comps.drop_duplicates("completion").iloc[:2000]
        _pref._EMBEDDING_CACHE.clear()
        t = time.perf_counter()
        emb.decision_function(distinct)
        rate_emb = len(distinct) / (time.perf_counter() - t)
        print(f"  model (embeddings), scoring {len(distinct):,} distinct completions "
              f"{rate_emb:8,.0f} completions/s   model (embeddings)/model {rate_emb / rate_model:.3f}x")
    if emb_accs:
        measured.append(embeddings_figure(emb_accs, rate_emb))
    figures.write("bench_preference.py", measured, params=vars_of(args), documented_size=True)


def vars_of(args: argparse.Namespace) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}


def embeddings_figure(emb_accs: dict[str, dict[str, float]], rate_emb: float | None) -> dict:
    hh, pl = emb_accs["HH-harmless"], emb_accs["PandaLM (no ties)"]
    speed = f"; {rate_emb:,.0f} completions/s" if rate_emb is not None else ""
    return figures.figure(
        "preference.embeddings", 'preference model, `features="embeddings"` (extra)',
        f"HH {hh['model (embeddings)']:.2f}, PandaLM {pl['model (embeddings)']:.2f}{speed}",
        f"MiniLM emb + LR {hh['MiniLM emb + LR']:.2f} / {pl['MiniLM emb + LR']:.2f}",
        value=rate_emb, unit="completions/s (no embedding cached)", accuracy=emb_accs)


if __name__ == "__main__":
    main()
