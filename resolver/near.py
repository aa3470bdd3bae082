"""Near phones: a number typed with one wrong digit, linked only when the names say it is one person.

People mistype numbers at kiosks and checkouts: one digit wrong (``98450 71629`` for
``98450 71623``) or two neighbours swapped (``98450 71632``). Such a number is a different,
often valid, phone; by exact matching the visit becomes a stranger. This module decides the
*near-phone* rule, a weaker link than a shared identifier:

* the two phone keys are one edit apart: one digit substituted, or two adjacent digits
  swapped, within the last ten digits (the country code is never "corrected");
* both phones carry names, and the names agree strongly: each side's main person (the name
  group, `resolver.households.name_groups`, of more than half its named evidence) is the
  other's: every name of one main group is `same_person` as every name of the other, and at
  least one pair has both surnames (a first name alone is too common to trust). A stray name
  on one side (a cashier's slip, a relative once) does not block the link;
* nothing conflicts: when both sides carry emails, they share one.

The decision is a pure function of the two sets of events carrying the phones, so it does
not depend on which came first (`Resolver` re-evaluates it whenever either set grows).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from itertools import accumulate, compress, repeat
from operator import not_
from typing import Any, cast
from zlib import crc32

from resolver.cold import TextTable
from resolver.names import KEY_JOIN, compared, name_groups, one_group, same_person

__all__ = ["NEAR_RULE", "BucketKeys", "NearIndex", "near_allowed", "phone_neighbours", "phones_near"]

#: The rule name recorded in explanations.
NEAR_RULE = "near-phone:one-digit+same-name"

_DIGITS = "0123456789"
#: Prefix of a phone key before its digits (``p:+``).
_HEAD = 3
#: Only the last digits are corrected: a "typo" in the country code is another country.
_SPAN = 10


def phone_neighbours(key: str) -> list[str]:
    """Every phone key one substitution or adjacent transposition away (``p:+...`` keys).

    May repeat a key, and includes `key` itself (cheaper to build; callers intersect it with
    the keys they know and drop `key`).
    """
    out: list[str] = []
    end = len(key)
    for i in range(max(_HEAD, end - _SPAN), end):
        head, tail = key[:i], key[i + 1 :]
        out += [head + digit + tail for digit in _DIGITS]
        if i + 1 < end:
            out.append(head + key[i + 1] + key[i] + key[i + 2 :])
    return out


def phones_near(a: str, b: str) -> bool:
    """True when phone keys `a` and `b` are one edit apart in the sense of `phone_neighbours`."""
    if len(a) != len(b) or a == b:
        return False
    start = max(_HEAD, len(a) - _SPAN)
    if a[:start] != b[:start]:
        return False
    i = start
    while a[i] == b[i]:  # the first difference (there is one: a != b)
        i += 1
    if a[i + 1 :] == b[i + 1 :]:
        return True  # one substitution
    return a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]  # one adjacent swap


def near_allowed(
    names_a: Mapping[str, int],
    names_b: Mapping[str, int],
    emails_a: set[str],
    emails_b: set[str],
) -> bool:
    """Whether two near phones may link, given their name keys (distinct evidence each) and emails."""
    if emails_a and emails_b and not emails_a & emails_b:
        return False
    main_a, main_b = _main_person(names_a), _main_person(names_b)
    if not main_a or not main_b:
        return False
    strong = False
    for a in main_a:
        for b in main_b:
            if not same_person(a, b):
                return False
            strong = strong or (KEY_JOIN in a and KEY_JOIN in b)
    return strong


def _main_person(names: Mapping[str, int]) -> list[str]:
    """The name keys of the group holding more than half of `names`' weight; [] when none does.

    A name in another script than the names compared (`resolver.names.compared`) counts towards
    its group's weight but is not returned: it cannot be compared with the other phone's names.
    """
    if not names:
        return []
    if one_group(names):  # one group holds all the weight: a majority when there is any
        return sorted(names) if sum(names.values()) > 0 else []
    label = name_groups(names)
    totals: dict[str, int] = {}
    for key, n in names.items():
        totals[label[key]] = totals.get(label[key], 0) + n
    main = min(totals, key=lambda grp: (-totals[grp], grp))
    if 2 * totals[main] <= sum(totals.values()):
        return []
    return sorted(k for k in compared(names) if label[k] == main)


def _bucket(key: str, first: bool) -> str:
    """The name of the bucket of `key`'s first half (`first`) or second (as `NearIndex._halves`)."""
    start = max(_HEAD, len(key) - _SPAN)
    middle = start + (len(key) - start) // 2
    return key[:middle] + "<" if first else key[:start] + ">" + key[middle:]


class BucketKeys:
    """A loaded near-phone index's buckets (`resolver.cold.Rows` and `resolver.text_keys.Keys`): no name strings.

    Bucket ``r`` holds the keys ``strings[refs[i]]`` for ``i`` in ``starts[r]:starts[r + 1]``; its
    name is a function of any of them and of which half it buckets (``first[r]``), so it is made
    when read. ``hashes`` are the CRC-32 of the names' UTF-8 bytes sorted, ``order`` their rows.
    """

    __slots__ = ("first", "hashes", "order", "refs", "starts", "strings")

    def __init__(
        self,
        strings: list[Any],
        first: bytes,
        starts: array[int],
        refs: array[int],
        hashes: array[int],
        order: array[int],
    ) -> None:
        if not len(first) == len(hashes) == len(order) == len(starts) - 1 or (starts and starts[-1] != len(refs)):
            raise ValueError("near index: buckets, keys and index differ in length")
        self.strings, self.first, self.starts, self.refs = strings, first, starts, refs
        self.hashes, self.order = hashes, order

    def __len__(self) -> int:
        return len(self.first)

    def held(self, row: int) -> str:
        """Bucket `row`'s name (a new string)."""
        return _bucket(self.strings[self.refs[self.starts[row]]], bool(self.first[row]))

    # `held` again, not ``key = held``: mypyc leaves an exception set for a method alias in a class body
    def key(self, row: int) -> str:
        """Bucket `row`'s name (a new string)."""
        return _bucket(self.strings[self.refs[self.starts[row]]], bool(self.first[row]))

    def keys(self, rows: Iterable[int]) -> list[str]:
        return list(map(self.held, rows))

    def row(self, name: str) -> int | None:
        """The row of bucket `name`, or None."""
        h = crc32(name.encode("utf-8", "surrogatepass"))
        hashes, order = self.hashes, self.order
        i = bisect_left(hashes, h)
        end = len(hashes)
        while i < end and hashes[i] == h:
            r = order[i]
            if self.held(r) == name:
                return r
            i += 1
        return None

    def make(self, name: str, row: int) -> str | list[str]:
        """Bucket `row`'s keys: its one key, or a list of them (as `NearIndex` holds them)."""
        a, b = self.starts[row], self.starts[row + 1]
        if b - a == 1:
            return str(self.strings[self.refs[a]])
        return list(map(self.strings.__getitem__, self.refs[a:b]))


class NearIndex:
    """Phone keys bucketed by each half of their last ten digits: near candidates without probing.

    Two keys one substitution apart share the half the change is not in; one adjacent swap
    inside a half leaves the other half equal too; the one swap across the middle is looked up
    in the bucket of the swapped key's first half. So a lookup reads three small buckets
    instead of probing all 99 neighbours (which touches memory 99 times per new phone).

    A bucket is named by slices of the key (up to the middle, then ``<``; or the head, ``>``
    and the second half): slicing costs less per new phone than naming buckets by numbers,
    which saved about 5 bytes per identifier but parsed each half.
    """

    __slots__ = ("_buckets",)

    def __init__(self) -> None:
        self._buckets: dict[str, str | list[str]] = {}  # or a loaded index's `TextTable` (`from_cold`)

    @staticmethod
    def _halves(key: str) -> tuple[str, str, int]:
        """The buckets of `key`'s two halves, and where its first half ends."""
        start = max(_HEAD, len(key) - _SPAN)
        middle = start + (len(key) - start) // 2
        return key[:middle] + "<", key[:start] + ">" + key[middle:], middle

    def near(self, key: str) -> list[str]:
        """Indexed keys one edit from `key` (sorted, without `key`)."""
        first, second, middle = self._halves(key)
        buckets = self._buckets
        # The key with the two digits around the middle swapped has the same length, so the
        # same halves: its first-half bucket is this (without building the swapped key).
        across = key[: middle - 1] + key[middle] + "<" if middle < len(key) else None
        seen: list[str] = []
        for bucket in (first, second, across):
            held = buckets.get(bucket) if bucket is not None else None
            if held is not None:
                seen.extend((held,) if isinstance(held, str) else held)
        if not seen:
            return []
        return sorted({other for other in seen if phones_near(key, other)})

    def add(self, key: str) -> None:
        first, second, _ = self._halves(key)
        buckets = self._buckets
        for bucket in (first, second):
            held = buckets.get(bucket)
            if held is None:
                buckets[bucket] = key
            elif isinstance(held, str):
                if held != key:
                    buckets[bucket] = [held, key]
            elif key not in held:
                held.append(key)

    def add_all(self, keys: Iterable[str]) -> None:
        """`add` every key of `keys`, in one pass (rebuilding the index of a loaded state)."""
        buckets = self._buckets
        for key in keys:
            end = len(key)
            start = max(_HEAD, end - _SPAN)
            middle = start + (end - start) // 2  # as in `_halves`, inlined: this runs per phone
            for bucket in (key[:middle] + "<", key[:start] + ">" + key[middle:]):
                held = buckets.get(bucket)
                if held is None:
                    buckets[bucket] = key
                elif isinstance(held, str):
                    if held != key:
                        buckets[bucket] = [held, key]
                elif key not in held:
                    held.append(key)

    def columns(self) -> tuple[list[str], list[int], list[str]]:
        """The buckets in their order: (names, sizes (0 for a bucket of one key), keys, flat): for snapshots."""
        buckets = self._buckets
        if isinstance(buckets, TextTable):  # loaded: cold buckets read off their columns, nothing thawed
            flags, rows, objs = buckets.split()
            cold = cast("BucketKeys", buckets.cold)
            values, loaded = iter(objs), iter(rows)
            held: list[str | list[str]] = [next(values) if f else cold.make("", next(loaded)) for f in flags]
            sizes = [0 if isinstance(h, str) else len(h) for h in held]
            return buckets.keys(), sizes, [k for h in held for k in ((h,) if isinstance(h, str) else h)]
        held = list(buckets.values())
        sizes = [0 if isinstance(h, str) else len(h) for h in held]
        keys = [k for h in held for k in ((h,) if isinstance(h, str) else h)]
        return list(buckets), sizes, keys

    @classmethod
    def from_cold(cls, buckets: BucketKeys) -> NearIndex:
        """A loaded index whose buckets stay in columns until a lookup reads one (`resolver.cold.TextTable`)."""
        out = cls()
        out._buckets = TextTable(buckets, buckets)
        return out

    @classmethod
    def from_columns(cls, names: list[str], sizes: list[int], keys: list[str]) -> NearIndex:
        """The index `columns` gave, in the same order."""
        out = cls()
        ends = list(accumulate(map(max, sizes, repeat(1))))
        if ends and ends[-1] != len(keys):
            raise ValueError("near index: sizes and keys disagree")
        starts = [0, *ends[:-1]]
        # Each bucket takes the next of its source (in C): its one key alone, or its run as a list.
        ones = map(keys.__getitem__, compress(starts, map(not_, sizes)))
        lists = map(keys.__getitem__, map(slice, compress(starts, sizes), compress(ends, sizes)))
        sources: tuple[Iterator[str | list[str]], ...] = (ones, lists)
        out._buckets = dict(zip(names, map(next, map(sources.__getitem__, map(bool, sizes))), strict=True))
        return out

    def discard(self, key: str) -> None:
        first, second, _ = self._halves(key)
        for bucket in (first, second):
            held = self._buckets.get(bucket)
            if held == key:
                del self._buckets[bucket]
            elif isinstance(held, list) and key in held:
                held.remove(key)
                if len(held) == 1:
                    self._buckets[bucket] = held[0]
