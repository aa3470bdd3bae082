"""The ordered stage's logic: events, ticks and actions in, changelog records out.

`Pipeline` owns one `Resolver`, one `Batcher` and one `Changelog` and does no I/O: each
call returns `Step` values that the stage sends (`irl.customers.resolved`) and mirrors
(Redis). What it publishes is a function of the links log alone, however the log is cut
into calls: windows close only on ticks and actions, which are records of the log, so a
window's records are built from the state at one offset of the log. That is what lets a
worker recover from a snapshot and the log's tail (`snapshot`, `from_snapshot`): the tail
publishes again exactly the bytes it published before. A tail whose outputs are known to be
on the broker already is applied ``quiet``: the same state, the same future, but no record
built or encoded that is only there to be sent (`streams.sequencer`, "quiet catch-up").

Records of the older state format (one record per key, namespaced ``r/`` resolver, ``b/``
batcher, ``c/`` changelog) are still read by the constructor.
"""

from __future__ import annotations

import itertools
import json
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from resolver.batching import Batcher
from resolver.changelog import Changelog, Planned, record_of
from resolver.compaction import Cadence
from resolver.config import ResolverConfig
from resolver.customer_stage import CustomerStage
from resolver.effect_codec import by_partition
from resolver.effects import Effect, EffectLog, Patched, Replaced, Seen, Tick
from resolver.engine import Outcome, Resolver
from resolver.interaction import Interaction
from resolver.linking import Found
from resolver.window import Window
from streams.codec import codecs, encode_resolved
from streams.heap import release_freed
from streams.readmodel import identifier_of_key, identifiers_of

__all__ = ["Pipeline", "SnapshotFormatError", "Step"]

#: A pipeline snapshot: magic, format version, then three length-prefixed parts and a CRC-32. Format 2 (a
#: pipeline handing effects to the per-customer stage) has a fourth part after them, its length first: the
#: effect log's customers noted and not yet sent (`EffectLog.pending`). Format 1 is still written without
#: effects (the same bytes as before them) and read by both.
_MAGIC = b"IRLP"
_FORMAT = 1
_FORMAT_EFFECTS = 2
_HEAD = struct.Struct(">4sBQQQ")
_LENGTH = struct.Struct(">Q")


class SnapshotFormatError(ValueError):
    """Not a pipeline snapshot, another format version, or damaged."""


#: Customers per published step: keeps each write-ahead record well under Kafka's 1 MB.
CHUNK = 200


@dataclass(slots=True)
class Step:
    """What one step changed. Send `outputs`, then mirror.

    A quiet step (`Pipeline.on_events` etc. with ``quiet=True``) carries the same state changes
    for the read models (touched, removed, forget, closed, notes) but only the ``ERASED``
    records, and no interactions.
    """

    offset: int
    #: state records of the older per-key format (`streams.state_store`); the pipeline fills none
    changes: dict[str, str | None] = field(default_factory=dict)
    outputs: list[tuple[bytes, bytes]] = field(default_factory=list)
    #: live customer ids whose profile must be mirrored
    touched: set[str] = field(default_factory=set)
    #: ids that disappeared: absorbed id -> survivor, erased id -> None
    removed: dict[str, str | None] = field(default_factory=dict)
    events: int = 0
    duplicates: int = 0
    #: ids of this step's events that reused a remembered id with other content (among `duplicates`)
    reused_ids: list[str] = field(default_factory=list)
    #: those events themselves, in a step that is not quiet: the ordered stage dead-letters them (`Ports.reused`)
    reused: list[Interaction] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    #: what happened, masked (operator actions, refusals): for the audit log
    notes: list[str] = field(default_factory=list)
    #: identifier strings to drop from read models (an erased person's)
    forget: list[str] = field(default_factory=list)
    #: the windows this step finished publishing
    closed: list[Window] = field(default_factory=list)
    #: the accepted interactions of this step with their customers (key, value for the interactions topic)
    interactions: list[tuple[bytes, bytes]] = field(default_factory=list)
    #: the last links offset whose changes this step may hold (None: `offset`). A run of events cut
    #: into steps gives its first steps the offset before the run, but they hold changes of it
    holds_through: int | None = None
    #: the per-customer stage's effects of this step, in log order (only with ``customer_stage``; the
    #: steps of ticks and actions: events are noted and their customers' inputs sent at the next one):
    #: the closed windows' records are here as `Planned` effects, not in `records` and `outputs`
    #: (unless the stage runs in process, ``customer_partitions``: then in both)
    effects: list[Effect] = field(default_factory=list)
    #: an erasure's step: the ids absorbed into the erased customer before it (`Resolver.absorbed_into`;
    #: their effects partitions held the person's data too: the receipt names them, `irl erasure-status`)
    erased_absorbed: list[str] = field(default_factory=list)

    def note(self, outcome: Outcome, erased: Iterable[str] = ()) -> None:
        """Record what a resolver outcome changed, for the read models."""
        self.touched.update(outcome.touched)
        self.touched.update(outcome.created)
        for gone, survivor in outcome.absorbed:
            self.removed[gone] = survivor
            self.touched.discard(gone)
        for gone in erased:
            self.removed[gone] = None
            self.touched.discard(gone)


class Pipeline:
    """Resolver + batches + versions, driven by events and ticks (integer ms)."""

    def __init__(
        self,
        config: ResolverConfig,
        window_ms: int,
        grace_ms: int,
        records: Iterable[tuple[str, str]] = (),
        *,
        resolved_topic: str = "irl.customers.resolved",
        interactions_topic: str | None = None,
        customer_stage: bool = False,
        customer_partitions: int = 0,
        compact_growth: float = 0.0,
    ) -> None:
        by_owner: dict[str, list[tuple[str, str]]] = {"r": [], "b": [], "c": []}
        for key, value in records:
            owner, _, inner = key.partition("/")
            if owner in by_owner:
                by_owner[owner].append((inner, value))
        self.config = config
        #: where the changelog goes: its records are encoded for this topic's subject
        self.resolved_topic = resolved_topic
        #: where each accepted interaction goes with its customer (None: not published)
        self.interactions_topic = interactions_topic
        # The worker keeps snapshots, not per-key records: the core need not track its changes.
        self.resolver = (
            Resolver.restore(config, by_owner["r"]) if by_owner["r"] else Resolver(config, track_changes=False)
        )
        self.batcher = Batcher.restore(window_ms, grace_ms, by_owner["b"], track_changes=False)
        self.changelog = Changelog.restore(by_owner["c"], track_changes=False)
        #: with ``customer_stage``: steps carry effects for the per-customer stage (`resolver.effects`)
        #: instead of changelog records; the profiles are built there
        self.effect_log: EffectLog | None = None
        #: ``customer_partitions``: the per-customer stage in this process, that many partitions, builds
        #: the records from the effects (`IRL_CUSTOMER_STAGE`); the steps carry both
        self.stages = [CustomerStage() for _ in range(customer_partitions)]
        #: ``compact_growth`` > 0 (``IRL_COMPACT_GROWTH``): the state is compacted after a step once its
        #: hot rows reach that many times its cold ones (`resolver.compaction`); None: never
        self.cadence = Cadence(compact_growth) if compact_growth > 0 else None
        self.compactions = 0
        if customer_stage or customer_partitions:
            self._start_effects()

    def _start_effects(self) -> None:
        """Hand profiles to the per-customer stage from here on (the graph starts naming whom a status shows on)."""
        self.effect_log = EffectLog()
        self.resolver.flush_effects(self.effect_log)

    def snapshot(self) -> bytes:
        """The whole pipeline as bytes: the core's snapshot, the pending windows, the versions and the effect log.

        The effect log (with ``customer_stage``): the customers touched since its last flush,
        whose effects the next tick or action sends. A restore between two ticks sends them then.
        """
        core = self.resolver.snapshot()
        batcher = json.dumps(list(self.batcher.records()), separators=(",", ":")).encode()
        versions = json.dumps(list(self.changelog.records()), separators=(",", ":")).encode()
        log = self.effect_log
        fmt = _FORMAT if log is None else _FORMAT_EFFECTS
        body = _HEAD.pack(_MAGIC, fmt, len(core), len(batcher), len(versions)) + core + batcher + versions
        if log is not None:
            pending = json.dumps(self.resolver.pending_effects(log), separators=(",", ":")).encode()
            body += _LENGTH.pack(len(pending)) + pending
        return body + struct.pack(">I", zlib.crc32(body))

    @classmethod
    def from_snapshot(
        cls,
        config: ResolverConfig,
        window_ms: int,
        grace_ms: int,
        data: bytes,
        *,
        resolved_topic: str = "irl.customers.resolved",
        interactions_topic: str | None = None,
        customer_stage: bool = False,
        customer_partitions: int = 0,
        compact_growth: float = 0.0,
    ) -> Pipeline:
        """The pipeline `snapshot()` wrote (with the same configuration). Raises SnapshotFormatError.

        With ``customer_stage`` (the stage over Kafka), a snapshot without an effect log (format 1:
        written with the stage off) sends every live customer whole at the next flush: the
        partitions hold none of them yet. In process (``customer_partitions``) they are seeded instead.
        """
        if len(data) < _HEAD.size + 4 or zlib.crc32(data[:-4]) != struct.unpack(">I", data[-4:])[0]:
            raise SnapshotFormatError("not a pipeline snapshot, or damaged (CRC)")
        magic, version, n_core, n_batcher, n_versions = _HEAD.unpack_from(data)
        if magic != _MAGIC or version not in (_FORMAT, _FORMAT_EFFECTS):
            raise SnapshotFormatError(f"pipeline snapshot format {version}, this worker reads 1 and 2")
        at = _HEAD.size
        core = data[at : at + n_core]
        at += n_core
        batcher = json.loads(data[at : at + n_batcher])
        at += n_batcher
        versions = json.loads(data[at : at + n_versions])
        at += n_versions
        pending: dict[str, Any] | None = None
        if version == _FORMAT_EFFECTS:
            (n_pending,) = _LENGTH.unpack_from(data, at)
            at += _LENGTH.size
            pending = json.loads(data[at : at + n_pending])
        self = cls(
            config,
            window_ms,
            grace_ms,
            resolved_topic=resolved_topic,
            interactions_topic=interactions_topic,
            customer_partitions=customer_partitions,
            compact_growth=compact_growth,
        )
        self.resolver = Resolver.from_snapshot(config, core, track_changes=False)
        del core
        release_freed()  # the load's decoded sections, freed: back to the system (`streams.heap`)
        self.batcher = Batcher.restore(window_ms, grace_ms, [tuple(r) for r in batcher], track_changes=False)
        self.changelog = Changelog.restore([tuple(r) for r in versions], track_changes=False)
        if customer_stage or customer_partitions:
            self._start_effects()  # a new graph: watched again
            if pending is not None:
                self.effect_log = EffectLog.restore(pending)
            elif customer_stage and self.effect_log is not None:
                # The partitions may hold inputs from an earlier run over Kafka: customers that left
                # meanwhile, an erased person's. A `Reset` first drops them (docs/architecture.md).
                # The aliases go again too: the `Reset` drops those the partitions held.
                self.effect_log.note_all(self.resolver.customer_ids(), reset=True, aliases=self.resolver.aliases())
        return self

    def on_events(
        self,
        offset: int,
        events: Sequence[Interaction],
        *,
        quiet: bool = False,
        founds: Sequence[Found | None] | None = None,
    ) -> list[Step]:
        """Apply events (in log order); returns their step. Windows close on the next tick, never here.

        ``quiet``: the same state, without the interactions records (already on the broker).
        ``founds``: what triage's parser (of this pipeline's configuration: `streams.linkbatch.founds_of`)
        found of each event, or None where it did not: the same step, without parsing those again.
        """
        step = Step(offset)
        topic = None if quiet else self.interactions_topic
        log = self.effect_log
        resolver = self.resolver
        apply, apply_found = resolver.apply, resolver.apply_found
        record = self.batcher.record_event
        touched_ids = step.touched
        source_of = resolver.source_of
        encode = codecs().resolved_interaction.encode if topic is not None else None  # once, not per event
        found_each = founds if founds is not None else itertools.repeat(None, len(events))
        for event, found in zip(events, found_each, strict=True):
            outcome = apply(event) if found is None else apply_found(event, found)
            step.events += 1
            if outcome.duplicate:
                step.duplicates += 1
                if outcome.conflict:
                    step.reused_ids.append(event.event_id)
                    if not quiet:
                        step.reused.append(event)
                continue
            if topic is not None and encode is not None and outcome.customer_id is not None and not outcome.suppressed:
                step.interactions.append(_interaction(event, outcome.customer_id, topic, source_of, encode))
            touched, created, absorbed = outcome.touched, outcome.created, outcome.absorbed
            record(event.occurred_at, touched, created, absorbed)
            if absorbed:
                step.note(outcome)
            else:  # `Step.note` without absorbed ids, inline: once per event
                touched_ids.update(touched)
                if created:
                    touched_ids.update(created)
            if log is not None:  # sent at the next tick or action: once per customer, however many steps
                log.note(outcome, in_place=resolver.in_place)
        if self.cadence is not None and resolver.compact_if(self.cadence, len(events)):
            self.compactions += 1
            release_freed()  # the hot tables, freed: back to the system (`streams.heap`)
        return [step]

    def on_action(self, offset: int, action: dict[str, Any], *, quiet: bool = False) -> Iterator[Step]:
        """Apply an operator action (block, split, merge, erase, dismiss) in log order; its effects join the batch.

        ``action`` has ``action`` (block | split | merge | erase | dismiss), ``customer_id``
        and/or ``identifier`` (for merge and dismiss: the other customer's id; a dismiss without
        one is about the customer alone), ``actor``, ``reason``, ``action_id`` and ``at`` (epoch
        ms). Unknown actions change nothing; a refused merge changes nothing and says why in
        the step's notes. ``quiet`` as in `close_due`.
        """
        kind = action.get("action")
        cid = action.get("customer_id") or ""
        ident = action.get("identifier") or ""
        current = self.resolver.current_id(cid) if cid else None
        erased: list[str] = []
        absorbed: list[str] = []  # ids absorbed into an erased customer before (`Resolver.absorbed_into`)
        split: list[str] = []
        forget: list[str] = []
        if kind == "block" and ident:
            forget = self._detached(ident)  # the read model must not answer with its old customer
            outcome = self.resolver.block(ident)
        elif kind == "split" and current and ident:
            forget = self._detached(ident)  # written again with its new customer's profile, if any
            outcome = self.resolver.split(current, ident)
            if outcome.created:  # parts: a SPLIT; else it only stops linking (an UPDATED, if anything moved)
                split.append(current)
        elif kind == "merge" and current and ident:
            merged = self.resolver.merge(current, ident)
            outcome = merged.outcome
            if not merged.accepted:
                step = Step(offset)
                step.notes.append(f"action {action.get('action_id')}: merge refused: {merged.reason}")
                return self._filled([self._flushed(step)], quiet)
        elif kind == "dismiss" and cid:
            step = Step(offset)
            step.notes.extend(self.resolver.dismiss(cid, ident or None).notes)
            return self._filled([self._flushed(step)], quiet)
        elif kind == "erase" and current:
            before = self.resolver.profile(current)
            forget = [] if before is None else identifiers_of(before.to_record())
            # and what its evidence carries without linking (blocked, cut): the read model may still hold it
            forget += [i for k in self.resolver.evidence_keys(current) if (i := identifier_of_key(k)) is not None]
            # The ids absorbed into the person had effects of their own (their inputs, in their effects
            # partitions): each is sent an `Erased` too, so that its partition forgets them (docs/privacy.md).
            absorbed = self.resolver.absorbed_into(current)
            outcome = self.resolver.erase(current)
            erased.append(current)
        else:
            step = Step(offset)
            step.notes.append(f"action {action.get('action_id')}: nothing to do ({kind})")
            return self._filled([self._flushed(step)], quiet)
        at = action.get("at")
        clock = self.batcher.clock
        when = clock if clock is not None else (at if isinstance(at, int) else 0)
        self.batcher.record(
            when,
            touched=outcome.touched,
            created=outcome.created,
            absorbed=outcome.absorbed,
            erased=erased,
            split=[c for c in split if self.resolver.current_id(c) == c],
        )
        step = Step(offset)
        step.note(outcome, erased)
        step.notes.extend(outcome.notes)
        if self.effect_log is not None:
            self.effect_log.note(outcome, [*erased, *absorbed])
            step.effects = self.resolver.flush_effects(self.effect_log)
        step.forget.extend(dict.fromkeys(forget))
        step.erased_absorbed = absorbed
        return self._filled(itertools.chain([step], self.close_due(offset, quiet=quiet)), quiet)

    def _detached(self, ref: str) -> list[str]:
        """The read model's identifier string of the identifier `ref` names (none for an event or evidence id)."""
        key = self.resolver.identifier_key(ref)
        found = None if key is None else identifier_of_key(key)
        return [] if found is None else [found]

    def _flushed(self, step: Step) -> Step:
        """``step`` with the effects noted so far (``customer_stage``): every action sends them (a tick, if it closes
        a window)."""
        if self.effect_log is not None:
            step.effects = self.resolver.flush_effects(self.effect_log)
        return step

    def on_tick(self, offset: int, now_ms: int, *, quiet: bool = False) -> Iterator[Step]:
        """Record a wall-clock tick and publish every window it closes: steps of at most `CHUNK` customers.

        Lazy: each step is built when it is taken, so a tick that closes many windows (a backlog
        of history) lets its caller send each step before the next is built. ``quiet`` as in
        `close_due`. With ``customer_stage``, a tick that closes a window first sends the effects
        noted since the last send (in steps of at most `CHUNK`), then its `Tick`.
        """
        self.batcher.tick(now_ms)
        first: Iterable[Step] = [Step(offset)]
        if self.effect_log is not None and self.batcher.due():
            # Effects go when a window closes (before its records are planned), not at every tick:
            # a customer touched many times between two closes is sent once.
            first = self._flushing(offset, Tick(now_ms))
        return self._filled(itertools.chain(first, self.close_due(offset, quiet=quiet)), quiet)

    def _flushing(self, offset: int, tick: Tick) -> Iterator[Step]:
        """Steps of at most `CHUNK` effects of what the effect log noted, the last with ``tick``; built lazily."""
        assert self.effect_log is not None
        step = Step(offset)
        for effect in self.resolver.flushing_effects(self.effect_log):
            step.effects.append(effect)
            if len(step.effects) >= CHUNK:
                yield step
                step = Step(offset)
        step.effects.append(tick)
        yield step

    def close_due(self, offset: int, *, quiet: bool = False) -> Iterator[Step]:
        """Publish each closed window, oldest first, in steps of at most `CHUNK` customers.

        One step may carry several small windows (each record keeps its own window), so
        replaying history with short windows does not cost a step per window. ``quiet``: the
        windows' records are on the broker already; the windows close and the versions move
        exactly as they would, but only the ``ERASED`` records are built (`Changelog.build`).
        """
        step = Step(offset)
        size = 0  # records in `step` (quiet: that a normal apply would make)
        batcher = self.batcher
        for window in batcher.due():
            pending = batcher.pending(window.start)  # what `take` hands out, chunk by chunk
            # Every id the window absorbed, taken before its first chunk: a survivor lists the ids
            # it absorbed (`merged_from`) whichever chunk took them (an absorbed id touched earlier
            # in the window is handed out among the live ids, possibly in an earlier chunk).
            absorbed = {} if pending is None else dict(pending.absorbed)
            window_absorbed = {} if quiet and self.effect_log is None else absorbed
            # Whom each of them belongs to now, looked up once for every chunk of the window (the state does
            # not move while it closes): `Changelog.survivors`.
            survivors = self.changelog.survivors(window_absorbed, self.resolver) if window_absorbed else None
            while True:
                if size >= CHUNK:
                    yield step
                    step, size = Step(offset), 0
                if pending is None or pending.is_empty():  # `take` would hand out nothing more
                    batcher.close(window)
                    step.closed.append(window)
                    break
                size = self._publish(step, window, window_absorbed, survivors, CHUNK - size, quiet) + size
        if step.records or step.closed or step.effects:
            yield step

    def _publish(
        self,
        step: Step,
        window: Window,
        window_absorbed: dict[str, str],
        survivors: dict[str, list[str]] | None,
        limit: int,
        quiet: bool,
    ) -> int:
        """Take a chunk of at most ``limit`` customers of ``window`` into ``step``; returns how much the step grew.

        The records, encoded, or (``customer_stage``) their `Planned` effects, chunked as a normal
        apply chunks them whatever ``quiet`` says (the partitions decide what to send). ``quiet``
        otherwise plans the chunk and builds its ``ERASED`` records only. ``window_absorbed``: the
        window's absorbed ids (none when quiet without the stage), ``survivors`` their
        `Changelog.survivors`.
        """
        chunk = self.batcher.take(window, limit)
        if self.effect_log is not None:
            planned = self.changelog.plan(chunk, window_absorbed, self.resolver, survivors)
            step.effects.extend(planned)
            return len(planned)
        if quiet:
            # Planned, not built: the same versions, and the count of records a normal apply makes,
            # so the steps are cut (and the ERASED records ordered) exactly as a normal apply does.
            planned = self.changelog.plan(chunk, window_absorbed, self.resolver, survivors)
            records = [record_of(p, None) for p in planned if p.change == "ERASED"]
            grown = len(planned)
        else:
            records = self.changelog.build(chunk, window_absorbed, self.resolver, survivors)
            grown = len(records)
        step.records.extend(records)
        topic = self.resolved_topic
        step.outputs.extend((r["customer_id"].encode(), encode_resolved(r, topic)) for r in records)
        return grown

    def _filled(self, steps: Iterable[Step], quiet: bool) -> Iterator[Step]:
        """``steps``, each with the records the in-process per-customer stage built from its effects.

        The records come in the order their `Planned` effects do (the order `build` gives), so
        the outputs are the bytes a pipeline without the stage sends. ``quiet``: only ``ERASED``
        records, as `Changelog.build` does. No in-process stage: ``steps`` as they are.
        """
        stages = self.stages
        for step in steps:
            if stages and step.effects:
                built: dict[tuple[str, int], dict[str, Any]] = {}
                for stage, part in zip(stages, by_partition(step.effects, len(stages)), strict=True):
                    self._seed(stage, part)
                    for record in stage.apply(part, quiet=quiet):
                        built[record["customer_id"], record["version"]] = record
                    stage.take_changes()  # the mirror reads the resolver here: nobody else asks
                order = [e for e in step.effects if isinstance(e, Planned)]
                step.records = [r for e in order if (r := built.get((e.customer_id, e.version))) is not None]
                topic = self.resolved_topic
                step.outputs = [(r["customer_id"].encode(), encode_resolved(r, topic)) for r in step.records]
            yield step

    def _seed(self, stage: CustomerStage, effects: list[Effect]) -> None:
        """Give ``stage`` the inputs it lacks for ``effects`` (customers not sent since a snapshot load).

        In process only: the resolver is at the offset of the effects, so its inputs are theirs.
        """
        for effect in effects:
            if isinstance(effect, Seen | Patched | Planned):
                cid = effect.customer_id
                if stage.input(cid) is None:
                    inp = self.resolver.profile_input(cid)
                    if inp is not None:
                        stage.apply([Replaced(cid, inp)])

    def mirror_records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every live customer's profile record (for a full Redis rebuild), sorted by id."""
        for cid in self.resolver.customer_ids():
            profile = self.resolver.profile(cid)
            if profile is not None:
                yield cid, profile.to_record()

    def mirror_aliases(self) -> list[tuple[str, str]]:
        """Every alias a full Redis rebuild writes with `mirror_records`: absorbed id -> the id it was
        absorbed into, for ids whose chain ends at a live customer (`Resolver.aliases`), sorted."""
        return self.resolver.aliases()


def _interaction(
    event: Interaction,
    customer_id: str,
    topic: str,
    source_of: Callable[[str, str], str],
    encode: Callable[[Mapping[str, Any], str], bytes],
) -> tuple[bytes, bytes]:
    """The interactions topic's record of one accepted event (key: its customer id), written with
    ``encode`` (the process's `ResolvedInteraction` codec's, looked up once per batch).

    Its ``source_id`` is the touchpoint record the customer lists (`Resolver.source_of`: a
    WhatsApp account as its wa_id, however the event spelt it), so the CRM owns it by that record.
    """
    record = {
        "event_id": event.event_id,
        "customer_id": customer_id,
        "touchpoint": event.touchpoint,
        "source_id": source_of(event.touchpoint, event.source_id),
        "interaction": event.interaction,
        "occurred_at": event.occurred_at,
        "attributes": dict(event.attributes),
    }
    return customer_id.encode(), encode(record, topic)
