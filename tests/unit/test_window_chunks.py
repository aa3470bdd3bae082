"""A window published over several steps (more customers than `CHUNK`) gives the records one step would.

window [0, 1000)   touched: a b c s        absorbed: a -> s (a was touched before the merge)
CHUNK 200          | a ABSORBED | b | c | s MERGED from [a] |
CHUNK 2            | a ABSORBED   b | c   s MERGED from [a] |   (before: s UPDATED, [] -
                                                               `a` had left the pending window)
"""

from __future__ import annotations

from typing import Any

import pytest

import streams.pipeline
from resolver.config import ResolverConfig
from streams.pipeline import Pipeline


class _Profile:
    def __init__(self, cid: str) -> None:
        self.cid = cid

    def to_record(self) -> dict[str, Any]:
        return {"customer_id": self.cid}


class _View:
    """Customers b, c and s live; a absorbed into s; every id published once already."""

    live = frozenset({"b", "c", "s"})

    def current_id(self, cid: str) -> str | None:
        return cid if cid in self.live else "s" if cid == "a" else None

    def profile(self, cid: str) -> _Profile | None:
        return _Profile(cid) if cid in self.live else None


@pytest.mark.parametrize("chunk", [1, 2, 3, 200])
def test_a_survivor_lists_what_it_absorbed_whichever_chunk_took_it(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams.pipeline, "CHUNK", chunk)
    p = Pipeline(ResolverConfig(), 1000, 0)
    p.resolver = _View()  # type: ignore[assignment]
    for cid in "absc":
        p.changelog._versions[cid] = 1
    p.batcher.record(10, touched=["a", "b", "c", "s"])
    p.batcher.record(20, absorbed=[("a", "s")])
    records = [(r["customer_id"], r["change"], r["merged_from"]) for s in p.on_tick(0, 5000) for r in s.records]
    assert records == [("a", "ABSORBED", []), ("b", "UPDATED", []), ("c", "UPDATED", []), ("s", "MERGED", ["a"])]
