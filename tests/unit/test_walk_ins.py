"""A phone or email staff type at a kiosk for walk-ins without names (audit s36, A6), in every order.

A store's landline typed for two to four walk-ins who each give their own email and no name, or
a placeholder address staff type (``walkin@store.com``) for walk-ins who each give their own
phone, was one customer until the identifier passed the hub threshold. Three distinct partners
(emails beside the phone, phones beside the email) on nameless kiosk records now keep it from
linking the records that carry a partner (`resolver.households.typed_for_walk_ins`); the
walk-ins still join their own records. Two nameless walk-ins stay one customer (a known limit:
one person's work and private address at a kiosk look the same), unless the address is a
placeholder by its form (``walkin@``, ``notavailable@``, ``1234567890@``: junk,
`resolver.junk.JunkRules.email`), which links no one however few use it.

What must still link: one person's two emails on their phone through the web or under a name,
one person's new phone given at their own loyalty id, a phone mistyped one digit off.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.households import typed_for_walk_ins
from resolver.interaction import Interaction
from resolver.resolver import Resolver
from tests.unit.test_quality_probes import ev  # one kiosk-record maker for the quality tests

STORE = "080 2658 4417"


def partition(events: list[Interaction]) -> tuple[set[frozenset[str]], Resolver]:
    r = Resolver()
    for e in events:
        r.apply(e)
    groups: dict[str, set[str]] = {}
    for e in events:
        groups.setdefault(r.customer_of_event(e.event_id) or "", set()).add(e.event_id)
    return {frozenset(g) for g in groups.values()}, r


def every_order(events: list[Interaction]) -> set[frozenset[str]]:
    """The partition, checked to be the same in every arrival order (at most 5! orders)."""
    seen = {frozenset(partition(list(order))[0]) for order in itertools.permutations(events)}
    assert len(seen) == 1, seen
    return set(next(iter(seen)))


def sets(*groups: str) -> set[frozenset[str]]:
    return {frozenset(g.split()) for g in groups}


# --- the audit's cases: kept apart -----------------------------------------------------------


def test_store_phone_for_three_nameless_walk_ins_with_own_emails() -> None:
    events = [
        ev("a", 0, phone=STORE, email="ravi.k.1983@gmail.com"),
        ev("b", 1, phone=STORE, email="meena.s.77@gmail.com"),
        ev("c", 2, phone=STORE, email="farida.q@yahoo.co.in"),
    ]
    assert every_order(events) == sets("a", "b", "c")
    _, r = partition(events)
    profiles = [r.profile(r.customer_of_event(e) or "") for e in ("a", "b", "c")]
    assert all(p is not None and p.phones == () and len(p.emails) == 1 for p in profiles)


def test_two_nameless_walk_ins_stay_one_customer_a_known_limit() -> None:
    """Two addresses on one phone at a kiosk without names: one person's work and private address as well."""
    events = [
        ev("a", 0, phone=STORE, email="ravi.k.1983@gmail.com"),
        ev("b", 1, phone=STORE, email="meena.s.77@gmail.com"),
    ]
    assert every_order(events) == sets("a b")


def test_store_phone_for_four_walk_ins_each_joins_their_own_records() -> None:
    events = [ev(f"k{i}", i, phone=STORE, email=f"walkin.person{i}@gmail.com") for i in range(4)]
    events.append(ev("w0", 9, "WEB", "u-0", email="walkin.person0@gmail.com", name="Ravi Kumar"))
    assert every_order(events) == sets("k0 w0", "k1", "k2", "k3")


def test_placeholder_email_for_walk_ins_with_own_phones() -> None:
    events = [
        ev("a", 0, phone="9845071623", email="frontdesk@acmeretail.in"),
        ev("b", 1, phone="9731862045", email="frontdesk@acmeretail.in"),
        ev("c", 2, phone="9902846193", email="frontdesk@acmeretail.in"),
        ev("wa", 3, "WHATSAPP", "919845071623", phone="919845071623", name="Asha Rao"),
    ]
    assert every_order(events) == sets("a wa", "b", "c")
    assert every_order(events[:2]) == sets("a b")  # two: a known limit, as on a phone


def test_a_named_walk_in_beside_nameless_ones_is_kept_apart_too() -> None:
    events = [
        ev("a", 0, phone=STORE, email="first.walkin@gmail.com", name="Ravi Kumar"),
        ev("b", 1, phone=STORE, email="second.walkin@gmail.com"),
        ev("c", 2, phone=STORE, email="third.walkin@gmail.com"),
        ev("d", 3, phone=STORE, email="fourth.walkin@gmail.com"),
    ]
    assert every_order(events) == sets("a", "b", "c", "d")


def test_three_addresses_on_one_phone_at_the_kiosk_without_names_are_three_people() -> None:
    """The rule's price, pinned: three addresses on nameless kiosk records are read as three people."""
    events = [ev(f"k{i}", i, phone="9845071623", email=f"asha.rao{i}@gmail.com") for i in range(3)]
    assert every_order(events) == sets("k0", "k1", "k2")


# --- one person: still one customer ----------------------------------------------------------


def test_work_and_private_email_on_one_phone_through_the_web() -> None:
    events = [
        ev("a", 0, "WEB", "u-1", phone="9845071623", email="asha.rao@gmail.com"),
        ev("b", 1, "WEB", "u-2", phone="9845071623", email="asha@acme-corp.in"),
    ]
    assert every_order(events) == sets("a b")


def test_work_and_private_email_at_the_kiosk_under_a_name() -> None:
    events = [
        ev("a", 0, phone="9845071623", email="asha.rao@gmail.com", name="Asha Rao"),
        ev("b", 1, phone="9845071623", email="asha@acme-corp.in", name="Asha Rao"),
    ]
    assert every_order(events) == sets("a b")


def test_second_email_at_the_kiosk_beside_a_named_web_order() -> None:
    """Only one partner comes on nameless kiosk records alone: nothing says two people."""
    events = [
        ev("w", 0, "WEB", "u-1", phone="9845071623", email="asha.rao@gmail.com", name="Asha Rao"),
        ev("k", 1, phone="9845071623", email="asha@acme-corp.in"),
    ]
    assert every_order(events) == sets("k w")


def test_new_phone_given_at_ones_own_loyalty_id() -> None:
    events = [
        ev("a", 0, src="LOY-7731", phone="9845071623", email="asha.rao@gmail.com"),
        ev("b", 1, src="LOY-7731", phone="9731862045", email="asha.rao@gmail.com"),
    ]
    assert every_order(events) == sets("a b")


def test_changed_phone_through_the_web() -> None:
    events = [
        ev("a", 0, "WEB", "u-1", phone="9845071623", email="asha.rao@gmail.com"),
        ev("b", 1, "WEB", "u-1", phone="9731862045", email="asha.rao@gmail.com"),
        ev("c", 2, "WEB", "u-9", phone="9731862045", email="asha.rao@gmail.com"),
    ]
    assert every_order(events) == sets("a b c")


def test_a_phone_mistyped_one_digit_off_beside_ones_email() -> None:
    events = [
        ev("a", 0, phone="9845071623", email="asha.rao@gmail.com"),
        ev("b", 1, phone="9845071632", email="asha.rao@gmail.com"),  # a swap
    ]
    assert every_order(events) == sets("a b")
    events[1] = ev("b", 1, phone="9845071629", email="asha.rao@gmail.com")  # a digit
    assert every_order(events) == sets("a b")


# --- the rule itself -------------------------------------------------------------------------


def test_rule_examples() -> None:
    assert not typed_for_walk_ins([])
    assert not typed_for_walk_ins(["e:a@x.in", "e:b@x.in"])
    assert typed_for_walk_ins(["e:a@x.in", "e:b@x.in", "e:c@x.in"])
    assert not typed_for_walk_ins(["p:+919845071623", "p:+919845071632", "p:+919731862045"])  # a typo among them
    assert typed_for_walk_ins(["p:+919845071623", "p:+919731862045", "p:+919902846193"])
    assert typed_for_walk_ins(["p:+919845071623", "p:+919845071632", "p:+919731862045", "p:+919902846193"])


@settings(max_examples=200, deadline=None)
@given(
    st.sets(st.sampled_from(["e:p0@x.in", "e:p1@x.in", "p:+919845071623", "p:+919845071632", "p:+919731862045"])),
    st.sets(st.sampled_from(["e:p2@x.in", "e:p3@x.in", "p:+919845071629", "p:+919902846193", "p:+919731862054"])),
)
def test_rule_is_monotone(a: set[str], b: set[str]) -> None:
    """More records never undo it: so the result cannot depend on the order they come in."""
    if typed_for_walk_ins(a):
        assert typed_for_walk_ins(a | b)


_PHONES = ("9845071623", "9731862045", "9902846193", "9845071632")  # the last one digit-swapped from the first


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.booleans(), st.integers(0, 2)), min_size=2, max_size=6)
)
def test_walk_ins_in_any_order(rows: list[tuple[int, int, bool, int]]) -> None:
    """Random nameless kiosk records on a few phones, emails and kiosk ids: one partition in any order."""
    events = [
        ev(f"e{i}", i, src=f"KV-{src}", phone=_PHONES[p], email=f"person{m}@gmail.com" if with_email else None)
        for i, (p, m, with_email, src) in enumerate(rows)
    ]
    first = partition(events)[0]
    assert partition(list(reversed(events)))[0] == first
    assert partition(sorted(events, key=lambda e: (e.email or "", e.phone or "")))[0] == first


def test_a_typed_email_stays_typed_through_a_snapshot_and_the_state_records() -> None:
    """The email's flag is state: a loaded snapshot and a restore from records keep the walk-ins apart."""
    from tests.unit.test_snapshot import every_record

    events = [
        ev(f"k{i}", i, phone=p, email="frontdesk@acmeretail.in") for i, p in enumerate(("9845071623", "9731862045"))
    ]
    later = [
        ev("k2", 2, phone="9902846193", email="frontdesk@acmeretail.in"),
        ev("k3", 3, phone="9880123457", email="frontdesk@acmeretail.in"),
    ]
    whole, _ = partition(events + later)
    assert whole == sets("k0", "k1", "k2", "k3")
    r = Resolver()
    for e in [*events, later[0]]:
        r.apply(e)
    copies = [
        Resolver.from_snapshot(r.config, r.snapshot()),
        Resolver.restore(r.config, [(k, v) for k, v in every_record(r._g).items() if v is not None]),
    ]
    for copy in copies:
        copy.apply(later[1])
        mine = {e.event_id: copy.customer_of_event(e.event_id) for e in events + later}
        assert len(set(mine.values())) == 4, mine
        assert mine["k3"] != mine["k1"]


def test_the_review_queue_names_the_rule() -> None:
    from resolver.review import key_pairs

    events = [ev(f"k{i}", i, phone=STORE, email=f"walkin.person{i}@gmail.com") for i in range(3)]
    events += [
        ev(f"d{i}", 9 + i, phone=p, email="frontdesk@acmeretail.in")
        for i, p in enumerate(("9845071623", "9731862045", "9902846193"))
    ]
    _, r = partition(events)
    reasons = {pair.reason for pair in key_pairs(r._g, sorted(r._g.nodes))}
    assert any("is typed at a kiosk for several people without names" in x and x.startswith("email ") for x in reasons)
    assert any("typed at a kiosk for several people without names): its email links" in x for x in reasons)
    assert not any("different names" in x and "or typed" not in x for x in reasons)


# --- placeholder addresses: junk whatever their count ----------------------------------------


def test_placeholder_addresses_are_junk() -> None:
    from resolver.junk import JunkRules

    junk = JunkRules()
    for address in (
        "walkin@store.com", "walk-in@store.com", "notavailable@gmail.com", "not.available@yahoo.com",
        "1234567890@gmail.com", "123@gmail.com", "9999999999@gmail.com",
    ):  # fmt: skip
        assert junk.email(address), address
    for address in (
        "walker@gmail.com", "walkin4@acmeretail.in", "store@acmeretail.in", "unknown.singer@gmail.com",
        "a@gmail.com", "a@a.com", "9845071623@gmail.com", "2019@iitb.ac.in", "nilesh@gmail.com",
    ):  # fmt: skip
        assert not junk.email(address), address


def test_two_walk_ins_on_a_placeholder_address_are_two() -> None:
    events = [
        ev("a", 0, phone="9845071623", email="walkin@store.com"),
        ev("b", 1, phone="9731862045", email="walkin@store.com"),
        ev("c", 2, phone="9902846193", email="not.available@gmail.com"),
        ev("d", 3, phone="9880123457", email="notavailable@gmail.com"),
    ]
    assert every_order(events) == sets("a", "b", "c", "d")
