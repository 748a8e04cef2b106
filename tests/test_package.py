"""The package itself: its public names, one version source, and a fast import."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

import hl_notebook as hl
from conftest import ROOT


def test_every_public_name_resolves_and_is_documented():
    for name in hl.__all__:
        value = getattr(hl, name)
        if callable(value) and not name.startswith("_"):
            assert value.__doc__, f"hl.{name} has no docstring"
    assert set(hl.__all__) <= set(dir(hl))


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
