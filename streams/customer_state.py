"""The per-customer stage's snapshots: one per effects partition, chunked in ``<app id>-customers-state``.

The scheme of `streams.snapshots` (chunks first, then a manifest, then tombstones for the
chunks it replaces; one partition of a compacted topic keeps that order), effects partition
p's in partition p of the state topic (an erasure deletes that partition before its new
snapshot), with keys per effects partition:

    key                     value
    p3/812/000000           bytes 0 .. 900k of effects partition 3's snapshot (`PartitionFeed.snapshot`)
    p3                      {"offset": 812, "chunks": 1, "size": 41230, "crc": 123456789, "format": 1}
    p3/790/000000           a tombstone: the chunk of the snapshot it replaces

``offset`` is the last effects offset the snapshot includes: a worker taking the partition
loads it and reads on from the next offset. ``format`` (since s36; none before, the same
bytes: format 1) is the layout of the snapshot's bytes (`PartitionFeed.snapshot`): a worker
refuses a format it does not know (`SnapshotFormatError`, naming both) rather than misread
it, and exits (the stage's supervisor restarts it, and it refuses again until it is upgraded).
Workers before s36 read no ``format``: a later format must also keep them from reading it
(another manifest key, or a first line they refuse), not only raise the number.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from streams.snapshots import CHUNK_BYTES

__all__ = ["SNAPSHOT_FORMAT", "PartitionSnapshot", "SnapshotFormatError", "snapshot_records", "stored_snapshot"]

#: The layout of the snapshot bytes this worker writes, and the newest it reads (every one from 1).
SNAPSHOT_FORMAT = 1


class SnapshotFormatError(ValueError):
    """A per-customer snapshot of a format this worker does not read (a newer worker wrote it)."""


@dataclass(frozen=True, slots=True)
class PartitionSnapshot:
    """The manifest of one effects partition's snapshot: its effects offset, chunks, size and CRC-32."""

    partition: int
    offset: int
    chunks: int
    size: int
    crc: int

    @property
    def key(self) -> bytes:
        return f"p{self.partition}".encode()

    def chunk_keys(self) -> list[bytes]:
        return [f"p{self.partition}/{self.offset}/{i:06d}".encode() for i in range(self.chunks)]

    def encode(self) -> bytes:
        body = {
            "offset": self.offset,
            "chunks": self.chunks,
            "size": self.size,
            "crc": self.crc,
            "format": SNAPSHOT_FORMAT,
        }
        return json.dumps(body, separators=(",", ":")).encode()


def snapshot_records(
    partition: int, offset: int, data: bytes, previous: PartitionSnapshot | None
) -> tuple[PartitionSnapshot, list[tuple[bytes, bytes | None]]]:
    """The state records that make ``data`` (effects up to ``offset``) partition ``partition``'s snapshot, in order."""
    chunks = max(1, -(-len(data) // CHUNK_BYTES))
    manifest = PartitionSnapshot(partition, offset, chunks, len(data), zlib.crc32(data))
    out: list[tuple[bytes, bytes | None]] = [
        (key, data[i * CHUNK_BYTES : (i + 1) * CHUNK_BYTES]) for i, key in enumerate(manifest.chunk_keys())
    ]
    out.append((manifest.key, manifest.encode()))
    if previous is not None and previous.offset != offset:
        out.extend((key, None) for key in previous.chunk_keys())
    return manifest, out


def stored_snapshot(folded: Mapping[bytes, bytes], partition: int) -> tuple[PartitionSnapshot, bytes] | None:
    """Partition ``partition``'s snapshot in the folded state topic (None: none). Raises ValueError if damaged,
    `SnapshotFormatError` if of a format this worker does not read."""
    raw = folded.get(f"p{partition}".encode())
    if raw is None:
        return None
    d = json.loads(raw)
    fmt = d.get("format", 1)  # none: written before s36, in format 1
    if type(fmt) is not int or not 1 <= fmt <= SNAPSHOT_FORMAT:
        raise SnapshotFormatError(
            f"effects partition {partition}: the per-customer snapshot in the state topic is in format {fmt!r}; "
            f"this worker reads formats 1 to {SNAPSHOT_FORMAT}: a newer worker wrote it. Run that version (or a "
            "later one) rather than this one; nothing was read"
        )
    manifest = PartitionSnapshot(partition, int(d["offset"]), int(d["chunks"]), int(d["size"]), int(d["crc"]))
    parts = [folded.get(key) for key in manifest.chunk_keys()]
    if any(p is None for p in parts):
        raise ValueError(f"effects partition {partition}: snapshot chunks missing from the state topic")
    data = b"".join(p for p in parts if p is not None)
    if len(data) != manifest.size or zlib.crc32(data) != manifest.crc:
        raise ValueError(f"effects partition {partition}: snapshot size or CRC does not match its manifest")
    return manifest, data
