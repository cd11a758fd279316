"""The package's layers import only downward, and no two modules import each other.

Every `import prove...` and `from prove... import ...` of every module is read from its
source (module level, inside functions, under TYPE_CHECKING: all of them), so an upward
import cannot hide in a function body. docs/architecture.md explains the floors.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "prove"

# Bottom to top. A module may import modules of its own floor or below, never above.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("prove", "prove.errors", "prove.registry", "prove.settings", "prove.files", "prove.progress"),  # core
    ("prove.compat",),  # mmseg/mmengine on current torch
    ("prove.data",),  # registries, in the order they use each other ...
    ("prove.generators",),
    ("prove.models", "prove.strategies"),
    ("prove.spec", "prove.studies"),  # ... then the validated request and the designs it belongs to
    ("prove.tracking",),  # the store
    ("prove.training",),  # the verbs that write runs
    ("prove.evaluation", "prove.quality"),
    ("prove.sweeps",),  # the verbs built on them
    ("prove.analysis",),
    ("prove.demo", "prove.cli"),  # entry points
)
MAX_TOP_LEVEL_MODULES = 10


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def floor_of(module: str) -> int:
    best, floor = -1, None
    for index, prefixes in enumerate(FLOORS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, floor = len(prefix), index
    assert floor is not None, f"{module} is on no floor of tests/test_layers.py"
    return floor


def imports_of(module: str) -> set[str]:
    """The prove modules `module` imports (a package counts as its __init__)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        found |= {n for n in names if n == "prove" or n.startswith("prove.")}
    return found - {module}


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_import_names_a_module_that_exists():
    missing = sorted(f"{m} imports {t}" for m, targets in GRAPH.items() for t in targets if t not in MODULES)
    assert not missing, "\n".join(missing)


def test_no_module_imports_a_higher_floor():
    upward = sorted(f"{m} (floor {floor_of(m)}) imports {t} (floor {floor_of(t)})"
                    for m, targets in GRAPH.items() for t in targets if floor_of(t) > floor_of(m))
    assert not upward, "upward imports:\n" + "\n".join(upward)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    cycles = _cycles(GRAPH)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_cycles():
    """The check above cannot pass vacuously: a made-up cycle is found."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_top_level_stays_small():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.count(".") >= 1))
def test_every_module_is_on_a_floor(module):
    floor_of(module)
