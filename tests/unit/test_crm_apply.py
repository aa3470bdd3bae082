"""The CRM apply rules on the in-memory store: each change, idempotency, and convergence in any order."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.crm import (
    CustomerRow,
    InMemoryCrmStore,
    Outcome,
    SourceRef,
    apply_batch,
    apply_change,
    plan_change,
)
from tests.unit.test_crm_world import assert_invariants, crm_state, interleave, make_record, simulate

W1, W2, W3, W4 = 1_000, 2_000, 3_000, 4_000
A1, A2, B1, B2 = ("WEB", "a1"), ("WHATSAPP", "a2"), ("WEB", "b1"), ("KIOSK", "b2")


def applied(*records: dict[str, Any]) -> tuple[InMemoryCrmStore, list[Outcome]]:
    store = InMemoryCrmStore()
    outcomes = apply_batch(store, list(records))
    assert_invariants(store)
    return store, outcomes


def owners(store: InMemoryCrmStore) -> dict[tuple[str, str], str]:
    return crm_state(store)[1]


def test_created_stores_the_customer_and_its_touchpoint_records() -> None:
    rec = make_record("A", "CREATED", 1, W1, [A1, A2], name="Asha Rao")
    store, outcomes = applied(rec)
    assert outcomes == [Outcome.APPLIED]
    row = store.customer("A")
    assert row == CustomerRow.from_record(rec)
    assert row is not None and row.name == "Asha Rao" and row.updated_window_end == W1
    assert owners(store) == {A1: "A", A2: "A"}
    assert [(a.customer_id, a.version, a.change) for a in store.applied_changes()] == [("A", 1, "CREATED")]


def test_plan_writes_nothing() -> None:
    store = InMemoryCrmStore()
    plan = plan_change(store, make_record("A", "CREATED", 1, W1, [A1]))
    assert plan.outcome is Outcome.APPLIED and plan.writes
    assert store.customers() == [] and store.touchpoint_records() == [] and store.applied_changes() == []


def test_a_repeated_record_changes_nothing() -> None:
    rec = make_record("A", "CREATED", 1, W1, [A1])
    store, outcomes = applied(rec, rec)
    assert outcomes == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert plan_change(store, rec).writes == ()


def test_an_old_version_arriving_late_changes_nothing() -> None:
    v1 = make_record("A", "CREATED", 1, W1, [A1, A2], name="Old")
    v2 = make_record("A", "UPDATED", 2, W2, [A1], name="New")
    other_v1 = make_record("A", "CREATED", 1, W1, [A1, B1], name="Other")  # another change_id, same version
    store, outcomes = applied(v1, v2, v1, other_v1)
    assert outcomes == [Outcome.APPLIED, Outcome.APPLIED, Outcome.DUPLICATE, Outcome.STALE]
    assert crm_state(store)[0] == {"A": (2, "New", (A1,))}
    assert owners(store) == {A1: "A"}


def test_absorbed_after_the_survivors_merged() -> None:
    store, _ = applied(
        make_record("A", "CREATED", 1, W1, [A1]),
        make_record("B", "CREATED", 1, W1, [B1, B2]),
        make_record("A", "MERGED", 2, W2, [A1, B1, B2], merged_from=["B"]),
        make_record("B", "ABSORBED", 2, W2, survivor_id="A"),
    )
    assert crm_state(store) == ({"A": (2, "Name A v2", (B2, A1, B1))}, {A1: "A", B1: "A", B2: "A"}, {"B": "A"})


def test_absorbed_before_the_survivors_merged_creates_a_placeholder_survivor() -> None:
    store, _ = applied(
        make_record("B", "CREATED", 1, W1, [B1, B2]),
        make_record("B", "ABSORBED", 2, W2, survivor_id="A"),
    )
    placeholder = store.customer("A")
    assert placeholder is not None and placeholder.version == 0 and placeholder.name is None
    assert owners(store) == {B1: "A", B2: "A"} and store.redirects() == {"B": "A"}
    assert store.customer("B") is None
    # The survivor's own records arrive afterwards, oldest first, and fill the placeholder.
    apply_batch(
        store,
        [
            make_record("A", "CREATED", 1, W1, [A1]),
            make_record("A", "MERGED", 2, W2, [A1, B1, B2], merged_from=["B"]),
        ],
    )
    assert crm_state(store) == ({"A": (2, "Name A v2", (B2, A1, B1))}, {A1: "A", B1: "A", B2: "A"}, {"B": "A"})


def test_records_moved_in_by_an_absorption_are_settled_by_the_survivors_own_record() -> None:
    # A's record from before the merge lets B1 go for a moment; A's record of the merge takes it.
    store, _ = applied(
        make_record("B", "CREATED", 1, W1, [B1]),
        make_record("B", "ABSORBED", 2, W2, survivor_id="A"),
        make_record("A", "CREATED", 1, W1, [A1]),
        make_record("A", "MERGED", 2, W2, [A1, B1], merged_from=["B"]),
    )
    assert owners(store) == {A1: "A", B1: "A"}


def test_absorbed_after_the_survivor_lost_those_records_does_not_take_them_back() -> None:
    # W2: B absorbed into A, and B1 moved on to N in the same window. A's W2 record is in first.
    store, _ = applied(
        make_record("B", "CREATED", 1, W1, [B1]),
        make_record("A", "CREATED", 1, W1, [A1]),
        make_record("A", "MERGED", 2, W2, [A1], merged_from=["B"]),
        make_record("B", "ABSORBED", 2, W2, survivor_id="A"),
        make_record("N", "CREATED", 1, W2, [B1]),
    )
    assert owners(store) == {A1: "A", B1: "N"}


def test_absorbed_into_an_id_absorbed_since_is_forwarded_to_the_live_survivor() -> None:
    #  W1: A, B, C created   W2: C absorbed into B   W3: B absorbed into A
    #  delivered: B's and A's records first, C's ABSORBED (into B) last
    store, _ = applied(
        make_record("A", "CREATED", 1, W1, [A1]),
        make_record("B", "CREATED", 1, W1, [B1]),
        make_record("C", "CREATED", 1, W1, [B2]),
        make_record("B", "MERGED", 2, W2, [B1, B2], merged_from=["C"]),
        make_record("B", "ABSORBED", 3, W3, survivor_id="A"),
        make_record("A", "MERGED", 2, W3, [A1, B1, B2], merged_from=["B"]),
        make_record("C", "ABSORBED", 2, W2, survivor_id="B"),
    )
    customers, records, redirects = crm_state(store)
    assert set(customers) == {"A"} and records == {A1: "A", B1: "A", B2: "A"}
    assert redirects == {"B": "A", "C": "A"}


def test_redirects_into_an_absorbed_id_follow_it() -> None:
    store, _ = applied(
        make_record("C", "CREATED", 1, W1, [B2]),
        make_record("C", "ABSORBED", 2, W2, survivor_id="B"),
        make_record("B", "CREATED", 1, W1, [B1]),
        make_record("B", "MERGED", 2, W2, [B1, B2], merged_from=["C"]),
        make_record("B", "ABSORBED", 3, W3, survivor_id="A"),
    )
    assert store.redirects() == {"B": "A", "C": "A"}
    assert owners(store) == {B1: "A", B2: "A"}


def test_split_moves_records_in_either_order() -> None:
    base = [make_record("A", "CREATED", 1, W1, [A1, A2])]
    split = make_record("A", "SPLIT", 2, W2, [A1])
    new = make_record("N", "CREATED", 1, W2, [A2])
    for order in ([split, new], [new, split]):
        store, outcomes = applied(*base, *order)
        assert outcomes == [Outcome.APPLIED] * 3
        assert owners(store) == {A1: "A", A2: "N"}


def test_a_stale_claim_never_takes_a_record_back() -> None:
    # A2 moved from A to N at W2; A's W1 record is delivered after N's W2 record.
    store, _ = applied(
        make_record("N", "CREATED", 1, W2, [A2]),
        make_record("A", "CREATED", 1, W1, [A1, A2]),
        make_record("A", "SPLIT", 2, W2, [A1]),
    )
    assert owners(store) == {A1: "A", A2: "N"}


def test_a_record_two_customers_claim_in_one_window_goes_to_the_smaller_id_in_either_order() -> None:
    """A household's number listed by A and B in the same window: the holder must not be whichever
    record arrived last (the s32 audit, F5: two syncs of one topic differed in 286 rows)."""
    a = make_record("A", "CREATED", 1, W1, [A1, A2])
    b = make_record("B", "CREATED", 1, W1, [A2, B1])
    for order in ([a, b], [b, a]):
        store, _ = applied(*order)
        assert owners(store) == {A1: "A", A2: "A", B1: "B"}
    # A newer window still wins over a smaller id.
    store, _ = applied(a, b, make_record("B", "UPDATED", 2, W2, [A2, B1, B2]))
    assert owners(store)[A2] == "B"


def test_a_shared_record_its_holder_lets_go_ends_alike_in_any_order() -> None:
    """A drops the shared A2 at W2 while B still lists it: whether A or B held it must not depend on order."""
    a1 = make_record("A", "CREATED", 1, W1, [A1, A2])
    b1 = make_record("B", "CREATED", 1, W1, [A2, B1])
    a2 = make_record("A", "SPLIT", 2, W2, [A1])
    ends = set()
    for order in ([a1, b1, a2], [b1, a1, a2], [a1, a2, b1]):
        store, _ = applied(*order)
        ends.add((tuple(store.touchpoint_records()), tuple(store.released_records().items())))
    assert len(ends) == 1


def test_a_claim_clears_the_mark_of_an_earlier_release() -> None:
    """A2 moves from A to N at W2: A's record letting it go may come before N's claim or after; the CRM
    ends alike, with no release mark left for a record a customer holds."""
    base = make_record("A", "CREATED", 1, W1, [A1, A2])
    split = make_record("A", "SPLIT", 2, W2, [A1])
    new = make_record("N", "CREATED", 1, W2, [A2])
    ends = set()
    for order in ([split, new], [new, split]):
        store, _ = applied(base, *order)
        assert owners(store) == {A1: "A", A2: "N"}
        assert store.released_records() == {}
        ends.add(tuple(store.touchpoint_records()))
    assert len(ends) == 1
    # The mark still guards a record nobody holds: an older claim does not revive it.
    store, _ = applied(base, split, make_record("C", "CREATED", 1, W1, [A2]))
    assert A2 not in owners(store) and store.released_records() == {SourceRef(*A2).digest(): W1}


def test_erased_deletes_the_customer_its_records_and_what_was_absorbed_into_it() -> None:
    store, _ = applied(
        make_record("A", "CREATED", 1, W1, [A1]),
        make_record("B", "CREATED", 1, W1, [B1]),
        make_record("A", "MERGED", 2, W2, [A1, B1], merged_from=["B"]),
        make_record("B", "ABSORBED", 2, W2, survivor_id="A"),
        make_record("A", "ERASED", 3, W3),
    )
    assert crm_state(store) == ({}, {}, {})
    # Of each id's applied log only the last change stays: the erasure, and B's absorption.
    assert [(a.customer_id, a.version, a.change) for a in store.applied_changes()] == [
        ("A", 3, "ERASED"),
        ("B", 2, "ABSORBED"),
    ]


def test_records_replayed_after_an_erasure_do_not_bring_the_data_back() -> None:
    created = make_record("A", "CREATED", 1, W1, [A1])
    updated = make_record("A", "UPDATED", 2, W2, [A1, A2])
    store, outcomes = applied(created, updated, make_record("A", "ERASED", 3, W3), created, updated)
    assert outcomes[3:] == [Outcome.STALE, Outcome.STALE]
    assert crm_state(store) == ({}, {}, {})


def test_absorbed_into_a_survivor_erased_since_erases_the_absorbed_id() -> None:
    store, outcomes = applied(
        make_record("B", "CREATED", 1, W1, [B1]),
        make_record("A", "CREATED", 1, W1, [A1]),
        make_record("A", "MERGED", 2, W2, [A1], merged_from=["B"]),
        make_record("A", "ERASED", 3, W3),
        make_record("B", "ABSORBED", 2, W2, survivor_id="A"),
    )
    assert outcomes[-1] is Outcome.APPLIED
    assert crm_state(store) == ({}, {}, {})


def test_an_absorbed_id_that_lives_again_loses_its_redirect() -> None:
    store, _ = applied(
        make_record("B", "CREATED", 1, W1, [B1]),
        make_record("B", "ABSORBED", 2, W2, survivor_id="A"),
        make_record("A", "MERGED", 1, W2, [A1, B1]),
        make_record("B", "SPLIT", 3, W3, [B1]),
        make_record("A", "SPLIT", 2, W3, [A1]),
    )
    customers, records, redirects = crm_state(store)
    assert set(customers) == {"A", "B"} and records == {A1: "A", B1: "B"} and redirects == {}


def test_inconsistent_records_are_invalid_and_write_nothing() -> None:
    good = make_record("A", "CREATED", 1, W1, [A1])
    bad: list[dict[str, Any]] = [
        {**good, "change": "RENAMED"},
        {**good, "version": 0},
        {**good, "customer_id": ""},
        {**good, "change_id": None},
        {**make_record("B", "ABSORBED", 2, W2), "survivor_id": None},
        make_record("B", "ABSORBED", 2, W2, survivor_id="B"),
        {**good, "source_ids": [{"touchpoint": "WEB"}]},
    ]
    store, outcomes = applied(*bad)
    assert outcomes == [Outcome.INVALID] * len(bad)
    assert crm_state(store) == ({}, {}, {}) and store.applied_changes() == []


def test_a_failed_batch_leaves_nothing() -> None:
    store = InMemoryCrmStore()

    class Boom(Exception):
        pass

    try:
        with store.transaction():
            apply_change(store, make_record("A", "CREATED", 1, W1, [A1]))
            raise Boom
    except Boom:
        pass
    assert crm_state(store) == ({}, {}, {}) and store.applied_changes() == []
    assert store.record(SourceRef(*A1)) is None


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), order=st.integers(0, 2**32 - 1))
def test_any_delivery_order_ends_in_the_same_crm(seed: int, order: int) -> None:
    """Oracle: the model's final customers. Each id's records in order, ids interleaved at random,
    with repeats and old records coming again: the CRM ends exactly as the resolver left it."""
    world = simulate(seed)
    store = InMemoryCrmStore()
    for chunk in _chunks(interleave(world.records, random.Random(order)), random.Random(order + 1)):
        apply_batch(store, chunk)
        assert_invariants(store)
    assert crm_state(store) == world.expected()
    # Replaying everything again (a new consumer group) changes nothing.
    before = (crm_state(store), store.applied_changes())
    assert set(apply_batch(store, world.records)) <= {Outcome.DUPLICATE, Outcome.STALE}
    assert (crm_state(store), store.applied_changes()) == before


def _chunks(records: list[dict[str, Any]], rng: random.Random) -> list[list[dict[str, Any]]]:
    out, i = [], 0
    while i < len(records):
        n = rng.randint(1, 7)
        out.append(records[i : i + n])
        i += n
    return out
