"""Real-world spellings of phones and emails normalise to one canonical form."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.config import EmailRule, ResolverConfig
from resolver.emails import EmailNormaliser
from resolver.identifiers import IdentifierParser
from resolver.interaction import Interaction
from resolver.junk import JunkRules
from resolver.phones import PhoneNormaliser, canonical_digits

RAVI = "+919845071623"
PHONES = [
    ("098450-71623", RAVI, "valid"),
    ("(+91) 9845071623", RAVI, "valid"),
    ("+91.98450.71623", RAVI, "valid"),
    (" 9845071623 ", RAVI, "valid"),
    ("0091 98450 71623", RAVI, "valid"),
    ("919845071623", RAVI, "valid"),
    ("+91 98450 71623", RAVI, "valid"),
    ("+91-98450-71623", RAVI, "valid"),
    ("98450 71623", RAVI, "valid"),
    ("98450-71623", RAVI, "valid"),
    ("(0) 98450 71623", RAVI, "valid"),
    ("+91 (984) 507-1623", RAVI, "valid"),
    ("91-9845071623", RAVI, "valid"),
    ("+91 9845 071 623", RAVI, "valid"),
    ("984.507.1623", RAVI, "valid"),
    ("tel:+919845071623", RAVI, "valid"),
    ("+1 (415) 555-2671", "+14155552671", "valid"),
    ("+1 415 555 2671", "+14155552671", "valid"),
    ("001 415 555 2671", "+14155552671", "valid"),
    ("+44 7911 123456", "+447911123456", "valid"),
    ("+44 (0) 7911 123456", "+447911123456", "valid"),
    ("0044 7911 123456", "+447911123456", "valid"),
    ("+971 50 284 6193", "+971502846193", "valid"),
    ("+971-50-2846193", "+971502846193", "valid"),
    ("022 2345 6789", "+912223456789", "valid"),
    ("+91 22 2345 6789", "+912223456789", "valid"),
    ("9999999999", "+919999999999", "junk"),
    ("1234567890", None, "junk_or_invalid"),
    ("12345", None, "invalid"),
    ("+91 12345", None, "invalid"),
    ("abc", None, "invalid"),
    ("+65 6284 6193", "+6562846193", "valid"),
]
GMAIL = "ravikumar@gmail.com"
EMAILS = [
    ("ravikumar@gmail.com", GMAIL, "valid"),
    ("Ravi.Kumar@gmail.com", GMAIL, "valid"),
    ("  RAVIKUMAR@GMAIL.COM ", GMAIL, "valid"),
    ("ravi.kumar+shop@gmail.com", GMAIL, "valid"),
    ("r.a.v.i.kumar@googlemail.com", GMAIL, "valid"),
    ("RaviKumar+a+b@GoogleMail.com", GMAIL, "valid"),
    ("ravi.kumar@yahoo.co.in", "ravi.kumar@yahoo.co.in", "valid"),
    ("Ravi.Kumar+x@Yahoo.co.in", "ravi.kumar+x@yahoo.co.in", "valid"),
    ("mailto:ravikumar@gmail.com", GMAIL, "valid"),
    ("ravi kumar@gmail.com", None, "invalid"),
    ("ravikumar@gmail", None, "invalid"),
    ("ravikumar.gmail.com", None, "invalid"),
    ("@gmail.com", None, "invalid"),
    ("test@test.com", None, "junk"),
    ("na@na.com", None, "junk"),
    ("noemail@gmail.com", None, "junk"),
    ("NoEmail123@yahoo.com", None, "junk"),
    ("abc@example.com", None, "junk"),
]


@pytest.fixture(scope="module")
def phones() -> PhoneNormaliser:
    return PhoneNormaliser("IN")


@pytest.mark.parametrize(("raw", "e164", "status"), PHONES)
def test_phone_spellings(phones: PhoneNormaliser, raw: str, e164: str | None, status: str) -> None:
    result = phones.normalise(raw)
    if status == "junk_or_invalid":
        assert result.status in ("junk", "invalid")
    else:
        assert result.status == status
    if e164 is not None:
        assert result.e164 == e164
    assert result.linkable == (status == "valid")


@pytest.mark.parametrize(("raw", "address", "status"), EMAILS)
def test_email_spellings(raw: str, address: str | None, status: str) -> None:
    result = EmailNormaliser(ResolverConfig().email_rules).normalise(raw)
    assert result.status == status
    if address is not None:
        assert result.address == address


def test_table_is_big_enough() -> None:
    assert len(PHONES) + len(EMAILS) >= 40


def test_whatsapp_source_id_is_the_phone() -> None:
    parser = IdentifierParser(ResolverConfig())
    event = Interaction("e1", "WHATSAPP", 1_700_000_000_000, "919845071623", "chat")
    assert parser.extract(event).keys == ("p:" + RAVI,)


@pytest.mark.parametrize(
    "wa_id", ["919845071623", "+919845071623", "whatsapp:+919845071623", "9845071623", "09845071623", "+91 98450 71623"]
)
def test_whatsapp_ids_as_providers_send_them_are_the_phone(wa_id: str) -> None:
    parser = IdentifierParser(ResolverConfig())
    event = Interaction("e1", "WHATSAPP", 1_700_000_000_000, wa_id, "chat")
    assert parser.extract(event).keys == ("p:" + RAVI,)


def test_a_whatsapp_id_valid_nowhere_links_nothing() -> None:
    parser = IdentifierParser(ResolverConfig())
    for wa_id in ("98450", "0000000000", "98450716231234"):
        assert parser.extract(Interaction("e1", "WHATSAPP", 1_700_000_000_000, wa_id, "chat")).keys == ()
    # A valid international number keeps its country, whatever the default region.
    uk = IdentifierParser(ResolverConfig(default_region="GB"))
    assert uk.extract(Interaction("e1", "WHATSAPP", 1_700_000_000_000, "919845071623", "chat")).keys == ("p:" + RAVI,)


def test_foreign_number_keeps_its_country_in_another_default_region() -> None:
    uk = PhoneNormaliser("GB")
    assert uk.normalise("07911 123456").e164 == "+447911123456"
    assert uk.normalise("+91 98450 71623").e164 == RAVI


def test_provider_rules_are_configuration() -> None:
    rules = (EmailRule("corp.example.in", ignore_dots=True),)
    normaliser = EmailNormaliser(rules, JunkRules())
    assert normaliser.normalise("a.b@corp.example.in").address == "ab@corp.example.in"
    assert normaliser.normalise("a.b@gmail.com").address == "a.b@gmail.com"


def test_configured_junk_values_and_patterns() -> None:
    junk = JunkRules(values=["store@shop.in"], patterns=[r"9111\d{6}", r".*@shop\.in"])
    phones = PhoneNormaliser("IN", junk)
    assert phones.normalise("91115 43210").status == "junk"
    assert EmailNormaliser((), junk).normalise("anyone@shop.in").status == "junk"
    assert EmailNormaliser((), junk).normalise("anyone@other.in").status == "valid"


def test_canonical_digits_folds_the_international_prefix() -> None:
    assert canonical_digits("0091 98450 71623") == "+919845071623"
    assert canonical_digits("(+91) 98450-71623") == "+919845071623"
    assert canonical_digits("098450 71623") == "098450 71623".replace(" ", "")


def library_reading(raw: str, region: str = "IN") -> tuple[bool, str | None, phonenumbers.PhoneNumber | None]:
    """How phonenumbers reads `raw`: (valid, E.164 or None, the parsed number or None): the oracle."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return False, None, None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.is_valid_number(number), e164, number


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789", min_size=10, max_size=10), st.sampled_from(["", "0", "+91", "0091", "91"]))
def test_fast_path_agrees_with_the_library(national: str, prefix: str) -> None:
    raw = prefix + national
    ours = PhoneNormaliser("IN", JunkRules()).normalise(raw)
    valid, e164, _ = library_reading(raw if not prefix.startswith("00") else "+" + raw[2:])
    assert (ours.status != "invalid") == valid
    if valid:
        assert ours.e164 == e164


_ARABIC_INDIC = "+91 9\u0668\u0664\u0665\u0660\u0667\u0661\u0666\u0662\u0663"
_DEVANAGARI = "\u096f\u096e\u096a\u096b\u0966\u096d\u0967\u096c\u0968\u0969"


@pytest.mark.parametrize("raw", [_ARABIC_INDIC, _DEVANAGARI, "+91 " + _DEVANAGARI])
def test_digits_of_other_scripts_give_ascii_e164(phones: PhoneNormaliser, raw: str) -> None:
    """Arabic-Indic and Devanagari digits read as the number, and the key is plain ASCII."""
    phone = phones.normalise(raw)
    assert phone.e164 == "+919845071623"
    assert phone.e164.isascii()
