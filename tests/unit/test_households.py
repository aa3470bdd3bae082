"""Households and shared identifiers on real-world patterns (issue 18), in every arrival order.

One rule for any shared identifier: it splits into people only on evidence that they differ,
never on how one person writes a name. What each class must give:

* a swapped given name and surname (``Rao Asha`` beside ``Asha Rao``), an initial or a
  missing surname is one person: the phone is not split;
* a family mailbox: one email used by two people with different phones and names that cannot
  be one person keeps them apart, while each still joins their own phone's records;
* a shared line (an office switchboard, a family landline): three or more people with
  different names on one phone, below the hub threshold and without emails, are not fused;
* one stray name on a phone does not block the near-phone rule when the other records agree;
* a touchpoint identity used by two or more people (names of different people and phones or
  emails of their own: a family cookie, a shared account, a store terminal's id) stops linking,
  while one person's second phone or a name without details of its own keeps it.
"""

from __future__ import annotations

import itertools

from resolver.config import ResolverConfig
from resolver.interaction import Interaction
from resolver.names import name_groups, name_key, same_person
from resolver.resolver import Resolver

T0 = 1_700_000_000_000


def ev(
    eid: str,
    t: int,
    tp: str = "KIOSK",
    src: str | None = None,
    *,
    phone: str | None = None,
    email: str | None = None,
    name: str | None = None,
) -> Interaction:
    return Interaction(eid, tp, T0 + t * 60_000, src or f"KV-{eid}", "purchase", phone=phone, email=email, name=name)


def partition(events: list[Interaction], config: ResolverConfig | None = None) -> set[frozenset[str]]:
    r = Resolver(config)
    for e in events:
        r.apply(e)
    groups: dict[str, set[str]] = {}
    for e in events:
        groups.setdefault(r.customer_of_event(e.event_id) or "", set()).add(e.event_id)
    return {frozenset(g) for g in groups.values()}


def every_order(events: list[Interaction]) -> set[frozenset[str]]:
    """The partition, checked to be the same in every arrival order (at most 6! orders)."""
    seen = {frozenset(partition(list(order))) for order in itertools.permutations(events)}
    assert len(seen) == 1, seen
    return set(next(iter(seen)))


# ---------------------------------------------------------------------------------------------
# names: one person however the name is written


def test_name_keys_read_order_initials_and_missing_surnames_as_one_person() -> None:
    asha = name_key("Asha Rao")
    assert asha == "asha_rao" and name_key("Mrs. ASHA  Devi RAO") == "asha_devi_rao"
    for other in ("Rao Asha", "RAO, Asha", "A. Rao", "Asha", "asha r", "Aasha Rao", "Mrs. ASHA  Devi RAO"):
        key = name_key(other)
        assert key is not None and same_person(asha, key) and same_person(key, asha), other
    for stranger in ("Ravi Rao", "Asha Verma", "Priya"):
        key = name_key(stranger)
        assert key is not None and not same_person(asha, key), stranger


def test_a_surname_left_off_after_a_middle_name_is_one_person_but_not_a_family_name_alone() -> None:
    """``Anil Kumar`` / ``Anil Kumar Yadav``: the middle name written as if it were the surname."""
    full = name_key("Anil Kumar Yadav")
    assert full == "anil_kumar_yadav"
    for other in ("Anil Kumar", "ANIL KUMAR", "Anil Yadav", "Yadav, Anil Kumar", "Anil K. Yadav", "Anil Kumaar"):
        key = name_key(other)
        assert key is not None and same_person(full, key) and same_person(key, full), other
    for stranger in ("Sunil Kumar", "Kumar Yadav", "Anil Sharma", "Anil Prasad"):
        key = name_key(stranger)
        assert key is not None and not same_person(full, key), stranger
    # A family name alone fits every brother: it never joins two of them.
    label = name_groups({"anil_kumar_yadav": 1, "sunil_kumar_yadav": 1, "kumar_yadav": 1})
    assert label["anil_kumar_yadav"] != label["sunil_kumar_yadav"]


def test_one_person_with_and_without_a_surname_on_one_phone_stays_one_customer() -> None:
    events = [
        ev("n1", 0, "KIOSK", src="kiosk-n1", phone="97000 12345", name="Anil Kumar"),
        ev("n2", 1, "KIOSK", src="kiosk-n2", phone="97000 12345", name="Anil Kumar"),
        ev("n3", 2, "WEB", src="u-n3", phone="97000 12345", email="anilyadav@gmail.com", name="Anil Kumar Yadav"),
    ]
    assert every_order(events) == {frozenset({"n1", "n2", "n3"})}


def test_a_weak_name_never_bridges_two_people() -> None:
    # "A. Rao" and "Rao" fit Asha Rao and Anil Rao alike: they join the heavier, never both.
    label = name_groups({"asha_rao": 3, "anil_rao": 2, "a_rao": 1, "rao": 1})
    assert label["asha_rao"] != label["anil_rao"]
    assert label["a_rao"] == label["rao"] == label["asha_rao"]
    # Swapped order is transitive like any other spelling.
    label = name_groups({"asha_rao": 1, "rao_asha": 1, "asha": 1})
    assert len(set(label.values())) == 1


def test_a_swapped_name_order_does_not_split_a_phone() -> None:
    phone = "98450 12345"
    events = [
        ev("k1", 0, phone=phone, name="Asha Rao"),
        ev("k2", 1, phone=phone, name="Rao Asha"),
        ev("k3", 2, phone=phone, name="RAO ASHA"),
        ev("k4", 3, phone=phone, name="Asha Rao"),
        ev("w1", 4, "WHATSAPP", src="919845012345", name="Asha"),
    ]
    assert every_order(events) == {frozenset(e.event_id for e in events)}


def test_an_initial_beside_a_swapped_name_is_one_person() -> None:
    """Forms write ``RAO, Asha``; receipts write ``A. Rao``: one person, in either order (seed 1
    of the quality test: ``N. Ghosh`` beside ``Ghosh Nikhil`` split a phone; ``Z. Hegde`` beside
    ``HEGDE, Zoya`` with her two emails marked her own phone shared)."""
    for a, b in (("A. Rao", "RAO, Asha"), ("N. Ghosh", "Ghosh Nikhil"), ("K. Ravi", "Ravi Kumar")):
        ka, kb = name_key(a), name_key(b)
        assert ka is not None and kb is not None
        assert same_person(ka, kb) and same_person(kb, ka), (a, b)
    # Two initials swapped are two people: A. Bose is not B. Anand.
    assert not same_person("a_bose", "b_anand")
    assert not same_person("a_rao", "verma_anil")


def test_a_swapped_name_and_an_initial_with_two_emails_keep_one_phone() -> None:
    phone = "68214 59742"
    events = [
        ev("k1", 0, phone=phone, email="zoyahegde@rediffmail.com", name="Z. Hegde"),
        ev("k2", 1, phone=phone, email="zhegde@wipro.com", name="HEGDE, Zoya"),
        ev("k3", 2, phone=phone, name="Zoya Hegde"),
        ev("w1", 3, "WHATSAPP", src="916821459742", name="Zoya"),
    ]
    assert every_order(events) == {frozenset(e.event_id for e in events)}


def test_an_initial_joins_the_person_whose_surname_it_carries() -> None:
    """``V. Verma`` is Varun Verma, although the heavier group holds a bare ``Vikram``."""
    label = name_groups(
        {"vikram_saxena": 5, "saxena_vikram": 2, "vikram": 2, "varun_verma": 3, "varun": 2, "v_verma": 2}
    )
    assert label["v_verma"] == label["varun_verma"] != label["vikram_saxena"]
    # With no surname to go by, the heavier group still takes it.
    label = name_groups({"vikram": 3, "varun": 1, "v_verma": 1})
    assert label["v_verma"] == label["vikram"]


def test_a_household_phone_keeps_the_initial_with_its_own_person() -> None:
    phone = "88992 99545"
    events = [
        ev("v1", 0, phone=phone, src="KC-1", name="Vikram Saxena"),
        ev("v2", 1, phone=phone, src="KC-1", name="Vikram"),
        ev("v3", 2, phone=phone, name="Saxena Vikram"),
        ev("r1", 3, "WEB", src="u-varun", phone=phone, email="varun_verma46@gmail.com", name="Varun Verma"),
        ev("r2", 4, phone=phone, src="KC-2", name="V. Verma"),
        ev("r3", 5, phone=phone, src="KC-2", name="V. Verma "),
    ]
    parts = every_order(events)
    assert frozenset({"v1", "v2", "v3"}) in parts and frozenset({"r1", "r2", "r3"}) in parts


# ---------------------------------------------------------------------------------------------
# shared identifiers


def test_a_family_mailbox_keeps_two_people_apart() -> None:
    family = "rao.family@gmail.com"
    events = [
        ev("a1", 0, "WEB", src="u-asha", phone="98450 11111", email=family, name="Asha Rao"),
        ev("a2", 1, "WHATSAPP", src="919845011111", name="Asha"),
        ev("r1", 2, "WEB", src="u-ravi", phone="98860 22222", email=family, name="Ravi Rao"),
        ev("r2", 3, "KIOSK", phone="98860 22222", name="Ravi Rao"),
    ]
    parts = every_order(events)
    assert frozenset({"a1", "a2"}) in parts and frozenset({"r1", "r2"}) in parts


def test_one_person_with_two_phones_on_one_email_stays_one() -> None:
    mail = "asha.rao@gmail.com"
    events = [
        ev("a1", 0, "WEB", src="u-asha", phone="98450 11111", email=mail, name="Asha Rao"),
        ev("a2", 1, "KIOSK", phone="98860 22222", email=mail, name="A. Rao"),
        ev("a3", 2, "WHATSAPP", src="919845011111", name="Asha"),
    ]
    assert every_order(events) == {frozenset({"a1", "a2", "a3"})}


def test_a_shared_line_does_not_fuse_the_people_who_use_it() -> None:
    # Four people give their office number at the kiosk, once each; no email anywhere.
    line = "80 4123 4567"  # a Bengaluru landline
    names = ["Suresh Iyer", "Meena Pillai", "Farhan Khan", "Joseph Thomas"]
    events = [ev(f"k{i}", i, phone=line, src=f"KC-{i}", name=n) for i, n in enumerate(names)]
    parts = partition(events)
    assert all(len(p) == 1 for p in parts), parts
    assert every_order(events[:3]) == {frozenset({"k0"}), frozenset({"k1"}), frozenset({"k2"})}


def test_two_spellings_of_one_person_on_a_phone_are_not_a_shared_line() -> None:
    phone = "98450 12345"
    names = ["Asha Rao", "A. Rao", "Rao Asha", "asha"]
    events = [ev(f"k{i}", i, phone=phone, name=n) for i, n in enumerate(names)]
    assert partition(events) == {frozenset(e.event_id for e in events)}


# ---------------------------------------------------------------------------------------------
# shared touchpoint identities: a family computer's cookie, a shared account, a store terminal


def test_a_store_terminal_id_typed_for_every_visitor_does_not_fuse_them() -> None:
    names = [("Anita Desai", "98220 41736"), ("Rohan Das", "98330 52817"), ("Zara Ali", "98440 63928")]
    events = [ev(f"t{i}", i, src="KIOSK-TERMINAL-1", phone=ph, name=n) for i, (n, ph) in enumerate(names)]
    assert every_order(events) == {frozenset({"t0"}), frozenset({"t1"}), frozenset({"t2"})}
    r = Resolver()
    notes = [note for e in events for note in r.apply(e).notes]
    assert any("used by several people" in n and "KIOSK-TERMINAL-1" not in n for n in notes), notes  # said, masked
    assert r.quarantined_keys() == ["t:KIOSK:KIOSK-TERMINAL-1"]


def test_a_kiosk_id_typed_for_walk_ins_who_gave_only_their_names_does_not_fuse_them() -> None:
    """Three full names of three people on one terminal id: shared, though only one gave a phone."""
    events = [
        ev("k1", 0, "KIOSK", src="KIOSK-DEL-07", phone="98100 11111", name="Ankit Sharma"),
        ev("k2", 1, "KIOSK", src="KIOSK-DEL-07", name="Fatima Khan"),
        ev("k3", 2, "KIOSK", src="KIOSK-DEL-07", name="Joseph Dsouza"),
    ]
    assert every_order(events) == {frozenset({"k1"}), frozenset({"k2"}), frozenset({"k3"})}
    r = Resolver()
    for e in events:
        r.apply(e)
    assert r.quarantined_keys() == ["t:KIOSK:KIOSK-DEL-07"]
    profile = r.profile(r.customer_of_event("k1") or "")
    assert profile is not None and profile.name == "Ankit Sharma"


def test_a_couple_on_one_kiosk_id_and_one_phone_stay_two_people() -> None:
    """Two given names of one surname that cannot be one person (different first letters) are two people."""
    events = [
        ev(
            "h1",
            0,
            "KIOSK",
            src="kiosk-e",
            phone="+91 94480 11223",
            email="rk.gupta@gmail.com",
            name="Rajesh Kumar Gupta",
        ),
        ev("h2", 1, "WEB", src="u-e-wife", phone="09448011223", email="sunita.gupta@yahoo.com", name="Sunita Gupta"),
        ev("h3", 2, "KIOSK", src="kiosk-e", phone="94480 11223", name="Smt. Sunita Gupta"),
    ]
    assert every_order(events) == {frozenset({"h1"}), frozenset({"h2", "h3"})}


def test_an_account_with_a_given_name_and_initial_beside_another_family_is_shared() -> None:
    """``Karthik R`` and ``Sai Kiran Reddy``, each with their own phone and email, on one web id: two people."""
    events = [
        ev("a1", 0, "WEB", src="u-n4", phone="98400 12345", email="karthik.ramasamy@outlook.com", name="Karthik R"),
        ev("a2", 1, "WEB", src="u-n4", phone="97000 54321", email="saikiran.reddy@gmail.com", name="Sai Kiran Reddy"),
    ]
    assert every_order(events) == {frozenset({"a1"}), frozenset({"a2"})}
    # one person's initial and full surname stay one: Karthik R / Karthik Ramasamy
    same = [
        ev("b1", 0, "WEB", src="u-k", phone="98400 12345", name="Karthik R"),
        ev("b2", 1, "WEB", src="u-k", email="karthik.ramasamy@outlook.com", name="Karthik Ramasamy"),
    ]
    assert every_order(same) == {frozenset({"b1", "b2"})}


def test_two_spellings_under_one_surname_on_an_account_stay_one_person() -> None:
    """``Kir Jain`` / ``Kiarn Jain``: one letter, maybe a short form beside a typo: the account keeps linking."""
    events = [
        ev("j1", 0, "WEB", src="u-jain", phone="98450 44444", name="Kiran Jain"),
        ev("j2", 1, "WEB", src="u-jain", email="kir.jain@gmail.com", name="Kir Jain"),
    ]
    assert every_order(events) == {frozenset({"j1", "j2"})}


def test_a_family_cookie_keeps_two_people_apart_and_each_joins_their_own_records() -> None:
    events = [
        ev("c1", 0, "WEB", src="anon-family", email="meera.iyer@gmail.com", name="Meera Iyer"),
        ev("c2", 1, "WEB", src="anon-family", email="rahul.k@yahoo.com", name="Rahul Kapoor"),
        ev("c3", 2, "WEB", src="u-meera", email="meera.iyer@gmail.com", name="Meera Iyer"),
        ev("c4", 3, "WEB", src="anon-family"),  # an anonymous page view: neither person's
    ]
    parts = every_order(events)
    assert {"c1", "c3"} <= next(p for p in parts if "c1" in p)
    assert not any({"c1", "c2"} <= p for p in parts)
    assert not any("c4" in p and ("c1" in p or "c2" in p) for p in parts), parts


def test_one_person_with_two_phones_on_one_account_stays_one() -> None:
    events = [
        ev("u1", 0, "WEB", src="u-asha", phone="98450 11111", name="Asha Rao"),
        ev("u2", 1, "WEB", src="u-asha", phone="98860 22222", name="A. Rao"),
        ev("u3", 2, "WEB", src="u-asha", email="asha.rao@gmail.com", name="Rao Asha"),
    ]
    assert every_order(events) == {frozenset({"u1", "u2", "u3"})}


def test_a_second_name_without_a_phone_or_email_of_its_own_keeps_the_account() -> None:
    events = [
        ev("s1", 0, "WEB", src="u-priya", phone="98450 33333", name="Priya Sharma"),
        ev("s2", 1, "WEB", src="u-priya", name="Rahul Sharma"),  # her husband ordered once, no details
        ev("s3", 2, "WEB", src="u-priya", email="priya.s@gmail.com", name="Priya Sharma"),
    ]
    assert every_order(events) == {frozenset({"s1", "s2", "s3"})}


def test_a_whatsapp_identity_is_its_phone_not_a_shared_account() -> None:
    # Two people on one WhatsApp number: the phone's household rules decide, not the account rule.
    from resolver.households import shared_account

    sig = ["N:meera_iyer", "N:rahul_kapoor", "N:sara_khan", "e:a@x.in", "e:b@y.in"]
    assert not shared_account("t:WHATSAPP:919845012345", sig)
    assert shared_account("t:WEB:anon-1", sig)
    # two people: the account links per person instead (`account_split`), it is not shared
    assert not shared_account("t:WEB:anon-1", sig[:2] + sig[3:])
    assert not shared_account("t:WEB:anon-1", ["N:meera_iyer", "N:rahul_kapoor", "e:a@x.in"])
    assert not shared_account("t:WEB:anon-1", ["N:asha_rao", "N:a_rao", "e:a@x.in", "p:+919845011111"])
    # names without a phone or email of their own (``n:`` only) never make it shared
    assert not shared_account("t:WEB:anon-1", ["n:meera_iyer", "n:rahul_kapoor", "e:a@x.in", "e:b@y.in"])


def test_households_off_keeps_a_shared_terminal_linking() -> None:
    names = [("Anita Desai", "98220 41736"), ("Rohan Das", "98330 52817")]
    events = [ev(f"t{i}", i, src="KIOSK-TERMINAL-1", phone=ph, name=n) for i, (n, ph) in enumerate(names)]
    assert partition(events, ResolverConfig(household_rule=False)) == {frozenset({"t0", "t1"})}


# ---------------------------------------------------------------------------------------------
# near phones


def test_a_stray_name_does_not_block_a_near_phone() -> None:
    real, typo = "98450 71623", "98450 71629"
    events = [
        ev("w1", 0, "WHATSAPP", src="919845071623", name="Ravi Kumar"),
        ev("w2", 1, "WEB", src="u-ravi", phone=real, name="Ravi Kumar"),
        ev("k1", 2, phone=real, name="Ravi Kumar"),
        ev("k2", 3, phone=real, name="Sunil"),  # a cashier's slip, once
        ev("k3", 4, phone=typo, name="RAVI KUMAR"),
    ]
    parts = every_order(events)
    assert any({"w1", "k3"} <= p for p in parts), parts


_TOKENS = ["a", "asha", "asah", "ash", "rao", "r", "ravi", "rvai", "kumar", "kumr", "shah", "s", "vikram", "v"]


def test_one_group_never_claims_one_group_for_two() -> None:
    """`one_group` is a sufficient test: when it says one group, `name_groups` agrees, whatever the weights."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from resolver.names import KEY_JOIN, one_group

    key = st.builds(
        lambda f, last: f if last is None else f + KEY_JOIN + last,
        st.sampled_from([t for t in _TOKENS if t]),
        st.none() | st.sampled_from([t for t in _TOKENS if len(t) > 1]),
    )

    @settings(max_examples=400, deadline=None)
    @given(st.dictionaries(key, st.integers(1, 5), min_size=1, max_size=5))
    def check(weights: dict[str, int]) -> None:
        if one_group(weights):
            assert len(set(name_groups(weights).values())) == 1

    check()
    assert one_group({"asha_rao": 1, "rao_asha": 2, "a_rao": 1, "asha": 1})
    assert not one_group({"asha_rao": 1, "ravi_shah": 1})


def test_a_short_name_seen_first_does_not_make_an_account_shared() -> None:
    # Found in make demo's data: "San" and then a typo of the full name, each beside the
    # person's own phone and email, quarantined one person's web account (a first name alone
    # is no second person, whatever follows it).
    mail, phone = "spatel39@gmail.com", "93410 93719"
    events = [
        ev("s1", 0, "WEB", src="u350472766", phone=phone, email=mail, name="San"),
        ev("s2", 1, "WEB", src="u350472766", phone=phone, email=mail, name="Snajay Patel"),
        ev("s3", 2, "WEB", src="u350472766", email="sanjay.patel@tcs.com"),
        ev("s4", 3, "WEB", src="u350472766", phone=phone, email=mail, name="Sanjay Paetl"),
    ]
    assert every_order(events) == {frozenset({"s1", "s2", "s3", "s4"})}


def test_every_person_of_a_shared_phone_carries_the_reason_not_only_the_one_left_with_its_key() -> None:
    events = [
        ev("h1", 0, "WEB", src="u-h1", phone="98450 77777", email="ramesh.iyer@gmail.com", name="Ramesh Iyer"),
        ev("h2", 1, "WEB", src="u-h2", phone="98450 77777", email="lakshmi.iyer@gmail.com", name="Lakshmi Iyer"),
        ev("h3", 2, "KIOSK", src="k-h3", phone="98450 77777", name="Karthik Iyer"),
    ]
    assert every_order(events) == {frozenset({"h1"}), frozenset({"h2"}), frozenset({"h3"})}
    r = Resolver()
    for e in events:
        r.apply(e)
    for eid in ("h1", "h2", "h3"):
        profile = r.profile(r.customer_of_event(eid) or "")
        assert profile is not None and "-0.10 phone shared with another person" in profile.confidence_reasons, eid


def test_titles_and_an_email_in_the_name_field_are_no_part_of_who_it_is() -> None:
    assert name_key("Er. Rajesh Kumar") == name_key("Rajesh Kumar") == "rajesh_kumar"
    assert name_key("Capt Vikram Batra") == "vikram_batra" and name_key("Adv. Meera Nair") == "meera_nair"
    assert name_key("priya.sharma@gmail.com") is None
    assert name_key("Priya Sharma priya.sharma@gmail.com") == "priya_sharma"
    # an engineer's title does not make a second person on the phone
    events = [
        ev("t1", 0, "KIOSK", src="k-t1", phone="98450 61234", name="Er. Rajesh Kumar"),
        ev("t2", 1, "WEB", src="u-t2", phone="98450 61234", email="rajesh.k@gmail.com", name="Rajesh Kumar"),
    ]
    assert every_order(events) == {frozenset({"t1", "t2"})}
