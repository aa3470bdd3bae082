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
from resolver.engine import Resolver
from resolver.interaction import Interaction
from streams.codec import encode_resolved

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


class Pipeline:
    """Resolver + batches + versions, driven by events and ticks (integer ms)."""

    def __init__(
        self,
        config: ResolverConfig,
        window_ms: int,
        grace_ms: int,
        records: Iterable[tuple[str, str]] = (),
    ) -> None:
        by_owner: dict[str, list[tuple[str, str]]] = {"r": [], "b": [], "c": []}
        for key, value in records:
            owner, _, inner = key.partition("/")
            if owner in by_owner:
                by_owner[owner].append((inner, value))
        self.config = config
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
            step.touched.update(outcome.touched)
            for gone, survivor in outcome.absorbed:
                step.removed[gone] = survivor
                step.touched.discard(gone)
        steps = [self._drain(step)]
        steps.extend(self.close_due(offset))
        return steps

    def on_tick(self, offset: int, now_ms: int) -> list[Step]:
        """Record a wall-clock tick and publish every window it closes."""
        self.batcher.tick(now_ms)
        return [self._drain(Step(offset)), *self.close_due(offset)]

    def close_due(self, offset: int) -> Iterator[Step]:
        """Publish each closed window, oldest first, in chunks of `CHUNK` customers."""
        for window in self.batcher.due():
            while True:
                pending = self.batcher.pending(window.start)
                window_absorbed = dict(pending.absorbed) if pending else {}
                chunk = self.batcher.take(window, CHUNK)
                if chunk.is_empty():
                    self.batcher.close(window)
                    yield self._drain(Step(offset))
                    break
                step = Step(offset)
                step.records = self.changelog.build(chunk, window_absorbed, self.resolver)
                step.outputs = [(r["customer_id"].encode(), encode_resolved(r)) for r in step.records]
                yield self._drain(step)

    def mirror_records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every live customer's profile record (for a full Redis rebuild), sorted by id."""
        for cid in self.resolver.customer_ids():
            profile = self.resolver.profile(cid)
            if profile is not None:
                yield cid, profile.to_record()
