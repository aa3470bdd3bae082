"""The CRM store port, and its in-memory implementation.

`CrmView` is what the apply logic reads; `CrmStore` adds executing writes inside one
transaction and whole-table reads. Adapters: `InMemoryCrmStore` (here),
`SqliteCrmStore` and `PostgresCrmStore` (`streams.crm.sql`). One contract test suite
runs against all three.

Invariants every store keeps: reads inside a transaction see that transaction's earlier
writes; a transaction that raises leaves nothing behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Protocol

from streams.crm.model import AppliedChange, CustomerRow, InteractionRow, SourceRef, TouchpointRecord
from streams.crm.writes import (
    ClaimRecord,
    DeleteCustomer,
    DropRedirect,
    EraseEvent,
    EraseRecord,
    MarkApplied,
    PruneApplied,
    PutCustomer,
    PutInteraction,
    PutRedirect,
    ReleaseRecord,
    SetSources,
    Write,
)

__all__ = ["CrmStore", "CrmView", "InMemoryCrmStore"]


class CrmView(Protocol):
    """What the apply logic needs to know about the CRM."""

    def customer(self, customer_id: str) -> CustomerRow | None:
        """The customer row, or None."""
        ...

    def latest_change(self, customer_id: str) -> AppliedChange | None:
        """The applied change of this id with the highest version, or None."""
        ...

    def is_applied(self, change_id: str) -> bool:
        """Whether this change_id is in the applied log."""
        ...

    def record(self, ref: SourceRef) -> TouchpointRecord | None:
        """The touchpoint record, or None."""
        ...

    def records_of(self, customer_id: str) -> list[TouchpointRecord]:
        """Touchpoint records belonging to the customer, sorted by ref."""
        ...

    def released_at(self, ref: SourceRef) -> int | None:
        """The window end at which this touchpoint record was last let go (dropped or erased), or None."""
        ...

    def redirect(self, old_id: str) -> str | None:
        """Where an absorbed id was redirected, or None."""
        ...

    def redirected_to(self, survivor_id: str) -> list[str]:
        """Old ids redirected to this id (one step), sorted."""
        ...

    def sources_of(self, customer_id: str) -> list[SourceRef]:
        """The source ids of the customer's latest full-state record, sorted."""
        ...

    def holders(self, ref: SourceRef) -> list[str]:
        """Customers whose latest record lists `ref` in its source ids, sorted (several: a shared record)."""
        ...

    def is_erased_record(self, ref: SourceRef) -> bool:
        """Whether the touchpoint record belonged to a customer the CRM erased (kept as a digest)."""
        ...

    def is_erased_event(self, event_id: str) -> bool:
        """Whether an interaction with this event id was deleted as an erased person's."""
        ...

    def interaction(self, event_id: str) -> InteractionRow | None:
        """The interaction with this event id, or None."""
        ...

    def interactions_of(self, customer_ids: Iterable[str]) -> list[InteractionRow]:
        """Interactions published with one of these customer ids, sorted by event id."""
        ...

    def interactions_at(self, ref: SourceRef) -> list[InteractionRow]:
        """Interactions of this touchpoint record, sorted by event id."""
        ...


class CrmStore(CrmView, Protocol):
    """A CRM database: the view, writes in a transaction, and whole-table reads."""

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """Commit on normal exit, roll back on an exception. Not reentrant."""
        ...

    def execute(self, writes: Iterable[Write]) -> None:
        """Execute the writes in order (inside `transaction()` to make them atomic)."""
        ...

    def customers(self) -> list[CustomerRow]:
        """Every customer row, sorted by id."""
        ...

    def touchpoint_records(self) -> list[TouchpointRecord]:
        """Every touchpoint record, sorted by ref."""
        ...

    def redirects(self) -> dict[str, str]:
        """Every redirect, old id -> survivor id."""
        ...

    def applied_changes(self) -> list[AppliedChange]:
        """The applied log, sorted by (customer_id, version)."""
        ...

    def released_records(self) -> dict[str, int]:
        """Digest of each touchpoint record let go -> the window end it was let go in."""
        ...

    def customer_sources(self) -> dict[str, tuple[SourceRef, ...]]:
        """Every customer's source ids (of its latest full-state record), sorted; ids without any left out."""
        ...

    def erased_records(self) -> list[str]:
        """Digests of the touchpoint records of erased customers, sorted."""
        ...

    def erased_events(self) -> list[str]:
        """Event ids of interactions deleted as erased people's, sorted."""
        ...

    def interactions(self) -> list[InteractionRow]:
        """Every interaction, sorted by event id."""
        ...

    def close(self) -> None:
        """Release the connection. Idempotent."""
        ...


class InMemoryCrmStore:
    """A real CRM store in dicts (for unit tests and `memory://`). Not thread-safe."""

    def __init__(self) -> None:
        self._customers: dict[str, CustomerRow] = {}
        self._records: dict[SourceRef, TouchpointRecord] = {}
        self._applied: dict[str, AppliedChange] = {}
        self._redirects: dict[str, str] = {}
        self._released: dict[str, int] = {}
        self._sources: dict[str, tuple[SourceRef, ...]] = {}
        self._erased_refs: set[str] = set()
        self._interactions: dict[str, InteractionRow] = {}
        self._erased_events: set[str] = set()

    # -- view ----------------------------------------------------------------------------------

    def customer(self, customer_id: str) -> CustomerRow | None:
        return self._customers.get(customer_id)

    def latest_change(self, customer_id: str) -> AppliedChange | None:
        mine = [a for a in self._applied.values() if a.customer_id == customer_id]
        return max(mine, key=lambda a: a.version, default=None)

    def is_applied(self, change_id: str) -> bool:
        return change_id in self._applied

    def record(self, ref: SourceRef) -> TouchpointRecord | None:
        return self._records.get(ref)

    def records_of(self, customer_id: str) -> list[TouchpointRecord]:
        return sorted((r for r in self._records.values() if r.customer_id == customer_id), key=lambda r: r.ref)

    def released_at(self, ref: SourceRef) -> int | None:
        return self._released.get(ref.digest())

    def redirect(self, old_id: str) -> str | None:
        return self._redirects.get(old_id)

    def redirected_to(self, survivor_id: str) -> list[str]:
        return sorted(old for old, s in self._redirects.items() if s == survivor_id)

    def sources_of(self, customer_id: str) -> list[SourceRef]:
        return sorted(self._sources.get(customer_id, ()))

    def holders(self, ref: SourceRef) -> list[str]:
        return sorted(cid for cid, refs in self._sources.items() if ref in refs)

    def is_erased_record(self, ref: SourceRef) -> bool:
        return ref.digest() in self._erased_refs

    def is_erased_event(self, event_id: str) -> bool:
        return event_id in self._erased_events

    def interaction(self, event_id: str) -> InteractionRow | None:
        return self._interactions.get(event_id)

    def interactions_of(self, customer_ids: Iterable[str]) -> list[InteractionRow]:
        ids = set(customer_ids)
        return [self._interactions[k] for k in sorted(self._interactions) if self._interactions[k].customer_id in ids]

    def interactions_at(self, ref: SourceRef) -> list[InteractionRow]:
        return [self._interactions[k] for k in sorted(self._interactions) if self._interactions[k].ref == ref]

    # -- store ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        saved = (
            dict(self._customers),
            dict(self._records),
            dict(self._applied),
            dict(self._redirects),
            dict(self._released),
            dict(self._sources),
            set(self._erased_refs),
            dict(self._interactions),
            set(self._erased_events),
        )
        try:
            yield
        except BaseException:
            (
                self._customers,
                self._records,
                self._applied,
                self._redirects,
                self._released,
                self._sources,
                self._erased_refs,
                self._interactions,
                self._erased_events,
            ) = saved
            raise

    def execute(self, writes: Iterable[Write]) -> None:
        for w in writes:
            match w:
                case PutCustomer(row=row):
                    self._customers[row.customer_id] = row
                case DeleteCustomer(customer_id=cid):
                    self._customers.pop(cid, None)
                case ClaimRecord(ref=ref, customer_id=cid, window_end=end):
                    self._records[ref] = TouchpointRecord(ref, cid, end)
                    self._released.pop(ref.digest(), None)
                case ReleaseRecord(ref=ref, window_end=end):
                    self._records.pop(ref, None)
                    self._released[ref.digest()] = end
                case PutRedirect(old_id=old, survivor_id=survivor):
                    self._redirects[old] = survivor
                case DropRedirect(old_id=old):
                    self._redirects.pop(old, None)
                case MarkApplied(change=change):
                    self._applied.setdefault(change.change_id, change)
                case PruneApplied(customer_id=cid, keep_from=keep):
                    for key in [k for k, a in self._applied.items() if a.customer_id == cid and a.version < keep]:
                        del self._applied[key]
                case SetSources(customer_id=cid, refs=refs):
                    if refs:
                        self._sources[cid] = tuple(sorted(set(refs)))
                    else:
                        self._sources.pop(cid, None)
                case EraseRecord(ref=ref):
                    self._erased_refs.add(ref.digest())
                case PutInteraction(row=row):
                    self._interactions[row.event_id] = row
                case EraseEvent(event_id=eid):
                    self._interactions.pop(eid, None)
                    self._erased_events.add(eid)

    def customers(self) -> list[CustomerRow]:
        return [self._customers[k] for k in sorted(self._customers)]

    def touchpoint_records(self) -> list[TouchpointRecord]:
        return [self._records[k] for k in sorted(self._records)]

    def redirects(self) -> dict[str, str]:
        return dict(sorted(self._redirects.items()))

    def applied_changes(self) -> list[AppliedChange]:
        return sorted(self._applied.values(), key=lambda a: (a.customer_id, a.version, a.change_id))

    def released_records(self) -> dict[str, int]:
        return dict(sorted(self._released.items()))

    def customer_sources(self) -> dict[str, tuple[SourceRef, ...]]:
        return dict(sorted(self._sources.items()))

    def erased_records(self) -> list[str]:
        return sorted(self._erased_refs)

    def erased_events(self) -> list[str]:
        return sorted(self._erased_events)

    def interactions(self) -> list[InteractionRow]:
        return [self._interactions[k] for k in sorted(self._interactions)]

    def close(self) -> None:
        pass
