"""The cold tables' own methods never read themselves as a plain dict would.

Compiled (mypyc, docs/architecture.md "The compiled core"), ``self`` inside a dict subclass is
typed as a dict: ``in self``, ``len(self)``, ``self.get(...)``, ``del self[...]`` and its truth
are done by CPython's dict functions, which skip the class's overrides, so a cold row reads as
absent (the failures s36 found on loaded snapshots). Those reads go through
`resolver.cold._mapping(self)`. The pure suite cannot see the difference; this check can.
"""

from __future__ import annotations

import ast
from pathlib import Path

RESOLVER = Path(__file__).resolve().parents[2] / "resolver"


def _dict_classes(trees: dict[Path, ast.Module]) -> list[tuple[Path, ast.ClassDef]]:
    """Every class in resolver/ with dict among its bases, directly or through another such class."""
    names = {"dict"}
    found: dict[str, tuple[Path, ast.ClassDef]] = {}
    grew = True
    while grew:
        grew = False
        for path, tree in trees.items():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in found:
                    bases = {
                        b.value.id
                        if isinstance(b, ast.Subscript) and isinstance(b.value, ast.Name)
                        else b.id
                        if isinstance(b, ast.Name)
                        else ""
                        for b in node.bases
                    }
                    if bases & names:
                        found[node.name] = (path, node)
                        names.add(node.name)
                        grew = True
    return list(found.values())


def _is_self(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _raw_reads(cls: ast.ClassDef) -> list[str]:
    """Reads of ``self`` that a compiled dict subclass does without its overrides."""
    out: list[str] = []
    for node in ast.walk(cls):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and _is_self(f.value) and f.attr == "get":
                out.append(f"{line}: self.get(...)")
            if isinstance(f, ast.Name) and f.id in {"len", "bool"} and node.args and _is_self(node.args[0]):
                out.append(f"{line}: {f.id}(self)")
        elif isinstance(node, ast.Compare):
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, ast.In | ast.NotIn) and _is_self(right):
                    out.append(f"{line}: ... in self")
        elif isinstance(node, ast.Delete):
            for t in node.targets:
                if isinstance(t, ast.Subscript) and _is_self(t.value):
                    out.append(f"{line}: del self[...]")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and _is_self(node.operand):
            out.append(f"{line}: not self")
        elif isinstance(node, ast.If | ast.While | ast.IfExp) and _is_self(node.test):
            out.append(f"{line}: truth of self")
    return out


def test_dict_subclasses_in_the_core_read_themselves_through_their_overrides() -> None:
    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(RESOLVER.glob("*.py"))}
    classes = _dict_classes(trees)
    assert {"ColdTable", "TextTable"} <= {c.name for _, c in classes}  # the check sees the tables
    bad = [f"{path.name}:{cls.name}: {read}" for path, cls in classes for read in _raw_reads(cls)]
    assert bad == [], "use resolver.cold._mapping(self) for these reads:\n" + "\n".join(bad)


def test_the_check_finds_a_raw_read() -> None:
    tree = ast.parse("class T(dict):\n    def f(self, k):\n        return k in self or self.get(k) or len(self)\n")
    cls = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef))
    assert len(_raw_reads(cls)) == 3
