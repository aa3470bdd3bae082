"""Tumbling windows: pure functions of an integer millisecond timestamp.

Windows are half-open ``[start, end)``, ``size_ms`` long, aligned to the Unix epoch
(10:00-10:15, 10:15-10:30, ... for 15 minutes). ``window_of(t)`` is the only way a time
is mapped to a window, so the boundary rule lives in one place:

    t = 10:14:59.999  -> [10:00, 10:15)
    t = 10:15:00.000  -> [10:15, 10:30)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Window", "window_of"]


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """A half-open interval ``[start, end)`` of epoch milliseconds."""

    start: int
    end: int

    def __contains__(self, ts_ms: object) -> bool:
        return isinstance(ts_ms, int) and self.start <= ts_ms < self.end

    @property
    def size(self) -> int:
        """Length in milliseconds."""
        return self.end - self.start

    def next(self) -> Window:
        """The window that starts where this one ends."""
        return Window(self.end, self.end + self.size)


def window_of(ts_ms: int, size_ms: int) -> Window:
    """The window of ``size_ms`` that contains ``ts_ms`` (aligned to the epoch; works before 1970 too)."""
    if size_ms <= 0:
        raise ValueError("size_ms must be positive")
    start = ts_ms - ts_ms % size_ms
    return Window(start, start + size_ms)
