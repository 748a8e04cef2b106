"""A real marimo server for the browser tests: ``marimo run`` on a notebook file the test writes.

The server listens on a free port of 127.0.0.1 without a token, with a temporary HOME and XDG
folders (no user config is read, nothing is written outside the test's folder) and no update
check. Chromium comes from `jupyter_harness` (the same launch as the Jupyter tests). When marimo
is missing the tests skip, unless ``HL_REQUIRE_BROWSER=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from jupyter_harness import ARTIFACTS, free_port


def require_marimo() -> None:
    """Skip (fail under HL_REQUIRE_BROWSER=1) when marimo is not installed."""
    try:
        import marimo  # noqa: F401
    except ImportError:
        msg = 'marimo is not installed: pip install -e ".[dev]" installs it.'
        if os.environ.get("HL_REQUIRE_BROWSER") == "1":
            pytest.fail(msg + " HL_REQUIRE_BROWSER=1, so this fails instead of skipping.")
        pytest.skip(msg)


def notebook_source(cells: list[str]) -> str:
    """A marimo notebook file: one ``@app.cell`` per source (marimo infers what each uses)."""
    parts = ["import marimo\n\napp = marimo.App()\n"]
    for src in cells:
        body = textwrap.indent(textwrap.dedent(src).strip() + "\nreturn\n", "    ")
        parts.append(f"\n@app.cell\ndef _():\n{body}")
    parts.append('\n\nif __name__ == "__main__":\n    app.run()\n')
    return "".join(parts)


@dataclass
class MarimoServer:
    port: int
    notebook: Path
    proc: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def start_marimo(tmp: Path, cells: list[str], name: str = "notebook.py") -> MarimoServer:
    """Write the notebook under ``tmp`` and serve it with ``marimo run`` until /health answers."""
    home = tmp / "home"
    work = home / "work"  # under HOME: marimo's search for a .marimo.toml stops at HOME
    (home / ".config" / "marimo").mkdir(parents=True)
    (home / ".config" / "marimo" / "marimo.toml").write_text("")
    work.mkdir()
    notebook = work / name
    notebook.write_text(notebook_source(cells))
    env = dict(os.environ)
    env.update(
        HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"), XDG_STATE_HOME=str(home / ".local" / "state"),
        MARIMO_SKIP_UPDATE_CHECK="1", PYTHONUNBUFFERED="1",
    )
    env.pop("HL_STORE", None)
    port = free_port()
    cmd = [
        sys.executable, "-m", "marimo", "run", str(notebook), "--headless", "--no-token",
        "--host", "127.0.0.1", "--port", str(port), "--no-sandbox",
    ]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / "marimo-server.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    server = MarimoServer(port=port, notebook=notebook, proc=proc)
    t0 = time.monotonic()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"marimo exited; see {ARTIFACTS / 'marimo-server.log'}")
        try:
            with urllib.request.urlopen(f"{server.url}health", timeout=5) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
        if time.monotonic() - t0 > 60:
            server.stop()
            raise RuntimeError("marimo did not answer /health in 60 s")


def open_app(browser, server: MarimoServer):
    """Open the app page; returns the page, its page errors and every URL it requested."""
    page = browser.new_page()
    errors: list[str] = []
    requested: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requested.append(r.url))
    page.goto(server.url)
    return page, errors, requested


def off_machine(urls: list[str]) -> list[str]:
    """The requested URLs that left this machine (anything but 127.0.0.1, data: and blob:)."""
    out = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob"):
            continue
        if parts.hostname not in ("127.0.0.1", "localhost"):
            out.append(url)
    return out
