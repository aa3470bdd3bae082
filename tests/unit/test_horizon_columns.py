"""The duplicate horizon rebuilt from its columns (snapshots) is the one that wrote them: same ids, days and future."""

from __future__ import annotations

from array import array

from hypothesis import example, given
from hypothesis import strategies as st

from resolver.horizon import DAY_MS, ColdEvents, RecentEvents, still_remembered
from resolver.text_keys import TextKeys

HORIZON = 2 * DAY_MS
times = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 10 * DAY_MS)), max_size=60)


def live(recent: RecentEvents) -> dict[int, list[str]]:
    days = {d: [e for e in ids if e in recent] for d, ids in recent._by_day.items()}
    return {d: ids for d, ids in days.items() if ids}


@given(times, times, st.lists(st.integers(0, 40), max_size=5))
def test_from_columns_gives_the_same_days_and_the_same_future(
    before: list[tuple[int, int]], after: list[tuple[int, int]], gone: list[int]
) -> None:
    original = RecentEvents(HORIZON)
    for n, at in before:
        if f"e{n}" not in original:
            original.remember(f"e{n}", at, f"v{n}")
    original.forget(f"e{n}" for n in gone)
    eids, stamps, vids = original.columns()
    copy = RecentEvents.from_columns(HORIZON, original.watermark, eids, stamps, vids)
    assert copy.columns() == original.columns()
    # Days as the ids still remembered fill them (a forgotten id stays in its day's list until the day goes).
    assert live(original) == live(copy)
    for n, at in after:
        if f"f{n}" not in original:
            assert original.remember(f"f{n}", at, "v") == copy.remember(f"f{n}", at, "v")
    assert copy.items() == original.items()


@given(times, st.lists(st.integers(0, 40), max_size=5), times)
def test_each_stamp_is_the_one_its_event_was_remembered_with(
    before: list[tuple[int, int]], gone: list[int], again: list[tuple[int, int]]
) -> None:
    """Stamps kept beside the ids of each day (no tuple per event); an id remembered again reads its new one."""
    recent = RecentEvents(HORIZON)
    expected: dict[str, tuple[int, str]] = {}
    for i, (n, at) in enumerate([*before, (-1, -1), *again]):
        if n < 0:
            recent.forget(f"e{g}" for g in gone)
            for g in gone:
                expected.pop(f"e{g}", None)
            continue
        if f"e{n}" in recent:
            continue
        watermark = recent.watermark
        for forgotten in recent.remember(f"e{n}", at, f"v{i}"):
            expected.pop(forgotten)
        expected[f"e{n}"] = (at if watermark is None or at > watermark else watermark, f"v{i}")
    assert {e: recent.get(e) for e in expected} == expected
    assert recent.items() == sorted((e, at, v) for e, (at, v) in expected.items())
    assert list(recent.columns()[0]) == list(expected)


@given(times, st.lists(st.integers(0, 40), max_size=5), times, st.integers(0, 20 * DAY_MS))
@example(first=[(0, 0), (0, DAY_MS)], erased=[], then=[], later=3 * DAY_MS)  # an id sent again within its horizon
def test_lapses_says_whether_advance_would_forget_the_id(
    first: list[tuple[int, int]], erased: list[int], then: list[tuple[int, int]], later: int
) -> None:
    """`lapses` (used by `still_remembered` to decide a repeat without moving anything) is `advance`'s answer."""

    def made() -> RecentEvents:
        recent = RecentEvents(HORIZON)
        for n, t in first:  # as every caller does, an id is remembered again only once forgotten (`still_remembered`)
            if recent.vid_of(f"e{n}") is None or still_remembered(recent, f"e{n}", t) is None:
                recent.remember(f"e{n}", t, f"v{n}")
        recent.forget(f"e{n}" for n in erased)
        for n, t in then:  # ids remembered again after an erasure: listed twice
            if f"e{n}" not in recent:
                recent.remember(f"e{n}", t, f"w{n}")
        return recent

    recent = made()
    for event_id in sorted(recent._ids):
        # a copy made by the same calls (`copy.deepcopy` cannot copy a compiled, mypyc, RecentEvents)
        moved = made()
        assert moved.columns() == recent.columns()
        assert recent.lapses(event_id, later) == (event_id in moved.advance(later))


def _cold_copy(recent: RecentEvents) -> RecentEvents:
    """`recent` as a snapshot load keeps it: its events `ColdEvents` (ids a text, evidence ids rows of theirs)."""
    eids, stamps, vids = recent.columns()
    pieces = sorted(set(vids) - {"v-none"})
    # An evidence id that is no piece's is a string past the pieces' rows (as `resolver.snapshot` writes it).
    strings: list[str | None] = [None, "v-none"]
    refs = array("q", [pieces.index(v) if v in pieces else len(pieces) + 1 for v in vids])
    cold = ColdEvents(TextKeys.build(eids), array("q", stamps), refs, TextKeys.build(pieces), strings)
    return RecentEvents.from_cold(recent.horizon_ms, recent.watermark, cold)


@given(times, st.lists(st.integers(0, 40), max_size=5), times, st.lists(st.integers(0, 40), max_size=5), times)
@example(before=[(0, 0), (1, DAY_MS)], gone=[], after=[(2, 9 * DAY_MS)], erased=[1], late=[])
def test_cold_events_answer_and_move_as_the_events_they_hold(
    before: list[tuple[int, int]],
    gone: list[int],
    after: list[tuple[int, int]],
    erased: list[int],
    late: list[tuple[int, int]],
) -> None:
    """A loaded horizon (`ColdEvents`) gives the same answers, forgets and expires the same ids as the original."""
    original = RecentEvents(HORIZON)
    for n, at in before:
        if f"e{n}" not in original:
            original.remember(f"e{n}", at, "v-none" if n % 7 == 3 else f"v{n % 5}")
    original.forget(f"e{n}" for n in gone)
    cold = _cold_copy(original)

    def same() -> None:
        assert cold.columns() == original.columns() and cold.items() == original.items()
        assert len(cold) == len(original) and cold.stamps() == original.stamps()
        for n in range(41):
            for key in (f"e{n}", f"f{n}"):
                assert (key in cold) == (key in original)
                assert cold.get(key) == original.get(key) and cold.vid_of(key) == original.vid_of(key)
                for at in (0, 5 * DAY_MS, 12 * DAY_MS) if key in original else ():  # asked of remembered ids only
                    assert cold.lapses(key, at) == original.lapses(key, at)
        assert cold.ids_of({"v1", "v-none"}) == original.ids_of({"v1", "v-none"})

    same()
    for step, (n, at) in enumerate([*after, (-1, -1), *late]):
        if n < 0:
            original.forget(f"e{g}" for g in erased)
            cold.forget(f"e{g}" for g in erased)
            same()
            continue
        key = f"e{n}" if step % 2 else f"f{n}"
        if original.vid_of(key) is not None:
            assert still_remembered(original, key, at) == still_remembered(cold, key, at)
            if original.vid_of(key) is not None:
                continue
        assert original.remember(key, at, f"v{n % 5}") == cold.remember(key, at, f"v{n % 5}")
        same()
