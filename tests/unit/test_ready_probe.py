"""`/ready`'s Kafka probe: a yes is held for a second, a no is asked again at once."""

from __future__ import annotations

import asyncio

from streams.web.views import HeldProbe


def test_a_yes_is_held_for_its_time_and_a_no_is_asked_again() -> None:
    answers = [True, False, False, True]
    calls: list[float] = []
    now = [100.0]

    async def probe() -> bool:
        calls.append(now[0])
        return answers[len(calls) - 1]

    held = HeldProbe(probe, hold_s=1.0, clock=lambda: now[0])

    async def ask(at: float) -> bool:
        now[0] = at
        return await held()

    async def scenario() -> list[bool]:
        return [
            await ask(100.0),  # asked: yes
            await ask(100.5),  # held
            await ask(100.99),  # held
            await ask(101.0),  # asked: no (the broker went away)
            await ask(101.1),  # a no is not held: asked again, no
            await ask(101.2),  # asked: yes
            await ask(101.3),  # held
        ]

    assert asyncio.run(scenario()) == [True, True, True, False, False, True, True]
    assert calls == [100.0, 101.0, 101.1, 101.2]
