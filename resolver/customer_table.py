"""Customers by id, where the customers a snapshot loaded stay in columns until first read.

`CustomerTable` is the graph's customer dict (customer id -> `Customer`) as a
`resolver.cold.TextTable`: a loaded customer is a row of `CustomerColumns` until first read,
when it becomes its `Customer` in its own place, and its id a row of
`resolver.text_keys.TextKeys` until read. `CustomerIds` gives the index of customers by root
(`resolver.graph.Graph.by_root`, a `resolver.cold.TextTable` over the roots) the same ids: a
loaded root is found by the roots' hash index and read as its customer's id.
`field_columns` (`resolver.snapshot`) thaws nothing.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from itertools import repeat
from operator import add, attrgetter
from types import FunctionType
from typing import Any, cast

from resolver.cold import TextTable, merge, split
from resolver.graph import NO_BARS, Customer
from resolver.text_keys import TextKeys

__all__ = ["FIELDS", "CustomerColumns", "CustomerIds", "CustomerTable", "field_columns"]

#: `Customer` compiled by mypyc (`resolver._native`): its `__new__` runs `__init__` too, so `make`
#: calls the constructor (fields then set) instead of filling a bare instance.
_NATIVE = not isinstance(Customer.__init__, FunctionType)
#: The fields of a customer, in the order `field_columns` gives them (its id is the table's key).
FIELDS = ("root", "first", "phones", "emails", "bars", "constrained")
_FIELDS = attrgetter(*FIELDS)


class CustomerColumns:
    """The fields of the cold customers by row; ``root`` refers into ``strings`` (the snapshot's string table).

    ``first`` is (base, offsets): row ``r`` was first seen at ``base + offsets[r]`` (`resolver.columns.based`).
    """

    __slots__ = ("bars", "constrained", "emails", "first", "first0", "phones", "root", "strings")

    def __init__(
        self,
        strings: list[Any],
        root: array[int],
        first: tuple[int, array[int]],
        phones: array[int],
        emails: array[int],
        bars: dict[int, dict[int, int]],
        constrained: set[int],
    ) -> None:
        self.strings, self.root = strings, root
        (self.first0, self.first), self.phones, self.emails = first, phones, emails
        self.bars, self.constrained = bars, constrained

    def make(self, cid: str, row: int) -> Customer:
        """A new `Customer` holding row `row` (of customer id `cid`)."""
        made: Customer = Customer("", "", 0) if _NATIVE else Customer.__new__(Customer)
        made.cid = cid
        made.root = self.strings[self.root[row]]
        made.first = self.first0 + self.first[row]
        made.phones = self.phones[row]
        made.emails = self.emails[row]
        made.bars = self.bars.get(row, NO_BARS)
        made.constrained = row in self.constrained
        return made

    def fields(self, rows: list[int]) -> list[list[Any]]:
        """Every field of `rows` (`FIELDS` order), one list per field, as their customers would hold them."""
        bars: list[Mapping[int, int]] = [self.bars.get(r, NO_BARS) for r in rows]
        return [
            list(map(self.strings.__getitem__, map(self.root.__getitem__, rows))),
            list(map(add, map(self.first.__getitem__, rows), repeat(self.first0))),
            list(map(self.phones.__getitem__, rows)),
            list(map(self.emails.__getitem__, rows)),
            bars,
            list(map(self.constrained.__contains__, rows)),
        ]


class CustomerTable(TextTable[Customer]):
    """The graph's customers by id, with loaded customers cold until first read (`resolver.cold.TextTable`)."""

    __slots__ = ()

    cold: CustomerColumns


class CustomerIds:
    """The cold values of the index of customers by root: row ``r`` is the id of customer row ``r``."""

    __slots__ = ("ids",)

    def __init__(self, ids: TextKeys) -> None:
        self.ids = ids

    def make(self, key: str, row: int) -> str:
        """The id of customer row `row` (whose root is `key`), the one string the state holds for it."""
        return self.ids.held(row)


def field_columns(custs: dict[str, Customer]) -> list[Sequence[Any]]:
    """One sequence per field of `FIELDS` across all customers, in the dict's order, without thawing anything."""
    if not isinstance(custs, CustomerTable):
        held = list(custs.values())
        return list(zip(*map(_FIELDS, held), strict=True)) if held else [()] * len(FIELDS)
    flags, rows, objs = split(custs)
    return cast("list[Sequence[Any]]", merge(flags, custs.cold.fields(rows), objs, _FIELDS))
