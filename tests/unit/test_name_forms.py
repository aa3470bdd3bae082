"""Forms of one name that must never read as two people (South Asian usage).

A name group written as a full name is solid at once (two people who each gave one phone
once under their full names are two people), so a full name read as someone else's would
split a customer's phone: honorifics after a name (``Sharma ji``, ``Rohit bhai``, ``Priya
Madam``), the spellings of Mohammed before a given name (``Md. Imran Khan``) and one name in
two romanisations (``Lakshmi`` / ``Laxmi``, ``Pooja`` / ``Puja``) are read as the person's name.
"""

from __future__ import annotations

import itertools

import pytest

from resolver.display_name import display_name
from resolver.interaction import Interaction
from resolver.names import name_key, same_person
from resolver.resolver import Resolver

T0 = 1_733_000_000_000


@pytest.mark.parametrize(
    ("written", "known"),
    [
        ("Sharma ji", "Rohit Sharma"),
        ("Rohit bhai", "Rohit Sharma"),
        ("Priya Madam", "Priya Sharma"),
        ("Rao Garu", "Venkat Rao"),
        ("Md. Imran Khan", "Imran Khan"),
        ("Mohd Imran Khan", "Mohammad Imran Khan"),
        ("Khan, Md Imran", "Imran Khan"),
        ("Mohd Salim", "Mohammed Salim"),
        ("Muhammad Ali", "Mohamed Ali"),
        ("Laxmi Iyer", "Lakshmi Iyer"),
        ("Puja Chaudhary", "Pooja Choudhary"),
        ("Dipak Shah", "Deepak Shah"),
        ("Sanjai Kumar", "Sanjay Kumar"),
        ("Sidharth Rao", "Siddharth Rao"),
        ("Shrinivas Reddy", "Srinivas Reddy"),
        ("Sima Verma", "Seema Verma"),
        ("K. S. Ramesh", "Ramesh K S"),
        ("R. Karthik", "Karthik R."),
        ("Sh. Arun Murthy", "Arun Murthy"),  # Sh. is Shri (North India): audit 4, 110 split events
        ("Sh Anand Raman", "Anand Raman"),
        ("Murthy, Sh. Arun", "Arun Murthy"),
        ("Km. Asha Rao", "Asha Rao"),
        ("Er. Vikram Saxena", "Vikram Saxena"),
        ("Md. Imran", "Mohammed Imran Khan"),  # Mohammed and the call name, no surname (audit 4)
        ("Mohd Salim", "Mohammed Salim Ansari"),
        ("Mohd Zubair", "Zubair Shaikh"),
        ("Iqbal Muhammad", "Muhammad Iqbal"),  # swapped without a comma
        ("Iqbal Mohd.", "IQBAL, MUHAMMAD"),
    ],
)
def test_one_person_written_two_ways(written: str, known: str) -> None:
    a, b = name_key(written), name_key(known)
    assert a is not None and b is not None
    assert same_person(a, b), (a, b)


def test_forms_that_stay_apart() -> None:
    pairs = [
        ("Mohd Salim", "Mohd Imran"),
        ("Sharma ji", "Verma ji"),
        ("Anna Thomas", "Ravi Thomas"),
        ("Priya Shah", "Pooja Shah"),
        ("Anil Rao", "Sunil Rao"),
        ("Mohammed Imran", "Mohammed Salim"),
        ("Md. Imran", "Md. Arif"),
        ("Mohd Khan", "Salman Khan"),  # Mohammed Khan: the surname, not the call name, is shared
        ("Md. Imran", "Salim Imran"),
    ]
    for a, b in pairs:
        ka, kb = name_key(a), name_key(b)
        assert ka is not None and kb is not None
        assert not same_person(ka, kb), (a, b)


def test_an_honorific_at_the_kiosk_does_not_split_a_customers_phone() -> None:
    events = [
        Interaction("w1", "WEB", T0, "u-imran", "order", phone="98112 00007", name="Mohammad Imran Khan"),
        Interaction("k1", "KIOSK", T0 + 60_000, "KV-1", "visit", phone="98112 00007", name="Md. Imran Khan"),
        Interaction("k2", "KIOSK", T0 + 120_000, "KV-2", "visit", phone="98112 00007", name="Imran bhai"),
        Interaction("k3", "KIOSK", T0 + 180_000, "KV-3", "visit", phone="98112 00007", name="Khan Sahab"),
    ]
    for order in itertools.permutations(events):
        r = Resolver()
        for e in order:
            r.apply(e)
        assert len({r.customer_of_event(e.event_id) for e in events}) == 1, [e.name for e in order]


def test_initials_after_a_given_name_are_not_a_surname_to_split_a_phone_on() -> None:
    # South Indian names: initials (father's name, village) beside the given name, in either order.
    events = [
        Interaction("w1", "WEB", T0, "u-ramesh", "order", phone="98112 00009", name="Ramesh K S"),
        Interaction("k1", "KIOSK", T0 + 60_000, "KV-1", "visit", phone="98112 00009", name="K. S. Ramesh"),
        Interaction("k2", "KIOSK", T0 + 120_000, "KV-2", "visit", phone="98112 00009", name="K.S. Ramesh"),
    ]
    for order in itertools.permutations(events):
        r = Resolver()
        for e in order:
            r.apply(e)
        assert len({r.customer_of_event(e.event_id) for e in events}) == 1


@pytest.mark.parametrize(
    ("typed", "key", "shown"),
    [
        ("Sh. Arun Murthy", "arun_murthy", "Arun Murthy"),
        ("Sh Arun Murthy", "arun_murthy", "Arun Murthy"),
        ("SH ARUN MURTHY", "sh_arun_murthy", "SH Arun Murthy"),  # initials S. H., in capitals
        ("S.H. Arun", "s_arun", "S.H. Arun"),
        ("ER RAO", "er_rao", "ER Rao"),
        ("Er. Rao", "rao", "Rao"),
    ],
)
def test_a_title_is_read_alike_for_matching_and_display(typed: str, key: str, shown: str) -> None:
    # One rule (`resolver.names.is_title`): what the display drops as a title, the matcher skips.
    assert name_key(typed) == key
    assert display_name(typed) == shown


def test_sh_before_a_name_does_not_split_a_customers_phone() -> None:
    events = [
        Interaction("w1", "WEB", T0, "u-arun", "order", phone="98112 00011", email="arun.m@example.in",
                    name="Arun Murthy"),
        Interaction("c1", "CRM", T0 + 60_000, "crm-1", "visit", phone="98112 00011", email="arun.m@example.in",
                    name="Sh. Arun Murthy"),
    ]  # fmt: skip
    for order in itertools.permutations(events):
        r = Resolver()
        for e in order:
            r.apply(e)
        assert len({r.customer_of_event(e.event_id) for e in events}) == 1
