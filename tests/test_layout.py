"""The package's layout: imports run one way, from the command line and widgets down to the
column contract, with no cycle anywhere (function-level imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hl_notebook"

#: Each part of the package and its layer: a module may import from its own part or a lower layer.
LAYERS = {
    "_schema": 0,  # the column contract and validation helpers
    "_client": 1,  # the openai SDK at the edge
    "datasets": 1,  # the shipped samples
    "_store": 1,
    "_local": 2,  # the local model and its OpenAI-compatible server (imports _schema, _client, _store)
    "_generate": 2,
    "_learn": 3,
    "_finetune": 4,
    "_widgets": 5,
    "_cli": 6,
    "__init__": 7,  # the public API
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every hl_notebook module ``path`` imports, anywhere in the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("hl_notebook"):
                continue
            for alias in node.names:  # `from . import x` imports the module x
                candidate = f"{target}.{alias.name}"
                out.add(candidate if _exists(candidate) else target)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("hl_notebook"))
    out.discard(name)
    return out


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def _graph() -> dict[str, set[str]]:
    files = [p for p in PACKAGE.rglob("*.py") if "static" not in p.parts]
    return {_module_name(p): _imports(p) for p in files}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_part_of_the_package_has_a_layer():
    parts = {_part(m) for m in _graph()}
    assert parts <= set(LAYERS), f"new top-level parts need a layer in LAYERS: {parts - set(LAYERS)}"


def test_imports_never_reach_up_a_layer():
    wrong = []
    for module, targets in _graph().items():
        for target in targets:
            if _part(target) != _part(module) and LAYERS[_part(target)] >= LAYERS[_part(module)]:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports that reach up or sideways:\n" + "\n".join(sorted(wrong))


def test_there_is_no_import_cycle():
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("folder", ["_store", "_generate", "_local", "_learn", "_finetune",
                                    "_widgets", "_cli"])
def test_each_subpackage_says_what_it_holds(folder):
    doc = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text(encoding="utf-8")))
    assert doc and len(doc) > 30


def test_the_product_does_not_talk_about_the_projects_own_process():
    import re

    pattern = re.compile(r"\(issue \d+\)|\bissue \d+\b|the [\w-]+ issue\b|\bstop \d+\b", re.IGNORECASE)
    hits = []
    roots = [PACKAGE, PACKAGE.parent / "README.md", PACKAGE.parent / "examples", PACKAGE.parent / "js" / "src"]
    for root in roots:
        paths = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in paths:
            if "static" in path.parts or path.suffix not in (".py", ".md", ".ipynb", ".js", ".css"):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    hits.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()[:100]}")
    assert not hits, "\n".join(hits)
