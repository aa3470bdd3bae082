"""resolver/ is the functional core: standard library, itself and phonenumbers only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import resolver

ALLOWED = {"resolver", "phonenumbers", "__future__"}
FORBIDDEN_CALLS = {("time", "time"), ("datetime", "now"), ("random", "random")}


def _modules() -> list[Path]:
    return sorted(Path(resolver.__file__).parent.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_there_are_modules_to_check() -> None:
    assert len(_modules()) >= 5


def test_resolver_imports_only_stdlib_itself_and_phonenumbers() -> None:
    offenders = {
        f"{path.name}: {name}"
        for path in _modules()
        for name in _imports(path)
        if name not in ALLOWED and name not in sys.stdlib_module_names
    }
    assert not offenders, f"impure imports in resolver/: {sorted(offenders)}"


def test_the_check_catches_a_third_party_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import redis\nfrom faust import App\nimport json\n", encoding="utf-8")
    found = {n for n in _imports(bad) if n not in ALLOWED and n not in sys.stdlib_module_names}
    assert found == {"redis", "faust"}


def test_no_clock_or_unseeded_randomness_in_the_core() -> None:
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and (node.value.id, node.attr) in FORBIDDEN_CALLS
            ):
                offenders.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    assert not offenders, offenders


_LOADED = """
import importlib, pkgutil, sys
before = set(sys.modules)  # the interpreter's own start (site, the editable install's finder)
for blocked in ("mypy_extensions", "mypy", "mypyc"):
    sys.modules[blocked] = None  # an import of them fails
import resolver
for info in pkgutil.iter_modules(resolver.__path__):
    if not info.name.endswith("__mypyc"):  # mypyc's shared library: loaded by the compiled modules
        importlib.import_module("resolver." + info.name)
print(resolver.CORE_BUILD)
print(" ".join(sorted({n.split(".")[0] for n, m in sys.modules.items() if m is not None and n not in before})))
"""


def test_the_core_as_imported_compiled_or_not_loads_only_stdlib_itself_and_phonenumbers() -> None:
    """What the modules load at run time, mypyc's extensions included (its runtime is compiled in)."""
    import subprocess

    proc = subprocess.run([sys.executable, "-c", _LOADED], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    build, loaded = proc.stdout.splitlines()
    assert build == resolver.CORE_BUILD
    outside = {n for n in loaded.split() if n not in ALLOWED and n not in sys.stdlib_module_names}
    assert "resolver" in loaded.split()
    assert outside == set(), sorted(outside)
