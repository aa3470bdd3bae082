"""`irl erasure-status`'s decisions (streams.erasure_status), from facts."""

from __future__ import annotations

from streams.erasure_status import (
    CLEANER_SLACK_MS,
    EFFECTS_RETENTION_MS,
    RETENTION_CHECK_MS,
    ErasureFacts,
    Horizons,
    PartitionFacts,
    erasure_report,
    none_known,
)

H = Horizons(
    touchpoint_retention_ms=7 * 86_400_000, interactions_retention_ms=3_600_000, resolved_compaction_lag_ms=60_000
)
NOW = 1_800_000_000_000
RECEIPT = {
    "customer_id": "c1",
    "applied_at": NOW - 1000,
    "dead_letters_purged": 2,
    "links_deleted_before": 40,
    "state_deleted_before": 12,
}


def rows(facts: ErasureFacts, now: int = NOW) -> dict[str, tuple[str, int | None]]:
    return {r.copy: (r.state, r.until_ms) for r in erasure_report(facts, H, now)}


def test_a_completed_erasure_is_done_where_the_worker_acts_and_pending_by_retention_elsewhere() -> None:
    got = rows(ErasureFacts(RECEIPT, 40, 15, False, [("CREATED", NOW - 9000), ("ERASED", NOW - 500)][1:], [NOW - 2000]))
    assert got["dead letters"] == ("done", None)
    assert got["links log"] == ("done", None) and got["state topic"] == ("done", None)
    assert got["redis read model"] == ("done", None) and got["snapshot files"] == ("done", None)
    assert got["resolved topic"] == ("done", None)
    assert got["interactions topic"] == ("pending", NOW - 2000 + 2 * 3_600_000 + RETENTION_CHECK_MS)
    week = 7 * 86_400_000
    assert got["touchpoint topics"] == ("pending", NOW - 1000 + week + 86_400_000 + RETENTION_CHECK_MS)


def test_older_records_in_the_resolved_topic_are_pending_until_the_compaction_lag() -> None:
    got = rows(ErasureFacts(RECEIPT, 40, 12, False, [("CREATED", NOW - 9000), ("ERASED", NOW - 500)]))
    assert got["resolved topic"] == ("pending", NOW - 500 + 60_000 + CLEANER_SLACK_MS)
    got = rows(ErasureFacts(RECEIPT, 40, 12, False, [("CREATED", NOW - 9000)]))
    assert got["resolved topic"] == ("pending", None)  # its window has not closed yet


def test_without_a_receipt_or_with_logs_not_yet_cut_it_is_pending() -> None:
    got = rows(ErasureFacts(None, 0, 0, True))
    assert got["worker follow-up"][0] == "pending" and got["redis read model"][0] == "pending"
    assert "links log" not in got
    got = rows(ErasureFacts(RECEIPT, 39, None, None))
    assert got["links log"][0] == "pending" and got["state topic"][0] == "unknown"
    assert got["redis read model"][0] == "unknown"


def test_an_id_no_erasure_reached_is_told_apart_from_an_erasure_under_way() -> None:
    live = none_known(ErasureFacts(None, 0, 0, True, [("CREATED", NOW - 9000), ("UPDATED", NOW - 500)]))
    assert live is not None and "last record on the resolved topic is UPDATED" in live
    typo = none_known(ErasureFacts(None, 0, 0, False))
    assert typo is not None and "not a customer id" in typo
    opening = none_known(ErasureFacts(None, 0, 0, True))
    assert opening is not None and "first window is open" in opening
    # A receipt, or an ERASED record published before the receipt was written: an erasure is known.
    assert none_known(ErasureFacts(RECEIPT, 40, 12, False)) is None
    assert none_known(ErasureFacts(None, 0, 0, False, [("UPDATED", NOW - 900), ("ERASED", NOW - 500)])) is None


def test_touchpoints_are_done_once_their_retention_has_passed() -> None:
    later = NOW + 9 * 86_400_000
    assert rows(ErasureFacts(RECEIPT, 40, 12, False), now=later)["touchpoint topics"] == ("done", None)


def test_the_effects_and_customers_state_partitions_are_done_once_nothing_before_the_erasure_is_readable() -> None:
    """The partitions of her id and of the ids absorbed into her: done when their oldest readable data is later.

    effects p0   [log start 30: position 41 ..]     done (the erasure is at links offset 40)
    effects p2   [log start 0: position 12 ..]      pending: her absorbed id's effects until a snapshot or retention
    state   p2   [snapshot of position 38 ..]       pending, for good: a compacted topic with no time limit
    """
    receipt = {**RECEIPT, "action_offset": 40, "absorbed_ids": ["c0"]}
    done = [PartitionFacts(0, 30, 35, 41), PartitionFacts(2, 9, 9, None)]  # p2: empty after the deletion
    got = rows(ErasureFacts(receipt, 40, 12, False, effects=done, customers_state=[PartitionFacts(0, 5, 8, 40)]))
    assert got["effects topic"] == ("done", None) and got["customers' state"] == ("done", None)
    left = [PartitionFacts(0, 30, 35, 41), PartitionFacts(2, 0, 9, 12)]
    got = rows(ErasureFacts(receipt, 40, 12, False, effects=left, customers_state=[PartitionFacts(2, 0, 4, 38)]))
    bound = NOW - 1000 + EFFECTS_RETENTION_MS + 86_400_000 + RETENTION_CHECK_MS
    assert got["effects topic"] == ("pending", bound)
    assert got["customers' state"] == ("pending", None)
    unknown = [PartitionFacts(1, 0, 3, None, known=False)]  # a chunk whose snapshot cannot be dated
    assert rows(ErasureFacts(receipt, 40, 12, False, customers_state=unknown))["customers' state"][0] == "pending"
    never = rows(ErasureFacts(receipt, 40, 12, False))  # the stage never ran over Kafka: no such topics
    assert never["effects topic"] == ("done", None) and never["customers' state"] == ("done", None)
    blank = rows(ErasureFacts(RECEIPT, 40, 12, False, effects=left))  # a receipt without the erasure's offset
    assert blank["effects topic"][0] == "unknown"
