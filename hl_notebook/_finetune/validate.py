"""Check a fine-tuning JSONL file before it is uploaded: `validate_finetune_file`.

The rules are the OpenAI cookbook's chat-format checks ("Data preparation and analysis for chat
model fine-tuning") plus the preference (DPO) format's: every line a JSON object; supervised
lines have a non-empty ``messages`` list whose messages have a known ``role``, text ``content``
and only known keys, with at least one assistant message; DPO lines have ``input.messages``
ending in a user turn and ``preferred_output`` / ``non_preferred_output`` each holding exactly
one assistant message, the two different. A file needs at least 10 examples.

The file is read line by line (a 50 MB line, invalid UTF-8 or a JSON array instead of JSON Lines
each give one clear error and do not stop the rest of the file from being checked), and tokens
are counted offline with `hl_notebook._tokens` in batches.

Training price
--------------
`TRAINING_PRICES` holds OpenAI's published price per 1M *training* tokens (openai.com/api/pricing,
"Fine-tuning" table; gpt-4o $25, gpt-4o-mini $3, gpt-4.1 $25, gpt-4.1-mini $5, gpt-4.1-nano $1.50,
gpt-3.5-turbo $8; as of 2025-06, and third-party summaries from 2026-04 agree on gpt-4o and
gpt-4o-mini). Prices change and other providers charge differently: pass ``price_per_million=``
or edit `TRAINING_PRICES`. The estimate is billable tokens × epochs × price.
"""

from __future__ import annotations

import html
import io
import json
import math
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeGuard

from .._schema import HLValueError, describe, suggest

__all__ = [
    "MAX_TOKENS_PER_EXAMPLE",
    "TRAINING_PRICES",
    "ValidationIssue",
    "ValidationReport",
    "default_epochs",
    "validate_finetune_file",
]

Method = Literal["supervised", "dpo"]
METHODS: tuple[str, ...] = ("supervised", "dpo")

#: Tokens per example before OpenAI truncates it (cookbook figure for the chat models).
MAX_TOKENS_PER_EXAMPLE = 16_385
#: Fewer examples than this and the API rejects the file.
MIN_EXAMPLES = 10
#: Below this many examples gains are usually small (cookbook: "usually from 50 to 100").
RECOMMENDED_EXAMPLES = 50
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25

#: USD per 1M training tokens (see the module docstring for the source and date).
TRAINING_PRICES: dict[str, float] = {
    "gpt-4o-mini": 3.00,
    "gpt-4o": 25.00,
    "gpt-4.1-nano": 1.50,
    "gpt-4.1-mini": 5.00,
    "gpt-4.1": 25.00,
    "gpt-3.5-turbo": 8.00,
}
#: The model priced when none is given.
DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
MESSAGE_KEYS = ("role", "content", "name", "function_call", "tool_calls", "tool_call_id", "weight", "refusal")
SUPERVISED_KEYS = ("messages", "tools", "functions", "parallel_tool_calls", "metadata")
DPO_KEYS = ("input", "preferred_output", "non_preferred_output", "metadata")
#: How many issues are kept with their text (all are counted in ``error_counts``).
MAX_KEPT = 1000
#: Lines longer than this are not tokenized: no token can be longer than ~128 bytes, so such a
#: line is over the per-example cap whatever it holds.
_MAX_TOKEN_BYTES = 128
_BATCH = 2048


@dataclass(frozen=True)
class ValidationIssue:
    """One problem found in a fine-tuning file.

    ``line`` is 1-based (None for a problem with the whole file), ``kind`` a short code such as
    ``"invalid_json"`` or ``"missing_assistant"``, ``message`` says what to do.
    """

    line: int | None
    kind: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        return f"{where}: [{self.kind}] {self.message}"


def default_epochs(n_examples: int) -> int:
    """The cookbook's default epoch count: aim for 3, keep examples × epochs in [100, 25,000].

    Examples
    --------
    >>> default_epochs(10), default_epochs(1000), default_epochs(20_000)
    (10, 3, 1)
    """
    if n_examples <= 0:
        return TARGET_EPOCHS
    n = TARGET_EPOCHS
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        n = min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    elif n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        n = max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return n


def training_price(model: str | None) -> float | None:
    """USD per 1M training tokens for ``model`` from `TRAINING_PRICES` (longest prefix), or None."""
    if not model:
        return None
    name = model.lower()
    if name.startswith("ft:"):
        name = name.split(":")[1]
    best = None
    for prefix, price in TRAINING_PRICES.items():
        if name.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, price)
    return None if best is None else best[1]


def _quantiles(values: list[int]) -> dict[str, float]:
    if not values:
        return {"min": 0, "median": 0, "p90": 0, "max": 0}
    s = sorted(values)

    def q(p: float) -> float:
        k = (len(s) - 1) * p
        lo, hi = math.floor(k), math.ceil(k)
        return float(s[lo] + (s[hi] - s[lo]) * (k - lo))

    return {"min": s[0], "median": q(0.5), "p90": q(0.9), "max": s[-1]}


@dataclass
class ValidationReport:
    """What `validate_finetune_file` found. ``ok`` is True when there are no errors.

    Attributes
    ----------
    path, method, model : the file, its format (``"supervised"`` / ``"dpo"``), the priced model
    errors, warnings : lists of `ValidationIssue` (at most 1,000 of each kept; all counted in
        ``error_counts`` / ``warning_counts``)
    n_lines, n_examples : non-blank lines, and lines that are well-formed examples
    messages_per_example, tokens_per_example : ``{"min", "median", "p90", "max"}``
    n_over_token_limit : examples over ``max_tokens_per_example`` (truncated in training)
    billable_tokens : tokens per epoch, each example capped at the limit
    epochs : the epochs to be billed (given, or the cookbook default)
    estimated_cost_usd : billable tokens × epochs × price (None when the price is unknown)
    tokens_exact : False when counted with cl100k for a model whose encoding is not available
    """

    path: str
    method: str | None
    model: str | None = None
    errors: list[ValidationIssue] = field(default_factory=list)
    warnings: list[ValidationIssue] = field(default_factory=list)
    error_counts: Counter = field(default_factory=Counter)
    warning_counts: Counter = field(default_factory=Counter)
    n_lines: int = 0
    n_examples: int = 0
    messages_per_example: dict[str, float] = field(default_factory=dict)
    tokens_per_example: dict[str, float] = field(default_factory=dict)
    assistant_tokens_per_example: dict[str, float] = field(default_factory=dict)
    max_tokens_per_example: int = MAX_TOKENS_PER_EXAMPLE
    n_over_token_limit: int = 0
    billable_tokens: int = 0
    epochs: int = TARGET_EPOCHS
    epochs_source: str = "default"
    price_per_million: float | None = None
    estimated_cost_usd: float | None = None
    tokens_exact: bool = True
    encoding: str = "cl100k_base"

    @property
    def ok(self) -> bool:
        """True when the file has no errors (warnings allowed)."""
        return not self.error_counts

    @property
    def n_errors(self) -> int:
        return sum(self.error_counts.values())

    @property
    def n_warnings(self) -> int:
        return sum(self.warning_counts.values())

    @property
    def stats(self) -> dict[str, Any]:
        """The statistics as one dict (for printing or a DataFrame)."""
        return {
            "examples": self.n_examples,
            "messages_per_example": self.messages_per_example,
            "tokens_per_example": self.tokens_per_example,
            "assistant_tokens_per_example": self.assistant_tokens_per_example,
            "over_token_limit": self.n_over_token_limit,
            "billable_tokens_per_epoch": self.billable_tokens,
            "epochs": self.epochs,
            "billed_tokens": self.billable_tokens * self.epochs,
            "estimated_cost_usd": self.estimated_cost_usd,
            "tokens_exact": self.tokens_exact,
        }

    def issues_frame(self):
        """Errors and warnings as a DataFrame (``severity, line, kind, message``)."""
        import pandas as pd

        rows = [("error", i.line, i.kind, i.message) for i in self.errors]
        rows += [("warning", i.line, i.kind, i.message) for i in self.warnings]
        return pd.DataFrame(rows, columns=["severity", "line", "kind", "message"])

    def raise_if_invalid(self) -> ValidationReport:
        """Raise `HLValueError` listing the first errors unless the file is ok; else return self."""
        if self.ok:
            return self
        first = "\n".join(f"  {e}" for e in self.errors[:10])
        more = f"\n  ... and {self.n_errors - 10} more" if self.n_errors > 10 else ""
        raise HLValueError(
            f"{self.path} is not a valid {self.method or 'fine-tuning'} file ({self.n_errors} "
            f"error(s)):\n{first}{more}\nFix these lines, then validate again with "
            f"hl.validate_finetune_file({self.path!r})."
        )

    def _summary_lines(self) -> list[str]:
        approx = "" if self.tokens_exact else f" (approximate: counted with {self.encoding})"
        tpe = self.tokens_per_example
        lines = [
            f"{'OK' if self.ok else 'INVALID'}: {self.path} ({self.method or 'unknown format'}), "
            f"{self.n_examples} examples, {self.n_errors} errors, {self.n_warnings} warnings",
        ]
        if self.n_examples:
            mpe = self.messages_per_example
            lines.append(
                f"messages/example min {mpe['min']:g}, median {mpe['median']:g}, p90 {mpe['p90']:g}, max {mpe['max']:g}"
            )
            lines.append(
                f"tokens/example   min {tpe['min']:g}, median {tpe['median']:g}, p90 {tpe['p90']:g}, max {tpe['max']:g}{approx}"
            )
            lines.append(
                f"{self.n_over_token_limit} examples over {self.max_tokens_per_example:,} tokens; "
                f"{self.billable_tokens:,} billable tokens/epoch x {self.epochs} epochs ({self.epochs_source})"
                f" = {self.billable_tokens * self.epochs:,} tokens"
            )
            cost = (
                f"~${self.estimated_cost_usd:,.2f} at ${self.price_per_million:g}/1M training tokens for {self.model}"
                if self.estimated_cost_usd is not None
                else f"cost unknown for {self.model!r}: pass price_per_million="
            )
            lines.append(f"estimated cost {cost}")
        return lines

    def __repr__(self) -> str:
        out = self._summary_lines()
        for title, items, total in (("errors", self.errors, self.n_errors), ("warnings", self.warnings, self.n_warnings)):
            if items:
                out.append(f"{title}:")
                out += [f"  {i}" for i in items[:8]]
                if total > 8:
                    out.append(f"  ... {total - 8} more ({dict(self.error_counts if title == 'errors' else self.warning_counts)})")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        esc = html.escape
        color = "#1a7f37" if self.ok else "#cf222e"
        head = self._summary_lines()
        parts = [
            '<div class="hl-validation" style="font-family:var(--jp-ui-font-family,sans-serif)">',
            f'<div style="font-weight:600;color:{color}">{esc(head[0])}</div>',
        ]
        parts += [f"<div>{esc(line)}</div>" for line in head[1:]]
        for title, items, total in (("Errors", self.errors, self.n_errors), ("Warnings", self.warnings, self.n_warnings)):
            if not items:
                continue
            rows = "".join(
                f"<tr><td>{'' if i.line is None else i.line}</td><td><code>{esc(i.kind)}</code></td>"
                f"<td>{esc(i.message)}</td></tr>"
                for i in items[:20]
            )
            more = f"<div>... {total - 20} more</div>" if total > 20 else ""
            parts.append(
                f"<details {'open' if title == 'Errors' else ''}><summary>{title} ({total})</summary>"
                f"<table><tr><th>line</th><th>kind</th><th>message</th></tr>{rows}</table>{more}</details>"
            )
        parts.append("</div>")
        return "".join(parts)


class _Collector:
    def __init__(self, report: ValidationReport) -> None:
        self.report = report

    def error(self, line: int | None, kind: str, message: str) -> None:
        self.report.error_counts[kind] += 1
        if len(self.report.errors) < MAX_KEPT:
            self.report.errors.append(ValidationIssue(line, kind, message))

    def warn(self, line: int | None, kind: str, message: str) -> None:
        self.report.warning_counts[kind] += 1
        if len(self.report.warnings) < MAX_KEPT:
            self.report.warnings.append(ValidationIssue(line, kind, message))


def _check_messages(
    messages: Any, line: int, where: str, out: _Collector, *, need_assistant: bool
) -> TypeGuard[list[dict[str, Any]]]:
    """Check one messages list; report each problem; True when it is usable."""
    if not isinstance(messages, list) or not messages:
        got = "missing" if messages is None else ("empty" if messages == [] else describe(messages))
        out.error(line, "missing_messages", f"{where} must be a non-empty list of messages; it is {got}.")
        return False
    good = True
    has_assistant = False
    for j, m in enumerate(messages):
        at = f"{where}[{j}]"
        if not isinstance(m, dict):
            out.error(line, "message_not_object", f"{at} must be an object with 'role' and 'content'; got {describe(m)}.")
            good = False
            continue
        extra = [k for k in m if k not in MESSAGE_KEYS]
        if extra:
            hint = suggest(extra[0], MESSAGE_KEYS)
            out.error(
                line, "unknown_key",
                f"{at} has unknown key(s) {extra}; allowed: {list(MESSAGE_KEYS)}."
                + (f" Did you mean {hint!r}?" if hint else ""),
            )
            good = False
        role = m.get("role")
        if role is None:
            out.error(line, "missing_role", f"{at} has no 'role'; use one of {list(ROLES)}.")
            good = False
        elif role not in ROLES:
            hint = suggest(str(role), ROLES)
            out.error(
                line, "unknown_role",
                f"{at} has role {role!r}; use one of {list(ROLES)}." + (f" Did you mean {hint!r}?" if hint else ""),
            )
            good = False
        elif role == "assistant":
            has_assistant = True
        content = m.get("content")
        calls = m.get("tool_calls") or m.get("function_call")
        if "content" not in m and not (role == "assistant" and calls):
            out.error(line, "missing_content", f"{at} ({role}) has no 'content'.")
            good = False
        elif content is None and not (role == "assistant" and calls):
            out.error(line, "missing_content", f"{at} ({role}) has content null.")
            good = False
        elif isinstance(content, str):
            if not content.strip() and not calls:
                out.error(line, "empty_content", f"{at} ({role}) has empty content; write the text or drop the message.")
                good = False
        elif isinstance(content, list):
            if not all(isinstance(p, dict) and "type" in p for p in content):
                out.error(line, "bad_content", f"{at} content parts must be objects with a 'type'.")
                good = False
        elif content is not None:
            out.error(line, "bad_content", f"{at} content must be text; got {describe(content)}.")
            good = False
        if "weight" in m and m["weight"] not in (0, 1):
            out.error(line, "bad_weight", f"{at} has weight {m['weight']!r}; weight must be 0 or 1.")
            good = False
    if need_assistant and not has_assistant:
        out.error(line, "missing_assistant", f"{where} has no assistant message; add the reply the model should learn.")
        good = False
    return good


def _check_output(value: Any, line: int, key: str, out: _Collector) -> str | None:
    """A DPO output: a list of exactly one assistant message. Returns its text (or None)."""
    if not isinstance(value, list) or len(value) != 1:
        n = len(value) if isinstance(value, list) else None
        got = f"{n} messages" if n is not None else ("missing" if value is None else describe(value))
        out.error(line, "bad_output", f"'{key}' must be a list of exactly one assistant message; it has {got}.")
        return None
    m = value[0]
    if not isinstance(m, dict) or m.get("role") != "assistant":
        role = m.get("role") if isinstance(m, dict) else describe(m)
        out.error(line, "bad_output", f"'{key}' must hold an assistant message; its role is {role!r}.")
        return None
    if not _check_messages(value, line, key, out, need_assistant=False):
        return None
    content = m.get("content")
    return json.dumps(content, sort_keys=True) if not isinstance(content, str) else content


def _iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as f:
        yield from enumerate(f, 1)


def validate_finetune_file(
    path: str | os.PathLike[str],
    *,
    method: Method | None = None,
    model: str | None = None,
    n_epochs: int | None = None,
    price_per_million: float | None = None,
    max_tokens_per_example: int = MAX_TOKENS_PER_EXAMPLE,
) -> ValidationReport:
    """Check a fine-tuning JSONL file the way the API will, and estimate its cost.

    Parameters
    ----------
    path : path-like
        The JSONL file (one example per line).
    method : {"supervised", "dpo"}, optional
        The format to check; by default taken from the first well-formed line.
    model : str, optional
        The model to fine-tune; picks the tokenizer and the price (default gpt-4o-mini).
    n_epochs : int, optional
        Epochs to price; by default the cookbook heuristic (aim for 3, keep examples × epochs
        in [100, 25,000]).
    price_per_million : float, optional
        USD per 1M training tokens, overriding `TRAINING_PRICES`.
    max_tokens_per_example : int
        Examples longer than this are truncated in training (reported as warnings).

    Returns
    -------
    ValidationReport
        ``.ok``, ``.errors`` (line, kind, message), ``.warnings`` and statistics.

    Examples
    --------
    >>> import json, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "train.jsonl")
    >>> with open(path, "w") as f:
    ...     for i in range(12):
    ...         msgs = [{"role": "user", "content": f"{i}+{i}?"}, {"role": "assistant", "content": str(2 * i)}]
    ...         print(json.dumps({"messages": msgs}), file=f)
    >>> report = validate_finetune_file(path)
    >>> report.ok, report.n_examples, report.epochs
    (True, 12, 8)
    """
    if method is not None and method not in METHODS:
        hint = suggest(str(method), METHODS)
        raise HLValueError(
            f"method must be one of {list(METHODS)}; got {describe(method)}." + (f" Did you mean {hint!r}?" if hint else "")
        )
    if not isinstance(path, (str, os.PathLike)):
        raise HLValueError(f"path must be a file path; got {describe(path)}.")
    p = Path(path)
    if not p.is_file():
        raise HLValueError(f"{str(p)!r} is not a file; pass the path of a JSONL file (e.g. from hl.to_openai).")
    if n_epochs is not None and (isinstance(n_epochs, bool) or not isinstance(n_epochs, int) or n_epochs < 1):
        raise HLValueError(f"n_epochs must be a whole number >= 1; got {describe(n_epochs)}.")
    from .tokens import counter_for

    model = model or DEFAULT_MODEL
    counter = counter_for(model)
    report = ValidationReport(path=str(p), method=method, model=model, max_tokens_per_example=max_tokens_per_example)
    report.tokens_exact, report.encoding = counter.exact, counter.encoding
    out = _Collector(report)

    tokens: list[int] = []
    assistant_tokens: list[int] = []
    n_messages: list[int] = []
    seen: dict[int, int] = {}
    pending: list[tuple[int, list, list]] = []  # (line, conversation to count, assistant part)
    max_line_bytes = max_tokens_per_example * _MAX_TOKEN_BYTES
    detected = method

    def flush() -> None:
        if not pending:
            return
        totals = counter.count_conversations([c for _, c, _ in pending])
        assist = counter.count_conversations([a for _, _, a in pending], primer=False)
        for (line, _, _), t, a in zip(pending, totals, assist, strict=False):
            _count(line, t, a)
        pending.clear()

    def _count(line: int, t: int, a: int) -> None:
        tokens.append(t)
        assistant_tokens.append(a)
        if t > max_tokens_per_example:
            out.warn(
                line, "over_token_limit",
                f"example has {t:,} tokens, over the {max_tokens_per_example:,} limit; it will be truncated "
                "from the end in training. Shorten or split it.",
            )

    first_byte = _first_nonspace_byte(p)
    if first_byte is None:
        out.error(None, "empty_file", "the file is empty; write at least 10 examples, one JSON object per line.")
    elif first_byte == b"[":
        out.error(
            1, "json_array",
            "the file is a JSON array, not JSON Lines; write one JSON object per line "
            "(e.g. pandas.DataFrame(records).to_json(path, orient='records', lines=True)).",
        )
    else:
        for line, raw in _iter_lines(p):
            if not raw.strip():
                continue
            report.n_lines += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                out.error(line, "invalid_utf8", f"line is not valid UTF-8 (byte {exc.start}); save the file as UTF-8.")
                continue
            if text.startswith("\ufeff"):
                text = text[1:]
            try:
                item = json.loads(text)
            except ValueError as exc:
                msg = str(exc)
                out.error(line, "invalid_json", f"line is not valid JSON ({msg[:120]}); each line must be one JSON object.")
                continue
            if not isinstance(item, dict):
                out.error(line, "not_object", f"line must be a JSON object; got a JSON {type(item).__name__}.")
                continue
            kind: Method = "dpo" if ("input" in item or "preferred_output" in item) else "supervised"
            if detected is None:
                detected = kind
                report.method = kind
            if kind != detected:
                out.error(
                    line, "wrong_format",
                    f"line looks like a {kind} example but the file is {detected}; keep one format per file.",
                )
                continue
            if detected == "supervised":
                extra = [k for k in item if k not in SUPERVISED_KEYS]
                if extra:
                    out.error(line, "unknown_key", f"line has unknown key(s) {extra}; allowed: {list(SUPERVISED_KEYS)}.")
                    continue
                messages = item.get("messages")
                if not _check_messages(messages, line, "messages", out, need_assistant=True):
                    continue
                conversation = messages
                assistant = [m for m in messages if m.get("role") == "assistant"]
                key = hash(text.strip())
            else:
                extra = [k for k in item if k not in DPO_KEYS]
                if extra:
                    out.error(line, "unknown_key", f"line has unknown key(s) {extra}; allowed: {list(DPO_KEYS)}.")
                    continue
                inp = item.get("input")
                if not isinstance(inp, dict):
                    out.error(line, "missing_input", f"'input' must be an object with 'messages'; it is {describe(inp)}.")
                    continue
                msgs = inp.get("messages")
                if not _check_messages(msgs, line, "input.messages", out, need_assistant=False):
                    continue
                if msgs[-1].get("role") != "user":
                    out.error(
                        line, "input_not_user_last",
                        f"input.messages ends with a {msgs[-1].get('role')!r} message; the outputs must answer a "
                        "final user message.",
                    )
                    continue
                good = _check_output(item.get("preferred_output"), line, "preferred_output", out)
                bad = _check_output(item.get("non_preferred_output"), line, "non_preferred_output", out)
                if good is None or bad is None:
                    continue
                if good == bad:
                    out.error(
                        line, "identical_outputs",
                        "preferred_output and non_preferred_output are identical; a pair must differ (drop it).",
                    )
                    continue
                conversation = msgs + item["preferred_output"] + item["non_preferred_output"]
                assistant = item["preferred_output"] + item["non_preferred_output"]
                key = hash(text.strip())
            report.n_examples += 1
            n_messages.append(len(conversation))
            if key in seen:
                out.warn(line, "duplicate", f"this example repeats line {seen[key]}; duplicates overweight it.")
            else:
                seen[key] = line
            if len(raw) > max_line_bytes:  # certainly over the cap: don't spend seconds tokenizing it
                bound = len(raw) // _MAX_TOKEN_BYTES
                _count(line, bound, bound)
                continue
            pending.append((line, conversation, assistant))
            if len(pending) >= _BATCH:
                flush()
        flush()

    n = report.n_examples
    if report.n_lines and n < MIN_EXAMPLES:
        out.error(
            None, "too_few_examples",
            f"the file has {n} valid example(s); fine-tuning needs at least {MIN_EXAMPLES} "
            f"(gains usually start at {RECOMMENDED_EXAMPLES}-100).",
        )
    elif MIN_EXAMPLES <= n < RECOMMENDED_EXAMPLES:
        out.warn(None, "few_examples", f"{n} examples; gains usually start at {RECOMMENDED_EXAMPLES}-100 examples.")
    report.messages_per_example = _quantiles(n_messages)
    report.tokens_per_example = _quantiles(tokens)
    report.assistant_tokens_per_example = _quantiles(assistant_tokens)
    report.n_over_token_limit = sum(1 for t in tokens if t > max_tokens_per_example)
    report.billable_tokens = sum(min(max_tokens_per_example, t) for t in tokens)
    if n_epochs is not None:
        report.epochs, report.epochs_source = n_epochs, "given"
    else:
        report.epochs, report.epochs_source = default_epochs(n), "cookbook default"
    price = price_per_million if price_per_million is not None else training_price(model)
    report.price_per_million = price
    if price is not None:
        report.estimated_cost_usd = report.billable_tokens * report.epochs * price / 1e6
    return report


def _first_nonspace_byte(path: Path) -> bytes | None:
    with open(path, "rb") as f:
        while True:
            chunk = f.read(io.DEFAULT_BUFFER_SIZE)
            if not chunk:
                return None
            stripped = chunk.lstrip(b" \t\r\n")
            if stripped.startswith(b"\xef\xbb\xbf"):
                stripped = stripped[3:].lstrip(b" \t\r\n")
            if stripped:
                return stripped[:1]
