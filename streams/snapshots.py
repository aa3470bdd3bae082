"""The ordered stage's snapshots: written in the background, kept in chunks in the state topic.

The state topic (compacted, one partition) holds the latest snapshot of the pipeline as
chunks of at most `CHUNK_BYTES` and, after them, a manifest naming the links offset it
was taken at:

    key                          value
    snapshot/<offset>/000000     bytes 0 .. 900k of the snapshot
    snapshot/<offset>/000001     ...
    snapshot                     {"offset": 41230, "chunks": 3, "size": 2351234, "crc": 123456789}
    snapshot/<older>/...         tombstones: the previous snapshot's chunks, once this manifest is written
    snapshot/published           {"offset": 41388}: every output of the links records up to it is on the broker

One partition keeps that order, so whenever a manifest is readable its chunks are too, and
a crash while chunks are written leaves the previous manifest and its chunks intact.
Recovery loads the snapshot and applies the links log after its offset again (the tail):
the pipeline's outputs are a function of the log, so the tail publishes the same bytes.
The part of the tail up to ``snapshot/published`` is applied without publishing
(`streams.sequencer`, "quiet catch-up"); that key starts with ``snapshot/`` so that an older
worker, which knows no such record, ignores it as it ignores chunks.

`BackgroundSnapshot` takes the snapshot in a forked child (copy-on-write, like Redis's
BGSAVE): the ordered stage goes on applying while the child writes the bytes to a file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.pipeline import Pipeline
from streams.runtime import die_with_parent
from streams.topics import records_to_end

__all__ = [
    "CHUNK_BYTES",
    "MANIFEST_KEY",
    "PUBLISHED_KEY",
    "BackgroundSnapshot",
    "FoldedState",
    "Manifest",
    "StoredState",
    "published_record",
    "read_stored_state",
    "snapshot_records",
    "snapshot_start",
    "unpack_state",
]

log = logging.getLogger("irl.worker")

MANIFEST_KEY = b"snapshot"
_CHUNK_PREFIX = b"snapshot/"
#: The links offset up to which every output is on the broker (written by the ordered stage after the acks).
PUBLISHED_KEY = b"snapshot/published"
#: Largest chunk record (the state topic accepts 16 MiB records; small chunks fetch evenly).
CHUNK_BYTES = 900_000


@dataclass(frozen=True, slots=True)
class Manifest:
    """Which snapshot is current: its links offset, chunk count, size and CRC-32.

    `erasures`: the erasures this snapshot is the first to include (receipts without personal
    data: customer id, action id and offset, times). Storing it makes the links log before it
    and the state topic before its chunks deletable; a worker restored from it deletes them
    again if it has to (DeleteRecords is idempotent) and writes the receipts.
    """

    offset: int
    chunks: int
    size: int
    crc: int
    erasures: tuple[dict[str, Any], ...] = ()

    def chunk_keys(self) -> list[bytes]:
        return [f"snapshot/{self.offset}/{i:06d}".encode() for i in range(self.chunks)]

    def encode(self) -> bytes:
        body: dict[str, Any] = {"offset": self.offset, "chunks": self.chunks, "size": self.size, "crc": self.crc}
        if self.erasures:
            body["erasures"] = list(self.erasures)
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, value: bytes) -> Manifest:
        d = json.loads(value)
        erasures = tuple(e for e in d.get("erasures", ()) if isinstance(e, dict))
        return cls(int(d["offset"]), int(d["chunks"]), int(d["size"]), int(d["crc"]), erasures)


class FoldedState(dict[bytes, bytes]):
    """The state topic folded to its end (key -> latest value), with the offset of each key's latest record."""

    def __init__(self) -> None:
        super().__init__()
        self.offsets: dict[bytes, int] = {}


def snapshot_start(folded: Mapping[bytes, bytes], manifest: Manifest | None) -> int | None:
    """The state topic offset of the current snapshot's first chunk (None when unknown)."""
    offsets = getattr(folded, "offsets", None)
    if manifest is None or not offsets:
        return None
    found = [offsets[k] for k in manifest.chunk_keys() if k in offsets]
    return min(found) if found else None


def snapshot_records(
    data: bytes,
    offset: int,
    previous: Manifest | None,
    forget: Iterable[bytes] = (),
    erasures: Iterable[dict[str, Any]] = (),
) -> tuple[Manifest, list[tuple[bytes, bytes | None]]]:
    """The state records that make `data` (taken at links `offset`) current, in the order to send them.

    Chunks first (the first record sent is the first chunk), the manifest (with `erasures`),
    then tombstones for the previous snapshot's chunks and for the keys in `forget` (records
    of the older one-record-per-key format).
    """
    chunks = max(1, -(-len(data) // CHUNK_BYTES))
    manifest = Manifest(offset, chunks, len(data), zlib.crc32(data), tuple(erasures))
    out: list[tuple[bytes, bytes | None]] = [
        (key, data[i * CHUNK_BYTES : (i + 1) * CHUNK_BYTES]) for i, key in enumerate(manifest.chunk_keys())
    ]
    out.append((MANIFEST_KEY, manifest.encode()))
    if previous is not None and previous.offset != offset:
        out.extend((key, None) for key in previous.chunk_keys())
    out.extend((key, None) for key in forget)
    return manifest, out


@dataclass(frozen=True, slots=True)
class StoredState:
    """What the state topic holds: the current snapshot, or records of the older format, or nothing."""

    manifest: Manifest | None
    data: bytes | None
    #: key -> value of the older one-record-per-key format (text)
    legacy: dict[str, str]
    #: every output of the links records up to this offset is on the broker (None: not known)
    published: int | None = None
    #: the mark was written with the per-customer stage over Kafka: the outputs it covers are the effects
    #: (their records are the partitions' to publish), not the records
    published_effects: bool = False


def published_record(offset: int, effects: bool = False) -> tuple[bytes, bytes]:
    """The state record saying that every output of the links records up to `offset` is on the broker.

    ``effects``: written with the per-customer stage over Kafka (its outputs are effects, not records).
    """
    body: dict[str, object] = {"offset": offset}
    if effects:  # only then: the stage-off mode's marks are as before
        body["effects"] = True
    return PUBLISHED_KEY, json.dumps(body, separators=(",", ":")).encode()


def unpack_state(folded: Mapping[bytes, bytes]) -> StoredState:
    """Split a folded state topic into its snapshot and any older-format records.

    Raises ValueError when the manifest names chunks that are missing or do not match.
    """
    manifest: Manifest | None = None
    data: bytes | None = None
    raw = folded.get(MANIFEST_KEY)
    if raw is not None:
        manifest = Manifest.decode(raw)
        parts = [folded.get(key) for key in manifest.chunk_keys()]
        if any(p is None for p in parts):
            raise ValueError(f"snapshot at offset {manifest.offset}: chunks missing from the state topic")
        data = b"".join(p for p in parts if p is not None)
        if len(data) != manifest.size or zlib.crc32(data) != manifest.crc:
            raise ValueError(f"snapshot at offset {manifest.offset}: size or CRC does not match its manifest")
    legacy = {
        k.decode(): v.decode() for k, v in folded.items() if k != MANIFEST_KEY and not k.startswith(_CHUNK_PREFIX)
    }
    published, effects = None, False
    raw = folded.get(PUBLISHED_KEY)
    if raw is not None:
        try:
            mark = json.loads(raw)
            published, effects = int(mark["offset"]), mark.get("effects") is True
        except (ValueError, KeyError, TypeError, AttributeError):
            published = None  # unreadable: the tail is published again, as before this record existed
    return StoredState(manifest, data, legacy, published, effects)


async def read_stored_state(
    bootstrap: str, topic: str, timeout_s: float, *, security: Mapping[str, Any] | None = None
) -> dict[bytes, bytes]:
    """Fold the state topic to its end (latest value per key; tombstones delete). Raises like `records_to_end`."""
    state = FoldedState()
    async for rec in records_to_end(bootstrap, topic, timeout_s, security=security):
        if rec.key is None:
            continue
        if rec.value is None:
            state.pop(rec.key, None)
            state.offsets.pop(rec.key, None)
        else:
            state[rec.key] = rec.value
            state.offsets[rec.key] = rec.offset
    return state


class BackgroundSnapshot:
    """At most one snapshot at a time, taken by a forked child that writes it to a file in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._child: tuple[int, int, Path, float] | None = None

    @property
    def running(self) -> bool:
        return self._child is not None

    def remove_stale(self) -> int:
        """Delete snapshot files no child of this process is writing (left by a killed worker); return how many.

        A snapshot file holds the whole state, an erased person's data included: none may outlive its use.
        """
        busy = set() if self._child is None else {self._child[2], self._child[2].with_suffix(".tmp")}
        removed = 0
        for path in list(self.folder.glob("snapshot-*")) if self.folder.is_dir() else []:
            if path not in busy:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def start(self, pipeline: Pipeline, offset: int) -> None:
        """Fork a child that writes `pipeline.snapshot()` (taken at links `offset`) to a file."""
        if self._child is not None:
            raise RuntimeError("a snapshot is already being taken")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.remove_stale()
        path = self.folder / f"snapshot-{offset}.bin"
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: write the file and leave, touching nothing of the parent's I/O
            code = 1
            try:
                # It holds the parent's sockets (the web port among them): after a kill -9 of the worker it
                # must not outlive it, or the restarted worker cannot bind its port until the dump ends (found
                # by `bench.kill_restart` under load: a 31-s dump, the restart exited on EADDRINUSE). Its
                # file is removed by the next snapshot's `remove_stale`.
                die_with_parent(parent)
                # Background work: the stage it was forked from (fresh events, heartbeats) goes first.
                with contextlib.suppress(OSError):
                    os.nice(10)
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(pipeline.snapshot())
                os.replace(tmp, path)
                code = 0
            finally:
                os._exit(code)
        self._child = (pid, offset, path, time.monotonic())

    def poll(self) -> tuple[int, bytes, float] | None:
        """The finished snapshot (links offset, bytes, seconds taken), once; None while running or after a failure."""
        if self._child is None:
            return None
        pid, offset, path, t0 = self._child
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == 0:
            return None
        self._child = None
        try:
            if os.waitstatus_to_exitcode(status) != 0:
                log.error("the snapshot at links offset %d failed in its child (status %d)", offset, status)
                return None
            return offset, path.read_bytes(), time.monotonic() - t0
        finally:
            path.unlink(missing_ok=True)

    def abandon(self) -> None:
        """Forget a snapshot in progress (its partition moved away): end the child, drop its file."""
        if self._child is None:
            return
        pid, _offset, path, _t0 = self._child
        self._child = None
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ChildProcessError, ProcessLookupError):
            pass
        path.unlink(missing_ok=True)
        path.with_suffix(".tmp").unlink(missing_ok=True)
