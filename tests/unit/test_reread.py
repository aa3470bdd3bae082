"""Re-reading the links log at a gap: Faust drops records below its read offset, and `seek_wait` leaves it.

The writer seeks back itself when a links record is missing; if Faust's read offset stays past
the gap, every re-read record is dropped before it reaches the agent and the writer waits for
ever. These tests pin the Faust behaviour the fix relies on, and the fix.
"""

from __future__ import annotations

import inspect
from collections import defaultdict

from faust.transport.consumer import Consumer, ThreadDelegateConsumer
from faust.types import TP

from streams.app import _allow_reread


def test_faust_drops_records_below_its_read_offset() -> None:
    source = inspect.getsource(Consumer._drain_messages)
    assert "r_offset is None or offset >= r_offset" in source and "DROPPED MESSAGE ROFF" in source


def test_seek_wait_does_not_lower_the_read_offset_but_seek_does() -> None:
    assert "_read_offset" not in inspect.getsource(ThreadDelegateConsumer.seek_wait)
    assert "_read_offset" in inspect.getsource(Consumer.seek)


def test_allow_reread_lowers_the_read_offset() -> None:
    class FakeConsumer:
        def __init__(self) -> None:
            self._read_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)

    tp = TP("irl-links", 0)
    consumer = FakeConsumer()
    consumer._read_offset[tp] = 9000
    _allow_reread(consumer, tp, 8064)
    assert consumer._read_offset[tp] == 8064
    _allow_reread(consumer, tp, 0)
    assert consumer._read_offset[tp] is None  # as Faust's own seek stores offset 0
