"""Effects with their place in the links log, and one partition of the per-customer stage applying each once.

Over Kafka the effects travel at least once: the ordered stage sends again, byte for byte,
the effects of every links record after its published mark (a restart re-applies its
tail, `streams.sequencer`), and a partition may have applied them already. Applying an
old effect again is not harmless: a `Seen` of an earlier step put on a customer's later
input, then a `Planned` record filled from it, would publish another content under a
version the CRM has (docs/architecture.md, "byte-identical republishing").

So each effect carries its `Position`: the links offset of the record whose steps made it
and its ordinal among that record's effects (`place`). The ordered stage's effects are a
function of the log (a pipeline snapshot keeps its pending `EffectLog`), so a position
names one effect whatever run sent it; a partition applies effects in position order and
skips any at or before the last it applied (`PartitionFeed`).

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
from resolver.effects import Effect

__all__ = ["PartitionFeed", "Position", "decode_position", "encode_position", "place"]

_POSITION = struct.Struct(">qI")


class Position(NamedTuple):
    """Where an effect comes from: the links record's offset and the effect's ordinal among that record's effects."""

    offset: int
    ordinal: int


def place(offset: int, effects: Sequence[Effect], start: int = 0) -> list[tuple[Position, Effect]]:
    """``effects`` of links record ``offset`` with their positions, the first at ordinal ``start``."""
    return [(Position(offset, start + i), effect) for i, effect in enumerate(effects)]


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
