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
from ._store.default import configure, default_store, feedback, log
from ._store.store import Store, StoreError, UnknownLogError

#: public name -> the private module that defines it
_LAZY = {
    "datasets": ".datasets",
    # -- annotation widgets --
    "agreement": "._learn.agreement",
    "Annotator": "._widgets.annotator",
    "annotate": "._widgets.annotator",
    "Comparer": "._widgets.comparer",
    "compare": "._widgets.comparer",
    "pair_up": "._widgets.comparer",
    # -- generation --
    "BatchRun": "._generate.batch",
    "GenerationError": "._generate.run",
    "generate": "._generate.generate",
    "PRICES": "._generate.prices",
    "set_price": "._generate.prices",
    # -- the local model --
    "local_client": "._local.server",
    # -- preference model, evaluation and plots --
    "evaluate": "._learn.evaluate",
    "rank_versions": "._learn.evaluate",
    "pairs_from_feedback": "._learn.pairs",
    "plot_calibration": "._learn.plots",
    "plot_improvement": "._learn.plots",
    "plot_learning_curve": "._learn.plots",
    "label_budget": "._learn.ppi",
    "ppi_mean": "._learn.ppi",
    "ppi_mean_diff": "._learn.ppi",
    "PreferenceModel": "._learn.model",
    "cross_validate": "._learn.crossval",
    "score_report": "._learn.crossval",
    # -- fine-tuning --
    "ExportReport": "._finetune.export",
    "to_hf": "._finetune.export",
    "to_openai": "._finetune.export",
    "FineTuneError": "._finetune.jobs",
    "FineTuneJob": "._finetune.jobs",
    "finetune": "._finetune.jobs",
    "ValidationReport": "._finetune.validate",
    "validate_finetune_file": "._finetune.validate",
}

if TYPE_CHECKING:  # what type checkers and IDEs see
    from . import datasets
    from ._finetune.export import ExportReport, to_hf, to_openai
    from ._finetune.jobs import FineTuneError, FineTuneJob, finetune
    from ._finetune.validate import ValidationReport, validate_finetune_file
    from ._generate.batch import BatchRun
    from ._generate.generate import generate
    from ._generate.prices import PRICES, set_price
    from ._generate.run import GenerationError
    from ._learn.agreement import agreement
    from ._learn.crossval import cross_validate, score_report
    from ._learn.evaluate import evaluate, rank_versions
    from ._learn.model import PreferenceModel
    from ._learn.pairs import pairs_from_feedback
    from ._learn.plots import plot_calibration, plot_improvement, plot_learning_curve
    from ._learn.ppi import label_budget, ppi_mean, ppi_mean_diff
    from ._local.server import local_client
    from ._widgets.annotator import Annotator, annotate
    from ._widgets.comparer import Comparer, compare, pair_up


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
