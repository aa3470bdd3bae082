"""`Changelog.plan` with the window's survivors computed once (`Changelog.survivors`) plans what it plans without.

The plain definition is `plan` without ``survivors``: every chunk looks each absorbed id of
the window up again and keeps those whose version is above 0 before the chunk. With
``survivors`` (what `streams.pipeline.Pipeline.close_due` passes, one lookup per window) each
chunk of a window must give the same planned records and leave the same versions, whatever
the window holds: absorbed ids the CRM saw or not, ids absorbed and live again, chains,
erased and split ids, windows cut into chunks of any size.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.batching import Batcher, PendingWindow
from resolver.changelog import Changelog
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


@settings(max_examples=300, deadline=None)
@given(_cases())
def test_plan_with_survivors_equals_plan_without_for_every_chunk(
    case: tuple[_View, dict[str, int], dict[str, Any], int],
) -> None:
    view, versions, window, limit = case
    batcher = Batcher(5_000, 0, track_changes=False)
    w = batcher.record(1_000, **window)
    pending = batcher.pending(w.start)
    window_absorbed = {} if pending is None else dict(pending.absorbed)
    survivors = Changelog.survivors(window_absorbed, view)
    plain, once = _changelog(versions), _changelog(versions)
    while pending is not None and not pending.is_empty():
        chunk = batcher.take(w, limit)
        assert once.plan(chunk, window_absorbed, view, survivors) == plain.plan(chunk, window_absorbed, view)
    assert dict(once.records()) == dict(plain.records())


def test_survivors_group_the_window_sorted_by_absorbed_id_whatever_their_versions() -> None:
    view = _View({"a", "b"}, {"x": "a", "y": "b", "z": "a", "w": "q"})
    assert Changelog.survivors({"z": "a", "x": "b", "y": "b", "w": "a", "a": "b"}, view) == {
        "a": ["a", "x", "z"],
        "b": ["y"],
    }


def test_a_chunk_absorbing_an_id_the_window_lacks_is_planned_without_them() -> None:
    # ``survivors`` computed from a window that does not hold the chunk's absorbed id: ignored, as documented
    view = _View({"a"}, {"b": "a"})
    chunk = PendingWindow(Window(0, 5_000), touched={"a"}, absorbed={"b": "a"})
    plain, once = _changelog({"a": 1, "b": 1}), _changelog({"a": 1, "b": 1})
    got = once.plan(chunk, {}, view, {})
    assert got == plain.plan(chunk, {}, view)
    assert got[0].change == "MERGED" and got[0].merged_from == ("b",)
