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


# --- The doors: each surface someone else's input reaches has one module that checks it, and no other
# module goes around it (a guard one command remembers and the next forgets is the bug this catches).
# Writes: `files` (atomic writes), `outputs` (what run/score/report/export write under OUT); the build's
# shard writer and the cache's index builders fill temporaries that `files` made and renames.
WRITERS = {
    "longsynth.files",
    "longsynth.outputs",
    "longsynth.export.writer",
    "longsynth.cache",
    "longsynth.generators.nextlong.retrieval",
    "longsynth.generators.nextlong.bm25",
}
WRITE_CALLS = {"write_text", "write_bytes", "write_parquet", "write_csv", "OSFile", "savefig"}


def _calls(tree: ast.Module):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            yield node, name, ast.unparse(func)


def _opens_for_writing(node: ast.Call, name: str, full: str) -> bool:
    if full == "open" and len(node.args) > 1:
        mode = node.args[1]
        return isinstance(mode, ast.Constant) and any(c in str(mode.value) for c in "wax+")
    if full == "os.open":
        return any(flag in ast.unparse(node) for flag in ("O_WRONLY", "O_RDWR", "O_CREAT"))
    return False


def test_files_are_written_only_through_the_write_doors():
    offenders = []
    for module, tree in MODULES.items():
        if module in WRITERS:
            continue
        for node, name, full in _calls(tree):
            to_memory = ast.unparse(node.args[0]) in ("buffer", "drawn") if node.args else False
            if (name in WRITE_CALLS and not to_memory) or _opens_for_writing(node, name, full):
                offenders.append(f"{module}: {ast.unparse(node)[:80]}")
    assert offenders == []


def test_parquet_is_read_only_by_literal_path():
    """polars expands a path as a glob pattern unless told not to: `files.read_parquet_file` is the one
    reader (a folder named `o[1]` stopped reading, `ds*` read other folders' rows)."""
    offenders = [
        f"{module}: {full}"
        for module, tree in MODULES.items()
        if module != "longsynth.files"
        for _, name, full in _calls(tree)
        if name in ("read_parquet", "scan_parquet", "read_parquet_schema")
    ]
    assert offenders == []


def test_built_folders_are_read_only_through_the_dataset_door():
    """Every command that reads a build opens it with `dataset.open_dataset`: no other module reads a
    manifest, globs a task folder for shards, or checks a folder's files on its own."""
    allowed = {"longsynth.dataset", "longsynth.export.manifest", "longsynth.export.writer", "longsynth.cli",
               "longsynth.outputs"}  # fmt: skip
    offenders = [
        f"{module}: {full}"
        for module, tree in MODULES.items()
        if module not in allowed
        for _, name, full in _calls(tree)
        if name in ("read_manifest", "file_problems")
    ]
    assert offenders == []


def test_templates_render_only_in_the_one_sandbox():
    offenders = [
        f"{module}: {full}"
        for module, tree in MODULES.items()
        if module != "longsynth.templating"
        for _, name, full in _calls(tree)
        if name.endswith("Environment") or name in ("from_string", "Template")
    ]
    assert offenders == []


def test_http_only_in_the_reply_door():
    offenders = [
        f"{module}: imports httpx"
        for module, tree in MODULES.items()
        if module != "longsynth.eval.reply"
        for node in ast.walk(tree)
        if (isinstance(node, ast.Import) and any(a.name.split(".")[0] in ("httpx", "requests", "urllib3")
                                                 for a in node.names))
        or (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("httpx", "requests"))
    ]  # fmt: skip
    assert offenders == []


def test_hugging_face_tokenizers_only_in_the_tokenizer_door():
    """Someone's tokenizer.json runs in the helper process of `hf_helper` (through
    `tokenizers.HFTokenizer`), where a panic or hours of work cannot reach the build: no other module
    may call the library in the build's own process."""
    offenders = [
        f"{module}: imports the tokenizers library"
        for module, tree in MODULES.items()
        if module != "longsynth.hf_helper"
        for node in ast.walk(tree)
        if (isinstance(node, ast.Import) and any(a.name.split(".")[0] == "tokenizers" for a in node.names))
        or (isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "tokenizers")
    ]  # fmt: skip
    assert offenders == []
