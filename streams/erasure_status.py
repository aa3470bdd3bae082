"""Where an erasure stands, copy by copy: pure, from facts the `irl erasure-status` command gathers.

Each copy of personal data the project keeps (docs/privacy.md) is `done` (nothing of the
person is readable there any more), `pending` (with the time by which it will be done, when
the system can say), or `unknown`. The command reads the facts (the erasure's receipt, log
start offsets, the customer's records in the resolved and interactions topics, Redis); this
module only decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EFFECTS_RETENTION_MS",
    "CopyStatus",
    "ErasureFacts",
    "Horizons",
    "PartitionFacts",
    "erasure_report",
    "none_known",
]

#: Kafka's default log.retention.check.interval.ms: how late time-based deletion may run.
RETENTION_CHECK_MS = 300_000
#: Kafka's default log.cleaner.backoff.ms, and a pass of the cleaner: how late compaction may run.
CLEANER_SLACK_MS = 60_000
_DAY_MS = 86_400_000
#: The effects topic's retention (as the links log's: `streams.topics.project_topics`).
EFFECTS_RETENTION_MS = 7 * _DAY_MS


@dataclass(frozen=True, slots=True)
class CopyStatus:
    """One copy: its name, `done` | `pending` | `unknown`, by when (epoch ms, pending only), and why."""

    copy: str
    state: str
    until_ms: int | None
    detail: str


@dataclass(frozen=True, slots=True)
class Horizons:
    """The configured horizons (milliseconds): retention of touchpoints and interactions, compaction lag."""

    touchpoint_retention_ms: int
    interactions_retention_ms: int
    resolved_compaction_lag_ms: int

    def retention_bound(self, appended_ms: int, retention_ms: int) -> int:
        """When a record appended at `appended_ms` is gone at the latest: retention, its segment, the check."""
        return appended_ms + retention_ms + min(retention_ms, _DAY_MS) + RETENTION_CHECK_MS


@dataclass(frozen=True, slots=True)
class PartitionFacts:
    """One partition of the effects topic or of the per-customer state topic that held effects of the person.

    ``first``: the links offset of the oldest data readable there: for the effects topic the
    position of its first readable record (header ``irl.position``), for the state topic the
    last position of its oldest readable snapshot; None when nothing is readable (or a
    snapshot holds nothing). ``known`` is False when the command could not tell (a record
    without a position, a snapshot chunk without its first).
    """

    partition: int
    start: int
    end: int
    first: int | None
    known: bool = True


@dataclass(frozen=True, slots=True)
class ErasureFacts:
    """What the command read. Offsets are log start offsets now; records are (change, timestamp ms)."""

    receipt: dict[str, Any] | None
    links_start: int | None
    state_start: int | None
    in_redis: bool | None
    #: the customer's records in the resolved topic, in offset order: (change, timestamp ms)
    resolved: Sequence[tuple[str, int]] = ()
    #: timestamps (append time) of the customer's records in the interactions topic
    interactions: Sequence[int] = ()
    snapshot_files: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: the partitions of the effects topic and of the per-customer state topic that held effects of the
    #: erased id or of an id absorbed into it (the receipt's ``absorbed_ids``); None: no such topic
    effects: Sequence[PartitionFacts] | None = None
    customers_state: Sequence[PartitionFacts] | None = None


#: Changes whose records carry no personal data.
_EMPTY_CHANGES = ("ERASED", "ABSORBED")


def none_known(facts: ErasureFacts) -> str | None:
    """Why no erasure of the id is known (no receipt and no ``ERASED`` record of it), or None when one is.

    The worker writes the receipt seconds after it applies a request, so an id without either was
    never erased (a live customer), is not a customer id at all (mistyped), or was asked to be
    erased a moment ago: the text says which the facts point to, so that an operator does not
    wait for copies of an erasure that was never made.
    """
    if facts.receipt is not None or any(change == "ERASED" for change, _ in facts.resolved):
        return None
    if facts.resolved:
        last = facts.resolved[-1][0]
        return f"its last record on the resolved topic is {last}: a customer that no erasure has reached"
    if facts.in_redis:
        return "Redis holds its profile but the resolved topic no record yet: a customer whose first window is open"
    return "no record of this id on the resolved topic or in Redis: not a customer id (mistyped?) or never published"


def erasure_report(facts: ErasureFacts, horizons: Horizons, now_ms: int) -> list[CopyStatus]:
    """The status of every copy, in the order of docs/privacy.md."""
    r = facts.receipt
    out: list[CopyStatus] = []
    if r is None:
        out.append(CopyStatus("worker follow-up", "pending", None, "no receipt yet: not applied, or still running"))
    else:
        purged = r.get("dead_letters_purged")
        out.append(CopyStatus("dead letters", "done", None, f"{purged} dead letters that mention the person purged"))
        out.append(_offset_copy("links log", facts.links_start, r.get("links_deleted_before")))
        out.append(_offset_copy("state topic", facts.state_start, r.get("state_deleted_before")))
        out.append(_effects(facts.effects, r, horizons))
        out.append(_customers_state(facts.customers_state, r))
    files = "none left" if facts.snapshot_files == 0 else f"{facts.snapshot_files} snapshot files on disk"
    out.append(CopyStatus("snapshot files", "done" if facts.snapshot_files == 0 else "pending", None, files))
    if facts.in_redis is None:
        out.append(CopyStatus("redis read model", "unknown", None, "Redis did not answer"))
    else:
        out.append(CopyStatus("redis read model", "pending" if facts.in_redis else "done", None, "profile key"))
    out.append(_resolved(facts.resolved, horizons))
    out.append(_interactions(facts.interactions, horizons, now_ms))
    out.append(_touchpoints(r, horizons, now_ms))
    return out


def _offset_copy(name: str, start: int | None, before: Any) -> CopyStatus:
    if before is None:
        return CopyStatus(name, "unknown", None, "the receipt names no offset")
    if start is None:
        return CopyStatus(name, "unknown", None, "the topic could not be read")
    if start >= int(before):
        return CopyStatus(name, "done", None, f"records before offset {before} deleted (log starts at {start})")
    return CopyStatus(name, "pending", None, f"log starts at {start}, before {before}")


def _resolved(records: Sequence[tuple[str, int]], h: Horizons) -> CopyStatus:
    name = "resolved topic"
    if not records:
        return CopyStatus(name, "done", None, "no record of this id")
    erased = [ts for change, ts in records if change == "ERASED"]
    if not erased:
        return CopyStatus(name, "pending", None, "no ERASED record yet: published when its window closes")
    if all(change in _EMPTY_CHANGES for change, _ts in records):
        return CopyStatus(name, "done", None, "only records without personal data left")
    until = erased[0] + h.resolved_compaction_lag_ms + CLEANER_SLACK_MS
    older = sum(1 for change, _ts in records if change not in _EMPTY_CHANGES)
    plural = "s await" if older != 1 else " awaits"
    return CopyStatus(name, "pending", until, f"{older} older record{plural} compaction")


def _interactions(stamps: Sequence[int], h: Horizons, now_ms: int) -> CopyStatus:
    name = "interactions topic"
    if not stamps:
        return CopyStatus(name, "done", None, "no interaction of this id left")
    until = h.retention_bound(max(stamps), h.interactions_retention_ms)
    return CopyStatus(name, "pending", until, f"{len(stamps)} interactions, deleted by retention")


def _touchpoints(receipt: dict[str, Any] | None, h: Horizons, now_ms: int) -> CopyStatus:
    name = "touchpoint topics"
    applied = None if receipt is None else receipt.get("applied_at")
    if not isinstance(applied, int):
        return CopyStatus(name, "pending", None, "retention by append time; bound known once the erasure is applied")
    until = h.retention_bound(applied, h.touchpoint_retention_ms)
    if now_ms >= until:
        return CopyStatus(name, "done", None, "every event appended before the erasure has met its retention")
    return CopyStatus(name, "pending", until, "events appended before the erasure, deleted by retention")


def _older(parts: Sequence[PartitionFacts], before: int) -> list[PartitionFacts]:
    """The partitions where data from before links offset ``before`` (the erasure's) is still readable."""
    return [p for p in parts if not p.known or (p.start < p.end and p.first is not None and p.first < before)]


def _numbers(parts: Sequence[PartitionFacts]) -> str:
    return ", ".join(str(p.partition) for p in parts)


def _effects(parts: Sequence[PartitionFacts] | None, r: dict[str, Any], h: Horizons) -> CopyStatus:
    """Effects of the erased id and of the ids absorbed into it (their partitions), until a snapshot after it."""
    name = "effects topic"
    if parts is None:
        return CopyStatus(name, "done", None, "no effects topic (the per-customer stage never ran over Kafka)")
    action = r.get("action_offset")
    if not isinstance(action, int):
        return CopyStatus(name, "unknown", None, "the receipt names no links offset")
    left = _older(parts, action)
    if not left:
        readable = f"nothing from before the erasure readable in partitions {_numbers(parts)}"
        return CopyStatus(name, "done", None, readable)
    applied = r.get("applied_at")
    until = h.retention_bound(applied, EFFECTS_RETENTION_MS) if isinstance(applied, int) else None
    return CopyStatus(
        name,
        "pending",
        until,
        f"partitions {_numbers(left)} hold effects from before the erasure: deleted once their per-customer "
        "stage applies it (IRL_CUSTOMER_STAGE=kafka: seconds), else by retention",
    )


def _customers_state(parts: Sequence[PartitionFacts] | None, r: dict[str, Any]) -> CopyStatus:
    """The per-customer stage's snapshots of those partitions: kept for good unless a snapshot after the erasure."""
    name = "customers' state"
    if parts is None:
        return CopyStatus(name, "done", None, "no per-customer state topic (the stage never ran over Kafka)")
    action = r.get("action_offset")
    if not isinstance(action, int):
        return CopyStatus(name, "unknown", None, "the receipt names no links offset")
    left = _older(parts, action)
    if not left:
        return CopyStatus(name, "done", None, f"no snapshot from before the erasure in partitions {_numbers(parts)}")
    return CopyStatus(
        name,
        "pending",
        None,
        f"partitions {_numbers(left)} keep snapshots from before the erasure (compacted, no time limit): "
        "deleted once their per-customer stage applies it (IRL_CUSTOMER_STAGE=kafka)",
    )
