"""Packed columns: the encoding a snapshot (`resolver.snapshot`) writes its fields in, and its C-level cutters.

An integer column is bytes: an `array` type code, then the items little-endian (`pack`,
`column`). A run-length column is written as its start offsets (`offsets`: one more item
than runs, the last the end), so a load takes it as an array with no pass of its own. The
cutters (`split`, `tuples`, `pairs`, `halves`, `where`) turn flat columns into the state's
containers with `map`, `zip` and slicing, in C: on a large state a Python loop per item
costs as much as the rest of a load.
"""

from __future__ import annotations

import marshal
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate, chain, compress, count, repeat
from operator import is_not
from typing import Any, TypeVar, overload

__all__ = [
    "MARSHAL",
    "Sparse",
    "as_array",
    "based",
    "column",
    "halves",
    "lengths",
    "narrow",
    "not_none",
    "offsets",
    "pack",
    "pack_codes",
    "pairs",
    "split",
    "starts",
    "text",
    "tuples",
    "unpack",
    "where",
]

#: No object references (marshal 3+ adds them by object identity): bytes depend on values only.
MARSHAL = 2
_SWAP = sys.byteorder != "little"
#: Integer array types tried in turn: unsigned 32-bit, signed 64-bit (each 4 and 8 bytes on every platform we run).
_CODES = ("I", "q")
#: An integer column too wide for 64 bits: marshalled as a list instead.
_WIDE = b"*"
T = TypeVar("T")


def pack(values: Iterable[int]) -> bytes:
    """An integer column: its array type code, then the items (little-endian).

    Unsigned 32-bit when every item fits (indices, lengths, counts), else signed 64-bit
    (times), else a marshalled list. The first type that takes the column is chosen by
    trying it (a failure stops at the first item that does not fit): no pass to find the
    range first, since on a large state each pass over cold integers costs as much as the
    packing itself.
    """
    if isinstance(values, array) and values.typecode == "I" and not _SWAP:
        return b"I" + values.tobytes()  # a loaded column, as it was read
    values = values if isinstance(values, Sequence) else list(values)
    for code in _CODES:
        try:
            packed = array(code, values)
        except OverflowError:
            continue
        if _SWAP:
            packed.byteswap()
        return code.encode("ascii") + packed.tobytes()
    return _WIDE + marshal.dumps(list(values), MARSHAL)


def pack_codes(values: Sequence[int]) -> bytes:
    """`pack`, in one byte an item when every item is under 256 (codes of a few distinct values)."""
    if max(values, default=0) < 256 and min(values, default=0) >= 0:
        packed = array("B", values)
        return b"B" + packed.tobytes()
    return pack(values)


def unpack(data: bytes) -> list[int]:
    got = column(data)
    return got if isinstance(got, list) else got.tolist()


def column(data: bytes) -> array[int] | list[int]:
    """An integer column as an array (iterated without a list of ints) or, when too wide, a list."""
    if data[:1] == _WIDE:
        values: list[int] = marshal.loads(data[1:])
        return values
    packed = array(data[:1].decode("ascii"))
    packed.frombytes(memoryview(data)[1:])
    if _SWAP:
        packed.byteswap()
    return packed


def narrow(values: array[int]) -> array[int]:
    """`values` in the narrowest unsigned array that holds them (1, 2 or 4 bytes an item), else as they are.

    For a loaded column of small numbers (counts): read by index, its items are the same ints.
    """
    if not values or values.typecode in ("B", "b"):
        return values
    low, high = min(values), max(values)
    for code, limit in (("B", 1 << 8), ("H", 1 << 16), ("I", 1 << 32)):
        if low >= 0 and high < limit:
            return values if values.typecode == code else array(code, values)
    return values


def based(values: array[int]) -> tuple[int, array[int]]:
    """(base, offsets): `values` as offsets from their least, narrowed (`narrow`): times in 4 bytes, not 8."""
    if not values:
        return 0, values
    base = min(values)
    return base, narrow(array("q", map(int.__sub__, values, repeat(base))))


class Sparse:
    """The rows that have a sparse field (sorted) and the position of each among them: a dict's `get`, by bisect.

    Four bytes a row where a dict of ints costs about a hundred.
    """

    __slots__ = ("rows",)

    def __init__(self, rows: array[int]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, row: int, default: int | None = None) -> int | None:
        """The position of `row` among the rows, or `default`."""
        rows = self.rows
        i = bisect_left(rows, row)
        return i if i < len(rows) and rows[i] == row else default


def as_array(data: bytes) -> array[int]:
    """An integer column as an array (signed 64-bit when too wide for its own code)."""
    got = column(data)
    return got if isinstance(got, array) else array("q", got)


def offsets(sizes: Iterable[int]) -> bytes:
    """Packed start offsets of consecutive runs of `sizes`, and the end of the last (one more item)."""
    return pack(list(accumulate(sizes, initial=0)))


def lengths(groups: Iterable[Sequence[Any] | dict[Any, Any]]) -> bytes:
    """The packed lengths of `groups`."""
    return pack(list(map(len, groups)))


def starts(sizes: Iterable[int]) -> array[int]:
    """Start offsets of consecutive runs of `sizes`, and the end of the last (one more item)."""
    return array("Q", chain((0,), accumulate(sizes)))


def text(values: Iterable[str]) -> tuple[bytes, list[int]]:
    """Strings as one UTF-8 text (lone surrogates kept, as JSON may bring them) and their byte lengths."""
    encoded = list(map(str.encode, values, repeat("utf-8"), repeat("surrogatepass")))
    return b"".join(encoded), list(map(len, encoded))


def halves(flat: Sequence[T]) -> Iterator[tuple[T, T]]:
    """Consecutive pairs of `flat` (a, b, c, d -> (a, b), (c, d))."""
    return zip(flat[::2], flat[1::2], strict=True)


@overload
def split(flat: list[T], sizes: Sequence[int]) -> list[list[T]]: ...
@overload
def split(flat: tuple[T, ...], sizes: Sequence[int]) -> list[tuple[T, ...]]: ...
def split(flat: Sequence[T], sizes: Sequence[int]) -> list[Any]:
    """`flat` cut into consecutive runs of `sizes`, of its own type (C-level slicing, no Python loop)."""
    ends = list(accumulate(sizes))
    return list(map(flat.__getitem__, map(slice, chain((0,), ends), ends)))


def tuples(flat: Iterable[T], sizes: Iterable[int]) -> list[tuple[T, ...]]:
    """`flat` cut into consecutive tuples of `sizes` (each made by a `zip` over one iterator, in C).

    Faster than slicing for short runs: a zip of k copies of one iterator takes the next k
    items per call, and the sizes pick the zip (the shared empty tuple for 0).
    """
    sizes = sizes if isinstance(sizes, list) else list(sizes)
    items = iter(flat)
    makers: list[Iterator[tuple[T, ...]]] = [repeat(())]
    makers += [zip(*repeat(items, k), strict=True) for k in range(1, max(sizes, default=0) + 1)]
    return list(map(next, map(makers.__getitem__, sizes)))


def pairs(flat: list[T], sizes: list[int]) -> list[list[T]]:
    """`split` of a column holding two values per item (the sizes count items)."""
    return split(flat, [2 * n for n in sizes])


def where(values: Iterable[Any]) -> list[int]:
    """Indices of the truthy items (in C)."""
    return list(compress(count(), values))


def not_none(values: Iterable[Any]) -> list[int]:
    """Indices of the items that are not None (in C)."""
    return where(map(is_not, values, repeat(None)))
