"""The views' publish delay with the per-customer stage over Kafka (`/stats` windows, `irl_publish_delay_seconds`).

Over Kafka the ordered stage closes windows and publishes no record; the per-customer stage's
partitions publish them. The delay is the time from the latest window's end to the last publish
of its records, noted by the partitions (`note_published`), carried by the child's reports to
the worker (`CustomerProcess.take_report`), and never moved by the ordered stage's closes.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from streams.codec import decode_resolved
from streams.customer_process import CustomerProcess
from streams.customers import CustomerPartition, note_published
from streams.runtime import Runtime
from streams.settings import Settings
from streams.web.stats import StatsCollector
from tests.unit.test_customers import RESOLVED, FakeCustomerKafka, _crashing_ordered_stage
from tests.unit.test_sequencer import links_log


def test_the_latest_windows_last_publish_is_kept() -> None:
    stats: dict[str, Any] = {"last_window_end": None, "last_publish_ms": None}
    note_published(stats, 5_000, 1_000)
    assert (stats["last_window_end"], stats["last_publish_ms"]) == (1_000, 5_000)
    note_published(stats, 6_000, 1_000)  # another partition's records of the same window, later
    assert stats["last_publish_ms"] == 6_000
    note_published(stats, 5_500, 1_000)  # an earlier publish of it, reported late: the last one stays
    assert stats["last_publish_ms"] == 6_000
    note_published(stats, 9_000, 500)  # a partition behind the others: an earlier window changes nothing
    assert (stats["last_window_end"], stats["last_publish_ms"]) == (1_000, 6_000)
    note_published(stats, 9_500, 2_000)
    assert (stats["last_window_end"], stats["last_publish_ms"]) == (2_000, 9_500)
    note_published(stats, None, 3_000)  # a child that published nothing yet reports None
    assert stats["last_window_end"] == 2_000


def test_a_partition_notes_the_window_of_the_records_it_published() -> None:
    records = _crashing_ordered_stage(links_log(4), random.Random(4)).partition(2)
    kafka = FakeCustomerKafka()
    stats = Runtime(Settings()).stats
    before = int(time.time() * 1000)

    async def scenario() -> None:
        part = CustomerPartition(2, kafka.ports(), RESOLVED, stats)
        await part.load({})
        for i in range(0, len(records), 4):
            await part.apply(records[i : i + 4])

    asyncio.run(scenario())
    assert kafka.published, "the partition published records"
    latest = max(decode_resolved(v)["window_end"] for v in kafka.published)
    assert stats["last_window_end"] == latest
    assert before <= stats["last_publish_ms"] <= int(time.time() * 1000)


def test_the_childs_reports_give_the_worker_its_publish_delay() -> None:
    settings = Settings()
    rt = Runtime(settings)
    children = CustomerProcess(settings, rt, 2)
    children.take_report(0, {"last_publish_ms": 12_500, "last_window_end": 10_000})
    children.take_report(1, {"last_publish_ms": 12_000, "last_window_end": 10_000})
    children.take_report(0, {"last_publish_ms": None, "last_window_end": None})
    windows = StatsCollector(rt)._windows(now_ms=13_000)
    assert windows["last_window_end"] == 10_000
    assert windows["publish_delay_ms"] == 2_500
