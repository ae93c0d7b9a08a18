"""The package's shape, checked from the source: imports flow one way, no private names cross a
package boundary, and no module grows past ~400 lines without saying why at its top."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "platform" / "egodistill"
MAX_LINES = 400
LONG_REASON = "Why this module is long:"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _unit(module: str) -> str:
    """The sub-package (or top-level module) a module belongs to: ``egodistill.student.driver`` -> ``student``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path, module: str) -> list[tuple[str, list[str]]]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = module.split(".")[: -node.level] if path.name != "__init__.py" else module.split(".")[: len(module.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
    return [(t, names) for t, names in found if t == "egodistill" or t.startswith("egodistill.")]


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        src = _unit(module)
        for target, names in _imports(path, module):
            dsts = [_unit(target)] if target != "egodistill" else [n for n in names]
            for dst in dsts:
                if dst and src and dst != src:
                    graph.setdefault(src, set()).add(dst)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_between_sub_packages():
    cycles = _cycles(_graph())
    assert not cycles, f"sub-packages that import each other: {cycles}"


def test_no_private_name_crosses_a_package():
    bad = []
    for module, path in _modules().items():
        for target, names in _imports(path, module):
            if _unit(target) != _unit(module):
                bad += [f"{module} imports {target}.{n}" for n in names if n.startswith("_") and n != "__version__"]
    assert not bad, bad


def test_modules_stay_small_or_say_why():
    long = []
    for module, path in _modules().items():
        text = path.read_text()
        n = text.count("\n")
        doc = ast.get_docstring(ast.parse(text)) or ""
        if n > MAX_LINES and LONG_REASON not in doc:
            long.append(f"{module}: {n} lines")
    assert not long, f"modules over {MAX_LINES} lines without '{LONG_REASON}' in their docstring: {long}"
