"""Probes of issue 18's failure classes with spellings the generator does not make.

`irl generate` writes extensions as `` x221``/`` ext. ``/`` extn ``, masks as ``98******10`` and
``asha***@``; real exports also hold ``#2291``, ``;ext=2291``, ``98XXXXXX10``, ``j.....@x.com``,
``0000000000``, business lines given by four or five colleagues, and family mailboxes whose
second user leaves the name out. Each probe states what must hold, in every arrival order where
the order could matter.
"""

from __future__ import annotations

import itertools

import pytest

from resolver.config import ResolverConfig
from resolver.identifiers import IdentifierParser
from resolver.interaction import Interaction
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


def partition(events: list[Interaction]) -> set[frozenset[str]]:
    r = Resolver()
    for e in events:
        r.apply(e)
    groups: dict[str, set[str]] = {}
    for e in events:
        groups.setdefault(r.customer_of_event(e.event_id) or "", set()).add(e.event_id)
    return {frozenset(g) for g in groups.values()}


def every_order(events: list[Interaction]) -> set[frozenset[str]]:
    seen = {frozenset(partition(list(order))) for order in itertools.permutations(events)}
    assert len(seen) == 1, seen
    return set(next(iter(seen)))


@pytest.fixture(scope="module")
def parser() -> IdentifierParser:
    return IdentifierParser(ResolverConfig())


def extracted(parser: IdentifierParser, phone: str | None = None, email: str | None = None) -> tuple[str, ...]:
    return parser.extract(ev("x", 0, "WEB", src="s", phone=phone, email=email)).rejected


# ---------------------------------------------------------------------------------------------
# phone extensions: the main line links, the extension never joins its digits


@pytest.mark.parametrize(
    "raw",
    [
        "+1 215 867 0125 ext. 2291",
        "+1 (215) 867-0125 x2291",
        "+1-215-867-0125 #2291",
        "+1-215-867-0125;ext=2291",
        "tel:+1-215-867-0125;ext=2291",
        "+1 215 867 0125 extn 2291",
        "+1 215 867 0125 EXTN. 2291",
        "+1.215.867.0125 Ext:2291",
    ],
)
def test_every_way_of_writing_an_extension_links_the_main_line(raw: str) -> None:
    events = [
        ev("a", 0, "WEB", src="u-dana", phone=raw, name="Dana Whitfield"),
        ev("b", 1, phone="+1 215 867 0125", name="Dana Whitfield"),
    ]
    assert every_order(events) == {frozenset({"a", "b"})}


# ---------------------------------------------------------------------------------------------
# masked values and placeholders are junk: never a link, counted as junk


@pytest.mark.parametrize("raw", ["98XXXXXX10", "+91 98******10", "+91 98xxxxxx10", "98\u2026\u202610", "9999999999"])
def test_masked_and_placeholder_phones_are_junk(parser: IdentifierParser, raw: str) -> None:
    rejected = extracted(parser, phone=raw)
    assert len(rejected) == 1 and rejected[0].startswith("phone:junk:"), rejected


def test_a_row_of_zeros_is_refused(parser: IdentifierParser) -> None:
    """``0000000000`` is no number (`phonenumbers` refuses it): invalid, as the library reads it
    (``junk`` is kept for placeholders that parse, `resolver.phones`), and it never links."""
    rejected = extracted(parser, phone="0000000000")
    assert len(rejected) == 1 and rejected[0].startswith("phone:invalid:"), rejected


@pytest.mark.parametrize(
    "raw", ["j***@gmail.com", "j.....@x.com", "ja...@gmail.com", "j\u2026@gmail.com", "test@test.com", "na@na.com"]
)
def test_masked_and_placeholder_emails_are_junk(parser: IdentifierParser, raw: str) -> None:
    rejected = extracted(parser, email=raw)
    assert len(rejected) == 1 and rejected[0].startswith("email:junk:"), rejected


def test_strangers_behind_masks_and_placeholders_stay_apart() -> None:
    events = [
        ev("a", 0, "WEB", src="o-1", phone="98XXXXXX10", email="j.....@x.com", name="Jaya Rao"),
        ev("b", 1, "WEB", src="o-2", phone="98XXXXXX10", email="j.....@x.com", name="Joseph Das"),
        ev("c", 2, "WEB", src="o-3", phone="0000000000", email="na@na.com", name="Kiran Shah"),
        ev("d", 3, "WEB", src="o-4", phone="0000000000", email="test@test.com", name="Kiran Shah"),
    ]
    assert every_order(events) == {frozenset({e.event_id}) for e in events}


# ---------------------------------------------------------------------------------------------
# names written another way are one person


def test_surname_first_and_initials_keep_one_persons_phone_whole() -> None:
    phone = "98450 12345"
    events = [
        ev("k1", 0, phone=phone, name="RAO, Asha"),
        ev("k2", 1, phone=phone, email="asha.rao@gmail.com", name="A. Rao"),
        ev("k3", 2, phone=phone, email="asha@raodesigns.in", name="Asha Rao"),
        ev("w1", 3, "WHATSAPP", src="919845012345", name="Rao Asha"),
        ev("k4", 4, phone=phone, name="A. RAO"),
    ]
    assert every_order(events) == {frozenset(e.event_id for e in events)}


# ---------------------------------------------------------------------------------------------
# shared lines and family mailboxes


def test_a_business_line_given_by_five_colleagues_fuses_none_of_them() -> None:
    """A switchboard below the hub threshold, no email anywhere, each colleague seen twice."""
    line = "022 2345 6789"
    names = ["Suresh Iyer", "Meena Pillai", "Farhan Khan", "Joseph Thomas", "Priya Nair"]
    events = [
        ev(f"k{i}{j}", 2 * i + j, phone=line, src=f"KC-{i}{j}", name=n) for i, n in enumerate(names) for j in (0, 1)
    ]
    for part in partition(events):
        assert len({e[1] for e in part}) == 1, part  # never two colleagues in one customer


def test_a_business_line_does_not_fuse_colleagues_through_their_own_mobiles() -> None:
    line = "080 4123 4567"
    people = [("Suresh Iyer", "98450 11111"), ("Meena Pillai", "98860 22222"), ("Farhan Khan", "99000 33333"),
              ("Joseph Thomas", "97400 44444")]  # fmt: skip
    events = []
    for i, (name, mobile) in enumerate(people):
        events.append(ev(f"o{i}", i, phone=line, src=f"KC-{i}", name=name))
        events.append(ev(f"m{i}", 10 + i, phone=mobile, src=f"KC-{i}", name=name))
    parts = partition(events)
    for i in range(len(people)):
        assert frozenset({f"o{i}", f"m{i}"}) in parts, parts


def test_a_family_mailbox_with_different_phones_and_names_keeps_the_couple_apart() -> None:
    family = "mehta.family@gmail.com"
    events = [
        ev("p1", 0, "WEB", src="u-priya", phone="81433 38368", email=family, name="Priya Mehta"),
        ev("p2", 1, phone="81433 38368", name="Priya Mehta"),
        ev("r1", 2, "WEB", src="u-rahul", phone="86701 98282", email=family, name="Rahul Banerjee"),
        ev("r2", 3, "WHATSAPP", src="918670198282", name="Rahul Banerjee"),
    ]
    parts = every_order(events)
    assert frozenset({"p1", "p2"}) in parts and frozenset({"r1", "r2"}) in parts


def test_known_limit_a_family_mailbox_user_who_leaves_the_name_out_joins_the_first() -> None:
    """Known limit (issue 18, README): the behaviour is pinned so that a change to it is seen.

    Rahul gives the family mailbox once, without a name, with his own phone (named on his own
    chat); Yash's records name him on that mailbox. Only a name borrowed from the phone's other
    records could keep them apart. IRL does not borrow names from another identifier's records:
    tried for phones (a nameless record with an email taking the email's names), it moved seed
    2's precision from 0.9950 to 0.9954 and cost the confidence AUC on seed 3 (0.905 to 0.893)."""
    family = "rybanerjee.family@gmail.com"
    events = [
        ev("y1", 0, "WEB", src="u-yash", phone="63234 36080", email=family, name="Yash Rao"),
        ev("y2", 1, phone="63234 36080", name="Yash Rao"),
        ev("r1", 2, "WHATSAPP", src="918670198282", name="Rahul Banerjee"),
        ev("r2", 3, phone="86701 98282", email=family),
    ]
    parts = partition(events)
    # Today the mailbox joins Rahul's nameless record to Yash (and Rahul's phone and chat with it).
    joined = next(p for p in parts if "y1" in p)
    assert "r2" in joined, parts


# ---------------------------------------------------------------------------------------------
# fields as CRM and spreadsheet exports hold them


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("9845071623.0", "+919845071623"),  # a spreadsheet's decimal
        ("+919845071623.00", "+919845071623"),
        ("98450 71623 / 98450 71624", "+919845071623"),  # two numbers in one field: the first
        ("98450 71623, 98450 71624", "+919845071623"),
        ("+91 98450 71623 or 98450 71624", "+919845071623"),
        ("Mob: +91 98450 71623 (home)", "+919845071623"),
    ],
)
def test_exported_phone_fields_read_as_their_number(parser: IdentifierParser, raw: str, e164: str) -> None:
    extracted = parser.extract(ev("x", 0, "WEB", src="s", phone=raw))
    assert extracted.keys == ("p:" + e164, "t:WEB:s"), extracted


@pytest.mark.parametrize("raw", ["9.84507162E+09", "9.845071623e9", "9.84507E+09"])
def test_a_number_in_scientific_notation_is_junk(parser: IdentifierParser, raw: str) -> None:
    """Its digits run together would be another, valid number (9.84507162E9 is not +91 98450 71629)."""
    rejected = extracted(parser, phone=raw)
    assert len(rejected) == 1 and rejected[0].startswith("phone:junk:"), rejected


@pytest.mark.parametrize(
    "raw",
    [
        "Asha Rao <asha.rao@gmail.com>",
        '"Rao, Asha" <Asha.Rao@Gmail.com>',
        "<asha.rao@gmail.com>",
        "mailto:asha.rao@gmail.com;",
        "asha.rao@gmail.com, asha@raodesigns.in",
        "'asha.rao@gmail.com'",
        "asha.rao @ gmail.com",
        "asha.rao@gmail..com",
    ],
)
def test_exported_email_fields_read_as_their_address(parser: IdentifierParser, raw: str) -> None:
    extracted = parser.extract(ev("x", 0, "WEB", src="s", email=raw))
    assert extracted.keys == ("e:asharao@gmail.com", "t:WEB:s"), extracted


def test_spacing_inside_an_address_is_not_a_list() -> None:
    """``ravi kumar@gmail.com`` is a typo of someone's address, never ``kumar@gmail.com``."""
    rejected = extracted(IdentifierParser(ResolverConfig()), email="ravi kumar@gmail.com")
    assert rejected and rejected[0].startswith("email:invalid:")


@pytest.mark.parametrize(
    "written", ["Rao, Asha K.", "RAO, Asha Kumari", "Mrs. Rao, Asha", "Asha Rao (Mrs)", "Asha Rao, MD", "Asha Rao Jr."]
)
def test_names_as_crms_write_them_are_one_person(written: str) -> None:
    from resolver.names import name_key

    # A generation stays in the key (`resolver.generations`), and beside the name without one is that person.
    assert name_key(written) == ("asha_rao~jr" if written.endswith("Jr.") else "asha_rao")
    phone = "98450 12345"
    events = [
        ev("k1", 0, phone=phone, name="Asha Rao"),
        ev("k2", 1, phone=phone, email="asha.rao@gmail.com", name=written),
        ev("k3", 2, phone=phone, email="asha@raodesigns.in", name=written),
        ev("w1", 3, "WHATSAPP", src="919845012345", name="Asha Rao"),
    ]
    assert every_order(events) == {frozenset(e.event_id for e in events)}
