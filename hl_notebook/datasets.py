"""Real human-preference samples shipped with hl_notebook.

Two small samples of public data labelled by people (see `attribution` for sources and licenses):

- ``"hh_harmless"``: 150 pairs from Anthropic's HH-RLHF harmless-base test split (MIT). Crowdworkers
  red-teamed a model and picked the less harmful of two replies. The dialogues contain offensive
  content on purpose.
- ``"pandalm"``: 150 pairs from PandaLM's human-annotated test set (Apache-2.0): instructions, two
  7B-model responses, three annotators' votes and the majority (``a``, ``b`` or ``tie``).

Examples
--------
>>> import hl_notebook as hl
>>> hl.datasets.list_samples()
['hh_harmless', 'pandalm']
>>> logs = hl.datasets.load_sample("hh_harmless")
>>> list(logs.columns)
['prompt', 'completion', 'label', 'pair_id', 'source']
"""

from __future__ import annotations

import gzip
import hashlib
import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Literal

from ._schema import DEFAULT_LABELS, HLValueError, describe, suggest

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["attribution", "list_samples", "load_sample"]


def __dir__() -> list[str]:
    # tab completion shows the three functions, not this module's imports
    return sorted(__all__)

Kind = Literal["logs", "pairs"]

#: name -> (file in hl_notebook/data, default kind, a one-line description)
_SAMPLES: dict[str, tuple[str, Kind, str]] = {
    "hh_harmless": (
        "hh_harmless.jsonl.gz",
        "logs",
        "Anthropic HH-RLHF harmless-base, 150 chosen/rejected pairs (MIT)",
    ),
    "pandalm": (
        "pandalm.jsonl.gz",
        "pairs",
        "PandaLM human test set, 150 pairs with ties and 3 votes each (Apache-2.0)",
    ),
}
_KINDS = ("logs", "pairs")


def list_samples() -> list[str]:
    """The names of the shipped samples.

    Examples
    --------
    >>> import hl_notebook as hl
    >>> "pandalm" in hl.datasets.list_samples()
    True
    """
    return list(_SAMPLES)


def _check_name(name: object) -> str:
    if isinstance(name, str) and name in _SAMPLES:
        return name
    close = suggest(name, _SAMPLES) if isinstance(name, str) else None
    hint = f" Did you mean {close!r}?" if close else ""
    raise HLValueError(
        f"there is no sample named {describe(name) if not isinstance(name, str) else repr(name)}; "
        f"the samples are {list(_SAMPLES)}.{hint}"
    )


@cache
def _records(name: str) -> tuple[dict, ...]:
    data = resources.files("hl_notebook").joinpath("data").joinpath(_SAMPLES[name][0]).read_bytes()
    text = gzip.decompress(data).decode("utf-8")
    return tuple(json.loads(line) for line in text.splitlines() if line.strip())


def _chosen_first(pair_id: str) -> bool:
    """A fixed, label-independent order of the two replies of a pair (so labels do not alternate)."""
    return hashlib.sha256(pair_id.encode("utf-8")).digest()[0] % 2 == 0


def _hh(kind: str) -> pd.DataFrame:
    import pandas as pd

    records = _records("hh_harmless")
    if kind == "pairs":
        return pd.DataFrame(
            {
                "prompt": [r["prompt"] for r in records],
                "chosen": [r["chosen"] for r in records],
                "rejected": [r["rejected"] for r in records],
                "pair_id": [r["pair_id"] for r in records],
                "source": [r["source"] for r in records],
            }
        )
    good, bad = DEFAULT_LABELS[0], DEFAULT_LABELS[1]
    rows = []
    for r in records:
        both = [(r["chosen"], good), (r["rejected"], bad)]
        if not _chosen_first(r["pair_id"]):
            both.reverse()
        for completion, label in both:
            rows.append((r["prompt"], completion, label, r["pair_id"], r["source"]))
    return pd.DataFrame(rows, columns=["prompt", "completion", "label", "pair_id", "source"])


def _pandalm(kind: str) -> pd.DataFrame:
    import pandas as pd

    records = _records("pandalm")
    models = [r["model_pair"].split("_", 1) for r in records]
    if kind == "pairs":
        return pd.DataFrame(
            {
                "prompt": [r["prompt"] for r in records],
                "completion_a": [r["response_a"] for r in records],
                "completion_b": [r["response_b"] for r in records],
                "preferred": [r["label"] for r in records],
                "model_a": [m[0] for m in models],
                "model_b": [m[1] for m in models],
                "votes": [list(r["votes"]) for r in records],
                "pair_id": [r["pair_id"] for r in records],
                "source": [r["source"] for r in records],
            }
        )
    rows = []
    for r, (model_a, model_b) in zip(records, models, strict=False):
        rows.append((r["prompt"], r["response_a"], model_a, r["pair_id"], r["source"]))
        rows.append((r["prompt"], r["response_b"], model_b, r["pair_id"], r["source"]))
    return pd.DataFrame(rows, columns=["prompt", "completion", "model", "pair_id", "source"])


def load_sample(name: str = "hh_harmless", *, kind: Kind | None = None) -> pd.DataFrame:
    """Load a shipped sample of real human-preference data as a new DataFrame.

    Parameters
    ----------
    name
        ``"hh_harmless"`` or ``"pandalm"`` (see `list_samples`).
    kind
        ``"logs"``: one row per response, ready for `Store.log_many` and `hl.annotate`.
        ``"pairs"``: one row per pair, ready for `hl.compare` and the preference model.
        Default: ``"logs"`` for ``hh_harmless``, ``"pairs"`` for ``pandalm``.

    Returns
    -------
    pandas.DataFrame
        ``hh_harmless`` logs: ``prompt, completion, label, pair_id, source`` (``label`` is 👍 for the
        chosen reply, 👎 for the rejected one); pairs: ``prompt, chosen, rejected, pair_id, source``.
        ``pandalm`` pairs: ``prompt, completion_a, completion_b, preferred`` (``a``, ``b`` or
        ``tie``, the majority of three votes), ``model_a, model_b, votes`` (raw votes: 0 tie,
        1 a, 2 b), ``pair_id, source``; logs: ``prompt, completion, model, pair_id, source``, two
        rows per pair (a response shared by several pairs appears once per pair).

    Examples
    --------
    >>> import hl_notebook as hl
    >>> pairs = hl.datasets.load_sample("pandalm")
    >>> sorted(pairs["preferred"].unique())
    ['a', 'b', 'tie']
    >>> hh = hl.datasets.load_sample("hh_harmless", kind="pairs")
    >>> len(hh)
    150
    """
    name = _check_name(name)
    if kind is None:
        kind = _SAMPLES[name][1]
    if kind not in _KINDS:
        close = suggest(kind, _KINDS) if isinstance(kind, str) else None
        hint = f" Did you mean {close!r}?" if close else ""
        raise HLValueError(f"kind must be 'logs' or 'pairs'; got {describe(kind)}.{hint}")
    return _hh(kind) if name == "hh_harmless" else _pandalm(kind)


def attribution(name: str) -> str:
    """Where a sample comes from: source repository, commit, file, license, paper and our changes.

    Examples
    --------
    >>> import hl_notebook as hl
    >>> "Apache-2.0" in hl.datasets.attribution("pandalm")
    True
    """
    name = _check_name(name)
    text = resources.files("hl_notebook").joinpath("data").joinpath("ATTRIBUTION.md").read_text("utf-8")
    marker = f"<!-- sample: {name} -->"
    start = text.index(marker) + len(marker)
    end = text.find("<!-- sample:", start)
    body = text[start:] if end < 0 else text[start:end]
    return body.strip()

