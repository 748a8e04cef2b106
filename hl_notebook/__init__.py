"""hl_notebook: make LLM outputs better through human feedback, without leaving the notebook.

Examples
--------
>>> import hl_notebook as hl
>>> _ = hl.configure(store=":memory:")
>>> log_id = hl.log(prompt="Equation of gravity", completion="F = G m1 m2 / r^2")
>>> _ = hl.feedback(log_id, label="👍")
>>> hl.default_store().to_pandas()["label"].tolist()
['👍']
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import datasets
from ._schema import DEFAULT_LABELS, HLValueError
from ._store import Store, StoreError, UnknownLogError, configure, default_store, feedback, log

# -- annotation widgets (issue 3) --
from ._agreement import agreement
from ._annotate import Annotator, annotate
from ._compare import Comparer, compare, pair_up
# -- generation (issue 4) --
from ._batch import BatchRun
from ._generate import GenerationError, generate
from ._prices import PRICES, set_price
# -- preference model, evaluation and plots (issue 5) --
from ._evaluate import evaluate, rank_versions
from ._feedback_pairs import pairs_from_feedback
from ._plots import plot_calibration, plot_improvement, plot_learning_curve
from ._preference import PreferenceModel, cross_validate, score_report
# -- fine-tuning (issue 6) --
from ._export import ExportReport, to_hf, to_openai
from ._finetune import FineTuneError, FineTuneJob, finetune
from ._validate import ValidationReport, validate_finetune_file

try:
    __version__ = version("hl_notebook")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = [
    "DEFAULT_LABELS",
    "HLValueError",
    "Store",
    "StoreError",
    "UnknownLogError",
    "__version__",
    "configure",
    "datasets",
    "default_store",
    "feedback",
    "log",
    # -- annotation widgets (issue 3) --
    "Annotator",
    "agreement",
    "Comparer",
    "annotate",
    "compare",
    "pair_up",
    # -- generation (issue 4) --
    "BatchRun",
    "GenerationError",
    "PRICES",
    "generate",
    "set_price",
    # -- preference model, evaluation and plots (issue 5) --
    "PreferenceModel",
    "cross_validate",
    "evaluate",
    "pairs_from_feedback",
    "plot_calibration",
    "plot_improvement",
    "plot_learning_curve",
    "rank_versions",
    "score_report",
    # -- fine-tuning (issue 6) --
    "ExportReport",
    "FineTuneError",
    "FineTuneJob",
    "ValidationReport",
    "finetune",
    "to_hf",
    "to_openai",
    "validate_finetune_file",
]
