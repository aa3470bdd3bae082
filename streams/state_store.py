"""Durable resolver state: a one-partition write-ahead topic, held in memory by a Faust table.

Every step is first written as ONE record under the key ``__wal__`` (its offset, its state
changes and its output records), then its changes key by key. The state topic has one
partition, so it keeps that order: when any later write is durable, the whole step before
it is. After a crash, `redo()` re-applies the last write-ahead record (the only step that
may be half-written) and returns it, so its outputs can be sent again: byte-identical,
because they were stored, not recomputed.

The writer holds the state in the `irl-state` Faust table and sends its records to the
state topic itself, in order and batched. When it takes over it folds that topic to its end
(`read_state`, one batched read) and makes the table hold exactly that
(`TableStateLog.replace`). Faust's own record-by-record recovery of the table is not used:
it was slow (about 11k records/s) and once handed a new owner the write-ahead record
without the state before it. Keys and values are UTF-8 text stored as bytes (the ``raw``
serializer).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

from streams.pipeline import Step
from streams.topics import records_to_end

__all__ = ["InMemoryStateLog", "StateLog", "TableStateLog", "WriteAhead", "decode_wal", "encode_wal", "read_state"]

WAL_KEY = "__wal__"


@dataclass(frozen=True, slots=True)
class WriteAhead:
    """The last step's record: enough to finish it after a crash."""

    offset: int
    changes: dict[str, str | None]
    outputs: list[tuple[bytes, bytes]]


def encode_wal(step: Step) -> str:
    """The write-ahead record of a step (compact JSON; outputs base64)."""
    return json.dumps(
        {
            "offset": step.offset,
            "changes": step.changes,
            "outputs": [[base64.b64encode(k).decode(), base64.b64encode(v).decode()] for k, v in step.outputs],
        },
        separators=(",", ":"),
    )


def decode_wal(text: str) -> WriteAhead:
    """Inverse of `encode_wal`."""
    d = json.loads(text)
    return WriteAhead(
        d["offset"],
        d["changes"],
        [(base64.b64decode(k), base64.b64decode(v)) for k, v in d["outputs"]],
    )


class StateLog(Protocol):
    """Where the single writer keeps its state records."""

    def records(self) -> Iterator[tuple[str, str]]: ...

    def write(self, step: Step) -> None: ...

    def redo(self) -> WriteAhead | None: ...


class _Base:
    def _put(self, key: str, value: str | None) -> None:
        raise NotImplementedError

    def _get(self, key: str) -> str | None:
        raise NotImplementedError

    def write(self, step: Step) -> None:
        """Write `step` ahead, then apply its changes."""
        self._put(WAL_KEY, encode_wal(step))
        for key, value in step.changes.items():
            self._put(key, value)

    def redo(self) -> WriteAhead | None:
        """Re-apply the last write-ahead record (idempotent) and return it."""
        text = self._get(WAL_KEY)
        if text is None:
            return None
        wal = decode_wal(text)
        for key, value in wal.changes.items():
            self._put(key, value)
        return wal

    def applied_offset(self) -> int:
        """Offset of the last step written (-1 when none)."""
        text = self._get(WAL_KEY)
        return -1 if text is None else decode_wal(text).offset


class InMemoryStateLog(_Base):
    """A dict-backed state log (tests, `irl rebuild-redis` from a changelog read)."""

    def __init__(self, data: MutableMapping[str, str] | None = None) -> None:
        self.data: MutableMapping[str, str] = {} if data is None else data

    def _put(self, key: str, value: str | None) -> None:
        if value is None:
            self.data.pop(key, None)
        else:
            self.data[key] = value

    def _get(self, key: str) -> str | None:
        return self.data.get(key)

    def records(self) -> Iterator[tuple[str, str]]:
        """Every state record but the write-ahead one."""
        for key, value in self.data.items():
            if key != WAL_KEY:
                yield key, value


class TableStateLog(_Base):
    """The Faust table adapter: the table's local store, plus the records for the state topic (partition 0).

    Writes update the table's local store at once and queue the changelog records;
    the caller sends `take_outgoing()` in one batch, in order (see streams.batches).
    """

    def __init__(self, table: Any, changelog_topic: str) -> None:
        self.table = table
        #: the write-ahead state topic the caller sends `take_outgoing()` to (one partition)
        self.changelog_topic = changelog_topic
        self._outgoing: list[tuple[bytes, bytes | None]] = []

    def _put(self, key: str, value: str | None) -> None:
        k = key.encode()
        if value is None:
            self.table.data.pop(k, None)
            self._outgoing.append((k, None))
        else:
            v = value.encode()
            self.table.data[k] = v
            self._outgoing.append((k, v))

    def take_outgoing(self) -> list[tuple[bytes, bytes | None]]:
        """The changelog records queued since the last call, in write order."""
        out, self._outgoing = self._outgoing, []
        return out

    def _get(self, key: str) -> str | None:
        v = self.table.data.get(key.encode())
        return None if v is None else bytes(v).decode()

    def records(self) -> Iterator[tuple[str, str]]:
        """Every state record but the write-ahead one."""
        wal = WAL_KEY.encode()
        for key, value in list(self.table.data.items()):
            if key != wal and value is not None:
                yield bytes(key).decode(), bytes(value).decode()

    def replace(self, data: dict[str, str]) -> int:
        """Make the table hold exactly `data` (the changelog folded by `read_state`); return how many keys differed."""
        have = {bytes(k).decode(): bytes(v).decode() for k, v in list(self.table.data.items()) if v is not None}
        differ = sum(1 for k in have.keys() | data.keys() if have.get(k) != data.get(k))
        if differ:
            for key in have.keys() - data.keys():
                self.table.data.pop(key.encode(), None)
            for key, value in data.items():
                if have.get(key) != value:
                    self.table.data[key.encode()] = value.encode()
        return differ


async def read_state(
    bootstrap: str, topic: str, timeout_s: float = 60.0, *, security: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Fold a compacted state changelog into its current key -> value state (tombstones delete).

    Raises LookupError when the topic does not exist, TimeoutError when reading takes longer
    than `timeout_s`. `security`: as for `streams.topics.records_to_end`.
    """
    state: dict[str, str] = {}
    async for rec in records_to_end(bootstrap, topic, timeout_s, security=security):
        if rec.key is None:
            continue
        key = rec.key.decode()
        if rec.value is None:
            state.pop(key, None)
        else:
            state[key] = rec.value.decode()
    return state
