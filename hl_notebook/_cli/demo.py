"""``hl-notebook demo``: the shipped samples in a store, and a working copy of the quickstart
open in JupyterLab (the shipped notebook is only read, so the checkout stays clean)."""

from __future__ import annotations

import argparse
import ast
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .common import CLIError, open_store
from .output import say

#: The working folder's name, made beside the store unless ``--dir`` says otherwise.
DEMO_FOLDER = "hl-notebook-demo"


def add_demo(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo",
        help="load the sample data into a store and open a copy of the quickstart in JupyterLab",
        description=(
            "Put the shipped sample data (real human preferences) into a store, copy\n"
            f"examples/quickstart.ipynb into a working folder ({DEMO_FOLDER}/ beside the store) and\n"
            "open the copy in JupyterLab with HL_STORE set to that store. The shipped notebook is\n"
            "never changed. Running it again adds no data twice and reuses your copy (--fresh\n"
            "replaces it). With --no-browser it prints the URL and serves until Ctrl+C."
        ),
    )
    p.add_argument("--store", metavar="PATH", default=None,
                   help="the store to fill (default: $HL_STORE, else hl_feedback.sqlite here)")
    p.add_argument("--dir", metavar="PATH", default=None,
                   help=f"the working folder for the copy (default: {DEMO_FOLDER} beside the store)")
    p.add_argument("--fresh", action="store_true",
                   help="replace an existing copy with the shipped notebook (default: reuse it)")
    p.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    p.add_argument("--port", type=int, default=None, metavar="N", help="the port (default: a free one)")
    p.add_argument("--notebook", metavar="PATH", default=None,
                   help="the notebook to copy and open (default: examples/quickstart.ipynb)")
    p.set_defaults(func=_run_demo)


def find_notebook(given: str | None) -> Path:
    """The notebook to open: ``given``, else examples/quickstart.ipynb near here or the checkout."""
    if given is not None:
        path = Path(given).expanduser()
        if path.is_dir():
            raise CLIError(f"notebook {given!r} is a directory; pass an .ipynb file to --notebook.")
        if not path.is_file():
            raise CLIError(f"notebook {given!r} does not exist; check --notebook.")
        return path.resolve()
    candidates = [
        Path.cwd() / "examples" / "quickstart.ipynb",
        Path.cwd() / "quickstart.ipynb",
        Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb",
    ]
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise CLIError(
        "cannot find examples/quickstart.ipynb (looked in "
        + ", ".join(str(c.parent) for c in candidates)
        + "); run from the hl_notebook checkout or pass --notebook PATH."
    )


def _on_sys_path(node: ast.Call) -> bool:
    """``sys.path.insert(i, ...)`` or ``sys.path.append(...)``."""
    func = node.func
    return (
        isinstance(func, ast.Attribute) and func.attr in ("insert", "append")
        and isinstance(func.value, ast.Attribute) and func.value.attr == "path"
        and isinstance(func.value.value, ast.Name) and func.value.value.id == "sys"
    )


def companions(notebook: Path) -> list[Path]:
    """The files a copy of ``notebook`` needs beside it: the local modules it imports from folders
    it puts on ``sys.path`` (the quickstart's ``../tests/openai_server.py``).

    Examples
    --------
    >>> [p.name for p in companions(find_notebook(None))]  # doctest: +SKIP
    ['openai_server.py']
    """
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return []  # not a notebook: JupyterLab will say so when it opens it
    folders: list[str] = []
    modules: list[str] = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        code = "\n".join(
            line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _on_sys_path(node) and node.args:
                arg = node.args[-1]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    folders.append(arg.value)
            elif isinstance(node, ast.Import):
                modules += [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                modules.append(node.module.split(".")[0])
    found: list[Path] = []
    for folder in folders:
        for module in modules:
            path = (notebook.parent / folder / f"{module}.py").resolve()
            if path.is_file() and path not in found:
                found.append(path)
    return found


@dataclass(frozen=True)
class DemoCopy:
    """The working copy: where it is, what happened to it, and the files copied beside it."""

    notebook: Path
    source: Path
    status: str  # "new", "reused" or "replaced"
    copied: tuple[Path, ...] = ()

    def describe(self) -> str:
        """What the demo says about the copy (one or two lines)."""
        if self.status == "reused":
            text = (f"notebook {self.notebook} (your copy from an earlier demo, reused as it is; "
                    f"--fresh replaces it with {self.source})")
        elif self.status == "replaced":
            text = f"notebook {self.notebook} (replaced with a fresh copy of {self.source})"
        else:
            text = f"notebook {self.notebook} (a copy of {self.source}: yours to run and change)"
        if self.copied:
            text += f"\n  copied beside it: {', '.join(p.name for p in self.copied)}"
        return text


def demo_folder(given: str | None, store_path: Path) -> Path:
    """``given``, else `DEMO_FOLDER` beside the store file."""
    folder = Path(given).expanduser() if given is not None else store_path.parent / DEMO_FOLDER
    if folder.exists() and not folder.is_dir():
        raise CLIError(f"{str(folder)!r} is a file, not a folder; pass another --dir.")
    return folder.resolve()


def _copy_file(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` whole or not at all."""
    partial = target.with_name(target.name + ".partial")
    try:
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def prepare_copy(source: Path, folder: Path, *, fresh: bool = False) -> DemoCopy:
    """Put a copy of ``source`` (and its `companions`) in ``folder``; the source is only read.

    An existing copy is reused unless ``fresh``; a folder made here gets a ``.gitignore`` of
    ``*`` so a demo run inside a checkout leaves ``git status`` clean.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()) / "demo"
    >>> prepare_copy(find_notebook(None), folder).status  # doctest: +SKIP
    'new'
    """
    source = source.resolve()
    copy = folder / source.name
    if copy.resolve() == source:
        raise CLIError(
            f"the working folder {str(folder)!r} holds the notebook being copied; pass another "
            "--dir so the shipped notebook stays as it is."
        )
    if copy.is_dir():
        raise CLIError(f"{str(copy)!r} is a directory; move it aside or pass another --dir.")
    if not folder.exists():
        folder.mkdir(parents=True)
        (folder / ".gitignore").write_text(
            "# made by hl-notebook demo: a working folder, nothing here belongs in git\n*\n",
            encoding="utf-8",
        )
    if copy.exists() and not fresh:
        status = "reused"
    else:
        status = "replaced" if copy.exists() else "new"
        _copy_file(source, copy)
    copied = []
    for companion in companions(source):
        target = folder / companion.name
        if target.resolve() == companion or (target.exists() and not fresh):
            continue
        _copy_file(companion, target)
        copied.append(target)
    return DemoCopy(copy, source, status, tuple(copied))


def load_demo_data(store: Any) -> int:
    """Log the shipped samples into ``store`` with fixed ids; return how many logs were new."""
    import pandas as pd

    from .. import datasets

    before = len(store)
    hh = datasets.load_sample("hh_harmless", kind="logs")
    hh_ids = [
        f"sample-{p}-{'chosen' if lab == '👍' else 'rejected'}" for p, lab in zip(hh["pair_id"], hh["label"], strict=False)
    ]
    frames = [
        pd.DataFrame(
            {
                "log_id": hh_ids,
                "prompt": hh["prompt"],
                "completion": hh["completion"],
                "label": hh["label"],
                "annotator": "hh-rlhf crowdworker",
                "metadata": [{"sample": "hh_harmless", "pair_id": p, "source": s}
                             for p, s in zip(hh["pair_id"], hh["source"], strict=False)],
            }
        )
    ]
    pl = datasets.load_sample("pandalm", kind="logs")
    side = ["a", "b"] * (len(pl) // 2)
    frames.append(
        pd.DataFrame(
            {
                "log_id": [f"sample-{p}-{s}" for p, s in zip(pl["pair_id"], side, strict=False)],
                "prompt": pl["prompt"],
                "completion": pl["completion"],
                "model": pl["model"],
                "metadata": [{"sample": "pandalm", "pair_id": p, "source": s}
                             for p, s in zip(pl["pair_id"], pl["source"], strict=False)],
            }
        )
    )
    for frame in frames:
        store.log_many(frame, if_exists="skip", source="sample")
    return len(store) - before


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(proc: subprocess.Popen, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CLIError(f"JupyterLab exited early (code {proc.returncode}); see its messages above.")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise CLIError(f"JupyterLab did not answer within {timeout:.0f} s.")


def _run_demo(args: argparse.Namespace) -> int:
    import importlib.util

    source = find_notebook(args.notebook)
    if importlib.util.find_spec("jupyterlab") is None:
        raise CLIError('JupyterLab is not installed; pip install "hl_notebook[dev]" or jupyterlab.')
    location = args.store or os.environ.get("HL_STORE") or "hl_feedback.sqlite"
    if location == ":memory:":
        raise CLIError("the demo needs a store file that the notebook's kernel can open too; "
                       "pass --store PATH (or unset HL_STORE).")
    folder = demo_folder(args.dir, Path(location).expanduser().resolve())
    store = open_store(location)
    try:
        added = load_demo_data(store)
        total = len(store)
        store_path = Path(store.path)
    finally:
        store.close()
    say(f"store {store_path}: {total} logs ({added} new from the shipped samples)")
    copy = prepare_copy(source, folder, fresh=args.fresh)
    say(copy.describe())
    port = args.port or _free_port()
    token = secrets.token_hex(24)
    root = copy.notebook.parent
    env = {**os.environ, "HL_STORE": str(store_path)}
    command = [
        sys.executable, "-m", "jupyterlab",
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        "--log-level=WARN",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers often run as root
        command.append("--allow-root")
    if args.no_browser:
        command.append("--no-browser")
    command.append(copy.notebook.name)
    proc = subprocess.Popen(command, env=env, cwd=root)

    def _stop(signum: int, frame: Any) -> None:  # SIGTERM: stop JupyterLab too, then exit
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, f"{base}/api/status?token={token}", timeout=120)
        say(f"JupyterLab is serving {copy.notebook}")
        say(f"URL: {base}/lab/tree/{quote(copy.notebook.name)}?token={token}")
        say("Press Ctrl+C to stop.")
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
