"""Placeholder names (``Guest``, ``Walk-in Customer``, ``Test User``, ``Sir``) are no names.

A cashier who must fill the name field types a placeholder; a web form gets ``Test User``.
Read as names, two such records on a customer's phone made a "second person" that split the
phone, a third made a shared line, and one beside the real name cost the customer its
confidence ("names that cannot be one person"). Evidence now carries no name for them.
"""

from __future__ import annotations

import itertools

import pytest

from resolver.interaction import Interaction
from resolver.junk import JunkRules
from resolver.resolver import Resolver

from .test_households import partition

T0 = 1_733_000_000_000


def ev(
    eid: str, t: int, tp: str, src: str, *, phone: str | None = None, email: str | None = None, name: str | None = None
) -> Interaction:
    return Interaction(eid, tp, T0 + t * 60_000, src, "visit", phone=phone, email=email, name=name)


def test_placeholders_are_no_names_and_real_names_are_names() -> None:
    junk = JunkRules()
    for text in ["Guest", "Walk-in Customer", "walk in customer", "Test User", "NA", "N/A", "Sir", "MADAM",
                 "xxx", "Aaaa", "12345", "-", "🙏", "Mr. Customer", "Unknown", "Cash Customer", "Bhaiya"]:  # fmt: skip
        assert junk.name(text), text
    for text in ["Rohit Sharma", "Asha", "Guest Ravi", "Asha Aunty", "प्रिया शर्मा", "Na Li", "Dr. Meera Iyer",
                 "O'Brien", "Jo"]:  # fmt: skip
        assert not junk.name(text), text
    assert JunkRules(values=["store staff"]).name("Store Staff")
    assert not JunkRules().name("Store Staff")


def test_placeholder_names_at_the_kiosk_do_not_split_a_customers_phone() -> None:
    events = [
        ev("w1", 0, "WEB", "u-rohit", phone="98112 00001", email="rohit.sharma@gmail.com", name="Rohit Sharma"),
        ev("k1", 1, "KIOSK", "KV-1", phone="98112 00001", name="Walk-in Customer"),
        ev("k2", 2, "KIOSK", "KV-2", phone="98112 00001", name="Walk-in Customer"),
        ev("k3", 3, "KIOSK", "KV-3", phone="98112 00001", name="Guest"),
        ev("k4", 4, "KIOSK", "KV-4", phone="98112 00001", email="rohit.sharma@gmail.com", name="NA"),
    ]
    seen = {frozenset(partition(list(order))) for order in itertools.permutations(events)}
    assert seen == {frozenset({frozenset({"w1", "k1", "k2", "k3", "k4"})})}


def test_a_customer_keeps_its_real_name_and_its_confidence_beside_placeholders() -> None:
    r = Resolver()
    r.apply(ev("w1", 0, "WEB", "u-amit", phone="98112 00003", email="amit.jain@gmail.com", name="Amit Jain"))
    for i in range(3):
        r.apply(ev(f"k{i}", 1 + i, "KIOSK", f"KV-{i}", phone="98112 00003", name="Test User"))
    cid = r.customer_of_event("w1")
    assert cid is not None and all(r.customer_of_event(f"k{i}") == cid for i in range(3))
    profile = r.profile(cid)
    assert profile is not None
    assert profile.name == "Amit Jain"
    assert not any("names" in reason or "name that" in reason for reason in profile.confidence_reasons)


def test_a_placeholder_name_repeats_the_nameless_evidence() -> None:
    # "Guest" with the same phone and kiosk id is the same evidence as no name at all.
    r = Resolver()
    r.apply(ev("a", 0, "KIOSK", "KV-9", phone="98112 00004"))
    r.apply(ev("b", 1, "KIOSK", "KV-9", phone="98112 00004", name="Guest"))
    r.apply(ev("c", 2, "KIOSK", "KV-9", phone="98112 00004", name="  "))
    cid = r.customer_of_event("a")
    profile = r.profile(cid or "")
    assert profile is not None and profile.name is None and profile.event_count == 3
    assert len(r.explain(cid or "").evidence) == 1


def test_replay_reads_placeholder_names_as_the_stream_does() -> None:
    """`irl replay`'s path (`resolver.replay`) leaves placeholder names out exactly as `Resolver.apply`."""
    import json

    from resolver.replay import replay

    rows = [
        ("w1", "WEB", "u-rohit", "98112 00001", "rohit.sharma@gmail.com", "Rohit Sharma"),
        ("k1", "KIOSK", "KV-1", "98112 00001", None, "Walk-in Customer"),
        ("k2", "KIOSK", "KV-2", "98112 00001", None, " Walk-in Customer "),
        ("k3", "KIOSK", "KV-3", "98112 00001", None, "Guest"),
    ]
    lines = []
    for n, (eid, tp, src, phone, email, name) in enumerate(rows, start=1):
        obj = {"event_id": eid, "touchpoint": tp, "occurred_at": T0 + n * 60_000, "source_id": src,
               "interaction": "visit", "phone": phone, "email": email, "name": name, "attributes": {}}  # fmt: skip
        lines.append(("events.jsonl", n, json.dumps(obj)))
    r = Resolver()
    counts = replay(lines, r)
    assert counts.events == 4
    assert len(set(r.customer_ids())) == 1
    (cid,) = r.customer_ids()
    profile = r.profile(cid)
    assert profile is not None and profile.name == "Rohit Sharma"


def test_salutations_on_a_customers_phone_do_not_cut_off_her_nameless_visits() -> None:
    """The audit's case: ``Dear`` and ``Valued Customer`` at the kiosk, beside four nameless visits.

    Read as names, the two salutations were two more people: the phone split, and the four
    visits without a name (ambiguous on a split phone) became four customers without a phone.
    """
    events = [
        ev("base", 0, "WEB", "ck-base", phone="8826140937", email="anita.d@gmail.com", name="Anita Desai"),
        *(ev(f"v{i}", 1 + i, "KIOSK", f"KC-{i}", phone="88261 40937") for i in range(4)),
        ev("dear", 5, "KIOSK", "KC-4", phone="88261 40937", name="Dear"),
        ev("valued", 6, "KIOSK", "KC-5", phone="88261 40937", name="Valued Customer"),
    ]
    every = {"base", "v0", "v1", "v2", "v3", "dear", "valued"}
    assert partition(events) == {frozenset(every)}
    for text in ["Dear", "Valued Customer", "Dear Customer", "Respected Sir", "Dear Sir/Madam", "Hello"]:
        assert JunkRules().name(text), text
    r = Resolver()
    for e in events:
        r.apply(e)
    profile = r.profile(r.customer_of_event("v0") or "")
    assert profile is not None and profile.name == "Anita Desai" and profile.phones == ("+918826140937",)


@pytest.mark.parametrize(
    "typed",
    ["Waheguru", "Busy", "Jai Shree Krishna", "Alhamdulillah", "~ Blessed ~", "Live and let live", "Available",
     "Jai Mata Di", "Om Sai Ram", "Radhe Radhe"],
)  # fmt: skip
def test_a_whatsapp_phrase_is_no_name(typed: str) -> None:
    assert JunkRules().name(typed)


@pytest.mark.parametrize("typed", ["Krishna", "Ram", "Sai Ram", "Happy Singh", "Radhe Shyam", "Blessy"])
def test_a_name_made_of_a_phrase_word_is_a_name(typed: str) -> None:
    assert not JunkRules().name(typed)
