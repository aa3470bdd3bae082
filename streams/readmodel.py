"""The Redis read model: identifier to customer id, customer id to profile.

Redis is never the only copy: everything here is derived from the Faust tables and can
be rebuilt (`rebuild`) at any time. Keys (``P`` is the prefix, ``irl`` by default)::

    P:c:<customer id>   the profile, compact (`_encode_profile`): a JSON array without what the
                        key or other fields give (customer id, touchpoints, last_seen as a delta)
    P:i:<bucket>        hash: identifier -> customer id   (identifier: phone:+91..., email:...,
                        tp:WEB:<source id>; one longer than 64 bytes is stored as #<sha1 hex>)
    P:a:<bucket>        hash: absorbed id -> survivor id
    P:meta              hash: offset (links-topic offset reflected), layout, customers, and the
                        state of each bucketed table: i.level, i.split, i.count (a. the same)

Identifiers and aliases are packed into small hashes, which Redis stores as listpacks
(``hash-max-listpack-entries`` 512 and ``-value`` 64 by default): about 48 bytes per
identifier instead of a top-level key each (dictionary entry, key and object headers: about
80). The buckets grow by linear hashing, one bucket split at a time inside the write script, so
a bucket holds ``_LOAD`` entries on average and at most about twice that at any size, from a
handful of customers to millions, with no resize pause and no bucket count to configure. The
bucket of a field is its SHA-1's first 32 bits modulo ``2**level`` (modulo ``2**(level+1)``
below ``split``); only the scripts compute it, so readers go through `_LOOKUP`.

`offset` lets the worker notice when Redis is empty, flushed, behind its tables or written in
another layout (``layout`` is not `LAYOUT`): in each case it reads as None and the worker rebuilds.
The scripts name keys they build themselves, so the model needs one Redis, not a cluster.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import redis
import redis.asyncio as aioredis

from resolver.graph import holder_of

__all__ = ["LAYOUT", "RedisReadModel", "apply_if_at_blocking", "identifiers_of"]

#: Bumped when the key layout or the profile encoding changes: a model in another layout reads as
#: empty (`RedisReadModel.offset` is None), so the worker rebuilds it instead of mixing layouts.
LAYOUT = "2"

#: Mean entries per bucket before the next split. Under linear hashing an unsplit bucket holds up
#: to twice the mean, so buckets stay well below 128 entries, far inside the listpack limit.
_LOAD = 48

#: Hash fields above Redis's listpack value limit turn the whole bucket into a hashtable.
_MAX_FIELD = 64

#: Write one step. ARGV[1]: the offset the model must be at ('' = unconditional: `apply`, `rebuild`);
#: ARGV[2]: the new offset ('' = leave it); ARGV[3]: the prefix; ARGV[4]: `LAYOUT`; ARGV[5]: `_LOAD`;
#: then triples (op, a, b): c/C set/delete profile a (= b); i/I set/delete identifier field a (-> b);
#: a/A the same for aliases.
#: Returns 0 (nothing written) when the model is not at ARGV[1] in this layout, so the worker
#: rebuilds instead of writing a partial model that looks current; else 1.
_APPLY = """
local meta = KEYS[1]
if ARGV[1] ~= '' then
  local have = redis.call('HMGET', meta, 'offset', 'layout')
  if have[1] ~= ARGV[1] or have[2] ~= ARGV[4] then return 0 end
end
local P, LOAD = ARGV[3], tonumber(ARGV[5])
local tables = {}
local function state(t)
  local s = tables[t]
  if s == nil then
    local v = redis.call('HMGET', meta, t .. '.level', t .. '.split', t .. '.count')
    s = {level = tonumber(v[1]) or 0, split = tonumber(v[2]) or 0, count = tonumber(v[3]) or 0}
    tables[t] = s
  end
  return s
end
local function hash(field) return tonumber(string.sub(redis.sha1hex(field), 1, 8), 16) end
local function bucket(t, s, field)
  local h = hash(field)
  local b = h % 2 ^ s.level
  if b < s.split then b = h % 2 ^ (s.level + 1) end
  return P .. ':' .. t .. ':' .. b
end
local function split(t, s)
  local from = s.split
  local src = P .. ':' .. t .. ':' .. from
  local wide = 2 ^ (s.level + 1)
  local kv = redis.call('HGETALL', src)
  local moved, fields = {}, {}
  for j = 1, #kv, 2 do
    if hash(kv[j]) % wide ~= from then
      moved[#moved + 1] = kv[j]
      moved[#moved + 1] = kv[j + 1]
      fields[#fields + 1] = kv[j]
    end
  end
  if #fields > 0 then
    redis.call('HSET', P .. ':' .. t .. ':' .. (from + 2 ^ s.level), unpack(moved))
    redis.call('HDEL', src, unpack(fields))
  end
  s.split = from + 1
  if s.split == 2 ^ s.level then
    s.level = s.level + 1
    s.split = 0
  end
end
for j = 6, #ARGV, 3 do
  local op, a = ARGV[j], ARGV[j + 1]
  if op == 'c' then
    redis.call('SET', P .. ':c:' .. a, ARGV[j + 2])
  elseif op == 'C' then
    redis.call('DEL', P .. ':c:' .. a)
  else
    local t = string.lower(op)
    local s = state(t)
    if op == t then
      if redis.call('HSET', bucket(t, s, a), a, ARGV[j + 2]) == 1 then
        s.count = s.count + 1
        while s.count > LOAD * (2 ^ s.level + s.split) do split(t, s) end
      end
    else
      s.count = s.count - redis.call('HDEL', bucket(t, s, a), a)
    end
  end
end
for t, s in pairs(tables) do
  redis.call('HSET', meta, t .. '.level', s.level, t .. '.split', s.split, t .. '.count', s.count)
end
if ARGV[2] ~= '' then redis.call('HSET', meta, 'offset', ARGV[2]) end
return 1
"""

#: The value of field ARGV[3] in bucketed table ARGV[2] (see `_APPLY`), or nil. ARGV[1]: the prefix.
_LOOKUP = """
local t, field = ARGV[2], ARGV[3]
local v = redis.call('HMGET', KEYS[1], t .. '.level', t .. '.split')
local level, split = tonumber(v[1]) or 0, tonumber(v[2]) or 0
local h = tonumber(string.sub(redis.sha1hex(field), 1, 8), 16)
local b = h % 2 ^ level
if b < split then b = h % 2 ^ (level + 1) end
return redis.call('HGET', ARGV[1] .. ':' .. t .. ':' .. b, field)
"""

_PROFILE_FIELDS = frozenset(
    (
        "customer_id",
        "phones",
        "emails",
        "source_ids",
        "name",
        "first_seen",
        "last_seen",
        "event_count",
        "touchpoints",
        "confidence",
        "confidence_reasons",
    )
)

#: Script arguments per `_APPLY` call in `rebuild` (a few thousand customers).
_REBUILD_ARGS = 30_000


def identifiers_of(profile: dict[str, Any]) -> list[str]:
    """The identifier strings a profile answers to."""
    out = [f"phone:{p}" for p in profile.get("phones", ())]
    out += [f"email:{e}" for e in profile.get("emails", ())]
    out += [f"tp:{s['touchpoint']}:{s['source_id']}" for s in profile.get("source_ids", ())]
    return out


#: A resolver key's kind letter -> the read model's identifier prefix (`identifiers_of`).
_KINDS = {"p": "phone:", "e": "email:", "t": "tp:"}


def identifier_of_key(key: str) -> str | None:
    """The read model's identifier string of a resolver key (``p:+91...`` -> ``phone:+91...``, a
    person's part of a shared phone, email or account as that identifier: ``t:WEB#asha_rao:u1``
    -> ``tp:WEB:u1``, never the name); None for a key the read model never holds."""
    prefix = _KINDS.get(key[:1])
    if prefix is None or key[1:2] != ":":
        return None
    return prefix + holder_of(key)[2:]


def _field(identifier: str) -> str:
    """The hash field of an identifier: itself, or a digest when too long for a listpack."""
    if len(identifier.encode()) <= _MAX_FIELD:
        return identifier
    return "#" + hashlib.sha1(identifier.encode()).hexdigest()


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _encode_profile(customer_id: str, profile: dict[str, Any]) -> str:
    """The stored form of a profile; `_decode_profile` gives back an equal dict.

    A `Profile.to_record` dict becomes ``[phones, emails, ["TP:source id", ...], name, first_seen,
    last_seen - first_seen, event_count, confidence, reasons(, touchpoints)]``: the customer id is
    the key, and touchpoints are stored only when they are not the source ids' touchpoints (the
    resolver derives both from the same events). Any other dict is stored as it is.
    """
    sources = profile.get("source_ids")
    if (
        set(profile) != _PROFILE_FIELDS
        or profile["customer_id"] != customer_id
        or not isinstance(sources, list)
        or not all(
            isinstance(s, dict)
            and len(s) == 2
            and isinstance(s.get("touchpoint"), str)
            and ":" not in s["touchpoint"]
            and isinstance(s.get("source_id"), str)
            for s in sources
        )
    ):
        return _dumps(profile)
    first, last = profile["first_seen"], profile["last_seen"]
    row = [
        profile["phones"],
        profile["emails"],
        [f"{s['touchpoint']}:{s['source_id']}" for s in sources],
        profile["name"],
        first,
        last - first if _is_int(first) and _is_int(last) else last,
        profile["event_count"],
        profile["confidence"],
        profile["confidence_reasons"],
    ]
    if profile["touchpoints"] != sorted({s["touchpoint"] for s in sources}):
        row.append(profile["touchpoints"])
    return _dumps(row)


def _decode_profile(customer_id: str, raw: bytes | str) -> dict[str, Any]:
    value = json.loads(raw)
    if isinstance(value, dict):
        return value
    phones, emails, sources, name, first, last, count, confidence, reasons, *rest = value
    pairs = [s.partition(":") for s in sources]
    return {
        "customer_id": customer_id,
        "phones": phones,
        "emails": emails,
        "source_ids": [{"touchpoint": tp, "source_id": src} for tp, _, src in pairs],
        "name": name,
        "first_seen": first,
        "last_seen": first + last if _is_int(first) and _is_int(last) else last,
        "event_count": count,
        "touchpoints": rest[0] if rest else sorted({tp for tp, _, _ in pairs}),
        "confidence": confidence,
        "confidence_reasons": reasons,
    }


def _ops(
    profiles: dict[str, dict[str, Any] | None],
    removed: dict[str, str | None],
    forget: Iterable[str],
) -> list[str]:
    """The `_APPLY` triples that write `profiles` (None deletes), alias `removed` and delete `forget` first."""
    ops: list[str] = []
    for ident in forget:
        ops += ["I", _field(ident), ""]
    for cid, profile in profiles.items():
        if profile is None:
            ops += ["C", cid, ""]
        else:
            _put(ops, cid, profile)
    for gone, survivor in removed.items():
        ops += ["C", gone, ""]
        ops += ["A", gone, ""] if survivor is None else ["a", gone, survivor]
    return ops


def _put(ops: list[str], cid: str, profile: dict[str, Any]) -> None:
    ops += ["c", cid, _encode_profile(cid, profile)]
    for ident in identifiers_of(profile):
        ops += ["i", _field(ident), cid]


def _tls(url: str, ca_file: str) -> dict[str, Any]:
    return {"ssl_ca_certs": ca_file} if ca_file and url.startswith("rediss://") else {}


def apply_if_at_blocking(
    url: str,
    prefix: str,
    ca_file: str,
    expect: int,
    write: tuple[dict[str, dict[str, Any] | None], dict[str, str | None], int, Iterable[str]],
) -> bool:
    """`RedisReadModel.apply_if_at` on a connection of its own, blocking: for a forked child (`streams.mirror`).

    ``write`` is (profiles, removed, offset, forget). Raises on a Redis error.
    """
    profiles, removed, offset, forget = write
    client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5, **_tls(url, ca_file))
    try:
        args = [str(expect), str(offset), prefix, LAYOUT, str(_LOAD), *_ops(profiles, removed, forget)]
        return bool(client.register_script(_APPLY)(keys=[f"{prefix}:meta"], args=args))
    finally:
        client.close()


def _text(raw: bytes | str | None) -> str | None:
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)


class RedisReadModel:
    """Writes and reads the read model; a step is one script call (one round trip, atomic)."""

    def __init__(self, client: aioredis.Redis, prefix: str = "irl") -> None:
        self.r = client
        self.p = prefix
        self._meta = f"{prefix}:meta"
        self._apply_script = client.register_script(_APPLY)
        self._lookup = client.register_script(_LOOKUP)

    @classmethod
    def from_url(cls, url: str, prefix: str = "irl", ca_file: str = "") -> RedisReadModel:
        """A read model on `url` (`redis://[:password@]host:port/db`, or `rediss://` for TLS, verified
        with `ca_file` when given, else the system's CAs)."""
        return cls(
            aioredis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, **_tls(url, ca_file)), prefix
        )

    async def close(self) -> None:
        await self.r.aclose()

    async def offset(self) -> int | None:
        """The offset the read model reflects, or None when it is empty, flushed or in another layout."""
        raw, layout = await self.r.hmget(self._meta, ["offset", "layout"])
        return None if raw is None or _text(layout) != LAYOUT else int(raw)

    async def mark(self, offset: int) -> None:
        """Record that the read model reflects ``offset`` (steps that changed nothing visible)."""
        await self.r.hset(self._meta, "offset", offset)

    async def apply(
        self,
        profiles: dict[str, dict[str, Any] | None],
        removed: dict[str, str | None],
        offset: int,
        forget: Iterable[str] = (),
    ) -> None:
        """Write changed profiles (None deletes), aliases of removed ids, and the offset, atomically.

        ``forget`` lists identifiers to delete first (an erased person's).
        """
        await self._run("", str(offset), _ops(profiles, removed, forget))

    async def apply_if_at(
        self,
        expect: int,
        profiles: dict[str, dict[str, Any] | None],
        removed: dict[str, str | None],
        offset: int,
        forget: Iterable[str] = (),
    ) -> bool:
        """`apply`, atomically, only when the model reflects offset ``expect``; False (nothing written) if not."""
        return bool(await self._run(str(expect), str(offset), _ops(profiles, removed, forget)))

    async def _run(self, expect: str, offset: str, ops: list[str], client: Any = None) -> Any:
        args = [expect, offset, self.p, LAYOUT, str(_LOAD), *ops]
        return await self._apply_script(keys=[self._meta], args=args, client=client)

    async def rebuild(
        self, profiles: Iterable[tuple[str, dict[str, Any]]], aliases: Iterable[tuple[str, str]], offset: int
    ) -> int:
        """Replace the whole read model; returns the number of customers written.

        The offset is written last: until then the model reads as empty and `apply_if_at` refuses.
        """
        await self.clear()
        n = 0
        pipe = self.r.pipeline(transaction=False)
        ops: list[str] = []

        async def send(final: bool) -> None:
            nonlocal ops
            if ops:
                await self._run("", "", ops, client=pipe)
                ops = []
            if final or len(pipe) >= 8:
                await pipe.execute()

        for cid, profile in profiles:
            _put(ops, cid, profile)
            n += 1
            if len(ops) >= _REBUILD_ARGS:
                await send(False)
        for gone, survivor in aliases:
            ops += ["a", gone, survivor]
        await send(False)
        pipe.hset(self._meta, mapping={"offset": offset, "layout": LAYOUT, "customers": n})
        await send(True)
        return n

    async def clear(self) -> None:
        """Delete every key of this read model."""
        batch: list[Any] = []
        async for key in self.r.scan_iter(match=f"{self.p}:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await self.r.delete(*batch)
                batch.clear()
        if batch:
            await self.r.delete(*batch)

    async def customer(self, customer_id: str) -> dict[str, Any] | None:
        raw = await self.r.get(f"{self.p}:c:{customer_id}")
        return None if raw is None else _decode_profile(customer_id, raw)

    async def customer_of(self, identifier: str) -> str | None:
        return _text(await self._lookup(keys=[self._meta], args=[self.p, "i", _field(identifier)]))

    async def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every profile (for tests and checks): customer id -> profile."""
        out: dict[str, dict[str, Any]] = {}
        skip = len(self.p) + 3
        keys: list[str] = []

        async def fetch() -> None:
            for key, raw in zip(keys, await self.r.mget(keys), strict=True):
                if raw is not None:
                    out[key[skip:]] = _decode_profile(key[skip:], raw)
            keys.clear()

        async for key in self.r.scan_iter(match=f"{self.p}:c:*", count=1000):
            keys.append(_text(key) or "")
            if len(keys) >= 1000:
                await fetch()
        if keys:
            await fetch()
        return out
