"""The Redis read model's writer: the ordered stage's customers, coalesced, on top of the offset last written.

Steps come faster than Redis needs them: `RedisMirror.step` only notes which customers a
step touched, absorbed or erased, and `flush` writes them at most every `interval_s` (and
on every tick), each customer's profile built once per flush, with the offset of the last
step noted. Redis at offset X therefore always holds every step up to X. Redis is a read
model: the ordered stage's state is the truth, and the mirror rebuilds Redis from it when
Redis is empty, flushed, behind or ahead (`check`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from streams.pipeline import Step
from streams.readmodel import RedisReadModel
from streams.runtime import Runtime
from streams.settings import Settings

__all__ = ["RedisMirror"]

log = logging.getLogger("irl.worker")

#: Most customers noted before a flush whatever the time.
_MAX_PENDING = 20_000


class RedisMirror:
    """Writes the ordered stage's customers to Redis; `rt.redis_offset` is the links offset Redis holds."""

    def __init__(self, rt: Runtime, settings: Settings, interval_s: float = 0.5) -> None:
        self.rt = rt
        self.settings = settings
        self.interval_s = interval_s
        self._touched: set[str] = set()
        self._removed: dict[str, str | None] = {}
        self._forget: list[str] = []
        self._offset: int | None = None
        self._flushed_at = 0.0
        #: after a restore behind Redis: steps up to this offset are already in Redis
        self._skip_until = -1

    def _model(self) -> RedisReadModel:
        if self.rt.redis is None:
            s = self.settings
            self.rt.redis = RedisReadModel.from_url(s.redis_url, s.topic_prefix, s.redis_ca_file)
        return self.rt.redis

    async def resume(self, applied: int) -> None:
        """The ordered stage was restored at links offset `applied`: continue Redis from where it is.

        Redis ahead of `applied` already holds the state at its own offset (the same log gives
        the same state): nothing is written until the stage has passed that offset, then every
        customer the tail touched after it (`step`). Redis behind, empty or unreachable is rebuilt
        (`check`).
        """
        self._clear()
        self._skip_until = -1
        try:
            have = await self._model().offset()
        except Exception as exc:
            log.warning("redis unavailable (%s); the state remains the source of truth", type(exc).__name__)
            self.rt.redis_offset = None
            return
        if have is not None and have > applied:
            self._skip_until = have
            self.rt.redis_offset = have
            return
        await self.check(False)

    async def step(self, step: Step) -> None:
        """Note what `step` changed; flush when due (not before the steps Redis already holds are behind).

        A step that holds only changes Redis has (after `resume`: of links records up to the offset
        Redis holds) is not even noted: otherwise the first write after that offset would build
        and send again every customer of the tail (seconds, with the loop blocked, after a backlog).
        """
        holds = step.offset if step.holds_through is None else step.holds_through
        if holds <= self._skip_until:
            return
        for cid, survivor in step.removed.items():
            self._touched.discard(cid)
            self._removed[cid] = survivor
        for cid in step.touched:
            self._touched.add(cid)
            self._removed.pop(cid, None)
        self._forget.extend(step.forget)
        self._offset = step.offset
        if step.offset <= self._skip_until:
            return
        if len(self._touched) >= _MAX_PENDING or time.monotonic() - self._flushed_at >= self.interval_s:
            await self.flush()

    def _clear(self) -> None:
        self._touched, self._removed, self._forget, self._offset = set(), {}, [], None

    async def flush(self) -> None:
        """Write every customer noted since the last flush, on top of the offset Redis holds."""
        self._flushed_at = time.monotonic()
        rt = self.rt
        pipeline = rt.pipeline
        offset = self._offset
        if offset is None or pipeline is None:
            self._clear()
            return
        if rt.redis_offset is None:
            self._clear()  # Redis is behind or unreachable: `check` rebuilds it on the next tick
            return
        resolver = pipeline.resolver
        profiles: dict[str, dict[str, Any] | None] = {}
        for cid in sorted(self._touched):
            p = resolver.profile(cid)
            profiles[cid] = None if p is None else p.to_record()
        removed, forget = self._removed, self._forget
        self._clear()
        try:
            # Only on top of the offset we last wrote: after a FLUSHALL or a restart of Redis a
            # plain write would set meta.offset on a partial model and hide the loss from `check`.
            if await self._model().apply_if_at(rt.redis_offset, profiles, removed, offset, forget):
                rt.redis_offset = offset
            else:
                log.warning("redis read model not at offset %d (flushed, restarted): rebuild", rt.redis_offset)
                rt.redis_offset = None
        except Exception as exc:  # Redis is a read model: the state stays right, rebuild later
            log.warning("redis mirror failed (%s); will rebuild", type(exc).__name__)
            rt.redis_offset = None

    async def check(self, force: bool) -> None:
        """Flush, then rebuild Redis from the state when it is empty, flushed, behind or ahead; else mark it current.

        ``P:meta.offset`` says which links offset Redis reflects. While every step is mirrored
        it stays what we last wrote (`rt.redis_offset`); anything else (a FLUSHALL, a Redis
        restart, a worker restarted with Redis at another offset) means rebuild.
        """
        rt = self.rt
        if rt.pipeline is None or (rt.applied_offset < self._skip_until and not force):
            return  # none yet, or still applying steps that Redis already holds
        await self.flush()
        try:
            model = self._model()
            have = await model.offset()
            in_sync = have is not None and have in (rt.redis_offset, rt.applied_offset)
            if not force and in_sync:
                if have != rt.applied_offset:
                    await model.mark(rt.applied_offset)  # steps without visible changes
                rt.redis_offset = rt.applied_offset
                return
            t0 = time.monotonic()
            n = await model.rebuild(rt.pipeline.mirror_records(), (), rt.applied_offset)
            rt.redis_offset = rt.applied_offset
            rt.stats["redis_rebuilds"] += 1
            log.info(
                "redis read model rebuilt from the state: %d customers (offset %d) in %.2fs",
                n,
                rt.applied_offset,
                time.monotonic() - t0,
            )
        except Exception as exc:
            log.warning("redis unavailable (%s); the state remains the source of truth", type(exc).__name__)
            rt.redis_offset = None
