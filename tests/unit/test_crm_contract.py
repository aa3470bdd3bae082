"""One contract for every CRM store: InMemory and SQLite here, PostgreSQL in tests/integration/test_crm_sync.py.

A subclass provides the `store` fixture (an empty store) and may override `reopen` (a new
connection to the same database) to show that what was committed persists.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.crm import (
    AppliedChange,
    CrmStore,
    CustomerRow,
    InMemoryCrmStore,
    InteractionRow,
    SourceRef,
    SqliteCrmStore,
    TouchpointRecord,
    apply_batch,
    apply_records,
    event_owners,
)
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
)
from tests.unit.test_crm_world import assert_invariants, crm_state, interleave, make_record, simulate

R1, R2, R3 = SourceRef("WEB", "w-1"), SourceRef("KIOSK", "k-1"), SourceRef("WEB", "w-0")

FULL = CustomerRow(
    customer_id="cust-1",
    version=7,
    change_id="c" * 32,
    name="Zoë Ağaoğlu 李",
    phones=("+919845071623", "+919845071624"),
    emails=("zoe@example.com",),
    confidence=0.8125,
    confidence_reasons=("shared phone", "name match"),
    first_seen=1_700_000_000_000,
    last_seen=1_700_000_900_000,
    event_count=12,
    touchpoints=("KIOSK", "WEB"),
    updated_window_end=1_700_000_900_000,
)


class _Boom(Exception):
    pass


class CrmStoreContract:
    """The behaviour every CrmStore adapter shares."""

    @pytest.fixture
    def store(self) -> Iterator[CrmStore]:
        raise NotImplementedError

    def reopen(self, store: CrmStore) -> CrmStore:
        """The same database through a new connection (the in-memory store is its own database)."""
        return store

    def test_an_empty_store_knows_nothing(self, store: CrmStore) -> None:
        assert store.customer("x") is None and store.latest_change("x") is None
        assert not store.is_applied("x") and store.record(R1) is None and store.records_of("x") == []
        assert store.redirect("x") is None and store.redirected_to("x") == [] and store.released_at(R1) is None
        assert store.customers() == [] and store.touchpoint_records() == [] and store.redirects() == {}
        assert store.applied_changes() == [] and store.released_records() == {}
        assert store.sources_of("x") == [] and store.holders(R1) == [] and not store.is_erased_record(R1)
        assert store.interaction("e") is None and store.interactions_of(["x"]) == [] and store.interactions_at(R1) == []
        assert store.customer_sources() == {} and store.erased_records() == [] and store.interactions() == []
        assert not store.is_erased_event("e") and store.erased_events() == []

    def test_a_customer_row_round_trips_and_is_replaced(self, store: CrmStore) -> None:
        sparse = CustomerRow.placeholder("cust-2")
        with store.transaction():
            store.execute([PutCustomer(FULL), PutCustomer(sparse)])
        again = self.reopen(store)
        assert again.customer("cust-1") == FULL and again.customer("cust-2") == sparse
        newer = CustomerRow("cust-1", 8, "d" * 32, name=None, updated_window_end=5)
        with store.transaction():
            store.execute([PutCustomer(newer), DeleteCustomer("cust-2"), DeleteCustomer("nobody")])
        assert self.reopen(store).customers() == [newer]

    def test_touchpoint_records_are_claimed_moved_and_released(self, store: CrmStore) -> None:
        with store.transaction():
            store.execute([ClaimRecord(R1, "a", 10), ClaimRecord(R2, "a", 20), ClaimRecord(R3, "b", 10)])
        assert store.records_of("a") == [TouchpointRecord(R2, "a", 20), TouchpointRecord(R1, "a", 10)]
        with store.transaction():
            store.execute([ClaimRecord(R1, "b", 30), ReleaseRecord(R2, 20), ReleaseRecord(R2, 25)])
        again = self.reopen(store)
        assert again.record(R1) == TouchpointRecord(R1, "b", 30) and again.record(R2) is None
        assert again.records_of("a") == [] and [r.ref for r in again.records_of("b")] == [R3, R1]
        assert again.released_at(R2) == 25 and again.released_at(R1) is None
        # Only a digest of a released record is kept, never the raw source id.
        assert again.released_records() == {R2.digest(): 25}
        assert "k-1" not in R2.digest()

    def test_redirects(self, store: CrmStore) -> None:
        with store.transaction():
            store.execute([PutRedirect("b", "a"), PutRedirect("c", "a"), PutRedirect("d", "b")])
            store.execute([PutRedirect("d", "a"), DropRedirect("c"), DropRedirect("nobody")])
        again = self.reopen(store)
        assert again.redirects() == {"b": "a", "d": "a"}
        assert again.redirect("d") == "a" and again.redirect("c") is None
        assert again.redirected_to("a") == ["b", "d"] and again.redirected_to("b") == []

    def test_the_applied_log(self, store: CrmStore) -> None:
        first = AppliedChange("id-1", "a", 1, "CREATED")
        with store.transaction():
            store.execute([MarkApplied(first), MarkApplied(AppliedChange("id-3", "a", 3, "UPDATED"))])
            store.execute([MarkApplied(AppliedChange("id-2", "a", 2, "UPDATED"))])
            # A change_id is applied once: marking it again keeps the first entry.
            store.execute([MarkApplied(AppliedChange("id-1", "zzz", 9, "ERASED"))])
        again = self.reopen(store)
        assert again.is_applied("id-2") and not again.is_applied("id-4")
        assert again.latest_change("a") == AppliedChange("id-3", "a", 3, "UPDATED")
        assert again.applied_changes()[0] == first
        with store.transaction():
            store.execute([PruneApplied("a", 3)])
        assert [a.change_id for a in self.reopen(store).applied_changes()] == ["id-3"]

    def test_source_ids_list_a_shared_record_under_each_holder(self, store: CrmStore) -> None:
        with store.transaction():
            store.execute([SetSources("a", (R1, R2)), SetSources("b", (R1,)), SetSources("c", (R3,))])
            store.execute([SetSources("c", ())])
        again = self.reopen(store)
        assert again.holders(R1) == ["a", "b"] and again.holders(R3) == [] and again.sources_of("a") == [R2, R1]
        assert again.customer_sources() == {"a": (R2, R1), "b": (R1,)}
        with store.transaction():
            store.execute([SetSources("a", (R3,))])
        assert self.reopen(store).customer_sources() == {"a": (R3,), "b": (R1,)}

    def test_interactions_round_trip_are_upserted_and_erased(self, store: CrmStore) -> None:
        row = InteractionRow("e-1", "cust-1", R1, "purchase", 1_700_000_000_123, (("amount", "₹ 10"), ("page", "/p/ü")))
        other = InteractionRow("e-2", "cust-2", R1, "visit", 5)
        with store.transaction():
            store.execute([PutInteraction(row), PutInteraction(other), PutInteraction(other)])
        again = self.reopen(store)
        assert again.interactions() == [row, other] and again.interaction("e-1") == row
        assert again.interactions_of(["cust-2", "nobody"]) == [other] and again.interactions_at(R1) == [row, other]
        moved = InteractionRow("e-2", "cust-3", R2, "visit", 5)
        with store.transaction():
            store.execute([PutInteraction(moved), EraseEvent("e-1"), EraseEvent("e-9"), EraseRecord(R3)])
        again = self.reopen(store)
        assert again.interactions() == [moved] and again.interactions_at(R1) == []
        assert again.erased_events() == ["e-1", "e-9"] and again.is_erased_event("e-1")
        # Of an erased touchpoint record only a digest is kept.
        assert again.erased_records() == [R3.digest()] and again.is_erased_record(R3)

    @pytest.mark.parametrize("seed", [5, 17])
    def test_interactions_in_any_order_end_as_on_the_in_memory_store(self, store: CrmStore, seed: int) -> None:
        world = simulate(seed, windows=10, ops=6, interactions=True)
        rng = random.Random(seed)
        items = [("c", r) for r in interleave(world.records, rng, repeats=0.1)]
        for rec in world.interactions:
            items.insert(rng.randint(0, len(items)), ("i", rec))
        reference = InMemoryCrmStore()
        for i in range(0, len(items), 6):
            chunk = items[i : i + 6]
            for target in (store, reference):
                apply_records(target, [r for k, r in chunk if k == "c"], [r for k, r in chunk if k == "i"])
        again = self.reopen(store)
        assert again.interactions() == reference.interactions()
        assert again.customer_sources() == reference.customer_sources()
        assert again.erased_events() == reference.erased_events()
        assert event_owners(again) == event_owners(reference) == world.owners()

    def test_a_failed_transaction_leaves_nothing(self, store: CrmStore) -> None:
        with store.transaction():
            store.execute([PutCustomer(FULL)])
        with pytest.raises(_Boom), store.transaction():
            store.execute([DeleteCustomer("cust-1"), ClaimRecord(R1, "cust-1", 1), PutRedirect("x", "cust-1")])
            store.execute([MarkApplied(AppliedChange("id-1", "x", 1, "ABSORBED")), ReleaseRecord(R2, 3)])
            store.execute([SetSources("x", (R1,)), EraseRecord(R1), EraseEvent("e-0")])
            store.execute([PutInteraction(InteractionRow("e-1", "x", R1, "visit", 1))])
            raise _Boom
        again = self.reopen(store)
        assert again.customers() == [FULL] and again.touchpoint_records() == [] and again.redirects() == {}
        assert again.applied_changes() == [] and again.released_records() == {}
        assert again.customer_sources() == {} and again.erased_records() == [] and again.interactions() == []
        assert again.erased_events() == []

    def test_reads_inside_a_transaction_see_its_writes(self, store: CrmStore) -> None:
        with store.transaction():
            store.execute([PutCustomer(FULL), ClaimRecord(R1, "cust-1", 5)])
            assert store.customer("cust-1") == FULL and store.records_of("cust-1") == [
                TouchpointRecord(R1, "cust-1", 5)
            ]

    @pytest.mark.parametrize("seed", [11, 12, 13])
    def test_a_changelog_ends_in_the_same_crm_as_on_the_in_memory_store(self, store: CrmStore, seed: int) -> None:
        world = simulate(seed, windows=10, ops=5)
        records = interleave(world.records, random.Random(seed), repeats=0.2)
        reference = InMemoryCrmStore()
        for i in range(0, len(records), 5):
            apply_batch(store, records[i : i + 5])
            apply_batch(reference, records[i : i + 5])
        again = self.reopen(store)
        assert_invariants(again)
        assert crm_state(again) == world.expected() == crm_state(reference)
        assert again.customers() == reference.customers()
        assert again.applied_changes() == reference.applied_changes()
        assert again.released_records() == reference.released_records()

    def test_an_absorbed_id_arriving_after_its_survivors_erasure_digests_what_the_other_order_does(
        self, store: CrmStore
    ) -> None:
        """B went into S in window 3 while a split gave B's R1 to N; S is erased in window 4. B's ABSORBED
        arriving after the erasure digests nothing of its own (R1 is N's; R2 S's erasure digested), as
        when it arrives first (docs/crm-connector.md, "Erasure duties")."""
        t1, t2, t3 = ((r.touchpoint, r.source_id) for r in (R1, R2, R3))
        s1, s2 = make_record("S", "CREATED", 1, 1_000, [t3]), make_record("S", "MERGED", 2, 3_000, [t2])
        s3 = make_record("S", "ERASED", 3, 4_000)
        b1 = make_record("B", "CREATED", 1, 2_000, [t1, t2])
        b2, b3 = make_record("B", "ABSORBED", 2, 3_000, survivor_id="S"), make_record("B", "ERASED", 3, 4_000)
        n1 = make_record("N", "CREATED", 1, 3_000, [t3, t1])
        events = [
            {"event_id": e, "customer_id": c, "touchpoint": r.touchpoint, "source_id": r.source_id}
            | {"interaction": "visit", "occurred_at": 1, "attributes": {}}
            for e, c, r in (("e-1", "B", R2), ("e-2", "N", R1))
        ]
        apply_records(store, [s1, s2, s3, n1, b1, b2, b3], events)
        reference = InMemoryCrmStore()
        apply_records(reference, [s1, b1, b2, n1, s2, s3, b3], events)
        again = self.reopen(store)
        assert again.erased_records() == reference.erased_records() == [R2.digest()]
        assert again.released_records() == reference.released_records()
        held = [TouchpointRecord(R3, "N", 3_000), TouchpointRecord(R1, "N", 3_000)]
        assert again.touchpoint_records() == reference.touchpoint_records() == held
        assert event_owners(again) == event_owners(reference) == {"e-2": "N"}

    def test_an_erasure_leaves_no_personal_data(self, store: CrmStore) -> None:
        created = make_record("A", "CREATED", 1, 1_000, [("WHATSAPP", "+919845071623")], name="Asha")
        apply_batch(store, [created, make_record("A", "ERASED", 2, 2_000)])
        again = self.reopen(store)
        everything = repr((again.customers(), again.touchpoint_records(), again.redirects(), again.applied_changes()))
        assert "+919845071623" not in everything and "Asha" not in everything
        assert not again.is_applied(created["change_id"])  # it hashes the personal data
        assert [a.change for a in again.applied_changes()] == ["ERASED"]


class TestInMemoryCrmStore(CrmStoreContract):
    @pytest.fixture
    def store(self) -> Iterator[CrmStore]:
        yield InMemoryCrmStore()


class TestSqliteCrmStore(CrmStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[CrmStore]:
        self._path = tmp_path / "sub" / "crm.db"
        self._opened: list[CrmStore] = []
        s = SqliteCrmStore(self._path)
        yield s
        s.close()
        for other in self._opened:
            other.close()

    def reopen(self, store: CrmStore) -> CrmStore:
        again = SqliteCrmStore(self._path)
        self._opened.append(again)
        return again
