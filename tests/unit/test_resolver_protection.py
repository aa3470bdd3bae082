"""Merge protection and operator actions: junk, hubs, households, limits, split, block, erase."""

from __future__ import annotations

import json

import pytest

from resolver.config import ResolverConfig
from resolver.engine import Resolver
from resolver.interaction import Interaction
from resolver.profile import profile_from_scratch

T0 = 1_700_000_000_000
STORE = "022 2345 6789"


def ev(
    eid: str,
    t: int = 0,
    tp: str = "WEB",
    src: str | None = None,
    *,
    phone: str | None = None,
    email: str | None = None,
    name: str | None = None,
) -> Interaction:
    return Interaction(eid, tp, T0 + t * 1000, src or f"src-{eid}", "visit", phone=phone, email=email, name=name)


def test_junk_never_links() -> None:
    r = Resolver()
    r.apply(ev("a", phone="9999999999", email="test@test.com", name="Ravi"))
    r.apply(ev("b", phone="99999 99999", email="TEST@test.com", name="Priya"))
    r.apply(ev("c", phone="1234567890", email="na@na.com"))
    assert len({r.customer_of_event(e) for e in "abc"}) == 3
    assert r.lookup("9999999999", "phone").status == "junk"
    assert r.lookup("na@na.com", "email").customer_id is None


def test_invalid_phone_is_kept_with_its_status_but_never_links() -> None:
    r = Resolver()
    r.apply(ev("a", phone="12345"))
    r.apply(ev("b", phone="12345"))
    assert r.customer_of_event("a") != r.customer_of_event("b")
    edges = r.explain(r.customer_of_event("a") or "").to_dict()["edges"]
    assert any(e["rule"] == "rejected" and e["reason"] == "phone invalid" for e in edges)


def test_hub_phone_stops_linking_strangers_and_merges_are_undone() -> None:
    r = Resolver(ResolverConfig(hub_threshold=3))
    people = ["Ravi", "Priya", "Anil", "Sunita", "Farah", "Joseph"]
    outcomes = [r.apply(ev(f"k{i}", i, "KIOSK", phone=STORE, name=n)) for i, n in enumerate(people)]
    assert any("quarantined" in note for o in outcomes for note in o.notes)
    assert len({r.customer_of_event(f"k{i}") for i in range(len(people))}) == len(people)
    assert r.quarantined() and r.quarantined()[0].startswith("quarantined:phone:")
    assert "2345" not in "".join(r.quarantined())  # masked
    assert r.lookup(STORE, "phone").status == "quarantined"
    later = r.apply(ev("k9", 99, "KIOSK", phone=STORE, name="Ravi"))
    assert later.customer_id != r.customer_of_event("k0")


def test_one_person_with_many_events_is_not_a_hub() -> None:
    r = Resolver(ResolverConfig(hub_threshold=2))
    for i in range(10):
        r.apply(ev(f"e{i}", i, phone="98450 71623", name="Ravi Kumar" if i % 2 else "ravi", email="ravi@x.in"))
    assert r.quarantined() == []
    assert len({r.customer_of_event(f"e{i}") for i in range(10)}) == 1


def test_household_with_different_emails_and_names_is_kept_apart_in_any_order() -> None:
    events = [
        ev("a1", 1, phone="98450 71623", email="ravi@x.in", name="Ravi Kumar"),
        ev("a2", 2, email="ravi@x.in", name="Ravi"),
        ev("b1", 3, phone="+91 98450 71623", email="priya@y.in", name="Priya Kumar"),
        ev("b2", 4, email="priya@y.in", name="Priya"),
    ]
    for order in (events, events[::-1]):
        r = Resolver()
        for e in order:
            r.apply(e)
        assert r.customer_of_event("a1") == r.customer_of_event("a2")
        assert r.customer_of_event("b1") == r.customer_of_event("b2")
        assert r.customer_of_event("a1") != r.customer_of_event("b1")
        reasons = r.why_not("a1", "b1")["reasons"]
        assert any("household" in x["reason"] for x in reasons)


def test_one_person_with_two_emails_and_a_name_typo_stays_one() -> None:
    r = Resolver()
    r.apply(ev("a", 1, phone="98450 71623", email="ravi@x.in", name="Ravi Kumar"))
    r.apply(ev("b", 2, phone="98450 71623", email="ravi.k@y.in", name="Rvai Kumar"))
    assert r.customer_of_event("a") == r.customer_of_event("b")


def test_limits_refuse_a_merge_and_record_why() -> None:
    r = Resolver(ResolverConfig(max_phones=2))
    r.apply(ev("a", 1, phone="98000 00011", email="one@x.in"))
    r.apply(ev("b", 2, phone="98000 00022", email="one@x.in"))
    out = r.apply(ev("c", 3, phone="98000 00033", email="one@x.in"))
    assert any("more than 2 phones" in n for n in out.notes)
    profile = r.profile(r.customer_of_event("a") or "")
    assert profile is not None and len(profile.phones) == 2


def test_survivor_is_the_oldest_and_ids_are_stable() -> None:
    r = Resolver()
    first = r.apply(ev("old", 1, email="x@x.in")).customer_id
    second = r.apply(ev("new", 5, phone="98000 00011")).customer_id
    out = r.apply(ev("link", 9, phone="98000 00011", email="x@x.in"))
    assert out.absorbed == ((second, first),)
    assert r.current_id(second or "") == first
    assert r.profile(second or "") is None
    assert r.customer_ids() == [first]


def test_split_recomputes_without_an_identifier_and_bars_re_merging() -> None:
    r = Resolver()
    r.apply(ev("a", 1, phone="98000 00011", email="ravi@x.in", name="Ravi"))
    r.apply(ev("b", 2, phone="98000 00022", email="ravi@x.in", name="Ravi"))
    r.apply(ev("c", 3, phone="98000 00022", email="other@x.in"))
    cid = r.customer_of_event("a") or ""
    assert r.customer_of_event("c") == cid
    out = r.split(cid, "98000 00022")
    assert r.customer_of_event("c") != r.customer_of_event("a")
    assert out.touched
    # New evidence linking the parts again is refused.
    r.apply(ev("d", 4, phone="98000 00011", email="other@x.in", src="src-c"))
    assert r.customer_of_event("c") != r.customer_of_event("a")


def test_block_quarantines_and_re_resolves() -> None:
    r = Resolver()
    r.apply(ev("a", 1, phone="98000 00011", email="a@x.in"))
    r.apply(ev("b", 2, phone="98000 00011", email="b@x.in"))
    assert r.customer_of_event("a") == r.customer_of_event("b")
    r.block("98000 00011")
    assert r.customer_of_event("a") != r.customer_of_event("b")
    assert r.lookup("98000 00011", "phone").status == "blocked"


@pytest.mark.parametrize("action", ["split", "block"])
def test_cutting_one_person_s_part_of_a_shared_phone_stops_it_linking_and_keeps_the_state_whole(action: str) -> None:
    """A split or block by ``<phone>#<person>`` stops that part linking, as for any identifier.

    Ravi orders on the web with the family phone; Asha chats from it on WhatsApp (its wa_id is
    the phone), so the phone is split between them and Asha links ``p:+919731862054#asha_rao``.
    The operator cuts her customer by that part. It used to stay linked while the
    re-resolution's components stopped at its non-ok status: her next chat, refused a second
    phone, was re-resolved alone and got a new customer on her old customer's root; erasing
    one then left the other without its identifiers (KeyError reading its profile).
    """
    r = Resolver(ResolverConfig(max_phones=1))
    for n, email in enumerate(["ravi@x.in", "ravi.k@x.in", "rk@x.in"]):
        r.apply(ev(f"web{n}", n, phone="97318 62054", email=email, name="Ravi Kumar"))
    r.apply(ev("chat", 5, "WHATSAPP", "919731862054", name="Asha Rao"))
    asha = r.customer_of_event("chat") or ""
    part = "p:+919731862054#asha_rao"
    assert part in {n["id"] for n in r.explain(asha).nodes}
    if action == "split":
        r.split(asha, part)
    else:
        r.block(part)
    assert part not in {n["id"] for n in r.explain(asha).nodes}
    r.apply(ev("chat2", 6, "WHATSAPP", "919731862054", phone="98450 71623", name="Asha Rao"))
    g = r._g
    for cid, cust in g.cust.items():
        assert g.by_root.get(cust.root) == cid and g.uf.find(cust.root) == cust.root
    r.erase(r.customer_of_event("chat2") or "")
    for cid in r.customer_ids():
        assert r.profile(cid) == profile_from_scratch(g, cid, g.cust[cid])
        r.explain(cid)


def test_erase_removes_the_person_and_a_replay_does_not_bring_them_back() -> None:
    r = Resolver()
    events = [ev("a", 1, phone="98000 00011", email="a@x.in", name="Asha"), ev("b", 2, email="a@x.in")]
    for e in events:
        r.apply(e)
    r.apply(ev("other", 3, email="z@x.in"))
    cid = r.customer_of_event("a") or ""
    r.erase(cid)
    assert r.current_id(cid) is None and r.profile(cid) is None
    assert r.customer_of_event("a") is None
    for e in events:
        assert r.apply(e).suppressed
    assert r.apply(ev("c", 4, phone="+91 98000 00011")).suppressed
    dump = json.dumps(r.drain_changes())
    assert "a@x.in" not in dump and "9800000011" not in dump
    assert r.customer_of_event("other") is not None


def test_explain_and_why_are_json_and_follow_the_evidence() -> None:
    r = Resolver()
    r.apply(ev("a", 1, "WHATSAPP", src="919800000011"))
    r.apply(ev("b", 2, phone="98000 00011", email="a@x.in"))
    r.apply(ev("c", 3, email="a@x.in", src="cookie-1"))
    cid = r.customer_of_event("a") or ""
    explanation = json.loads(json.dumps(r.explain(cid).to_dict()))
    assert {e["event_id"] for e in explanation["edges"]} >= {"b", "c"}
    path = r.why("919800000011" if False else "+919800000011", "WEB:cookie-1")
    assert path["joined"] and [step["event_id"] for step in path["path"]] == ["b", "c"]
    assert r.why_not("+919800000011", "a@x.in")["apart"] is False


def test_confidence_is_lower_for_mixed_names_than_for_a_clean_customer() -> None:
    r = Resolver()
    r.apply(ev("a", 1, "WHATSAPP", src="919800000011", name="Ravi"))
    r.apply(ev("b", 2, phone="98000 00011", email="ravi@x.in", name="Ravi"))
    r.apply(ev("c", 3, phone="98000 00011", email="ravi@x.in", name="Ravi"))
    r.apply(ev("m1", 4, phone="98000 00099", email="q@x.in", name="Meena"))
    r.apply(ev("m2", 5, phone="98000 00099", name="Joseph"))
    clean = r.profile(r.customer_of_event("a") or "")
    mixed = r.profile(r.customer_of_event("m1") or "")
    assert clean is not None and mixed is not None
    assert 0.0 <= mixed.confidence < clean.confidence <= 1.0
    assert any("names" in reason for reason in mixed.confidence_reasons)


def test_two_recurring_crm_records_are_the_crm_s_duplicates_not_two_accounts() -> None:
    """`irl import` of two exports: each CRM record of one person on two pieces of evidence.

    Two recurring web accounts on one customer lower its confidence; two CRM records do not:
    finding a CRM's own duplicates is why it imports its contacts.
    """
    for touchpoint, lowered in (("WEB", True), ("CRM", False)):
        r = Resolver()
        for n, (src, name) in enumerate(
            [("r-1", "Ravi Kumar"), ("r-1", "Ravi K"), ("r-2", "RAVI KUMAR"), ("r-2", "R. Kumar")]
        ):
            r.apply(ev(f"{touchpoint}{n}", n, touchpoint, src, phone="98450 12345", name=name))
        cid = r.customer_of_event(f"{touchpoint}0")
        assert cid is not None and {r.customer_of_event(f"{touchpoint}{n}") for n in range(4)} == {cid}
        profile = r.profile(cid)
        assert profile is not None
        assert any("two accounts" in reason for reason in profile.confidence_reasons) is lowered, touchpoint


def test_one_signup_with_a_phone_and_an_email_is_not_a_bridge_and_scores_as_a_phone_alone() -> None:
    """A single record joins nothing: its phone and email are one person's as far as it goes.

    Two records joined by one event still are (the penalty that separates wrong merges).
    """
    r = Resolver()
    r.apply(ev("both", 0, phone="98450 12121", email="meera.das@gmail.com", name="Meera Das"))
    r.apply(ev("alone", 1, phone="98450 34343", name="Vikram Rao"))
    both = r.profile(r.customer_of_event("both") or "")
    alone = r.profile(r.customer_of_event("alone") or "")
    assert both is not None and alone is not None
    assert not any("single event" in reason for reason in both.confidence_reasons), both.confidence_reasons
    assert both.confidence == alone.confidence
    r.apply(ev("p", 2, phone="98450 56565", name="Asha Iyer"))
    r.apply(ev("e", 3, email="asha.iyer@gmail.com", name="Asha Iyer"))
    r.apply(ev("bridge", 4, phone="98450 56565", email="asha.iyer@gmail.com", name="Asha Iyer"))
    joined = r.profile(r.customer_of_event("bridge") or "")
    assert joined is not None and r.customer_of_event("p") == r.customer_of_event("e") == joined.customer_id
    assert any("single event" in reason for reason in joined.confidence_reasons), joined.confidence_reasons
