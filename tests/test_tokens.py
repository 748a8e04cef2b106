"""Offline token counting: never a download, exact where the encoding is local, flagged otherwise."""

from __future__ import annotations

import socket

import pytest

from hl_notebook._finetune import tokens as _tokens
from hl_notebook._finetune.tokens import count_tokens, counter_for, encoding_name_for


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """An empty tiktoken cache and a socket layer that refuses every connection."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    counter_for.cache_clear()
    _tokens._load.cache_clear()
    yield
    counter_for.cache_clear()
    _tokens._load.cache_clear()


def test_counting_works_with_an_empty_cache_and_no_network(no_network):
    c = counter_for("gpt-4o-mini-2024-07-18")
    assert c.count("The quick brown fox jumps over the lazy dog.") == 10
    assert c.wanted == "o200k_base" and c.encoding == "cl100k_base" and c.exact is False


def test_cl100k_models_are_counted_exactly(no_network):
    c = counter_for("gpt-3.5-turbo-0125")
    assert c.exact and c.encoding == "cl100k_base"
    assert c.count("hello world") == 2


def test_model_families_map_to_their_encodings():
    assert encoding_name_for("gpt-4o-2024-08-06") == "o200k_base"
    assert encoding_name_for("gpt-4.1-nano") == "o200k_base"
    assert encoding_name_for("o3-mini") == "o200k_base"
    assert encoding_name_for("gpt-4-0613") == "cl100k_base"
    assert encoding_name_for("ft:gpt-4o-mini-2024-07-18:org::abc") == "o200k_base"
    assert encoding_name_for("some-local-llama") == "cl100k_base"
    assert encoding_name_for(None) == "cl100k_base"


def test_chat_accounting_follows_the_cookbook():
    # 3 per message + role + content tokens, 1 more for a name, 3 for the reply primer
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "name": "ada", "content": "hello world"}]
    c = counter_for("gpt-4")
    expected = 3 + 3 + (c.count("system") + c.count("Be brief.")) + 3 + (
        c.count("user") + c.count("ada") + 1 + c.count("hello world"))
    assert count_tokens(msgs, model="gpt-4") == expected


def test_batch_counts_match_one_by_one():
    c = counter_for("gpt-4")
    texts = ["hello", "", "special <|endoftext|> text is plain here", "ünïcödé 🙂" * 20]
    assert c.count_many(texts) == [c.count(t) for t in texts]
    convs = [[{"role": "user", "content": t}] for t in texts]
    assert c.count_conversations(convs) == [c.count_messages(m) for m in convs]


def test_content_parts_and_tool_calls_are_counted():
    c = counter_for("gpt-4")
    parts = [{"role": "user", "content": [{"type": "text", "text": "hello world"}]}]
    assert c.count_messages(parts) == c.count_messages([{"role": "user", "content": "hello world"}])
    call = [{"role": "assistant", "content": None,
             "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]
    assert c.count_messages(call) > c.count_messages([{"role": "assistant", "content": ""}])
