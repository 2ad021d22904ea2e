"""The shape of the code: a family is one folder, shared code names no family, imports form no cycle
and happen at module level. These read the source (ast), so they hold for code no test runs."""

from __future__ import annotations

import ast
from pathlib import Path

import longsynth
from longsynth.generators.registry import BUILT_IN, REGISTRY

PACKAGE = Path(longsynth.__file__).parent
FAMILY_FOLDERS = {f"longsynth.generators.{name}" for name in BUILT_IN}
# The one place that lists the built-in families, and the default generator of a spec.
ALLOWED_NAMES = {"longsynth.generators.registry", "longsynth.spec"}
# `longsynth export ruler` names RULER's jsonl layout (for RULER's own scripts), not the ruler family.
EXPORT_NAMES = {("longsynth.cli", "ruler")}


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text(), str(path))
    return out


MODULES = _modules()


def _package_of(module: str, tree_is_package: bool) -> str:
    return module if tree_is_package else module.rpartition(".")[0]


def _absolute(module: str, node: ast.ImportFrom) -> list[str]:
    is_package = (PACKAGE.parent / Path(*module.split(".")) / "__init__.py").exists()
    base = _package_of(module, is_package)
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    target = node.module or ""
    if node.level:
        target = f"{base}.{target}" if target else base
    found = []
    for alias in node.names:  # `from . import x` may import a submodule
        candidate = f"{target}.{alias.name}"
        found.append(candidate if candidate in MODULES else target)
    return found


def _top_level_imports(module: str, tree: ast.Module) -> set[str]:
    """longsynth modules imported at run time by module-level code (not under `if TYPE_CHECKING:`)."""
    imported: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if isinstance(sub, ast.ImportFrom):
                imported.update(t for t in _absolute(module, sub) if t.startswith("longsynth"))
            elif isinstance(sub, ast.Import):
                imported.update(a.name for a in sub.names if a.name.startswith("longsynth"))
    return {i for i in imported if i in MODULES}


def _family_of(module: str) -> str | None:
    return next((f for f in FAMILY_FOLDERS if module == f or module.startswith(f + ".")), None)


def test_no_longsynth_import_inside_a_function():
    offenders = []
    for module, tree in MODULES.items():
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("longsynth")):
                    offenders.append(f"{module}.{func.name}")
                elif isinstance(node, ast.Import) and any(a.name.startswith("longsynth") for a in node.names):
                    offenders.append(f"{module}.{func.name}")
    assert offenders == []


def test_no_import_cycles():
    graph = {m: _top_level_imports(m, tree) - {m} for m, tree in MODULES.items()}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_shared_code_imports_no_family():
    offenders = []
    for module, tree in MODULES.items():
        if _family_of(module):
            continue
        for imported in _top_level_imports(module, tree):
            if _family_of(imported):
                offenders.append(f"{module} -> {imported}")
    assert offenders == []


def test_a_family_imports_no_other_family():
    """...except the families it declares it builds on (`Generator.builds_on`)."""
    offenders = []
    for module, tree in MODULES.items():
        own = _family_of(module)
        allowed = (
            {f"longsynth.generators.{name}" for name in REGISTRY.get(own.rsplit(".", 1)[1]).builds_on} if own else set()
        )
        for imported in _top_level_imports(module, tree):
            other = _family_of(imported)
            if own and other and other != own and other not in allowed:
                offenders.append(f"{module} -> {imported}")
    assert offenders == []


def test_shared_code_names_no_task_and_no_family():
    """No string in shared code (docstrings aside) is a task name, a task-name prefix or a family name."""
    tasks = {task for cls in REGISTRY.all().values() for task in cls.tasks}
    prefixes = {task.split("_")[0] + "_" for task in tasks}
    offenders = []
    for module, tree in MODULES.items():
        if _family_of(module) or module in ALLOWED_NAMES:
            continue
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and ast.get_docstring(node) is not None
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                text = node.value
                if (module, text) in EXPORT_NAMES:
                    continue
                if text in tasks or text in prefixes or text in BUILT_IN:
                    offenders.append(f"{module}: {text!r}")
    assert offenders == []


def test_every_family_is_one_folder_with_its_templates():
    for name in BUILT_IN:
        cls = REGISTRY.get(name)
        folder = PACKAGE / "generators" / name
        assert Path(cls.__module__.replace(".", "/")).parts[:3] == ("longsynth", "generators", name)
        if cls.template_folder is not None:
            assert Path(cls.template_folder).resolve().is_relative_to(folder)
            assert any(Path(cls.template_folder).rglob("*.j2"))
