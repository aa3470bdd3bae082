"""The writes the apply logic asks a CRM store to make, as values, executed in order.

Each is idempotent on its own (an upsert or a delete by key), so a batch replayed after a
crash before the database commit leaves the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.crm.model import AppliedChange, CustomerRow, InteractionRow, SourceRef

__all__ = [
    "ClaimRecord",
    "DeleteCustomer",
    "DropRedirect",
    "EraseEvent",
    "EraseRecord",
    "MarkApplied",
    "PruneApplied",
    "PutCustomer",
    "PutInteraction",
    "PutRedirect",
    "ReleaseRecord",
    "SetSources",
    "Write",
]


@dataclass(frozen=True, slots=True)
class PutCustomer:
    """Insert or replace the customer row."""

    row: CustomerRow


@dataclass(frozen=True, slots=True)
class DeleteCustomer:
    """Delete the customer row (not its touchpoint records: those are moved or dropped explicitly)."""

    customer_id: str


@dataclass(frozen=True, slots=True)
class ClaimRecord:
    """Insert or replace the touchpoint record `ref`: it now belongs to `customer_id`.

    Its release mark, if any, goes: a held record's own window (never older than the mark) guards it.
    """

    ref: SourceRef
    customer_id: str
    window_end: int


@dataclass(frozen=True, slots=True)
class ReleaseRecord:
    """Delete the touchpoint record `ref`; remember, by digest only, the window it was let go in."""

    ref: SourceRef
    window_end: int


@dataclass(frozen=True, slots=True)
class PutRedirect:
    """Insert or replace the redirect `old_id -> survivor_id`."""

    old_id: str
    survivor_id: str


@dataclass(frozen=True, slots=True)
class DropRedirect:
    """Delete the redirect from `old_id`."""

    old_id: str


@dataclass(frozen=True, slots=True)
class MarkApplied:
    """Record that a change was applied (insert; a repeat of the same change_id is ignored)."""

    change: AppliedChange


@dataclass(frozen=True, slots=True)
class PruneApplied:
    """Forget the applied changes of `customer_id` with a version below `keep_from` (erasure)."""

    customer_id: str
    keep_from: int


@dataclass(frozen=True, slots=True)
class SetSources:
    """The customer's source ids become exactly `refs` (its latest full-state record's `source_ids`; () drops them)."""

    customer_id: str
    refs: tuple[SourceRef, ...]


@dataclass(frozen=True, slots=True)
class EraseRecord:
    """Remember, by digest only, that the touchpoint record `ref` belonged to an erased customer."""

    ref: SourceRef


@dataclass(frozen=True, slots=True)
class EraseEvent:
    """Delete the interaction with this event id as an erased person's, and remember its event id."""

    event_id: str


@dataclass(frozen=True, slots=True)
class PutInteraction:
    """Insert or replace the interaction (by event id)."""

    row: InteractionRow


Write = (
    PutCustomer
    | DeleteCustomer
    | ClaimRecord
    | ReleaseRecord
    | PutRedirect
    | DropRedirect
    | MarkApplied
    | PruneApplied
    | SetSources
    | EraseRecord
    | EraseEvent
    | PutInteraction
)
