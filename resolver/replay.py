"""The offline replay loop, shared by `irl replay` and tests: JSON Lines in, resolver state out.

`replay` feeds lines to a `Resolver` with the same state changes as the stream (one
`Resolver.ingest`, which is `apply` without building its `Outcome`, per valid event), collects
the rejects with their line numbers, and counts. The usual well-formed line is read by
`plain_fields` in one pass; any other goes through `from_json`, which accepts it or says why.
`assignment_rows` reads the lines a second time and gives each event its evidence's customer;
`profile_records` gives sorted, deterministic output: the same lines in the same order give
byte-identical files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from resolver.engine import Resolver
from resolver.interaction import InvalidInteraction, Limits, fields_of, from_json, plain_fields
from resolver.jsontext import loads

__all__ = ["Reject", "ReplayCounts", "assignment_rows", "profile_records", "replay"]


@dataclass(frozen=True, slots=True)
class Reject:
    """One input line that is not a valid event. `reason` carries no raw PII."""

    source: str
    line: int
    reason: str

    def to_record(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "reason": self.reason}


@dataclass(slots=True)
class ReplayCounts:
    lines: int = 0
    events: int = 0
    duplicates: int = 0
    suppressed: int = 0
    rejects: int = 0


def replay(
    lines: Iterable[tuple[str, int, str]],
    resolver: Resolver,
    *,
    limits: Limits = Limits(),
    on_reject: Callable[[Reject], None] | None = None,
) -> ReplayCounts:
    """Apply every valid event of (source, line number, text) lines; blank lines are skipped."""
    counts = ReplayCounts()
    ingest = resolver.ingest
    for source, number, text in lines:
        if text[:1] != "{" and not text.strip():
            continue
        counts.lines += 1
        try:
            obj = loads(text)
            # The common well-formed event is read in one pass; anything else goes through
            # `from_json`, which accepts it or says why (see `plain_fields`).
            fields = plain_fields(obj, limits)
            if fields is None:
                fields = fields_of(from_json(obj, limits))
        except (InvalidInteraction, ValueError, TypeError, KeyError) as exc:
            reason = exc.reason if isinstance(exc, InvalidInteraction) else f"not a JSON event: {type(exc).__name__}"
            counts.rejects += 1
            if on_reject is not None:
                on_reject(Reject(source, number, reason))
            continue
        done = ingest(*fields)
        if done == "applied":
            counts.events += 1
        elif done == "duplicate":
            counts.duplicates += 1
        else:
            counts.suppressed += 1
    return counts


def assignment_rows(
    lines: Iterable[tuple[str, int, str]], resolver: Resolver, *, limits: Limits = Limits()
) -> Iterator[tuple[str, str]]:
    """(event_id, customer_id) of every valid event of `lines`, in input order (a second pass).

    The core keeps distinct evidence, not every event id, so assignments are read back by
    content: each event belongs to the customer of its evidence. Erased events have none.
    Callers sort and deduplicate (the first line of a repeated id wins, as in `replay`).
    """
    customer_of = resolver.customer_of_fields
    for _, _, text in lines:
        if text[:1] != "{" and not text.strip():
            continue
        try:
            obj = loads(text)
            fields = plain_fields(obj, limits)
            if fields is None:
                fields = fields_of(from_json(obj, limits))
        except (InvalidInteraction, ValueError, TypeError, KeyError):
            continue
        cid = customer_of(fields)
        if cid is not None:
            yield fields[0], cid


def profile_records(resolver: Resolver) -> Iterator[dict[str, Any]]:
    """One ResolvedCustomer-shaped record per live customer, sorted by id."""
    for cid in resolver.customer_ids():
        profile = resolver.profile(cid, memo=False)
        if profile is not None:
            yield profile.to_record()
