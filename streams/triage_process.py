"""Triage in processes of their own: the worker's other cores.

Triage (decode, validate, normalise, batch) and the ordered stage share one interpreter, so
one lock, in a worker that runs both: every event pays both stages on one core. With
``IRL_TRIAGE_PROCESSES=N`` (N > 0) the worker starts N child processes
(``python -m streams.triage_process``), each a member of the triage consumer group with its
own consumer and producer and the same commit rule (`streams.loops`); the worker's own
process keeps the ordered stage, the clock and the web views. With 0, triage runs in the
worker's process as before.

* **Reports**: a child writes one JSON line on its stdout every `REPORT_S` with its counters
  (events triaged, dead letters, registry errors), whether it holds partitions and its lag;
  the worker adds them to its stats, ``/metrics`` and ``/ready``.
* **Life**: a child dies with its worker (``PR_SET_PDEATHSIG``, and it watches its parent's
  pid), so a ``kill -9`` of the worker leaves no orphan in the group. A child that exits while
  the worker runs ends the worker (exit 70), as a triage bug in process does: the supervisor
  restarts the worker, which reads on from the last commit.
* **Stop**: the worker sends SIGTERM; a child finishes its fetch in flight, commits and stops.
* **Membership**: child 0 uses the worker's static member name (the one triage in process
  uses), child i > 0 that name with ``-t<i>``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer

from resolver.interaction import Limits
from streams import gcpolicy
from streams.batches import MAX_RECORD_BYTES, BatchSender
from streams.codec import Codecs, use
from streams.deadletter import DeadLetter
from streams.kafka_auth import client_options
from streams.linkbatch import links_headers
from streams.loops import run_triage, start_client, worker_instance
from streams.registry import RegistryError
from streams.runtime import Runtime, die_with_parent
from streams.settings import Settings, resolver_config
from streams.topics import links_topic_name
from streams.triage import Triage, TriagePorts

__all__ = [
    "REPORT_LINE_LIMIT",
    "REPORT_S",
    "TriageKafka",
    "TriageProcesses",
    "child_instance",
    "main",
    "report",
]

log = logging.getLogger("irl.worker")

#: How often a child reports its counters to the worker.
REPORT_S = 0.5
#: Faust's producer waits this long for the broker (a broker restart must not end triage).
_REQUEST_TIMEOUT_MS = 1_200_000
#: How long a child that stopped cleanly on its own waits for the worker's stop before it counts as a failure.
_GROUP_STOP_S = 5.0
#: How long the worker waits for its children to commit and stop.
_CHILD_STOP_S = 12.0
#: Counters a child reports, added to the worker's stats.
_COUNTERS = ("events_triaged", "dead_letters", "registry_errors")
#: The longest report line the worker reads (asyncio's default, 64 KiB, is less than a per-customer stage's
#: report with its journal: a longer line failed the watch, and the stage ended without a word).
REPORT_LINE_LIMIT = 8 * 1024 * 1024


class TriageKafka:
    """Triage's Kafka and registry ports over a `BatchSender`."""

    def __init__(self, sender: BatchSender, settings: Settings, rt: Runtime, codecs: Codecs) -> None:
        self.sender = sender
        self.settings = settings
        self.rt = rt
        self.codecs = codecs
        self.links = links_topic_name(settings)

    def ports(self) -> TriagePorts:
        return TriagePorts(self.send_links, self.send_dead, self.fetch_schemas, self.encode_dead_letter)

    async def fetch_schemas(self, values: list[Any]) -> None:
        """Have every writer schema these values need (asking the registry off the loop); wait while it is away.

        A record must not be dead-lettered because the registry did not answer: nothing goes on
        until it does (the records stay uncommitted; the stall watch catches a stage kept waiting).
        """
        delay = 0.5
        while True:
            try:
                await self.codecs.prefetch(values)
                return
            except RegistryError as exc:
                self.rt.stats["registry_errors"] += 1
                log.warning("schema registry: %s; trying again in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def encode_dead_letter(self, record: Any) -> bytes:
        return self.codecs.dead_letter.encode(record, self.settings.topic_deadletter)

    async def send_links(self, values: list[tuple[bytes, bytes | None]]) -> None:
        # Append time: the event time is in the payload, and retention must not see 2019.
        futures = await self.sender.send(self.links, 0, [(None, v, None, links_headers(found)) for v, found in values])
        await asyncio.gather(*futures)

    async def send_dead(self, letters: list[DeadLetter]) -> None:
        records = [(dl.key, dl.value, None, dl.headers) for dl in letters]
        futures = await self.sender.send(self.settings.topic_deadletter, 0, records)
        await asyncio.gather(*futures)


def child_instance(settings: Settings, index: int) -> str:
    """Child `index`'s static member name: the worker's own for child 0 (as triage in process)."""
    base = worker_instance(settings)
    return base if index == 0 else f"{base}-t{index}"


# ---------------------------------------------------------------- the worker's side


class TriageProcesses:
    """The worker's triage children: started, watched, reported on, stopped with the worker.

    The same watch serves another stage's children (`streams.customer_process`): its module
    (run as ``python -m MODULE INDEX PARENT_PID``), its name in the log, the counters it
    reports and the stat counting its running children.
    """

    #: the child's module, its stage's name, the counters it reports, the stat of running children
    MODULE = "streams.triage_process"
    NAME = "triage"
    COUNTERS: tuple[str, ...] = _COUNTERS
    RUNNING = "triage_processes"
    #: the worker's clock waits for these children to read what waited at start (`streams.loops.clock_held`)
    HOLDS_CLOCK = True

    def __init__(self, settings: Settings, rt: Runtime, count: int) -> None:
        self.settings = settings
        self.rt = rt
        self.count = count
        #: per child: its last report
        self.reports: dict[int, dict[str, Any]] = {}
        self.procs: dict[int, asyncio.subprocess.Process] = {}

    def lag(self) -> dict[str, int] | None:
        """Records not yet triaged per partition, as the children last reported (None: none reported yet)."""
        lags = [r["lag"] for r in self.reports.values() if r.get("lag") is not None]
        if not lags:
            return None
        return {k: v for lag in lags for k, v in lag.items()}

    def take_report(self, index: int, report: dict[str, Any]) -> None:
        """Add what child `index` counted since its last report to the worker's stats."""
        last = self.reports.get(index, {})
        for name in self.COUNTERS:
            self.rt.stats[name] += int(report.get(name, 0)) - int(last.get(name, 0))
        if report.get("assigned"):
            self.rt.assigned = True
        self.reports[index] = report
        if self.HOLDS_CLOCK and len(self.reports) == self.count and not self.rt.triage_caught_up:
            # Every child has read what its partitions held at start (one with none has nothing to read).
            self.rt.triage_caught_up = all(r.get("caught_up") for r in self.reports.values())

    async def run(self) -> None:
        """Start the children and watch them until the worker stops (then stop them)."""
        done = asyncio.Event()
        self.rt.stages_done.append(done)
        self.rt.lag_sources.append(self.lag)
        try:
            watches = [asyncio.ensure_future(self._child(i)) for i in range(self.count)]
            stopping = asyncio.ensure_future(self.rt.stopping.wait())
            await asyncio.wait([stopping, *watches], return_when=asyncio.FIRST_COMPLETED)
            await self._stop_all()
            results = await asyncio.gather(*watches, return_exceptions=True)
            failed = next((r for r in results if isinstance(r, Exception)), None)
            if failed is not None and not self.rt.stopping.is_set():
                # A watch that fails leaves the stage's children stopped: never silently.
                self._fail(f"{self.NAME}: watching its processes failed ({failed!r})")
        finally:
            done.set()

    def _fail(self, why: str) -> None:
        """End the worker (70), for its supervisor to restart it: a restart reads on from the last commit."""
        log.critical("%s; exiting so that a restart reads on from the last commit", why)
        logging.shutdown()
        os._exit(70)

    async def _child(self, index: int) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.MODULE,
            str(index),
            str(os.getpid()),
            stdout=asyncio.subprocess.PIPE,
            limit=REPORT_LINE_LIMIT,
        )
        self.procs[index] = proc
        self.rt.stats[self.RUNNING] += 1
        log.info("%s process %d started (pid %d)", self.NAME, index, proc.pid)
        assert proc.stdout is not None
        async for line in proc.stdout:
            try:
                report = json.loads(line)
            except ValueError:
                continue
            if isinstance(report, dict):
                self.take_report(index, report)
        code = await proc.wait()
        self.rt.stats[self.RUNNING] -= 1
        if code == 0 and not self.rt.stopping.is_set():
            # Stopped by a signal sent to the whole process group (a terminal's ^C, a supervisor's
            # stop): the same signal stops the worker a moment later.
            try:
                await asyncio.wait_for(self.rt.stopping.wait(), _GROUP_STOP_S)
            except TimeoutError:
                pass
        if self.rt.stopping.is_set():
            log.info("%s process %d stopped (exit %d)", self.NAME, index, code)
            return
        self._fail(f"{self.NAME} process {index} exited (code {code})")

    async def _stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        waits = [proc.wait() for proc in self.procs.values()]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout=_CHILD_STOP_S)
        except TimeoutError:
            for proc in self.procs.values():
                if proc.returncode is None:
                    log.warning(
                        "%s process (pid %d) did not stop within %.0f s: killed", self.NAME, proc.pid, _CHILD_STOP_S
                    )
                    proc.kill()


# ---------------------------------------------------------------- the child's side


async def report(
    rt: Runtime,
    lag: Any,
    parent: int,
    counters: tuple[str, ...] = _COUNTERS,
    extra: Callable[[], dict[str, Any]] | None = None,
) -> None:
    """Write the child's counters, whether it holds partitions and its lag to stdout every `REPORT_S`.

    ``extra``: more fields of the report, taken at each (the worker's side reads them: `take_report`).
    """
    out = sys.stdout
    while True:
        if os.getppid() != parent:
            log.error("child process: the worker is gone; exiting")
            os._exit(70)
        body = {name: rt.stats[name] for name in counters}
        body["assigned"] = rt.assigned
        body["caught_up"] = rt.triage_caught_up
        body["lag"] = lag()
        if extra is not None:
            body.update(extra())
        out.write(json.dumps(body) + "\n")
        out.flush()
        await asyncio.sleep(REPORT_S)


async def _child_main(index: int, parent: int) -> int:
    settings = Settings.from_env()
    rt = Runtime(settings)
    codecs = Codecs.from_settings(settings)
    use(codecs)  # decode_interaction and classify read with these
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, rt.stopping.set)
    try:
        await codecs.prepare({"dead_letter": [settings.topic_deadletter]})
    except RegistryError as exc:  # the first dead letter asks again, and fails there if it must
        log.error("schema registry at %s: %s", settings.schema_registry_url, exc)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        max_request_size=MAX_RECORD_BYTES,
        request_timeout_ms=_REQUEST_TIMEOUT_MS,
        **client_options(settings),
    )
    if not await start_client(producer, f"triage process {index}'s producer", rt.stopping):
        return 0
    kafka = TriageKafka(BatchSender(None, producer), settings, rt, codecs)
    triage = Triage(rt, Limits(max_string=settings.max_string), kafka.ports(), config=resolver_config(settings))
    lag_of: list[Any] = []
    rt.lag_sources = lag_of  # run_triage appends its consumer's lag here
    reporter = asyncio.ensure_future(report(rt, lambda: lag_of[0]() if lag_of else None, parent))
    try:
        await run_triage(settings, rt, triage, instance=child_instance(settings, index))
    finally:
        reporter.cancel()
        await producer.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m streams.triage_process INDEX PARENT_PID``: one triage child of a worker."""
    args = sys.argv[1:] if argv is None else argv
    index, parent = int(args[0]), int(args[1])
    die_with_parent(parent)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format=f"[%(asctime)s] [%(process)d] [%(levelname)s] triage {index}: %(message)s",
    )
    for name in ("aiokafka", "faust", "mode"):
        logging.getLogger(name).setLevel(logging.WARNING)
    gcpolicy.for_state()  # as the worker's and the per-customer children's (`streams.customer_process`)
    started = time.monotonic()
    code = asyncio.run(_child_main(index, parent))
    log.info("triage process %d done after %.0f s", index, time.monotonic() - started)
    return code


if __name__ == "__main__":
    sys.exit(main())
