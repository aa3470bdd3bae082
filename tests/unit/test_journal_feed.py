"""`JournalFeed.record` against its plain definition: every record counted, the newest `max_history` kept (s38)."""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.web.journal import _KEPT_FIELDS, JournalFeed


class _PlainFeed:
    """`JournalFeed.record` as it was defined before s38: each record counted and appended, the deque dropping."""

    def __init__(self, max_history: int) -> None:
        self.windows: dict[tuple[int, int], Counter[str]] = {}
        self.history: deque[tuple[str, dict[str, Any]]] = deque(maxlen=max_history)

    def record(self, records: list[dict[str, Any]]) -> None:
        for rec in records:
            key = (int(rec.get("window_start") or 0), int(rec.get("window_end") or 0))
            self.windows.setdefault(key, Counter())[str(rec.get("change"))] += 1
            self.history.append((str(rec.get("customer_id")), {k: rec.get(k) for k in _KEPT_FIELDS}))

    def take(self) -> dict[str, Any] | None:
        if not self.windows:
            return None
        out = {
            "windows": [[start, end, dict(counts)] for (start, end), counts in self.windows.items()],
            "history": [[cid, entry] for cid, entry in self.history],
        }
        self.windows = {}
        self.history.clear()
        return out


_RECORD = st.fixed_dictionaries(
    {
        "customer_id": st.sampled_from(["c_1", "c_2", "c_3"]),
        "change": st.sampled_from(["CREATED", "UPDATED", "MERGED", "ABSORBED", "ERASED"]),
        "version": st.integers(1, 9),
        "change_id": st.text("abc", min_size=1, max_size=3),
    },
    optional={
        "window_start": st.sampled_from([0, 5_000, 10_000]),
        "window_end": st.sampled_from([5_000, 10_000, 15_000]),
        "survivor_id": st.none() | st.just("c_1"),
        "merged_from": st.lists(st.just("c_3"), max_size=1),
    },
)


@settings(max_examples=300)
@given(
    max_history=st.integers(1, 6),
    fetches=st.lists(st.tuples(st.lists(_RECORD, max_size=12), st.booleans()), max_size=6),
)
def test_record_reports_what_the_plain_definition_reports(
    max_history: int, fetches: list[tuple[list[dict[str, Any]], bool]]
) -> None:
    """Fetches of any size (shorter and longer than the bound), reports taken between some of them."""
    fast, plain = JournalFeed(max_history=max_history), _PlainFeed(max_history)
    for records, report in fetches:
        fast.record(iter(records) if report else records)  # any iterable, a list as the stage passes
        plain.record(records)
        if report:
            assert fast.take() == plain.take()
    assert fast.take() == plain.take()
