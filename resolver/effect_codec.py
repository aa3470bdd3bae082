"""The effects on the wire and their partitions: how the ordered stage's effects (`resolver.effects`)
travel to the per-customer stage.

* `partition_of`: a customer id's partition, as Kafka's default partitioner places a key
  (murmur2), so the effects topic and the resolved topic agree; `by_partition` splits a step's
  effects by it, in order.
* `encode_effects` / `decode_effects`: one record per effects partition per step (compact JSON
  arrays: identifier keys and names once per record in a table, windows once, planned records'
  change kinds as codes; a piece of evidence without its name key, which the partition computes
  from the name); `encode_effect` / `decode_effect`: one effect alone. A round trip gives equal
  effects (tests/unit/test_effect_codec.py).

Pure: standard library only. The effects hold personal data, as the links log does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from resolver.changelog import Planned
from resolver.effects import (
    CustomerInput,
    Effect,
    Erased,
    Facts,
    Head,
    Patched,
    Removed,
    Replaced,
    Reset,
    Seen,
    Tick,
    head_of,
)
from resolver.names import name_key
from resolver.window import Window

__all__ = [
    "BATCH_MAGIC",
    "by_partition",
    "clear_memos",
    "decode_effect",
    "decode_effects",
    "encode_effect",
    "encode_effects",
    "murmur2",
    "partition_of",
]


# ---------------------------------------------------------------------------- partitions


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`), as a signed 32-bit int."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    extra = length % 4
    tail = length - extra
    if extra >= 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h >= 1 << 31 else h


#: partition counts -> customer id -> its partition, for ids seen lately (murmur2 in Python costs microseconds)
_PARTITION_MEMO: dict[int, dict[str, int]] = {}
_MEMO_IDS = 200_000


def partition_of(customer_id: str, partitions: int) -> int:
    """The partition of a customer id: Kafka's default partitioner of the id as a UTF-8 key."""
    memo = _PARTITION_MEMO.get(partitions)
    if memo is None:
        memo = _PARTITION_MEMO[partitions] = {}
    found = memo.get(customer_id)
    if found is None:
        if len(memo) >= _MEMO_IDS:
            memo.clear()
        found = memo[customer_id] = (murmur2(customer_id.encode()) & 0x7FFFFFFF) % partitions
    return found


def by_partition(effects: Iterable[Effect], partitions: int) -> list[list[Effect]]:
    """Effects split over ``partitions``, each in the order given; a `Tick` or a `Reset` goes to every one."""
    out: list[list[Effect]] = [[] for _ in range(partitions)]
    memo = _PARTITION_MEMO.get(partitions)
    if memo is None:
        memo = _PARTITION_MEMO[partitions] = {}
    known = memo.get  # `partition_of`'s memo read inline: this runs for every effect sent
    for effect in effects:
        if isinstance(effect, _TO_EVERY):
            for part in out:
                part.append(effect)
        else:
            cid = effect.customer_id
            p = known(cid)
            out[partition_of(cid, partitions) if p is None else p].append(effect)
    return out


#: the effects every partition is sent (`by_partition`; a tuple: `isinstance` is quicker with one than a union)
_TO_EVERY = (Tick, Reset)


# ---------------------------------------------------------------------------- bytes

_PHONE, _QUARANTINED, _REFUSED = 1, 2, 4
#: one encoder for every effect (`json.dumps` with options builds one per call)
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


#: name -> its name key, for names seen lately (`_name_key`)
_NAME_KEYS: dict[str, str | None] = {}


def clear_memos() -> None:
    """Empty the memos of partitions and name keys (pure functions of their keys; `resolver.compaction`)."""
    _PARTITION_MEMO.clear()
    _NAME_KEYS.clear()


def _name_key(name: str | None) -> str | None:
    """`Graph.class_of`'s value for ``name`` (`resolver.names.name_key`), memoised: most names repeat."""
    if name is None:
        return None
    try:
        return _NAME_KEYS[name]
    except KeyError:
        if len(_NAME_KEYS) >= _MEMO_IDS:
            _NAME_KEYS.clear()
        found = _NAME_KEYS[name] = name_key(name)
        return found


def _facts_from(body: Sequence[Any], table: Sequence[str]) -> Facts:
    vid, tp, src, name, at, span, count, eff, tkeys, flags = body
    return Facts(
        vid,
        tp,
        src,
        name,
        _name_key(name),
        at,
        at + span,
        count,
        tuple([table[i] for i in eff]),
        tuple([table[i] for i in tkeys]),
        bool(flags & _PHONE),
        bool(flags & _QUARANTINED),
        bool(flags & _REFUSED),
    )


def _head_from(body: Sequence[Any], table: Sequence[str]) -> Head:
    phones, emails, strong, shared, near, members, phone_count, email_count = body
    keys = None if members is None else tuple([table[i] for i in members])
    return (tuple(phones), tuple(emails), strong, bool(shared), near, keys, phone_count, email_count)


def _keyed(head: Head | None, facts: Sequence[Facts]) -> tuple[list[Any] | None, list[list[Any]], list[str]]:
    """A head and pieces of evidence as JSON-able values, keys once each in a table they refer to by index.

    A piece of evidence goes without its name key (a function of its name: `_name_key`).
    """
    table: dict[str, int] = {}
    put = table.setdefault
    head_body = None
    if head is not None:
        phones, emails, strong, shared, near, keys, phone_count, email_count = head
        members = None if keys is None else [put(k, len(table)) for k in keys]
        head_body = [list(phones), list(emails), strong, int(shared), near, members, phone_count, email_count]
    bodies = [
        [
            f.vid,
            f.tp,
            f.src,
            f.name,
            f.at,
            f.last - f.at,
            f.count,
            [put(k, len(table)) for k in f.eff],
            [put(k, len(table)) for k in f.tkeys],
            f.phone + 2 * f.quarantined + 4 * f.refused,  # _PHONE, _QUARANTINED, _REFUSED
        ]
        for f in facts
    ]
    return head_body, bodies, list(table)


#: change kinds of planned records on the wire (a batch's ``Planned`` bodies)
_CHANGES = ("CREATED", "UPDATED", "MERGED", "ABSORBED", "SPLIT", "ERASED")
_CHANGE_CODE = {c: i for i, c in enumerate(_CHANGES)}


def _body(effect: Effect, windows: dict[Window, int] | None = None) -> list[Any]:
    """An effect as JSON-able values (``[kind, ...]``). ``windows``: a batch's windows (`Planned` refers to one)."""
    if isinstance(effect, Planned):
        if windows is None:
            w = effect.window
            body = ["w", effect.customer_id, effect.change, effect.version, w.start, w.end, effect.survivor_id]
        else:
            at = windows.setdefault(effect.window, len(windows))
            change = _CHANGE_CODE.get(effect.change, effect.change)
            body = ["W", effect.customer_id, change, effect.version, at, effect.survivor_id]
        if effect.merged_from:
            body.append(list(effect.merged_from))
        elif body[-1] is None:
            body.pop()  # no survivor, nothing merged: the common case, five values
        return body
    if isinstance(effect, Patched):
        head, facts, table = _keyed(effect.head, effect.facts)
        return ["p", effect.customer_id, head, table, facts, list(effect.gone)]
    if isinstance(effect, Replaced):
        inp = effect.input
        head, facts, table = _keyed(head_of(inp), inp.evidence)
        return ["R", effect.customer_id, head, table, facts]
    if isinstance(effect, Seen):
        _head_body, facts, table = _keyed(None, (effect.facts,))
        return ["S", effect.customer_id, table, facts[0]]
    if isinstance(effect, Removed):
        return ["a", effect.customer_id, effect.survivor_id]
    if isinstance(effect, Erased):
        return ["e", effect.customer_id]
    if isinstance(effect, Reset):
        return ["X"]
    return ["t", effect.now]


def _effect(body: Sequence[Any], windows: Sequence[Window] = ()) -> Effect:
    """The effect `_body` made (and the older forms: ``r`` with its input as an object, ``s``)."""
    kind = body[0]
    if kind == "W":
        change = body[2] if isinstance(body[2], str) else _CHANGES[body[2]]
        survivor = body[5] if len(body) > 5 else None
        merged = tuple(body[6]) if len(body) > 6 else ()
        return Planned(body[1], change, body[3], windows[body[4]], survivor, merged)
    if kind == "p":
        _, cid, head, table, facts, gone = body
        return Patched(
            cid,
            None if head is None else _head_from(head, table),
            tuple([_facts_from(f, table) for f in facts]),
            tuple(gone),
        )
    if kind == "R":
        _, cid, head, table, facts = body
        evidence = tuple([_facts_from(f, table) for f in facts])
        return Replaced(cid, CustomerInput(cid, *_head_from(head, table), evidence))
    if kind == "S":
        return Seen(body[1], _facts_from(body[3], body[2]))
    if kind == "w":
        survivor = body[6] if len(body) > 6 else None
        merged = tuple(body[7]) if len(body) > 7 else ()
        return Planned(body[1], body[2], body[3], Window(body[4], body[5]), survivor, merged)
    if kind == "a":
        return Removed(body[1], body[2])
    if kind == "e":
        return Erased(body[1])
    if kind == "t":
        return Tick(body[1])
    if kind == "X":
        return Reset()
    if kind == "r":
        return Replaced(body[1], _input_from(body[1], body[2]))
    if kind == "s":
        _, cid, vid, tp, src, name, cls, at, span, count, eff, tkeys, flags = body
        facts = Facts(vid, tp, src, name, cls, at, at + span, count, tuple(eff), tuple(tkeys), *_flags(flags))
        return Seen(cid, facts)
    raise ValueError(f"not an effect: {kind!r}")


def _input_from(cid: str, d: dict[str, Any]) -> CustomerInput:
    """An input in the object form of earlier versions (``["r", cid, {...}]``)."""
    table: list[str] = d["k"]
    evidence = tuple(
        Facts(
            vid,
            tp,
            src,
            name,
            cls,
            at,
            at + span,
            count,
            tuple(table[i] for i in eff),
            tuple(table[i] for i in tkeys),
            bool(flags & _PHONE),
            bool(flags & _QUARANTINED),
            bool(flags & _REFUSED),
        )
        for vid, tp, src, name, cls, at, span, count, eff, tkeys, flags in d["v"]
    )
    members = d["m"]
    return CustomerInput(
        cid,
        tuple(d["p"]),
        tuple(d["e"]),
        d["s"],
        bool(d["h"]),
        d["n"],
        None if members is None else tuple(table[i] for i in members),
        d["c"][0],
        d["c"][1],
        evidence,
    )


def _flags(flags: int) -> tuple[bool, bool, bool]:
    return bool(flags & _PHONE), bool(flags & _QUARANTINED), bool(flags & _REFUSED)


def encode_effect(effect: Effect) -> bytes:
    """One effect as compact JSON (``[kind, ...]``); `decode_effect` gives it back equal."""
    return _ENCODE(_body(effect)).encode()


def decode_effect(data: bytes) -> Effect:
    """The effect `encode_effect` wrote (this version's or an earlier one's). Raises ValueError for anything else."""
    body = json.loads(data)
    if not isinstance(body, list) or not body:
        raise ValueError("not an effect")
    return _effect(body)


#: The first byte of a batch of effects (`encode_effects`); one effect (`encode_effect`) starts with ``[``.
BATCH_MAGIC = b"\x02"


def encode_effects(effects: Sequence[Effect]) -> bytes:
    """Effects of one partition as one value: `BATCH_MAGIC`, then JSON ``[windows, bodies]``.

    The windows of the `Planned` effects are written once each; `decode_effects` gives the effects back equal.
    """
    windows: dict[Window, int] = {}
    bodies = [_body(e, windows) for e in effects]
    return BATCH_MAGIC + _ENCODE([[[w.start, w.end] for w in windows], bodies]).encode()


def decode_effects(data: bytes) -> list[Effect]:
    """The effects `encode_effects` wrote, or the one `encode_effect` wrote. Raises ValueError for anything else."""
    if data[:1] != BATCH_MAGIC:
        return [decode_effect(data)]
    head = json.loads(data[1:])
    if not isinstance(head, list) or len(head) != 2:
        raise ValueError("not a batch of effects")
    windows = [Window(start, end) for start, end in head[0]]
    return [_effect(body, windows) for body in head[1]]
