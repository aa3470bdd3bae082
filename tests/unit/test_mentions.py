"""The dead-letter purge's decision: does a record mention an erased person (streams.mentions)."""

from __future__ import annotations

import pytest

from streams.mentions import ErasedPerson, mentions

PERSON = ErasedPerson.from_identifiers(
    ["phone:+919845071623", "email:late@example.org", "tp:WEB:u-3", "tp:WHATSAPP:447911123456"]
)


@pytest.mark.parametrize(
    "text",
    [
        '{"phone": "+91 98450 71623"}',
        '{"phone": "09845071623"}',
        '{"phone": "0091-98450-71623"}',
        '{"phone": "(984) 507-1623"}',
        "9845071623",
        '{"email": "Late@Example.ORG"}',
        "u-3",
        '{"source_id": "u-3", "x": 1}',
        "wa 44 7911 123456",
        "\x06u-3\x12page_view",
    ],
)
def test_any_written_form_of_the_persons_identifiers_matches(text: str) -> None:
    assert mentions(PERSON, [text.encode()])


@pytest.mark.parametrize(
    "text",
    [
        '{"phone": "+91 98450 71624"}',  # another number
        "19845071623999",  # inside a longer number
        "u-30",  # a longer source id
        "xu-3",
        "late@example.org.in2",  # still mentions the address: see below
        "",
    ],
)
def test_other_people_do_not_match(text: str) -> None:
    if "late@example.org" in text:
        assert mentions(PERSON, [text.encode()])  # an address inside a longer one is still the address
        return
    assert not mentions(PERSON, [text.encode()])


def test_key_headers_and_none_are_searched_too() -> None:
    assert mentions(PERSON, [None, b"", b"\xff\xfe", "447911123456"])
    assert not mentions(PERSON, [None, b"\xff\xfe", b"someone else"])


def test_an_empty_person_matches_nothing() -> None:
    nobody = ErasedPerson.from_identifiers([])
    assert not nobody and not mentions(nobody, [b"9845071623 late@example.org u-3"])


def test_a_phone_that_does_not_parse_still_matches_on_its_digits() -> None:
    person = ErasedPerson.from_identifiers(["phone:+0001234567"])
    assert mentions(person, [b"call 0001234567"])


def test_another_spelling_of_the_same_mailbox_matches() -> None:
    person = ErasedPerson.from_identifiers(["email:meeraiyer@gmail.com"])
    assert mentions(person, [b'{"email": "Meera.Iyer+shop@GoogleMail.com"}'])
    assert mentions(person, [b"write to meera.iyer@gmial.com today"])  # a typed domain slip
    assert not mentions(person, [b"meera.iyer2@gmail.com"])
