"""A customer's split barriers: shared and read-only while empty, its own dict from the first barrier on."""

from __future__ import annotations

import pytest

from resolver.graph import NO_BARS, Customer


def test_customers_share_no_barriers_until_one_is_recorded() -> None:
    a, b = Customer("c_a", "p:+911", 1), Customer("c_b", "p:+912", 2)
    assert a.bars is NO_BARS and b.bars is NO_BARS and not a.bars
    a.bar(3, 1)
    a.bar(1, 0)
    a.bar(3, 2)
    assert a.bars == {3: 2, 1: 0} and list(a.bars) == [3, 1]
    assert b.bars is NO_BARS and dict(NO_BARS) == {}
    assert a.record()["b"] == [[1, 0], [3, 2]] and "b" not in b.record()


def test_the_shared_empty_barriers_cannot_be_changed_in_place() -> None:
    with pytest.raises(TypeError):
        NO_BARS[1] = 0  # type: ignore[index]
