"""Keys held as one UTF-8 text and found by a stored hash index: a str -> row map without a str per key.

A loaded snapshot's evidence ids (about 1.2 per identifier) would otherwise each be a string
object (70 bytes) and a dict entry (about 40): `TextKeys` holds them as the bytes of one text
with their start offsets, the CRC-32 of each key's UTF-8 bytes sorted, and the rows in that
order. `row` finds a key's row by a binary search (in C) over the sorted hashes and a
comparison of the bytes; `key` makes a row's string when it is read. The index is written
into the snapshot (`resolver.snapshot`, computed by `build`), so a load takes it as it is.

`held` makes a row's string once and gives that one object from then on (so the pieces and
nodes that thaw it share it, as they share the string of a dict's key); `key` makes a new
one each time (for read-only scans and dumps, which keep nothing).

Ids that are one prefix and a fixed number of lowercase hex digits each (the core's evidence and
customer ids, digests; event ids of that form) are held as the bytes the digits stand for, half
the size and with no offsets (`HexText`, `HexKeys`; `hex_form` says whether keys take that form).
"""

from __future__ import annotations

from array import array
from binascii import Error as BinasciiError
from binascii import hexlify, unhexlify
from bisect import bisect_left
from collections.abc import Iterable
from itertools import accumulate, repeat
from operator import add, itemgetter, mul
from typing import Any, Protocol
from zlib import crc32

__all__ = ["HexKeys", "HexText", "Keys", "RefKeys", "StrKeys", "TextKeys", "hex_form", "index", "key_hashes"]


def key_hashes(encoded: Iterable[bytes]) -> list[int]:
    """The index hash of each key's UTF-8 bytes (CRC-32: a function of the bytes alone, in every process)."""
    return list(map(crc32, encoded))


class Keys(Protocol):
    """Keys by row with a hash index (`TextKeys`, `StrKeys`): what `resolver.cold.TextTable` reads."""

    def __len__(self) -> int: ...

    def keys(self, rows: Iterable[int]) -> list[str]: ...

    def key(self, row: int) -> str: ...

    def held(self, row: int) -> str: ...

    def row(self, key: str) -> int | None: ...


class TextKeys:
    """Row ``r``'s key is ``text[starts[r]:starts[r + 1]]`` (UTF-8); ``hashes`` sorted, ``order`` their rows."""

    __slots__ = ("_held", "hashes", "order", "starts", "text")

    def __init__(self, text: bytes, starts: array[int], hashes: array[int], order: array[int]) -> None:
        if len(starts) != len(hashes) + 1 or len(order) != len(hashes) or (starts and starts[-1] != len(text)):
            raise ValueError("key text, offsets and index differ in length")
        self.text, self.starts, self.hashes, self.order = text, starts, hashes, order
        #: row -> its string, for the rows made strings that the state keeps (`held`)
        self._held: dict[int, str] = {}

    @classmethod
    def build(cls, keys: list[str]) -> TextKeys:
        """The keys `keys` (row ``r`` is ``keys[r]``), with their index."""
        encoded = list(map(str.encode, keys, repeat("utf-8"), repeat("surrogatepass")))
        text, starts = b"".join(encoded), array("Q", [0])
        starts.extend(accumulate(map(len, encoded)))
        hashes, order = index(encoded)
        return cls(text, starts, hashes, order)

    def __len__(self) -> int:
        return len(self.hashes)

    def key(self, row: int) -> str:
        """Row `row`'s key, as a new string."""
        starts = self.starts
        return self.text[starts[row] : starts[row + 1]].decode("utf-8", "surrogatepass")

    def keys(self, rows: Iterable[int]) -> list[str]:
        """The keys of `rows`, as new strings (in C: a dump reads them all)."""
        rows = rows if isinstance(rows, list) else list(rows)
        starts = self.starts
        spans = map(slice, map(starts.__getitem__, rows), map(starts.__getitem__, map(add, rows, repeat(1))))
        return list(map(bytes.decode, map(self.text.__getitem__, spans), repeat("utf-8"), repeat("surrogatepass")))

    def held(self, row: int) -> str:
        """Row `row`'s key as the one string the state holds for it (made on the first call)."""
        made = self._held.get(row)
        if made is None:
            made = self._held[row] = self.key(row)
        return made

    def row(self, key: str) -> int | None:
        """The row of `key`, or None when it is none of the keys."""
        data = key.encode("utf-8", "surrogatepass")
        h = crc32(data)
        hashes, order, starts, text = self.hashes, self.order, self.starts, self.text
        i = bisect_left(hashes, h)
        end = len(hashes)
        while i < end and hashes[i] == h:
            r = order[i]
            if text[starts[r] : starts[r + 1]] == data:
                return r
            i += 1
        return None


def hex_form(values: list[str]) -> tuple[str, bytes] | None:
    """(prefix, bytes) when every value is one common prefix and the same even number (at least two) of
    lowercase hex digits after it, the bytes those digits stand for, value after value; else None.

    ASCII values (every id the core makes) are read as one text: the common prefix found by a
    strided slice per position, the digits cut out by one strided copy per digit (in C, no
    string per value); others by `_hex_form_each`, which gives the same answer.
    """
    if not values:
        return None
    try:
        text = "".join(values).encode("ascii")
    except UnicodeEncodeError:
        return _hex_form_each(values)
    n, size = len(values), len(values[0])
    if len(text) != n * size or min(map(len, values)) != size:  # each at least `size`, all `size` long
        return None
    i = 0
    while i < size and text[i::size] == text[i : i + 1] * n:  # the common prefix
        i += 1
    i -= (size - i) % 2  # an even number of digits
    width = size - i
    if i < 0 or width < 2:
        return None
    digits = bytearray(n * width)
    for j in range(width):
        digits[j::width] = text[i + j :: size]
    try:
        data = unhexlify(digits)
    except BinasciiError:
        return None
    return (values[0][:i], data) if hexlify(data) == digits else None  # lowercase


def _hex_form_each(values: list[str]) -> tuple[str, bytes] | None:
    """`hex_form` read value by value (any text)."""
    if not values:
        return None
    lo, hi = min(values), max(values)  # the common prefix of all is theirs
    i = 0
    while i < len(lo) and i < len(hi) and lo[i] == hi[i]:
        i += 1
    size = len(values[0])
    i -= (size - i) % 2  # an even number of digits
    if i < 0 or size - i < 2 or set(map(len, values)) != {size}:
        return None
    digits = "".join(map(itemgetter(slice(i, None)), values))
    try:
        data = bytes.fromhex(digits)
    except ValueError:
        return None
    return (values[0][:i], data) if data.hex() == digits else None  # lowercase, nothing skipped


class HexText:
    """Strings ``prefix + data[w * r:w * (r + 1)].hex()`` (`hex_form`): one prefix, fixed-width hex digits."""

    __slots__ = ("data", "prefix", "width")

    def __init__(self, prefix: str, data: bytes, count: int) -> None:
        if (count and len(data) % count) or (not count and data):
            raise ValueError("hex text and its count disagree")
        self.prefix, self.data, self.width = prefix, data, len(data) // count if count else 0

    def __len__(self) -> int:
        return len(self.data) // self.width if self.width else 0

    def read(self, row: int) -> str:
        """Row `row`'s string."""
        w = self.width
        return self.prefix + self.data[w * row : w * row + w].hex()

    def reads(self, rows: Iterable[int]) -> list[str]:
        """The strings of `rows` (in C)."""
        rows = rows if isinstance(rows, list) else list(rows)
        if 2 * len(rows) >= len(self) and self.prefix.isascii():  # most rows (a dump): all at once
            return list(map(self._all().__getitem__, rows))
        w = self.width
        spans = map(slice, map(mul, rows, repeat(w)), map(mul, map(add, rows, repeat(1)), repeat(w)))
        return list(map(self.prefix.__add__, map(bytes.hex, map(self.data.__getitem__, spans))))

    def _all(self) -> list[str]:
        """Every row's string: the digits of all rows and their prefixes laid out as one text by strided
        copies, then cut (one string a row, where reading row by row makes four objects)."""
        n, digits, prefix = len(self), 2 * self.width, self.prefix.encode("ascii")
        size = len(prefix) + digits
        hexed, text = hexlify(self.data), bytearray(n * size)
        for j, c in enumerate(prefix):
            text[j::size] = bytes((c,)) * n
        for j in range(digits):
            text[len(prefix) + j :: size] = hexed[j::digits]
        whole = text.decode("ascii")
        return list(map(whole.__getitem__, map(slice, range(0, n * size, size), range(size, n * size + size, size))))


class HexKeys(TextKeys):
    """`TextKeys` whose keys are a `HexText` (no offsets): the same index, half the text."""

    __slots__ = ("hex",)

    def __init__(self, text: HexText, hashes: array[int], order: array[int]) -> None:
        if len(order) != len(hashes) or len(text) != len(hashes):
            raise ValueError("key text and index differ in length")
        self.hex, self.text, self.starts, self.hashes, self.order = text, text.data, array("I"), hashes, order
        self._held = {}

    def key(self, row: int) -> str:
        """Row `row`'s key, as a new string."""
        return self.hex.read(row)

    def keys(self, rows: Iterable[int]) -> list[str]:
        """The keys of `rows`, as new strings (in C)."""
        return self.hex.reads(rows)

    def row(self, key: str) -> int | None:
        """The row of `key`, or None when it is none of the keys."""
        h = crc32(key.encode("utf-8", "surrogatepass"))
        hashes, order, read = self.hashes, self.order, self.hex.read
        i = bisect_left(hashes, h)
        end = len(hashes)
        while i < end and hashes[i] == h:
            r = order[i]
            if read(r) == key:
                return r
            i += 1
        return None


def index(encoded: list[bytes]) -> tuple[array[int], array[int]]:
    """(sorted hashes, rows in that order) of keys' UTF-8 bytes: ties by row, so a function of the keys alone."""
    hashes = array("I", map(crc32, encoded))
    # Sorted by the hashes as floats (exact below 2**53): CPython compares floats by a fast path,
    # ints of more than 30 bits by the generic one (about twice as slow); stable, so ties by row.
    by = array("d", hashes)
    order = array("I", sorted(range(len(hashes)), key=by.__getitem__))
    return array("I", map(hashes.__getitem__, order)), order


class StrKeys:
    """Keys that are strings held elsewhere anyway (row ``r`` is ``strings[first + r]``), with the same index.

    A loaded snapshot's node keys are strings of its table, which the union-find and the rest of
    the state hold: indexed so, they key the node table without a dict entry or a row number each.
    """

    __slots__ = ("first", "hashes", "order", "strings")

    def __init__(self, strings: list[Any], first: int, hashes: array[int], order: array[int]) -> None:
        if len(order) != len(hashes) or first + len(hashes) > len(strings):
            raise ValueError("keys and their index differ in length")
        self.strings, self.first, self.hashes, self.order = strings, first, hashes, order

    @classmethod
    def build(cls, strings: list[Any], first: int, count: int) -> StrKeys:
        """The keys ``strings[first:first + count]``, with their index."""
        run = strings[first : first + count]
        hashes, order = index(list(map(str.encode, run, repeat("utf-8"), repeat("surrogatepass"))))
        return cls(strings, first, hashes, order)

    def __len__(self) -> int:
        return len(self.hashes)

    def held(self, row: int) -> str:
        """Row `row`'s key: the string held for it."""
        key: str = self.strings[self.first + row]
        return key

    # `held` again, not ``key = held``: mypyc leaves an exception set for a method alias in a class body
    def key(self, row: int) -> str:
        """Row `row`'s key: the string held for it."""
        key: str = self.strings[self.first + row]
        return key

    def keys(self, rows: Iterable[int]) -> list[str]:
        """The keys of `rows`."""
        return list(map(self.strings.__getitem__, map(add, rows, repeat(self.first))))

    def row(self, key: str) -> int | None:
        """The row of `key`, or None when it is none of the keys."""
        h = crc32(key.encode("utf-8", "surrogatepass"))
        hashes, order, strings, first = self.hashes, self.order, self.strings, self.first
        i = bisect_left(hashes, h)
        end = len(hashes)
        while i < end and hashes[i] == h:
            r = order[i]
            if strings[first + r] == key:
                return r
            i += 1
        return None


class RefKeys(StrKeys):
    """Keys that are strings held elsewhere, anywhere in the list: row ``r`` is ``strings[refs[r]]``.

    A loaded union-find's roots (`resolver.unionfind.DisjointSet.from_columns`), in the forest's order.
    """

    __slots__ = ("refs",)

    def __init__(self, strings: list[Any], refs: array[int], hashes: array[int], order: array[int]) -> None:
        if len(order) != len(hashes) or len(refs) != len(hashes):
            raise ValueError("keys and their index differ in length")
        self.strings, self.first, self.refs, self.hashes, self.order = strings, 0, refs, hashes, order

    def held(self, row: int) -> str:
        """Row `row`'s key: the string held for it."""
        key: str = self.strings[self.refs[row]]
        return key

    # `held` again, not ``key = held``: mypyc leaves an exception set for a method alias in a class body
    def key(self, row: int) -> str:
        """Row `row`'s key: the string held for it."""
        key: str = self.strings[self.refs[row]]
        return key

    def keys(self, rows: Iterable[int]) -> list[str]:
        """The keys of `rows`."""
        return list(map(self.strings.__getitem__, map(self.refs.__getitem__, rows)))

    def row(self, key: str) -> int | None:
        """The row of `key`, or None when it is none of the keys."""
        h = crc32(key.encode("utf-8", "surrogatepass"))
        hashes, order, strings, refs = self.hashes, self.order, self.strings, self.refs
        i = bisect_left(hashes, h)
        end = len(hashes)
        while i < end and hashes[i] == h:
            r = order[i]
            if strings[refs[r]] == key:
                return r
            i += 1
        return None
