"""Plots on real data, drawn with the Agg backend: improvement, learning curve, calibration."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from real_data import pandalm_pairs, pandalm_rows  # noqa: E402

import hl_notebook as hl  # noqa: E402
from hl_notebook._schema import HLValueError  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _pandalm_rows() -> pd.DataFrame:
    return pandalm_rows()


def _pandalm_pairs() -> pd.DataFrame:
    """The 127 shipped PandaLM pairs with a winner, over 20 prompts."""
    return pandalm_pairs()[["prompt", "chosen", "rejected"]]


def test_plot_improvement_draws_each_model_with_its_wilson_band():
    rows = _pandalm_rows()
    ax = hl.plot_improvement(rows, by="model")
    table = hl.evaluate(rows, by="model")
    assert [t.get_text() for t in ax.get_xticklabels()] == list(table.index)
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), table["thumbs_up_rate"].to_numpy())
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(table["thumbs_up_low"].min())
    assert ax.get_ylabel() == "human thumbs-up rate"


def test_plot_improvement_uses_the_given_axes_and_order():
    fig, ax = plt.subplots()
    rows = _pandalm_rows()
    rows = rows[rows["model"].isin(["bloom-7b", "llama-7b"])]
    out = hl.plot_improvement(rows, by="model", order=["bloom-7b", "llama-7b"], ax=ax)
    assert out is ax
    assert [t.get_text() for t in ax.get_xticklabels()] == ["bloom-7b", "llama-7b"]


def test_plot_improvement_over_time_buckets_created_at():
    rows = _pandalm_rows().iloc[:200].copy()
    rows["created_at"] = pd.date_range("2026-01-01", periods=len(rows), freq="h", tz="UTC")
    ax = hl.plot_improvement(rows, by="time", freq="D")
    assert len(ax.get_xticklabels()) == rows["created_at"].dt.floor("D").nunique()


def test_plot_improvement_rejects_an_unknown_metric():
    with pytest.raises(HLValueError, match="Did you mean 'win_rate'"):
        hl.plot_improvement(_pandalm_rows(), by="model", metric="winrate")


def test_learning_curve_shows_measured_points_only_unless_asked():
    pairs = _pandalm_pairs()
    # three grouped folds of the 127 pairs train on about 85 pairs each
    ax = hl.plot_learning_curve(pairs, model=hl.PreferenceModel(calibrate=False), n_splits=3,
                                sizes=[20, 40, 80])
    table = ax.learning_curve_
    assert table["n_train"].tolist() == [20, 40, 80]
    assert table["accuracy"].between(0, 1).all()
    assert (table["ci_low"] <= table["accuracy"]).all() and (table["accuracy"] <= table["ci_high"]).all()
    xmax = max(max(line.get_xdata()) for line in ax.get_lines() if len(line.get_xdata()) > 1)
    assert xmax == 80  # nothing drawn beyond the data
    assert not any("extrapolation" in t.get_text() for t in ax.get_legend().get_texts())


def test_learning_curve_extrapolation_is_dashed_and_labelled():
    pairs = _pandalm_pairs()
    ax = hl.plot_learning_curve(pairs, model=hl.PreferenceModel(calibrate=False), n_splits=3,
                                sizes=[20, 40, 60, 80], extrapolate_to=2000)
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1
    assert dashed[0].get_xdata().max() == pytest.approx(2000)
    assert "not measured" in dashed[0].get_label()


def test_calibration_plot_for_pairs_and_labels():
    pairs = _pandalm_pairs()
    train, test = pairs.iloc[:85], pairs.iloc[85:]
    pm = hl.PreferenceModel().fit_pairs(train)
    ax = hl.plot_calibration(pm, test, None)
    assert ax.get_xlabel() == "predicted probability"
    assert "Brier" in ax.get_title()
    rows = _pandalm_rows().dropna(subset=["label"])
    pm2 = hl.PreferenceModel(calibrate=False).fit(rows.iloc[:170], rows["label"].iloc[:170])
    ax2 = hl.plot_calibration(pm2, rows.iloc[170:], rows["label"].iloc[170:])
    assert ax2.get_ylabel() == "observed frequency"


def test_plots_never_call_show(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("show() called")

    monkeypatch.setattr(plt, "show", boom)
    hl.plot_improvement(_pandalm_rows(), by="model")
