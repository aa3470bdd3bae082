"""`resolver/` by concept (issue 14): no module of the core over 700 lines, so that none grows
back (its imports: `test_core_purity`)."""

from __future__ import annotations

from pathlib import Path

RESOLVER = Path(__file__).resolve().parents[2] / "resolver"
MAX_LINES = 700


def test_no_module_of_the_core_is_over_700_lines() -> None:
    long = {p.name: n for p in sorted(RESOLVER.glob("*.py")) if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
