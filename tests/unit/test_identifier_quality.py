"""Identifier quality on real-world spellings (issue 18): extensions, masked values, real providers.

The examples are written as people and systems write them (CRM exports, marketplace orders,
business cards), not as `irl generate` writes them. What each class must give:

* a number with an extension is its main line, valid and linkable; the extension's digits
  never join the number's (``+1-215-867-0125 x2291`` is ``+12158670125``, not
  ``+121586701252291``), as `phonenumbers` reads it;
* a masked or placeholder value (``98******10``, ``jam***@domain.com``, ``n/a``) is ``junk``:
  kept on the event with that status, never a key, so strangers who share a mask stay apart;
* ``mail.com`` and ``email.com`` are mail providers: their addresses link.
"""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.config import ResolverConfig
from resolver.emails import EmailNormaliser
from resolver.engine import Resolver
from resolver.identifiers import Extracted, IdentifierParser
from resolver.interaction import Interaction
from resolver.junk import JunkRules
from resolver.phones import PhoneNormaliser, canonical_digits, split_extension

from .test_normalise_spellings import library_reading

T0 = 1_700_000_000_000

# (as typed, E.164 of the main line, extension)
EXTENSIONS = [
    ("+1-215-867-0125 x2291", "+12158670125", "2291"),
    ("+1 (215) 867-0125 ext. 2291", "+12158670125", "2291"),
    ("215-555-0125x2291", "+912155550125", "2291"),  # no country code: the default region's (IN)
    ("+1 215 867 0125 Ext 2291", "+12158670125", "2291"),
    ("+1.215.867.0125 EXTENSION 2291", "+12158670125", "2291"),
    ("tel:+1-215-867-0125;ext=2291", "+12158670125", "2291"),
    ("022 2345 6789 extn 12", "+912223456789", "12"),
    ("+91 22 2345 6789 Extn. 12", "+912223456789", "12"),
    ("(022) 23456789 ext-12", "+912223456789", "12"),
    ("080-4123-4567 Ext: 305", "+918041234567", "305"),
    ("+91 80 4123 4567 (ext 305)", "+918041234567", "305"),
    ("+91-80-41234567,,305", "+918041234567", "305"),
    ("+44 20 7946 0958 #123", "+442079460958", "123"),
    ("+44 (0)20 7946 0958 x123", "+442079460958", "123"),
    ("+971 4 312 4567 ext 89", "+97143124567", "89"),
]
#: What follows the extension is dropped; `phonenumbers` refuses these whole ("too long").
TRAILING = [("+1 215-867-0125 x 2291 (front desk)", "+12158670125", "2291")]


@pytest.fixture(scope="module")
def phones() -> PhoneNormaliser:
    return PhoneNormaliser("IN")


@pytest.fixture(scope="module")
def parser() -> IdentifierParser:
    return IdentifierParser(ResolverConfig())


def ev(
    eid: str,
    tp: str = "WEB",
    src: str | None = None,
    *,
    phone: str | None = None,
    email: str | None = None,
    name: str | None = None,
) -> Interaction:
    return Interaction(eid, tp, T0, src or f"src-{eid}", "visit", phone=phone, email=email, name=name)


# ---------------------------------------------------------------------------------------------
# 1. Extensions


@pytest.mark.parametrize(("raw", "e164", "extension"), EXTENSIONS + TRAILING)
def test_a_number_with_an_extension_is_its_main_line(
    phones: PhoneNormaliser, raw: str, e164: str, extension: str
) -> None:
    phone = phones.normalise(raw)
    assert (phone.e164, phone.status) == (e164, "valid")
    assert split_extension(raw)[1] == extension
    assert extension not in canonical_digits(raw)[len(e164) - 1 :]  # the extension's digits are gone


@pytest.mark.parametrize(("raw", "e164", "extension"), EXTENSIONS)
def test_extensions_are_read_as_phonenumbers_reads_them(raw: str, e164: str, extension: str) -> None:
    """The library is the oracle: the same main line and the same extension."""
    number = phonenumbers.parse(raw, "IN")
    assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == e164
    assert number.extension == extension
    assert phonenumbers.is_valid_number(number)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="0123456789", min_size=10, max_size=10),
    st.sampled_from(["", "0", "+91 ", "0091 ", "+1 ", "+44 "]),
    st.sampled_from([" x", "x", " x ", " ext. ", " Ext ", " extn ", " EXTENSION ", " #", ";ext=", " ext: ", ",,"]),
    st.text(alphabet="0123456789", min_size=1, max_size=6),
)
def test_any_number_with_an_extension_reads_as_the_library_reads_it(
    national: str, prefix: str, marker: str, extension: str
) -> None:
    raw = prefix + national + marker + extension
    ours = PhoneNormaliser("IN", JunkRules()).normalise(raw)
    head, tail = split_extension(raw)
    assert (head.rstrip(), tail) == (prefix + national, extension)
    valid, e164, number = library_reading(raw)
    assert (ours.status != "invalid") == valid
    if valid:
        assert number is not None and ours.e164 == e164 and number.extension == extension


def test_the_extension_digits_are_never_glued_onto_the_number(parser: IdentifierParser) -> None:
    extracted = parser.extract(ev("a", phone="+1-215-867-0125 x2291"))
    assert extracted.keys == ("p:+12158670125", "t:WEB:src-a")
    assert extracted.rejected == ()
    assert all("121586701252291" not in key for key in extracted.keys)


@pytest.mark.parametrize(
    "raw",
    [
        "+91 98450 71623",
        "Ph# 98450 71623",  # a marker before any digit is a label, not an extension
        "Fax: 022 2345 6789",
        "Mobile: 98450 71623",
        "next 98450 71623",  # "ext" inside a word
        "98450 71623 (Alex)",
    ],
)
def test_labels_and_words_are_not_extensions(phones: PhoneNormaliser, raw: str) -> None:
    assert split_extension(raw)[1] == ""
    assert phones.normalise(raw).status == "valid"


def test_an_office_line_with_extensions_links_one_persons_records() -> None:
    """The main line stays linkable: the same person typing it with and without the extension is one."""
    r = Resolver()
    r.apply(ev("a", phone="+1-215-867-0125 x2291", email="dana.whitfield@whitfieldlaw.com", name="Dana Whitfield"))
    r.apply(ev("b", phone="+1 (215) 867-0125", name="Dana Whitfield"))
    r.apply(ev("c", tp="KIOSK", phone="215.867.0125 ext. 2291", email="dana.whitfield@whitfieldlaw.com"))
    assert r.customer_of_event("a") == r.customer_of_event("b")
    # Without +1 the kiosk's default region (IN) applies: another number, so not linked by phone,
    # but by the email it carries.
    assert r.customer_of_event("c") == r.customer_of_event("a")


# ---------------------------------------------------------------------------------------------
# 2. Masked and placeholder values


MASKED_PHONES = [
    "98******10",
    "+91 98XXXXXX10",
    "9876xxxx10",
    "**********",
    "XXXXXX3210",
    "+91-98****3210",
    "98450 7••••",
    "(***) ***-0125",
    "98######10",
    "n/a",
    "N.A.",
    "none",
    "Not provided",
]
MASKED_EMAILS = [
    "jam***@domain.com",
    "jam***@domain",  # as a CRM export cuts it
    "j***@gmail.com",
    "ra****ar@yahoo.co.in",
    "r*****r@g****.com",
    "****@gmail.com",
    "xxxx@xxxx.com",
    "ravi@xxxx.com",
    "jxxxxxx@gmail.com",
    "n/a",
    "N/A",
    "none",
    "-",
    "Not Provided",
    "noemail@gmail.com",
    "NoEmail@company.in",
    "no.email@yahoo.com",
]


@pytest.mark.parametrize("raw", MASKED_PHONES)
def test_a_masked_or_placeholder_phone_is_junk(phones: PhoneNormaliser, parser: IdentifierParser, raw: str) -> None:
    assert phones.normalise(raw).status == "junk"
    extracted = parser.extract(ev("a", phone=raw))
    assert extracted.keys == ("t:WEB:src-a",)
    assert len(extracted.rejected) == 1 and extracted.rejected[0].startswith("phone:junk:")


@pytest.mark.parametrize("raw", MASKED_EMAILS)
def test_a_masked_or_placeholder_email_is_junk(parser: IdentifierParser, raw: str) -> None:
    assert EmailNormaliser(ResolverConfig().email_rules).normalise(raw).status == "junk"
    extracted = parser.extract(ev("a", email=raw))
    assert extracted.keys == ("t:WEB:src-a",)
    assert len(extracted.rejected) == 1 and extracted.rejected[0].startswith("email:junk:")


def test_a_mask_is_not_read_as_keypad_letters(phones: PhoneNormaliser) -> None:
    """`phonenumbers` reads X as the keypad's 9 (``+91 98XXXXXX10`` -> +919899999, ext 10): we do not."""
    library = phonenumbers.parse("+91 98XXXXXX10", "IN")
    assert library.extension == "10"
    assert phones.normalise("+91 98XXXXXX10").status == "junk"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("+1-215-867-0125 x2291", "valid"),  # one x: an extension, not a mask
        ("abc", "invalid"),  # not a placeholder word: just not a number
        ("12345", "invalid"),
    ],
)
def test_what_is_not_a_mask(phones: PhoneNormaliser, raw: str, status: str) -> None:
    assert phones.normalise(raw).status == status


@pytest.mark.parametrize(
    "raw",
    ["alex.rex@gmail.com", "maxx.payne@outlook.com", "xavier@icloud.com", "lee@qq.com", "ravi@mail.com"],
)
def test_real_addresses_with_x_or_short_domains_are_valid(raw: str) -> None:
    assert EmailNormaliser(ResolverConfig().email_rules).normalise(raw).status == "valid"


def test_strangers_behind_one_masked_email_stay_apart() -> None:
    """A marketplace shows ``rav***@gmail.com`` for every Ravi: it is nobody's mailbox."""
    r = Resolver()
    r.apply(ev("a", email="rav***@gmail.com", name="Ravi Kumar", src="ord-1"))
    r.apply(ev("b", email="rav***@gmail.com", name="Ravindra Rao", src="ord-2"))
    r.apply(ev("c", email="RAV***@GMAIL.COM", name="Ravi Shankar", src="ord-3"))
    assert len({r.customer_of_event(e) for e in "abc"}) == 3
    assert r.lookup("rav***@gmail.com", "email").status == "junk"


def test_strangers_behind_one_masked_phone_stay_apart_and_the_reason_is_explained() -> None:
    r = Resolver()
    r.apply(ev("a", phone="98******10", name="Asha Rao", src="ord-1"))
    r.apply(ev("b", phone="98******10", name="Imran Khan", src="ord-2"))
    assert r.customer_of_event("a") != r.customer_of_event("b")
    edges = r.explain(r.customer_of_event("a") or "").to_dict()["edges"]
    assert any(e["rule"] == "rejected" and e["reason"] == "phone junk" for e in edges)


def test_a_masked_value_beside_a_real_one_does_not_stop_the_real_one_linking() -> None:
    r = Resolver()
    r.apply(ev("a", phone="+91 98450 71623", email="j***@gmail.com", name="Jaya Nair"))
    r.apply(ev("b", phone="098450-71623", name="Jaya Nair"))
    assert r.customer_of_event("a") == r.customer_of_event("b")


def test_junk_rules_judge_the_typed_text() -> None:
    junk = JunkRules()
    assert junk.phone_text("98******10") and junk.phone_text("n/a") and junk.phone_text("...")
    assert not junk.phone_text("+1-215-867-0125 x2291") and not junk.phone_text("tel:+919845071623")
    assert junk.email_text("jam***@domain.com") and junk.email_text("n/a")
    assert not junk.email_text("ravi") and not junk.email_text("ravi@gmail.com")


# ---------------------------------------------------------------------------------------------
# 3. Real providers


@pytest.mark.parametrize("domain", ["mail.com", "email.com"])
def test_mail_com_and_email_com_are_mail_providers(domain: str) -> None:
    address = f"sarah.connolly@{domain}"
    assert EmailNormaliser(ResolverConfig().email_rules).normalise(address).status == "valid"
    r = Resolver()
    r.apply(ev("a", email=address, name="Sarah Connolly"))
    r.apply(ev("b", tp="KIOSK", email=address.upper(), name="S. Connolly"))
    assert r.customer_of_event("a") == r.customer_of_event("b")


@pytest.mark.parametrize("address", ["email@email.com", "mail@mail.com", "test@mail.com", "noemail@email.com"])
def test_placeholders_at_those_providers_are_still_junk(address: str) -> None:
    assert EmailNormaliser(ResolverConfig().email_rules).normalise(address).status == "junk"


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("Asha.Rao+shop@Outlook.com", "asha.rao@outlook.com"),  # dots kept: Outlook does not ignore them
        ("a.rao+x@hotmail.com", "a.rao@hotmail.com"),
        ("a.rao+orders@icloud.com", "a.rao@icloud.com"),
        ("a.rao+x@proton.me", "a.rao@proton.me"),
        ("a.rao+x@gmail.com", "arao@gmail.com"),
        ("a.rao+x@yahoo.com", "a.rao+x@yahoo.com"),  # Yahoo tags with "-", a plus is part of the name
        ("a.rao+x@company.in", "a.rao+x@company.in"),  # an unknown domain may route a plus anywhere
    ],
)
def test_plus_tags_are_dropped_where_the_provider_ignores_them(typed: str, read: str) -> None:
    normaliser = EmailNormaliser(ResolverConfig().email_rules)
    assert normaliser.normalise(typed).address == read
    assert normaliser.normalise(typed).status == "valid"


def test_outlook_and_hotmail_are_two_mailbox_spaces() -> None:
    normaliser = EmailNormaliser(ResolverConfig().email_rules)
    assert normaliser.normalise("asha@outlook.com").address != normaliser.normalise("asha@hotmail.com").address


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["WEB", "WHATSAPP", "KIOSK", "CRM"]),
    st.one_of(st.sampled_from(["919845071623", "cookie-1", " n/a ", "", "98******10"]), st.text(max_size=12)),
    st.one_of(st.none(), st.sampled_from(["+91 98450 71623", "98450-71623", "n/a"]), st.text(max_size=14)),
    st.one_of(st.none(), st.sampled_from(["John.Smith+x@GoogleMail.com", "jam***@domain.com"]), st.text(max_size=14)),
)
def test_extracted_built_in_c_is_the_named_tuple(
    touchpoint: str, source: str, phone: str | None, email: str | None
) -> None:
    """`extract_fields` builds its `Extracted` with `tuple.__new__` (no Python-level `__new__`): the
    same named tuple, field for field, as the plain constructor, and a memo hit answers as a miss."""
    parser = IdentifierParser(ResolverConfig())
    first = parser.extract_fields(touchpoint, source, phone, email)
    again = parser.extract_fields(touchpoint, source, phone, email)
    fresh = IdentifierParser(ResolverConfig()).extract(Interaction("e", touchpoint, T0, source, "visit", phone, email))
    assert type(first) is Extracted and type(fresh) is Extracted
    assert first == Extracted(keys=first.keys, rejected=first.rejected) == again == fresh
    assert (first.keys, first.rejected) == (first[0], first[1])
    assert all(type(part) is tuple for part in first)
