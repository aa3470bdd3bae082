"""`irl evaluate --crm`: events are scored as the CRM holds them, unowned interactions unassigned.

Audit s38 (B1): a first load through the stream applies a store kiosk's check-ins (its
terminal id on every walk-in, quarantined, so listed by many customers) under ids created and
absorbed within one window, which the changelog never names. The CRM keeps those interactions
with no owner (docs/crm-connector.md). Scoring each by its touchpoint record instead gave all of
them to the one customer holding the terminal's record in `touchpoint_records`: 87 walk-ins'
check-ins as one customer, precision 66.8% where the CRM holds 96.3%, and "unassigned 0".
"""

from __future__ import annotations

from pathlib import Path

from streams.commands.evaluate import EventFacts, crm_source
from streams.crm import SqliteCrmStore, apply_records
from tests.unit.test_crm_interactions import interaction
from tests.unit.test_crm_world import make_record

TERMINAL = ("KIOSK", "kiosk-blr01-1")
ASHA_WEB = ("WEB", "u-asha")
RAVI_WEB = ("WEB", "u-ravi")


def test_an_interaction_the_crm_holds_without_an_owner_is_unassigned(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    store = SqliteCrmStore(db)
    try:
        # Two customers list the terminal (each checked in there); each kiosk check-in was
        # published under an id created and absorbed in the window, never announced.
        records = [
            make_record("c_asha", "CREATED", 1, 1_000, [ASHA_WEB, TERMINAL]),
            make_record("c_ravi", "CREATED", 1, 1_000, [RAVI_WEB, TERMINAL]),
        ]
        interactions = [
            interaction("kiosk-1", "c_transient_1", TERMINAL),
            interaction("kiosk-2", "c_transient_2", TERMINAL),
            interaction("web-1", "c_asha", ASHA_WEB),
            interaction("web-2", "c_ravi", RAVI_WEB),
        ]
        apply_records(store, records, interactions)
    finally:
        store.close()
    facts = EventFacts(touchpoints=[(i["event_id"], i["touchpoint"], i["source_id"]) for i in interactions])

    source, confidence = crm_source(f"sqlite:///{db}", facts)
    assignments = source()

    assert assignments == {"web-1": "c_asha", "web-2": "c_ravi"}  # the check-ins: no owner in the CRM
    assert set(confidence) == {"c_asha", "c_ravi"}


def test_an_event_the_crm_keeps_no_interaction_of_goes_by_its_touchpoint_record(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    store = SqliteCrmStore(db)
    try:
        # crm-sync --no-interactions: only the changelog; the record's holder is the event's customer.
        apply_records(store, [make_record("c_asha", "CREATED", 1, 1_000, [ASHA_WEB])], [])
    finally:
        store.close()
    facts = EventFacts(touchpoints=[("web-1", "WEB", "u-asha"), ("web-9", "WEB", "u-unknown")])

    source, _ = crm_source(f"sqlite:///{db}", facts)

    assert source() == {"web-1": "c_asha"}
