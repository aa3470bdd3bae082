"""`irl deadletters`: `--limit` bounds the rows printed, the summary counts the reasons of every dead letter read."""

from __future__ import annotations

from streams.commands.deadletters import DeadLetterRow, listing, summary
from streams.deadletter import DeadLetterInfo


def _row(partition: int, offset: int, dead_at_ms: int, code: str) -> DeadLetterRow:
    info = DeadLetterInfo("irl.touchpoint.web", 0, offset, "decode", f"{code}: x", code, dead_at_ms, 1, ())
    return DeadLetterRow(partition, offset, dead_at_ms, info)


#   dead_at   1    2    3    4    5    6
#   p0        bm        em        iv
#   p1             em        iv
#   --limit 2 shows the last two (4: iv on p1, 5: iv on p0); the summary counts all five
ROWS = [_row(0, 0, 1, "bad_marker"), _row(1, 0, 2, "empty_value"), _row(0, 1, 3, "empty_value"),
        _row(1, 1, 4, "invalid"), _row(0, 2, 5, "invalid")]  # fmt: skip


def test_the_limit_bounds_the_rows_and_the_reasons_count_every_row_read() -> None:
    found = listing(list(reversed(ROWS)), total=5, limit=2)
    assert [(r.partition, r.offset) for r in found.rows] == [(1, 1), (0, 2)]  # the newest two, oldest first
    assert found.codes == {"bad_marker": 1, "empty_value": 2, "invalid": 2} and found.read == 5
    line = summary("irl.deadletter", found)
    assert line == (
        "5 dead letters in irl.deadletter; shown 2 (by reason, all 5 read: empty_value 2, invalid 2, bad_marker 1)"
    )


def test_no_limit_shows_every_row_and_zero_shows_none_but_still_counts() -> None:
    assert len(listing(ROWS, 5, None).rows) == 5
    nothing = listing(ROWS, 5, 0)
    assert nothing.rows == [] and nothing.read == 5
    assert summary("t", listing([], 0, 3)) == "0 dead letters in t; shown 0 (by reason, all 0 read: none)"
