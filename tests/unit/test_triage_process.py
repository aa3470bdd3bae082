"""The worker's side of triage children: their reports become the worker's counters and lag."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiokafka.errors import KafkaConnectionError

from streams import loops
from streams.customer_process import CustomerProcess
from streams.customer_process import child_instance as customer_child_instance
from streams.loops import worker_instance
from streams.runtime import Runtime
from streams.settings import Settings
from streams.triage_process import TriageProcesses, child_instance
from streams.web.journal import JournalFeed, journal_of


def _processes() -> tuple[Runtime, TriageProcesses]:
    rt = Runtime(Settings())
    return rt, TriageProcesses(rt.settings, rt, 2)


def test_reports_add_what_each_child_counted_since_its_last_report() -> None:
    rt, procs = _processes()
    rt.stats["registry_errors"] = 3  # the ordered stage's own
    procs.take_report(0, {"events_triaged": 10, "dead_letters": 1, "registry_errors": 0, "assigned": False})
    procs.take_report(1, {"events_triaged": 5, "dead_letters": 0, "registry_errors": 2, "assigned": False})
    procs.take_report(0, {"events_triaged": 25, "dead_letters": 1, "registry_errors": 1, "assigned": True})
    assert rt.stats["events_triaged"] == 30
    assert rt.stats["dead_letters"] == 1
    assert rt.stats["registry_errors"] == 3 + 2 + 1
    assert rt.assigned


def test_no_child_assigned_leaves_the_worker_unassigned() -> None:
    rt, procs = _processes()
    procs.take_report(0, {"events_triaged": 0, "assigned": False})
    assert not rt.assigned


def test_lag_merges_the_children_partitions_and_is_unknown_before_any_report() -> None:
    _rt, procs = _processes()
    assert procs.lag() is None
    procs.take_report(0, {"lag": {"t.web/0": 4}})
    procs.take_report(1, {"lag": None})
    assert procs.lag() == {"t.web/0": 4}
    procs.take_report(1, {"lag": {"t.web/1": 0, "t.kiosk/0": 7}})
    assert procs.lag() == {"t.web/0": 4, "t.web/1": 0, "t.kiosk/0": 7}


def test_child_zero_keeps_the_worker_member_name_and_others_get_their_own() -> None:
    s = Settings(app_id="irl", worker_id="host-6066")
    assert child_instance(s, 0) == "irl-host-6066"
    assert child_instance(s, 1) == "irl-host-6066-t1"
    assert child_instance(s, 2) != child_instance(s, 1)


class _FlakyClient:
    """Refuses `refusals` starts as aiokafka does when no broker answers, then starts."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.starts = 0

    async def start(self) -> None:
        self.starts += 1
        if self.starts <= self.refusals:
            raise KafkaConnectionError("Unable to bootstrap")


async def test_a_client_is_started_again_until_a_broker_answers() -> None:
    client = _FlakyClient(refusals=3)
    assert await loops.start_client(client, "test", asyncio.Event(), first_delay=0.001)
    assert client.starts == 4


async def test_a_stop_ends_the_waiting_for_a_broker() -> None:
    stopping = asyncio.Event()

    class _StoppedAtSecondStart(_FlakyClient):
        async def start(self) -> None:
            if self.starts == 1:
                stopping.set()  # the worker stops while the second start is refused
            await super().start()

    client = _StoppedAtSecondStart(refusals=10**6)
    assert not await asyncio.wait_for(loops.start_client(client, "test", stopping, first_delay=0.001), 10)
    assert client.starts == 2


def test_the_customer_stage_child_reports_its_stall_and_feeds_the_journal() -> None:
    """/ready, /stats and the views' journal read what the per-customer stage's child reported."""
    rt = Runtime(Settings())
    procs = CustomerProcess(rt.settings, rt, 1)
    feed = JournalFeed()
    feed.record([{"customer_id": "c_1", "change": "CREATED", "version": 1, "window_start": 0, "window_end": 5}])
    procs.take_report(0, {"effects_applied": 7, "customers_stalled_s": 61.5, "journal": feed.take()})
    assert rt.stats["effects_applied"] == 7 and rt.stats["customers_stalled_s"] == 61.5
    assert [h["version"] for h in journal_of(rt).history("c_1")] == [1]
    assert "journal" not in procs.reports[0]  # the records are not kept twice
    procs.take_report(0, {"effects_applied": 9, "customers_stalled_s": 0.0, "journal": None})
    assert rt.stats["effects_applied"] == 9 and rt.stats["customers_stalled_s"] == 0.0
    held = {"1": {"applied": 40, "redis": 38}, "4": {"applied": 12, "redis": None}}
    procs.take_report(0, {"effects_applied": 9, "redis_partitions": held, "journal": None})
    assert rt.stats["redis_partitions"] == held  # /stats shows each held partition's Redis offset
    assert journal_of(rt).totals == {"CREATED": 1}


def test_two_customer_stage_children_report_their_partitions_and_the_longest_stall() -> None:
    """With IRL_CUSTOMER_PROCESSES=2 each child holds its own effects partitions: /stats shows them all, and /ready
    the longest stall of any child (a child that reports no stall does not hide the other's)."""
    rt = Runtime(Settings())
    procs = CustomerProcess(rt.settings, rt, 2)
    procs.take_report(0, {"effects_applied": 5, "customers_stalled_s": 70.0, "redis_partitions": {"0": {"applied": 4}}})
    procs.take_report(1, {"effects_applied": 3, "customers_stalled_s": 0.0, "redis_partitions": {"3": {"applied": 9}}})
    assert rt.stats["effects_applied"] == 8
    assert rt.stats["customers_stalled_s"] == 70.0
    assert rt.stats["redis_partitions"] == {"0": {"applied": 4}, "3": {"applied": 9}}
    procs.take_report(0, {"effects_applied": 6, "customers_stalled_s": 0.0, "redis_partitions": {"10": {"applied": 1}}})
    assert rt.stats["effects_applied"] == 9 and rt.stats["customers_stalled_s"] == 0.0
    assert list(rt.stats["redis_partitions"]) == ["3", "10"]  # a partition child 0 gave up is gone; in order


def test_customer_stage_children_have_their_own_static_member_names() -> None:
    """Two members of one group under one static name fence each other: child 0 keeps the worker's name."""
    settings = Settings.from_env({"IRL_WORKER_ID": "w7", "IRL_CUSTOMER_PROCESSES": "3"})
    names = [customer_child_instance(settings, i) for i in range(settings.customer_processes)]
    assert names[0] == worker_instance(settings) and len(set(names)) == 3
    assert Settings().customer_processes == 2


class _Watched(TriageProcesses):
    """The worker's side over `tests.unit.long_report_child`; a failure is recorded instead of ending the process."""

    MODULE = "tests.unit.long_report_child"

    def __init__(self, rt: Runtime) -> None:
        super().__init__(rt.settings, rt, 1)
        self.failed: list[str] = []

    def _fail(self, why: str) -> None:
        self.failed.append(why)


async def _until(check: Callable[[], bool], running: asyncio.Future[None], timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check() and not running.done() and loop.time() < deadline:
        await asyncio.sleep(0.05)


async def test_a_report_longer_than_64_kib_is_read() -> None:
    """A per-customer stage's report with its journal was longer than asyncio's line limit: the watch failed,
    its child was stopped and the worker went on without the stage, silently (the chaos suite in kafka mode)."""
    rt = Runtime(Settings())
    procs = _Watched(rt)
    running = asyncio.ensure_future(procs.run())
    try:
        await _until(lambda: rt.stats["events_triaged"] == 3, running)
        assert rt.stats["events_triaged"] == 3 and not procs.failed and not running.done()
    finally:
        rt.stopping.set()
        await asyncio.wait_for(running, 20)
    assert not procs.failed  # stopped with the worker: no failure


async def test_a_watch_that_fails_ends_the_worker() -> None:
    """Whatever fails in watching the children (here a report it cannot take) ends the worker (70), never silently."""
    rt = Runtime(Settings())
    procs = _Watched(rt)

    def refuse(index: int, report: dict[str, Any]) -> None:
        raise ValueError("a report the worker cannot take")

    procs.take_report = refuse  # type: ignore[method-assign]
    running = asyncio.ensure_future(procs.run())
    try:
        await asyncio.wait_for(running, 30)  # the child is stopped, and the failure said
    finally:
        rt.stopping.set()
    assert len(procs.failed) == 1 and "cannot take" in procs.failed[0]
