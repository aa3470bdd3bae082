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

Quiet catch-up: after each tick record whose steps (or the events before it) published
anything, and once the broker has acknowledged all of it, the stage writes
``snapshot/published`` (that offset) to the state topic. A restart applies the tail up to it
quietly: the same state changes, but nothing built, encoded or sent that only the broker
needed (`Pipeline.on_events` etc. with ``quiet=True``); the rest of the tail as usual.

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
from itertools import repeat
from typing import Any, Protocol

from resolver.config import ResolverConfig
from resolver.effect_feed import batches, count_by_partition, encode_position
from resolver.effects import Tick
from resolver.interaction import Interaction
from resolver.linking import Found
from streams.linkbatch import ACTION, BATCH, TICK, events_of, founds_of, parser_fingerprint
from streams.masking import mask_text
from streams.pipeline import Pipeline, Step
from streams.runtime import Runtime
from streams.snapshots import Manifest, published_record, snapshot_records, snapshot_start, unpack_state
from streams.state_store import InMemoryStateLog

__all__ = ["EffectOut", "Fenced", "LinkRecord", "Mirror", "Ports", "Sequencer", "Snapshotter"]

log = logging.getLogger("irl.worker")

#: Most events applied without letting the event loop run (about 50 ms of work).
STEP_EVENTS = 1000
#: Seconds without events or actions after which a changed state is snapshotted at once.
IDLE_SNAPSHOT_S = 1.0
#: A snapshot is due after this many links records without one, even if they are only ticks.
MAX_TAIL_RECORDS = 20_000
#: The default of ``IRL_SNAPSHOT_TAIL_EVENTS``: a snapshot is due once this many events (and actions and
#: window-closing ticks) were applied since the last one began, whatever the clock says (`snapshot_due`).
SNAPSHOT_TAIL_EVENTS = 50_000
#: More links records than this waiting after the applied offset make a backlog (`snapshot_due`); fewer are
#: the clock's own ticks and the batch in flight of a stage that keeps up.
BACKLOG_RECORDS = 10


def snapshot_due(changes: int, age_s: float, quiet_s: float, interval_s: float, tail_events: int, behind: bool) -> bool:
    """Whether the ordered stage starts a snapshot now, by the tail a restart would apply again.

    ``changes``: events, actions and window-closing ticks applied since the last snapshot began,
    ``age_s`` seconds ago; ``quiet_s``: seconds since the last of them; ``behind``: more than
    `BACKLOG_RECORDS` links records wait after the applied offset (a backlog). Idle after
    changes: at once, so that a restart has no tail. A tail of ``tail_events``: at once, in a
    backlog or not. Otherwise every ``interval_s`` while the stage keeps up with the links log;
    in a backlog the time bound does not apply: each snapshot dumps the whole state (a child
    process's CPU, its copy-on-write faults in the stage's), so a backlog timed by the clock paid
    one per ``interval_s`` however slowly it went (the slower, the more per event), while the
    tail that a restart applies again (quietly, faster than live) grows with events, not seconds.
    """
    if changes <= 0:
        return False
    if quiet_s >= IDLE_SNAPSHOT_S or changes >= tail_events:
        return True
    return age_s >= interval_s and not behind


#: Seconds before an erasure's follow-up (dead-letter purge, deletions) that failed is tried again.
RETRY_S = 5.0


@dataclass
class Erasure:
    """An erasure applied by this stage whose follow-up is not finished (docs/privacy.md).

    `identifiers` (the person's phones, emails and touchpoint ids, in the clear) are held in
    memory only, until the dead letters are purged; `receipt` has no personal data.
    """

    offset: int
    identifiers: list[str]
    receipt: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """One record of the links log, as the ordered stage needs it."""

    offset: int
    kind: bytes | None
    value: bytes
    #: a batch's ``irl.found`` header (`streams.linkbatch.founds_of`), if it has one
    found: bytes | None = None


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


#: A record of the effects topic: its partition, its value (`resolver.effects.encode_effects`: that partition's
#: effects of one step) and its first effect's position (`resolver.effect_feed.batches`).
EffectOut = tuple[int, bytes, bytes]


@dataclass
class Ports:
    """What the ordered stage does I/O through (Kafka and Redis adapters in the worker, fakes in tests)."""

    #: the state topic folded to its end (key -> value)
    read_state: Callable[[], Awaitable[dict[bytes, bytes]]]
    #: send state records in order (partition 0 of the state topic) and wait until the broker has them
    #: (returns each record's offset, or None when unknown)
    send_state: Callable[[list[tuple[bytes, bytes | None]]], Awaitable[list[int] | None]]
    #: publish changelog records and wait until the broker has them all
    publish: Callable[[list[tuple[bytes, bytes]]], Awaitable[None]]
    #: publish resolved interactions (key customer id) and wait until the broker has them all
    publish_interactions: Callable[[list[tuple[bytes, bytes]]], Awaitable[None]]
    #: wait until every record sent so far is on the broker
    flush: Callable[[], Awaitable[None]]
    #: fetch the writer schemas of raw touchpoint values (one-event records written before batches)
    fetch_schemas: Callable[[list[bytes]], Awaitable[None]]
    mirror: Mirror
    #: make links records before the first offset, and state records before the second (if not
    #: None), unreadable (Kafka's DeleteRecords); None: this stage deletes nothing
    truncate: Callable[[int, int | None], Awaitable[None]] | None = None
    #: make the dead letters that mention these identifiers unreadable (`streams.purge`); returns how many
    purge_dead_letters: Callable[[list[str]], Awaitable[int]] | None = None
    #: store an erasure's receipt under its customer id (no personal data; `irl erasure-status` reads it)
    record_erasure: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None
    #: the state topic's end offset (None: unknown); None: a revoked stage never keeps its state (`Sequencer.revoke`)
    state_end: Callable[[], Awaitable[int | None]] | None = None
    #: queue changelog records after those queued before, without waiting for the broker; returns what
    #: completes once it has them (raising if it refused them). None: each step awaits `publish` instead
    queue_publish: Callable[[list[tuple[bytes, bytes]]], Awaitable[Sequence[Awaitable[Any]]]] | None = None
    #: the same for resolved interactions (`publish_interactions`)
    queue_interactions: Callable[[list[tuple[bytes, bytes]]], Awaitable[Sequence[Awaitable[Any]]]] | None = None
    #: queue effects for the per-customer stage (``IRL_CUSTOMER_STAGE=kafka``) after those queued before:
    #: one record per partition of a step (`EffectOut`), as `queue_publish`
    queue_effects: Callable[[list[EffectOut]], Awaitable[Sequence[Awaitable[Any]]]] | None = None
    #: dead-letter events that reused an event id with other content (`streams.deadletter.reused_id_letter`),
    #: each with the last links offset its step holds, and wait until the broker has them; None: only logged
    reused: Callable[[list[tuple[int, Interaction]]], Awaitable[None]] | None = None


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
        reseal_after_s: float | None = None,
        customer_partitions: int = 0,
        effects_topic: str | None = None,
        effect_partitions: int = 6,
        snapshot_tail_events: int = SNAPSHOT_TAIL_EVENTS,
        compact_growth: float = 0.0,
    ) -> None:
        self.rt = rt
        self.config = config
        #: the fingerprint under which triage's findings are taken (`streams.linkbatch.founds_of`)
        self.fingerprint = parser_fingerprint(config)
        self.window_ms = window_ms
        self.grace_ms = grace_ms
        self.resolved_topic = resolved_topic
        #: the topics the pipeline encodes its records for (and the per-customer stage's partitions in process)
        self._topics: dict[str, Any] = {"resolved_topic": resolved_topic, "interactions_topic": interactions_topic}
        self._topics |= {"customer_partitions": customer_partitions, "customer_stage": effects_topic is not None}
        self._topics["compact_growth"] = compact_growth  # and when it compacts (IRL_COMPACT_GROWTH)
        #: ``IRL_CUSTOMER_STAGE=kafka``: each step's effects go here (`Ports.queue_effects`), not records built here
        self.effects_topic = effects_topic
        #: per effects partition (``effect_partitions``: the resolved topic's), the effects of the links record
        #: being applied so far (their ordinals: `resolver.effect_feed.batches`)
        self._ordinals = [0] * effect_partitions
        self.ports = ports
        self.snapshots = snapshots
        self.snapshot_interval_s = snapshot_interval_s
        #: a snapshot is due at this many changes since the last began, in a backlog too (`snapshot_due`)
        self.snapshot_tail_events = snapshot_tail_events
        self.clock = clock
        self.manifest: Manifest | None = None
        #: records of the older state format, deleted with the first snapshot
        self._forget: list[bytes] = []
        #: events, actions and window-closing ticks applied since the snapshot being taken or last written
        self._changes_since_snapshot = 0
        self._snapshot_started_at = 0.0
        #: when events, an action or a window-closing tick were last applied (the stage is idle a while after)
        self._changed_at = 0.0
        #: erasures applied whose dead letters are not purged yet (oldest first)
        self._purges: list[Erasure] = []
        #: the task purging them (in the background: a large dead-letter topic takes seconds to read)
        self._purge_task: asyncio.Task[None] | None = None
        #: erasures applied that no stored snapshot includes yet (oldest first)
        self._erasures: list[Erasure] = []
        #: (links offset, state offset) before which records are to be deleted, and the receipts then due
        self._truncation: tuple[int, int | None, tuple[dict[str, Any], ...]] | None = None
        #: state topic offset of the current snapshot's first chunk
        self._state_start: int | None = None
        self._retry_at = 0.0
        #: send each ERASED record again this long after it was published (None: never; see `_reseal`)
        self.reseal_after_s = reseal_after_s
        #: (when, key, value) of ERASED records to send again
        self._reseals: list[tuple[float, bytes, bytes]] = []
        #: the pipeline holds exactly the records up to `rt.applied_offset` (no step cut short)
        self._clean = True
        #: the state kept at a revoke, and the state topic's end then (`revoke`, `resume_parked`)
        self._parked: tuple[Pipeline, int] | None = None
        #: (monotonic time, links offset) of the last restore, until the stage has caught up (logged once)
        self._restored: tuple[float, int] | None = None
        #: the links records up to this offset have every output on the broker: applied quietly (`restore`)
        self._quiet_through = -1
        #: the last links offset whose events `rt.stats` counts (a restore's tail again is not counted twice)
        self._counted_through = -1
        #: outputs were published since the state topic last said how far (`_mark_published`)
        self._unmarked = False
        #: the tick record up to which the state topic is to say so once the broker has it all
        self._mark_at: int | None = None
        #: acknowledgements of outputs queued and not yet awaited (`_settle`)
        self._acks: list[Awaitable[Any]] = []

    # -- ownership --------------------------------------------------------------------------

    async def restore(self) -> int:
        """Load the state topic's snapshot (or older-format records); returns the next links offset to apply.

        Raises `Fenced` when the partition was revoked meanwhile.
        """
        rt = self.rt
        epoch = rt.writer_epoch
        t0 = time.monotonic()
        self._drop_parked()
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
            published = stored.published
            if published is not None and stored.published_effects != (self.effects_topic is not None):
                # A mark of the other mode (a switch of IRL_CUSTOMER_STAGE): it says records, or effects, are on
                # the broker, not what this mode sends. The tail is sent again (duplicates of the same bytes).
                log.info("published mark at links offset %d written in the other customer-stage mode", published)
                published = None
            self._quiet_through = published if published is not None else -1
            self._unmarked, self._mark_at = False, None
            self._state_start = snapshot_start(folded, stored.manifest)
            self._forget_erasures()
            if stored.manifest is not None and stored.manifest.erasures:
                # Stored to end an erasure: its deletions may not have happened (they are idempotent).
                m = stored.manifest
                self._truncation = (m.offset + 1, self._state_start, m.erasures)
            self._forget = [key.encode() for key in stored.legacy]
            self._changes_since_snapshot = 1 if self._forget else 0
            rt.pipeline = pipeline
            rt.applied_offset = applied
            self._clean = True
            log.info(
                "resolver state restored: %d customers, applied offset %d, in %.2fs (%d state records); "
                "published up to offset %d: applied quietly",
                pipeline.resolver.customer_count(),
                applied,
                time.monotonic() - t0,
                len(folded),
                self._quiet_through,
            )
            await self.ports.mirror.resume(applied)
            rt.recovered = True
            self._restored = (t0, applied)
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
        """The partition moves away: fence this stage, let the step in flight finish, flush its sends.

        The state is kept (parked) when no step was cut short and the state topic's end is
        known: a rebalance usually gives the partition back to this worker (`streams.assignor`),
        which then goes on from it (`resume_parked`) instead of restoring its snapshot.
        """
        rt = self.rt
        rt.owns_links = False
        rt.writer_epoch += 1
        rt.revoke_started = time.monotonic()  # the stall watch ends a revoke that never ends (`streams.stall`)
        try:
            await self._give_back()
        finally:
            rt.revoke_started = None

    async def _give_back(self) -> None:
        rt = self.rt
        async with rt.writer_lock:
            pipeline, rt.pipeline = rt.pipeline, None
            rt.recovered = False
            if self.snapshots.running:
                self._changes_since_snapshot += 1  # the snapshot abandoned here is taken again if the state comes back
            self.snapshots.abandon()
            if pipeline is not None and not self._clean:
                log.info("links log revoked mid-step: the state is restored when the links log comes back")
            end = await self._state_end() if pipeline is not None and self._clean else None
            if pipeline is not None and end is not None:
                self._parked = (pipeline, end)
            else:
                self._drop_parked()
        await self.ports.flush()
        self._mark_at = None  # a mark is only ever a saving: the next owner sends again what none claims
        try:
            await self._settle()
        except Exception as exc:  # the next owner publishes again what no mark or snapshot claims
            log.warning("outputs the broker refused before the links log moved (%s): a restore sends them again", exc)
            self._drop_parked()

    @property
    def holds_state(self) -> bool:
        """True while this stage has the state in memory, in use or parked (the assignor asks)."""
        return self.rt.pipeline is not None or self._parked is not None

    def assigned(self, owns: bool) -> None:
        """A new assignment: a parked state whose partition went elsewhere is dropped."""
        if not owns:
            self._drop_parked()

    def _drop_parked(self) -> None:
        # The next owner applies these erasures again, or finishes them from its snapshot; the
        # identifiers held for a purge are not kept here a moment longer.
        self._parked = None
        self._forget_erasures()

    async def _state_end(self) -> int | None:
        if self.ports.state_end is None:
            return None
        try:
            return await self.ports.state_end()
        except Exception as exc:  # unknown: restore instead of trusting a state nobody checked
            log.warning("state topic end unknown (%s): the state will be restored", type(exc).__name__)
            return None

    async def resume_parked(self) -> int | None:
        """Take the parked state back when the partition came back to this stage; the next links offset to apply.

        None (the state dropped) when there is none, or when the state topic changed since the
        revoke (another owner stored a snapshot): then `restore`. Another owner that applied
        records meanwhile without storing one published what this stage publishes again
        (the same log gives the same records). Raises `Fenced` when revoked meanwhile.
        """
        if self._parked is None:
            return None
        rt = self.rt
        epoch = rt.writer_epoch
        pipeline, end = self._parked
        now = await self._state_end()
        async with rt.writer_lock:
            if epoch != rt.writer_epoch or not rt.owns_links:
                raise Fenced
            if now != end:
                log.info("the state topic moved while the links log was away (%s -> %s): restoring", end, now)
                self._drop_parked()
                return None
            self._parked = None
            rt.pipeline = pipeline
            rt.recovered = True
            log.info("links log given back: going on from offset %d without a restore", rt.applied_offset)
            return rt.applied_offset + 1

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
            self._clean = False  # until every record below is applied (a Fenced or an error leaves it so)
            legacy = [r.value for r in records if r.offset > rt.applied_offset and r.kind not in (BATCH, TICK, ACTION)]
            if legacy:
                await self.ports.fetch_schemas(legacy)
            events: list[Interaction] = []
            founds: list[Found | None] = []  # triage's findings of each of `events`, where it has them
            quiet = False  # `events` are of records published already (up to `_quiet_through`)
            counted = False  # `events` are of records counted in `rt.stats` already (up to `_counted_through`)
            last = rt.applied_offset
            for rec in records:
                if rec.offset <= last:
                    continue
                if rec.offset != last + 1 and last >= 0:
                    log.warning("links log jumps from %d to %d (deleted by retention?)", last, rec.offset)
                control = rec.kind == TICK or rec.kind == ACTION
                again = rec.offset <= self._counted_through
                if events and (control or (rec.offset <= self._quiet_through) != quiet or again != counted):
                    await self._events(pipeline, last, events, epoch, quiet, count=not counted, founds=founds)
                    events, founds = [], []
                quiet, counted = rec.offset <= self._quiet_through, again
                if control:
                    await self._control(pipeline, rec, epoch, quiet)
                else:
                    got = events_of(rec.kind, rec.value)
                    events.extend(got)
                    found = founds_of(rec.found, self.fingerprint, len(got)) if rec.found is not None else None
                    if found is None:
                        rt.stats["events_parsed_again"] += len(got)
                        founds.extend(repeat(None, len(got)))
                    else:
                        founds.extend(found)
                last = rec.offset
            if events:
                await self._events(pipeline, last, events, epoch, quiet, count=not counted, founds=founds)
            await self._settle()  # when `apply` returns, every output of these records is on the broker
            await self._mark_published(epoch)
            rt.applied_offset = last
            self._clean = True
            self._log_caught_up()

    async def _control(self, pipeline: Pipeline, rec: LinkRecord, epoch: int, quiet: bool) -> None:
        """Apply one tick or action record and write its steps (`quiet`: without publishing them again)."""
        rt = self.rt
        if rec.kind == TICK:
            steps = pipeline.on_tick(rec.offset, json.loads(rec.value)["now"], quiet=quiet)
        else:
            steps = self._action(pipeline, rec.offset, json.loads(rec.value), quiet)
            self._changes_since_snapshot += 1
            self._changed_at = self.clock()
        closed = 0
        self._ordinals = [0] * len(self._ordinals)
        for step in steps:  # built one by one: a tick can close a backlog's many windows
            await self._write(step, epoch, quiet)
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
            if self._unmarked:  # marked once the broker has it all (`_mark_published`, at the end of `apply`)
                self._unmarked = False
                self._mark_at = rec.offset
            await self.ports.mirror.check(False)

    async def _mark_published(self, epoch: int) -> None:
        """Note in the state topic that every output up to the last tick applied is on the broker (if any is new).

        Called once every send queued so far is acknowledged (`_settle`): a restart applies the
        links records up to the mark quietly (`restore`).
        """
        offset, self._mark_at = self._mark_at, None
        if offset is None:
            return
        if epoch != self.rt.writer_epoch:
            raise Fenced
        await self.ports.send_state([published_record(offset, effects=self.effects_topic is not None)])

    def _log_caught_up(self) -> None:
        """Log once, after a restore, when the stage has applied the links log to the end it last saw."""
        end = self.rt.links_position()
        if self._restored is None or end is None or self.rt.applied_offset < end - 1:
            return
        t0, start = self._restored
        self._restored = None
        log.info(
            "caught up with the links log: %d records after the snapshot applied, %.2fs after the restore began",
            self.rt.applied_offset - start,
            time.monotonic() - t0,
        )

    def _action(self, pipeline: Pipeline, offset: int, action: dict[str, Any], quiet: bool) -> Iterator[Step]:
        notes: list[str] = []
        for step in pipeline.on_action(offset, action, quiet=quiet):
            for note in step.notes:
                log.info("action %s by %s: %s", action.get("action_id"), action.get("actor"), note)
            notes += step.notes
            if action.get("action") == "erase" and step.forget:  # a block's or a split's forget is no erasure
                self._erased(offset, action, step)
            yield step
        _applied(self.rt.stats, action.get("action_id"), offset, notes)

    def _erased(self, offset: int, action: dict[str, Any], step: Step) -> None:
        """Note an erasure just applied: its dead letters, links and state records are to go (`tend`)."""
        gone = [cid for cid, survivor in step.removed.items() if survivor is None]
        receipt = {
            "customer_id": gone[0] if gone else action.get("customer_id"),
            "requested_id": action.get("customer_id"),
            "action_id": action.get("action_id"),
            "action_offset": offset,
            # ids absorbed into the person before: their effects partitions held her data too (customer ids only)
            "absorbed_ids": step.erased_absorbed,
            "requested_at": action.get("at"),
            "applied_at": int(time.time() * 1000),
        }
        erasure = Erasure(offset, list(step.forget), receipt)
        self._purges.append(erasure)
        self._erasures.append(erasure)

    async def _events(
        self,
        pipeline: Pipeline,
        offset: int,
        events: list[Interaction],
        epoch: int,
        quiet: bool,
        count: bool = True,
        founds: list[Found | None] | None = None,
    ) -> None:
        """Apply the events of the links records up to `offset`, in steps of at most `STEP_EVENTS`.

        The loop runs between steps. Only the last step is of `offset`: the others are of the
        offset before these records (a step's offset says which records it completes, for Redis).
        `quiet`: these records' outputs are on the broker already (`restore`). `count`: these
        records' events are not counted in `rt.stats` yet; they are counted once every step of
        them is applied (a step cut short applies them again, from a restore). `founds`: triage's
        findings of each event, where it has them (`Pipeline.on_events`).
        """
        stats = self.rt.stats
        before = self.rt.applied_offset
        applied = duplicates = 0
        for i in range(0, len(events), STEP_EVENTS):
            if i:
                await asyncio.sleep(0)  # heartbeats, views and timers between steps
                if epoch != self.rt.writer_epoch or self.rt.stopping.is_set():
                    raise Fenced  # revoked, or the worker stops: the rest is applied again by the next owner
            last = i + STEP_EVENTS >= len(events)
            found = founds[i : i + STEP_EVENTS] if founds is not None else None
            for step in pipeline.on_events(
                offset if last else before, events[i : i + STEP_EVENTS], quiet=quiet, founds=found
            ):
                step.holds_through = offset
                await self._write(step, epoch, quiet)
                applied += step.events - step.duplicates
                duplicates += step.duplicates
                if step.reused_ids and count:
                    _reused(stats, step.reused_ids, offset)
        if count:
            stats["events_applied"] += applied
            stats["duplicates"] += duplicates
            self._counted_through = max(self._counted_through, offset)
        self._changes_since_snapshot += len(events)
        self._changed_at = self.clock()
        self.rt.applied_offset = offset

    async def _write(self, step: Step, epoch: int, quiet: bool = False) -> None:
        """Publish one step and mirror it; never for a stage whose partition moved.

        `quiet`: its outputs are on the broker already (`restore`): only mirrored (the read
        model may be behind), and its ERASED records are sent again later as if just published.
        """
        rt = self.rt
        if epoch != rt.writer_epoch:
            raise Fenced
        stats = rt.stats
        if quiet:
            stats["steps_quiet"] += 1
            count_by_partition(step.effects, self._ordinals)  # on the broker already: placed, not sent
        else:
            effects = self._effects_out(step) if self.effects_topic is not None and step.effects else []
            await self._publish(step, effects)
        if self.reseal_after_s is not None and step.outputs:
            due = self.clock() + self.reseal_after_s
            erased = [out for rec, out in zip(step.records, step.outputs, strict=False) if rec["change"] == "ERASED"]
            self._reseals.extend((due, key, value) for key, value in erased)
        if step.closed:
            stats["windows_published"] += len(step.closed)
            if self.effects_topic is None:  # over Kafka the per-customer stage notes its windows' publish
                stats["last_window_end"] = step.closed[-1].end
        await self.ports.mirror.step(step)

    def _effects_out(self, step: Step) -> list[EffectOut]:
        """A step's effects as the effects topic carries them: a record per partition, placed after the record's
        effects before it."""
        return [
            (p, value, encode_position(pos)) for p, pos, value in batches(step.offset, step.effects, self._ordinals)
        ]

    async def _publish(self, step: Step, effects: list[EffectOut]) -> None:
        """Send a step's interactions, changelog records and effects (queued: `_settle` awaits the acknowledgements).

        Steps go on while the broker acknowledges the ones before (the order of records per
        partition is the producer's queue order); whatever claims outputs as published (the
        end of `apply`, the published mark, a revoke) settles first.
        """
        rt = self.rt
        stats = rt.stats
        ports = self.ports
        if step.reused and ports.reused is not None:
            at = step.holds_through if step.holds_through is not None else step.offset
            await ports.reused([(at, event) for event in step.reused])  # on the broker when it returns
            stats["dead_letters"] = stats.get("dead_letters", 0) + len(step.reused)
            self._unmarked = True  # a restart applies them quietly up to the next tick's mark
        if step.interactions:
            await self._send(ports.queue_interactions, ports.publish_interactions, step.interactions)
            stats["interactions_published"] += len(step.interactions)
            self._unmarked = True
        if effects:
            assert ports.queue_effects is not None, "IRL_CUSTOMER_STAGE=kafka needs a port for the effects"
            self._acks.extend(await ports.queue_effects(effects))
            # A tick alone changes no partition's records: sent again after a restart, it is skipped
            # (its position), so it needs no mark (an idle stage writes none, as without effects).
            self._unmarked = self._unmarked or any(not isinstance(e, Tick) for e in step.effects)
            stats["effects_published"] += len(step.effects)
        if step.outputs:
            await self._send(ports.queue_publish, ports.publish, step.outputs)
            self._unmarked = True
            stats["records_published"] += len(step.outputs)
            stats["last_publish_ms"] = int(time.time() * 1000)
            stats["last_window_end"] = step.records[-1]["window_end"] if step.records else None
            published = rt.on_published
            if published is not None:
                published(step.records)

    async def _send(
        self,
        queue: Callable[[list[tuple[bytes, bytes]]], Awaitable[Sequence[Awaitable[Any]]]] | None,
        publish: Callable[[list[tuple[bytes, bytes]]], Awaitable[None]],
        records: list[tuple[bytes, bytes]],
    ) -> None:
        """Queue `records` (their acknowledgements kept for `_settle`), or publish them and wait when no queue."""
        if queue is None:
            await publish(records)
        else:
            self._acks.extend(await queue(records))

    async def _settle(self) -> None:
        """Wait until the broker has every output queued so far; raises what it refused."""
        acks, self._acks = self._acks, []
        if acks:
            await asyncio.gather(*acks)

    # -- snapshots ----------------------------------------------------------------------------

    async def tend(self) -> None:
        """Store a finished snapshot; start the next one when due; follow erasures up. Call between `apply` calls.

        An erasure is followed up in this order, each step only after the one before: its dead
        letters are purged; a snapshot that includes it is taken at once and stored (never
        before the purge: a crash before it applies the erasure, and purges, again); then the
        links log before that snapshot and the state topic before its chunks are deleted, and
        the receipt is written.
        """
        rt = self.rt
        if self._purges and rt.owns_links and self._purge_task is None and self.clock() >= self._retry_at:
            self._purge_task = asyncio.ensure_future(self._purge())
        done = self.snapshots.poll()
        if done is not None:
            await self._store(*done)
        if self._truncation is not None and rt.owns_links and self.clock() >= self._retry_at:
            await self._truncate()
        if self._reseals and self._reseals[0][0] <= self.clock() and rt.owns_links:
            await self._reseal()
        pipeline = rt.pipeline
        if pipeline is None or self.snapshots.running or not rt.owns_links or not self._clean:
            return  # (never a snapshot of a state that a step cut short: the process ends, or the state goes)
        stored = -1 if self.manifest is None else self.manifest.offset
        if rt.applied_offset <= stored:
            return
        now = self.clock()
        end = rt.links_position()
        due = snapshot_due(
            self._changes_since_snapshot,
            now - self._snapshot_started_at,
            now - self._changed_at,
            self.snapshot_interval_s,
            self.snapshot_tail_events,
            behind=end is not None and end - rt.applied_offset - 1 > BACKLOG_RECORDS,
        )
        erasing = bool(self._erasures) and not self._purges
        if due or erasing or rt.applied_offset - stored >= MAX_TAIL_RECORDS:
            self.snapshots.start(pipeline, rt.applied_offset)
            self._snapshot_started_at = now
            self._changes_since_snapshot = 0

    async def _store(self, offset: int, data: bytes, took: float) -> None:
        """Store a finished snapshot in the state topic (not one that includes an erasure not yet purged)."""
        rt = self.rt
        async with rt.writer_lock:
            if rt.pipeline is None or not rt.owns_links:
                return
            if self._purges and offset >= self._purges[0].offset:
                self._changes_since_snapshot += 1  # taken again once the purge is done
                return
            ends = [e for e in self._erasures if e.offset <= offset]
            # Erasures whose deletions are still to do ride along: a restart from this snapshot does them.
            waiting = list(self._truncation[2]) if self._truncation is not None else []
            receipts = waiting + [e.receipt for e in ends]
            manifest, records = snapshot_records(data, offset, self.manifest, self._forget, receipts)
            offsets = await self.ports.send_state(records)
            self.manifest, self._forget = manifest, []
            self._state_start = offsets[0] if offsets else None
            self._erasures = self._erasures[len(ends) :]
            if receipts:
                self._truncation = (offset + 1, self._state_start, manifest.erasures)
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

    def _forget_erasures(self) -> None:
        """Drop the erasures in hand (the partition moved, or a restore): they are applied or finished again."""
        if self._purge_task is not None:
            self._purge_task.cancel()
            self._purge_task = None
        self._purges, self._erasures, self._truncation, self._reseals = [], [], None, []

    async def _purge(self) -> None:
        """Purge the dead letters of each erasure waiting for it, oldest first; on failure, try again later.

        Runs as a task beside the stage: `_store` keeps any snapshot that includes an erasure
        not yet purged out of the state topic meanwhile.
        """
        purge = self.ports.purge_dead_letters
        try:
            while self._purges:
                erasure = self._purges[0]
                try:
                    purged = 0 if purge is None else await purge(erasure.identifiers)
                except Exception as exc:  # Kafka or the registry away: the erasure waits, nothing is lost
                    log.warning("erasure %s: purging dead letters failed (%s); trying again", erasure.offset, exc)
                    self._retry_at = self.clock() + RETRY_S
                    return
                if not self._purges or self._purges[0] is not erasure:
                    return  # forgotten meanwhile (the partition moved)
                erasure.identifiers = []  # no longer needed: not kept a moment longer
                erasure.receipt.update(dead_letters_purged=purged, dead_letters_purged_at=int(time.time() * 1000))
                self._purges.pop(0)
                log.info("erasure at links offset %d: %d dead letters purged", erasure.offset, purged)
        finally:
            if self._purge_task is asyncio.current_task():
                self._purge_task = None

    async def _truncate(self) -> None:
        """Delete the links log and state topic before the snapshot that ended erasures; write their receipts."""
        assert self._truncation is not None
        links_before, state_before, receipts = self._truncation
        try:
            if self.ports.truncate is not None:
                await self.ports.truncate(links_before, state_before)
            done = int(time.time() * 1000)
            for receipt in receipts:
                full = {
                    **receipt,
                    "links_deleted_before": links_before,
                    "state_deleted_before": state_before,
                    "completed_at": done,
                }
                if self.ports.record_erasure is not None:
                    # Under the id erased and, when it differs, the id the operator named (absorbed into it).
                    for cid in dict.fromkeys([receipt.get("customer_id"), receipt.get("requested_id")]):
                        if cid:
                            await self.ports.record_erasure(str(cid), full)
        except Exception as exc:
            log.error(
                "erasure: deleting the records before links offset %d failed (%s); trying again. A topic "
                "whose cleanup.policy lacks 'delete' needs this version's settings: run `irl topics create`",
                links_before,
                exc,
            )
            self._retry_at = self.clock() + RETRY_S
            return
        self._truncation = None
        self.rt.stats["erasures_completed"] += len(receipts)
        log.info("erasure: links records before %d and state records before %s deleted", links_before, state_before)

    async def _reseal(self) -> None:
        """Send again, byte for byte, each ERASED record published `reseal_after_s` ago.

        The log cleaner never compacts a partition's active segment, and a segment rolls only
        when a record is appended to it: an ERASED record in a quiet partition would keep the
        person's older records in the resolved topic for as long as nothing else arrives. The
        copy, sent once the compaction lag has passed, rolls that segment so the cleaner can
        compact it. Consumers deduplicate by change_id. Kept in memory: a restart forgets it,
        and then any later record in the partition does the same.
        """
        now = self.clock()
        due = [(k, v) for when, k, v in self._reseals if when <= now]
        self._reseals = [r for r in self._reseals if r[0] > now]
        await self.ports.publish(due)
        self.rt.stats["erased_resent"] += len(due)


def _reused(stats: dict[str, Any], event_ids: list[str], offset: int) -> None:
    """Count and log events that reused a remembered event id with other content: nothing of them was taken.

    Their records stay on the links log (at or before `offset`) and their touchpoint topic for
    the retention (`irl replay` writes them to its rejects file, `REUSED_ID`).
    """
    stats["reused_ids"] = stats.get("reused_ids", 0) + len(event_ids)
    shown = ", ".join(repr(e[:40]) for e in event_ids[:5])
    more = f" and {len(event_ids) - 5} more" if len(event_ids) > 5 else ""
    log.warning(
        "%d event(s) reused an event id within the duplicate horizon with other content, and were not taken "
        "(links offset <= %d): %s%s",
        len(event_ids), offset, shown, more,
    )  # fmt: skip


def _applied(stats: dict[str, Any], action_id: object, offset: int, notes: list[str]) -> None:
    """Mark the audit trail's entry of an action this worker queued as applied, with what it did (masked notes)."""
    for entry in reversed(stats.get("actions", [])):
        if entry.get("action_id") == action_id and entry.get("status") == "queued":
            entry.update(status="applied", links_offset=offset, outcome=[mask_text(n) for n in notes][:10])
            return
