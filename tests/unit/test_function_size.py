"""No function or method in streams/ is longer than 80 lines (issue 15), so that none grows back.

A function's length counts from its `def` line to its last line (decorators not included,
nested functions included in the function that holds them, and each checked on its own too).
"""

from __future__ import annotations

import ast
from pathlib import Path

STREAMS = Path(__file__).resolve().parents[2] / "streams"
MAX_LINES = 80


class _Lengths(ast.NodeVisitor):
    """Every function and method of a module as (qualified name, `def` line, length in lines)."""

    def __init__(self) -> None:
        self.found: list[tuple[str, int, int]] = []
        self._scope: list[str] = []

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        name = ".".join([*self._scope, node.name])
        self.found.append((name, node.lineno, (node.end_lineno or node.lineno) - node.lineno + 1))
        self._scope.append(node.name)
        self.generic_visit(node)
        self._scope.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scope.append(node.name)
        self.generic_visit(node)
        self._scope.pop()


def long_functions(root: Path, limit: int = MAX_LINES) -> list[str]:
    """``path:line name (n lines)`` of every function or method under `root` longer than `limit` lines."""
    offenders = []
    for path in sorted(root.rglob("*.py")):
        lengths = _Lengths()
        lengths.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for name, line, length in lengths.found:
            if length > limit:
                offenders.append(f"{path.relative_to(root.parent)}:{line} {name} ({length} lines)")
    return offenders


def test_no_function_in_streams_is_longer_than_80_lines() -> None:
    assert list(STREAMS.rglob("*.py")), f"no Python files under {STREAMS}"
    offenders = long_functions(STREAMS)
    assert not offenders, f"longer than {MAX_LINES} lines (split into named helpers):\n" + "\n".join(offenders)


def test_the_check_names_a_long_method_and_a_long_closure_and_counts_from_def(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    body = "".join(f"        x{i} = {i}\n" for i in range(79))
    (pkg / "mod.py").write_text(
        "class Box:\n"
        "    @staticmethod\n"  # decorators are not counted
        f"    def short():\n{body}\n"  # def, 79 body lines: 80
        f"    def long(self):\n{body}        return 1\n"  # 81
        "\n"
        "async def outer():\n"
        f"    def inner():\n{body}        return 2\n"  # inner 81, outer 83
        "    return inner\n",
        encoding="utf-8",
    )
    assert long_functions(pkg) == [
        "pkg/mod.py:84 Box.long (81 lines)",
        "pkg/mod.py:166 outer (83 lines)",
        "pkg/mod.py:167 outer.inner (81 lines)",
    ]
