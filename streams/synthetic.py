"""Realistic labelled test data: customer interactions across web, WhatsApp and kiosk, with truth.

`generate(customers, seed)` returns the events (the contract's JSON form, as dicts, in arrival
order) and the truth rows ``(event_id, true_customer)``; `write(dir, events, truth)` writes
``events.jsonl`` and ``truth.csv``; `generate_to(dir, customers, seed)` writes the same files
for millions of events without holding them. The output is a pure function of the arguments:
one `random.Random(seed)` drives every choice, so the same seed gives byte-identical files.
Speed-ups must keep every draw from it, in order (`tests/unit/test_synthetic.py` pins hashes).

`generate_with_crm` and `generate_to(..., crm=True)` add the CRM export of the same people
(``crm_contacts.csv``, ``crm_truth.csv``; see `crm_export`, for `irl import --map CRM_MAP`),
drawn from a Random of its own after the events: the events are the same bytes with or without it.

What real data contains, and this does (rates are per person or per event, see the constants):

* Indian mobiles (valid numbers) in the many ways people type them, some foreign numbers
  (+1, +44, +971, +65); WhatsApp events whose ``source_id`` is the wa_id (international digits).
* Web users with a user id or anonymous ``anon-`` cookies, giving email and/or phone at signup
  and order; kiosk visits with a loyalty id or a one-off visit id and a phone typed by staff.
* People with two phones or two emails; Gmail variants (dots, ``+tags``, case, googlemail.com);
  name variants (case, initials, typos).
* A store's own phone typed at the kiosk for people who give none (a hub: many people, one
  number); placeholder junk (``9999999999``, ``test@test.com``, ...); one-digit phone typos
  that make another valid number (a genuinely different identifier).
* Households: two people with different names and emails sharing one phone; family
  mailboxes (one email, two people with different names and phones).
* Shared lines: an office landline given by the several people who work there, each with
  their own name and no email.
* Names written swapped (``Rao Asha``), shortened (``Vik``), as initials; phone numbers with
  an extension (``x221``); values masked by the system they were copied from
  (``98******10``, ``asha***@gmail.com``).
* Duplicate sends (same event, same content, sent again), small disorder, late events (hours).
* ``occurred_at`` as epoch ms or ISO-8601 (``Z`` or ``+05:30``); ``touchpoint`` sometimes lower case.

Every event passes `resolver.interaction.from_json`.
"""

from __future__ import annotations

import csv
import datetime as _dt
import functools
import json
import random
import string
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers

from resolver.junk import JunkRules
from resolver.names import name_class, names_similar
from streams.csvimport import ColumnMap, event_id_of

__all__ = [
    "CRM_COLUMNS",
    "CRM_MAP",
    "DEFAULT_DAYS",
    "DEFAULT_START_MS",
    "TruthRow",
    "crm_export",
    "generate",
    "generate_to",
    "generate_with_crm",
    "summary",
    "write",
    "write_crm",
]

#: 2024-01-01T00:00:00Z: a fixed default keeps the output a function of the arguments.
DEFAULT_START_MS = 1_704_067_200_000
DEFAULT_DAYS = 30

TruthRow = tuple[str, str]

_HOUR_MS = 3_600_000
_IST = _dt.timezone(_dt.timedelta(hours=5, minutes=30))
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)

# Per person.
_P_FOREIGN = 0.04
_P_NO_PHONE = 0.08
_P_SECOND_PHONE = 0.10
_P_EMAIL = 0.75
_P_SECOND_EMAIL = 0.12
_P_GMAIL = 0.6
_P_HOUSEHOLD = 0.02  # share of people who use another person's phone as their own
_P_FAMILY_MAIL = 0.015  # share of people whose main email is a mailbox a partner also uses
_P_OFFICE = 0.01  # share of people who give an office line (shared by 3-8 colleagues) now and then
_P_LOYALTY = 0.5
_P_REGISTERED = 0.6
_P_REFUSES_PHONE_AT_KIOSK = 0.05
# Per event.
_P_PHONE_TYPO_KIOSK = 0.03
_P_PHONE_TYPO_WEB = 0.01
_P_DUPLICATE = 0.01
_P_LATE = 0.02
_P_DISORDER = 0.05
_P_LOWER_TOUCHPOINT = 0.1
_P_OFFICE_LINE_USED = 0.3  # an office worker's phone is the office line this often
_P_EXTENSION = 0.02  # a typed phone carries an extension
_P_MASKED = 0.005  # a phone or email copied from a system that masks it

_FIRST = (
    "Aarav", "Aditi", "Aditya", "Akash", "Amit", "Ananya", "Anil", "Anjali", "Arjun", "Arun", "Asha", "Deepa",
    "Deepak", "Divya", "Gaurav", "Geeta", "Harish", "Isha", "Jaya", "Karan", "Kavita", "Kiran", "Lakshmi",
    "Manoj", "Meena", "Mohan", "Neha", "Nikhil", "Nisha", "Pooja", "Pradeep", "Priya", "Rahul", "Rajesh",
    "Ramesh", "Rekha", "Rohit", "Sachin", "Sanjay", "Sarita", "Shreya", "Sneha", "Sunil", "Sunita", "Suresh",
    "Tanvi", "Uma", "Varun", "Vijay", "Vikram", "Vinod", "Yash", "Zoya", "Farhan", "Imran", "Ayesha", "Fatima",
    "Harpreet", "Gurpreet", "Joseph", "Mary", "Thomas",
)  # fmt: skip
_LAST = (
    "Sharma", "Verma", "Gupta", "Singh", "Kumar", "Patel", "Shah", "Reddy", "Rao", "Nair", "Menon", "Iyer",
    "Pillai", "Das", "Ghosh", "Bose", "Banerjee", "Mukherjee", "Chatterjee", "Joshi", "Kulkarni", "Deshpande",
    "Patil", "Jadhav", "Khan", "Ahmed", "Sheikh", "Gill", "Sandhu", "Fernandes", "D'Souza", "Mehta", "Agarwal",
    "Jain", "Saxena", "Mishra", "Pandey", "Tiwari", "Yadav", "Chauhan", "Naidu", "Hegde", "Shetty", "Kapoor",
)  # fmt: skip
_MAIL_DOMAINS = ("yahoo.co.in", "hotmail.com", "outlook.com", "rediffmail.com", "yahoo.com", "icloud.com")
_WORK_DOMAINS = ("infosys.com", "tcs.com", "wipro.com", "acme.co.in", "hdfcbank.com", "flipkart.com")
_JUNK_PHONES = ("1234567890", "9999999999", "0000000000", "99999 99999")
_JUNK_EMAILS = ("test@test.com", "na@na.com", "noemail@example.com", "NA@NA.COM")
_FOREIGN = (("US", 0.4), ("GB", 0.25), ("AE", 0.25), ("SG", 0.1))
_US_AREAS = ("415", "212", "646", "312", "206", "617", "408", "713", "305", "202")
_JUNK = JunkRules()
#: `json.dumps(event, ensure_ascii=False, separators=(",", ":"))`, without a new encoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
#: `generate_to` sorts about this many customers' sends at a time, in at most so many parts.
_CUSTOMERS_PER_PART = 25_000
_MAX_PARTS = 256
#: The calling codes numbers are made for, longest first; see `_valid`.
_CALLING_CODES = (("+971", 971), ("+91", 91), ("+44", 44), ("+65", 65), ("+1", 1))


@dataclass(slots=True)
class _Person:
    true_id: str
    first: str
    last: str
    phones: list[str] = field(default_factory=list)  # E.164; [0] is the primary (WhatsApp) number
    emails: list[str] = field(default_factory=list)  # canonical addresses as the person owns them
    user_id: str | None = None
    cookies: list[str] = field(default_factory=list)
    loyalty_id: str | None = None
    store: int = 0
    channels: tuple[str, ...] = ()
    owns_primary: bool = True  # False for a household member using someone else's phone
    office: str | None = None  # an office line shared with colleagues (E.164)


@dataclass(slots=True)
class _Ids:
    """Unique identifiers drawn from one Random; collisions are retried, never silently shared."""

    rng: random.Random
    phones: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)

    def token(self, prefix: str, length: int, alphabet: str = "0123456789abcdef") -> str:
        while True:
            value = prefix + _draw(self.rng, alphabet, length)
            if value not in self.tokens:
                self.tokens.add(value)
                return value

    def indian_mobile(self) -> str:
        return self._phone(_indian_mobile)

    def foreign_mobile(self) -> str:
        return self._phone(functools.partial(_foreign_mobile, region=_weighted(self.rng, _FOREIGN)))

    def landline(self) -> str:
        """An Indian office landline: a city code and an eight-digit number."""
        return self._phone(_landline)

    def _phone(self, draw: Callable[[random.Random], str]) -> str:
        """A valid, unused number of `draw`'s kind that is no placeholder (`JunkRules.phone`).

        A drawn number the junk rule refuses (``9876543210``, one in about 250,000) is replaced
        by one drawn from a Random of its own, seeded by that number, not from the world's: the
        rest of the data stays as drawn, so quality figures stay comparable when the rule grows.
        """
        while True:
            e164 = draw(self.rng)
            if e164 not in self.phones and _valid(e164):
                if _junk_phone(e164):
                    e164 = self._stand_in(e164, draw)
                self.phones.add(e164)
                return e164

    def _stand_in(self, junk: str, draw: Callable[[random.Random], str]) -> str:
        side = random.Random(junk)
        while True:
            e164 = draw(side)
            if e164 not in self.phones and _valid(e164) and not _junk_phone(e164):
                return e164

    def typo_of(self, e164: str) -> str | None:
        """One wrong digit that still makes a valid, unused number (None if none found quickly).

        A typo that makes a placeholder (``9876543210``) is not made: None, and nothing more is
        drawn, so the rest of the data stays as drawn.
        """
        head = 3 if e164.startswith("+91") else len(e164) - 7
        for _ in range(20):
            pos = self.rng.randrange(head + 1, len(e164))
            digit = self.rng.choice(string.digits)
            candidate = e164[:pos] + digit + e164[pos + 1 :]
            if candidate != e164 and candidate not in self.phones and _valid(candidate):
                if _junk_phone(candidate):
                    return None
                self.phones.add(candidate)
                return candidate
        return None


def _indian_mobile(rng: random.Random) -> str:
    return "+91" + str(rng.randint(6, 9)) + _draw(rng, string.digits, 9)


def _foreign_mobile(rng: random.Random, region: str) -> str:
    if region == "US":
        return "+1" + rng.choice(_US_AREAS) + str(rng.randint(200, 989)) + _digits(rng, 4)
    if region == "GB":
        return "+447" + str(rng.choice((4, 5, 7, 8, 9))) + _digits(rng, 8)
    if region == "AE":
        return "+9715" + str(rng.choice((0, 2, 4, 5, 6, 8))) + _digits(rng, 7)
    return "+65" + str(rng.choice((8, 9))) + _digits(rng, 7)


def _landline(rng: random.Random) -> str:
    area = rng.choice(("80", "22", "11", "44", "40", "33"))
    return "+91" + area + str(rng.randint(2, 6)) + _draw(rng, string.digits, 7)


def _junk_phone(e164: str) -> bool:
    """`JunkRules.phone` of a number drawn here (its national number after the calling code)."""
    for prefix, _ in _CALLING_CODES:
        if e164.startswith(prefix):
            return _JUNK.phone(e164[len(prefix) :], e164)
    return _JUNK.phone(e164[-10:], e164)


def _valid(e164: str) -> bool:
    # Parsing is most of the cost of a check. For the country codes made here, and national
    # numbers that start with neither 0 nor 1, `parse` strips no national prefix and keeps no
    # leading zero, so the number it returns is exactly this one.
    for prefix, code in _CALLING_CODES:
        if e164.startswith(prefix):
            national = e164[len(prefix) :]
            if national.isdigit() and national[0] not in "01":
                number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
                return bool(phonenumbers.is_valid_number(number))
            break
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(e164, None)))
    except phonenumbers.NumberParseException:
        return False


def _draw(rng: random.Random, alphabet: str, length: int) -> str:
    """``"".join(rng.choice(alphabet) for _ in range(length))``, drawing the same random bits.

    `random.Random.choice` is ``alphabet[rng._randbelow(len(alphabet))]``, and `_randbelow(n)`
    draws ``getrandbits(n.bit_length())`` until the value is below ``n``: done here directly,
    without two Python calls per character. A test holds this equal to `choice` for each alphabet.
    """
    n = len(alphabet)
    bits = n.bit_length()
    getrandbits = rng.getrandbits
    out: list[str] = []
    while len(out) < length:
        r = getrandbits(bits)
        if r < n:
            out.append(alphabet[r])
    return "".join(out)


def _digits(rng: random.Random, n: int) -> str:
    return _draw(rng, string.digits, n)


def _weighted(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


# ---------------------------------------------------------------------------------------------
# How people type things


def _spell_indian(rng: random.Random, e164: str) -> str:
    n = e164[3:]
    forms = (
        f"+91 {n[:5]} {n[5:]}",
        f"+91{n}",
        f"0{n[:5]}-{n[5:]}",
        f"(+91) {n}",
        f"+91.{n[:5]}.{n[5:]}",
        f" {n} ",
        f"91-{n}",
        f"0091 {n}",
        f"{n[:5]} {n[5:]}",
        n,
        n,
        f"+91-{n[:5]}-{n[5:]}",
        f"0{n}",
        f"+91 {n[:4]} {n[4:7]} {n[7:]}",
    )
    return rng.choice(forms)


def _spell_foreign(rng: random.Random, e164: str) -> str:
    return rng.choice(_foreign_forms(e164))


@functools.lru_cache(maxsize=4096)
def _foreign_forms(e164: str) -> tuple[str, str, str, str]:
    # Cached: formatting is slow, and people type their own number again and again.
    parsed = phonenumbers.parse(e164, None)
    return (
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        e164,
        "00" + e164[1:],
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.RFC3966).removeprefix("tel:"),
    )


def _spell_phone(rng: random.Random, e164: str) -> str:
    return _spell_indian(rng, e164) if e164.startswith("+91") else _spell_foreign(rng, e164)


def _spell_email(rng: random.Random, address: str) -> str:
    local, domain = address.split("@", 1)
    roll = rng.random()
    if domain == "gmail.com":
        if roll < 0.10:
            return local.replace(".", "") + "@gmail.com"
        if roll < 0.18:
            return f"{local}+{rng.choice(('shop', 'orders', 'promo', 'store'))}@gmail.com"
        if roll < 0.24:
            return f"{local}@googlemail.com"
        if roll < 0.30 and len(local) > 3:
            cut = rng.randrange(1, len(local) - 1)
            return local[:cut].rstrip(".") + "." + local[cut:].lstrip(".") + "@gmail.com"
    if roll < 0.40:
        return address.upper() if rng.random() < 0.3 else local.capitalize() + "@" + domain.capitalize()
    if roll < 0.45:
        return f" {address} "
    return address


def _swap_typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _spell_name(rng: random.Random, person: _Person) -> str:
    full = f"{person.first} {person.last}"
    roll = rng.random()
    if roll < 0.43:
        return full
    if roll < 0.57:
        return full.lower()
    if roll < 0.66:
        return full.upper()
    if roll < 0.74:
        return f"{person.first[0]}. {person.last}"
    if roll < 0.82:
        return person.first
    if roll < 0.88:
        return f"{person.first} {_swap_typo(rng, person.last)}"
    if roll < 0.93:
        return f"{_swap_typo(rng, person.first)} {person.last}"
    if roll < 0.975:
        # Surname first, as forms and ID cards often have it.
        return f"{person.last} {person.first}" if rng.random() < 0.6 else f"{person.last.upper()}, {person.first}"
    # A short form of the first name ("Vik", "Rahu"): a prefix of three letters or more.
    return person.first[: rng.randint(3, max(3, len(person.first) - 1))] + (
        " " + person.last if rng.random() < 0.5 else ""
    )


def _email_for(rng: random.Random, ids: _Ids, first: str, last: str, gmail: bool, work: bool = False) -> str:
    f, la = first.lower(), "".join(ch for ch in last.lower() if ch.isalpha())
    tries = 0
    while True:
        tries += 1
        # The check makes no draws: while a mailbox is left it cannot change the data, and with
        # none left the draws would go on for ever. At tries 8, 16, 32, ...: cheap either way.
        if tries >= 8 and tries & (tries - 1) == 0 and not _mailbox_left(ids, f, la, gmail, work):
            return _numbered_email(rng, ids, f, la, gmail, work)
        style = rng.randrange(4)
        num = str(rng.randint(1, 99)) if rng.random() < 0.6 else ""
        local = (f"{f}.{la}{num}", f"{f}{la}{num}", f"{f[0]}{la}{num}", f"{f}_{la}{num}")[style]
        if work:
            domain = rng.choice(_WORK_DOMAINS)
            local = f"{f}.{la}" if rng.random() < 0.5 else f"{f[0]}{la}"
        else:
            domain = "gmail.com" if gmail else rng.choice(_MAIL_DOMAINS)
        # Gmail ignores dots: uniqueness must hold for the mailbox, not for the spelling.
        key = (local.replace(".", "") if domain == "gmail.com" else local) + "@" + domain
        if key not in ids.tokens:
            ids.tokens.add(key)
            return f"{local}@{domain}"


def _email_candidates(f: str, la: str, gmail: bool, work: bool) -> list[str]:
    """Every uniqueness key `_email_for` can draw for these names (its `key`, not the spelling)."""
    if work:
        return [f"{local}@{domain}" for local in (f"{f}.{la}", f"{f[0]}{la}") for domain in _WORK_DOMAINS]
    nums = ["", *(str(n) for n in range(1, 100))]
    locals_ = [x for num in nums for x in (f"{f}.{la}{num}", f"{f}{la}{num}", f"{f[0]}{la}{num}", f"{f}_{la}{num}")]
    if gmail:
        return [local.replace(".", "") + "@gmail.com" for local in locals_]
    return [f"{local}@{domain}" for local in locals_ for domain in _MAIL_DOMAINS]


def _mailbox_left(ids: _Ids, f: str, la: str, gmail: bool, work: bool) -> bool:
    return any(key not in ids.tokens for key in _email_candidates(f, la, gmail, work))


def _numbered_email(rng: random.Random, ids: _Ids, f: str, la: str, gmail: bool, work: bool) -> str:
    """A numbered address once `_email_for` has none left to draw (``jane.doe2@``, as companies do).

    Only reached where the draw in `_email_for` could never succeed (it looped for ever there), so
    it changes no data set that could be made before.
    """
    if work:
        domain, n = rng.choice(_WORK_DOMAINS), 2
    else:
        domain, n = ("gmail.com" if gmail else rng.choice(_MAIL_DOMAINS)), 100
    while True:
        local = f"{f}.{la}{n}"
        key = (local.replace(".", "") if domain == "gmail.com" else local) + "@" + domain
        if key not in ids.tokens:
            ids.tokens.add(key)
            return f"{local}@{domain}"
        n += 1


# ---------------------------------------------------------------------------------------------
# People


def _people(rng: random.Random, ids: _Ids, customers: int, stores: int) -> list[_Person]:
    people: list[_Person] = []
    for i in range(customers):
        p = _Person(true_id=f"cust-{i + 1:06d}", first=rng.choice(_FIRST), last=rng.choice(_LAST))
        if rng.random() >= _P_NO_PHONE:
            p.phones.append(ids.foreign_mobile() if rng.random() < _P_FOREIGN else ids.indian_mobile())
            if rng.random() < _P_SECOND_PHONE:
                p.phones.append(ids.indian_mobile())
        if rng.random() < _P_EMAIL:
            p.emails.append(_email_for(rng, ids, p.first, p.last, gmail=rng.random() < _P_GMAIL))
            if rng.random() < _P_SECOND_EMAIL:
                p.emails.append(_email_for(rng, ids, p.first, p.last, gmail=rng.random() < 0.5, work=True))
        if rng.random() < _P_REGISTERED:
            p.user_id = ids.token("u", 9, string.digits)
        p.cookies = [ids.token("anon-", 16) for _ in range(rng.randint(1, 3))]
        if rng.random() < _P_LOYALTY:
            p.loyalty_id = ids.token("KC-", 7, string.digits)
        p.store = rng.randrange(stores)
        channels = [c for c, w in (("WEB", 0.7), ("WHATSAPP", 0.6), ("KIOSK", 0.45)) if rng.random() < w]
        if not p.phones and "WHATSAPP" in channels:
            channels.remove("WHATSAPP")
        p.channels = tuple(channels) or ("WEB",)
        people.append(p)
    _households(rng, ids, people)
    _family_mailboxes(rng, ids, people)
    _offices(rng, ids, people)
    return people


def _households(rng: random.Random, ids: _Ids, people: list[_Person]) -> None:
    """Some people use a partner's phone: different first name, own email, no WhatsApp of their own."""
    owners = [p for p in people if p.phones and p.owns_primary]
    for member in people:
        if rng.random() >= _P_HOUSEHOLD or not owners:
            continue
        owner = rng.choice(owners)
        if owner is member or not member.owns_primary:
            continue
        a, b = name_class(owner.first), name_class(member.first)
        if a is None or b is None or names_similar(a, b):
            continue
        if not member.emails:
            member.emails.append(_email_for(rng, ids, member.first, member.last, gmail=True))
        member.phones = [owner.phones[0]]
        member.owns_primary = False
        member.channels = tuple(c for c in member.channels if c != "WHATSAPP") or ("WEB",)


def _family_mailboxes(rng: random.Random, ids: _Ids, people: list[_Person]) -> None:
    """Some couples share a family mailbox: each has their own phone and name; one of them uses it first."""
    owners = [p for p in people if p.phones and p.owns_primary]
    for member in people:
        if rng.random() >= _P_FAMILY_MAIL or not owners or not member.phones or not member.owns_primary:
            continue
        partner = rng.choice(owners)
        if partner is member:
            continue
        a, b = name_class(partner.first), name_class(member.first)
        if a is None or b is None or names_similar(a, b):
            continue
        family = _email_for(rng, ids, member.first[0] + partner.first[0], member.last + "family", gmail=True)
        member.emails.insert(0, family)
        partner.emails.append(family)


def _offices(rng: random.Random, ids: _Ids, people: list[_Person]) -> None:
    """A few offices: one landline that its 3 to 8 staff give now and then, instead of their mobile."""
    workers = [p for p in people if rng.random() < _P_OFFICE and p.owns_primary]
    while len(workers) >= 3:
        size = min(len(workers), rng.randint(3, 8))
        line = ids.landline()
        for p in workers[:size]:
            p.office = line
        workers = workers[size:]


# ---------------------------------------------------------------------------------------------
# Events


@dataclass(slots=True)
class _Ctx:
    rng: random.Random
    ids: _Ids
    store_phones: list[str]


def _phone_as_typed(ctx: _Ctx, e164: str, typo_rate: float) -> str:
    rng = ctx.rng
    if rng.random() < typo_rate:
        typo = ctx.ids.typo_of(e164)
        if typo is not None:
            e164 = typo
    roll = rng.random()
    if roll < _P_MASKED:
        # Copied from a screen that shows "98******10".
        national = e164[3:] if e164.startswith("+91") else e164[-10:]
        return national[:2] + "*" * (len(national) - 4) + national[-2:]
    typed = _spell_phone(rng, e164)
    if roll < _P_MASKED + _P_EXTENSION:
        typed += rng.choice((" x", " ext. ", " Ext ", "x", " extn ")) + str(rng.randint(2, 4999))
    return typed


def _email_as_typed(rng: random.Random, address: str) -> str:
    if rng.random() < _P_MASKED:
        local, domain = address.split("@", 1)
        return local[: min(3, len(local))] + "***@" + domain
    return _spell_email(rng, address)


def _phone_of(rng: random.Random, p: _Person) -> str:
    """The phone a person gives on a form: their own, or now and then their office line."""
    if p.office is not None and rng.random() < _P_OFFICE_LINE_USED:
        return p.office
    return _pick(rng, p.phones)


def _pick(rng: random.Random, values: list[str]) -> str:
    # The first identifier is the everyday one; a second is used now and then.
    return values[0] if len(values) == 1 or rng.random() < 0.75 else rng.choice(values[1:])


def _whatsapp(ctx: _Ctx, p: _Person) -> dict[str, Any]:
    rng = ctx.rng
    phone = p.phones[0]
    event: dict[str, Any] = {
        "touchpoint": "WHATSAPP",
        "source_id": phone[1:],
        "interaction": rng.choice(("message_in", "message_in", "catalog_view", "order_status", "payment_link")),
        "phone": _spell_phone(rng, phone) if rng.random() < 0.3 else None,
        "email": _spell_email(rng, _pick(rng, p.emails)) if p.emails and rng.random() < 0.05 else None,
        "name": (p.first if rng.random() < 0.5 else _spell_name(rng, p)) if rng.random() < 0.9 else None,
        "attributes": {"wa_profile": "business" if rng.random() < 0.1 else "personal"},
    }
    return event


def _web(ctx: _Ctx, p: _Person) -> dict[str, Any]:
    rng = ctx.rng
    logged_in = p.user_id is not None and rng.random() < 0.7
    source_id = p.user_id if logged_in and p.user_id else rng.choice(p.cookies)
    interaction = rng.choices(
        ("page_view", "add_to_cart", "signup", "login", "order", "newsletter"), weights=(45, 15, 8, 10, 17, 5)
    )[0]
    phone = email = name = None
    if interaction == "order":
        # Delivery needs a phone; the receipt wants an email.
        email = _pick(rng, p.emails) if p.emails and rng.random() < 0.85 else None
        phone = _phone_of(rng, p) if p.phones and rng.random() < 0.9 else None
        name = _spell_name(rng, p) if rng.random() < 0.9 else None
    elif interaction == "signup":
        email = _pick(rng, p.emails) if p.emails and rng.random() < 0.9 else None
        phone = _pick(rng, p.phones) if p.phones and rng.random() < 0.5 else None
        name = _spell_name(rng, p) if rng.random() < 0.8 else None
    elif interaction == "login":
        email = _pick(rng, p.emails) if p.emails and rng.random() < 0.5 else None
    elif interaction == "newsletter":
        email = _pick(rng, p.emails) if p.emails else None
    spelt_email: str | None = _email_as_typed(rng, email) if email else None
    spelt_phone = _phone_as_typed(ctx, phone, _P_PHONE_TYPO_WEB) if phone else None
    if interaction == "signup" and rng.random() < 0.03:
        spelt_phone = rng.choice(_JUNK_PHONES)
    if interaction in ("signup", "newsletter") and rng.random() < 0.03:
        spelt_email = rng.choice(_JUNK_EMAILS)
    attributes = {"page": rng.choice(("/", "/sale", "/cart", "/checkout", "/p/shoes", "/p/kurta"))}
    if interaction == "order":
        attributes["amount"] = f"{rng.randint(199, 9999)}.00"
    return {
        "touchpoint": "WEB",
        "source_id": source_id,
        "interaction": interaction,
        "phone": spelt_phone,
        "email": spelt_email,
        "name": name,
        "attributes": attributes,
    }


def _kiosk(ctx: _Ctx, p: _Person) -> dict[str, Any]:
    rng = ctx.rng
    source_id = p.loyalty_id if p.loyalty_id and rng.random() < 0.85 else ctx.ids.token("KV-", 10, string.digits)
    phone: str | None
    if p.phones and rng.random() >= _P_REFUSES_PHONE_AT_KIOSK:
        phone = _phone_as_typed(ctx, _phone_of(rng, p), _P_PHONE_TYPO_KIOSK)
    else:
        roll = rng.random()
        # Staff must fill the field: the store's own number, a placeholder, or nothing.
        if roll < 0.6:
            phone = _spell_phone(rng, ctx.store_phones[p.store])
        elif roll < 0.85:
            phone = rng.choice(_JUNK_PHONES)
        else:
            phone = None
    email = None
    if p.emails and rng.random() < 0.15:
        email = _email_as_typed(rng, _pick(rng, p.emails))
    elif rng.random() < 0.02:
        email = rng.choice(_JUNK_EMAILS)
    return {
        "touchpoint": "KIOSK",
        "source_id": source_id,
        "interaction": rng.choice(("store_visit", "purchase", "purchase", "return", "loyalty_signup")),
        "phone": phone,
        "email": email,
        "name": _spell_name(rng, p) if rng.random() < 0.85 else None,
        "attributes": {"store": f"S{p.store + 1:03d}", "terminal": f"T{rng.randint(1, 4)}"},
    }


_BUILDERS = {"WHATSAPP": _whatsapp, "WEB": _web, "KIOSK": _kiosk}


def _event_count(rng: random.Random) -> int:
    # 1 + floor(Exp(mean 4.5)) has mean ~5.0 and the long tail of real customers.
    return 1 + min(int(rng.expovariate(1 / 4.5)), 60)


def _format_time(rng: random.Random, ms: int) -> int | str:
    roll = rng.random()
    if roll < 0.7:
        return ms
    zone = _dt.UTC if roll < 0.88 else _IST
    moment = (_EPOCH + _dt.timedelta(milliseconds=ms)).astimezone(zone)
    text = moment.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _check(customers: int, days: int) -> None:
    if customers < 0:
        raise ValueError("customers must not be negative")
    if days < 1:
        raise ValueError("days must be at least 1")


@dataclass(slots=True)
class _World:
    """What `_sends` made besides the events: its people and every identifier drawn (for the CRM export)."""

    people: list[_Person] = field(default_factory=list)
    ids: _Ids | None = None


def _sends(
    customers: int, seed: int, start_ms: int, days: int, world: _World | None = None
) -> Iterator[tuple[int, dict[str, Any], str | None]]:
    """Every send in the order made: ``(arrival_ms, event, true_customer)``.

    A duplicate send follows its first send, with the same event object and ``None`` as the
    customer. The order of the draws from the one Random is the data set: do not reorder them.
    `world`, when given, receives the people and the identifiers (drawing nothing).
    """
    rng = random.Random(seed)
    ids = _Ids(rng)
    stores = max(2, customers // 1500)
    store_phones = [ids.indian_mobile() for _ in range(stores)]
    people = _people(rng, ids, customers, stores)
    if world is not None:
        world.people, world.ids = people, ids
    ctx = _Ctx(rng, ids, store_phones)
    span = days * 24 * _HOUR_MS

    for p in people:
        times = sorted(start_ms + rng.randrange(span) for _ in range(_event_count(rng)))
        for occurred in times:
            body = _BUILDERS[rng.choice(p.channels)](ctx, p)
            touchpoint = body["touchpoint"].lower() if rng.random() < _P_LOWER_TOUCHPOINT else body["touchpoint"]
            event = {
                "event_id": ids.token("ev-", 20),
                "touchpoint": touchpoint,
                "occurred_at": _format_time(rng, occurred),
                **{k: v for k, v in body.items() if k != "touchpoint"},
            }
            arrival = occurred + rng.randrange(0, 2000)
            roll = rng.random()
            if roll < _P_LATE:
                arrival += rng.randrange(_HOUR_MS, 12 * _HOUR_MS)
            elif roll < _P_LATE + _P_DISORDER:
                arrival += rng.randrange(10_000, 600_000)
            yield arrival, event, p.true_id
            if rng.random() < _P_DUPLICATE:
                # A retry by the sender: same content, seconds to minutes later.
                yield arrival + rng.randrange(1_000, 300_000), event, None


def generate(
    customers: int, seed: int, start_ms: int = DEFAULT_START_MS, days: int = DEFAULT_DAYS
) -> tuple[list[dict[str, Any]], list[TruthRow]]:
    """Events (JSON dicts in arrival order, duplicates included) and truth rows sorted by event_id.

    Deterministic: the same arguments give the same lists. Truth has one row per distinct
    event_id. Raises ValueError for a negative `customers` or non-positive `days`. For large
    data sets `generate_to` writes the same files without holding them in memory.
    """
    return _generate(customers, seed, start_ms, days, None)


def _generate(
    customers: int, seed: int, start_ms: int, days: int, world: _World | None
) -> tuple[list[dict[str, Any]], list[TruthRow]]:
    _check(customers, days)
    arrivals: list[tuple[int, dict[str, Any]]] = []
    truth: list[TruthRow] = []
    for arrival, event, owner in _sends(customers, seed, start_ms, days, world):
        if owner is not None:
            truth.append((event["event_id"], owner))
        arrivals.append((arrival, event))
    arrivals.sort(key=_first)  # stable: sends due at the same millisecond stay in the order made
    truth.sort()
    return [dict(event) for _, event in arrivals], truth


def generate_with_crm(
    customers: int, seed: int, start_ms: int = DEFAULT_START_MS, days: int = DEFAULT_DAYS
) -> tuple[list[dict[str, Any]], list[TruthRow], list[dict[str, str]], list[TruthRow]]:
    """`generate`'s events and truth (the very same), and the CRM export of the same people:
    its rows (`CRM_COLUMNS`, sorted by ContactId) and truth rows ``(ContactId, true_customer)``."""
    world = _World()
    events, truth = _generate(customers, seed, start_ms, days, world)
    rows, crm_truth = crm_export(world, seed, start_ms)
    return events, truth, rows, crm_truth


def generate_to(
    directory: Path,
    customers: int,
    seed: int,
    start_ms: int = DEFAULT_START_MS,
    days: int = DEFAULT_DAYS,
    *,
    crm: bool = False,
) -> str:
    """Write what ``write(directory, *generate(...))`` writes, in bounded memory; return `summary`.

    Sends are spread over files by arrival time (and truth rows by the first digit of the
    event id), and each file is sorted on its own: concatenated, they are the global order.
    Temporary files live in `directory` and are removed. Raises like `generate`. With `crm`,
    also the CRM export of the same people (`write_crm`), the events unchanged.
    """
    _check(customers, days)
    directory.mkdir(parents=True, exist_ok=True)
    span = days * 24 * _HOUR_MS
    parts = min(_MAX_PARTS, max(1, customers // _CUSTOMERS_PER_PART))
    per: Counter[str] = Counter()
    sent = distinct = people = 0
    last_owner = line = ""
    with tempfile.TemporaryDirectory(dir=directory, prefix=".generate-") as tmp:
        events = _Parts(Path(tmp), "events", parts)
        truth = _Parts(Path(tmp), "truth", 16 if parts > 1 else 1)
        world = _World()
        for arrival, event, owner in _sends(customers, seed, start_ms, days, world):
            sent += 1
            if owner is not None:
                distinct += 1
                per[event["touchpoint"].upper()] += 1
                if owner != last_owner:
                    people, last_owner = people + 1, owner
                line = _ENCODER.encode(event)
                truth.add(int(event["event_id"][3], 16) * truth.count // 16, f"{event['event_id']},{owner}\n")
            events.add(min((arrival - start_ms) * parts // span, parts - 1), f"{arrival}\t{line}\n")
        with (directory / "events.jsonl").open("w", encoding="utf-8", newline="\n") as out:
            for chunk in events.sorted(_arrival_of):
                out.writelines(text[text.index("\t") + 1 :] for text in chunk)
        with (directory / "truth.csv").open("w", encoding="utf-8", newline="") as out:
            # csv.writer would write the same: ids never hold a comma, quote or line break.
            out.write("event_id,true_customer\n")
            for chunk in truth.sorted(None):
                out.writelines(chunk)
    line = _summary_line(people, sent, distinct, per)
    if crm:
        rows, crm_truth = crm_export(world, seed, start_ms)
        write_crm(directory, rows, crm_truth)
        line += f" crm_contacts={len(rows)}"
    return line


class _Parts:
    """Lines spread over `count` parts: in memory if there is one, else in files under `tmp`."""

    def __init__(self, tmp: Path, name: str, count: int) -> None:
        self.count = count
        self._lines: list[str] = []
        self._paths = [tmp / f"{name}-{i:03d}" for i in range(count)] if count > 1 else []
        self._files = [path.open("w", encoding="utf-8", newline="\n") for path in self._paths]

    def add(self, part: int, line: str) -> None:
        if self._files:
            self._files[part].write(line)
        else:
            self._lines.append(line)

    def sorted(self, key: Callable[[str], Any] | None) -> Iterator[list[str]]:
        """Each part's lines, sorted stably by `key`, part after part."""
        if not self._files:
            self._lines.sort(key=key)
            yield self._lines
            return
        for file in self._files:
            file.close()
        for path in self._paths:
            with path.open(encoding="utf-8", newline="\n") as part:
                lines = part.readlines()
            path.unlink()
            lines.sort(key=key)
            yield lines


def _first(pair: tuple[int, dict[str, Any]]) -> int:
    return pair[0]


def _arrival_of(text: str) -> int:
    return int(text[: text.index("\t")])


def summary(events: list[dict[str, Any]], truth: list[TruthRow]) -> str:
    """One line: customers, events sent, distinct events, duplicates and events per touchpoint."""
    distinct = {e["event_id"]: e for e in events}
    per = Counter(str(e["touchpoint"]).upper() for e in distinct.values())
    customers = len({c for _, c in truth})
    return _summary_line(customers, len(events), len(distinct), per)


def _summary_line(customers: int, events: int, distinct: int, per: Counter[str]) -> str:
    parts = " ".join(f"{tp.lower()}={per[tp]}" for tp in sorted(per))
    return f"customers={customers} events={events} distinct={distinct} duplicates={events - distinct} {parts}"


def write(directory: Path, events: list[dict[str, Any]], truth: list[TruthRow]) -> None:
    """Write ``events.jsonl`` (one compact JSON object a line) and ``truth.csv`` into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "events.jsonl").open("w", encoding="utf-8", newline="\n") as out:
        for event in events:
            out.write(_ENCODER.encode(event) + "\n")
    with (directory / "truth.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["event_id", "true_customer"])
        writer.writerows(truth)


# ---------------------------------------------------------------------------------------------
# The CRM export: the same people as a company's CRM holds them (issue 19, `irl import`)

#: The export's columns, as a CRM names them; `CRM_MAP` is the `irl import --map` that reads them.
CRM_COLUMNS = ("ContactId", "Full Name", "Mobile", "Phone", "Email", "Company", "City", "Lead Source", "Created Date")
CRM_MAP = 'id=ContactId,name="Full Name",phone=Mobile,email=Email,occurred_at="Created Date"'

_P_IN_CRM = 0.5  # share of people the CRM knows
_P_CRM_DUPLICATE = 0.2  # of those, share held twice (a lead from a call, another from a form, ...)
_P_CRM_THIRD = 0.25  # of those held twice, share held three times
_P_CRM_EMAIL = 0.85
_P_CRM_JUNK = 0.03  # a placeholder typed into a required field
_P_CRM_NO_CONTACT = 0.02  # a record with a name only (a walk-in, a business card without numbers)
_CRM_ONLY = 0.1  # people only the CRM knows, as a share of the customers (never seen at a touchpoint)
_CRM_YEARS = 2  # records were created during the two years before the events start
_CRM_SOURCES = ("Walk-in", "Website", "Referral", "Phone Enquiry", "Trade Show", "WhatsApp", "Campaign")
_CITIES = ("Bengaluru", "Mumbai", "Delhi", "Chennai", "Hyderabad", "Pune", "Kolkata", "Ahmedabad")
_COMPANIES = ("", "", "", "Infosys", "TCS", "Wipro", "Acme Traders", "HDFC Bank", "Self-employed")
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def crm_export(
    world: _World, seed: int, start_ms: int = DEFAULT_START_MS
) -> tuple[list[dict[str, str]], list[TruthRow]]:
    """The CRM export of `world`'s people: rows sorted by ContactId, and truth ``(ContactId, true_customer)``.

    Drawn from its own Random (the events' draws are untouched), after every event was made:
    people only the CRM knows get identifiers no event carries. Per person known to it, the CRM
    holds one record (name as typed, mobile, email), sometimes two or three: fragments with
    only the phone or only the email, a second phone or the work email, names written another
    way; some hold a placeholder, a few a name only. Household members carry the shared phone,
    as at the touchpoints. ``Created Date`` is ISO-8601 in IST, before the events start.
    """
    if world.ids is None:
        return [], []
    rng = random.Random(f"crm-export:{seed}")
    ids = _Ids(rng, phones=set(world.ids.phones), tokens=set(world.ids.tokens))
    ctx = _Ctx(rng, ids, [])
    known = [p for p in world.people if rng.random() < _P_IN_CRM]
    for n in range(int(len(world.people) * _CRM_ONLY)):
        known.append(_crm_only_person(rng, ids, n))
    rows: list[dict[str, str]] = []
    truth: list[TruthRow] = []
    for p in known:
        copies = 1
        if rng.random() < _P_CRM_DUPLICATE:
            copies = 3 if rng.random() < _P_CRM_THIRD else 2
        for copy in range(copies):
            row = _crm_row(ctx, p, copy, start_ms)
            row["ContactId"] = ids.token("003", 12, _BASE62)
            rows.append(row)
            truth.append((row["ContactId"], p.true_id))
    rows.sort(key=lambda r: r["ContactId"])
    truth.sort()
    return rows, truth


def _crm_only_person(rng: random.Random, ids: _Ids, n: int) -> _Person:
    p = _Person(true_id=f"crm-only-{n + 1:06d}", first=rng.choice(_FIRST), last=rng.choice(_LAST))
    p.phones.append(ids.indian_mobile())
    if rng.random() < _P_EMAIL:
        p.emails.append(_email_for(rng, ids, p.first, p.last, gmail=rng.random() < _P_GMAIL))
    return p


def _crm_row(ctx: _Ctx, p: _Person, copy: int, start_ms: int) -> dict[str, str]:
    """One record of `p`: the main one (copy 0) or a fragment (copy 1, 2)."""
    rng = ctx.rng
    phone = email = office = ""
    roll = rng.random()
    if roll < _P_CRM_NO_CONTACT or not (p.phones or p.emails):
        pass
    elif copy == 0:
        phone = _phone_as_typed(ctx, p.phones[0], 0.0) if p.phones else ""
        email = _email_as_typed(rng, p.emails[0]) if p.emails and rng.random() < _P_CRM_EMAIL else ""
    elif copy == 1 and len(p.phones) + len(p.emails) > 2 and rng.random() < 0.5:
        # The other phone or the work email, as given on another occasion.
        phone = _phone_as_typed(ctx, p.phones[-1], 0.0) if p.phones else ""
        email = _email_as_typed(rng, p.emails[-1]) if p.emails else ""
    elif p.phones and (not p.emails or rng.random() < 0.5):
        phone = _phone_as_typed(ctx, p.phones[0], 0.0)  # a lead from a call: the phone only
    else:
        email = _email_as_typed(rng, p.emails[0])  # a lead from a form: the email only
    if rng.random() < _P_CRM_JUNK:
        if phone or not email:
            phone = rng.choice(_JUNK_PHONES)
        else:
            email = rng.choice(_JUNK_EMAILS)
    if p.office is not None and rng.random() < 0.5:
        office = _spell_phone(rng, p.office)
    created = start_ms - rng.randrange(_CRM_YEARS * 365 * 24 * _HOUR_MS) - _HOUR_MS
    moment = (_EPOCH + _dt.timedelta(milliseconds=created)).astimezone(_IST)
    return {
        "ContactId": "",
        "Full Name": _spell_name(rng, p),
        "Mobile": phone,
        "Phone": office,
        "Email": email,
        "Company": rng.choice(_COMPANIES),
        "City": rng.choice(_CITIES),
        "Lead Source": rng.choice(_CRM_SOURCES),
        "Created Date": moment.isoformat(sep=" ", timespec="seconds"),
    }


def write_crm(directory: Path, rows: list[dict[str, str]], truth: list[TruthRow]) -> None:
    """Write ``crm_contacts.csv`` (as a CRM's "CSV UTF-8" export: a byte-order mark, CRLF, quoted
    where needed) and ``crm_truth.csv`` into `directory`.

    ``crm_truth.csv`` is ``event_id,contact_id,true_customer``: the event id `irl import --map
    CRM_MAP` gives each row, so that `irl evaluate --truth` reads it beside ``truth.csv``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "crm_contacts.csv").open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=CRM_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
    columns = ColumnMap.parse(CRM_MAP).columns
    event_of = {r["ContactId"]: event_id_of({f: r[c] for f, c in columns.items()}) for r in rows}
    with (directory / "crm_truth.csv").open("w", encoding="utf-8", newline="") as out:
        plain = csv.writer(out, lineterminator="\n")
        plain.writerow(["event_id", "contact_id", "true_customer"])
        plain.writerows((event_of[contact], contact, who) for contact, who in truth)
