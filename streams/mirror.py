"""The Redis read model's writers: the ordered stage's customers, or each effects partition's, coalesced.

`RedisMirror` is the stage-off mode's (the ordered stage mirrors from its resolver); with
``IRL_CUSTOMER_STAGE=kafka`` it writes nothing and every effects partition mirrors its own
customers instead (`PartitionMirror`, at the partition's effects offset).

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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from resolver.customer_stage import CustomerStage
from resolver.effect_codec import partition_of
from resolver.profile import Profile
from streams.pipeline import Pipeline, Step
from streams.readmodel import RedisReadModel, Written, apply_if_at_blocking, partition_field, rebuild_blocking
from streams.runtime import Runtime, die_with_parent
from streams.settings import Settings

__all__ = ["PartitionMirror", "PartitionModel", "RedisMirror"]

log = logging.getLogger("irl.worker")

#: Most customers noted before a flush whatever the time.
_MAX_PENDING = 20_000

#: Customers noted at a flush from which a forked child writes them (`RedisMirror.fork_at`).
FORK_AT = 1_000

#: After a forked flush ended, the next one waits this many times as long as it took (`RedisMirror.fork_gap`).
FORK_GAP = 2.0


class _Profile(Protocol):
    def to_record(self) -> dict[str, Any]: ...


def _records(profile: Callable[[str], _Profile | None], cids: set[str]) -> dict[str, dict[str, Any] | None]:
    """The read-model records of `cids` (None: the customer is gone), in id order."""
    out: dict[str, dict[str, Any] | None] = {}
    for cid in sorted(cids):
        p = profile(cid)
        out[cid] = None if p is None else p.to_record()
    return out


def _profiles(pipeline: Pipeline, cids: set[str]) -> dict[str, dict[str, Any] | None]:
    """The read-model records of the ordered stage's customers `cids`."""
    return _records(pipeline.resolver.profile, cids)


@dataclass(frozen=True, slots=True)
class _Child:
    """A forked child writing Redis: a flush's customers, or (``rebuild``) the whole read model, at ``offset``."""

    pid: int
    offset: int
    rebuild: bool
    started: float
    customers: int = 0


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
        #: with ``IRL_CUSTOMER_STAGE=kafka`` the effects partitions mirror their customers (`PartitionMirror`):
        #: this one writes nothing, and the ordered stage builds no profile for Redis
        self.off = settings.customer_stage_kafka
        #: customers noted from which a flush is written by a forked child (None: never)
        self.fork_at = fork_at
        #: a forked flush starts no sooner than this many times the last one's duration after it ended
        self.fork_gap = fork_gap
        self._fork_resume_at = 0.0
        #: the child writing a flush or a rebuild
        self._child: _Child | None = None
        self.settings = settings
        self.interval_s = interval_s
        self._touched: set[str] = set()
        self._removed: dict[str, str | None] = {}
        self._forget: list[str] = []
        self._offset: int | None = None
        self._flushed_at = 0.0
        #: after a restore behind Redis: steps up to this offset are already in Redis
        self._skip_until = -1

    def client(self) -> RedisReadModel:
        """The read model's client, made once for the whole process: the views read Redis through it (`/ready`,
        lookups and profiles on a standby), on every worker, writer or not."""
        return self._model()

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
        if self.off:
            self._model()  # the views read Redis through it (`/ready`, lookups on a standby)
            return
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
        if self.off:
            return
        holds = step.offset if step.holds_through is None else step.holds_through
        if holds <= self._skip_until:
            return
        for cid, survivor in step.removed.items():
            self._touched.discard(cid)
            self._removed[cid] = survivor
        for cid in step.erased_absorbed:  # their aliases named the erased person: gone with her, as over Kafka
            self._touched.discard(cid)
            self._removed[cid] = None
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
            touched, removed, forget, expect, s = (
                self._touched,
                self._removed,
                self._forget,
                rt.redis_offset,
                self.settings,
            )
            try:
                # The child sees the state as it is now, the state at `offset`.
                self._fork(
                    lambda: apply_if_at_blocking(
                        s.redis_url,
                        s.topic_prefix,
                        s.redis_ca_file,
                        expect,
                        (_profiles(pipeline, touched), removed, offset, forget),
                    ),
                    offset,
                )
                self._clear()
                self.rt.stats["redis_child_flushes"] += 1
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

    def _fork(self, write: Callable[[], bool], offset: int, rebuild: bool = False, customers: int = 0) -> None:
        """Fork a child that runs ``write`` (a Redis write at links offset ``offset`` on a connection of its own).

        The child exits 0 when ``write`` returns True, 3 when it returns False (Redis was not at the
        offset expected), 1 on any other failure (`_reap` reads which). Raises OSError when no
        child can be made.
        """
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: its own connection, nothing of the parent's I/O, no collector
            code = 1
            try:
                if rebuild:
                    # Its writes are unconditional: it must not outlive the stage that owns Redis.
                    die_with_parent(parent)
                gc.disable()  # a collection would touch (and so copy) every page of the parent's state
                with contextlib.suppress(OSError):
                    os.nice(5)
                code = 0 if write() else 3
            finally:
                os._exit(code)
        self._child = _Child(pid, offset, rebuild, time.monotonic(), customers)

    async def _wait(self) -> None:
        """Until no child writes (its result collected)."""
        while self._reap():
            await asyncio.sleep(0.02)

    def _reap(self) -> bool:
        """Collect a finished child's result into `rt.redis_offset`; True while one still runs."""
        child = self._child
        if child is None:
            return False
        done, status = os.waitpid(child.pid, os.WNOHANG)
        if done == 0:
            return True
        self._child = None
        now = time.monotonic()
        if not child.rebuild:
            self._fork_resume_at = now + self.fork_gap * (now - child.started)
        code = os.waitstatus_to_exitcode(status)
        if code == 0:
            self.rt.redis_offset = child.offset
            if child.rebuild:
                self._rebuilt(child.customers, child.offset, child.started, " by a forked child")
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
        if self.off or rt.pipeline is None or (rt.applied_offset < self._skip_until and not force):
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
            await self._rebuild(model, rt.pipeline)
        except Exception as exc:
            log.warning("redis unavailable (%s); the state remains the source of truth", type(exc).__name__)
            rt.redis_offset = None

    async def _rebuild(self, model: RedisReadModel, pipeline: Pipeline) -> None:
        """Replace the read model with the state's customers at the applied offset.

        Of `fork_at` customers or more, a forked child builds and writes them (`rebuild_blocking`)
        while the stage goes on, as a flush's (a rebuild of 11.7k customers blocked the stage's
        loop for 21.9 s, longer than the group's session: the s32 audit, F6); the steps applied
        meanwhile are noted and written on top once it has ended (`_reap`).
        """
        rt, s = self.rt, self.settings
        offset, customers = rt.applied_offset, pipeline.resolver.customer_count()
        t0 = time.monotonic()
        if self.fork_at is not None and customers >= self.fork_at:
            rt.redis_offset = None  # until the child has written it
            try:
                self._fork(
                    lambda: (
                        rebuild_blocking(
                            s.redis_url,
                            s.topic_prefix,
                            s.redis_ca_file,
                            pipeline.mirror_records(),
                            offset,
                            pipeline.mirror_aliases(),
                        )
                        >= 0
                    ),
                    offset,
                    rebuild=True,
                    customers=customers,
                )
                return
            except OSError as exc:  # no memory or processes left for a child: rebuilt here instead
                log.warning("redis mirror: cannot fork (%s); rebuilding in process", exc)
        n = await model.rebuild(pipeline.mirror_records(), pipeline.mirror_aliases(), offset)
        rt.redis_offset = offset
        self._rebuilt(n, offset, t0, "")

    def _rebuilt(self, customers: int, offset: int, started: float, how: str) -> None:
        self.rt.stats["redis_rebuilds"] += 1
        log.info(
            "redis read model rebuilt from the state%s: %d customers (offset %d) in %.2fs",
            how,
            customers,
            offset,
            time.monotonic() - started,
        )


class PartitionModel(Protocol):
    """What a `PartitionMirror` needs of the read model (`RedisReadModel`; an in-memory fake in tests)."""

    async def offset(self, field: str = ...) -> int | None: ...

    async def apply_if_at(
        self,
        expect: int,
        profiles: Mapping[str, Written | None],
        removed: dict[str, str | None],
        offset: int,
        forget: Iterable[str] = (),
        field: str = ...,
    ) -> bool: ...

    async def rebuild_partition(
        self,
        partition: int,
        mine: Callable[[str], bool],
        live: Callable[[str], bool],
        profiles: Iterable[tuple[str, dict[str, Any]]],
        offset: int,
        aliases: Iterable[tuple[str, str]] = ...,
    ) -> int: ...


class PartitionMirror:
    """One effects partition's customers in the Redis read model (``IRL_CUSTOMER_STAGE=kafka``).

    The partition's `CustomerStage` notes which of its customers moved and which ids left
    (`CustomerStage.take_changes`); `note` takes them after each fetch, and `flush` writes them
    at most every `interval_s`, each customer's profile built once per flush (the stage
    memoises it), with the partition's effects offset in ``P:meta`` (`partition_field`), in one
    script call that applies only when Redis holds the offset this mirror last wrote. So Redis
    at effects offset X of partition n holds every change of partition n's customers up to X.

    `resume` (a partition taken, its snapshot loaded at offset S) compares that offset R with S:
    R = S, level; R > S, ahead (a crash after a Redis write and before the snapshot): nothing is
    written until the partition has passed R, the same log giving the same state; R < S or none
    (Redis flushed, restarted, restored from an older dump, never written): this partition's
    part is rebuilt from its own state (`RedisReadModel.rebuild_partition`: its live customers'
    profiles and the aliases of its absorbed ids, `CustomerStage.aliases`), the others' left
    alone. A write refused (Redis not at the offset last written) or failed is rebuilt the same
    way, retried every `retry_s`; with nothing to write, Redis's offset is read every `check_s`
    (a FLUSHALL while the partition is idle). The owner flushes (``force``) before it stores a snapshot, so
    Redis is never behind a stored snapshot unless Redis lost data.

    Partitions write different customers, and the identifier index is derived from the stored
    profiles (`streams.readmodel._APPLY`), so their writes commute: Redis ends the same for
    1, 2 or 3 workers, whatever the order of their flushes.
    """

    def __init__(
        self,
        partition: int,
        partitions: int,
        model: Callable[[], PartitionModel],
        stats: dict[str, Any],
        interval_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        retry_s: float = 5.0,
        check_s: float = 2.0,
        probe_s: float = 1.0,
    ) -> None:
        self.partition = partition
        self.partitions = partitions
        self.field = partition_field(partition)
        self._model = model
        self.stats = stats
        self.interval_s = interval_s
        self.clock = clock
        self.retry_s = retry_s
        #: while Redis did not answer at the last try, whether it answers again is asked this often (`_answers_again`)
        self.probe_s = probe_s
        self._probed_at = clock()
        #: the last try failed because Redis did not answer (a connection error), not because it refused a write
        self._unreachable = False
        #: with nothing to write, Redis's offset of this partition is read this often (a FLUSHALL while idle)
        self.check_s = check_s
        self._checked_at = clock()
        #: the effects offset Redis holds for this partition as this mirror last wrote or read it (None:
        #: unknown or behind: `flush` rebuilds the partition's part)
        self.at: int | None = None
        #: after a resume behind Redis: changes up to this offset are in Redis already
        self._skip_until = -1
        self._touched: set[str] = set()
        self._removed: dict[str, str | None] = {}
        #: the last effects offset noted (None: none since the resume)
        self._offset: int | None = None
        self._flushed_at = clock()
        self._tried_at: float | None = None

    def _clear(self) -> None:
        self._touched, self._removed = set(), {}

    async def resume(self, stage: CustomerStage, applied: int) -> None:
        """The partition's state was loaded at effects offset ``applied``: go on from where Redis is."""
        stage.take_changes()  # a loaded stage holds all its customers: a rebuild, not a flush, writes them
        self._clear()
        self.at, self._skip_until, self._offset = None, -1, applied
        try:
            have = await self._model().offset(self.field)
        except Exception as exc:
            log.warning("redis unavailable for effects partition %d (%s): rebuilt later", self.partition, exc)
            self._tried_at, self._unreachable = self.clock(), _unreachable(exc)
            return
        if have is not None and have > applied:
            self.at = self._skip_until = have
        elif have == applied:
            self.at = applied
        else:
            await self._rebuild(stage)

    def note(self, stage: CustomerStage, offset: int) -> None:
        """Take what the stage changed up to effects offset ``offset`` (applied), to write at the next flush."""
        touched, removed = stage.take_changes()
        self._offset = offset
        if offset <= self._skip_until:
            return  # Redis holds these changes already
        for cid, survivor in removed.items():
            self._touched.discard(cid)
            self._removed[cid] = survivor
        for cid in touched:
            self._touched.add(cid)
            self._removed.pop(cid, None)

    def pending(self) -> bool:
        """Changes noted and not yet in Redis, or an offset Redis does not hold yet."""
        return bool(self._touched or self._removed) or (self._offset is not None and self._offset != self.at)

    async def flush(self, stage: CustomerStage, force: bool = False) -> None:
        """Write what was noted, when `interval_s` passed since the last write (now with ``force``);
        rebuild this partition's part instead when Redis is not where this mirror left it."""
        offset = self._offset
        if offset is None or offset < self._skip_until:
            return
        if offset == self._skip_until:  # caught up with what Redis held after the resume: level, as usual from here
            self._skip_until = -1
        now = self.clock()
        if self.at is None:
            due = force or self._tried_at is None or now - self._tried_at >= self.retry_s
            if due or await self._answers_again(now):
                await self._rebuild(stage)
            return
        if not self.pending():
            if now - self._checked_at >= self.check_s:
                await self._check(stage, now)
            return
        if not force and now - self._flushed_at < self.interval_s:
            return
        self._flushed_at = self._checked_at = now
        profiles = _partition_profiles(stage, self._touched)
        removed = self._removed
        self._clear()
        try:
            ok = await self._model().apply_if_at(self.at, profiles, removed, offset, field=self.field)
        except Exception as exc:  # Redis is a read model: the partition's state stays right, rebuilt later
            log.warning("redis mirror of effects partition %d failed (%s); will rebuild", self.partition, exc)
            self.at, self._tried_at, self._unreachable = None, now, _unreachable(exc)
            return
        if ok:
            self.at = offset
        else:
            log.warning(
                "redis read model not at offset %d of effects partition %d (flushed, restarted): rebuild",
                self.at,
                self.partition,
            )
            self.at = None
            await self._rebuild(stage)

    async def _answers_again(self, now: float) -> bool:
        """Redis did not answer at the last try: whether it answers now (asked every `probe_s`), to rebuild at once.

        A restarted Redis was rebuilt up to `retry_s` (5 s) after it answered again, by each
        partition on its own timer, so with two per-customer processes the last part came back
        1.5 to 5.8 s after the restart in the chaos suite (docs/reliability.md). A refused write
        (Redis answering) still waits `retry_s`: a rebuild writes every customer of the partition.
        """
        if not self._unreachable or now - self._probed_at < self.probe_s:
            return False
        self._probed_at = now
        try:
            await self._model().offset(self.field)
        except Exception:
            return False
        return True

    async def _check(self, stage: CustomerStage, now: float) -> None:
        """Nothing to write: rebuild when Redis no longer holds this partition at the offset last written."""
        self._checked_at = now
        try:
            have = await self._model().offset(self.field)
        except Exception as exc:
            log.warning("redis unavailable for effects partition %d (%s): rebuilt later", self.partition, exc)
            self.at, self._tried_at, self._unreachable = None, now, _unreachable(exc)
            return
        if have != self.at:
            log.warning("redis read model lost effects partition %d (flushed, restarted): rebuild", self.partition)
            self.at = None
            await self._rebuild(stage)

    async def _rebuild(self, stage: CustomerStage) -> None:
        """Replace this partition's part of Redis with its customers at the offset noted last."""
        offset = -1 if self._offset is None else self._offset
        self._clear()
        self._skip_until = -1
        self._tried_at = t0 = self.clock()
        n, me = self.partitions, self.partition
        try:
            written = await self._model().rebuild_partition(
                me,
                lambda cid: partition_of(cid, n) == me,
                lambda cid: stage.input(cid) is not None,
                _all_profiles(stage),
                offset,
                stage.aliases(),
            )
        except Exception as exc:
            log.warning("redis unavailable for effects partition %d (%s): rebuilt later", self.partition, exc)
            self.at, self._unreachable = None, _unreachable(exc)
            return
        self.at, self._unreachable = offset, False
        self._flushed_at = self.clock()
        self.stats["redis_rebuilds"] = self.stats.get("redis_rebuilds", 0) + 1
        log.info(
            "redis read model: effects partition %d rebuilt from its state, %d customers (offset %d) in %.2fs",
            me,
            written,
            offset,
            self.clock() - t0,
        )


def _unreachable(exc: BaseException) -> bool:
    """The error says Redis did not answer (refused or dropped connection, timeout), not that it refused a write."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return isinstance(exc, OSError | TimeoutError | RedisConnectionError | RedisTimeoutError)


def _partition_profiles(stage: CustomerStage, cids: set[str]) -> dict[str, Profile | None]:
    """The profiles of a partition's customers (None: gone), in id order; written as they are (`readmodel.Written`:
    no record dict is built for them)."""
    return {cid: stage.profile(cid) for cid in sorted(cids)}


def _all_profiles(stage: CustomerStage) -> Iterator[tuple[str, dict[str, Any]]]:
    for cid in stage.customer_ids():
        p = stage.profile(cid)
        if p is not None:
            yield cid, p.to_record()
