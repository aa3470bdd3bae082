"""Merge limits: one rule for whether a set of identifiers may be one customer, and why not.

A customer holds at most ``max_phones`` phones and ``max_emails`` emails, and never two parts
an operator's split barred from each other (a barrier is ``(split number, part)``: two
different parts of one split never join). Every caller (the incremental union, a whole
component, one greedy link) asks `refusal` with its own counts.
"""

from __future__ import annotations

from collections.abc import Iterable

from resolver.config import ResolverConfig
from resolver.graph import Customer, Graph

__all__ = ["customers_refusal", "keys_refusal", "refusal"]


def refusal(config: ResolverConfig, phones: int, emails: int, bars: Iterable[tuple[int, int]]) -> str | None:
    """Why a customer with these counts and barriers cannot exist, or None when it can."""
    if phones > config.max_phones:
        return f"more than {config.max_phones} phones"
    if emails > config.max_emails:
        return f"more than {config.max_emails} emails"
    seen: dict[int, int] = {}
    for split_no, part in bars:
        if seen.setdefault(split_no, part) != part:
            return f"kept apart by split {split_no}"
    return None


def keys_refusal(g: Graph, keys: Iterable[str]) -> str | None:
    """`refusal` for one customer made of `keys` (node keys)."""
    return _fresh_refusal(g, 0, 0, [], keys)


def customers_refusal(g: Graph, custs: list[Customer], fresh: list[str]) -> str | None:
    """`refusal` for joining live customers and fresh (customer-less) root keys into one."""
    phones = emails = 0
    bars: list[tuple[int, int]] = []
    for c in custs:  # one loop, not two sums and a comprehension: this runs for most new evidence
        phones += c.phones
        emails += c.emails
        if c.bars:
            bars.extend(c.bars.items())
    return _fresh_refusal(g, phones, emails, bars, fresh)


def _fresh_refusal(g: Graph, phones: int, emails: int, bars: list[tuple[int, int]], keys: Iterable[str]) -> str | None:
    nodes = g.nodes
    for key in keys:
        if key[0] == "p":
            phones += 1
        elif key[0] == "e":
            emails += 1
        bars.extend(nodes[key].bars)
    return refusal(g.config, phones, emails, bars)
