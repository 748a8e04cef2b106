"""Prompt templates: format strings or chat-message lists over a frame's columns.

A template names columns as ``{column}`` (a literal brace is ``{{``); several prompt versions are a
dict ``{"v1": template, "v2": template}``. Everything is checked before any request is sent.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from .._schema import HLValueError, describe

__all__ = ["ROLES", "fields", "normalize_template", "prompt_text", "render"]

ROLES = ("system", "developer", "user", "assistant", "tool")


def fields(text: str, *, where: str) -> list[str]:
    """The column names a format string uses; raises on malformed braces or positional fields."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise HLValueError(
            f"{where} is not a valid template ({exc}): {text[:80]!r}. Fields look like {{column}}; "
            "write a literal brace as {{ or }}."
        ) from None
    out = []
    for _, field, spec, _ in parsed:
        if field is None:
            continue
        root = field.split(".", 1)[0].split("[", 1)[0]
        if not root or root.isdigit():
            raise HLValueError(
                f"{where} has a positional field {{{field}}} in {text[:80]!r}; name a column instead, "
                "e.g. {text}, or write a literal brace as {{ or }}."
            )
        out.append(root)
        if spec:
            out.extend(fields(spec, where=where))
    return out


def normalize_template(template: Any, *, system: str | None, version: str | None) -> list[dict[str, str]]:
    where = "template" if version is None else f"template {version!r}"
    if isinstance(template, str):
        messages = [{"role": "user", "content": template}]
    elif isinstance(template, (list, tuple)) and template:
        messages = []
        for i, m in enumerate(template):
            if not isinstance(m, Mapping) or not isinstance(m.get("content"), str) or m.get("role") not in ROLES:
                raise HLValueError(
                    f"{where}[{i}] must be a dict like {{'role': 'user', 'content': '...'}} with role in "
                    f"{list(ROLES)} and string content; got {describe(m)}."
                )
            extra = set(m) - {"role", "content", "name"}
            if extra:
                raise HLValueError(f"{where}[{i}] has unknown keys {sorted(extra)}; use role, content and name.")
            messages.append(dict(m))
    else:
        raise HLValueError(
            f"{where} must be a format string ('Fix the grammar: {{text}}'), a list of chat messages "
            "([{'role': 'user', 'content': '...'}]) or a dict of versions {'v1': ..., 'v2': ...}; "
            f"got {describe(template)}."
        )
    if system is not None:
        if not isinstance(system, str):
            raise HLValueError(f"system must be a string; got {describe(system)}.")
        messages.insert(0, {"role": "system", "content": system})
    return messages


def render(messages: list[dict[str, str]], values: Mapping[Any, Any]) -> list[dict[str, str]]:
    """The messages with their ``{field}`` placeholders filled from ``values`` (a row's record)."""
    return [{**m, "content": m["content"].format_map(values)} for m in messages]


def prompt_text(messages: list[dict[str, str]]) -> str:
    users = [m["content"] for m in messages if m["role"] == "user"]
    return users[-1] if users else messages[-1]["content"]
