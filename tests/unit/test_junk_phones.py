"""Valid numbers that are no one's: patterned placeholders and services' lines never link.

An audit with realistic Indian data found ``9876543210`` (the fake mobile most typed in India),
given by two web users with different emails, fusing them into one customer; so did
``9123456789``, ``9898989898``, ``9988776655`` and toll-free ``1800`` numbers. The rule
(`resolver.junk.JunkRules.phone`, `resolver.junk.patterned_phone`) is tested here against
the audit's numbers, realistic non-cases, a plain reference implementation, random valid
mobiles and the library's number types; with the two readings of digits that were dropped
(international digits without ``+``, two numbers separated by spaces).
"""

from __future__ import annotations

import csv
import json
import random
import re
from pathlib import Path

import phonenumbers
import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from resolver.config import ResolverConfig
from resolver.identifiers import IdentifierParser
from resolver.interaction import Interaction
from resolver.junk import JunkRules, patterned_phone
from resolver.phones import PhoneNormaliser
from resolver.resolver import Resolver
from streams.commands.replay import command

T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def phones() -> PhoneNormaliser:
    return PhoneNormaliser("IN")


# the audit's fake numbers, and what was junk already


@pytest.mark.parametrize(
    "raw",
    [
        "9876543210",  # the most typed fake mobile
        "+91 98765 43210",
        "098765-43210",
        "919876543210",
        "9123456789",  # a leading 9, then a run
        "9898989898",  # two digits repeated
        "9090909090",
        "9988776655",  # pairs, the pairs a run
        "9012345678",  # a run wrapping 9 to 0
        "8765432109",
        "9999988888",  # two runs of one digit
        "9999900000",
        "9800000000",  # one digit seven times in a row
        "9811111111",
        "1234567890",  # junk already
        "9999999999",
        "9000000000",
        "9999999990",
        "1212121212",
        "1231231231",
        "9876598765",  # halves: listed values
        "1234512345",
        "080 1234 5678",  # a landline's digits after its area code's first digit, a run
    ],
)
def test_patterned_numbers_are_junk(phones: PhoneNormaliser, raw: str) -> None:
    assert phones.normalise(raw).status == "junk", raw


def test_short_numbers_are_judged_on_a_run_or_one_digit_only() -> None:
    assert patterned_phone("7777777") and patterned_phone("12345") and patterned_phone("55555")
    assert not patterned_phone("12344") and not patterned_phone("121212") and not patterned_phone("112233")


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("1800-266-1234", "+9118002661234"),  # toll-free, as the library reads India's 1800 numbers
        ("1800 22 1234", "+911800221234"),  # a shorter toll-free number: valid too, toll-free
        ("18001801551", "+9118001801551"),
        ("+91 1800 180 1551", "+9118001801551"),
        ("1860 500 1234", "+9118605001234"),  # shared cost
        ("140 1234567", "+911401234567"),  # universal access
        ("+1 800 225 5288", "+18002255288"),  # a US toll-free number
        ("+44 800 028 4793", "+448000284793"),
    ],
)
def test_services_numbers_are_junk(phones: PhoneNormaliser, raw: str, e164: str) -> None:
    """A toll-free, shared-cost or universal-access line is a company's, typed by those who will not give theirs."""
    assert phones.normalise(raw) == (e164, "junk")


@pytest.mark.parametrize(
    "raw",
    [
        "9845071623",
        "+91 97318 62045",
        "98862 71453",
        "9845012345",  # a run of five at the end: real numbers have them
        "9876500000",  # five zeros after a run of five: three runs
        "9888888123",  # one digit six times in a row
        "9845098450",  # halves repeated: not a placeholder unless listed
        "9811122233",
        "022 2345 6789",  # a landline with a run inside
        "+44 7911 123456",
        "+1 415 555 2671",
    ],
)
def test_numbers_with_some_pattern_inside_are_real(phones: PhoneNormaliser, raw: str) -> None:
    assert phones.normalise(raw).status == "valid", raw


def test_random_valid_indian_mobiles_are_almost_never_junk(phones: PhoneNormaliser) -> None:
    """The rule's false positives: about 4 in a million valid mobiles (README); none in 20,000 drawn."""
    rng = random.Random(29)
    drawn = junk = 0
    while drawn < 20_000:
        phone = phones.normalise(str(rng.randint(6, 9)) + "".join(rng.choice("0123456789") for _ in range(9)))
        if phone.status != "invalid":
            drawn += 1
            junk += phone.status == "junk"
    assert junk == 0


# the rule against a plain reference


_ASC, _DESC = "0123456789" * 3, "9876543210" * 3


def _reference(digits: str) -> bool:
    """`patterned_phone` written plainly, rule by rule, as its docstring states it."""

    def run(text: str) -> bool:
        return text in _ASC or text in _DESC

    if len(digits) < 7:
        return run(digits) or len(set(digits)) <= 1
    if run(digits) or run(digits[1:]) or run(digits[:-1]):
        return True
    if any(all(digits[i] == digits[i - k] for i in range(k, len(digits))) for k in (1, 2, 3)):
        return True
    if len(digits) % 2 == 0 and digits[::2] == digits[1::2] and run(digits[::2]):
        return True
    runs = [m.group(0) for m in re.finditer(r"(\d)\1*", digits)]
    return len(runs) <= 2 or max(map(len, runs)) >= 7


_digit = st.sampled_from("0123456789")


@st.composite
def _structured(draw: st.DrawFn) -> str:
    """Digits near each pattern (a run, a repeated block, a long run of one digit) and plain ones."""
    size = draw(st.integers(5, 17))
    kind = draw(st.integers(0, 3))
    if kind == 0:
        start = draw(st.integers(0, 29 - size))
        digits = draw(st.sampled_from([_ASC, _DESC]))[start : start + size]
    elif kind == 1:
        block = draw(st.text(_digit, min_size=1, max_size=4))
        digits = (block * size)[:size]
    elif kind == 2:
        fill = draw(st.integers(0, size))
        head = draw(st.integers(0, size - fill))
        digits = draw(st.text(_digit, min_size=head, max_size=head)) + draw(_digit) * fill
        digits += draw(st.text(_digit, min_size=size - len(digits), max_size=size - len(digits)))
    else:
        digits = draw(st.text(_digit, min_size=size, max_size=size))
    if draw(st.booleans()):  # one digit changed: just off the pattern, or still on it
        at = draw(st.integers(0, size - 1))
        digits = digits[:at] + draw(_digit) + digits[at + 1 :]
    return digits


@settings(max_examples=2000, deadline=None)
@given(_structured())
def test_patterned_phone_agrees_with_the_plain_reference(digits: str) -> None:
    assert patterned_phone(digits) == _reference(digits), digits


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["1800", "1800", "1860", "140", "1861", "180", "18", "22", "80"]),
    st.text(alphabet="0123456789", min_size=5, max_size=9),
)
def test_a_service_number_is_junk_exactly_when_the_library_says_service(prefix: str, rest: str) -> None:
    """The fast path defers to the library where a service's pattern matches: the type is the library's."""
    raw = prefix + rest
    ours = PhoneNormaliser("IN").normalise(raw)
    try:
        number = phonenumbers.parse(raw, "IN")
    except phonenumbers.NumberParseException:
        return
    if not phonenumbers.is_valid_number(number):
        return  # (it may still be read otherwise: digits with "+" in front)
    service = phonenumbers.number_type(number) in {
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.UAN,
    }
    assert ours.e164 == phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    assert (ours.status == "junk") == (service or patterned_phone(str(number.national_number))), raw


def test_configured_junk_still_applies_beside_the_rule() -> None:
    junk = JunkRules(values=["9845071623"])
    assert PhoneNormaliser("IN", junk).normalise("98450 71623").status == "junk"
    assert PhoneNormaliser("IN").normalise("98450 71623").status == "valid"


# how a junk phone shows: on the event, rejected with its reason; never a key


def test_a_patterned_phone_is_kept_on_the_event_as_rejected_never_a_key() -> None:
    parser = IdentifierParser(ResolverConfig())
    found = parser.extract(Interaction("e1", "WEB", T0, "u-1", "signup", phone="98765 43210", email="ravi@x.in"))
    assert found.keys == ("e:ravi@x.in", "t:WEB:u-1")
    assert found.rejected == ("phone:junk:+919876543210",)
    chat = parser.extract(Interaction("e2", "WHATSAPP", T0, "911800221234", "chat"))
    assert chat.keys == () and chat.rejected == ("whatsapp:junk:+911800221234",)


def test_a_patterned_phone_given_by_many_makes_no_hub_and_no_profile_phone() -> None:
    """Eight people on ``9876543210``: nothing to quarantine (it is no key), eight customers, no phone shown."""
    r = Resolver()
    names = ["Ravi Kumar", "Priya Menon", "Asha Rao", "Imran Khan", "Meera Iyer", "Vikram Shah", "Anil Das", "Zoya Ali"]
    for i, name in enumerate(names):
        r.apply(Interaction(f"e{i}", "KIOSK", T0 + i, f"k-{i}", "visit", phone="9876543210", name=name))
    customers = {r.customer_of_event(f"e{i}") for i in range(len(names))}
    assert len(customers) == len(names)
    for cid in customers:
        assert cid is not None
        profile = r.profile(cid)
        assert profile is not None and profile.phones == ()
        assert not any("phone" in reason for reason in profile.confidence_reasons), profile.confidence_reasons
        edges = r.explain(cid).to_dict()["edges"]
        assert [e["reason"] for e in edges if e["rule"] == "rejected"] == ["phone junk"]


# the audit's input, replayed


AUDIT = [
    {"event_id": "J1", "touchpoint": "WEB", "occurred_at": "2025-03-01T10:00:00+05:30", "source_id": "u-j1",
     "interaction": "order", "phone": "9876543210", "email": "ravi.k1987@gmail.com"},
    {"event_id": "J2", "touchpoint": "WEB", "occurred_at": "2025-03-02T10:00:00+05:30", "source_id": "u-j2",
     "interaction": "order", "phone": "9876543210", "email": "priya.menon22@gmail.com"},
    {"event_id": "J3", "touchpoint": "KIOSK", "occurred_at": "2025-03-03T10:00:00+05:30", "source_id": "kiosk-a",
     "interaction": "visit", "phone": "9876543210", "name": "Ravi"},
    {"event_id": "J4", "touchpoint": "KIOSK", "occurred_at": "2025-03-04T10:00:00+05:30", "source_id": "kiosk-b",
     "interaction": "visit", "phone": "9876543210", "name": "Priya"},
]  # fmt: skip


@pytest.mark.parametrize("phone", ["9876543210", "+91 98765 43210", "9898989898", "1800-266-1234", "1800 22 1234"])
def test_replay_keeps_two_web_users_on_a_fake_number_apart(tmp_path: Path, phone: str) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps({**x, "phone": phone}) + "\n" for x in AUDIT), encoding="utf-8")
    a, p, r = tmp_path / "a.csv", tmp_path / "p.jsonl", tmp_path / "r.jsonl"
    argv = [str(events), "--assignments", str(a), "--profiles", str(p), "--rejects", str(r), "--sequential"]
    result = CliRunner().invoke(command, argv)
    assert result.exit_code == 0, result.output
    assigned = dict(list(csv.reader(a.open()))[1:])
    assert assigned["J1"] != assigned["J2"]
    assert len(set(assigned.values())) == 4  # the kiosk visits, a name each, join no one either
    profiles = [json.loads(line) for line in p.read_text().splitlines()]
    assert all(x["phones"] == [] for x in profiles)
    assert "customers=4" in result.output and "quarantined=0" in result.output
    assert r.read_text() == ""


# digits that were dropped: international without "+", two numbers separated by spaces


@pytest.mark.parametrize(
    ("raw", "phone"),
    [
        ("971502846193", ("+971502846193", "valid")),  # the UAE, written without "+"
        ("14155552671", ("+14155552671", "valid")),  # the US
        ("447911123456", ("+447911123456", "valid")),
        ("971501234567", ("+971501234567", "junk")),  # the audit's UAE number: 50 then a run
        ("6591234567", ("+916591234567", "valid")),  # valid in India: the default region wins
        ("919845071623", ("+919845071623", "valid")),  # India's code without "+": India's
        ("18002661234", ("+9118002661234", "junk")),  # India's toll-free, not +1 800
        ("09715028461", ("+919715028461", "valid")),  # a trunk 0: the default region's
        ("0971502846193", ("+91971502846193", "invalid")),  # a trunk 0 before foreign digits: not guessed
        ("9715028461930000", ("+919715028461930000", "invalid")),  # 16 digits: no number
        ("98450716230", ("+9198450716230", "invalid")),  # a mobile with a digit too many stays invalid
    ],
)
def test_international_digits_without_a_plus(phones: PhoneNormaliser, raw: str, phone: tuple[str, str]) -> None:
    assert phones.normalise(raw) == phone


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789", min_size=11, max_size=15))
def test_digits_without_a_plus_are_the_default_regions_or_else_the_international_number(digits: str) -> None:
    assume(not digits.startswith("00"))  # the international prefix: "+" (test_normalise_spellings)
    ours = PhoneNormaliser("IN").normalise(digits)
    national = phonenumbers.parse(digits, "IN")
    if phonenumbers.is_valid_number(national) or digits[0] == "0":
        assert ours.e164 == phonenumbers.format_number(national, phonenumbers.PhoneNumberFormat.E164)
        return
    try:
        international = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        assert ours.status == "invalid"
        return
    if phonenumbers.is_valid_number(international):
        assert ours.e164 == phonenumbers.format_number(international, phonenumbers.PhoneNumberFormat.E164)
        assert ours.status != "invalid"
    else:
        assert ours.status == "invalid"


@pytest.mark.parametrize(
    ("raw", "phone"),
    [
        ("9845071623 9731862045", ("+919845071623", "valid")),  # two numbers, spaces alone: the first
        ("98450-71623  +919731862045", ("+919845071623", "valid")),  # (a part is digits and punctuation)
        ("98450-71623 +91 97318 62045", ("9845071623919731862045", "invalid")),  # a part too short: not guessed
        ("9845071623 9999999999", ("+919845071623", "valid")),  # the second a placeholder: still a number
        ("9876543210 9845071623", ("+919876543210", "junk")),  # the first a placeholder: junk, as with "/"
        ("+91 98450 71623", ("+919845071623", "valid")),  # groups of one number: never split
        ("98450 71623", ("+919845071623", "valid")),
        ("(022) 2345 6789", ("+912223456789", "valid")),
        ("9845071623 12345", ("+91984507162312345", "invalid")),  # a part of five digits: not a number
        ("9845071623 1234568", ("+9198450716231234568", "invalid")),  # a part that is no number
        ("98450 71623 97318 62045", ("98450716239731862045", "invalid")),  # groups of five: not guessed
    ],
)
def test_two_numbers_separated_by_spaces(phones: PhoneNormaliser, raw: str, phone: tuple[str, str]) -> None:
    assert phones.normalise(raw) == phone
