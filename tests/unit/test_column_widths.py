"""A loaded column kept narrow (`resolver.columns.narrow`, `based`) or sparse (`Sparse`) reads as the wide one."""

from __future__ import annotations

from array import array

from hypothesis import given
from hypothesis import strategies as st

from resolver import columns as col


@given(st.lists(st.integers(0, 2**40)), st.sampled_from(["I", "q"]))
def test_narrow_keeps_every_item(values: list[int], code: str) -> None:
    wide = array("q", values)
    if code == "I" and any(v >= 2**32 for v in values):
        return
    narrowed = col.narrow(array(code, values))
    assert narrowed.tolist() == wide.tolist()
    high = max(values, default=0)
    assert narrowed.itemsize == (1 if high < 2**8 else 2 if high < 2**16 else 4 if high < 2**32 else 8) or not values


@given(st.lists(st.integers(1_600_000_000_000, 1_800_000_000_000)))
def test_based_times_are_the_times(values: list[int]) -> None:
    base, offsets = col.based(array("q", values))
    assert [base + x for x in offsets] == values
    assert offsets.itemsize <= 8 and (not values or max(values) - min(values) >= 2**32 or offsets.itemsize <= 4)


@given(st.sets(st.integers(0, 500)), st.lists(st.integers(-5, 505)))
def test_sparse_gets_as_the_dict_of_positions(rows: set[int], probes: list[int]) -> None:
    ordered = sorted(rows)
    sparse, plain = col.Sparse(array("I", ordered)), dict(zip(ordered, range(len(ordered)), strict=True))
    assert len(sparse) == len(plain)
    assert [sparse.get(p) for p in probes] == [plain.get(p) for p in probes]
    assert [sparse.get(p, -1) for p in ordered] == list(range(len(ordered)))
