"""The worker's child processes pace the garbage collector as the worker does (`streams.gcpolicy`, s38)."""

from __future__ import annotations

import gc
import logging
from collections.abc import Coroutine
from typing import Any

import pytest

from streams import customer_process, gcpolicy, triage_process


@pytest.mark.parametrize("module", [customer_process, triage_process], ids=["customers", "triage"])
def test_a_child_process_runs_with_the_state_s_young_generation(module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[bool] = []

    def run(coro: Coroutine[Any, Any, int]) -> int:
        ran.append(gc.get_threshold()[0] == gcpolicy.YOUNG)  # the pace the child's loop runs at
        coro.close()
        return 0

    before = gc.get_threshold()
    gc.set_threshold(700, before[1], before[2])  # CPython's default, as a fresh interpreter starts
    monkeypatch.setattr(module.asyncio, "run", run)
    monkeypatch.setattr(module, "die_with_parent", lambda _pid: None)
    monkeypatch.setattr(module.logging, "basicConfig", lambda **_kw: None)
    levels = {name: logging.getLogger(name).level for name in ("aiokafka", "faust", "mode")}
    try:
        assert module.main(["0", "1"]) == 0
    finally:
        gc.set_threshold(*before)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    assert ran == [True]
