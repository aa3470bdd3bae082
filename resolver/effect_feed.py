"""Effects with their place in the links log, and one partition of the per-customer stage applying each once.

Over Kafka the effects travel at least once: the ordered stage sends again, byte for byte,
the effects of every links record after its published mark (a restart re-applies its
tail, `streams.sequencer`), and a partition may have applied them already. Applying an
old effect again is not harmless: a `Seen` of an earlier step put on a customer's later
input, then a `Planned` record filled from it, would publish another content under a
version the CRM has (docs/architecture.md, "byte-identical republishing").

So each effect carries its `Position`: the links offset of the record whose steps made it
and its ordinal among that record's effects of its partition (`batches`; a `Tick` and a
`Reset` count in every partition). Which effects a links record makes, and for whom, is a function of the log
(a pipeline snapshot keeps its pending `EffectLog`), so a position names one customer's effect
whatever run sent it; its form may differ (a restored stage sends a customer whole where the
clean run sent a `Patched`: `resolver.effects`), and both bring the partition to the same input.
A partition applies effects in position order and skips any at or before the last it applied
(`PartitionFeed`).

On the wire, one Kafka record per partition per step (`batches`): the effects of that
partition, `resolver.effects.encode_effects`, with the position of the first (header
``irl.position``); the others follow it, ordinal by ordinal (`unbatch`).

    ordered stage   rec 40: [e0 e1 e2]   rec 41: [e0]  ✕ crash ── restore at 38 ── rec 39.. 41 again
    partition k     (40,0) (40,2) (41,0)                  (40,0) (40,2) (41,0) skipped  (42,0) ...

Pure: standard library only.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from resolver.customer_stage import CustomerStage, StageError
from resolver.effect_codec import by_partition, decode_effects, encode_effects, partition_of
from resolver.effects import Effect, Reset, Tick

__all__ = [
    "MAX_BATCH_BYTES",
    "PartitionFeed",
    "Position",
    "batches",
    "count_by_partition",
    "decode_position",
    "encode_position",
    "place",
    "unbatch",
]

#: The largest value `batches` makes unless one effect alone is larger (the links log's batches are as large).
MAX_BATCH_BYTES = 512 * 1024

_POSITION = struct.Struct(">qI")


class Position(NamedTuple):
    """Where an effect comes from: the links record's offset and the effect's ordinal among that record's effects."""

    offset: int
    ordinal: int


def place(offset: int, effects: Sequence[Effect], start: int = 0) -> list[tuple[Position, Effect]]:
    """``effects`` of links record ``offset`` with their positions, the first at ordinal ``start``."""
    return [(Position(offset, start + i), effect) for i, effect in enumerate(effects)]


def batches(
    offset: int, effects: Sequence[Effect], ordinals: list[int], max_bytes: int = MAX_BATCH_BYTES
) -> list[tuple[int, Position, bytes]]:
    """A step's effects as (partition, position of the first, value) per partition, in partition order.

    ``ordinals``: per partition, the ordinal the next effect of links record ``offset`` takes
    there (advanced here; one per partition, `len(ordinals)` partitions). A value over
    ``max_bytes`` is cut in two, each half with its first effect's position.
    """
    out: list[tuple[int, Position, bytes]] = []
    for p, part in enumerate(by_partition(effects, len(ordinals))):
        if part:
            _cut(out, p, offset, ordinals[p], part, max_bytes)
            ordinals[p] += len(part)
    return out


def _cut(
    out: list[tuple[int, Position, bytes]], p: int, offset: int, first: int, part: Sequence[Effect], limit: int
) -> None:
    value = encode_effects(part)
    if len(value) <= limit or len(part) == 1:
        out.append((p, Position(offset, first), value))
        return
    half = len(part) // 2
    _cut(out, p, offset, first, part[:half], limit)
    _cut(out, p, offset, first + half, part[half:], limit)


def count_by_partition(effects: Iterable[Effect], ordinals: list[int]) -> None:
    """Advance ``ordinals`` past ``effects`` as `batches` does, sending nothing (a quiet step: on the broker)."""
    n = len(ordinals)
    for effect in effects:
        if isinstance(effect, Tick | Reset):
            for p in range(n):
                ordinals[p] += 1
        else:
            ordinals[partition_of(effect.customer_id, n)] += 1


def unbatch(position: Position, value: bytes) -> list[tuple[Position, Effect]]:
    """The effects of one record of the effects topic with their positions (one, or a batch from `batches`)."""
    offset, first = position
    return [(Position(offset, first + i), e) for i, e in enumerate(decode_effects(value))]


def encode_position(position: Position) -> bytes:
    """12 bytes: the offset (signed 64-bit) and the ordinal (unsigned 32-bit), big-endian."""
    return _POSITION.pack(position.offset, position.ordinal)


def decode_position(data: bytes) -> Position:
    """The position `encode_position` wrote. Raises ValueError for anything else."""
    if len(data) != _POSITION.size:
        raise ValueError(f"not an effect position ({len(data)} bytes)")
    return Position(*_POSITION.unpack(data))


class PartitionFeed:
    """One partition of the per-customer stage and the last effect it applied: each effect applied once.

    Invariant: `stage` holds exactly the effects of this partition up to `last`, each once, in
    position order, whatever duplicates the topic holds; so the records it returns for a
    position are the same bytes in every run.
    """

    def __init__(self, stage: CustomerStage | None = None, last: Position | None = None) -> None:
        self.stage = stage if stage is not None else CustomerStage()
        #: the position of the last effect applied (None: none yet)
        self.last = last

    def apply(self, items: Iterable[tuple[Position, Effect]], *, quiet: bool = False) -> list[dict[str, Any]]:
        """Apply the effects after `last`, in order; returns the records they publish (`CustomerStage.apply`).

        An effect at or before `last` (the one applied last, or one before it in ``items``) was
        applied already, sent again after the ordered stage restored: skipped. ``quiet`` as in
        `CustomerStage.apply`.
        """
        fresh: list[Effect] = []
        last = self.last
        for position, effect in items:
            if last is not None and position <= last:
                continue
            fresh.append(effect)
            last = position
        records = self.stage.apply(fresh, quiet=quiet)
        self.last = last
        return records

    def snapshot(self) -> bytes:
        """The partition's state and its last position as bytes; `from_snapshot` reads them."""
        head = json.dumps(None if self.last is None else list(self.last)).encode()
        return head + b"\n" + self.stage.snapshot()

    @classmethod
    def from_snapshot(cls, data: bytes) -> PartitionFeed:
        """The feed `snapshot` wrote. Raises StageError (or ValueError) for anything else."""
        head, sep, rest = data.partition(b"\n")
        if not sep:
            raise StageError("not a partition feed snapshot")
        last = json.loads(head)
        return cls(CustomerStage.from_snapshot(rest), None if last is None else Position(*last))
