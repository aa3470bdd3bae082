"""A starting worker's clock waits for its triage to read what waited (`streams.loops.clock_held`).

    kill ──── worker down ────┬ restart ── Faust up ── ticks ─────────▶
    fresh events (time T) ────┘           triage child up ── forwards them
    window [W, E): closes at the first tick >= E + grace

Without the hold the first ticks came before triage had forwarded the events of the outage,
which were then late for their window (the next one took them, a window later).
"""

from __future__ import annotations

import asyncio

from streams.loops import CLOCK_HOLD_S, clock_held, triage_read_up
from streams.runtime import Runtime
from streams.settings import Settings
from streams.triage_process import TriageProcesses


def test_the_clock_is_held_until_triage_has_read_up_or_the_hold_has_passed() -> None:
    assert clock_held(False, 0.0)
    assert clock_held(False, CLOCK_HOLD_S - 0.01)
    assert not clock_held(False, CLOCK_HOLD_S)  # never for ever: a triage that never reads up
    assert not clock_held(True, 0.0)


class _Consumer:
    def __init__(self, positions: dict[str, int]) -> None:
        self.positions = positions

    def assignment(self) -> set[str]:
        return set(self.positions)

    async def position(self, tp: str) -> int:
        return self.positions[tp]


def test_triage_has_read_up_when_every_held_partition_reached_its_end_at_start() -> None:
    ends = {"a": 10, "b": 0, "gone": 99}  # "gone": no longer assigned, not waited for
    assert not asyncio.run(triage_read_up(_Consumer({"a": 9, "b": 0}), ends))
    assert asyncio.run(triage_read_up(_Consumer({"a": 10, "b": 0}), ends))
    assert asyncio.run(triage_read_up(_Consumer({"a": 12, "b": 3}), ends))


def test_the_workers_clock_is_released_once_every_triage_child_has_read_up() -> None:
    rt = Runtime(Settings())
    procs = TriageProcesses(rt.settings, rt, 2)
    procs.take_report(1, {"assigned": True, "caught_up": True})
    assert not rt.triage_caught_up  # child 0 has not said anything yet
    procs.take_report(0, {"assigned": True, "caught_up": False})
    assert not rt.triage_caught_up
    procs.take_report(0, {"assigned": True, "caught_up": True})
    assert rt.triage_caught_up
    procs.take_report(0, {"assigned": True, "caught_up": False})  # a later rebalance: the clock stays free
    assert rt.triage_caught_up


def test_the_per_customer_children_do_not_release_the_clock() -> None:
    from streams.customer_process import CustomerProcess

    rt = Runtime(Settings())
    CustomerProcess(rt.settings, rt, 1).take_report(0, {"assigned": True, "caught_up": True})
    assert not rt.triage_caught_up
