"""`streams.heap.release_freed` gives the C heap's free memory back to the system (glibc)."""

from __future__ import annotations

import ctypes.util
import os
import platform

import pytest

from streams.heap import release_freed


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim")
def test_memory_freed_in_the_middle_of_the_heap_goes_back_to_the_system() -> None:
    assert ctypes.util.find_library("c")
    release_freed()
    # 64 MB of blocks too large for Python's own allocator and too small for their own mapping, then
    # a block after them that stays: freeing the first leaves a hole the heap's top cannot give back.
    blocks = [bytes(4000) for _ in range(16_000)]
    pin = [bytes(4000) for _ in range(8)]
    before = _rss()
    del blocks
    freed = _rss()
    assert release_freed() is True
    after = _rss()
    assert pin and before - freed < 16 << 20  # freeing alone gave back little (the hole stays resident)
    assert freed - after > 32 << 20  # the trim gave it back
