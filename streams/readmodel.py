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
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import redis
import redis.asyncio as aioredis

from resolver.graph import holder_of
from resolver.profile import Profile

__all__ = [
    "LAYOUT",
    "OFFSET",
    "RedisReadModel",
    "apply_if_at_blocking",
    "holders",
    "identifiers_of",
    "partition_field",
    "rebuild_blocking",
]

#: Bumped when the key layout or the profile encoding changes: a model in another layout reads as
#: empty (`RedisReadModel.offset` is None), so the worker rebuilds it instead of mixing layouts.
LAYOUT = "3"

#: The `P:meta` field of the links offset the ordered stage's mirror reflects (`streams.mirror.RedisMirror`).
OFFSET = "offset"


def partition_field(partition: int) -> str:
    """The `P:meta` field of the effects offset partition ``partition``'s mirror reflects (`PartitionMirror`)."""
    return f"p.{partition}"


#: Mean entries per bucket before the next split. Under linear hashing an unsplit bucket holds up
#: to twice the mean, so buckets stay well below 128 entries, far inside the listpack limit.
_LOAD = 48

#: Hash fields above Redis's listpack value limit turn the whole bucket into a hashtable.
_MAX_FIELD = 64

#: Write one step. ARGV[1]: the offset the model must be at ('' = unconditional: `apply`, `rebuild`);
#: ARGV[2]: the new offset ('' = leave it); ARGV[3]: the prefix; ARGV[4]: `LAYOUT`; ARGV[5]: `_LOAD`;
#: ARGV[6]: the `P:meta` field holding the offset (``offset``: the links offset of the ordered stage's mirror;
#: ``p.<n>``: the effects offset of partition n's, `streams.mirror.PartitionMirror`); then triples (op, a, b):
#: c set profile a to b; C delete profile a; a/A set/delete alias a (-> b); I prune identifier field a.
#: Returns 0 (nothing written) when the model is not at ARGV[1] in this layout, so the worker
#: rebuilds instead of writing a partial model that looks current; else 1.
#:
#: The identifier index is derived from the stored profiles, never written on its own: field f of
#: ``P:i:*`` holds, space-separated and sorted, exactly the customers whose stored profile lists f
#: (`holders`), and a lookup answers them all (`RedisReadModel.customers_of`). A profile's write drops
#: this customer from the identifiers of the profile it replaces that the new one lacks and adds it to
#: the new one's, so writers
#: of different customers (the per-customer stage's partitions) commute: the index is a function
#: of the stored profiles, whatever the order of their writes. A live customer has no alias.
_APPLY = """
local meta = KEYS[1]
if ARGV[1] ~= '' then
  local have = redis.call('HMGET', meta, ARGV[6], 'layout')
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
local function put(t, field, value)
  local s = state(t)
  if redis.call('HSET', bucket(t, s, field), field, value) == 1 then
    s.count = s.count + 1
    while s.count > LOAD * (2 ^ s.level + s.split) do split(t, s) end
  end
end
local function del(t, field)
  local s = state(t)
  s.count = s.count - redis.call('HDEL', bucket(t, s, field), field)
end
local function get(t, field)
  local s = state(t)
  return redis.call('HGET', bucket(t, s, field), field)
end
-- the hash field of an identifier: itself, or a digest when longer than a listpack value (`_field`)
local function fieldof(ident)
  if #ident > 64 then return '#' .. redis.sha1hex(ident) end
  return ident
end
local function strings(list, prefix, out)
  if type(list) ~= 'table' then return end
  for _, x in ipairs(list) do
    if type(x) == 'string' then out[fieldof(prefix .. x)] = true end
  end
end
-- the identifier fields a stored profile lists (`identifiers_of`): the compact row or a plain dict
local function idents(raw)
  local out = {}
  if not raw then return out end
  local ok, v = pcall(cjson.decode, raw)
  if not ok or type(v) ~= 'table' then return out end
  if v[1] ~= nil then
    strings(v[1], 'phone:', out)
    strings(v[2], 'email:', out)
    strings(v[3], 'tp:', out)
  else
    strings(v.phones, 'phone:', out)
    strings(v.emails, 'email:', out)
    if type(v.source_ids) == 'table' then
      for _, x in ipairs(v.source_ids) do
        if type(x) == 'table' and type(x.touchpoint) == 'string' and type(x.source_id) == 'string' then
          out[fieldof('tp:' .. x.touchpoint .. ':' .. x.source_id)] = true
        end
      end
    end
  end
  return out
end
-- byte order (Python's order of these ids): Lua's `<` on strings follows the server's collation locale
local function before(x, y)
  for k = 1, math.min(#x, #y) do
    local a, b = string.byte(x, k), string.byte(y, k)
    if a ~= b then return a < b end
  end
  return #x < #y
end
local function hold(field, cid)
  local v = get('i', field)
  if not v then return put('i', field, cid) end
  local hs = {}
  for h in string.gmatch(v, '[^ ]+') do
    if h == cid then return end
    hs[#hs + 1] = h
  end
  hs[#hs + 1] = cid
  table.sort(hs, before)
  put('i', field, table.concat(hs, ' '))
end
local function release(field, cid)
  local v = get('i', field)
  if not v then return end
  local hs = {}
  for h in string.gmatch(v, '[^ ]+') do
    if h ~= cid then hs[#hs + 1] = h end
  end
  if #hs == 0 then del('i', field) else put('i', field, table.concat(hs, ' ')) end
end
for j = 7, #ARGV, 3 do
  local op, a = ARGV[j], ARGV[j + 1]
  if op == 'c' or op == 'C' then
    local key = P .. ':c:' .. a
    local old = idents(redis.call('GET', key))
    local new = {}
    if op == 'c' then
      redis.call('SET', key, ARGV[j + 2])
      new = idents(ARGV[j + 2])
      del('a', a)
    else
      redis.call('DEL', key)
    end
    for f in pairs(old) do
      if not new[f] then release(f, a) end
    end
    for f in pairs(new) do hold(f, a) end
  elseif op == 'a' then
    put('a', a, ARGV[j + 2])
  elseif op == 'A' then
    del('a', a)
  elseif op == 'I' then
    local v = get('i', a)
    if v then
      for h in string.gmatch(v, '[^ ]+') do
        if not idents(redis.call('GET', P .. ':c:' .. h))[a] then release(a, h) end
      end
    end
  end
end
for t, s in pairs(tables) do
  redis.call('HSET', meta, t .. '.level', s.level, t .. '.split', s.split, t .. '.count', s.count)
end
if ARGV[2] ~= '' then redis.call('HSET', meta, ARGV[6], ARGV[2]) end
return 1
"""

#: The whole value of field ARGV[3] in bucketed table ARGV[2] (see `_APPLY`), or nil: for an identifier,
#: every customer holding it (sorted, space-separated); for an alias, its survivor. ARGV[1]: the prefix.
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

#: Script arguments per `_APPLY` call in `rebuild` (3,000 customers: a profile is one triple).
_REBUILD_ARGS = 9_000


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


#: A profile to write: its record (`Profile.to_record`'s fields, or any dict), or the `Profile` itself (`_stored`).
Written = dict[str, Any] | Profile


def _stored(profile: Profile) -> str:
    """`_encode_profile` of ``profile.to_record()``, the same string, without building the record (the per-customer
    stage writes every customer it changed: `streams.mirror.PartitionMirror`); written by hand (`_row_text`) when
    its values have the usual types."""
    sources = profile.source_ids
    if any(":" in tp for tp, _src in sources):
        return _encode_profile(profile.customer_id, profile.to_record())
    try:
        return _row_text(profile)
    except _Unusual:
        pass
    first, last = profile.first_seen, profile.last_seen
    row = [
        list(profile.phones),
        list(profile.emails),
        [f"{tp}:{src}" for tp, src in sources],
        profile.name,
        first,
        last - first if first is not None and last is not None and _is_int(first) and _is_int(last) else last,
        profile.event_count,
        profile.confidence,
        list(profile.confidence_reasons),
    ]
    touchpoints = list(profile.touchpoints)
    if touchpoints != sorted({tp for tp, _src in sources}):
        row.append(touchpoints)
    return _dumps(row)


class _Unusual(Exception):
    """A value `_row_text` does not write (not a str, an int, a finite float or None where those are usual)."""


_STR = json.encoder.encode_basestring  # what `_dumps` writes a str with (ensure_ascii=False)


def _strs(items: tuple[Any, ...]) -> str:
    for x in items:
        if type(x) is not str:
            raise _Unusual
    return "[" + ",".join(map(_STR, items)) + "]"


def _num(v: Any) -> str:
    if v is None:
        return "null"
    if type(v) is not int:
        raise _Unusual
    return int.__repr__(v)


def _row_text(p: Profile) -> str:
    """`_dumps` of `_stored`'s row for ``p``, the same string, without json's encoder (built per call with options)."""
    name, first, last, confidence = p.name, p.first_seen, p.last_seen, p.confidence
    if type(confidence) is not float or not math.isfinite(confidence) or not (name is None or type(name) is str):
        raise _Unusual
    sources = []
    for tp, src in p.source_ids:
        if type(tp) is not str or type(src) is not str:
            raise _Unusual
        sources.append(f"{tp}:{src}")
    span = last - first if type(first) is int and type(last) is int else last
    text = (
        f"[{_strs(p.phones)},{_strs(p.emails)},{_strs(tuple(sources))},{'null' if name is None else _STR(name)},"
        f"{_num(first)},{_num(span)},{_num(p.event_count)},{float.__repr__(confidence)},"
        f"{_strs(p.confidence_reasons)}"
    )
    touchpoints = p.touchpoints
    if list(touchpoints) != sorted({tp for tp, _src in p.source_ids}):
        return text + "," + _strs(touchpoints) + "]"
    return text + "]"


def _ops(
    profiles: Mapping[str, Written | None],
    removed: dict[str, str | None],
    forget: Iterable[str],
) -> list[str]:
    """The `_APPLY` triples that write `profiles` (None deletes), alias `removed`, then prune `forget`.

    The identifier index follows the profiles (`_APPLY`); ``forget`` (an erased person's
    identifiers, a blocked one) is pruned of any customer whose stored profile does not list it.
    """
    ops: list[str] = []
    for cid, profile in profiles.items():
        if profile is None:
            ops += ["C", cid, ""]
        else:
            _put(ops, cid, profile)
    for gone, survivor in removed.items():
        ops += ["C", gone, ""]
        ops += ["A", gone, ""] if survivor is None else ["a", gone, survivor]
    for ident in forget:
        ops += ["I", _field(ident), ""]
    return ops


def _put(ops: list[str], cid: str, profile: Written) -> None:
    if isinstance(profile, Profile):
        value = _stored(profile) if profile.customer_id == cid else _encode_profile(cid, profile.to_record())
    else:
        value = _encode_profile(cid, profile)
    ops += ["c", cid, value]


def holders(profiles: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, str]:
    """What ``P:i:*`` holds for these stored profiles: identifier field -> the customers listing it, sorted,
    space-separated (`_APPLY`'s rule; `RedisReadModel.customers_of` answers them)."""
    out: dict[str, list[str]] = {}
    for cid, profile in profiles:
        for ident in dict.fromkeys(identifiers_of(profile)):
            out.setdefault(_field(ident), []).append(cid)
    return {f: " ".join(sorted(cids)) for f, cids in out.items()}


def _tls(url: str, ca_file: str) -> dict[str, Any]:
    return {"ssl_ca_certs": ca_file} if ca_file and url.startswith("rediss://") else {}


def _args(expect: str, offset: str, prefix: str, field: str, ops: list[str]) -> list[str]:
    """`_APPLY`'s ARGV."""
    return [expect, offset, prefix, LAYOUT, str(_LOAD), field, *ops]


def _batches(
    profiles: Iterable[tuple[str, dict[str, Any]]], aliases: Iterable[tuple[str, str]], count: list[int]
) -> Iterator[list[str]]:
    """The `_APPLY` triples that write ``profiles`` then ``aliases``, a few thousand customers a call
    (`_REBUILD_ARGS`); adds the number of profiles to ``count[0]``."""
    ops: list[str] = []
    for cid, profile in profiles:
        _put(ops, cid, profile)
        count[0] += 1
        if len(ops) >= _REBUILD_ARGS:
            yield ops
            ops = []
    for gone, survivor in aliases:
        ops += ["a", gone, survivor]
        if len(ops) >= _REBUILD_ARGS:  # a rebuild after many merges writes as many aliases: in calls too
            yield ops
            ops = []
    if ops:
        yield ops


def _blocking_client(url: str, ca_file: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5, **_tls(url, ca_file))


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
    client = _blocking_client(url, ca_file)
    try:
        args = _args(str(expect), str(offset), prefix, OFFSET, _ops(profiles, removed, forget))
        return bool(client.register_script(_APPLY)(keys=[f"{prefix}:meta"], args=args))
    finally:
        client.close()


def rebuild_blocking(
    url: str,
    prefix: str,
    ca_file: str,
    profiles: Iterable[tuple[str, dict[str, Any]]],
    offset: int,
    aliases: Iterable[tuple[str, str]] = (),
) -> int:
    """`RedisReadModel.rebuild` on a connection of its own, blocking: for a forked child
    (`streams.mirror`). Returns the customers written; raises on a Redis error."""
    client = _blocking_client(url, ca_file)
    try:
        keys: list[Any] = []
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            keys.append(key)
            if len(keys) >= 1000:
                client.delete(*keys)
                keys.clear()
        if keys:
            client.delete(*keys)
        script, meta = client.register_script(_APPLY), f"{prefix}:meta"
        pipe = client.pipeline(transaction=False)
        n = [0]
        for ops in _batches(profiles, aliases, n):
            script(keys=[meta], args=_args("", "", prefix, OFFSET, ops), client=pipe)
            if len(pipe) >= 8:
                pipe.execute()
        pipe.hset(meta, mapping={OFFSET: offset, "layout": LAYOUT, "customers": n[0]})
        pipe.execute()
        return n[0]
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

    async def offset(self, field: str = OFFSET) -> int | None:
        """The offset the read model reflects, or None when it is empty, flushed or in another layout.

        ``field``: `OFFSET` (the links offset of the ordered stage's mirror) or `partition_field` (an
        effects partition's offset, with ``IRL_CUSTOMER_STAGE=kafka``).
        """
        raw, layout = await self.r.hmget(self._meta, [field, "layout"])
        return None if raw is None or _text(layout) != LAYOUT else int(raw)

    async def mark(self, offset: int, field: str = OFFSET) -> None:
        """Record that the read model reflects ``offset`` (steps that changed nothing visible)."""
        await self.r.hset(self._meta, field, offset)

    async def apply(
        self,
        profiles: dict[str, dict[str, Any] | None],
        removed: dict[str, str | None],
        offset: int,
        forget: Iterable[str] = (),
    ) -> None:
        """Write changed profiles (None deletes), aliases of removed ids, and the offset, atomically.

        ``forget`` lists identifiers to prune (an erased person's: `_ops`).
        """
        await self._run("", str(offset), _ops(profiles, removed, forget))

    async def apply_if_at(
        self,
        expect: int,
        profiles: Mapping[str, Written | None],
        removed: dict[str, str | None],
        offset: int,
        forget: Iterable[str] = (),
        field: str = OFFSET,
    ) -> bool:
        """`apply`, atomically, only when the model reflects offset ``expect`` (in ``field``); False (nothing
        written) if not."""
        return bool(await self._run(str(expect), str(offset), _ops(profiles, removed, forget), field=field))

    async def _run(self, expect: str, offset: str, ops: list[str], client: Any = None, field: str = OFFSET) -> Any:
        return await self._apply_script(
            keys=[self._meta], args=_args(expect, offset, self.p, field, ops), client=client
        )

    async def rebuild(
        self, profiles: Iterable[tuple[str, dict[str, Any]]], aliases: Iterable[tuple[str, str]], offset: int
    ) -> int:
        """Replace the whole read model; returns the number of customers written.

        The offset is written last: until then the model reads as empty and `apply_if_at` refuses.
        """
        await self.clear()
        return await self._write_all(profiles, aliases, {OFFSET: offset, "layout": LAYOUT})

    async def _write_all(
        self,
        profiles: Iterable[tuple[str, dict[str, Any]]],
        aliases: Iterable[tuple[str, str]],
        meta: dict[str, str | int],
    ) -> int:
        """Write profiles and aliases in script calls of a few thousand customers, then set ``meta``'s fields."""
        n = [0]
        pipe = self.r.pipeline(transaction=False)
        for ops in _batches(profiles, aliases, n):
            await self._run("", "", ops, client=pipe)
            if len(pipe) >= 8:
                await pipe.execute()
        fields: dict[Any, Any] = dict(meta)
        if OFFSET in meta:
            fields["customers"] = n[0]
        pipe.hset(self._meta, mapping=fields)
        await pipe.execute()
        return n[0]

    async def rebuild_partition(
        self,
        partition: int,
        mine: Callable[[str], bool],
        live: Callable[[str], bool],
        profiles: Iterable[tuple[str, dict[str, Any]]],
        offset: int,
        aliases: Iterable[tuple[str, str]] = (),
    ) -> int:
        """Replace one effects partition's part of the model (its customers: ``mine``); returns the customers written.

        The other partitions' customers are left alone, so partitions rebuild side by side:
        profiles of ``mine`` customers that are not ``live`` are deleted (their identifiers
        with them, `_APPLY`), and aliases of ``mine`` ids that ``aliases`` lacks (an id absorbed
        into a customer erased since, in a Redis restored from an older dump), then ``profiles``
        and ``aliases`` (the partition's absorbed ids, `CustomerStage.aliases`) written, then the
        partition's offset. A model
        in another layout (an upgrade) first has every identifier field pruned of customers
        whose stored profile does not list it. The links offset of the ordered stage's mirror
        (`OFFSET`) is dropped: Redis no longer follows that mirror, so a worker in the default
        mode rebuilds it.
        """
        field = partition_field(partition)
        await self.r.hdel(self._meta, field, OFFSET)  # until the end, this part reads as behind
        if _text(await self.r.hget(self._meta, "layout")) != LAYOUT:
            await self._prune_all()
        gone: list[str] = []
        skip = len(self.p) + 3
        async for key in self.r.scan_iter(match=f"{self.p}:c:*", count=1000):
            cid = (_text(key) or "")[skip:]
            if mine(cid) and not live(cid):
                gone += ["C", cid, ""]
                if len(gone) >= _REBUILD_ARGS:
                    await self._run("", "", gone)
                    gone = []
        if gone:
            await self._run("", "", gone)
        aliases = list(aliases)
        kept = {a for a, _ in aliases}
        # Bucket by bucket, only the partition's stale aliases kept (before s36 the whole alias table was read
        # into one dict); deleted after the scan, so no script runs between its reads. The reads still cover
        # every bucket, as the scan of P:c:* above covers every customer: a per-partition index would bound both.
        stale: list[str] = []
        async for key in self.r.scan_iter(match=f"{self.p}:a:*", count=1000):
            stale += [a for a in map(_text, await self.r.hkeys(key)) if a and a not in kept and mine(a)]
        for i in range(0, len(stale), _REBUILD_ARGS // 3):
            await self._run("", "", [op for a in stale[i : i + _REBUILD_ARGS // 3] for op in ("A", a, "")])
        return await self._write_all(profiles, aliases, {field: offset, "layout": LAYOUT})

    async def _prune_all(self) -> None:
        """Prune every identifier field of customers whose stored profile does not list it (`_APPLY`'s ``I``)."""
        ops: list[str] = []
        async for key in self.r.scan_iter(match=f"{self.p}:i:*", count=1000):
            for f in await self.r.hkeys(key):
                ops += ["I", _text(f) or "", ""]
            if len(ops) >= _REBUILD_ARGS:
                await self._run("", "", ops)
                ops = []
        if ops:
            await self._run("", "", ops)

    async def index(self) -> dict[str, str]:
        """Every identifier field and what it holds (for tests and checks; compare with `holders`)."""
        return await self._table("i")

    async def aliases(self) -> dict[str, str]:
        """Every alias: absorbed id -> survivor (for tests and checks)."""
        return await self._table("a")

    async def _table(self, table: str) -> dict[str, str]:
        """Every field of a bucketed table (``P:<table>:*``) and its value."""
        out: dict[str, str] = {}
        async for key in self.r.scan_iter(match=f"{self.p}:{table}:*", count=1000):
            for f, v in (await self.r.hgetall(key)).items():
                out[_text(f) or ""] = _text(v) or ""
        return out

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

    async def customers_of(self, identifier: str) -> list[str]:
        """Every live customer whose profile lists ``identifier`` (an identifier string, `identifiers_of`),
        sorted; empty when none. Several: the identifier is split between people (each holds their part),
        as the writer's lookup answers ``split`` (`resolver.explain.lookup`)."""
        got = _text(await self._lookup(keys=[self._meta], args=[self.p, "i", _field(identifier)]))
        return [] if got is None else got.split(" ")

    async def customer_of(self, identifier: str) -> str | None:
        """The smallest of `customers_of` (for tests and checks; a lookup must answer them all)."""
        found = await self.customers_of(identifier)
        return found[0] if found else None

    async def survivor_of(self, absorbed_id: str) -> str | None:
        """The id ``absorbed_id``'s alias names (one hop: that survivor may have been absorbed in turn),
        None when it has none (a live, erased or unknown id; an erasure drops the aliases of the ids the
        erased customer had absorbed)."""
        return _text(await self._lookup(keys=[self._meta], args=[self.p, "a", absorbed_id]))

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
