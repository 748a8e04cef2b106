"""The package itself: its public names, one version source, and a fast import."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

import pytest
from conftest import ROOT

import hl_notebook as hl


def test_every_public_name_resolves_and_is_documented():
    for name in hl.__all__:
        value = getattr(hl, name)
        if callable(value) and not name.startswith("_"):
            assert value.__doc__, f"hl.{name} has no docstring"
    assert set(hl.__all__) <= set(dir(hl))


def test_tab_completion_lists_the_public_api_only():
    # dir() drives Jupyter's completion: the package's own imports must not show up there
    assert sorted(dir(hl)) == sorted(hl.__all__)
    assert {"Any", "importlib", "TYPE_CHECKING", "annotations"}.isdisjoint(dir(hl))
    assert dir(hl.datasets) == ["attribution", "list_samples", "load_sample"]


def test_unknown_attribute_is_an_attribute_error():
    try:
        hl.annotat  # noqa: B018
    except AttributeError as exc:
        assert "has no attribute 'annotat'" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_version_has_one_source_shared_with_the_front_end():
    assert hl.__version__ == version("hl_notebook")
    package_json = json.loads((ROOT / "js" / "package.json").read_text())
    assert package_json["version"] == hl.__version__


def test_import_loads_no_heavy_dependency_until_used():
    code = (
        "import sys, hl_notebook as hl; "
        "heavy = [m for m in ('sklearn', 'openai', 'matplotlib', 'anywidget') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_wheel_ships_the_bundles_data_and_imports_in_a_clean_environment(tmp_path):
    """Build the wheel as a user's pip would, install it into an empty venv, import it there."""
    import shutil
    import zipfile

    uv = shutil.which("uv", path=str(ROOT / ".venv" / "bin")) or shutil.which("uv")
    assert uv, "uv is installed by .ci/install; run it first"
    dist = tmp_path / "dist"
    subprocess.run([uv, "build", "--wheel", "--out-dir", str(dist), str(ROOT)], check=True,
                   capture_output=True, timeout=600)
    (wheel,) = dist.glob("hl_notebook-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in ("hl_notebook/static/widget.js", "hl_notebook/static/widget.css",
                    "hl_notebook/py.typed", "hl_notebook/data/hh_harmless.jsonl.gz",
                    "hl_notebook/data/pandalm.jsonl.gz", "hl_notebook/data/ATTRIBUTION.md"):
        assert shipped in names, f"{shipped} is missing from the wheel"
    assert not any(n.startswith(("tests/", "js/", "benchmarks/")) for n in names)
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--python", sys.executable, str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "--python", str(python), str(wheel)], check=True,
                   capture_output=True, timeout=900)
    code = (
        "import hl_notebook as hl; s = hl.Store(':memory:'); "
        "i = s.log(prompt='p', completion='c'); s.feedback(i, label='👍'); "
        "w = hl.annotate(hl.datasets.load_sample('hh_harmless').drop(columns='label')); "
        "print(hl.__version__, len(w._esm) > 10000, s.to_pandas().label[0])"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == [hl.__version__, "True", "👍"]


def test_code_passes_the_linter():
    ruff = ROOT / ".venv" / "bin" / "ruff"
    out = subprocess.run(
        [str(ruff) if ruff.exists() else "ruff", "check", "hl_notebook", "tests", "benchmarks"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stdout[-3000:]


@pytest.mark.slow
def test_package_passes_the_type_checker():
    # mypy with pyproject's [tool.mypy] (the package, Python 3.10 semantics, the pandas and scipy
    # stubs of the dev extra); its cache is .mypy_cache, gitignored, so a second run takes seconds
    out = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert "Success: no issues found" in out.stdout
