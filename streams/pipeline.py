"""The single writer's logic: events and ticks in, state records and changelog records out.

`Pipeline` owns one `Resolver`, one `Batcher` and one `Changelog` and does no I/O: each
call returns `Step` values that the agent makes durable (`streams.state_store`), sends
(`irl.customers.resolved`) and mirrors (Redis), in that order. A step is the unit of
atomicity: its state changes and its outputs are written ahead in one record, so a crash
at any point replays to the same bytes.

State keys are namespaced by owner: ``r/`` resolver, ``b/`` batcher, ``c/`` changelog.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from resolver.batching import Batcher
from resolver.changelog import Changelog
from resolver.config import ResolverConfig
from resolver.engine import Outcome, Resolver
from resolver.interaction import Interaction
from resolver.window import Window
from streams.codec import encode_resolved
from streams.readmodel import identifiers_of

__all__ = ["Pipeline", "Step"]

#: Customers per published step: keeps each write-ahead record well under Kafka's 1 MB.
CHUNK = 200


@dataclass(slots=True)
class Step:
    """What one step changed. Apply `changes`, then send `outputs`, then mirror."""

    offset: int
    changes: dict[str, str | None] = field(default_factory=dict)
    outputs: list[tuple[bytes, bytes]] = field(default_factory=list)
    #: live customer ids whose profile must be mirrored
    touched: set[str] = field(default_factory=set)
    #: ids that disappeared: absorbed id -> survivor, erased id -> None
    removed: dict[str, str | None] = field(default_factory=dict)
    events: int = 0
    duplicates: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    #: what happened, masked (operator actions, refusals): for the audit log
    notes: list[str] = field(default_factory=list)
    #: identifier strings to drop from read models (an erased person's)
    forget: list[str] = field(default_factory=list)
    #: the windows this step finished publishing
    closed: list[Window] = field(default_factory=list)

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
    ) -> None:
        by_owner: dict[str, list[tuple[str, str]]] = {"r": [], "b": [], "c": []}
        for key, value in records:
            owner, _, inner = key.partition("/")
            if owner in by_owner:
                by_owner[owner].append((inner, value))
        self.config = config
        #: where the changelog goes: its records are encoded for this topic's subject
        self.resolved_topic = resolved_topic
        self.resolver = Resolver.restore(config, by_owner["r"]) if by_owner["r"] else Resolver(config)
        self.batcher = Batcher.restore(window_ms, grace_ms, by_owner["b"])
        self.changelog = Changelog.restore(by_owner["c"])

    def _drain(self, step: Step) -> Step:
        for prefix, owner in (("r/", self.resolver), ("b/", self.batcher), ("c/", self.changelog)):
            for key, value in owner.drain_changes().items():
                step.changes[prefix + key] = value
        return step

    def on_events(self, offset: int, events: Sequence[Interaction]) -> list[Step]:
        """Apply events (in log order); returns the event step and any window it closed."""
        step = Step(offset)
        for event in events:
            outcome = self.resolver.apply(event)
            step.events += 1
            if outcome.duplicate:
                step.duplicates += 1
                continue
            self.batcher.observe_event_time(event.occurred_at)
            self.batcher.record(
                event.occurred_at,
                touched=outcome.touched,
                created=outcome.created,
                absorbed=outcome.absorbed,
            )
            step.note(outcome)
        steps = [self._drain(step)]
        steps.extend(self.close_due(offset))
        return steps

    def on_action(self, offset: int, action: dict[str, Any]) -> list[Step]:
        """Apply an operator action (block, split, erase) in log order; its effects join the open batch.

        ``action`` has ``action`` (block | split | erase), ``customer_id`` and/or ``identifier``,
        ``actor``, ``reason``, ``action_id`` and ``at`` (epoch ms). Unknown actions change nothing.
        """
        kind = action.get("action")
        cid = action.get("customer_id") or ""
        ident = action.get("identifier") or ""
        current = self.resolver.current_id(cid) if cid else None
        erased: list[str] = []
        split: list[str] = []
        if kind == "block" and ident:
            outcome = self.resolver.block(ident)
        elif kind == "split" and current and ident:
            outcome = self.resolver.split(current, ident)
            split.append(current)
        elif kind == "erase" and current:
            before = self.resolver.profile(current)
            forget = [] if before is None else identifiers_of(before.to_record())
            outcome = self.resolver.erase(current)
            erased.append(current)
        else:
            step = Step(offset)
            step.notes.append(f"action {action.get('action_id')}: nothing to do ({kind})")
            return [self._drain(step)]
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
        if kind == "erase":
            step.forget.extend(forget)
        return [self._drain(step), *self.close_due(offset)]

    def on_tick(self, offset: int, now_ms: int) -> list[Step]:
        """Record a wall-clock tick and publish every window it closes."""
        self.batcher.tick(now_ms)
        return [self._drain(Step(offset)), *self.close_due(offset)]

    def close_due(self, offset: int) -> Iterator[Step]:
        """Publish each closed window, oldest first, in steps of at most `CHUNK` customers.

        One step may carry several small windows (each record keeps its own window), so
        replaying history with short windows does not cost a step per window.
        """
        step = Step(offset)
        for window in self.batcher.due():
            while True:
                if len(step.records) >= CHUNK:
                    yield self._drain(step)
                    step = Step(offset)
                pending = self.batcher.pending(window.start)
                window_absorbed = dict(pending.absorbed) if pending else {}
                chunk = self.batcher.take(window, CHUNK - len(step.records))
                if chunk.is_empty():
                    self.batcher.close(window)
                    step.closed.append(window)
                    break
                records = self.changelog.build(chunk, window_absorbed, self.resolver)
                step.records.extend(records)
                topic = self.resolved_topic
                step.outputs.extend((r["customer_id"].encode(), encode_resolved(r, topic)) for r in records)
        if step.records or step.closed:
            yield self._drain(step)

    def mirror_records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every live customer's profile record (for a full Redis rebuild), sorted by id."""
        for cid in self.resolver.customer_ids():
            profile = self.resolver.profile(cid)
            if profile is not None:
                yield cid, profile.to_record()
