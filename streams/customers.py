"""The per-customer stage over Kafka (``IRL_CUSTOMER_STAGE=kafka``): the records of each effects partition.

    <app id>-effects (P partitions) ──getmany──▶ CustomerPartition (a `PartitionFeed`) ──▶ irl.customers.resolved
         ▲ a partition's effects of a step,              │ commit the effects offset once the records are acked
         │ `encode_effects`, header the first's position  └─▶ <app id>-customers-state: a snapshot now and then
    the ordered stage (`streams.sequencer`)

Every worker is a member of the group ``<app id>-customers`` and holds some effects
partitions, one `CustomerPartition` each. Murmur2 of the customer id puts a customer's
effects in the partition of the same number as its records on the resolved topic (both
have P partitions).

* **Exactly once into the state, at least once out.** A partition applies each effect once
  (`resolver.effect_feed`: effects carry their position; the ordered stage sends again the
  effects after its published mark when it restores). It publishes the records of a fetch,
  waits until the broker has them, then commits the fetch's offsets.
* **Recovery.** Taking a partition: load its snapshot (`streams.customer_state`), read on
  from the offset after it; the effects up to the group's committed offset had their records
  acknowledged, so they are applied quietly (nothing sent: as the ordered stage's quiet
  catch-up), the rest as usual. The records sent again are the same bytes: the feed's state
  at an offset is a function of the effects topic.
* **Its customers in Redis.** Each partition mirrors its own customers into the Redis read
  model (`streams.mirror.PartitionMirror`, at its effects offset), flushed before each
  snapshot is stored; the ordered stage writes no Redis in this mode.

`CustomerPartition` is the logic, driven in process by tests through `load`, `apply` and
`tend` with fake ports (`CustomerPorts`); `streams.customer_loop` is its Kafka loop.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from resolver.effect_feed import PartitionFeed, Position, decode_position, unbatch
from resolver.effects import Effect, Erased, Reset, Tick
from streams.codec import encode_resolved
from streams.customer_state import PartitionSnapshot, snapshot_records, stored_snapshot
from streams.mirror import PartitionMirror

__all__ = [
    "BEHIND_SNAPSHOTS",
    "POSITION_HEADER",
    "CustomerPartition",
    "CustomerPorts",
    "EffectRecord",
    "note_published",
]

log = logging.getLogger("irl.worker")

#: The header carrying an effect's position (`resolver.effect_feed.encode_position`).
POSITION_HEADER = "irl.position"
#: While effects wait behind a partition (a backlog), its snapshot waits at most this many `snapshot_interval_s`.
BEHIND_SNAPSHOTS = 6


@dataclass(frozen=True, slots=True)
class EffectRecord:
    """One record of an effects partition, as the stage needs it."""

    offset: int
    #: `encode_position`'s bytes (the `POSITION_HEADER` header): its first effect's position
    position: bytes
    #: `encode_effects`' bytes (one partition's effects of a step; or one effect, `encode_effect`)
    value: bytes


@dataclass
class CustomerPorts:
    """What a partition of the per-customer stage does I/O through (Kafka in the worker, fakes in tests)."""

    #: the state topic (``<app id>-customers-state``) folded to its end (key -> value)
    read_state: Callable[[], Awaitable[Mapping[bytes, bytes]]]
    #: send state records of an effects partition in order (to the state partition of the same number) and wait
    #: until the broker has them; returns the first one's offset (None: unknown)
    send_state: Callable[[int, list[tuple[bytes, bytes | None]]], Awaitable[int | None]]
    #: publish changelog records (key customer id) and wait until the broker has them all
    publish: Callable[[list[tuple[bytes, bytes]]], Awaitable[None]]
    #: commit the next effects offset to read of a partition (a failure is logged, not raised)
    commit: Callable[[int, int], Awaitable[None]]
    #: the group's committed next offset of a partition (None: none)
    committed: Callable[[int], Awaitable[int | None]]
    #: make the records of an effects partition before the first offset, and of its state partition before the
    #: second (if not None), unreadable (Kafka's DeleteRecords); None: this stage deletes nothing
    truncate: Callable[[int, int, int | None], Awaitable[None]] | None = None


def note_published(stats: dict[str, Any], publish_ms: Any, window_end: Any) -> None:
    """Note that records of the window ending at `window_end` reached the broker at `publish_ms` (epoch ms), for
    the views' publish delay (`last_window_end`, `last_publish_ms`): the latest window's last publish is kept,
    an earlier window's records (a partition behind the others) change nothing."""
    if not isinstance(publish_ms, int) or not isinstance(window_end, int):
        return
    last = stats.get("last_window_end")
    if not isinstance(last, int) or window_end > last:
        stats["last_window_end"], stats["last_publish_ms"] = window_end, publish_ms
    elif window_end == last:
        stats["last_publish_ms"] = max(publish_ms, int(stats.get("last_publish_ms") or 0))


class CustomerPartition:
    """One effects partition: its feed, the last offset applied, its stored snapshot. One owner at a time.

    Invariant: `feed` holds exactly the partition's effects up to `applied`; every record they
    publish up to the group's committed offset is on the broker.
    """

    def __init__(
        self,
        partition: int,
        ports: CustomerPorts,
        resolved_topic: str,
        stats: dict[str, Any],
        snapshot_interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        reseal_after_s: float | None = None,
        on_published: Callable[[list[dict[str, Any]]], None] | None = None,
        mirror: PartitionMirror | None = None,
    ) -> None:
        self.partition = partition
        self.ports = ports
        self.resolved_topic = resolved_topic
        self.stats = stats
        self.snapshot_interval_s = snapshot_interval_s
        self.clock = clock
        self.feed = PartitionFeed()
        #: the last effects offset applied to `feed` (-1: none)
        self.applied = -1
        self.manifest: PartitionSnapshot | None = None
        #: effects below this offset have their records on the broker: applied quietly (`load`)
        self.quiet_below = 0
        self._stored_at = clock()
        #: send each ERASED record again this long after it was published (None: never), as the
        #: ordered stage does without this stage (`streams.sequencer.Sequencer._reseal`): (when, key, value)
        self.reseal_after_s = reseal_after_s
        self._reseals: list[tuple[float, bytes, bytes]] = []
        #: an erasure was applied: its effects (the person's data) are to leave the effects partition once a
        #: snapshot after it is stored (`tend`)
        self._erasing = False
        #: effects other than ticks applied since the last snapshot (ticks alone are not worth one)
        self._changed = 0
        #: the state partition's offset of the current snapshot's first chunk (None: unknown)
        self._state_start: int | None = None
        #: called with the decoded records of each published fetch once the broker has them (the views' journal)
        self.on_published = on_published
        #: the partition's customers in the Redis read model (None: not mirrored)
        self.mirror = mirror

    async def load(self, folded: Mapping[bytes, bytes]) -> int:
        """Load the partition's snapshot from the folded state topic; returns the next effects offset to read."""
        stored = stored_snapshot(folded, self.partition)
        if stored is not None:
            self.manifest, data = stored
            self.feed = PartitionFeed.from_snapshot(data)
            self.applied = self.manifest.offset
        committed = await self.ports.committed(self.partition)
        self.quiet_below = committed if committed is not None else 0
        if self.mirror is not None:
            await self.mirror.resume(self.feed.stage, self.applied)
        log.info(
            "effects partition %d: %d customers restored at offset %d; published up to offset %d: applied quietly",
            self.partition,
            len(self.feed.stage.customer_ids()),
            self.applied,
            self.quiet_below - 1,
        )
        return self.applied + 1

    async def apply(self, records: Sequence[EffectRecord]) -> None:
        """Apply a fetch (in offset order; records applied already are skipped), publish its records, commit.

        The offsets are committed only once the broker has every record the fetch published.
        """
        fresh = [r for r in records if r.offset > self.applied]
        if not fresh:
            return
        if fresh[0].offset != self.applied + 1:  # never expected: only retention deletes effects not applied
            log.warning(
                "effects partition %d: offsets %d to %d were not there to apply",
                self.partition,
                self.applied + 1,
                fresh[0].offset - 1,
            )
        held = sum(1 for r in fresh if r.offset < self.quiet_below)  # records, in offset order
        quiet, loud = _decoded(fresh[:held]), _decoded(fresh[held:])
        kinds = Counter(type(e) for _p, e in quiet) + Counter(type(e) for _p, e in loud)
        # A `Reset` (a switch-over) drops inputs that may be an erased person's: as an erasure, at once.
        self._erasing = self._erasing or any(issubclass(k, _ERASING) for k in kinds)
        # The quiet part's records are on the broker already: only its ERASED records come back, to send again later.
        erased = self.feed.apply(quiet, quiet=True) if quiet else []
        published = self.feed.apply(loud) if loud else []
        topic = self.resolved_topic
        outputs = [(r["customer_id"].encode(), encode_resolved(r, topic)) for r in published]
        if outputs:
            await self.ports.publish(outputs)
            ends = [r["window_end"] for r in published if isinstance(r.get("window_end"), int)]
            if ends:
                note_published(self.stats, int(time.time() * 1000), max(ends))
            if self.on_published is not None:
                self.on_published(published)
        if self.reseal_after_s is not None:
            due = self.clock() + self.reseal_after_s
            again = [(r["customer_id"].encode(), encode_resolved(r, topic)) for r in erased]
            again += [out for r, out in zip(published, outputs, strict=True) if r["change"] == "ERASED"]
            self._reseals.extend((due, key, value) for key, value in again)
        self.applied = fresh[-1].offset
        self._changed += sum(n for k, n in kinds.items() if not issubclass(k, Tick))
        self.stats["effects_applied"] += len(quiet) + len(loud)
        self.stats["customer_records_published"] += len(published)
        await self.ports.commit(self.partition, self.applied + 1)
        if self.mirror is not None:
            self.mirror.note(self.feed.stage, self.applied)
            await self.mirror.flush(self.feed.stage)

    async def tend(self, force: bool = False, behind: bool = False) -> bool:
        """Store a snapshot when effects other than ticks were applied and `snapshot_interval_s` passed (or
        ``force``); True if stored. Ticks alone are read again after a restart: they cost nothing.

        ``behind``: effects wait after `applied` (a backlog): the snapshot waits too, up to
        `BEHIND_SNAPSHOTS` intervals, and is stored once the partition has caught up. A snapshot
        encodes every customer of the partition, so a backlog paid it every interval, more often
        the slower it went (s33: a fifth of the per-customer process's CPU on a loaded machine);
        effects after a snapshot are only applied again after a crash, without records up to the
        group's commit.

        After an erasure, at once; then the effects partition before the snapshot's offset is
        deleted (the person's effects go with it). ERASED records due to be sent again are sent.
        """
        now = self.clock()
        if self._reseals and self._reseals[0][0] <= now:
            due = [(k, v) for when, k, v in self._reseals if when <= now]
            self._reseals = [r for r in self._reseals if r[0] > now]
            await self.ports.publish(due)
            self.stats["erased_resent"] += len(due)
        last = -1 if self.manifest is None else self.manifest.offset
        stored = False
        interval = self.snapshot_interval_s * (BEHIND_SNAPSHOTS if behind else 1)
        timely = self._changed > 0 and now - self._stored_at >= interval
        storing = self.applied > last and (force or self._erasing or timely)
        if self.mirror is not None:  # before a snapshot, Redis is brought up to it: never behind a stored snapshot
            await self.mirror.flush(self.feed.stage, force=storing)
        if storing:
            manifest, records = snapshot_records(self.partition, self.applied, self.feed.snapshot(), self.manifest)
            self._state_start = await self.ports.send_state(self.partition, records)
            self.manifest, self._stored_at, last, stored = manifest, now, manifest.offset, True
            self._changed = 0
        if self._erasing and self.applied == last:
            await self._truncate(last + 1)
        return stored

    async def close(self) -> bool:
        """A clean stop: store a snapshot if effects other than ticks were applied since the last one, so that
        the next owner restores this partition without reading its tail again; True if stored."""
        return self._changed > 0 and await self.tend(force=True)

    async def _truncate(self, before: int) -> None:
        """Delete the effects before ``before`` and the older snapshots (an erasure's snapshot is stored); or later."""
        truncate = self.ports.truncate
        try:
            if truncate is not None:
                await truncate(self.partition, before, self._state_start)
                log.info(
                    "erasure: effects partition %d deleted before offset %d, its state before %s",
                    self.partition,
                    before,
                    self._state_start,
                )
            self._erasing = False
        except Exception as exc:
            log.warning("erasure: deleting effects partition %d before %d failed (%s)", self.partition, before, exc)


#: effects after which a partition stores its snapshot at once and deletes its effects before it (`tend`)
_ERASING = (Erased, Reset)


def _decoded(records: Sequence[EffectRecord]) -> list[tuple[Position, Effect]]:
    return [placed for r in records for placed in unbatch(decode_position(r.position), r.value)]
