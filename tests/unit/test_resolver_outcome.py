"""The per-event outcome built on the fast path is the same value as the dataclass one."""

from __future__ import annotations

from resolver.outcome import Outcome
from resolver.outcome import touched_one as _touched_one


def test_the_fast_outcome_equals_the_dataclass_one() -> None:
    fast = _touched_one("e1", "c_1")
    slow = Outcome("e1", customer_id="c_1", touched=("c_1",))
    assert fast == slow
    assert repr(fast) == repr(slow)
    assert hash(fast) == hash(slow)
