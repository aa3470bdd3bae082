"""An order placed on an account for someone else does not fuse the account holder with the recipient.

A web order carries the buyer's account id (and often the buyer's email) but the recipient's
name and the recipient's own phone. The account is then split per person
(`resolver.households.account_split`): the account's holder keeps it, the recipient's name
group, which brings a phone of its own, links the recipient's part of it (``t:WEB#<name
group>:<id>``), so the order joins the recipient's own records and the holder's stay apart.
A name without a phone or email of its own on the account splits nothing. Each case is
checked in every arrival order: the recipient's own records may come before or after the
order (re-resolution makes the result the same).

Timeline of the first case (minutes)::

    0  u-priya  Priya A   +91 98716 16828  priya.arun@gmail.com   signup
    1  u-priya  A Priya   098716 16828     priya.arun@gmail.com   order
    2  u-priya  K. Arun   656-529-4130     priya.arun@gmail.com   order for Arun   <- the recipient's phone
    3  kiosk    K Arun    +916565294130                           Arun's own visit
    4  u-arun   Arun K    +91 65652 94130                         Arun's own account
    5  u-priya  (nothing)                                         a page view
"""

from __future__ import annotations

import itertools
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolver.config import ResolverConfig
from resolver.graph import account_part, holder_of, is_person, other_account
from resolver.households import account_split
from resolver.interaction import Interaction
from resolver.resolver import Resolver

T0 = 1_790_000_000_000


def ev(
    eid: str,
    t: int,
    src: str,
    *,
    tp: str = "WEB",
    phone: str | None = None,
    email: str | None = None,
    name: str | None = None,
) -> Interaction:
    return Interaction(eid, tp, T0 + t * 60_000, src, "order", phone=phone, email=email, name=name)


def resolve(events: list[Interaction], config: ResolverConfig | None = None) -> Resolver:
    r = Resolver(config)
    for e in events:
        r.apply(e)
    return r


def partition(events: list[Interaction], config: ResolverConfig | None = None) -> set[frozenset[str]]:
    r = resolve(events, config)
    groups: dict[str, set[str]] = {}
    for e in events:
        groups.setdefault(r.customer_of_event(e.event_id) or "", set()).add(e.event_id)
    return {frozenset(g) for g in groups.values()}


def every_order(events: list[Interaction]) -> set[frozenset[str]]:
    """The partition, checked to be the same in every arrival order (at most 6! orders)."""
    seen = {frozenset(partition(list(order))) for order in itertools.permutations(events)}
    assert len(seen) == 1, seen
    return set(next(iter(seen)))


def together(parts: set[frozenset[str]], *eids: str) -> bool:
    return any(set(eids) <= p for p in parts)


PRIYA = [
    ev("p1", 0, "u-priya", phone="+91 98716 16828", email="priya.arun@gmail.com", name="Priya A"),
    ev("p2", 1, "u-priya", phone="098716 16828", email="priya.arun@gmail.com", name="A Priya"),
    ev("gift", 2, "u-priya", phone="656-529-4130", email="priya.arun@gmail.com", name="K. Arun"),
    ev("a1", 3, "KV-ST16-e10d5c8142", tp="KIOSK", phone="+916565294130", name="K Arun"),
    ev("a2", 4, "u-arun", phone="+91 65652 94130", name="Arun K"),
    ev("view", 5, "u-priya"),
]


def test_an_order_for_a_family_member_does_not_fuse_the_buyer_with_the_recipient() -> None:
    parts = every_order(PRIYA)
    # The recipient's phone, name and own records go together; the holder keeps her account.
    assert together(parts, "gift", "a1", "a2")
    assert together(parts, "p1", "p2", "view")
    assert not together(parts, "p1", "a1")


def test_the_split_is_the_account_s_and_explain_why_and_confidence_say_so() -> None:
    r = resolve(PRIYA)
    g = r._g
    key = "t:WEB:u-priya"
    part = account_part(key, "k_arun")
    assert part == "t:WEB#k_arun:u-priya" and is_person(part) and holder_of(part) == key
    assert g.nodes[key].groups == {"k_arun": part}
    arun = r.customer_of_event("a1")
    priya = r.customer_of_event("p1")
    assert arun is not None and priya is not None and arun != priya
    # explain: the order's account link is its recipient's part, the account itself not linked, with the reason
    edges = [e for e in r.explain(arun).to_dict()["edges"] if e["to"] == key]
    assert edges and all(e["refused"] for e in edges)
    assert "another person with a phone or email of their own" in edges[0]["reason"]
    assert part in {n["id"] for n in r.explain(arun).to_dict()["nodes"]}
    # why-not: the account both carry says why it did not join them
    reasons = r.why_not(priya, arun)["reasons"]
    assert any(x.get("identifier") == key and "account used by another person" in x["reason"] for x in reasons)
    # the review queue lists the pair, with the account's rule
    assert any(p.identifier == key and "another person" in p.reason for chunk in r.review_scan(50) for p in chunk)
    # confidence: the recipient's customer holds evidence on another person's account
    profile = r.profile(arun)
    assert profile is not None
    assert any("another person's account" in reason for reason in profile.confidence_reasons)
    holder = r.profile(priya)
    assert holder is not None and not any("another person's account" in x for x in holder.confidence_reasons)
    # the profile memo and a profile from scratch agree
    assert r.profile(arun, memo=False) == profile


SAPNA = [
    ev("s1", 0, "u087892178", phone="66734 90678", email="khanna.sapna@wipro.com", name="Sapna Khanna"),
    ev("s2", 1, "u087892178", phone="66734 90678", email="khanna.sapna@wipro.com", name="Sapna"),
    ev("gift", 2, "u087892178", phone="08818876334", email="khanna.sapna@wipro.com", name="Rohit"),
    ev("r1", 3, "918818876334", tp="WHATSAPP", name="Rohit"),
    ev("r2", 4, "u-rohit", phone="+91 88188 76334", name="Rohit Khanna"),
    ev("r3", 5, "KV-ST02-0001", tp="KIOSK", phone="8818876334", name="Rohit"),
]


def test_an_order_under_a_first_name_with_the_recipient_s_phone_does_not_fuse_them() -> None:
    parts = every_order(SAPNA)
    assert together(parts, "gift", "r1", "r2", "r3")
    assert together(parts, "s1", "s2")
    assert not together(parts, "s1", "r1")


def test_a_partner_s_order_without_details_of_its_own_links_nothing_new() -> None:
    """A name alone, or a name under the holder's phone and email, brings nothing of its own: no split."""
    events = [
        ev("h1", 0, "u-meena", phone="98450 33333", email="meena.s@gmail.com", name="Meena Sharma"),
        ev("h2", 1, "u-meena", email="meena.s@gmail.com", name="Meena Sharma"),
        ev("n1", 2, "u-meena", name="Rahul"),  # her husband's order, a name and nothing else
        ev("n2", 3, "u-meena", phone="98450 33333", name="Rahul"),  # under her phone
        ev("view", 4, "u-meena"),
    ]
    assert every_order(events) == {frozenset({"h1", "h2", "n1", "n2", "view"})}
    assert resolve(events)._g.nodes["t:WEB:u-meena"].groups is None


def test_one_person_s_second_phone_and_name_forms_keep_the_account_whole() -> None:
    """A short form, an initial, a swapped order with a second phone is one person: nothing is split."""
    events = [
        ev("o1", 0, "u-asha", phone="98450 11111", email="asha.rao@gmail.com", name="Asha Rao"),
        ev("o2", 1, "u-asha", phone="98860 22222", email="asha.rao@gmail.com", name="A. Rao"),
        ev("o3", 2, "u-asha", phone="97310 33333", name="Rao Asha"),
        ev("o4", 3, "u-asha", phone="98450 11111", name="Asha"),
        ev("o5", 4, "KV-1", tp="KIOSK", phone="98860 22222", name="Asha Rao"),
    ]
    assert every_order(events) == {frozenset({"o1", "o2", "o3", "o4", "o5"})}


def test_two_people_seen_as_often_share_the_account_neither_keeps_it() -> None:
    """Vikram and Arjun, each once with a phone of his own: each links his part; a page view stays the account's."""
    events = [
        ev("v1", 0, "u-v", phone="89394 92140", name="Vikram Banerjee"),
        ev("g1", 1, "u-v", phone="70180 73200", name="Arjun"),
        ev("view", 2, "u-v"),
    ]
    parts = every_order(events)
    assert parts == {frozenset({"v1"}), frozenset({"g1"}), frozenset({"view"})}
    g = resolve(events)._g
    assert set((g.nodes["t:WEB:u-v"].groups or {}).values()) == {
        account_part("t:WEB:u-v", "arjun"),
        account_part("t:WEB:u-v", "vikram_banerjee"),
    }


ASHA = [
    ev("b1", 0, "u-asha", phone="+91 98450 71623", email="asha.rao@gmail.com", name="Asha Rao"),
    ev("b2", 1, "u-asha", email="asha.rao@gmail.com", name="Asha Rao"),  # a login
    ev("gift", 2, "u-asha", phone="97318 62045", name="Vikram Menon"),  # a gift, the recipient's name and phone
    ev("view", 3, "u-asha"),  # her page view after it
    ev("m1", 4, "919731862045", tp="WHATSAPP", name="Vikram"),
    ev("m2", 5, "K-1", tp="KIOSK", phone="9731862045", email="vik.menon@yahoo.com", name="Vikram Menon"),
]


def test_a_gift_under_the_recipient_s_full_name_leaves_the_holder_her_account() -> None:
    """Two people named in full, each with a phone or email of their own, on one web id: the account is
    split, not quarantined, so the holder's anonymous visits stay hers (they were a customer of their own)."""
    parts = every_order(ASHA)
    assert parts == {frozenset({"b1", "b2", "view"}), frozenset({"gift", "m1", "m2"})}
    r = resolve(ASHA)
    assert r.quarantined_keys() == []
    asha, vikram = r.profile(r.customer_of_event("b1") or ""), r.profile(r.customer_of_event("m2") or "")
    assert asha is not None and vikram is not None
    # each lists the account (the CRM gives an interaction to a customer that lists its record);
    # the recipient's order shows in his confidence
    assert ("WEB", "u-asha") in asha.source_ids and ("WEB", "u-asha") in vikram.source_ids
    assert any("another person's account" in x for x in vikram.confidence_reasons)
    assert not any("quarantined" in x for x in asha.confidence_reasons)
    assert r.profile(r.customer_of_event("m2") or "", memo=False) == vikram


def test_three_people_named_in_full_with_their_own_phones_quarantine_the_id() -> None:
    """A store terminal's id typed for every walk-in: from the third person it links nobody, parts neither."""
    events = [
        ev(f"w{i}", i, "k-hub", tp="KIOSK", phone=f"9{i}000 1111{i}", name=name)
        for i, name in enumerate(["Meera Iyer", "John Das", "Sara Khan"])
    ]
    assert every_order(events) == {frozenset({"w0"}), frozenset({"w1"}), frozenset({"w2"})}
    node = resolve(events)._g.nodes["t:KIOSK:k-hub"]
    assert node.status == "quarantined" and node.groups is None


def test_a_source_id_holding_the_person_separator_is_no_person_s_part() -> None:
    """A source id may hold ``#``: a part names its person in the touchpoint's place, which never does."""
    assert not is_person("t:CRM:ACC#bob")
    assert holder_of("t:CRM:ACC#bob") == "t:CRM:ACC#bob"
    part = account_part("t:CRM:ACC#bob", "asha_rao")
    assert part == "t:CRM#asha_rao:ACC#bob" and holder_of(part) == "t:CRM:ACC#bob"
    assert other_account([part]) and not other_account(["t:CRM:ACC#bob", "p:+919845011111#asha_rao"])
    events = [
        ev("c1", 0, "ACC#bob", tp="CRM", phone="98450 11111", name="Asha Rao"),
        ev("c2", 1, "ACC#bob", tp="CRM", phone="98450 11111", name="Asha Rao", email="asha@x.in"),
        ev("c3", 2, "ACC#bob", tp="CRM", phone="97310 22222", name="Vinod Menon"),
        ev("c4", 3, "v-1", tp="KIOSK", phone="97310 22222", name="Vinod Menon"),
    ]
    assert every_order(events) == {frozenset({"c1", "c2"}), frozenset({"c3", "c4"})}


def test_households_off_keeps_the_account_linking() -> None:
    assert partition(PRIYA, ResolverConfig(household_rule=False)) == {frozenset(e.event_id for e in PRIYA)}


def test_account_split_reads_names_and_own_contacts() -> None:
    key = "t:WEB:u1"
    holder = ("priya_a", ("p:+919871616828", "e:priyaarun@gmail.com"))
    gift = ("k_arun", ("p:+916565294130", "e:priyaarun@gmail.com"))
    assert account_split(key, [holder, holder, gift]) == {"k_arun": account_part(key, "k_arun")}
    # the recipient's name under the holder's phone and email: nothing of its own
    assert account_split(key, [holder, holder, ("k_arun", holder[1])]) is None
    # a name without any phone or email: nothing of its own
    assert account_split(key, [holder, holder, ("k_arun", ())]) is None
    # one person's names: one group
    assert account_split(key, [holder, ("a_priya", ("p:+916565294130",))]) is None
    # a holder whose only contact on the account is the one the order carries too brings nothing of
    # her own: the account is not split (a limit: the email's own rules tell them apart, or not)
    shared_mail = ("dinesh_bansal", ("e:bansal.dinesh@gmail.com",))
    sapna = ("sapna", ("p:+917067992624", "e:bansal.dinesh@gmail.com"))
    assert account_split(key, [shared_mail, shared_mail, sapna]) is None
    # two seen as often, each with a contact of their own: neither keeps the account
    vikram = ("vikram_banerjee", ("p:+918939492140",))
    arjun = ("arjun", ("p:+917018073200",))
    assert account_split(key, [vikram, arjun]) == {
        "arjun": account_part(key, "arjun"),
        "vikram_banerjee": account_part(key, "vikram_banerjee"),
    }
    assert account_split(key, [vikram, vikram, arjun]) == {"arjun": account_part(key, "arjun")}
    # the result does not depend on the order of the evidence
    pieces = [holder, holder, gift, ("k_arun", ()), ("priya_a", ())]
    for _ in range(10):
        random.shuffle(pieces)
        assert account_split(key, pieces) == {"k_arun": account_part(key, "k_arun")}


# ---------------------------------------------------------------------------------------------
# a weak name that fits two people on the identity (audit s39: a family's loyalty card)

IYER = [
    ev("k1", 0, "LC11112222", tp="KIOSK", phone="+91 98450 11111", name="Aishwarya Iyer"),
    ev("k2", 1, "LC11112222", tp="KIOSK", phone="+91 98450 22222", name="Aditya Iyer"),
    ev("k3", 2, "LC11112222", tp="KIOSK", phone="+91 98450 11111", name="A. Iyer"),
    ev("w1", 3, "u-aditya", phone="+91 98450 22222", name="Aditya Iyer"),
]


def test_an_initial_that_fits_two_people_on_a_family_card_joins_neither() -> None:
    """``A. Iyer`` with Aishwarya's phone on the card she and Aditya both use is Aishwarya's visit:
    before, its name weighed for one of them, the card was not split and all four events fused."""
    parts = every_order(IYER)
    assert together(parts, "k1", "k3")
    assert together(parts, "k2", "w1")
    assert not together(parts, "k1", "k2")


def test_an_initial_links_the_card_only_when_its_evidence_has_nothing_else() -> None:
    # Aditya, seen more often, keeps the card; the initial's visit with Aishwarya's phone must not
    # link the card (Aditya's) as well, and an initial with nothing else links the card.
    aditya = ev(
        "k4", 4, "LC11112222", tp="KIOSK", phone="+91 98450 22222", email="aditya.iyer@gmail.com", name="Aditya Iyer"
    )
    more = [*IYER, aditya]
    parts = every_order(more)
    assert together(parts, "k1", "k3") and not together(parts, "k1", "k2")
    alone = [*more[:2], more[4], ev("k5", 5, "LC11112222", tp="KIOSK", name="A. Iyer")]
    parts = every_order(alone)
    assert together(parts, "k2", "k4", "k5") and not together(parts, "k1", "k5")


def test_account_split_maps_an_initial_that_fits_two_groups_to_the_identity_itself() -> None:
    key = "t:KIOSK:LC11112222"
    aish = ("aishwarya_iyer", ("p:+919845011111",))
    adit = ("aditya_iyer", ("p:+919845022222",))
    initial = ("a_iyer", ("p:+919845011111",))
    split = account_split(key, [aish, adit, initial])
    assert split is not None and split["a_iyer"] == key
    assert split["aishwarya_iyer"] != split["aditya_iyer"]
    assert {split["aishwarya_iyer"], split["aditya_iyer"]} <= {
        account_part(key, "aishwarya_iyer"),
        account_part(key, "aditya_iyer"),
    }
    # The initial's phone counts for no one: without it the split is the same.
    assert {c: p for c, p in split.items() if c != "a_iyer"} == account_split(key, [aish, adit])
    # One person's initial (it fits only Aishwarya) is hers, as before: it weighs for her, so she keeps the card.
    rahul = ("rahul_menon", ("p:+919845033333",))
    assert account_split(key, [aish, initial, rahul]) == {"rahul_menon": account_part(key, "rahul_menon")}


# ---------------------------------------------------------------------------------------------
# order independence on random accounts

NAMES = [
    "Priya Arun",
    "Priya A",
    "K. Arun",
    "Arun K",
    "Rohit",
    "Rohit Khanna",
    "Sapna Khanna",
    "Sapna",
    "Sunil Khanna",
    "S. Khanna",
    None,
]
PHONES = ["98716 16828", "65652 94130", "88188 76334", "66734 90678"]
EMAILS = ["priya.arun@gmail.com", "khanna.sapna@wipro.com", None]


@st.composite
def account_events(draw: st.DrawFn) -> list[Interaction]:
    out: list[Interaction] = []
    for i in range(draw(st.integers(2, 12))):
        tp = draw(st.sampled_from(["WEB", "WEB", "KIOSK", "WHATSAPP"]))
        phone = draw(st.none() | st.sampled_from(PHONES))
        src = (
            "91" + (phone or PHONES[0]).replace(" ", "")
            if tp == "WHATSAPP"
            else f"{tp.lower()}-{draw(st.integers(0, 2))}"
        )
        out.append(
            Interaction(
                f"e{i:02d}",
                tp,
                T0 + draw(st.integers(0, 30)) * 60_000,
                src,
                "order",
                phone=None if tp == "WHATSAPP" else phone,
                email=draw(st.sampled_from(EMAILS)),
                name=draw(st.sampled_from(NAMES)),
            )
        )
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(account_events(), st.randoms(use_true_random=False))
def test_accounts_split_the_same_in_any_order(events: list[Interaction], rnd: random.Random) -> None:
    """The partition, and every account's split (a function of its evidence), whatever the arrival order."""
    first = resolve(events)
    expected = partition(events)
    for _ in range(3):
        shuffled = list(events)
        rnd.shuffle(shuffled)
        assert partition(shuffled) == expected
    g = first._g
    for key, node in g.nodes.items():
        if key[0] != "t" or is_person(key) or node.status != "ok" or key.startswith("t:WHATSAPP:"):
            continue
        seen = []
        for vid in node.vids():
            piece = g.evidence[vid]
            cls = g.class_of(piece.name)
            if cls is not None:
                seen.append((cls, tuple(k for k in piece.keys if k[0] in "pe")))
        assert node.groups == account_split(key, seen)


def test_erasing_the_account_holder_or_the_recipient_leaves_the_other_and_no_part_behind() -> None:
    """The recipient's part of an erased holder's account (and of her email) links nothing: it goes."""
    r = resolve(PRIYA)
    arun = r.customer_of_event("a1")
    r.erase(r.customer_of_event("p1") or "")
    g = r._g
    assert not [k for k in g.nodes if "#" in k]  # no part of her account or email is left
    assert not [k for k, n in g.nodes.items() if any("priya" in s for s in n.sig or ())]  # nor in hub signals
    assert {r.customer_of_event(e) for e in ("gift", "a1", "a2")} == {arun}
    for cid in r.customer_ids():
        assert r.profile(cid, memo=False) == r.profile(cid)
        r.explain(cid)
    copy = Resolver.from_snapshot(r.config, r.snapshot())
    assert copy.customer_ids() == r.customer_ids()
    # the other way round: the holder keeps her account and its records
    r = resolve(PRIYA)
    r.erase(r.customer_of_event("a1") or "")
    g = r._g
    assert {r.customer_of_event(e) for e in ("p1", "p2", "view")} == {r.customer_of_event("p1")} != {None}
    assert not [k for k in g.nodes if "#" in k]


def test_a_couple_on_one_computer_each_with_their_own_email_are_two_customers() -> None:
    """Found by audit s30 (then one customer at 0.01, 'names that cannot be one person')."""
    r = Resolver(ResolverConfig(digest_key=b"k" * 32))
    r.apply(Interaction("s3-1", "WEB", T0, "cookie-couple", "login", None, "kiran.jain@gmail.com", "Kiran Jain"))
    r.apply(Interaction("s3-2", "WEB", T0 + 1, "cookie-couple", "login", None, "kirti.jain@gmail.com", "Kirti Jain"))
    kiran, kirti = r.customer_of_event("s3-1"), r.customer_of_event("s3-2")
    assert kiran is not None and kirti is not None and kiran != kirti
    for cid in (kiran, kirti):
        profile = r.profile(cid)
        assert profile is not None and len(profile.emails) == 1
        assert "-0.20 evidence on another person's account too" in profile.confidence_reasons


def test_every_event_s_touchpoint_record_is_listed_by_its_customer() -> None:
    """The CRM's owner rule (docs/crm-connector.md) gives an interaction to the customer listing its
    touchpoint record: a recipient must list the account an order for them was placed on."""
    from resolver.interaction import from_json
    from streams.synthetic import generate

    logs = [ASHA, PRIYA, SAPNA]
    generated = [from_json(obj) for obj in generate(customers=300, seed=5)[0]]
    logs.append([e for e in generated if e is not None])
    for events in logs:
        r = resolve(events)
        for e in events:
            cid = r.customer_of_event(e.event_id)
            if cid is None:  # a generated event that is invalid on purpose: rejected, no customer
                continue
            profile = r.profile(cid)
            assert profile is not None and (e.touchpoint, e.source_id.strip()) in profile.source_ids, e.event_id
