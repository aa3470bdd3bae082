"""s35 audit C1 and C2: phones and emails as real forms and exports carry them.

An iPhone wraps a number copied from Contacts in U+202A ... U+202C; chat exports use isolates
and marks; a web page's copy brings a zero-width space or a BOM; a spreadsheet cell ends in a
tab; an input method writes full-width letters and digits (U+FF01 ... U+FF5E); a
domain is written in Unicode (``müller.de``) or in its ASCII form. Each was dead-lettered whole
(C1) or read as invalid or junk and never linked (C2). Each is now one person with the plain
spelling, in the worker's consumer, in replay's reader and in the core; what still reorders
text (U+202E) or is a control stays refused.
"""

from __future__ import annotations

import dataclasses

import pytest

from resolver.config import ResolverConfig
from resolver.emails import EmailNormaliser
from resolver.identifiers import IdentifierParser
from resolver.interaction import Interaction, InvalidInteraction, Limits, from_json, plain_fields, validate
from resolver.phones import PhoneNormaliser
from resolver.resolver import Resolver
from resolver.typed_text import shown
from streams.codec import encode_interaction
from streams.deadletter import classify

NOW = 1_764_410_400_000


def wide(text: str) -> str:
    """`text` as an East Asian input method writes it: full-width letters, digits and signs."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else "\u3000" if ch == " " else ch for ch in text)


GOOD = Interaction(
    "ev-1", "WEB", NOW, "u-1", "signup", phone="+91 98450 71623", email="asha.rao@acme.in", name="Asha Rao"
)

#: (field, value as pasted): each reads as GOOD's value.
PASTED = [
    ("phone", "\u202a+91 98450 71623\u202c"),  # iOS: a number copied from Contacts
    ("phone", "\u200e+91 98450 71623"),  # a left-to-right mark
    ("phone", "\u2066+91 98450 71623\u2069"),  # isolates (Android, chat exports)
    ("phone", "+91 98450 71623\t"),  # a spreadsheet cell
    ("phone", wide("+91 98450 71623")),  # an East Asian input method
    ("email", "asha.rao@acme.in\t"),
    ("email", "asha.rao@acme.in\r\n"),
    ("email", "asha\u200b.rao@acme.in"),  # a zero-width space from a web page
    ("email", "\ufeffasha.rao@acme.in"),  # a byte-order mark
    ("email", "\u202aasha.rao@acme.in\u202c"),
    ("email", wide("asha.rao@acme.in")),
]


@pytest.mark.parametrize(("field", "value"), PASTED)
def test_an_event_with_a_pasted_phone_or_email_is_taken_everywhere(field: str, value: str) -> None:
    event = dataclasses.replace(GOOD, **{field: value})  # type: ignore[arg-type]
    assert validate(event) == []
    taken = classify(encode_interaction(event, "irl.touchpoint.web"), Limits(now_ms=NOW))
    assert isinstance(taken, Interaction) and getattr(taken, field) == value  # the worker's consumer: as sent
    obj = {**event.to_record(), "occurred_at": NOW}
    assert getattr(from_json(obj), field) == value  # replay's reader
    fields = plain_fields(obj)
    assert fields is None or fields[4:6] == (event.phone, event.email)  # its fast path defers or agrees


@pytest.mark.parametrize(("field", "value"), PASTED)
def test_a_pasted_phone_or_email_is_the_same_identifier(field: str, value: str) -> None:
    parser = IdentifierParser(ResolverConfig())
    plain = parser.extract(GOOD)
    pasted = parser.extract(dataclasses.replace(GOOD, **{field: value}))  # type: ignore[arg-type]
    assert pasted == plain and not pasted.rejected


@pytest.mark.parametrize(("field", "value"), PASTED)
def test_one_person_however_the_phone_or_email_was_pasted(field: str, value: str) -> None:
    """A kiosk record with the pasted spelling and a web record with the plain one: one customer."""
    other = "phone" if field == "email" else "email"
    web = dataclasses.replace(GOOD, **{other: None})  # type: ignore[arg-type]
    kiosk = Interaction("ev-2", "KIOSK", NOW + 1, "k-1", "visit", name="Asha Rao", **{field: value})  # type: ignore[arg-type]
    r = Resolver()
    r.apply(web)
    r.apply(kiosk)
    assert r.customer_of_event("ev-1") == r.customer_of_event("ev-2") is not None


@pytest.mark.parametrize("char", ["\u202e", "\u202d", "\x07", "\x1b", "\x7f", "\x85", "\u2028"])
@pytest.mark.parametrize("field", ["phone", "email"])
def test_what_reorders_text_or_is_a_control_is_still_refused(field: str, char: str) -> None:
    event = dataclasses.replace(GOOD, **{field: "98450" + char + "71623"})  # type: ignore[arg-type]
    assert validate(event) == [f"{field}: contains a control or bidirectional formatting character (U+{ord(char):04X})"]
    with pytest.raises(InvalidInteraction):
        from_json({**event.to_record(), "occurred_at": NOW})


def test_a_unicode_domain_is_its_ascii_form() -> None:
    emails = EmailNormaliser()
    assert emails.normalise("jurgen@müller.de") == ("jurgen@xn--mller-kva.de", "valid")
    assert emails.normalise("JURGEN@MÜLLER.DE") == emails.normalise("jurgen@xn--mller-kva.de")
    # IDNA 2003 and 2008 differ on ß, ς, ZWJ and ZWNJ: not converted, so not linked, never guessed.
    assert emails.normalise("anna@straße.de").status == "invalid"
    # A local part that is not ASCII (RFC 6531) stays unlinked, as before.
    assert emails.normalise("josé@acme.in").status == "invalid"


def test_nothing_invisible_is_kept_of_a_value_that_does_not_link() -> None:
    """Rejected values are explained on the explain page: none keeps a character no one sees."""
    parser = IdentifierParser(ResolverConfig())
    event = dataclasses.replace(GOOD, phone="\u202a98******10\u202c", email="\u200bnot-an-email\u2066")
    rejected = parser.extract(event).rejected
    assert rejected == ("phone:junk:98******10", "email:invalid:not-an-email")
    assert PhoneNormaliser("IN").normalise("\u200e98XXXXXX10") == ("98XXXXXX10", "junk")


def test_shown_leaves_ascii_alone_and_keeps_other_scripts() -> None:
    text = "asha@acme.in"
    assert shown(text) is text
    assert shown("९८४५० ٩٨٤٥٠") == "९८४५० ٩٨٤٥٠"  # digits of other scripts are kept (the phone library reads them)
    assert shown(wide("a") + "\u200b" + wide("b") + "\ufeff" + wide(" 1")) == "ab 1"
    assert shown("98……10") == "98……10"  # a mask stays a mask (not NFKC's dots)


#: C1b: names as right-to-left writers and their apps write them beside other text.
MARKED_NAMES = ["\u200fLayla Hassan\u200f", "Layla\u200e Hassan", "\u061cLayla Hassan", "Lay\u200fla Hassan"]


@pytest.mark.parametrize("name", MARKED_NAMES)
def test_a_name_with_direction_marks_is_taken_and_is_the_same_person(name: str) -> None:
    event = dataclasses.replace(GOOD, name=name, email=None)
    assert validate(event) == []
    taken = classify(encode_interaction(event, "irl.touchpoint.whatsapp"), Limits(now_ms=NOW))
    assert isinstance(taken, Interaction) and taken.name == name
    assert from_json({**event.to_record(), "occurred_at": NOW}).name == name
    r = Resolver()
    r.apply(dataclasses.replace(GOOD, email=None, name="Layla Hassan"))
    r.apply(dataclasses.replace(event, event_id="ev-2", touchpoint="KIOSK", source_id="k-1"))
    customer = r.customer_of_event("ev-2")
    assert customer is not None and customer == r.customer_of_event("ev-1")
    profile = r.profile(customer)
    assert profile is not None and profile.name == "Layla Hassan"  # the CRM never gets a mark


@pytest.mark.parametrize("char", ["\u202e", "\u202b", "\u2067", "\x1b"])
def test_a_name_still_refuses_what_reorders_letters(char: str) -> None:
    event = dataclasses.replace(GOOD, name="Asha " + char + "Rao")
    assert validate(event) == [f"name: contains a control or bidirectional formatting character (U+{ord(char):04X})"]
