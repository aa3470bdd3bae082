"""`bench.restart_phases`: the phases of a restart read from the worker's log and the links log."""

from __future__ import annotations

import datetime as dt
import json

from bench.restart_phases import LinksWatch, format_phases, worker_phases
from resolver.interaction import from_json
from streams.linkbatch import BATCH, TICK, encode_batches


def _line(at: dt.datetime, text: str) -> str:
    return f"[{at.strftime('%Y-%m-%d %H:%M:%S')},{at.microsecond // 1000:03d}] [1] [INFO] {text}"


def test_worker_phases_are_seconds_after_the_kill_first_or_last_match() -> None:
    kill = dt.datetime(2026, 12, 7, 13, 0, 0)
    lines = [
        "irl worker: x on y, window 5s",
        _line(kill + dt.timedelta(seconds=1.5), "[^Worker]: Starting... "),
        _line(kill + dt.timedelta(seconds=3.25), "[^Worker]: Ready "),
        _line(kill + dt.timedelta(seconds=3.5), "ordered stage: links log assigned (held here) "),
        _line(kill + dt.timedelta(seconds=5), "resolver state restored: 9 customers, applied offset 3, in 1.50s"),
        _line(kill + dt.timedelta(seconds=6), "customers 0: effects partition 0: 4 customers restored at offset 1"),
        _line(kill + dt.timedelta(seconds=7), "customers 1: effects partition 1: 4 customers restored at offset 1"),
        _line(kill + dt.timedelta(seconds=8), "[^Worker]: Ready "),  # a second Ready: the first counts
    ]
    got = worker_phases(lines, kill.timestamp())
    assert got == {
        "worker_start": 1.5,
        "faust_ready": 3.25,
        "links_assigned": 3.5,
        "restored": 5.0,
        "customers_restored": 7.0,
    }
    assert format_phases(got).startswith("worker_start +1.50, faust_ready +3.25")


def _event(event_id: str) -> object:
    return from_json(
        {
            "event_id": event_id,
            "touchpoint": "WEB",
            "source_id": "s-" + event_id,
            "occurred_at": 1_700_000_000_000,
            "interaction": "page_view",
            "email": f"{event_id}@example.com",
        }
    )


def test_links_watch_says_when_the_fresh_events_arrive_and_whether_their_window_closed_first() -> None:
    clock = iter([1.0, 2.0, 3.0, 4.0])
    watch = LinksWatch({"a", "b"}, window_due_ms=10_000, t0=0.0, now=lambda: next(clock))
    (one,) = encode_batches([_event("a")])  # type: ignore[list-item]
    (two,) = encode_batches([_event("b"), _event("c")])  # type: ignore[list-item]
    watch.see(TICK, json.dumps({"now": 9_999}).encode())  # before the window's end + grace: not closing
    watch.see(BATCH, one)
    watch.see(TICK, json.dumps({"now": 10_000}).encode())  # closes it while "b" is not in yet
    watch.see(BATCH, two)
    assert watch.marks == {"closing_tick": 1.0, "fresh_late": True, "fresh_in_links": 2.0}
    assert "late for their window" in format_phases(watch.marks)
