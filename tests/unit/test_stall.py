"""The stall watch: records waiting and nothing applied for the limit is a stall; anything else is not.

applied   5  5  5  5  5  6  6
log end   9  9  9  9  9  9  7      (7 = nothing waits past offset 6)
time      0  1  2  3  4  5  9
stalled   .  .  .  X  X  .  .      limit 3 s
"""

from __future__ import annotations

import asyncio

from streams.stall import StallWatch, task_stacks


def test_waiting_without_progress_for_the_limit_is_a_stall() -> None:
    watch = StallWatch(3.0)
    seen = [
        watch.observe(t, applied, end) for t, applied, end in [(0, 5, 9), (1, 5, 9), (2, 5, 9), (3, 5, 9), (4, 5, 9)]
    ]
    assert seen == [False, False, False, True, True]
    assert watch.stalled_for(4.0) == 4.0
    assert watch.observe(5, 6, 9) is False  # progress resets the clock
    assert watch.stalled_for(5.0) == 0.0
    assert watch.observe(9, 6, 7) is False  # caught up: nothing waits
    assert watch.stalled_for(9.0) == 0.0


def test_an_unknown_log_end_is_never_a_stall() -> None:
    watch = StallWatch(1.0)
    assert not any(watch.observe(t, 0, None) for t in range(10))


def test_task_stacks_name_every_task() -> None:
    async def main() -> str:
        started, never = asyncio.Event(), asyncio.Event()

        async def waiter() -> None:
            started.set()
            await never.wait()

        task = asyncio.create_task(waiter(), name="the-waiter")
        await asyncio.wait_for(started.wait(), timeout=5)
        try:
            return task_stacks()
        finally:
            task.cancel()

    text = asyncio.run(main())
    assert "the-waiter" in text and "waiter" in text
