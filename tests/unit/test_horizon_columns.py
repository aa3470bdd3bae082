"""The duplicate horizon rebuilt from its columns (snapshots) is the one that wrote them: same ids, days and future."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from resolver.horizon import DAY_MS, RecentEvents

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
