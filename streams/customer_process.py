"""The per-customer stage over Kafka in processes of their own: the worker's other cores.

With ``IRL_CUSTOMER_STAGE=kafka`` the worker starts ``IRL_CUSTOMER_PROCESSES`` children
(``python -m streams.customer_process INDEX PARENT_PID``, default 2), each running the
per-customer stage's consumer loop (`streams.customer_loop`) with its own producer, so the
records' profiles and Avro leave the ordered stage's interpreter. Each child is a member of
the group ``<app id>-customers`` (child 0 under the worker's static member name, child i > 0
under that name with ``-c<i>``) and holds its share of the worker's effects partitions, so
one worker's per-customer stage uses every core once the ordered stage is idle or done (with
one child, it ran a backlog's tail on one core while the other idled). A child lives and
dies as a triage child does (`streams.triage_process`): it dies with its worker, reports its
counters every half second (they appear in ``/ready``, ``/stats`` and ``/metrics``; the
partitions of all children, the longest stall of any), and a child that exits while the
worker runs ends the worker (exit 70). With ``IRL_TRIAGE_PROCESSES=0`` (one process: one core, less memory) the stage
runs in the worker's process instead, as a task.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from typing import Any

from aiokafka import AIOKafkaProducer

from streams import gcpolicy
from streams.batches import MAX_RECORD_BYTES, BatchSender
from streams.codec import Codecs, use
from streams.customer_loop import run_customers
from streams.customers import note_published
from streams.kafka_auth import client_options
from streams.loops import start_client, worker_instance
from streams.registry import RegistryError
from streams.runtime import Runtime, die_with_parent
from streams.settings import Settings
from streams.triage_process import TriageProcesses, report
from streams.web.journal import JournalFeed, journal_of

__all__ = ["COUNTERS", "CustomerProcess", "child_instance", "main"]

log = logging.getLogger("irl.worker")

#: Counters the child reports, added to the worker's stats.
COUNTERS = ("effects_applied", "customer_records_published", "erased_resent", "redis_rebuilds")
#: Faust's producer waits this long for the broker (a broker restart must not end the stage).
_REQUEST_TIMEOUT_MS = 1_200_000


class CustomerProcess(TriageProcesses):
    """The worker's per-customer stage child: started, watched, reported on, stopped with the worker.

    Beyond its counters a report carries how long the child's partitions have applied nothing
    while effects waited (``customers_stalled_s``, for `/ready`), each held partition's applied
    and Redis offsets (``redis_partitions``, for `/stats`) and what it published since the
    report before (``journal``, a `JournalFeed`'s, for the views' journal).
    """

    MODULE = "streams.customer_process"
    NAME = "per-customer stage"
    COUNTERS = COUNTERS
    RUNNING = "customer_processes"
    HOLDS_CLOCK = False

    def take_report(self, index: int, report: dict[str, Any]) -> None:
        journal = report.pop("journal", None)
        super().take_report(index, report)
        # Each child holds its own partitions: the longest stall of any, the partitions of all.
        reports = self.reports.values()
        self.rt.stats["customers_stalled_s"] = max(float(r.get("customers_stalled_s") or 0.0) for r in reports)
        held: dict[str, Any] = {}
        for r in reports:
            held.update(r.get("redis_partitions") or {})
        self.rt.stats["redis_partitions"] = dict(sorted(held.items(), key=lambda kv: int(kv[0])))
        note_published(self.rt.stats, report.get("last_publish_ms"), report.get("last_window_end"))
        if journal:
            journal_of(self.rt).merge(journal)


def child_instance(settings: Settings, index: int) -> str:
    """Child `index`'s static member name in the per-customer group: the worker's own for child 0."""
    base = worker_instance(settings)
    return base if index == 0 else f"{base}-c{index}"


async def _child_main(index: int, parent: int) -> int:
    settings = Settings.from_env()
    rt = Runtime(settings)
    codecs = Codecs.from_settings(settings)
    use(codecs)  # encode_resolved writes with these
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, rt.stopping.set)
    try:
        await codecs.prepare({"resolved_customer": [settings.topic_resolved]})
    except RegistryError as exc:  # the first record asks again, and fails there if it must
        log.error("schema registry at %s: %s", settings.schema_registry_url, exc)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        max_request_size=MAX_RECORD_BYTES,
        request_timeout_ms=_REQUEST_TIMEOUT_MS,
        **client_options(settings),
    )
    if not await start_client(producer, "the per-customer stage's producer", rt.stopping):
        return 0
    lag_of: list[Any] = []
    rt.lag_sources = lag_of  # the consumer loop appends its lag here
    feed = JournalFeed()
    rt.on_published = feed.record

    def extra() -> dict[str, Any]:
        return {
            "customers_stalled_s": rt.stats["customers_stalled_s"],
            "redis_partitions": rt.stats["redis_partitions"],
            "journal": feed.take(),
            "last_publish_ms": rt.stats["last_publish_ms"],
            "last_window_end": rt.stats["last_window_end"],
        }

    reporter = asyncio.ensure_future(report(rt, lambda: lag_of[0]() if lag_of else None, parent, COUNTERS, extra))
    try:
        await run_customers(settings, rt, BatchSender(None, producer), instance=child_instance(settings, index))
    finally:
        reporter.cancel()
        await producer.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m streams.customer_process INDEX PARENT_PID``: the per-customer stage's child of a worker."""
    args = sys.argv[1:] if argv is None else argv
    index, parent = int(args[0]), int(args[1])
    die_with_parent(parent)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format=f"[%(asctime)s] [%(process)d] [%(levelname)s] customers {index}: %(message)s",
    )
    for name in ("aiokafka", "faust", "mode"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # The collector paced as the worker's (`streams.gcpolicy`): a fetch decodes thousands of effects at once, and at
    # CPython's default every 700 allocations a young collection ran, and a full one over the partitions' state
    # every 70,000 (s38, `bench.customer_work`: 99 to 127 CPU us per event against 67 to 72).
    gcpolicy.for_state()
    started = time.monotonic()
    log.info("per-customer stage process started")
    code = asyncio.run(_child_main(index, parent))
    log.info("per-customer stage process done after %.0f s", time.monotonic() - started)
    return code


if __name__ == "__main__":
    sys.exit(main())
