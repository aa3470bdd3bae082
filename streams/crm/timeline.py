"""Each customer's timeline: its interactions across touchpoints, read through `owners.owner`.

`timeline(view, customer_id)` reads one customer's candidates (interactions published with an
id that leads to it, and those of its touchpoint records) and keeps those it owns now.
`event_owners(store)` resolves every interaction at once from whole-table reads (for
evaluation and the demo). Both give each interaction the owner `owners.owner` gives it.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.crm.model import CustomerRow, InteractionRow, SourceRef
from streams.crm.owners import live, owner
from streams.crm.store import CrmStore, CrmView

__all__ = ["Timeline", "event_owners", "timeline"]


@dataclass(frozen=True, slots=True)
class Timeline:
    """One customer's interactions, oldest first (ties by event id).

    `customer_id` is the live id asked for, or the one an absorbed id redirects to; None when
    the id leads to no customer row (unknown, or erased).
    """

    asked: str
    customer_id: str | None
    interactions: tuple[InteractionRow, ...] = ()

    def touchpoints(self) -> list[str]:
        """The touchpoints the interactions came from, sorted."""
        return sorted({r.ref.touchpoint for r in self.interactions})


def timeline(view: CrmView, customer_id: str) -> Timeline:
    """The interactions the customer `customer_id` (or the live id it redirects to) holds now."""
    cid = live(view, customer_id)
    if view.customer(cid) is None:
        return Timeline(customer_id, None)
    ids, todo = {cid}, [cid]
    while todo:
        for old in view.redirected_to(todo.pop()):
            if old not in ids:
                ids.add(old)
                todo.append(old)
    candidates = {r.event_id: r for r in view.interactions_of(sorted(ids))}
    refs = set(view.sources_of(cid)) | {r.ref for r in view.records_of(cid)}
    for ref in sorted(refs):
        candidates.update((r.event_id, r) for r in view.interactions_at(ref))
    mine = [r for r in candidates.values() if owner(view, r) == cid]
    return Timeline(customer_id, cid, tuple(sorted(mine, key=lambda r: (r.occurred_at, r.event_id))))


def event_owners(store: CrmStore) -> dict[str, str | None]:
    """event id -> the customer holding the interaction now (None: not known from the changelog yet)."""
    view = _Tables(store)
    return {r.event_id: owner(view, r) for r in store.interactions()}


class _Tables:
    """What `owner` reads, loaded once from whole-table reads (one query per table, not per row)."""

    def __init__(self, store: CrmStore) -> None:
        self._customers = {row.customer_id: row for row in store.customers()}
        self._redirects = store.redirects()
        self._holders: dict[SourceRef, list[str]] = {}
        for cid, refs in store.customer_sources().items():
            for ref in refs:
                self._holders.setdefault(ref, []).append(cid)

    def customer(self, customer_id: str) -> CustomerRow | None:
        return self._customers.get(customer_id)

    def redirect(self, old_id: str) -> str | None:
        return self._redirects.get(old_id)

    def holders(self, ref: SourceRef) -> list[str]:
        return sorted(self._holders.get(ref, ()))
