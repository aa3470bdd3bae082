"""The figures on-call looks at, gathered from one worker's `Runtime` (for /stats, /metrics, /).

Contract: `StatsCollector.snapshot(scope)` returns a JSON-able dict; it never raises for a
standby worker (no pipeline: resolver figures are None). The per-customer figures
(confidence distribution, single-identity rate, largest clusters) need a profile per
customer, so they are computed over at most ``sample`` customers (an even stride over the
sorted ids, flagged ``sampled``), cached for ``ttl`` seconds, and the scan yields to the
event loop so the single writer is not starved.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from resolver.engine import Resolver
from streams.runtime import Runtime
from streams.web.auth import Scope
from streams.web.journal import journal_of
from streams.web.redact import redact_action

__all__ = ["CONFIDENCE_BUCKETS", "LOW_CONFIDENCE", "LagProbe", "StatsCollector"]

#: Upper bounds of the confidence histogram's bins (the last bin also holds 1.0).
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: Customers below this confidence are on the review queue (those of the scan: `StatsCollector.low_confidence`).
LOW_CONFIDENCE = 0.6
#: A callable giving consumer lag per ``topic/partition``, or None when unknown.
LagProbe = Callable[[], Mapping[str, int] | None]

_TOP = 10
_LISTED_QUARANTINE = 100
_YIELD_EVERY = 250
_RATE_SPAN_S = 60.0


class StatsCollector:
    """Builds stats snapshots of one runtime; keeps a short history of counters for rates."""

    def __init__(
        self,
        rt: Runtime,
        *,
        ttl: float = 5.0,
        sample: int = 5000,
        lag_probe: LagProbe | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rt = rt
        self.ttl = ttl
        self.sample = sample
        self.lag_probe = lag_probe
        self.clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self._cache: tuple[float, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def snapshot(self, scope: Scope) -> dict[str, Any]:
        """Every figure of /stats, as `scope` may see it."""
        rt = self.rt
        s = rt.stats
        now_ms = int(time.time() * 1000)
        pipeline = rt.pipeline
        resolver = pipeline.resolver if pipeline is not None else None
        journal = journal_of(rt)
        out: dict[str, Any] = {
            "worker": {
                "role": "writer" if pipeline is not None else "standby",
                "recovered": rt.recovered,
                "uptime_s": round(max(0, now_ms - int(s.get("started_ms") or now_ms)) / 1000, 3),
                "applied_offset": rt.applied_offset,
                "redis_offset": rt.redis_offset,
                # over Kafka the ordered stage writes no Redis: each effects partition held writes its own part
                "redis_partitions": dict(sorted(s.get("redis_partitions", {}).items(), key=lambda kv: int(kv[0]))),
                "redis_rebuilds": s.get("redis_rebuilds", 0),
                "redis_child_flushes": s.get("redis_child_flushes", 0),
                "stalled_s": s.get("stalled_s", 0.0),
                "customers_stalled_s": s.get("customers_stalled_s", 0.0),
                "rebalancing_s": s.get("rebalancing_s", 0.0),
                "triage_processes": s.get("triage_processes", 0),
            },
            "events": {
                "triaged": s.get("events_triaged", 0),
                "applied": s.get("events_applied", 0),
                "duplicates": s.get("duplicates", 0),
                "reused_ids": s.get("reused_ids", 0),
                "parsed_again": s.get("events_parsed_again", 0),
                "dead_letters": s.get("dead_letters", 0),
                **self._rates(int(s.get("events_applied", 0)), now_ms),
            },
            "dead_letters": s.get("dead_letters", 0),
            "consumer_lag": self._lag(),
            "windows": self._windows(now_ms),
            "changes": {"totals": dict(sorted(journal.totals.items())), "per_window": journal.windows()[:24]},
            "actions": [redact_action(a, scope) for a in list(s.get("actions", ()))[-20:]],
        }
        if resolver is None:
            out["resolver"] = None
            out["customers"] = None
            out["quarantined"] = None
            return out
        scan = await self._scan_cached(resolver)
        out["resolver"] = scan["resolver"]
        out["customers"] = scan["customers"]
        listed = scan["quarantined_keys"] if scope.sees_pii else scan["quarantined"]
        out["quarantined"] = {"count": len(listed), "identifiers": listed[:_LISTED_QUARANTINE]}
        return out

    # -- parts --------------------------------------------------------------------------------

    def _rates(self, applied: int, now_ms: int) -> dict[str, float]:
        t = self.clock()
        self._samples.append((t, applied))
        while len(self._samples) > 2 and t - self._samples[1][0] >= _RATE_SPAN_S:
            self._samples.popleft()
        started = int(self.rt.stats.get("started_ms") or now_ms)
        uptime = max(0.001, (now_ms - started) / 1000)
        since_start = applied / uptime
        t0, a0 = self._samples[0]
        recent = (applied - a0) / (t - t0) if t - t0 >= 1.0 else since_start
        return {"rate_per_s": round(recent, 3), "rate_since_start_per_s": round(since_start, 3)}

    def _lag(self) -> dict[str, int] | None:
        if self.lag_probe is None:
            return None
        try:
            lag = self.lag_probe()
        except Exception:  # a probe of a consumer being rebalanced: unknown, not an error page
            return None
        return None if lag is None else {k: int(v) for k, v in sorted(lag.items())}

    def _windows(self, now_ms: int) -> dict[str, Any]:
        s = self.rt.stats
        last_end = s.get("last_window_end")
        last_pub = s.get("last_publish_ms")
        delay = last_pub - last_end if isinstance(last_end, int) and isinstance(last_pub, int) else None
        out: dict[str, Any] = {
            "published": s.get("windows_published", 0),
            # this worker's: the ordered stage's, or its per-customer stage's (IRL_CUSTOMER_STAGE=kafka)
            "records_published": s.get("records_published", 0) + s.get("customer_records_published", 0),
            "last_window_end": last_end,
            "last_publish_ms": last_pub,
            # How long after its end the last window reached the CRM.
            "publish_delay_ms": delay,
            "open": [],
            "closed_until": None,
        }
        pipeline = self.rt.pipeline
        if pipeline is None:
            return out
        batcher = pipeline.batcher
        out["closed_until"] = batcher.closed_until
        out["clock"] = batcher.clock
        for w in batcher.windows():
            pw = batcher.pending(w.start)
            if pw is None:
                continue
            out["open"].append(
                {
                    "window_start": w.start,
                    "window_end": w.end,
                    "touched": len(pw.touched),
                    "created": len(pw.created),
                    "merges": len(pw.absorbed),
                    "splits": len(pw.split),
                    "erased": len(pw.erased),
                }
            )
        return out

    async def _scan_cached(self, resolver: Resolver) -> dict[str, Any]:
        # Every figure here walks all identifiers or customers: computed at most once per ttl.
        async with self._lock:
            now = self.clock()
            if self._cache is not None and now - self._cache[0] < self.ttl:
                return self._cache[1]
            result: dict[str, Any] = {
                "resolver": resolver.stats(),
                "quarantined": resolver.quarantined(),
                "quarantined_keys": resolver.quarantined_keys(),
            }
            result["customers"], result["below"] = await self._scan(resolver)
            self._cache = (self.clock(), result)
            return result

    async def low_confidence(self, resolver: Resolver) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Every customer of the scan below `LOW_CONFIDENCE`, lowest first, and what was scanned.

        The scan is the dashboard's (cached for ``ttl`` seconds): every live customer when there
        are at most ``sample``, else an even stride of them (``sampled``: some are not listed).
        The second value: ``{"live", "scanned", "sampled"}``.
        """
        scan = await self._scan_cached(resolver)
        c = scan["customers"]
        return list(scan["below"]), {"live": c["live"], "scanned": c["scanned"], "sampled": c["sampled"]}

    async def _scan(self, resolver: Resolver) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The per-customer figures of /stats, and every scanned customer below `LOW_CONFIDENCE` (lowest first)."""
        ids = resolver.customer_ids()
        total = len(ids)
        stride = max(1, -(-total // self.sample)) if self.sample > 0 else 1
        chosen = ids[::stride]
        bins = [0] * len(CONFIDENCE_BUCKETS)
        single = 0
        seen = 0
        conf_sum = 0.0
        largest: list[tuple[int, int, str, dict[str, Any]]] = []
        lowest: list[tuple[float, str, dict[str, Any]]] = []
        below: list[dict[str, Any]] = []
        for i, cid in enumerate(chosen):
            if i and i % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let the single writer run between chunks
            profile = resolver.profile(cid)
            if profile is None:
                continue  # absorbed or erased while we yielded
            seen += 1
            n_ids = len(profile.phones) + len(profile.emails) + len(profile.source_ids)
            single += n_ids == 1
            conf = profile.confidence
            conf_sum += conf
            bins[_bin(conf)] += 1
            brief = {
                "customer_id": cid,
                "identifiers": n_ids,
                "events": profile.event_count,
                "confidence": conf,
            }
            item = (n_ids, profile.event_count, cid, brief)
            if len(largest) < _TOP:
                heapq.heappush(largest, item)
            elif item[:3] > largest[0][:3]:
                heapq.heapreplace(largest, item)
            if conf < LOW_CONFIDENCE:
                below.append(brief)
            low = (-conf, cid, brief)
            if len(lowest) < _TOP:
                heapq.heappush(lowest, low)
            elif low[:2] > lowest[0][:2]:
                heapq.heapreplace(lowest, low)
        below.sort(key=lambda b: (b["confidence"], b["customer_id"]))
        figures = {
            "live": total,
            "scanned": seen,
            "sampled": stride > 1,
            "single_identity_rate": round(single / seen, 4) if seen else None,
            "confidence": {
                "mean": round(conf_sum / seen, 4) if seen else None,
                "buckets": [{"le": le, "count": c} for le, c in zip(CONFIDENCE_BUCKETS, bins, strict=True)],
            },
            "largest_clusters": [b for *_, b in sorted(largest, key=lambda x: x[:3], reverse=True)],
            "lowest_confidence": [b for *_, b in sorted(lowest, key=lambda x: x[:2], reverse=True)],
        }
        return figures, below


def _bin(confidence: float) -> int:
    for i, le in enumerate(CONFIDENCE_BUCKETS):
        if confidence <= le:
            return i
    return len(CONFIDENCE_BUCKETS) - 1
