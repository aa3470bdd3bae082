"""The Redis read model's writer: the ordered stage's customers, coalesced, on top of the offset last written.

Steps come faster than Redis needs them: `RedisMirror.step` only notes which customers a
step touched, absorbed or erased, and `flush` writes them at most every `interval_s` (and
on every tick), each customer's profile built once per flush, with the offset of the last
step noted. Redis at offset X therefore always holds every step up to X. Redis is a read
model: the ordered stage's state is the truth, and the mirror rebuilds Redis from it when
Redis is empty, flushed, behind or ahead (`check`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import time
from typing import Any

from streams.pipeline import Pipeline, Step
from streams.readmodel import RedisReadModel, apply_if_at_blocking
from streams.runtime import Runtime
from streams.settings import Settings

__all__ = ["RedisMirror"]

log = logging.getLogger("irl.worker")

#: Most customers noted before a flush whatever the time.
_MAX_PENDING = 20_000

#: Customers noted at a flush from which a forked child writes them (`RedisMirror.fork_at`).
FORK_AT = 1_000

#: After a forked flush ended, the next one waits this many times as long as it took (`RedisMirror.fork_gap`).
FORK_GAP = 2.0


def _profiles(pipeline: Pipeline, cids: set[str]) -> dict[str, dict[str, Any] | None]:
    """The read-model records of `cids` (None: the customer is gone), in id order."""
    resolver = pipeline.resolver
    out: dict[str, dict[str, Any] | None] = {}
    for cid in sorted(cids):
        p = resolver.profile(cid)
        out[cid] = None if p is None else p.to_record()
    return out


class RedisMirror:
    """Writes the ordered stage's customers to Redis; `rt.redis_offset` is the links offset Redis holds."""

    def __init__(
        self,
        rt: Runtime,
        settings: Settings,
        interval_s: float = 0.5,
        fork_at: int | None = FORK_AT,
        fork_gap: float = FORK_GAP,
    ) -> None:
        self.rt = rt
        #: customers noted from which a flush is written by a forked child (None: never)
        self.fork_at = fork_at
        #: a forked flush starts no sooner than this many times the last one's duration after it ended
        self.fork_gap = fork_gap
        self._fork_started = 0.0
        self._fork_resume_at = 0.0
        #: (pid, links offset) of the child writing a flush
        self._child: tuple[int, int] | None = None
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
        await self._wait()  # a child of the stage before (the partition came back) ends first
        self._clear()
        # What this process wrote before says nothing now: the customers it noted since are
        # dropped, so Redis behind `applied` is current only when it is exactly at `applied`.
        self.rt.redis_offset = None
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

    def pending(self) -> bool:
        """Changes noted and not yet in Redis, or a child still writing some."""
        return bool(self._touched or self._removed or self._forget) or self._child is not None

    async def flush(self, force: bool = False) -> None:
        """Write every customer noted since the last flush, on top of the offset Redis holds.

        Many customers (a backlog) are written by a forked child while the stage goes on
        (`_fork`); until it ends, nothing else is written and the customers noted meanwhile
        wait for the next flush. The next forked flush waits `fork_gap` times as long as the
        last one took (unless `force`, or `_MAX_PENDING` customers wait): a backlog's Redis
        writes then take about a third of a core at most, not all of one, and a customer
        touched again meanwhile is built and written once.
        """
        self._flushed_at = time.monotonic()
        if self._reap():
            return  # a child still writes the flush before
        rt = self.rt
        pipeline = rt.pipeline
        offset = self._offset
        if offset is None or pipeline is None:
            self._clear()
            return
        if rt.redis_offset is None:
            self._clear()  # Redis is behind or unreachable: `check` rebuilds it on the next tick
            return
        noted = len(self._touched) + len(self._removed)
        if self.fork_at is not None and noted >= self.fork_at:
            if not force and noted < _MAX_PENDING and time.monotonic() < self._fork_resume_at:
                return  # the last child's pause: these customers wait for a later flush
            try:
                self._fork(pipeline, rt.redis_offset, offset)
                return
            except OSError as exc:  # no memory or processes left for a child: written here instead
                log.warning("redis mirror: cannot fork (%s); writing in process", exc)
        profiles = _profiles(pipeline, self._touched)
        removed, forget = self._removed, self._forget
        self._clear()
        try:
            # Only on top of the offset we last wrote: after a FLUSHALL or a restart of Redis a
            # plain write would set meta.offset on a partial model and hide the loss from `check`.
            if await self._model().apply_if_at(rt.redis_offset, profiles, removed, offset, forget):
                rt.redis_offset = offset
            else:
                self._behind()
        except Exception as exc:  # Redis is a read model: the state stays right, rebuild later
            log.warning("redis mirror failed (%s); will rebuild", type(exc).__name__)
            rt.redis_offset = None

    def _behind(self) -> None:
        log.warning("redis read model not at offset %d (flushed, restarted): rebuild", self.rt.redis_offset)
        self.rt.redis_offset = None

    def _fork(self, pipeline: Pipeline, expect: int, offset: int) -> None:
        """Fork a child that builds the noted customers' profiles and writes them (`apply_if_at`) at `offset`.

        The child sees the state as it is now, the state at `offset`; it exits 0 when written,
        3 when Redis was not at `expect`, 1 on any other failure (`_reap` reads which). Raises
        OSError when no child can be made (nothing noted is dropped then).
        """
        touched, removed, forget = self._touched, self._removed, self._forget
        s = self.settings
        pid = os.fork()
        if pid == 0:  # the child: its own connection, nothing of the parent's I/O, no collector
            code = 1
            try:
                gc.disable()  # a collection would touch (and so copy) every page of the parent's state
                with contextlib.suppress(OSError):
                    os.nice(5)
                write = (_profiles(pipeline, touched), removed, offset, forget)
                ok = apply_if_at_blocking(s.redis_url, s.topic_prefix, s.redis_ca_file, expect, write)
                code = 0 if ok else 3
            finally:
                os._exit(code)
        self._clear()
        self._child = (pid, offset)
        self._fork_started = time.monotonic()
        self.rt.stats["redis_child_flushes"] += 1

    async def _wait(self) -> None:
        """Until no child writes (its result collected)."""
        while self._reap():
            await asyncio.sleep(0.02)

    def _reap(self) -> bool:
        """Collect a finished child's result into `rt.redis_offset`; True while one still runs."""
        if self._child is None:
            return False
        pid, offset = self._child
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == 0:
            return True
        self._child = None
        now = time.monotonic()
        self._fork_resume_at = now + self.fork_gap * (now - self._fork_started)
        code = os.waitstatus_to_exitcode(status)
        if code == 0:
            self.rt.redis_offset = offset
        elif code == 3:
            self._behind()
        else:
            log.warning("redis mirror failed in its child (exit status %d); will rebuild", code)
            self.rt.redis_offset = None
        return False

    async def check(self, force: bool) -> None:
        """Flush, then rebuild Redis from the state when it is empty, flushed, behind or ahead; else mark it current.

        ``P:meta.offset`` says which links offset Redis reflects. While every step is mirrored
        it stays what we last wrote (`rt.redis_offset`); anything else (a FLUSHALL, a Redis
        restart, a worker restarted with Redis at another offset) means rebuild.
        """
        rt = self.rt
        if rt.pipeline is None or (rt.applied_offset < self._skip_until and not force):
            return  # none yet, or still applying steps that Redis already holds
        await self.flush(force)
        if self.pending():
            if not force:
                return  # a child writes Redis, or customers wait for the next: its offset says nothing yet
            await self._wait()
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
