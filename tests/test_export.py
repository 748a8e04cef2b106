"""to_openai / to_hf: what is kept and dropped (and why), splits, dedup, DPO pairs, on real HH data."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from finetune_helpers import hh_logs, hh_pairs

import hl_notebook as hl


def read(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_supervised_export_keeps_thumbs_up_and_reports_thumbs_down(tmp_path):
    logs = hh_logs(150)  # 150 real pairs -> 150 👍 and 150 👎 rows
    r = hl.to_openai(logs, tmp_path / "sft.jsonl", system="You are a harmless assistant.")
    lines = read(tmp_path / "sft.jsonl")
    ups = logs[logs["label"] == "👍"]
    assert r.n_train == len(lines) == ups.drop_duplicates(["prompt", "completion"]).shape[0]
    assert r.dropped["thumbs_down_without_correction"] == 150
    assert r.kept_by["label"] == r.n_train
    first = lines[0]["messages"]
    assert first[0] == {"role": "system", "content": "You are a harmless assistant."}
    assert first[1] == {"role": "user", "content": ups["prompt"].iloc[0]}
    assert first[2] == {"role": "assistant", "content": ups["completion"].iloc[0]}
    assert "thumbs_down_without_correction" in repr(r) and "e.g. row" in repr(r)
    assert hl.validate_finetune_file(tmp_path / "sft.jsonl").ok


def test_corrections_become_the_assistant_message(tmp_path):
    df = pd.DataFrame({
        "prompt": ["Capital of France?", "2+2?", "Say hi", "Unlabelled", "Meh"],
        "completion": ["Lyon", "4", "hello", "x", "y"],
        "label": ["👎", "👍", "👍", None, "🤷"],
        "correction": ["Paris", None, "Hello!", None, None],
    })
    r = hl.to_openai(df, tmp_path / "sft.jsonl")
    got = [ln["messages"][-1]["content"] for ln in read(tmp_path / "sft.jsonl")]
    assert got == ["Paris", "4", "Hello!"]
    assert dict(r.kept_by) == {"correction": 2, "label": 1}
    assert dict(r.dropped) == {"unlabelled": 1, "other_label": 1}


def test_messages_column_is_the_conversation(tmp_path):
    msgs = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Fix: teh cat"},
            {"role": "assistant", "content": "the cat?"}]
    df = pd.DataFrame({"prompt": ["Fix: teh cat"], "completion": ["the cat?"], "label": ["👎"],
                       "correction": ["the cat"], "messages": [json.dumps(msgs)]})
    hl.to_openai(df, tmp_path / "sft.jsonl", system="ignored: a system message exists")
    (line,) = read(tmp_path / "sft.jsonl")
    assert line["messages"] == msgs[:2] + [{"role": "assistant", "content": "the cat"}]


def test_duplicates_are_dropped_and_reported(tmp_path):
    df = pd.DataFrame({"prompt": ["a", "a", "b"], "completion": ["1", "1", "2"], "label": ["👍"] * 3})
    r = hl.to_openai(df, tmp_path / "sft.jsonl")
    assert r.n_train == 2 and r.dropped["duplicate"] == 1 and r.examples["duplicate"][0][0] == 1


def test_validation_split_is_grouped_by_prompt_and_seeded(tmp_path):
    logs = hh_logs(150)
    logs = pd.concat([logs, logs.assign(completion=logs["completion"] + " (rephrased)")], ignore_index=True)
    r = hl.to_openai(logs, tmp_path / "train.jsonl", validation=0.2, seed=7)
    assert r.validation_path == str(tmp_path / "train.validation.jsonl")
    train, valid = read(r.path), read(r.validation_path)
    assert len(train) == r.n_train and len(valid) == r.n_validation > 0
    prompts = lambda lines: {ln["messages"][0]["content"] for ln in lines}  # noqa: E731
    assert not prompts(train) & prompts(valid)
    assert 0.1 < len(prompts(valid)) / (len(prompts(train)) + len(prompts(valid))) < 0.3
    again = hl.to_openai(logs, tmp_path / "again.jsonl", validation=0.2, seed=7)
    assert read(again.validation_path) == valid
    with pytest.raises(hl.HLValueError, match="fraction between 0 and 1"):
        hl.to_openai(logs, tmp_path / "x.jsonl", validation=20)


def test_dpo_export_from_real_thumbs(tmp_path):
    logs = hh_logs(150)
    r = hl.to_openai(logs, tmp_path / "dpo.jsonl", method="dpo")
    lines = read(tmp_path / "dpo.jsonl")
    pairs = hh_pairs(150)
    # each 👍 of a prompt pairs with each 👎 of it: one pair per HH pair, and 2 x 2 for the one
    # prompt the sample holds twice
    expected = {(p, c, r) for p, part in pairs.groupby("prompt")
                for c in part["chosen"] for r in part["rejected"] if c != r}
    assert len(expected) == 152
    assert r.n_train == len(lines) == len(expected)
    assert r.kept_by["label"] == r.n_train
    first = lines[0]
    assert first["input"] == {"messages": [{"role": "user", "content": pairs["prompt"][0]}]}
    assert first["preferred_output"] == [{"role": "assistant", "content": pairs["chosen"][0]}]
    assert first["non_preferred_output"] == [{"role": "assistant", "content": pairs["rejected"][0]}]
    report = hl.validate_finetune_file(tmp_path / "dpo.jsonl")
    assert report.ok and report.method == "dpo"


def test_dpo_uses_corrections_and_compare_votes_and_drops_identical_pairs(tmp_path):
    df = pd.DataFrame({
        "log_id": ["l1", "l2", "l3", "l4"],
        "prompt": ["Capital of France?", "2+2?", "2+2?", "Say hi"],
        "completion": ["Lyon", "4", "4", "hello"],
        "label": ["👎", "👍", "👎", "👍"],
        "correction": ["Paris", None, None, "hello"],
    })
    r = hl.to_openai(df, tmp_path / "dpo.jsonl", method="dpo")
    got = [(ln["preferred_output"][0]["content"], ln["non_preferred_output"][0]["content"])
           for ln in read(tmp_path / "dpo.jsonl")]
    assert got == [("Paris", "Lyon")]
    assert r.dropped["identical_pair"] == 2  # correction equal to the completion; 👍 and 👎 of the same text
    votes = pd.DataFrame({"prompt": ["p1", "p2", "p3", "p4"], "completion_a": ["a1", "a2", "a3", "same"],
                          "completion_b": ["b1", "b2", "b3", "same"], "preferred": ["a", "b", "tie", "a"]})
    r = hl.to_openai(votes, tmp_path / "votes.jsonl", method="dpo")
    got = [(ln["preferred_output"][0]["content"], ln["non_preferred_output"][0]["content"])
           for ln in read(tmp_path / "votes.jsonl")]
    assert got == [("a1", "b1"), ("b2", "a2")] and r.dropped["identical_pair"] == 1


def test_frame_with_no_usable_rows_says_why_and_writes_nothing(tmp_path):
    df = pd.DataFrame({"prompt": ["a", "b"], "completion": ["1", "2"], "label": ["👎", None]})
    with pytest.raises(hl.HLValueError, match="no usable rows.*1 👎 without a correction.*1 no label"):
        hl.to_openai(df, tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists()
    with pytest.raises(hl.HLValueError, match="missing column 'completion'; it has \\['prompt', 'text', 'label'\\]. Pass completion="):
        hl.to_openai(pd.DataFrame({"prompt": ["a"], "text": ["b"], "label": ["👍"]}), tmp_path / "x.jsonl")
    with pytest.raises(hl.HLValueError, match="Did you mean 'dpo'"):
        hl.to_openai(df, tmp_path / "x.jsonl", method="dpp")
    with pytest.raises(hl.HLValueError, match="takes a pandas DataFrame"):
        hl.to_openai([1, 2], tmp_path / "x.jsonl")


def test_custom_column_names(tmp_path):
    df = pd.DataFrame({"question": ["q"], "answer": ["a"], "label": ["👍"]})
    r = hl.to_openai(df, tmp_path / "x.jsonl", prompt="question", completion="answer")
    assert read(r.path)[0]["messages"][-1]["content"] == "a"


def test_to_hf_writes_trl_pairs_and_messages(tmp_path):
    logs = hh_logs(50)
    r = hl.to_hf(logs, tmp_path / "dpo.parquet", method="dpo")
    df = pd.read_parquet(tmp_path / "dpo.parquet")
    assert df.columns.tolist() == ["prompt", "chosen", "rejected"] and len(df) == r.n_train == 50
    assert df["chosen"][0] == hh_pairs(1)["chosen"][0]
    hl.to_hf(logs, tmp_path / "dpo.jsonl", method="dpo", conversational=True)
    line = read(tmp_path / "dpo.jsonl")[0]
    assert line["chosen"] == [{"role": "assistant", "content": hh_pairs(1)["chosen"][0]}]
    assert line["prompt"][-1]["role"] == "user"
    r = hl.to_hf(logs, tmp_path / "sft.jsonl")
    assert r.format == "messages" and read(tmp_path / "sft.jsonl")[0]["messages"][-1]["role"] == "assistant"


def test_ready_made_pairs_export_directly(tmp_path):
    r = hl.to_openai(hh_pairs(40), tmp_path / "dpo.jsonl", method="dpo")
    assert r.n_train == 40 and r.kept_by["pair"] == 40


def test_report_html_escapes_untrusted_text(tmp_path):
    df = pd.DataFrame({"prompt": ["<img src=x onerror=alert(1)>", "ok"], "completion": ["<script>x</script>", "1"],
                       "label": ["👎", "👍"]})
    r = hl.to_openai(df, tmp_path / "x.jsonl")
    html = r._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
