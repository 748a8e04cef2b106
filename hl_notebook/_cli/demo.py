"""``hl-notebook demo``: the shipped samples in a store, and the quickstart open in JupyterLab."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .common import CLIError, open_store


def add_demo(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo",
        help="load the sample data into a store and open the quickstart notebook in JupyterLab",
        description=(
            "Put the shipped sample data (real human preferences) into a store, then open\n"
            "examples/quickstart.ipynb in JupyterLab with HL_STORE set to that store. Running it\n"
            "again adds nothing twice. With --no-browser it prints the URL and serves until Ctrl+C."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--store", metavar="PATH", default=None,
                   help="the store to fill (default: $HL_STORE, else hl_feedback.sqlite here)")
    p.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    p.add_argument("--port", type=int, default=None, metavar="N", help="the port (default: a free one)")
    p.add_argument("--notebook", metavar="PATH", default=None,
                   help="the notebook to open (default: examples/quickstart.ipynb)")
    p.set_defaults(func=_run_demo)


def find_notebook(given: str | None) -> Path:
    """The notebook to open: ``given``, else examples/quickstart.ipynb near here or the checkout."""
    if given is not None:
        path = Path(given).expanduser()
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

    notebook = find_notebook(args.notebook)
    if importlib.util.find_spec("jupyterlab") is None:
        raise CLIError('JupyterLab is not installed; pip install "hl_notebook[dev]" or jupyterlab.')
    location = args.store or os.environ.get("HL_STORE") or "hl_feedback.sqlite"
    store = open_store(location)
    try:
        added = load_demo_data(store)
        total = len(store)
        path = str(store.path)
    finally:
        store.close()
    print(f"store {path}: {total} logs ({added} new from the shipped samples)", flush=True)
    port = args.port or _free_port()
    token = secrets.token_hex(24)
    root = notebook.parent
    env = {**os.environ, "HL_STORE": path}
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
    command.append(notebook.name)
    proc = subprocess.Popen(command, env=env, cwd=root)

    def _stop(signum: int, frame: Any) -> None:  # SIGTERM: stop JupyterLab too, then exit
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, f"{base}/api/status?token={token}", timeout=120)
        print(f"JupyterLab is serving {notebook}", flush=True)
        print(f"URL: {base}/lab/tree/{notebook.name}?token={token}", flush=True)
        print("Press Ctrl+C to stop.", flush=True)
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
