"""Blind pairwise judging and pair_up, driven without a kernel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_annotate import Wire

import hl_notebook as hl


def pairs(n=6):
    return pd.DataFrame({
        "prompt": [f"p{i}" for i in range(n)],
        "completion_a": [f"A{i}" for i in range(n)],
        "completion_b": [f"B{i}" for i in range(n)],
    })


def test_sides_are_shuffled_per_row_seeded_and_votes_map_to_original_columns():
    df = pairs(40)
    w = hl.compare(df, annotator="ada")
    wire = Wire(w)
    rows = wire.ask(kind="rows", start=0, count=40)["rows"]
    left_is_b = [r["left"]["text"].startswith("B") for r in rows]
    assert 5 < sum(left_is_b) < 35  # shuffled
    assert left_is_b == [r["left"]["text"].startswith("B") for r in Wire(hl.compare(pairs(40))).ask(kind="rows", start=0, count=40)["rows"]]
    for pos in range(40):
        wire.ask(kind="vote", pos=pos, vote="left")
    expected = ["b" if lb else "a" for lb in left_is_b]
    assert df["preferred"].tolist() == expected
    assert df["shown_left"].tolist() == expected
    assert set(df["annotator"]) == {"ada"}


def test_tie_both_bad_and_undo():
    df = pairs()
    wire = Wire(hl.compare(df))
    wire.ask(kind="vote", pos=0, vote="tie")
    wire.ask(kind="vote", pos=1, vote="both_bad")
    assert df["preferred"].tolist()[:2] == ["tie", "both_bad"]
    wire.ask(kind="undo")
    assert df.loc[1, "preferred"] is None and pd.isna(df.loc[1, "judged_at"])
    assert "vote must be one of" in wire.ask(kind="vote", pos=0, vote="up")["error"]


def test_votes_are_journaled_as_feedback_when_log_ids_exist(store):
    ids = [store.log(prompt="p", completion=c) for c in ("good", "bad", "x", "y")]
    df = pd.DataFrame({"prompt": ["p", "p"], "completion_a": ["good", "x"], "completion_b": ["bad", "y"],
                       "log_id_a": [ids[0], ids[2]], "log_id_b": [ids[1], ids[3]]})
    w = hl.compare(df, store=store, annotator="ada")
    wire = Wire(w)
    screen = "left" if not w.session.swapped[0] else "right"  # the side showing completion_a
    reply = wire.ask(kind="vote", pos=0, vote=screen)
    assert reply["journaled"] is True and df.loc[0, "preferred"] == "a"
    latest = store.to_pandas().set_index("log_id")
    assert latest.loc[ids[0], "label"] == "👍" and latest.loc[ids[1], "label"] == "👎"
    events = store.feedback_events()
    assert set(events["source"]) == {"compare"} and set(events["annotator"]) == {"ada"}
    assert events["comment"].iloc[0] == f"compare {ids[0]}|{ids[1]}: a"
    wire.ask(kind="vote", pos=1, vote="tie")
    latest = store.to_pandas().set_index("log_id")
    assert pd.isna(latest.loc[ids[2], "label"]) and latest.loc[ids[2], "comment"].endswith(": tie")
    wire.ask(kind="undo")
    wire.ask(kind="undo")
    latest = store.to_pandas().set_index("log_id")
    assert latest["label"].isna().all() and latest["comment"].isna().all()


def test_compare_missing_column_error():
    with pytest.raises(hl.HLValueError, match=r"missing column 'completion_b'.*Pass b="):
        hl.compare(pd.DataFrame({"prompt": ["p"], "completion_a": ["a"], "response_b": ["b"]}))


def test_pair_up_matches_rows_on_keys_and_keeps_log_ids():
    x = pd.DataFrame({"prompt": ["p1", "p2", "p3"], "completion": ["x1", "x2", "x3"], "log_id": ["l1", "l2", "l3"]})
    y = pd.DataFrame({"prompt": ["p3", "p1"], "completion": ["y3", "y1"], "log_id": ["m3", "m1"]})
    out = hl.pair_up(x, y, on=["prompt"], names=("v1", "v2"))
    assert out[["prompt", "completion_a", "completion_b", "log_id_a", "log_id_b"]].values.tolist() == [
        ["p1", "x1", "y1", "l1", "m1"], ["p3", "x3", "y3", "l3", "m3"]]
    assert set(out["name_a"]) == {"v1"} and set(out["name_b"]) == {"v2"}
    w = hl.compare(out)
    assert w.session.has_log_ids


def test_pair_up_rejects_duplicate_keys_with_a_hint():
    x = pd.DataFrame({"prompt": ["p", "p"], "completion": ["a", "b"]})
    with pytest.raises(hl.HLValueError, match="df_x has 2 rows sharing their key"):
        hl.pair_up(x, x, on=["prompt"])


def test_compare_on_real_pandalm_pairs():
    # the shipped PandaLM sample, its majority vote dropped: the votes are to be cast here (three
    # of its responses are empty, as the model wrote nothing; those pairs are left out)
    pl = hl.datasets.load_sample("pandalm").drop(columns="preferred")
    written = (pl["completion_a"].str.strip() != "") & (pl["completion_b"].str.strip() != "")
    df = pl[written].head(50).reset_index(drop=True)
    wire = Wire(hl.compare(df))
    page = wire.ask(kind="rows", start=0, count=50)
    assert page["total"] == 50 and all(r["left"]["text"] is not None for r in page["rows"])
    wire.ask(kind="vote", pos=3, vote="right")
    assert df["preferred"].notna().sum() == 1 and df.loc[3, "preferred"] in ("a", "b")
    assert np.isin(df["shown_left"].dropna(), ["a", "b"]).all()


def test_comparer_is_constructible_directly_and_its_progress_comes_from_the_session():
    df = pairs(4)
    w = hl.Comparer(df, annotator="ada")
    assert w.config["widget"] == "compare" and w.config["done"] == "judged"
    wire = Wire(w)
    before = len(wire.messages)
    reply = wire.ask(kind="vote", pos=0, vote="tie")
    assert "progress" not in reply and reply["advance"] is True
    updates = [m for m in wire.messages[before:] if "progress" in m.get("state", {})]
    assert len(updates) == 1
    wire.ask(kind="vote", pos=1, vote="both_bad")
    assert w.progress["judged"] == 2 and w.progress["tally"] == {"tie": 1, "both_bad": 1}
    assert w.progress["per_annotator"] == {"ada": 2} and w.progress == w.session.progress_dict()
    wire.ask(kind="undo")
    assert w.progress["judged"] == 1 and w.progress["per_annotator"] == {"ada": 1}
    assert repr(w) == "Comparer(1/4 judged)"


def test_compare_show_more_pages_a_long_side_like_the_annotator():
    df = pairs(1)
    df.loc[0, "completion_a"] = "x" * 50_000
    w = hl.compare(df)
    side = "left" if not w.session.swapped[0] else "right"
    got = Wire(w).ask(kind="cell", pos=0, field=side, offset=49_990)
    assert got["length"] == 50_000 and got["text"] == "x" * 10 and got["offset"] == 49_990


def test_saved_trait_changes_once_per_vote_and_on_undo():
    df = pairs()
    w = hl.compare(df)
    wire = Wire(w)
    seen = []
    w.observe(lambda change: seen.append(change["new"]["count"]), names="saved")
    reply = wire.ask(kind="vote", pos=2, vote="tie")
    last = {"index": "2", "pos": 2, "undone": False, "preferred": "tie"}
    assert w.saved == reply["saved"] == {"count": 1, "last": last}
    wire.ask(kind="vote", pos=2, vote="both_bad")
    assert w.saved["last"]["preferred"] == "both_bad"
    wire.ask(kind="vote", pos=2, vote="up")  # an error saves nothing
    wire.ask(kind="undo")
    assert w.saved == {"count": 3, "last": {**last, "undone": True}}  # back to the earlier tie
    w.set_state({"saved": {"count": 0, "last": None}})  # a late front-end echo never wins
    assert w.saved["count"] == 3 and seen == [1, 2, 3]
