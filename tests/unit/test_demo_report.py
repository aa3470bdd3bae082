"""The demo report's own decisions: whose timeline it shows, and when the customer counts disagree."""

from __future__ import annotations

from streams.demo import count_check, pick_timeline_customer, settled


def test_the_timeline_shows_a_customer_seen_on_web_whatsapp_and_kiosk_with_the_most_interactions() -> None:
    touchpoint = {"e1": "WEB", "e2": "WHATSAPP", "e3": "KIOSK", "e4": "WEB", "e5": "WHATSAPP", "e6": "KIOSK"}
    touchpoint |= {"e7": "WEB", "e8": "WEB", "e9": "WEB", "e10": "WHATSAPP"}
    owners: dict[str, str | None] = {"e1": "b", "e2": "b", "e3": "b", "e4": "a", "e5": "a", "e6": "a"}
    owners |= {"e7": "c", "e8": "c", "e9": "c", "e10": "c", "e11": "a"}  # c: many, but no kiosk; e11 unknown
    assert pick_timeline_customer(owners, touchpoint) == "a"  # a and b tie on three: the smaller id
    owners["e7"] = "b"
    assert pick_timeline_customer(owners, touchpoint) == "b"
    assert pick_timeline_customer({"e1": "a", "e2": None}, touchpoint) is None


def test_the_counts_agree_only_when_the_crm_holds_every_customer_the_worker_counts() -> None:
    ok, line = count_check(31094, 31094, 0, 31092, 0)
    assert ok and line.startswith("customers: worker 31094, CRM 31094 (0 placeholders)")
    assert not count_check(31094, 31085, 0, 31085, 0)[0]
    assert not count_check(31094, 31094, 1, 31094, 0)[0]  # a survivor whose record never came
    assert not count_check(31094, 31094, 0, 31094, 3)[0]  # interactions the CRM cannot place
    assert not count_check(None, 31094, 0, 31094, 0)[0]  # the worker did not answer


def test_the_demo_waits_for_the_per_customer_stage_over_kafka() -> None:
    """With IRL_CUSTOMER_STAGE=kafka the ordered stage is done before the stage has published its records."""
    done = {"events_applied": 95, "duplicates": 5, "pending_windows": 0, "records_published": 40, "customers": 9}
    assert settled(done, None, 100) == (100, 40, None, 9, None)
    assert settled({**done, "pending_windows": 1}, None, 100) is None
    assert settled(done, None, 101) is None  # an event not applied yet
    kafka = {**done, "records_published": 0, "effects_published": 300, "customer_records_published": 38}
    assert settled(kafka, None, 100) is None  # the stage's lag not known yet
    assert settled(kafka, {"t-effects/0": 0, "t-effects/1": 2}, 100) is None
    assert settled(kafka, {"t-effects/0": 0, "t-effects/1": 0}, 100) == (100, 38, None, 9, None)
