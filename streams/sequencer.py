"""The ordered identity stage: one sequence of decisions, read from the links log without Faust's per-message path.

    links log (1 partition) ──getmany──▶ Sequencer.apply ──▶ Pipeline (resolver, batches, changelog)
         ▲ batches, ticks, actions                │
         │                                        ├─▶ irl.customers.resolved (windows closed by ticks)
         │                                        ├─▶ Redis read model (`Mirror`)
         │                                        └─▶ state topic: a snapshot now and then (`streams.snapshots`)

Exactly one worker applies the links log: the member of the consumer group
``<app id>-sequencer`` that holds its only partition. The group's committed offset is never
used: the stage's state is its last snapshot plus the links log after the snapshot's
offset. Taking the partition, it loads the snapshot and applies that tail again; the
pipeline's outputs are a function of the log (`streams.pipeline`), so the tail publishes
exactly the bytes it published before (connectors deduplicate by change_id). Records are
applied strictly in offset order: never twice into one state, never skipped.

`Sequencer` holds the logic and is driven in process by tests through `restore`, `apply`,
`tend` and `revoke` with fake ports (`Ports`); `streams.loops.run_sequencer` is its Kafka loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from resolver.config import ResolverConfig
from resolver.interaction import Interaction
from streams.linkbatch import ACTION, BATCH, TICK, events_of
from streams.pipeline import Pipeline, Step
from streams.runtime import Runtime
from streams.snapshots import Manifest, snapshot_records, unpack_state
from streams.state_store import InMemoryStateLog

__all__ = ["Fenced", "LinkRecord", "Mirror", "Ports", "Sequencer", "Snapshotter"]

log = logging.getLogger("irl.worker")

#: Most events applied without letting the event loop run (about 50 ms of work).
STEP_EVENTS = 1000
#: Seconds without events or actions after which a changed state is snapshotted at once.
IDLE_SNAPSHOT_S = 1.0
#: A snapshot is due after this many links records without one, even if they are only ticks.
MAX_TAIL_RECORDS = 20_000


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """One record of the links log, as the ordered stage needs it."""

    offset: int
    kind: bytes | None
    value: bytes


class Fenced(Exception):
    """The links partition was revoked: this stage must not write any more."""


class Mirror(Protocol):
    """Where each step's customers are mirrored for the read side (Redis)."""

    async def step(self, step: Step) -> None: ...

    async def resume(self, applied: int) -> None: ...

    async def check(self, force: bool) -> None: ...


class Snapshotter(Protocol):
    """Takes snapshots of the pipeline one at a time (`streams.snapshots.BackgroundSnapshot`)."""

    @property
    def running(self) -> bool: ...

    def start(self, pipeline: Pipeline, offset: int) -> None: ...

    def poll(self) -> tuple[int, bytes, float] | None: ...

    def abandon(self) -> None: ...


@dataclass
class Ports:
    """What the ordered stage does I/O through (Kafka and Redis adapters in the worker, fakes in tests)."""

    #: the state topic folded to its end (key -> value)
    read_state: Callable[[], Awaitable[dict[bytes, bytes]]]
    #: send state records in order (partition 0 of the state topic) and wait until the broker has them
    send_state: Callable[[list[tuple[bytes, bytes | None]]], Awaitable[None]]
    #: publish changelog records and wait until the broker has them all
    publish: Callable[[list[tuple[bytes, bytes]]], Awaitable[None]]
    #: publish resolved interactions (key customer id) and wait until the broker has them all
    publish_interactions: Callable[[list[tuple[bytes, bytes]]], Awaitable[None]]
    #: wait until every record sent so far is on the broker
    flush: Callable[[], Awaitable[None]]
    #: fetch the writer schemas of raw touchpoint values (one-event records written before batches)
    fetch_schemas: Callable[[list[bytes]], Awaitable[None]]
    mirror: Mirror


class Sequencer:
    """Applies the links log in offset order to one `Pipeline`; publishes, mirrors, snapshots.

    Invariants: `rt.applied_offset` is the offset of the last record applied to
    `rt.pipeline`; the state topic's snapshot is of an offset at or before it; a stage whose
    partition moved (an older epoch) writes nothing.
    """

    def __init__(
        self,
        rt: Runtime,
        config: ResolverConfig,
        window_ms: int,
        grace_ms: int,
        resolved_topic: str,
        ports: Ports,
        snapshots: Snapshotter,
        snapshot_interval_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        interactions_topic: str | None = None,
    ) -> None:
        self.rt = rt
        self.config = config
        self.window_ms = window_ms
        self.grace_ms = grace_ms
        self.resolved_topic = resolved_topic
        #: the topics the pipeline encodes its records for
        self._topics: dict[str, Any] = {"resolved_topic": resolved_topic, "interactions_topic": interactions_topic}
        self.ports = ports
        self.snapshots = snapshots
        self.snapshot_interval_s = snapshot_interval_s
        self.clock = clock
        self.manifest: Manifest | None = None
        #: records of the older state format, deleted with the first snapshot
        self._forget: list[bytes] = []
        #: events, actions and window-closing ticks applied since the snapshot being taken or last written
        self._changes_since_snapshot = 0
        self._snapshot_started_at = 0.0
        #: when events, an action or a window-closing tick were last applied (the stage is idle a while after)
        self._changed_at = 0.0

    # -- ownership --------------------------------------------------------------------------

    async def restore(self) -> int:
        """Load the state topic's snapshot (or older-format records); returns the next links offset to apply.

        Raises `Fenced` when the partition was revoked meanwhile.
        """
        rt = self.rt
        epoch = rt.writer_epoch
        t0 = time.monotonic()
        folded = await self.ports.read_state()
        async with rt.writer_lock:
            if epoch != rt.writer_epoch or not rt.owns_links:
                raise Fenced
            stored = unpack_state(folded)
            if stored.data is not None and stored.manifest is not None:
                pipeline = Pipeline.from_snapshot(
                    self.config, self.window_ms, self.grace_ms, stored.data, **self._topics
                )
                applied = stored.manifest.offset
            else:
                pipeline, applied = await self._restore_records(stored.legacy)
            self.manifest = stored.manifest
            self._forget = [key.encode() for key in stored.legacy]
            self._changes_since_snapshot = 1 if self._forget else 0
            rt.pipeline = pipeline
            rt.applied_offset = applied
            log.info(
                "resolver state restored: %d customers, applied offset %d, in %.2fs (%d state records)",
                pipeline.resolver.customer_count(),
                applied,
                time.monotonic() - t0,
                len(folded),
            )
            await self.ports.mirror.resume(applied)
            rt.recovered = True
            return applied + 1

    async def _restore_records(self, records: dict[str, str]) -> tuple[Pipeline, int]:
        """The pipeline of the older state format (one record per key and a write-ahead record)."""
        if not records:
            return Pipeline(self.config, self.window_ms, self.grace_ms, **self._topics), -1
        state = InMemoryStateLog(dict(records))
        wal = state.redo()
        if wal is not None and wal.outputs:
            # Its last step may have been cut short after its write-ahead record: send its outputs
            # again (byte-identical; connectors deduplicate by change_id).
            await self.ports.publish(wal.outputs)
        old = Pipeline(self.config, self.window_ms, self.grace_ms, state.records(), **self._topics)
        # Through a snapshot: the loaded core does not track changes for per-key records.
        pipeline = Pipeline.from_snapshot(self.config, self.window_ms, self.grace_ms, old.snapshot(), **self._topics)
        return pipeline, -1 if wal is None else wal.offset

    async def revoke(self) -> None:
        """The partition moves away: fence this stage, let the step in flight finish, flush its sends."""
        rt = self.rt
        rt.owns_links = False
        rt.writer_epoch += 1
        async with rt.writer_lock:
            rt.pipeline = None
            rt.recovered = False
            self.snapshots.abandon()
        await self.ports.flush()

    # -- applying ---------------------------------------------------------------------------

    async def apply(self, records: Sequence[LinkRecord], epoch: int) -> None:
        """Apply `records` (in offset order) from `rt.applied_offset + 1`; records already applied are skipped.

        Consecutive events are applied as one step. Raises `Fenced` when the partition was
        revoked meanwhile.
        """
        rt = self.rt
        async with rt.writer_lock:
            pipeline = rt.pipeline
            if epoch != rt.writer_epoch or pipeline is None:
                raise Fenced
            legacy = [r.value for r in records if r.offset > rt.applied_offset and r.kind not in (BATCH, TICK, ACTION)]
            if legacy:
                await self.ports.fetch_schemas(legacy)
            events: list[Interaction] = []
            last = rt.applied_offset
            for rec in records:
                if rec.offset <= last:
                    continue
                if rec.offset != last + 1 and last >= 0:
                    log.warning("links log jumps from %d to %d (deleted by retention?)", last, rec.offset)
                if rec.kind == TICK or rec.kind == ACTION:
                    if events:
                        await self._events(pipeline, last, events, epoch)
                        events = []
                    if rec.kind == TICK:
                        steps = pipeline.on_tick(rec.offset, json.loads(rec.value)["now"])
                    else:
                        steps = self._action(pipeline, rec.offset, json.loads(rec.value))
                        self._changes_since_snapshot += 1
                        self._changed_at = self.clock()
                    closed = 0
                    for step in steps:  # built one by one: a tick can close a backlog's many windows
                        await self._write(step, epoch)
                        closed += len(step.closed)
                        await asyncio.sleep(0)
                    if closed and rec.kind == TICK:
                        # Windows closed: a change too. Otherwise the idle snapshot taken after a backlog's
                        # last event would leave every window close (every customer's profile, built and
                        # published again) to the tail that a restart replays.
                        self._changes_since_snapshot += 1
                        self._changed_at = self.clock()
                    rt.applied_offset = rec.offset
                    if rec.kind == TICK:
                        await self.ports.mirror.check(False)
                else:
                    events.extend(events_of(rec.kind, rec.value))
                last = rec.offset
            if events:
                await self._events(pipeline, last, events, epoch)
            rt.applied_offset = last

    def _action(self, pipeline: Pipeline, offset: int, action: dict[str, Any]) -> Iterator[Step]:
        for step in pipeline.on_action(offset, action):
            for note in step.notes:
                log.info("action %s by %s: %s", action.get("action_id"), action.get("actor"), note)
            yield step

    async def _events(self, pipeline: Pipeline, offset: int, events: list[Interaction], epoch: int) -> None:
        """Apply the events of the links records up to `offset`, in steps of at most `STEP_EVENTS`.

        The loop runs between steps. Only the last step is of `offset`: the others are of the
        offset before these records (a step's offset says which records it completes, for Redis).
        """
        stats = self.rt.stats
        before = self.rt.applied_offset
        for i in range(0, len(events), STEP_EVENTS):
            if i:
                await asyncio.sleep(0)  # heartbeats, views and timers between steps
                if epoch != self.rt.writer_epoch or self.rt.stopping.is_set():
                    raise Fenced  # revoked, or the worker stops: the rest is applied again by the next owner
            last = i + STEP_EVENTS >= len(events)
            for step in pipeline.on_events(offset if last else before, events[i : i + STEP_EVENTS]):
                await self._write(step, epoch)
                stats["events_applied"] += step.events - step.duplicates
                stats["duplicates"] += step.duplicates
        self._changes_since_snapshot += len(events)
        self._changed_at = self.clock()
        self.rt.applied_offset = offset

    async def _write(self, step: Step, epoch: int) -> None:
        """Publish one step and mirror it; never for a stage whose partition moved."""
        rt = self.rt
        if epoch != rt.writer_epoch:
            raise Fenced
        stats = rt.stats
        if step.interactions:
            await self.ports.publish_interactions(step.interactions)
            stats["interactions_published"] += len(step.interactions)
        if step.outputs:
            await self.ports.publish(step.outputs)
            stats["records_published"] += len(step.outputs)
            stats["last_publish_ms"] = int(time.time() * 1000)
            stats["last_window_end"] = step.records[-1]["window_end"] if step.records else None
            published = rt.on_published
            if published is not None:
                published(step.records)
        if step.closed:
            stats["windows_published"] += len(step.closed)
            stats["last_window_end"] = step.closed[-1].end
        await self.ports.mirror.step(step)

    # -- snapshots ----------------------------------------------------------------------------

    async def tend(self) -> None:
        """Store a finished snapshot; start the next one when due. Call between `apply` calls."""
        rt = self.rt
        done = self.snapshots.poll()
        if done is not None:
            offset, data, took = done
            async with rt.writer_lock:
                if rt.pipeline is None or not rt.owns_links:
                    return
                manifest, records = snapshot_records(data, offset, self.manifest, self._forget)
                await self.ports.send_state(records)
                self.manifest, self._forget = manifest, []
                rt.stats["snapshots"] += 1
                rt.stats["snapshot_offset"] = offset
                rt.stats["snapshot_bytes"] = len(data)
                log.info(
                    "snapshot at links offset %d stored: %d bytes in %d chunks, %.2fs",
                    offset,
                    len(data),
                    manifest.chunks,
                    took,
                )
        pipeline = rt.pipeline
        if pipeline is None or self.snapshots.running or not rt.owns_links:
            return
        stored = -1 if self.manifest is None else self.manifest.offset
        if rt.applied_offset <= stored:
            return
        now = self.clock()
        changed = self._changes_since_snapshot > 0
        due = changed and now - self._snapshot_started_at >= self.snapshot_interval_s
        # Idle after changes (a backlog done, a quiet moment): at once, so that a restart has no tail.
        idle = changed and now - self._changed_at >= IDLE_SNAPSHOT_S
        if due or idle or rt.applied_offset - stored >= MAX_TAIL_RECORDS:
            self.snapshots.start(pipeline, rt.applied_offset)
            self._snapshot_started_at = now
            self._changes_since_snapshot = 0
