"""The Redis read model: identifier to customer id, customer id to profile.

Redis is never the only copy: everything here is derived from the Faust tables and can
be rebuilt (`rebuild`) at any time. Keys (``P`` is the prefix, ``irl`` by default)::

    P:c:<customer id>   profile JSON (ResolvedCustomer fields, no change/window fields)
    P:i:<identifier>    customer id    (identifier: phone:+91..., email:..., tp:WEB:<source id>)
    P:a:<old id>        survivor id    (an id absorbed into another)
    P:meta              hash: offset (links-topic offset reflected), customers, rebuilt_at

`offset` lets the worker notice when Redis is empty, flushed or behind its tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis

__all__ = ["RedisReadModel", "identifiers_of"]

#: Apply one step only on top of the state it was computed against: when ``meta.offset`` is not
#: ARGV[1] (Redis was flushed, restarted empty, or written by someone else) nothing is written
#: and 0 is returned, so the worker rebuilds instead of writing a partial model that looks current.
#: ARGV[2] is the new offset; then triples: op ("s" set, "d" delete), key, value.
_APPLY_IF_AT = """
local have = redis.call('HGET', KEYS[1], 'offset')
if have ~= ARGV[1] then return 0 end
for i = 3, #ARGV, 3 do
  if ARGV[i] == 's' then redis.call('SET', ARGV[i + 1], ARGV[i + 2]) else redis.call('DEL', ARGV[i + 1]) end
end
redis.call('HSET', KEYS[1], 'offset', ARGV[2])
return 1
"""


def identifiers_of(profile: dict[str, Any]) -> list[str]:
    """The identifier strings a profile answers to."""
    out = [f"phone:{p}" for p in profile.get("phones", ())]
    out += [f"email:{e}" for e in profile.get("emails", ())]
    out += [f"tp:{s['touchpoint']}:{s['source_id']}" for s in profile.get("source_ids", ())]
    return out


class RedisReadModel:
    """Writes and reads the read model with pipelined commands (one round trip per step)."""

    def __init__(self, client: aioredis.Redis, prefix: str = "irl") -> None:
        self.r = client
        self.p = prefix
        self._apply_if_at = client.register_script(_APPLY_IF_AT)

    @classmethod
    def from_url(cls, url: str, prefix: str = "irl") -> RedisReadModel:
        return cls(aioredis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5), prefix)

    async def close(self) -> None:
        await self.r.aclose()

    async def offset(self) -> int | None:
        """The offset the read model reflects, or None when it is empty or was flushed."""
        raw = await self.r.hget(f"{self.p}:meta", "offset")
        return None if raw is None else int(raw)

    async def mark(self, offset: int) -> None:
        """Record that the read model reflects ``offset`` (steps that changed nothing visible)."""
        await self.r.hset(f"{self.p}:meta", "offset", offset)

    async def apply(
        self,
        profiles: dict[str, dict[str, Any] | None],
        removed: dict[str, str | None],
        offset: int,
        forget: Iterable[str] = (),
    ) -> None:
        """Write changed profiles (None deletes), aliases of removed ids, and the offset.

        ``forget`` lists identifiers to delete first (an erased person's).
        """
        pipe = self.r.pipeline(transaction=False)
        self._ops(pipe, profiles, removed, forget)
        pipe.hset(f"{self.p}:meta", "offset", offset)
        await pipe.execute()

    async def apply_if_at(
        self,
        expect: int,
        profiles: dict[str, dict[str, Any] | None],
        removed: dict[str, str | None],
        offset: int,
        forget: Iterable[str] = (),
    ) -> bool:
        """`apply`, atomically, only when the model reflects offset ``expect``; False (nothing written) if not."""
        ops = _Ops()
        self._ops(ops, profiles, removed, forget)
        done = await self._apply_if_at(keys=[f"{self.p}:meta"], args=[str(expect), str(offset), *ops.args])
        return bool(done)

    def _ops(
        self,
        pipe: Any,
        profiles: dict[str, dict[str, Any] | None],
        removed: dict[str, str | None],
        forget: Iterable[str],
    ) -> None:
        for ident in forget:
            pipe.delete(f"{self.p}:i:{ident}")
        for cid, profile in profiles.items():
            if profile is None:
                pipe.delete(f"{self.p}:c:{cid}")
                continue
            pipe.set(f"{self.p}:c:{cid}", json.dumps(profile, separators=(",", ":"), ensure_ascii=False))
            for ident in identifiers_of(profile):
                pipe.set(f"{self.p}:i:{ident}", cid)
        for gone, survivor in removed.items():
            pipe.delete(f"{self.p}:c:{gone}")
            if survivor is None:
                pipe.delete(f"{self.p}:a:{gone}")
            else:
                pipe.set(f"{self.p}:a:{gone}", survivor)

    async def rebuild(
        self, profiles: Iterable[tuple[str, dict[str, Any]]], aliases: Iterable[tuple[str, str]], offset: int
    ) -> int:
        """Replace the whole read model; returns the number of customers written."""
        await self.clear()
        n = 0
        pipe = self.r.pipeline(transaction=False)
        for cid, profile in profiles:
            pipe.set(f"{self.p}:c:{cid}", json.dumps(profile, separators=(",", ":"), ensure_ascii=False))
            for ident in identifiers_of(profile):
                pipe.set(f"{self.p}:i:{ident}", cid)
            n += 1
            if len(pipe) >= 5000:
                await pipe.execute()
        for gone, survivor in aliases:
            pipe.set(f"{self.p}:a:{gone}", survivor)
        pipe.hset(f"{self.p}:meta", mapping={"offset": offset, "customers": n})
        await pipe.execute()
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
        return None if raw is None else json.loads(raw)

    async def customer_of(self, identifier: str) -> str | None:
        raw = await self.r.get(f"{self.p}:i:{identifier}")
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every profile (for tests and checks): customer id -> profile."""
        out: dict[str, dict[str, Any]] = {}
        async for key in self.r.scan_iter(match=f"{self.p}:c:*", count=1000):
            raw = await self.r.get(key)
            if raw is not None:
                name = key.decode() if isinstance(key, bytes) else str(key)
                out[name[len(self.p) + 3 :]] = json.loads(raw)
        return out


class _Ops:
    """Collects set/delete calls as flat script arguments (see `_APPLY_IF_AT`)."""

    def __init__(self) -> None:
        self.args: list[str] = []

    def set(self, key: str, value: str) -> None:
        self.args += ["s", key, value]

    def delete(self, key: str) -> None:
        self.args += ["d", key, ""]
