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
