"""A real Jupyter server and a real Chromium for the browser tests (session-scoped, shared).

One ``jupyter lab`` server serves both JupyterLab 4 (``/lab``) and Notebook 7 (``/notebooks``);
one headless Debian Chromium (never ``playwright install``) is reused by every test. When Chromium
is missing the browser tests skip, unless ``HL_REQUIRE_BROWSER=1`` (CI), where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("HL_CHROMIUM", "/usr/bin/chromium")
TOKEN = "hl-browser-tests"


def _find_chromium() -> str | None:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    # an explicit HL_CHROMIUM is used as given; otherwise look on PATH too
    return None if "HL_CHROMIUM" in os.environ else shutil.which("chromium")


def require_browser() -> str:
    """The Chromium path, or skip (fail under HL_REQUIRE_BROWSER=1) when it is missing."""
    found = _find_chromium()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        found = None
    if not found:
        msg = (
            f"Chromium not found at {CHROMIUM} (or Playwright missing): install Debian's chromium "
            "(apt-get install chromium); never `playwright install`."
        )
        if os.environ.get("HL_REQUIRE_BROWSER") == "1":
            pytest.fail(msg + " HL_REQUIRE_BROWSER=1, so this fails instead of skipping.")
        pytest.skip(msg)
    return found


def require_browser_path() -> str:
    """The Chromium path for scripts (benchmarks): exits with the install hint when missing."""
    found = _find_chromium()
    if not found:
        raise SystemExit(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    return found


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def notebook_json(cells: list[str]) -> dict:
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
             "outputs": [], "source": src}
            for i, src in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@dataclass
class JupyterServer:
    port: int
    root: Path
    proc: subprocess.Popen

    def api(self, path: str, method: str = "GET", body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
            headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=20) as r:
            text = r.read()
        return json.loads(text) if text else None

    def write_notebook(self, name: str, cells: list[str]) -> str:
        (self.root / name).write_text(json.dumps(notebook_json(cells), indent=1))
        return name

    def url(self, name: str, app: str) -> str:
        if app == "lab":
            return f"http://127.0.0.1:{self.port}/lab/tree/{name}?reset&token={TOKEN}"
        return f"http://127.0.0.1:{self.port}/notebooks/{name}?token={TOKEN}"

    def set_theme(self, theme: str) -> None:
        """'JupyterLab Light' or 'JupyterLab Dark', for Lab and Notebook 7 alike."""
        raw = json.dumps({"theme": theme})
        self.api("/lab/api/settings/@jupyterlab/apputils-extension:themes", "PUT", {"raw": raw})

    def session_for(self, name: str) -> dict | None:
        for s in self.api("/api/sessions"):
            if s["path"].endswith(name):
                return s
        return None

    def wait_idle(self, name: str, timeout: float = 90) -> dict:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            try:
                s = self.session_for(name)
                if s and s["kernel"]["execution_state"] == "idle":
                    return s
            except Exception:  # noqa: BLE001 - server still busy
                pass
            time.sleep(0.2)
        raise TimeoutError(f"the kernel of {name} never became idle")

    def restart_kernel(self, name: str) -> None:
        s = self.session_for(name)
        assert s is not None, f"no session for {name}"
        self.api(f"/api/kernels/{s['kernel']['id']}/restart", "POST", {})
        time.sleep(1.0)
        self.wait_idle(name)


def start_server(tmp: Path) -> JupyterServer:
    root = tmp / "root"
    iso = tmp / "home"
    root.mkdir(parents=True)
    (iso / "config" / "labconfig").mkdir(parents=True)
    (iso / "config" / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(iso / "config"), JUPYTER_DATA_DIR=str(iso / "data"),
        JUPYTER_RUNTIME_DIR=str(iso / "runtime"), IPYTHONDIR=str(iso / "ipython"),
        JUPYTER_PLATFORM_DIRS="1", PYTHONUNBUFFERED="1",
    )
    env.pop("HL_STORE", None)
    port = free_port()
    cmd = [
        str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
        f"--LabApp.workspaces_dir={iso / 'workspaces'}",
        f"--LabApp.user_settings_dir={iso / 'settings'}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / "jupyter-server.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    server = JupyterServer(port=port, root=root, proc=proc)
    t0 = time.monotonic()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter server exited; see {ARTIFACTS / 'jupyter-server.log'}")
        try:
            server.api("/api/status")
            break
        except Exception:  # noqa: BLE001
            time.sleep(0.2)
        if time.monotonic() - t0 > 120:
            proc.terminate()
            raise RuntimeError("jupyter server did not start in 120 s")
    return server


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return require_browser()


@pytest.fixture(scope="session")
def jupyter(chromium_path, tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("jupyter"))
    try:
        yield server
    finally:
        server.proc.terminate()
        try:
            server.proc.wait(15)
        except subprocess.TimeoutExpired:
            server.proc.kill()


CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def launch_chromium(pw, chromium_path: str):
    """Debian's Chromium, headless, with a fresh profile and no background networking."""
    return pw.chromium.launch_persistent_context(
        tempfile.mkdtemp(prefix="hl-chromium-"), executable_path=chromium_path, headless=True,
        args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900},
    )


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = launch_chromium(pw, chromium_path)
        try:
            yield ctx
        finally:
            ctx.close()


def open_notebook(
    browser, server: JupyterServer, name: str, app: str, *, run: bool = True,
    console: list[str] | None = None,
):
    """Open a notebook, wait for its kernel, and run all cells the way a user does.

    ``run=False`` leaves the cells unrun; ``console`` collects the page's console messages.
    """
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    if console is not None:
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.goto(server.url(name, app))
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=90_000)
    server.wait_idle(name)
    if run:
        run_all(page)
    return page, errors


def run_all(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def run_cell(page, idx: int):
    """Select cell ``idx`` in command mode (a click on its prompt) and run it with Shift+Enter."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(idx)
    cell.locator(".jp-InputPrompt").first.click()
    page.keyboard.press("Shift+Enter")
    return cell


def focused_in(page, selector: str) -> bool:
    """Whether the page's focused element is inside ``selector``."""
    return page.evaluate("s => Boolean(document.activeElement?.closest(s))", selector)


def cell_types(page) -> list[str]:
    """Each notebook cell's type as the page shows it: 'code', 'markdown' or 'raw'."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].map(c =>
            c.classList.contains('jp-CodeCell') ? 'code'
            : c.classList.contains('jp-MarkdownCell') ? 'markdown' : 'raw')"""
    )


def kernel_json(page, idx: int, marker: str, timeout: float = 60_000):
    """Run cell ``idx`` (which prints ``marker`` + JSON) and parse what the kernel printed."""
    from playwright.sync_api import expect

    cell = run_cell(page, idx)
    out = cell.locator(".jp-OutputArea-output").last
    expect(out).to_contain_text(marker, timeout=timeout)
    text = out.inner_text()
    return json.loads(text.split(marker, 1)[1].strip().splitlines()[0])
