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

__all__ = ["StallWatch", "task_stacks"]


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


def task_stacks(limit: int = 12) -> str:
    """Every asyncio task's stack, for the log of a stalled worker (frames only: no values)."""
    out = io.StringIO()
    for task in asyncio.all_tasks():
        out.write(f"--- task {task.get_name()}\n")
        task.print_stack(limit=limit, file=out)
    return out.getvalue()
