"""The public Python API: explicit sorted ``__all__``, names importable, ``import auditkit`` stays light."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import auditkit
from auditkit.errors import ErrorBudgetExceeded
from tests.fixtures_engine import write_suite


def test_all_is_sorted_and_importable() -> None:
    assert auditkit.__all__ == sorted(auditkit.__all__)
    for name in auditkit.__all__:
        assert getattr(auditkit, name) is not None
    assert auditkit.__version__ == "0.1.0"
    with pytest.raises(AttributeError):
        auditkit.not_a_thing  # noqa: B018


# Libraries a module may not import at its top level without being skipped from the import check (they
# are optional extras, slow to import, or need hardware); such modules are still checked from source.
_OPTIONAL_AT_IMPORT = frozenset(
    {"accelerate", "codecarbon", "detoxify", "ecologits", "gguf", "pynvml", "ray", "torch", "transformers"}
)


def _module_files() -> list[tuple[str, Path]]:
    """Every module of the package, with its source file (pkgutil imports the subpackages, not the modules)."""
    found = [("auditkit", Path(auditkit.__file__))]
    for info in pkgutil.walk_packages(auditkit.__path__, prefix="auditkit."):
        folder = Path(info.module_finder.path)  # type: ignore[union-attr]
        leaf = info.name.rsplit(".", 1)[1]
        found.append((info.name, folder / leaf / "__init__.py" if info.ispkg else folder / f"{leaf}.py"))
    return found


_MODULES = _module_files()


def _top_level(tree: ast.Module) -> list[ast.stmt]:
    """Module-level statements, including those under ``if TYPE_CHECKING:`` / ``try:`` at the top level."""
    out: list[ast.stmt] = []
    pending = list(tree.body)
    while pending:
        node = pending.pop(0)
        out.append(node)
        if isinstance(node, ast.If):
            pending[:0] = [*node.body, *node.orelse]
        elif isinstance(node, ast.Try):
            pending[:0] = [*node.body, *node.orelse, *node.finalbody, *(s for h in node.handlers for s in h.body)]
    return out


def _bound(statements: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for node in statements:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def _all_problems(source: str) -> list[str]:
    """What is wrong with a module's ``__all__``, read from its source: [] when nothing is."""
    tree = ast.parse(source)
    statements = _top_level(tree)
    declared = [
        node for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        and any(isinstance(t, ast.Name) and t.id == "__all__"
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target]))
    ]
    if len(declared) != 1 or declared[0].value is None:
        return ["no single explicit `__all__ = [...]` at module level"]
    try:
        exported = ast.literal_eval(declared[0].value)
    except ValueError:
        return ["`__all__` is not a literal list of names"]
    problems = []
    if any(isinstance(n, ast.AugAssign) and getattr(n.target, "id", None) == "__all__" for n in statements):
        problems.append("`__all__` is extended after its declaration")
    if list(exported) != sorted(set(exported)):
        problems.append(f"`__all__` is not sorted (or has duplicates): {list(exported)}")
    bound = _bound(statements)
    problems += [f"`__all__` names {name!r}, which the module does not define" for name in exported
                 if name not in bound]
    public = [node.name for node in tree.body
              if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
              and not node.name.startswith("_")]
    problems += [f"public {name!r} is missing from `__all__` (export it, or name it _{name})" for name in public
                 if name not in exported]
    return problems


@pytest.mark.parametrize(("module", "path"), _MODULES, ids=[name for name, _ in _MODULES])
def test_every_module_declares_its_public_names(module: str, path: Path) -> None:
    assert _all_problems(path.read_text(encoding="utf-8")) == [], module


def test_the_all_check_catches_what_it_should() -> None:
    bad = (
        "from typing import Any\n"
        "__all__ = ['make', 'Thing', 'gone']\n"
        "class Thing: ...\n"
        "def make() -> None: ...\n"
        "def helper() -> None: ...\n"
        "def _private() -> None: ...\n"
    )
    assert _all_problems(bad) == [
        "`__all__` is not sorted (or has duplicates): ['make', 'Thing', 'gone']",
        "`__all__` names 'gone', which the module does not define",
        "public 'helper' is missing from `__all__` (export it, or name it _helper)",
    ]
    assert _all_problems("def f() -> None: ...\n") == ["no single explicit `__all__ = [...]` at module level"]
    assert _all_problems("__all__ = ['a']\n__all__ += ['b']\na = b = 1\n") == [
        "`__all__` is extended after its declaration"
    ]


def _optional_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in _top_level(tree):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots & _OPTIONAL_AT_IMPORT


@pytest.mark.parametrize(
    "module",
    [
        pytest.param(name, marks=pytest.mark.skip(reason=f"imports {sorted(heavy)} at module level"))
        if (heavy := _optional_imports(path)) else name
        for name, path in _MODULES
    ],
)
def test_every_exported_name_exists(module: str) -> None:
    mod = importlib.import_module(module)
    assert list(mod.__all__) == sorted(mod.__all__)
    for name in mod.__all__:
        assert getattr(mod, name, None) is not None, f"{module}.{name}"


def test_package_is_typed() -> None:
    """PEP 561 marker, shipped in the wheel (hatch packages every file under auditkit/)."""
    assert (Path(auditkit.__file__).parent / "py.typed").is_file()


def test_import_is_light() -> None:
    code = (
        "import sys, auditkit; auditkit.audit; auditkit.load_results; "
        "heavy = ('torch', 'pandas', 'transformers', 'scipy', 'sklearn'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_audit_and_load_results(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=3)
    result = auditkit.audit(
        model="mock:echo",
        suites=[str(suite)],
        out=tmp_path / "run",
        cache_path=tmp_path / "c.sqlite",
        report=False,
    )
    assert isinstance(result, auditkit.AuditResult) and result.exit_code == 0 and result.passed is None
    loaded = auditkit.load_results(run_dir=tmp_path / "run")
    assert isinstance(loaded, auditkit.RunResults)
    assert loaded.metric(analyzer="engine_chars", name="mean_chars") == result.metrics[0]
    with pytest.raises(ErrorBudgetExceeded) as err:
        auditkit.audit(
            model="mock:flaky",
            model_args={"rate": "1"},
            suites=[str(suite)],
            out=tmp_path / "bad",
            cache=False,
            report=False,
        )
    assert err.value.result.status == "incomplete"  # type: ignore[attr-defined]
