"""Turn labelled logs into fine-tuning files: `to_openai`, `to_hf` and their `ExportReport`.

Supervised (SFT) rows, in order of precedence:

- a row with a ``correction`` is kept with the correction as the assistant message (the human
  wrote what the model should have said), whatever its label;
- a 👍 row (the first label of ``labels``) is kept as it is;
- a 👎 row without a correction, an unlabelled row, a row with another label, and a row with an
  empty prompt or completion are left out, and counted by reason in the report.

When a ``messages`` column holds the chat sent to the model, it is the conversation (a final
assistant turn in it is replaced by the target); otherwise the prompt becomes one user message.

Preference (DPO) pairs come from `hl_notebook._feedback_pairs.pairs_from_feedback` (correction ≻
original, 👍 ≻ 👎 on the same prompt, compare-widget votes); a frame that already has ``chosen``
and ``rejected`` columns is used as pairs directly. Pairs whose two outputs are identical are
dropped and reported.

Duplicates are dropped (the first is kept). The optional validation split is grouped by prompt
(no prompt on both sides) and seeded.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._schema import (
    DEFAULT_LABELS,
    HLValueError,
    check_columns,
    describe,
    is_missing,
    message_list,
    suggest,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ExportReport", "to_hf", "to_openai"]

Method = Literal["supervised", "dpo"]
METHODS: tuple[str, ...] = ("supervised", "dpo")
#: Why a row was left out, with the sentence the report uses.
REASONS: dict[str, str] = {
    "unlabelled": "no label and no correction",
    "thumbs_down_without_correction": "👎 without a correction (add one in the annotator to use it)",
    "other_label": "a label that is neither the good nor the bad one",
    "missing_text": "empty prompt or completion",
    "duplicate": "the same example appeared earlier",
    "identical_pair": "chosen and rejected outputs are identical",
    "no_pair": "feedback that makes no preference pair (a 👍 or 👎 with no counterpart, ties)",
    "multi_turn_output": "the output is not a single assistant turn",
}
_EXAMPLES_PER_REASON = 3


@dataclass
class ExportReport:
    """What an export kept and dropped, and why.

    Attributes
    ----------
    path, validation_path : the files written (``validation_path`` is None without a split)
    method, format : ``"supervised"`` / ``"dpo"``; ``"openai"`` / ``"trl"`` / ``"messages"``
    n_rows : rows in the input frame
    n_train, n_validation : examples written to each file
    kept_by : examples by where they came from (``{"label": 40, "correction": 7}``)
    dropped : rows (or pairs) left out, by reason
    examples : up to three ``(row, text)`` examples per dropped reason
    """

    path: str
    method: Method
    format: str
    n_rows: int
    validation_path: str | None = None
    n_train: int = 0
    n_validation: int = 0
    kept_by: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    examples: dict[str, list[tuple[Any, str]]] = field(default_factory=dict)

    @property
    def n_kept(self) -> int:
        """Examples written (train + validation)."""
        return self.n_train + self.n_validation

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())

    def validate(self, **kwargs: Any):
        """Validate the written training file (see `hl.validate_finetune_file`)."""
        from .validate import validate_finetune_file

        return validate_finetune_file(self.path, method=self.method, **kwargs)

    def _drop(self, reason: str, row: Any, text: Any) -> None:
        self.dropped[reason] += 1
        ex = self.examples.setdefault(reason, [])
        if len(ex) < _EXAMPLES_PER_REASON:
            s = "" if is_missing(text) or text is None else str(text)
            ex.append((row, s[:80] + ("…" if len(s) > 80 else "")))

    def __repr__(self) -> str:
        split = f" + {self.n_validation} validation -> {self.validation_path}" if self.validation_path else ""
        kept = ", ".join(f"{n} from {k}" for k, n in self.kept_by.most_common())
        lines = [
            f"ExportReport({self.method}, {self.format}): {self.n_rows} rows -> {self.n_train} train -> "
            f"{self.path}{split}",
            f"  kept {self.n_kept}" + (f" ({kept})" if kept else ""),
            f"  dropped {self.n_dropped}" + (":" if self.dropped else ""),
        ]
        for reason, n in self.dropped.most_common():
            lines.append(f"    {n:>6} {reason}: {REASONS.get(reason, reason)}")
            for row, text in self.examples.get(reason, []):
                lines.append(f"           e.g. row {row!r}: {text!r}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = "".join(
            f"<tr><td><code>{esc(r)}</code></td><td style='text-align:right'>{n}</td>"
            f"<td>{esc(REASONS.get(r, r))}</td><td>"
            + "<br>".join(f"row {esc(repr(i))}: {esc(t)}" for i, t in self.examples.get(r, []))
            + "</td></tr>"
            for r, n in self.dropped.most_common()
        )
        split = (
            f", <b>{self.n_validation}</b> validation → <code>{esc(self.validation_path)}</code>"
            if self.validation_path
            else ""
        )
        kept = ", ".join(f"{n} from {esc(k)}" for k, n in self.kept_by.most_common())
        table = (
            f"<table><tr><th>dropped</th><th>rows</th><th>why</th><th>examples</th></tr>{rows}</table>"
            if rows
            else "<div>nothing dropped</div>"
        )
        return (
            '<div class="hl-export" style="font-family:var(--jp-ui-font-family,sans-serif)">'
            f"<div><b>{esc(self.method)}</b> export ({esc(self.format)}): {self.n_rows} rows → "
            f"<b>{self.n_train}</b> train → <code>{esc(self.path)}</code>{split}</div>"
            f"<div>kept {self.n_kept}{' (' + kept + ')' if kept else ''}; dropped {self.n_dropped}</div>"
            f"{table}</div>"
        )


# -- shared steps ------------------------------------------------------------------------------


def _check_method(method: Any) -> Method:
    if method not in METHODS:
        hint = suggest(str(method), METHODS)
        raise HLValueError(
            f"method must be one of {list(METHODS)}; got {describe(method)}." + (f" Did you mean {hint!r}?" if hint else "")
        )
    return method


def _check_frame(df: Any, fn: str) -> pd.DataFrame:
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise HLValueError(f"{fn}() takes a pandas DataFrame; got {describe(df)}. Try store.to_pandas().")
    return df


def _text(v: Any) -> str | None:
    if v is None or is_missing(v) or not isinstance(v, str) or not v.strip():
        return None
    return v


def _conversation(value: Any) -> list[dict[str, Any]] | None:
    """A ``messages`` cell as a list of message dicts (JSON text accepted), or None."""
    value = message_list(value)
    if value is None:
        return None
    out = []
    for m in value:
        out.append({k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in m.items() if not is_missing_safe(v)})
    return out


def is_missing_safe(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _input_messages(prompt: str, messages: Any, system: str | None) -> list[dict[str, Any]]:
    conv = _conversation(messages)
    if conv is None:
        conv = [{"role": "user", "content": prompt}]
    elif conv[-1].get("role") == "assistant":  # the logged reply itself: replaced by the target
        conv = conv[:-1]
    if system is not None and not any(m.get("role") in ("system", "developer") for m in conv):
        conv = [{"role": "system", "content": system}, *conv]
    return conv


def _split(
    keys: Sequence[str], validation: float | None, seed: int
) -> np.ndarray:
    """A boolean mask: True for validation examples, grouped by prompt key, seeded."""
    n = len(keys)
    mask = np.zeros(n, dtype=bool)
    if not validation:
        return mask
    groups = list(dict.fromkeys(keys))
    if len(groups) < 2:
        raise HLValueError(
            f"validation={validation} needs at least two different prompts to split by prompt; the export "
            f"has {len(groups)}. Pass validation=None."
        )
    order = np.random.default_rng(seed).permutation(len(groups))
    n_valid = min(len(groups) - 1, max(1, round(validation * len(groups))))
    held = {groups[i] for i in order[:n_valid]}
    for i, k in enumerate(keys):
        mask[i] = k in held
    return mask


def _check_validation(validation: Any) -> float | None:
    if validation is None or validation == 0:
        return None
    if isinstance(validation, bool) or not isinstance(validation, (int, float)) or not 0 < validation < 1:
        raise HLValueError(
            f"validation must be a fraction between 0 and 1 (e.g. 0.1 holds out 10% of the prompts); "
            f"got {describe(validation)}."
        )
    return float(validation)


def _validation_path(path: Path, given: Any) -> Path:
    if given is not None:
        return Path(given)
    suffixes = "".join(path.suffixes)
    stem = path.name[: -len(suffixes)] if suffixes else path.name
    return path.with_name(f"{stem}.validation{suffixes or '.jsonl'}")


def _write_jsonl(path: Path, records: Sequence[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(dumps(r) + "\n" for r in records))
    os.replace(tmp, path)


def _write_parquet(path: Path, records: Sequence[dict[str, Any]]) -> None:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame.from_records(list(records)).to_parquet(path, index=False)


# -- building examples ---------------------------------------------------------------------------


def _prepare(df: pd.DataFrame, prompt: str, completion: str, *, need_completion: bool) -> pd.DataFrame:
    required = [(prompt, "prompt")]
    if need_completion:
        required.append((completion, "completion"))
    check_columns(df.columns, required)
    rename = {}
    if prompt != "prompt":
        rename[prompt] = "prompt"
    if completion != "completion" and completion in df.columns:
        rename[completion] = "completion"
    if rename:
        df = df.drop(columns=[c for c in rename.values() if c in df.columns and c not in rename]).rename(columns=rename)
    return df


def _supervised(
    df: pd.DataFrame, report: ExportReport, *, system: str | None, labels: Sequence[str]
) -> tuple[list[list[dict[str, Any]]], list[str], list[Any]]:
    """Conversations to train on, their prompt keys, and their source row labels."""
    good, bad = labels[0], labels[1]
    n = len(df)

    def col(name: str) -> list:
        return df[name].tolist() if name in df.columns else [None] * n

    convs: list[list[dict[str, Any]]] = []
    keys: list[str] = []
    seen: set[str] = set()
    index = df.index.tolist()
    for row, p, c, lab, corr, msgs in zip(
        index, col("prompt"), col("completion"), col("label"), col("correction"), col("messages"), strict=False
    ):
        p_text, corr_text = _text(p), _text(corr)
        target: str | None
        if corr_text is not None:
            target, source = corr_text, "correction"
        elif is_missing_safe(lab) or lab is None or (not isinstance(lab, str)):
            report._drop("unlabelled", row, p)
            continue
        elif lab == good:
            target, source = _text(c), "label"
        elif lab == bad:
            report._drop("thumbs_down_without_correction", row, c)
            continue
        else:
            report._drop("other_label", row, lab)
            continue
        if target is None or (p_text is None and _conversation(msgs) is None):
            report._drop("missing_text", row, p if p_text is None else c)
            continue
        conv = _input_messages(p_text or "", msgs, system)
        conv.append({"role": "assistant", "content": target})
        key = json.dumps(conv, ensure_ascii=False, sort_keys=True)
        if key in seen:
            report._drop("duplicate", row, target)
            continue
        seen.add(key)
        convs.append(conv)
        keys.append(p_text or json.dumps(conv[:-1], ensure_ascii=False))
        report.kept_by[source] += 1
    return convs, keys, index


def _pairs(
    df: pd.DataFrame, report: ExportReport, *, labels: Sequence[str]
) -> pd.DataFrame:
    """Preference pairs (prompt, chosen, rejected, reason) with drops reported."""

    if {"chosen", "rejected"} <= set(df.columns) and not (
        {"label", "correction", "preferred"} & set(df.columns)
    ):
        pairs = df[["prompt", "chosen", "rejected"]].copy()
        pairs["reason"] = "pair"
        pairs["row"] = df.index
    else:
        from .._learn.pairs import pairs_from_feedback

        identical = _count_identical(df, report, labels)
        pairs = pairs_from_feedback(df, sources=("correction", "label", "preferred"), labels=labels)
        pairs["row"] = None
        if "log_id" in df.columns and "label" in df.columns:
            involved = set(pairs["chosen_id"].dropna()) | set(pairs["rejected_id"].dropna())
            corr = df["correction"].tolist() if "correction" in df.columns else [None] * len(df)
            for row, lid, p, lab, c in zip(df.index, df["log_id"], df["prompt"], df["label"], corr, strict=False):
                if lab in labels[:2] and lid not in involved and _text(c) is None and row not in identical:
                    report._drop("no_pair", row, p)
    keep = []
    seen: set[tuple] = set()
    for i, (p, ch, rj) in enumerate(zip(pairs["prompt"], pairs["chosen"], pairs["rejected"], strict=False)):
        row = pairs["row"].iat[i] if pairs["row"].iat[i] is not None else i
        ch_t, rj_t = _text(ch), _text(rj)
        if _text(p) is None and not isinstance(p, (list, tuple, np.ndarray)) or ch_t is None or rj_t is None:
            report._drop("missing_text", row, p)
            continue
        if ch_t.strip() == rj_t.strip():
            report._drop("identical_pair", row, ch_t)
            continue
        k = (str(p), ch_t, rj_t)
        if k in seen:
            report._drop("duplicate", row, ch_t)
            continue
        seen.add(k)
        keep.append(i)
    out = pairs.iloc[keep].reset_index(drop=True)
    for reason, n in Counter(out["reason"]).items():
        report.kept_by[reason] += n
    return out


def _count_identical(df: pd.DataFrame, report: ExportReport, labels: Sequence[str]) -> set:
    """Report the feedback whose pair would have two identical outputs (pairs_from_feedback drops them)."""
    cols = set(df.columns)
    rows: set = set()
    if {"completion", "correction"} <= cols:
        for row, c, corr in zip(df.index, df["completion"], df["correction"], strict=False):
            if _text(c) is not None and _text(corr) is not None and c == corr:
                report._drop("identical_pair", row, c)
                rows.add(row)
    if {"completion_a", "completion_b", "preferred"} <= cols:
        for row, a, b, pref in zip(df.index, df["completion_a"], df["completion_b"], df["preferred"], strict=False):
            if pref in ("a", "b") and _text(a) is not None and a == b:
                report._drop("identical_pair", row, a)
    if {"completion", "label"} <= cols:
        good, bad = labels[0], labels[1]
        ups: dict[Any, set] = {}
        downs: dict[Any, list] = {}
        for row, p, c, lab in zip(df.index, df["prompt"], df["completion"], df["label"], strict=False):
            if lab == good:
                ups.setdefault(p, set()).add(c)
            elif lab == bad:
                downs.setdefault(p, []).append((row, c))
        for p, items in downs.items():
            for row, c in items:
                if c in ups.get(p, ()):
                    report._drop("identical_pair", row, c)
                    rows.add(row)
    return rows


def _prompt_messages(df: pd.DataFrame) -> dict[Any, Any]:
    """The first ``messages`` logged for each prompt (for DPO inputs)."""
    if "messages" not in df.columns:
        return {}
    out: dict[Any, Any] = {}
    for p, m in zip(df["prompt"], df["messages"], strict=False):
        if isinstance(p, str) and p not in out and _conversation(m) is not None:
            out[p] = m
    return out


def _export(
    df: Any,
    path: str | os.PathLike[str],
    *,
    fn: str,
    method: Any,
    fmt: str,
    system: str | None,
    prompt: str,
    completion: str,
    validation: float | None,
    validation_path: Any,
    seed: int,
    labels: Sequence[str],
    write,
) -> ExportReport:
    df = _check_frame(df, fn)
    method = _check_method(method)
    validation = _check_validation(validation)
    if system is not None and not isinstance(system, str):
        raise HLValueError(f"system must be a string (the system message); got {describe(system)}.")
    labels = tuple(labels)
    if len(labels) < 2:
        raise HLValueError(f"labels needs a good and a bad label, e.g. ('👍', '👎'); got {labels}.")
    if not isinstance(path, (str, os.PathLike)):
        raise HLValueError(f"path must be a file path such as 'train.jsonl'; got {describe(path)}.")
    out_path = Path(path)
    report = ExportReport(path=str(out_path), method=method, format=fmt, n_rows=len(df))
    is_compare = {"completion_a", "completion_b", "preferred"} <= set(df.columns)
    is_pairs = {"chosen", "rejected"} <= set(df.columns)
    frame = _prepare(df, prompt, completion, need_completion=method == "supervised" or not (is_compare or is_pairs))
    if method == "supervised":
        convs, keys, _ = _supervised(frame, report, system=system, labels=labels)
        records = write("supervised", convs, None)
    else:
        pairs = _pairs(frame, report, labels=labels)
        msgs = _prompt_messages(frame)
        inputs = [_input_messages(p if isinstance(p, str) else "", msgs.get(p), system) for p in pairs["prompt"]]
        keys = [p if isinstance(p, str) else json.dumps(i, ensure_ascii=False) for p, i in zip(pairs["prompt"], inputs, strict=False)]
        records = write("dpo", inputs, pairs)
    if not records:
        why = ", ".join(f"{n} {REASONS.get(r, r)}" for r, n in report.dropped.most_common()) or "the frame is empty"
        what = (
            "Label rows with hl.annotate(df) (👍, or 👎 with a correction)"
            if method == "supervised"
            else "Label good and bad completions of the same prompt, correct bad ones, or vote in hl.compare()"
        )
        raise HLValueError(f"{fn}(): no usable rows for a {method} export ({len(df)} rows: {why}). {what}.")
    mask = _split(keys, validation, seed)
    train = [r for r, v in zip(records, mask, strict=False) if not v]
    valid = [r for r, v in zip(records, mask, strict=False) if v]
    writer = _write_parquet if out_path.suffix == ".parquet" else _write_jsonl
    writer(out_path, train)
    report.n_train = len(train)
    if validation:
        vpath = _validation_path(out_path, validation_path)
        writer(vpath, valid)
        report.validation_path, report.n_validation = str(vpath), len(valid)
    return report


def to_openai(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    method: Method = "supervised",
    system: str | None = None,
    prompt: str = "prompt",
    completion: str = "completion",
    validation: float | None = None,
    validation_path: str | os.PathLike[str] | None = None,
    seed: int = 0,
    labels: Sequence[str] = DEFAULT_LABELS,
) -> ExportReport:
    """Write labelled rows as an OpenAI fine-tuning JSONL file (chat SFT or DPO).

    Parameters
    ----------
    df : DataFrame
        Logs with feedback, e.g. ``store.to_pandas()`` or an annotated frame (``label``,
        ``correction``; compare votes in ``completion_a``/``completion_b``/``preferred``; or
        ready ``chosen``/``rejected`` pairs).
    path : path-like
        The training file to write.
    method : {"supervised", "dpo"}
        ``{"messages": [...]}`` lines, or ``{"input": {"messages": [...]}, "preferred_output":
        [...], "non_preferred_output": [...]}`` lines.
    system : str, optional
        A system message put first in conversations that have none.
    prompt, completion : str
        The columns holding the prompt and the completion.
    validation : float, optional
        Hold out this fraction of the *prompts* (never split across files) into a validation file.
    validation_path : path-like, optional
        Where to write it (default ``<name>.validation.jsonl`` beside ``path``).
    seed : int
        Seed of the split.
    labels : (good, bad)
        The label vocabulary; the first label is the good one.

    Returns
    -------
    ExportReport
        What was kept and dropped, and why.

    Examples
    --------
    >>> import pandas as pd, tempfile, os, hl_notebook as hl
    >>> df = pd.DataFrame({"prompt": ["2+2?", "3+3?", "4+4?"], "completion": ["4", "7", "9"],
    ...                    "label": ["👍", "👎", "👎"], "correction": [None, "6", None]})
    >>> report = hl.to_openai(df, os.path.join(tempfile.mkdtemp(), "sft.jsonl"))
    >>> report.n_train, dict(report.dropped)
    (2, {'thumbs_down_without_correction': 1})
    """

    def write(kind: str, inputs: list, pairs: Any) -> list[dict[str, Any]]:
        if kind == "supervised":
            return [{"messages": conv} for conv in inputs]
        return [
            {
                "input": {"messages": inp},
                "preferred_output": [{"role": "assistant", "content": ch}],
                "non_preferred_output": [{"role": "assistant", "content": rj}],
            }
            for inp, ch, rj in zip(inputs, pairs["chosen"], pairs["rejected"], strict=False)
        ]

    return _export(
        df, path, fn="to_openai", method=method, fmt="openai", system=system, prompt=prompt,
        completion=completion, validation=validation, validation_path=validation_path, seed=seed,
        labels=labels, write=write,
    )


def to_hf(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    method: Method = "supervised",
    system: str | None = None,
    prompt: str = "prompt",
    completion: str = "completion",
    validation: float | None = None,
    validation_path: str | os.PathLike[str] | None = None,
    seed: int = 0,
    labels: Sequence[str] = DEFAULT_LABELS,
    conversational: bool = False,
) -> ExportReport:
    """Write the same data for Hugging Face trainers (TRL): JSONL, or parquet by the ``.parquet`` suffix.

    ``method="supervised"`` writes a ``messages`` column (TRL's conversational SFT format).
    ``method="dpo"`` writes ``prompt, chosen, rejected`` as text (TRL's standard preference
    format), or as message lists with ``conversational=True``.

    Examples
    --------
    >>> import pandas as pd, tempfile, os, hl_notebook as hl
    >>> df = pd.DataFrame({"prompt": ["2+2?", "2+2?"], "completion": ["4", "5"], "label": ["👍", "👎"]})
    >>> path = os.path.join(tempfile.mkdtemp(), "dpo.parquet")
    >>> hl.to_hf(df, path, method="dpo").n_train
    1
    >>> pd.read_parquet(path).columns.tolist()
    ['prompt', 'chosen', 'rejected']
    """

    def write(kind: str, inputs: list, pairs: Any) -> list[dict[str, Any]]:
        if kind == "supervised":
            return [{"messages": conv} for conv in inputs]
        if conversational:
            return [
                {"prompt": inp, "chosen": [{"role": "assistant", "content": ch}],
                 "rejected": [{"role": "assistant", "content": rj}]}
                for inp, ch, rj in zip(inputs, pairs["chosen"], pairs["rejected"], strict=False)
            ]
        return [
            {"prompt": p if isinstance(p, str) else json.dumps(inp, ensure_ascii=False), "chosen": ch, "rejected": rj}
            for p, inp, ch, rj in zip(pairs["prompt"], inputs, pairs["chosen"], pairs["rejected"], strict=False)
        ]

    return _export(
        df, path, fn="to_hf", method=method, fmt="trl" if method == "dpo" else "messages", system=system,
        prompt=prompt, completion=completion, validation=validation, validation_path=validation_path,
        seed=seed, labels=labels, write=write,
    )
