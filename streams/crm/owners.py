"""Who holds an interaction now: the read-time rule of docs/crm-connector.md ("Interactions").

The CRM keeps each interaction with the customer id it was published with and never rewrites
it; its owner is a pure function of that id, its touchpoint record and what the CRM holds now:

1. `lead`: the published id followed through the redirects to an id with a row (`live`);
2. `holders`: the live customers whose latest record lists the touchpoint record in `source_ids`;
3. exactly one holder: it (a split or a re-resolution moved the record there); several holders
   (a household's shared number): the lead, when it is one of them; no holder: the lead, when
   it is a placeholder (a survivor whose own record, which will list the record, has not
   arrived);
4. otherwise `None`: not known yet (its customer's record has not arrived), or not knowable
   from the changelog (an id the CRM never saw, on a record several customers share).

Because nothing here depends on the order records arrived in, the CRM that applied both topics
in any interleaving gives every interaction the same owner once both are applied.

Erasure is the exception: an erased person's interactions must be deleted, not just hidden.
`doomed` says which: those whose published id leads to an erased id, those whose touchpoint
record belonged to an erased customer and is listed by no live customer, and every copy of an
event deleted so (event ids are kept for that, not personal data). Privacy before completeness:
the changelog cannot always tell an erased person's interaction from another's, and then it
goes (docs/crm-connector.md lists when).
"""

from __future__ import annotations

from typing import Protocol

from streams.crm.model import AppliedChange, CustomerRow, InteractionRow, SourceRef

__all__ = ["ErasureView", "OwnerView", "doomed", "erased_end", "live", "owner"]


class OwnerView(Protocol):
    """What the owner rule reads: rows, redirects, who lists a record."""

    def customer(self, customer_id: str) -> CustomerRow | None:
        """The id's row (a live customer or a placeholder), or None."""
        ...

    def redirect(self, old_id: str) -> str | None:
        """Where an absorbed id was redirected, or None."""
        ...

    def holders(self, ref: SourceRef) -> list[str]:
        """Customers whose latest record lists `ref` in its source ids, sorted."""
        ...


class ErasureView(OwnerView, Protocol):
    """What the erasure rule reads besides: the applied log and the records of erased customers."""

    def latest_change(self, customer_id: str) -> AppliedChange | None:
        """The applied change of this id with the highest version, or None."""
        ...

    def is_erased_record(self, ref: SourceRef) -> bool:
        """Whether the touchpoint record belonged to a customer the CRM erased."""
        ...

    def is_erased_event(self, event_id: str) -> bool:
        """Whether an interaction with this event id was deleted as an erased person's."""
        ...


def live(view: OwnerView, customer_id: str) -> str:
    """Follow redirects from `customer_id` to an id with a row, or to the end of the chain."""
    cur, seen = customer_id, set()
    while cur not in seen:
        seen.add(cur)
        if view.customer(cur) is not None:
            return cur
        nxt = view.redirect(cur)
        if nxt is None:
            return cur
        cur = nxt
    return cur


def erased_end(view: ErasureView, customer_id: str) -> bool:
    """Whether `customer_id` leads to an erased customer.

    The id at the end of its redirects has no row and its last applied change is ERASED, or
    ABSORBED without a redirect: the CRM drops the redirects into an erased customer and keeps
    of those ids only their last change (`apply._erase_ids`), so that is what an id absorbed
    into an erased customer looks like.
    """
    end = live(view, customer_id)
    if view.customer(end) is not None:
        return False
    latest = view.latest_change(end)
    if latest is None:
        return False
    return latest.change == "ERASED" or (latest.change == "ABSORBED" and view.redirect(end) is None)


def owner(view: OwnerView, row: InteractionRow) -> str | None:
    """The customer holding the interaction now, or None when the CRM cannot tell (yet)."""
    lead = live(view, row.customer_id)
    holders = view.holders(row.ref)
    if len(holders) == 1:
        return holders[0]
    if holders:
        return lead if lead in holders else None
    row_of_lead = view.customer(lead)
    return lead if row_of_lead is not None and row_of_lead.version == 0 else None


def doomed(view: ErasureView, row: InteractionRow) -> bool:
    """Whether the interaction belongs to an erased customer and must not be kept."""
    if erased_end(view, row.customer_id) or view.is_erased_event(row.event_id):
        return True
    return view.is_erased_record(row.ref) and not view.holders(row.ref)
