"""The garbage collector's pace in processes that hold state (`irl replay`, `irl worker` and its triage and
per-customer children: `streams.triage_process`, `streams.customer_process`, since s38).

CPython starts a young collection every 700 net allocations of container objects (3.11's
default). The core allocates several per event (evidence, tuples, sets of a step) and
almost never a reference cycle, so nearly every one of those collections finds no garbage
and costs a traversal of every young object all the same: a fixed tax on each event. A
larger young generation keeps what collections find the same (cycles are still collected,
in bigger batches) and lets most short-lived objects die by reference counting before a
collection ever sees them. The older generations keep CPython's thresholds.

`bench/core_profile.py` measures the effect (``core`` beside an older tree).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["YOUNG", "for_state", "paced_for_state"]

#: Net allocations between young collections in a process holding the state.
YOUNG = 50_000


def for_state() -> tuple[int, int, int]:
    """Pace the collector for a process holding the state; returns the thresholds it had."""
    before = gc.get_threshold()
    gc.set_threshold(YOUNG, before[1], before[2])
    return before


@contextmanager
def paced_for_state() -> Iterator[None]:
    """`for_state` for a block; the thresholds are put back after it."""
    before = for_state()
    try:
        yield
    finally:
        gc.set_threshold(*before)
