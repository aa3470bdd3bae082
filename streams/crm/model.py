"""The CRM's rows as values: customers, touchpoint records, interactions, applied changes, outcomes.

Values only; the store port (`streams.crm.store`) reads and writes them. Timestamps are
epoch milliseconds, as in the ResolvedCustomer contract.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AppliedChange",
    "CustomerRow",
    "InteractionRow",
    "Outcome",
    "SourceRef",
    "TouchpointRecord",
]


@dataclass(frozen=True, slots=True, order=True)
class SourceRef:
    """One touchpoint identity (a record in a touchpoint system): (touchpoint, source_id)."""

    touchpoint: str
    source_id: str

    def digest(self) -> str:
        """A one-way digest of the ref: what the CRM keeps of an erased touchpoint record."""
        return hashlib.sha256(f"{self.touchpoint}\x00{self.source_id}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TouchpointRecord:
    """Which customer a touchpoint record belongs to, and the window end of the claim that put it there.

    `window_end` orders claims across customer ids (whose records arrive in any order):
    a claim from an older window never takes a record away from a newer one.
    """

    ref: SourceRef
    customer_id: str
    window_end: int


@dataclass(frozen=True, slots=True)
class CustomerRow:
    """One CRM customer. `version` 0 marks a placeholder: a survivor whose own record has not arrived."""

    customer_id: str
    version: int
    change_id: str | None = None
    name: str | None = None
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    confidence: float = 0.0
    confidence_reasons: tuple[str, ...] = ()
    first_seen: int | None = None
    last_seen: int | None = None
    event_count: int = 0
    touchpoints: tuple[str, ...] = ()
    updated_window_end: int | None = None

    @classmethod
    def placeholder(cls, customer_id: str) -> CustomerRow:
        """An empty row for a survivor that received records before its own record arrived."""
        return cls(customer_id=customer_id, version=0)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> CustomerRow:
        """The row a CREATED/UPDATED/MERGED/SPLIT record describes."""
        return cls(
            customer_id=record["customer_id"],
            version=int(record["version"]),
            change_id=record["change_id"],
            name=record.get("name"),
            phones=tuple(record.get("phones") or ()),
            emails=tuple(record.get("emails") or ()),
            confidence=float(record.get("confidence") or 0.0),
            confidence_reasons=tuple(record.get("confidence_reasons") or ()),
            first_seen=record.get("first_seen"),
            last_seen=record.get("last_seen"),
            event_count=int(record.get("event_count") or 0),
            touchpoints=tuple(record.get("touchpoints") or ()),
            updated_window_end=record.get("window_end"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (lists for the arrays)."""
        return {
            "customer_id": self.customer_id,
            "version": self.version,
            "change_id": self.change_id,
            "name": self.name,
            "phones": list(self.phones),
            "emails": list(self.emails),
            "confidence": self.confidence,
            "confidence_reasons": list(self.confidence_reasons),
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "event_count": self.event_count,
            "touchpoints": list(self.touchpoints),
            "updated_window_end": self.updated_window_end,
        }


@dataclass(frozen=True, slots=True)
class AppliedChange:
    """A changelog record the CRM has applied (the idempotency log; holds no personal data)."""

    change_id: str
    customer_id: str
    version: int
    change: str


@dataclass(frozen=True, slots=True)
class InteractionRow:
    """One interaction as `irl.interactions.resolved` published it (contract resolved_interaction).

    `customer_id` is the id the interaction resolved to when the worker applied it, kept as
    published: who holds it now is a read-time question (`streams.crm.owners.owner`).
    """

    event_id: str
    customer_id: str
    ref: SourceRef
    interaction: str
    occurred_at: int
    attributes: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> InteractionRow:
        """The row a decoded ResolvedInteraction describes (attributes sorted by key)."""
        return cls(
            event_id=record["event_id"],
            customer_id=record["customer_id"],
            ref=SourceRef(record["touchpoint"], record["source_id"]),
            interaction=record["interaction"],
            occurred_at=int(record["occurred_at"]),
            attributes=tuple(sorted((str(k), str(v)) for k, v in (record.get("attributes") or {}).items())),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict, in the contract's field names."""
        return {
            "event_id": self.event_id,
            "customer_id": self.customer_id,
            "touchpoint": self.ref.touchpoint,
            "source_id": self.ref.source_id,
            "interaction": self.interaction,
            "occurred_at": self.occurred_at,
            "attributes": dict(self.attributes),
        }


class Outcome(enum.Enum):
    """What applying one record did."""

    APPLIED = "applied"
    #: Its change_id is already applied: a repeat (redelivery, or republished after a crash).
    DUPLICATE = "duplicate"
    #: Its version is not above the stored version of its customer id: an old record arriving late.
    STALE = "stale"
    #: Inconsistent (e.g. ABSORBED without survivor_id, unknown change): skipped, nothing written.
    INVALID = "invalid"
    #: An interaction of a customer the CRM has erased: not kept (interactions only).
    ERASED = "erased"
