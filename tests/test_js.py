"""The front end's own unit tests (vitest), run as part of the one test command."""

from __future__ import annotations

import shutil
import subprocess

from conftest import ROOT


def test_front_end_unit_tests_pass():
    npx = shutil.which("npx")
    assert npx, "node and npm are needed for the front-end tests; install them (see README)"
    assert (ROOT / "js" / "node_modules").is_dir(), "run `cd js && npm ci` first (bash .ci/install does)"
    done = subprocess.run(
        [npx, "vitest", "run", "--reporter=dot"], cwd=ROOT / "js", capture_output=True, text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert " passed" in done.stdout
