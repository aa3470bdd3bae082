"""What writing the Redis read model costs: a full rebuild, steps of 200 customers from empty, bytes per identifier.

    python -m bench.readmodel_write --customers 20000 --runs 3

The profiles are `irl replay`'s of generated data (`bench.common.dataset`), written under a
fresh prefix of the bench's Redis database (`IRL_BENCH_REDIS_DB`, 12), then deleted. Seconds
are wall time of the writer awaiting Redis (the Lua scripts run in Redis: the figure is mostly
Redis's CPU); `redis_cpu_s` is what the Redis server's own ``used_cpu_user + used_cpu_sys``
moved by (other clients of a shared server move it too). Run it from two trees (``PYTHONPATH``)
to compare layouts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import redis

from bench.common import dataset, median, new_prefix, redis_url
from bench.streaming import _redis_memory
from resolver.config import ResolverConfig
from resolver.interaction import from_json
from resolver.resolver import Resolver
from streams.readmodel import LAYOUT, RedisReadModel


def _profiles(customers: int) -> list[tuple[str, dict[str, Any]]]:
    resolver = Resolver(ResolverConfig())
    with dataset(customers).open() as fh:
        for line in fh:
            if line.strip():
                resolver.apply(from_json(json.loads(line)))
    out = []
    for cid in resolver.customer_ids():
        p = resolver.profile(cid)
        if p is not None:
            out.append((cid, p.to_record()))
    return out


def _redis_cpu(r: redis.Redis) -> float:
    info = r.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def _once(profiles: list[tuple[str, dict[str, Any]]]) -> dict[str, float]:
    url = redis_url()
    sync = redis.Redis.from_url(url)
    out: dict[str, float] = {}
    prefix = new_prefix("rm")
    model = RedisReadModel.from_url(url, prefix)
    try:
        cpu0, t0 = _redis_cpu(sync), time.perf_counter()
        await model.rebuild(profiles, (), 1)
        out["rebuild_s"] = time.perf_counter() - t0
        out["rebuild_redis_cpu_s"] = _redis_cpu(sync) - cpu0
        memory = _redis_memory(prefix)
        out["bytes_per_identifier"] = memory["memory_usage_sum"] / max(1, memory["identifiers"])
        await model.clear()
        await model.rebuild([], (), 0)
        cpu0, t0 = _redis_cpu(sync), time.perf_counter()
        at = 0
        for i in range(0, len(profiles), 200):
            chunk: dict[str, dict[str, Any] | None] = dict(profiles[i : i + 200])
            assert await model.apply_if_at(at, chunk, {}, at + 1)
            at += 1
        out["steps_s"] = time.perf_counter() - t0
        out["steps_redis_cpu_s"] = _redis_cpu(sync) - cpu0
        # the same customers written again (every profile replaced by itself: a touched customer's usual write)
        cpu0, t0 = _redis_cpu(sync), time.perf_counter()
        for i in range(0, len(profiles), 200):
            assert await model.apply_if_at(at, dict(profiles[i : i + 200]), {}, at + 1)
            at += 1
        out["rewrite_s"] = time.perf_counter() - t0
        out["rewrite_redis_cpu_s"] = _redis_cpu(sync) - cpu0
    finally:
        await model.clear()
        await model.close()
        sync.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    profiles = _profiles(args.customers)
    identifiers = sum(len(p["phones"]) + len(p["emails"]) + len(p["source_ids"]) for _c, p in profiles)
    runs = [asyncio.run(_once(profiles)) for _ in range(args.runs)]
    for got in runs:
        print(json.dumps({k: round(v, 3) for k, v in got.items()}), flush=True)
    summary = {k: round(median([r[k] for r in runs]), 3) for k in runs[0]}
    print(json.dumps({"layout": LAYOUT, "customers": len(profiles), "identifiers": identifiers, **summary}))


if __name__ == "__main__":
    main()
