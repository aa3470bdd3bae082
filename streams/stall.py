"""The single writer's stall watch: input waiting, nothing applied for too long, is never silent.

A writer that owns the links partition, has records past its applied offset in the log, and
applies nothing for `limit_s` seconds is stalled: the worker says so (the log, with every
task's stack so the await it hangs on is known; `/ready`; the metric) and exits, so that a
supervisor restarts it and the restart reads on from its state. `StallWatch` only decides;
the clock feeds it.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import threading
import time
import traceback

__all__ = [
    "LoopWatch",
    "StallWatch",
    "revoke_overdue",
    "task_stacks",
]


class StallWatch:
    """Decides, from (time, applied offset, log end) samples, when the writer is stalled."""

    __slots__ = ("_applied", "_since", "limit_s")

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self._applied: int | None = None
        self._since: float | None = None

    def observe(self, now: float, applied: int, log_end: int | None) -> bool:
        """One sample: True when records wait (``log_end`` past ``applied + 1``) and nothing moved for `limit_s`.

        ``log_end`` is the offset the next record will get (Kafka's high watermark); None
        when unknown, which never counts as waiting.
        """
        waiting = log_end is not None and log_end > applied + 1
        if not waiting or applied != self._applied:
            self._applied = applied
            self._since = now if waiting else None
            return False
        if self._since is None:
            self._since = now
        return now - self._since >= self.limit_s

    def stalled_for(self, now: float) -> float:
        """Seconds since the writer last moved while records waited (0 when none wait)."""
        return 0.0 if self._since is None else now - self._since


def revoke_overdue(started: float | None, now: float, limit_s: float) -> bool:
    """True when a revoke of the links log began at `started` (None: none under way) and waited `limit_s` or more.

    A revoke waits for the step in flight (`Sequencer.revoke`); meanwhile the stage owns no
    partition, so `StallWatch` sees nothing waiting, and the group waits for this member to
    rejoin: a step that never ends would stall every worker silently.
    """
    return started is not None and now - started >= limit_s


def rebalance_limit(stall_seconds: float) -> float:
    """Seconds the ordered stage's group may stay in one rebalance before this worker ends itself.

    A healthy rebalance takes seconds; a member stuck in its revoke ends itself after
    `stall_seconds` (`revoke_overdue`) and the broker drops it a session later, so the others
    wait less than this. Longer, the group is stuck (a member that never rejoins) and every
    worker is idle and silent: exiting lets a supervisor start it again, and its static
    member id rejoins at once. At least five minutes: a broker restart is not a stall.
    """
    return max(300.0, 2.5 * stall_seconds)


def rebalance_overdue(started: float | None, now: float, stall_seconds: float) -> bool:
    """True when a rebalance of the ordered stage's group began at `started` and lasted `rebalance_limit` or more."""
    return started is not None and now - started >= rebalance_limit(stall_seconds)


def task_stacks(limit: int = 24) -> str:
    """Every asyncio task's stack, for the log of a stalled worker (code locations only: no values).

    A suspended task's own stack is its outermost coroutine alone; the coroutines it awaits
    (where it is really stuck) are followed down the ``cr_await`` chain.
    """
    out = io.StringIO()
    for task in asyncio.all_tasks():
        out.write(f"--- task {task.get_name()}\n")
        out.write("".join(traceback.format_list(_awaiting(task.get_coro())[-limit:])))
    return out.getvalue()


def _awaiting(coro: object) -> list[traceback.FrameSummary]:
    """The frames of `coro` and of what it awaits, outermost first (generators and coroutines alike)."""
    frames: list[traceback.FrameSummary] = []
    seen = 0
    while coro is not None and seen < 64:
        seen += 1
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None) or getattr(coro, "ag_frame", None)
        if frame is not None:
            frames.append(traceback.FrameSummary(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None) or getattr(coro, "ag_await", None)
    return frames


class LoopWatch:
    """Says when the event loop is blocked: a thread that logs where the loop's thread is stuck.

    A callback on the loop stamps the time every `beat_s`; a daemon thread checks the stamp and,
    once it is older than `limit_s`, logs the loop thread's stack (code locations only, no
    values) once per block. A loop blocked longer than the group session timeout loses its
    consumers' partitions: this names the code that did it.
    """

    def __init__(self, limit_s: float, log: logging.Logger, beat_s: float = 0.25) -> None:
        self.limit_s = limit_s
        self.beat_s = beat_s
        self.log = log
        self.longest_s = 0.0
        self._stamp = time.monotonic()
        self._thread_id = 0
        self._stop = threading.Event()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Begin watching `loop` (call from the loop's thread)."""
        self._thread_id = threading.get_ident()

        def beat() -> None:
            self._stamp = time.monotonic()
            if not self._stop.is_set():
                loop.call_later(self.beat_s, beat)

        beat()
        threading.Thread(target=self._watch, name="irl-loop-watch", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        reported = 0.0
        while not self._stop.wait(self.beat_s):
            stamp = self._stamp
            blocked = time.monotonic() - stamp
            if blocked < self.limit_s or reported == stamp:
                continue
            reported = stamp
            frame = sys._current_frames().get(self._thread_id)
            where = "".join(traceback.format_list(traceback.extract_stack(frame)[-15:])) if frame else "(unknown)"
            self.log.warning("the event loop is blocked for %.1f s; its thread is at:\n%s", blocked, where)
            self.longest_s = max(self.longest_s, blocked)
