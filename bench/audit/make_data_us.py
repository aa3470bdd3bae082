# ruff: noqa: E501, B007
"""Hand-designed audit data, second market: a US retailer with a London store (session 40 audit).

Independent of ``streams/synthetic.py`` and of ``make_data.py``'s people (it reuses only its event
writer, `Gen.emit`). US phone spellings (``(415) 867-2291``, ``415.867.2291``, ``1-415-...``,
``+1 ...``, ``001 ...`` as typed from abroad, ``011 1 ...``, extensions), UK ``+44 (0)7...`` /
``0044`` / ``07...`` at the London store's kiosk (``lon-`` cards), US email habits (Gmail dots and
``+tags``, Yahoo, iCloud, AOL, corporate domains, domain typos), names with middle names,
suffixes (``Jr.``, ``III``), nicknames (Bob/Robert, Bill/William, Liz/Elizabeth, Tom/Thomas, ...),
hyphenated and married surnames, Hispanic double surnames; households (landlines, family
mailboxes, a father and son of one name), a corporate switchboard with extensions, toll-free and
fictional 555 numbers, placeholders, bots. Writes the same files as ``make_data.py``.

    python -m bench.audit.make_data_us --out /tmp/s40-audit/d --seed 40
    IRL_DEFAULT_REGION=US IRL_PHONE_REGIONS='KIOSK:lon-=GB' irl replay ...
"""

from __future__ import annotations

import argparse
import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import phonenumbers

from bench.audit.make_data import DAY, HOUR, UNKNOWN_TIME_MS, Gen, Person, _patterned, _typo

US_M = [
    ("Robert", ["Bob", "Bobby", "Rob"]),
    ("William", ["Bill", "Will", "Billy"]),
    ("James", ["Jim", "Jimmy"]),
    ("Thomas", ["Tom", "Tommy"]),
    ("Michael", ["Mike"]),
    ("Richard", ["Rick", "Rich"]),
    ("Charles", ["Chuck", "Charlie"]),
    ("Theodore", ["Ted", "Teddy"]),
    ("Henry", ["Hank", "Harry"]),
    ("Christopher", ["Chris"]),
    ("Daniel", ["Dan", "Danny"]),
    ("Anthony", ["Tony"]),
    ("Joseph", ["Joe"]),
    ("Matthew", ["Matt"]),
    ("Lawrence", ["Larry"]),
    ("Jose", []),
    ("Carlos", []),
    ("Kevin", []),
    ("Brian", []),
    ("Tyler", []),
    ("Jamal", []),
    ("Minh", []),
]
US_F = [
    ("Elizabeth", ["Liz", "Beth", "Betsy", "Libby"]),
    ("Margaret", ["Peggy", "Maggie", "Meg"]),
    ("Patricia", ["Patty", "Pat", "Trish"]),
    ("Jennifer", ["Jen", "Jenny"]),
    ("Katherine", ["Kate", "Katie", "Kathy"]),
    ("Rebecca", ["Becky"]),
    ("Susan", ["Sue"]),
    ("Deborah", ["Debbie", "Deb"]),
    ("Victoria", ["Vicky", "Tori"]),
    ("Alexandra", ["Alex", "Sasha"]),
    ("Maria", []),
    ("Ashley", []),
    ("Jessica", []),
    ("Emily", []),
    ("Lauren", []),
    ("Keisha", []),
    ("Mei", []),
    ("Grace", []),
]
US_MIDDLE = ["Ann", "Marie", "Lynn", "Michael", "James", "Lee", "Ray", "Elizabeth", "Jean", "Allen"]
US_SUR = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "O'Connor",
    "McDonald",
    "Nguyen",
    "Kim",
    "Chen",
    "Patel",
    "Washington",
    "Baker",
]
HISPANIC_SUR = ["Garcia", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Perez", "Ramirez"]
GB_M = [("Oliver", ["Ollie"]), ("George", []), ("Harry", []), ("Edward", ["Ed", "Ted"]), ("Alfie", [])]
GB_F = [("Charlotte", ["Lottie"]), ("Amelia", ["Millie"]), ("Isla", []), ("Eleanor", ["Ellie", "Nell"])]
GB_SUR = ["Hughes", "Evans", "Wright", "Roberts", "Cooper", "Ward", "Khan", "Begum"]
SUFFIXES = ["Jr.", "Jr", "III", "II", "Sr."]
AREA = {
    "New York": ["212", "646", "718", "917", "347"],
    "San Francisco": ["415", "628", "650", "510"],
    "Chicago": ["312", "773", "872"],
    "Houston": ["713", "832", "281"],
    "Atlanta": ["404", "678", "770"],
    "Seattle": ["206", "425", "253"],
}
STORE_TOLL_FREE = "1-800-642-7676"
STORE_LINE = "(212) 736-5000"
CORP_SWITCHBOARD = "+1 (312) 876-2200"
FICTIONAL = "(212) 555-0123"
EMAIL_US = (
    ["gmail.com"] * 5 + ["yahoo.com"] * 2 + ["outlook.com", "hotmail.com", "icloud.com", "aol.com", "comcast.net"]
)
EMAIL_GB = ["gmail.com", "gmail.com", "hotmail.co.uk", "btinternet.com", "outlook.com", "yahoo.co.uk"]
DOMAIN_TYPO = {
    "gmail.com": "gmial.com",
    "yahoo.com": "yaho.com",
    "icloud.com": "iclod.com",
    "hotmail.com": "hotmial.com",
}
PLACEHOLDER_PHONES = ["555-555-5555", "(000) 000-0000", "123-456-7890", "999-999-9999", "0000000000"]
PLACEHOLDER_EMAILS = ["none@none.com", "noemail@noemail.com", "test@test.com", "na@na.com", "declined@declined.com"]
PLACEHOLDER_NAMES = ["Customer", "Guest", "N/A", "Valued Customer", "Walk In"]
WA_PHRASES = ["Blessed 🙏", "Busy", "Hey there! I am using WhatsApp.", "Live Laugh Love"]


class UsGen(Gen):
    """US / UK identifiers and habits over `Gen`'s event writer."""

    def mobile(self, country: str, city: str = "New York") -> str:
        rng = self.rng
        while True:
            if country == "GB":
                nat = "7" + rng.choice("4589") + "".join(rng.choice("0123456789") for _ in range(8))
                e164 = "+44" + nat
                ok_type = phonenumbers.PhoneNumberType.MOBILE
            else:
                area = rng.choice(AREA[city])
                exch = rng.choice("23456789") + "".join(rng.choice("0123456789") for _ in range(2))
                if exch == "555" or exch[1:] == "11":
                    continue
                nat = area + exch + "".join(rng.choice("0123456789") for _ in range(4))
                e164 = "+1" + nat
                ok_type = phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE
            num = phonenumbers.parse(e164)
            if (
                phonenumbers.is_valid_number(num)
                and phonenumbers.number_type(num) == ok_type
                and e164 not in self.used_phones
                and not _patterned(nat)
            ):
                self.used_phones.add(e164)
                return e164

    def spell_phone(self, e164: str, country: str, at_kiosk_abroad: bool = False) -> str:
        rng = self.rng
        if e164.startswith("+44"):
            n = e164[3:]
            forms = [f"+44 {n[:4]} {n[4:]}", f"+44 (0){n[:4]} {n[4:]}", f"+44 (0) {n[:4]} {n[4:]}", f"+44{n}"]
            forms += [f"0044 {n[:4]} {n[4:]}", f"011 44 {n[:4]} {n[4:]}"]
            if at_kiosk_abroad:  # at the London store, as at home
                forms += [f"0{n[:4]} {n[4:]}", f"0{n[:4]} {n[4:7]} {n[7:]}", f"0{n}"]
            return rng.choice(forms)
        n = e164[2:]
        a, x, s = n[:3], n[3:6], n[6:]
        forms = [
            f"({a}) {x}-{s}",
            f"({a}) {x}-{s}",
            f"{a}-{x}-{s}",
            f"{a}-{x}-{s}",
            f"{a}.{x}.{s}",
            n,
            f"1-{a}-{x}-{s}",
            f"+1 {a} {x} {s}",
            f"+1 ({a}) {x}-{s}",
            f"1{n}",
            f"({a}){x}-{s}",
            f"+1-{a}-{x}-{s}",
        ]
        if at_kiosk_abroad:  # a US visitor at the London store, from abroad
            forms += [f"001 {a} {x} {s}", f"001-{a}-{x}-{s}"]
        return rng.choice(forms)

    def make_email(self, given: str, surname: str, country: str) -> str:
        rng = self.rng
        g = given.lower()
        s = surname.lower().replace(" ", "").replace("'", "").replace("-", "")
        dom = rng.choice(EMAIL_GB if country == "GB" else EMAIL_US)
        local = rng.choice(
            [
                f"{g}.{s}",
                f"{g}{s}",
                f"{g}{s}{rng.randint(1, 99)}",
                f"{g[0]}{s}",
                f"{g}.{s}{rng.randint(60, 99)}",
                f"{g[0]}{s}{rng.randint(1, 9)}",
            ]
        )
        while (local.replace(".", "") if dom == "gmail.com" else local, dom) in self.used_emails:
            local = f"{local}{rng.randint(1, 9)}"
        self.used_emails.add((local.replace(".", "") if dom == "gmail.com" else local, dom))
        return f"{local}@{dom}"

    def spell_email(self, email: str, person_name: str | None = None) -> str:
        rng = self.rng
        local, dom = email.split("@")
        r = rng.random()
        if dom == "gmail.com" and r < 0.15:
            local = local.replace(".", "")
        if dom in ("gmail.com", "outlook.com", "hotmail.com", "icloud.com") and rng.random() < 0.1:
            local += rng.choice(["+shop", "+deals", "+blackfriday"])
        if dom in DOMAIN_TYPO and rng.random() < 0.04:
            dom = DOMAIN_TYPO[dom]
        out = f"{local}@{dom}"
        r = rng.random()
        if r < 0.08:
            out = out.upper()
        elif r < 0.16:
            out = out[0].upper() + out[1:]
        elif r < 0.21 and person_name:
            out = f'"{person_name}" <{out}>'
        elif r < 0.24:
            out = f" {out}"
        return out

    def spell_name(self, p: Person, formal: bool = True) -> str:
        rng = self.rng
        up: Any = p
        given, surname = p.given, p.surname
        middle, suffix, nicks = up.middle, up.suffix, up.nicks
        r = rng.random()
        sfx = f" {suffix}" if suffix and rng.random() < 0.6 else ""
        if r < 0.35:
            out = f"{given} {surname}{sfx}"
        elif r < 0.47 and middle:
            out = f"{given} {middle[0]}. {surname}{sfx}" if rng.random() < 0.6 else f"{given} {middle} {surname}{sfx}"
        elif r < 0.62 and nicks:
            out = f"{rng.choice(nicks)} {surname}"
        elif r < 0.68:
            out = f"{surname}, {given}{sfx}"
        elif r < 0.74:
            out = f"{given[0]}. {surname}"
        elif r < 0.80:
            out = f"{given} {surname}".upper()
        elif r < 0.86:
            out = _typo(rng, f"{given} {surname}")
        elif r < 0.90:
            out = f"{rng.choice(['Mr.', 'Mrs.', 'Ms.', 'Dr.']) if formal else ''} {given} {surname}".strip()
        elif r < 0.95:
            out = given if not nicks or rng.random() < 0.5 else rng.choice(nicks)
        else:
            out = f"{given.lower()} {surname.lower()}"
        return out

    def wa_profile(self, p: Person) -> str | None:
        rng = self.rng
        up: Any = p
        r = rng.random()
        if r < 0.35:
            return p.full
        if r < 0.50:
            return p.given
        if r < 0.62 and up.nicks:
            return rng.choice(up.nicks) if rng.random() < 0.5 else f"{rng.choice(up.nicks)} {p.surname}"
        if r < 0.70:
            return f"{p.given} {rng.choice(['😊', '🇺🇸', '✨', '🏈'])}"
        if r < 0.78:
            return f"{p.given} {p.surname[0]}"
        if r < 0.84:
            return rng.choice(WA_PHRASES)
        if r < 0.90:
            return None
        return f"{p.full} ({rng.choice(['Work', 'Personal'])})"

    def spell_wa(self, e164: str) -> str:
        digits = e164[1:]
        return self.rng.choice([digits, digits, digits, digits, f"+{digits}", f"{digits}@c.us", f"whatsapp:+{digits}"])


def make_person(g: UsGen, idx: int, country: str | None = None, **kw: Any) -> Person:
    rng = g.rng
    country = country or ("US" if rng.random() < 0.9 else "GB")
    gender = kw.get("gender") or rng.choice("MF")
    if country == "GB":
        gv = GB_M if gender == "M" else GB_F
        sur = GB_SUR
        city = "London"
    else:
        gv = US_M if gender == "M" else US_F
        sur = HISPANIC_SUR if rng.random() < 0.18 else US_SUR
        city = rng.choice(list(AREA))
    given_nicks = kw.get("given") or rng.choice(gv)
    given, nicks = given_nicks if isinstance(given_nicks, tuple) else (given_nicks, [])
    surname = kw.get("surname") or rng.choice(sur)
    if country == "US" and surname in HISPANIC_SUR and rng.random() < 0.4 and "surname" not in kw:
        surname = f"{surname} {rng.choice([s for s in HISPANIC_SUR if s != surname])}"
    p = Person(
        pid=f"U{idx:04d}",
        country=country,
        city=city,
        given=given,
        surname=surname,
        gender=gender,
        phone=g.mobile(country, city if country == "US" else "New York"),
        email=None,
        wa=rng.random() < (0.35 if country == "US" else 0.7),
        web=rng.random() < 0.8,
        kiosk=rng.random() < 0.5,
        crm=rng.random() < 0.35,
    )
    up: Any = p
    up.middle = rng.choice(US_MIDDLE) if rng.random() < 0.4 else None
    up.suffix = kw.get("suffix") or (rng.choice(SUFFIXES[:4]) if gender == "M" and rng.random() < 0.06 else None)
    up.nicks = nicks
    if rng.random() < 0.8:
        p.email = g.make_email(given, surname.split()[0], country)
    if p.web:
        p.cookies = [f"ga_{rng.getrandbits(48):012x}" for _ in range(rng.choice([1, 1, 2, 3]))]
        if p.email and rng.random() < 0.8:
            p.user_id = f"acct-{rng.randint(1000000, 9999999)}"
    if p.kiosk:
        store = "lon-" if country == "GB" else ""
        p.card = f"{store}RW{rng.randint(10**9, 10**10 - 1)}"
    if not (p.wa or p.web or p.kiosk or p.crm):
        p.web = True
        p.cookies = [f"ga_{rng.getrandbits(48):012x}"]
    return p


def person_history(g: UsGen, p: Person, *, uk_visit: bool = False) -> None:
    rng = g.rng
    if p.web:
        for ck in p.cookies:
            t0 = g.when()
            for k in range(rng.randint(1, 4)):
                g.emit(p.pid, "WEB", t0 + k * rng.randint(20_000, 600_000), ck, "page_view",
                       attributes={"path": rng.choice(["/", "/deals", "/p/sneakers-12", "/cart"]), "ua": "Mozilla/5.0 (iPhone)"})  # fmt: skip
            if p.email and rng.random() < 0.85:
                g.emit(p.pid, "WEB", t0 + HOUR, ck, "login", email=g.spell_email(p.email, p.full))
            elif p.email is None and rng.random() < 0.6:
                g.emit(p.pid, "WEB", t0 + HOUR, ck, "sms_login", phone=g.spell_phone(p.phone, p.country))
        if p.user_id:
            for _ in range(rng.randint(1, 3)):
                g.emit(p.pid, "WEB", g.when(), p.user_id, rng.choice(["order", "order", "checkout", "profile_update"]),
                       phone=g.spell_phone(p.phone, p.country) if rng.random() < 0.8 else None,
                       email=g.spell_email(p.email or "", p.full) if p.email and rng.random() < 0.9 else None,
                       name=g.spell_name(p) if rng.random() < 0.9 else None,
                       attributes={"order_total": f"{rng.randint(15, 900)}.{rng.randint(0, 99):02d}", "currency": "USD"})  # fmt: skip
        elif rng.random() < 0.5:
            g.emit(p.pid, "WEB", g.when(), p.cookies[0], "guest_checkout", phone=g.spell_phone(p.phone, p.country),
                   email=g.spell_email(p.email) if p.email else None, name=g.spell_name(p))  # fmt: skip
    if p.wa:
        profile = g.wa_profile(p)
        t0 = g.when()
        for k in range(rng.randint(1, 5)):
            inbound = rng.random() < 0.75
            g.emit(p.pid, "WHATSAPP", min(t0 + k * rng.randint(60_000, 2 * DAY), g.end - HOUR), g.spell_wa(p.phone),
                   "message" if inbound else "template_sent", name=profile if inbound else None,
                   attributes={"direction": "in" if inbound else "out"})  # fmt: skip
    if p.kiosk:
        for _ in range(rng.randint(1, 4)):
            g.emit(p.pid, "KIOSK", g.when(), p.card or "", rng.choice(["visit", "purchase", "return"]),
                   phone=g.spell_phone(p.phone, p.country, at_kiosk_abroad=(p.card or "").startswith("lon-")) if rng.random() < 0.8 else None,
                   name=g.spell_name(p) if rng.random() < 0.7 else None,
                   email=g.spell_email(p.email) if p.email and rng.random() < 0.3 else None,
                   attributes={"store": "LON-01" if (p.card or "").startswith("lon-") else f"{p.city[:3].upper()}-{rng.randint(1, 9):02d}"})  # fmt: skip
    if uk_visit and not p.card:
        # a US customer at the London store: a card there, the number typed from abroad
        card = f"lon-RW{rng.randint(10**9, 10**10 - 1)}"
        for _ in range(2):
            g.emit(p.pid, "KIOSK", g.when(), card, "purchase", phone=g.spell_phone(p.phone, "US", at_kiosk_abroad=True),
                   name=g.spell_name(p), attributes={"store": "LON-01"})  # fmt: skip
    if p.crm:
        for k in range(rng.choice([1, 1, 2])):
            created = UNKNOWN_TIME_MS if rng.random() < 0.3 else g.start - rng.randint(30, 900) * DAY
            g.emit(p.pid, "CRM", created, f"sf-003{rng.randint(10**11, 10**12 - 1)}", "crm_import",
                   phone=g.spell_phone(p.phone, p.country) if rng.random() < 0.85 else None,
                   email=g.spell_email(p.email) if p.email and rng.random() < 0.85 else None,
                   name=p.full if k == 0 else g.spell_name(p),
                   attributes={"import_file": "salesforce-contacts-2026-11.csv"}, arrival=g.start + rng.randint(0, 2 * HOUR))  # fmt: skip


def hard_cases(g: UsGen, nxt: Any) -> None:
    rng = g.rng

    def person(country: str = "US", **kw: Any) -> Person:
        p = make_person(g, nxt(), country, **kw)
        g.people.append(p)
        return p

    # 1. Father and son of one name (Sr. / Jr.) on the household landline and a family mailbox, each
    #    with his own mobile.
    for _ in range(3):
        sur = rng.choice(US_SUR)
        given = rng.choice([("Robert", ["Bob"]), ("William", ["Bill"]), ("James", ["Jim"]), ("Michael", ["Mike"])])
        sr = person(given=given, surname=sur, gender="M", suffix="Sr.")
        jr = person(given=given, surname=sur, gender="M", suffix="Jr.")
        land = g.mobile("US", sr.city)
        fam = f"the{sur.lower().replace(chr(39), '')}family{rng.randint(1, 99)}@gmail.com"
        evs = []
        for q in (sr, jr):
            for _ in range(2):
                evs.append(
                    g.emit(
                        q.pid,
                        "WEB",
                        g.when(),
                        f"acct-{q.pid}",
                        "order",
                        email=fam,
                        phone=g.spell_phone(q.phone, "US"),
                        name=f"{q.given} {q.surname} {q.__dict__['suffix']}",
                    )
                )
            evs.append(
                g.emit(
                    q.pid,
                    "KIOSK",
                    g.when(),
                    f"RW{q.pid}",
                    "purchase",
                    phone=g.spell_phone(land, "US"),
                    name=f"{q.given} {q.surname} {q.__dict__['suffix']}",
                )
            )
            evs.append(g.emit(q.pid, "WHATSAPP", g.when(), q.phone[1:], "message", name=f"{q.given} {q.surname}"))
        g.case(
            "sr_jr", "father and son of one name (Sr./Jr.) on a landline and a family mailbox", [sr.pid, jr.pid], evs
        )

    # 2. Households: a landline shared by a couple and a teenager, each with their own mobile.
    for _ in range(4):
        sur = rng.choice(US_SUR)
        ps = [person(surname=sur, gender="M"), person(surname=sur, gender="F"), person(surname=sur)]
        land = g.mobile("US", ps[0].city)
        evs = []
        for q in ps:
            for _ in range(rng.randint(1, 2)):
                evs.append(
                    g.emit(
                        q.pid,
                        "KIOSK",
                        g.when(),
                        f"RW{q.pid}",
                        "purchase",
                        phone=g.spell_phone(land, "US"),
                        name=g.spell_name(q),
                    )
                )
            evs.append(
                g.emit(
                    q.pid,
                    "WEB",
                    g.when(),
                    f"acct-{q.pid}",
                    "order",
                    phone=g.spell_phone(q.phone, "US"),
                    name=g.spell_name(q),
                )
            )
            person_history(g, q)
        g.case("landline", "a household landline shared by three people", [q.pid for q in ps], evs)

    # 3. Family mailbox: two parents and a college kid, each with a phone.
    for _ in range(3):
        sur = rng.choice(US_SUR)
        ps = [person(surname=sur, gender="M"), person(surname=sur, gender="F"), person(surname=sur)]
        fam = f"{sur.lower().replace(chr(39), '')}.household@{rng.choice(['gmail.com', 'yahoo.com', 'comcast.net'])}"
        evs = []
        for q in ps:
            for _ in range(rng.randint(1, 3)):
                evs.append(
                    g.emit(
                        q.pid,
                        "WEB",
                        g.when(),
                        f"acct-{q.pid}",
                        "order",
                        email=g.spell_email(fam),
                        phone=g.spell_phone(q.phone, "US"),
                        name=g.spell_name(q),
                    )
                )
        g.case("family_email", "a family mailbox of three people, each with their own phone", [q.pid for q in ps], evs)

    # 4. Married name: the CRM and old orders under the maiden name, newer ones under the married
    #    (or hyphenated) name, same mobile and email.
    for _ in range(6):
        p = person(gender="F")
        new_sur = rng.choice([s for s in US_SUR if s != p.surname])
        evs = [
            g.emit(
                p.pid,
                "CRM",
                g.start - 400 * DAY,
                f"sf-maiden-{p.pid}",
                "crm_import",
                phone=g.spell_phone(p.phone, "US"),
                email=p.email,
                name=f"{p.given} {p.surname}",
            )
        ]
        married = rng.choice(
            [f"{p.given} {new_sur}", f"{p.given} {p.surname}-{new_sur}", f"{p.given} {p.surname} {new_sur}"]
        )
        for _ in range(3):
            evs.append(
                g.emit(
                    p.pid,
                    rng.choice(["WEB", "KIOSK"]),
                    g.when(),
                    f"acct-{p.pid}",
                    "order",
                    phone=g.spell_phone(p.phone, "US"),
                    email=p.email,
                    name=married,
                )
            )
        g.case(
            "married_name",
            "maiden name in the CRM, married or hyphenated name since, one phone and email",
            [p.pid],
            evs,
        )

    # 5. Hyphenated surnames written in part.
    for _ in range(4):
        p = person(surname=f"{rng.choice(HISPANIC_SUR)}-{rng.choice(US_SUR)}")
        a, b = p.surname.split("-")
        evs = [
            g.emit(
                p.pid,
                "WEB",
                g.when(),
                f"acct-{p.pid}",
                "order",
                phone=g.spell_phone(p.phone, "US"),
                email=p.email,
                name=f"{p.given} {nm}",
            )
            for nm in (p.surname, a, b, f"{a} {b}")
        ]
        g.case("hyphenated", "a hyphenated surname written whole, in part, or with a space", [p.pid], evs)

    # 6. A corporate switchboard with extensions: five colleagues give it at checkout, each with a work email.
    ps = [person() for _ in range(5)]
    evs = []
    for q in ps:
        work = f"{q.given[0].lower()}{q.surname.split()[0].lower().replace(chr(39), '')}@initech-corp.com"
        for _ in range(2):
            evs.append(
                g.emit(
                    q.pid,
                    "WEB",
                    g.when(),
                    f"acct-{q.pid}",
                    "order",
                    phone=f"{CORP_SWITCHBOARD} ext. {rng.randint(100, 999)}",
                    email=work,
                    name=g.spell_name(q),
                )
            )
        person_history(g, q)
    g.case(
        "switchboard",
        "a company's switchboard with extensions, five colleagues with work emails",
        [q.pid for q in ps],
        evs,
    )

    # 7. Walk-ins at a kiosk: store toll-free number, the store's own line, a fictional 555-01xx, placeholders.
    evs = []
    for k in range(9):
        q = person()
        typed = [STORE_TOLL_FREE, STORE_LINE, FICTIONAL][k % 3]
        evs.append(
            g.emit(
                q.pid,
                "KIOSK",
                g.when(),
                f"RCPT-{rng.randint(10**6, 10**7 - 1)}",
                "purchase",
                phone=typed,
                name=g.spell_name(q) if k % 2 else None,
                email=g.spell_email(q.email) if q.email else None,
            )
        )
        person_history(g, q)
    for k in range(10):
        q = person()
        evs.append(
            g.emit(
                q.pid,
                "KIOSK",
                g.when(),
                f"RCPT-{rng.randint(10**6, 10**7 - 1)}",
                "purchase",
                phone=rng.choice(PLACEHOLDER_PHONES),
                email=rng.choice(PLACEHOLDER_EMAILS),
                name=rng.choice(PLACEHOLDER_NAMES),
            )
        )
    g.case("walk_ins", "store numbers, a fictional 555-0123 and placeholders typed for walk-ins", [], evs)

    # 8. A fictional 555-01xx number given by strangers who would rather not (no name, own cards).
    evs = []
    for _ in range(4):
        q = person()
        evs.append(g.emit(q.pid, "KIOSK", g.when(), f"RW-fake-{q.pid}", "visit", phone="(415) 555-0100"))
        evs.append(
            g.emit(
                q.pid,
                "KIOSK",
                g.when(),
                f"RW-fake-{q.pid}",
                "purchase",
                phone=g.spell_phone(q.phone, "US"),
                name=q.full,
            )
        )
    g.case("fictional_555", "strangers giving the fictional (415) 555-0100 at a kiosk, without a name", [], evs)

    # 9. A wife on her husband's mobile (WhatsApp under his name, her kiosk visits under hers).
    for _ in range(3):
        sur = rng.choice(US_SUR)
        h, w = person(surname=sur, gender="M"), person(surname=sur, gender="F")
        evs = [g.emit(h.pid, "WHATSAPP", g.when(), h.phone[1:], "message", name=h.full)]
        evs += [
            g.emit(
                w.pid,
                "KIOSK",
                g.when(),
                f"RW{w.pid}",
                "purchase",
                phone=g.spell_phone(h.phone, "US"),
                name=g.spell_name(w),
            )
            for _ in range(2)
        ]
        evs += [
            g.emit(
                h.pid,
                "WEB",
                g.when(),
                f"acct-{h.pid}",
                "order",
                phone=g.spell_phone(h.phone, "US"),
                name=g.spell_name(h),
            )
        ]
        g.case("wife_on_husband_phone", "a wife's kiosk visits on her husband's mobile", [h.pid, w.pid], evs)

    # 10. Namesakes: two Jennifer Nguyens, two Michael Johnsons, own details, one shop.
    for given, sur in (
        (("Jennifer", ["Jen"]), "Nguyen"),
        (("Michael", ["Mike"]), "Johnson"),
        (("Maria", []), "Garcia"),
    ):
        one, two = person(given=given, surname=sur), person(given=given, surname=sur)
        evs = []
        for q in (one, two):
            evs.append(
                g.emit(
                    q.pid,
                    "WEB",
                    g.when(),
                    f"acct-{q.pid}",
                    "order",
                    phone=g.spell_phone(q.phone, "US"),
                    email=q.email,
                    name=q.full,
                )
            )
            person_history(g, q)
        g.case("namesakes", "two people of one common name", [one.pid, two.pid], evs)

    # 11. US customers at the London store (001 ... typed from abroad), UK customers on WhatsApp.
    for _ in range(6):
        q = person()
        person_history(g, q, uk_visit=True)
        g.case("us_in_london", "a US customer's number typed at the London kiosk (001, +1, national)", [q.pid], [])
    for _ in range(6):
        q = person("GB")
        q.kiosk = True
        q.card = f"lon-RW{rng.randint(10**9, 10**10 - 1)}"
        q.wa = True
        person_history(g, q)
        g.case("uk_customers", "UK customers: +44 (0), 0044, 07... at the London kiosk, WhatsApp 447...", [q.pid], [])

    # 12. iCloud's me.com / icloud.com aliases; corporate email with a +tag.
    for _ in range(3):
        q = person()
        local = f"{q.given.lower()}{q.surname.split()[0].lower().replace(chr(39), '')}{rng.randint(1, 99)}"
        evs = [
            g.emit(q.pid, "WEB", g.when(), f"acct-{q.pid}", "order", email=f"{local}@{dom}", name=q.full)
            for dom in ("icloud.com", "me.com", "mac.com")
        ]
        evs.append(
            g.emit(
                q.pid,
                "KIOSK",
                g.when(),
                f"RW{q.pid}",
                "purchase",
                email=f"{local}@me.com",
                phone=g.spell_phone(q.phone, "US"),
            )
        )
        g.case("icloud_alias", "one iCloud mailbox as @icloud.com, @me.com and @mac.com", [q.pid], evs)

    # 13. Bots on one cookie.
    for bot in range(2):
        evs = [
            g.emit(f"BOT{bot}", "WEB", g.when(), f"ga_bot{bot}", "page_view", attributes={"ua": "python-requests/2.31"})
            for _ in range(15)
        ]
        g.case("bots", "a scraper on one cookie", [f"BOT{bot}"], evs)


MALFORMED: list[tuple[dict[str, Any], str]] = [
    ({"touchpoint": "WEB", "occurred_at": 0, "source_id": "ga_bad1", "interaction": "page_view", "attributes": {}}, "no event_id"),
    ({"event_id": "us-bad-2", "touchpoint": "POS", "occurred_at": 0, "source_id": "x", "interaction": "visit", "attributes": {}}, "unknown touchpoint"),
    ({"event_id": "us-bad-3", "touchpoint": "WEB", "occurred_at": "12/01/2026 3:04 PM", "source_id": "ga_bad3", "interaction": "page_view", "attributes": {}}, "US date, unreadable"),
    ({"event_id": "us-bad-4", "touchpoint": "WEB", "occurred_at": "2026-11-20T14:03:00", "source_id": "ga_bad4", "interaction": "page_view", "attributes": {}}, "ISO time without a zone"),
    ({"event_id": "us-bad-5", "touchpoint": "KIOSK", "occurred_at": 1_764_000_000, "source_id": "RW1", "interaction": "visit", "attributes": {}}, "epoch seconds read as ms: 1970"),
    ({"event_id": "us-bad-6", "touchpoint": "WEB", "occurred_at": 0, "source_id": "ga_bad6", "interaction": "order", "phone": "\u202e1234", "attributes": {}}, "a right-to-left override in the phone"),
    ({"event_id": "us-bad-7", "touchpoint": "WEB", "occurred_at": 0, "source_id": "ga_bad7", "interaction": "x", "attributes": ["utm"]}, "attributes not a map"),
]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=40)
    ap.add_argument("--people", type=int, default=200)
    ap.add_argument("--end", default="2026-12-06T00:00:00Z")
    ap.add_argument("--days", type=int, default=60)
    args = ap.parse_args()
    end_ms = int(datetime.fromisoformat(args.end.replace("Z", "+00:00")).timestamp() * 1000)
    g = UsGen(args.seed, end_ms, args.days)
    idx = [0]

    def nxt() -> int:
        idx[0] += 1
        return idx[0]

    for _ in range(args.people):
        p = make_person(g, nxt())
        g.people.append(p)
        person_history(g, p)
    hard_cases(g, nxt)
    rng = g.rng
    base = list(g.events)
    dups = []
    for arrival, ev in rng.sample(base, len(base) * 3 // 100):
        copy = dict(ev, attributes=dict(ev["attributes"]))
        g.events.append((arrival + rng.choice([1_000, 30_000, HOUR, 2 * DAY]), copy))
        dups.append(copy)
    g.case("duplicates", "the same event id sent again", [], dups)
    late = []
    for i in rng.sample(range(len(base)), len(base) * 4 // 100):
        arrival, ev = g.events[i]
        if isinstance(ev["occurred_at"], int) and ev["occurred_at"] > g.start:
            g.events[i] = (ev["occurred_at"] + rng.randint(3, 20) * DAY, ev)
            late.append(ev)
    g.case("late", "events arriving 3 to 20 days after they happened", [], late)
    for _a, ev in rng.sample(base, 12):  # ISO times with US offsets
        t = ev["occurred_at"]
        if isinstance(t, int) and t > g.start:
            tz = datetime.fromisoformat("2026-01-01T00:00:00-05:00").tzinfo
            ev["occurred_at"] = datetime.fromtimestamp(t / 1000, UTC).astimezone(tz).isoformat()
    g.events.sort(key=lambda ae: ae[0])
    lines = [json.dumps(ev, ensure_ascii=False) for _, ev in g.events]
    mal = []
    for bad, reason in MALFORMED:
        if bad.get("occurred_at") == 0:
            bad["occurred_at"] = g.end - DAY
        mal.append((json.dumps(bad, ensure_ascii=False), reason))
    mal.append(('{"event_id": "us-bad-8", "touchpoint": "WEB", "occurred_at": ', "truncated JSON"))
    for line, _ in mal:
        lines.insert(rng.randrange(len(lines)), line)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with (args.out / "malformed.jsonl").open("w", encoding="utf-8") as f:
        for line, reason in mal:
            f.write(json.dumps({"line": line, "expected": reason}, ensure_ascii=False) + "\n")
    with (args.out / "truth.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["event_id", "true_customer"])
        for eid, owner in sorted(g.truth.items()):
            w.writerow([eid, owner])
    (args.out / "cases.json").write_text(json.dumps(g.cases, indent=1, ensure_ascii=False), encoding="utf-8")
    people = {p.pid: {"name": p.full, "country": p.country, "phone": p.phone, "email": p.email} for p in g.people}
    (args.out / "people.json").write_text(json.dumps(people, indent=1, ensure_ascii=False), encoding="utf-8")
    print(
        f"{len(g.events)} events ({len(g.truth)} distinct ids, {len(dups)} resends, {len(late)} late), "
        f"{len(mal)} malformed, {len(people)} people, cases: "
        + ", ".join(f"{k} {len(v['event_ids'])}" for k, v in g.cases.items())
    )


if __name__ == "__main__":
    main()
