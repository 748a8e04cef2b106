"""hl_notebook: make LLM outputs better through human feedback, without leaving the notebook.

Public names load on first use, so ``import hl_notebook`` stays fast (the store and the command line
do not pay for scikit-learn, openai or matplotlib).

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

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from ._schema import DEFAULT_LABELS, HLValueError
from ._store import Store, StoreError, UnknownLogError, configure, default_store, feedback, log

#: public name -> the private module that defines it
_LAZY = {
    "datasets": ".datasets",
    # -- annotation widgets (issue 3) --
    "agreement": "._agreement",
    "Annotator": "._annotate",
    "annotate": "._annotate",
    "Comparer": "._compare",
    "compare": "._compare",
    "pair_up": "._compare",
    # -- generation (issue 4) --
    "BatchRun": "._batch",
    "GenerationError": "._generate",
    "generate": "._generate",
    "PRICES": "._prices",
    "set_price": "._prices",
    # -- preference model, evaluation and plots (issue 5) --
    "evaluate": "._evaluate",
    "rank_versions": "._evaluate",
    "pairs_from_feedback": "._feedback_pairs",
    "plot_calibration": "._plots",
    "plot_improvement": "._plots",
    "plot_learning_curve": "._plots",
    "PreferenceModel": "._preference",
    "cross_validate": "._preference",
    "score_report": "._preference",
    # -- fine-tuning (issue 6) --
    "ExportReport": "._export",
    "to_hf": "._export",
    "to_openai": "._export",
    "FineTuneError": "._finetune",
    "FineTuneJob": "._finetune",
    "finetune": "._finetune",
    "ValidationReport": "._validate",
    "validate_finetune_file": "._validate",
}

if TYPE_CHECKING:  # what type checkers and IDEs see
    from . import datasets
    from ._agreement import agreement
    from ._annotate import Annotator, annotate
    from ._batch import BatchRun
    from ._compare import Comparer, compare, pair_up
    from ._evaluate import evaluate, rank_versions
    from ._export import ExportReport, to_hf, to_openai
    from ._feedback_pairs import pairs_from_feedback
    from ._finetune import FineTuneError, FineTuneJob, finetune
    from ._generate import GenerationError, generate
    from ._plots import plot_calibration, plot_improvement, plot_learning_curve
    from ._preference import PreferenceModel, cross_validate, score_report
    from ._prices import PRICES, set_price
    from ._validate import ValidationReport, validate_finetune_file


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hl_notebook' has no attribute {name!r}")
    loaded = importlib.import_module(module, __name__)
    value = loaded if name == "datasets" else getattr(loaded, name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    # tab completion shows the public API, not this module's own imports (Any, importlib, ...)
    return sorted(__all__)


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
    "default_store",
    "feedback",
    "log",
    *_LAZY,
]
