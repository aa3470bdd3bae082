"""`Changelog.plan` with the window's survivors taken once (`Changelog.survivors`) plans the same, however cut.

The plain definition is the window planned in one chunk: each absorbed id of the window is
looked up and kept for ``merged_from`` when the CRM held it (a version above 0) before the
close. Every id that leaves gets a record (audit s38, B1: an id created and absorbed within the
window an ``ABSORBED`` version 1), so a version read at a later chunk would count ids an
earlier chunk announced; with ``survivors`` (what `streams.pipeline.Pipeline.close_due`
passes, taken before the first chunk) a window cut into chunks of any size must give the same
record for every id and leave the same versions, whatever the window holds: absorbed ids the
CRM saw or not, ids absorbed and live again, chains, erased and split ids.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.batching import Batcher, PendingWindow
from resolver.changelog import Changelog, Planned
from resolver.window import Window

IDS = [f"c{i:02d}" for i in range(24)]


class _View:
    """Live ids and absorbed -> survivor links (followed to the end; a chain to a dead id ends nowhere)."""

    def __init__(self, live: set[str], moved: dict[str, str]) -> None:
        self.live, self.moved = live, moved

    def current_id(self, cid: str) -> str | None:
        seen = set()
        while cid in self.moved and cid not in seen:
            seen.add(cid)
            cid = self.moved[cid]
        return cid if cid in self.live else None

    def profile(self, cid: str) -> None:
        return None


@st.composite
def _cases(draw: st.DrawFn) -> tuple[_View, dict[str, int], dict[str, Any], int]:
    live = set(draw(st.lists(st.sampled_from(IDS), max_size=16)))
    dead = [i for i in IDS if i not in live]
    # absorbed (or erased) ids point at another id: live, or dead (a chain, or an erased survivor)
    moved = {gone: draw(st.sampled_from(IDS)) for gone in draw(st.lists(st.sampled_from(dead), max_size=10))}
    moved = {g: s for g, s in moved.items() if g != s}
    versions = {cid: draw(st.integers(0, 2)) for cid in IDS}
    sets = st.lists(st.sampled_from(IDS), max_size=12)
    window: dict[str, Any] = {
        "touched": draw(sets),
        "created": draw(sets),
        "erased": draw(sets),
        "split": draw(sets),
        # the window's absorbed ids: any id (absorbed then handed back is live again), any survivor at the time
        "absorbed": [(g, draw(st.sampled_from(IDS))) for g in draw(sets)],
    }
    return _View(live, moved), versions, window, draw(st.integers(1, 8))


def _changelog(versions: dict[str, int]) -> Changelog:
    return Changelog.restore([(f"v:{cid}", str(v)) for cid, v in versions.items() if v], track_changes=False)


def _id(planned: Planned) -> str:
    return planned.customer_id


def _window(window: dict[str, Any]) -> tuple[Batcher, Window]:
    batcher = Batcher(5_000, 0, track_changes=False)
    return batcher, batcher.record(1_000, **window)


@settings(max_examples=300, deadline=None)
@given(_cases())
def test_a_window_cut_into_chunks_plans_what_it_plans_in_one(
    case: tuple[_View, dict[str, int], dict[str, Any], int],
) -> None:
    view, versions, window, limit = case
    whole_batcher, w = _window(window)
    plain = _changelog(versions)
    pending = whole_batcher.pending(w.start)
    whole = {} if pending is None else dict(pending.absorbed)
    at_once = plain.plan(whole_batcher.take(w, 10_000), whole, view)
    batcher, w = _window(window)
    pending = batcher.pending(w.start)
    window_absorbed = {} if pending is None else dict(pending.absorbed)
    chunked = _changelog(versions)
    survivors = chunked.survivors(window_absorbed, view)
    got = []
    while pending is not None and not pending.is_empty():
        got += chunked.plan(batcher.take(w, limit), window_absorbed, view, survivors)
    assert sorted(got, key=_id) == sorted(at_once, key=_id)
    assert dict(chunked.records()) == dict(plain.records())
    # every id that left has a record, announced before or not
    gone = {g for g, _s in window["absorbed"] if view.current_id(g) != g}
    assert gone <= {p.customer_id for p in got if p.change in ("ABSORBED", "ERASED")}


def test_survivors_group_the_ids_the_crm_held_sorted_by_absorbed_id() -> None:
    view = _View({"a", "b"}, {"x": "a", "y": "b", "z": "a", "w": "q"})
    window = {"z": "a", "x": "b", "y": "b", "w": "a", "a": "b"}
    assert _changelog({cid: 1 for cid in "axyzw"}).survivors(window, view) == {"a": ["a", "x", "z"], "b": ["y"]}
    # only the ids the CRM held before the close: "x" was never announced
    assert _changelog({cid: 1 for cid in "ayzw"}).survivors(window, view) == {"a": ["a", "z"], "b": ["y"]}


def test_a_chunk_absorbing_an_id_the_window_lacks_is_planned_without_them() -> None:
    # ``survivors`` computed from a window that does not hold the chunk's absorbed id: ignored, as documented
    view = _View({"a"}, {"b": "a"})
    chunk = PendingWindow(Window(0, 5_000), touched={"a"}, absorbed={"b": "a"})
    plain, once = _changelog({"a": 1, "b": 1}), _changelog({"a": 1, "b": 1})
    got = once.plan(chunk, {}, view, {})
    assert got == plain.plan(chunk, {}, view)
    assert got[0].change == "MERGED" and got[0].merged_from == ("b",)
