"""`irl erasure-status`'s decisions (streams.erasure_status), from facts."""

from __future__ import annotations

from streams.erasure_status import CLEANER_SLACK_MS, RETENTION_CHECK_MS, ErasureFacts, Horizons, erasure_report

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


def test_touchpoints_are_done_once_their_retention_has_passed() -> None:
    later = NOW + 9 * 86_400_000
    assert rows(ErasureFacts(RECEIPT, 40, 12, False), now=later)["touchpoint topics"] == ("done", None)
