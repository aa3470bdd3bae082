"""Hand-designed audit data: an Indian retailer with UK and UAE customers (session 39 audit).

Independent of ``streams/synthetic.py``: its own people, touchpoint habits and hard cases.
Writes, into ``--out``:

* ``events.jsonl``: the events as the touchpoints send them, in arrival order (late and
  out-of-order events, resends of one event id, a bot), canonical contract JSON form
  (``docs/producing.md``), plus a few malformed lines.
* ``truth.csv``: ``event_id,true_customer`` for every valid event id (once per id).
* ``malformed.jsonl``: the malformed lines with the reason each should be refused for.
* ``cases.json``: the hard cases, each with its event ids and true people, for reading the results.

Deterministic: ``--seed`` decides everything; the clock is fixed (``--end``), never read.

    python -m bench.audit.make_data --out /tmp/s39-audit/d --seed 39
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import phonenumbers

DAY = 86_400_000
HOUR = 3_600_000
UNKNOWN_TIME_MS = 946_684_800_000

# --- names ---------------------------------------------------------------------------------

HINDU_M = [
    "Rahul",
    "Rohit",
    "Amit",
    "Vikram",
    "Suresh",
    "Rajesh",
    "Anil",
    "Sanjay",
    "Arjun",
    "Karthik",
    "Venkatesh",
    "Pradeep",
    "Manoj",
    "Deepak",
    "Nikhil",
    "Aditya",
    "Harish",
    "Ganesh",
    "Srinivas",
    "Vijay",
]
HINDU_F = [
    "Priya",
    "Sunita",
    "Anjali",
    "Pooja",
    "Lakshmi",
    "Kavya",
    "Meena",
    "Divya",
    "Sneha",
    "Neha",
    "Swati",
    "Ritu",
    "Aishwarya",
    "Deepa",
    "Shalini",
    "Radhika",
    "Bhavna",
    "Geeta",
    "Nandini",
    "Asha",
]
HINDU_SUR = [
    "Sharma",
    "Verma",
    "Gupta",
    "Iyer",
    "Rao",
    "Reddy",
    "Nair",
    "Menon",
    "Patel",
    "Shah",
    "Joshi",
    "Kulkarni",
    "Deshpande",
    "Agarwal",
    "Bansal",
    "Chatterjee",
    "Banerjee",
    "Mukherjee",
    "Pillai",
    "Shetty",
    "Naidu",
    "Desai",
    "Mehta",
    "Kapoor",
    "Malhotra",
    "Srinivasan",
    "Krishnan",
    "Yadav",
]
MUSLIM_M = [
    "Mohammed Irfan",
    "Mohammed Salim",
    "Imran",
    "Faisal",
    "Arshad",
    "Zaheer",
    "Aamir",
    "Sameer",
    "Mohammed Asif",
    "Tariq",
]
MUSLIM_F = ["Fatima", "Ayesha", "Zainab", "Nazia", "Shabana", "Sana", "Farah", "Rukhsar"]
MUSLIM_SUR = ["Khan", "Shaikh", "Ansari", "Qureshi", "Siddiqui", "Syed", "Pathan", "Mirza"]
SIKH_M = ["Harpreet", "Gurpreet", "Manpreet", "Jaswinder", "Balwinder", "Amarjeet"]
SIKH_F = ["Simran", "Harleen", "Jaspreet", "Navneet"]
SIKH_SUR_M = ["Singh", "Singh Gill", "Singh Sandhu", "Singh Bedi"]
SIKH_SUR_F = ["Kaur", "Kaur Gill", "Kaur Sandhu"]
CHRISTIAN_M = ["Joseph", "Thomas", "George", "Anthony", "Francis"]
CHRISTIAN_F = ["Mary", "Teresa", "Reena", "Sheela"]
CHRISTIAN_SUR = ["D'Souza", "Fernandes", "Pereira", "Mathew", "Kurian", "Rodrigues"]
UK_M = ["Oliver", "James", "Harry", "William", "Thomas", "Daniel", "Ravi", "Sunil"]
UK_F = ["Emily", "Charlotte", "Sophie", "Olivia", "Hannah", "Anita"]
UK_SUR = ["Smith", "Walker", "O'Brien", "Taylor", "Hughes", "Patel", "Clarke", "Evans"]
AE_M = ["Ahmed", "Khalid", "Omar", "Yousef", "Hamdan", "Mohammed"]
AE_F = ["Mariam", "Noura", "Huda", "Aisha"]
AE_SUR = ["Al-Mansoori", "Al Nuaimi", "Al-Khalidi", "El-Sayed", "Haddad", "Rahman"]

# WhatsApp profile names a person chooses (beside the real name), and other scripts.
WA_NICK = [
    "Bunty",
    "Pinky",
    "Guddu",
    "Munna",
    "Chintu",
    "Babli",
    "Sweety",
    "Rocky",
    "Jai Mata Di",
    "Waheguru",
    "Alhamdulillah",
    "~ Blessed ~",
    "Busy",
    "Mom",
    "🌸🌸",
    "✨",
    "Jaan",
    "Dev 🙏",
]
DEVANAGARI = {
    "Sunita": "सुनीता",
    "Priya": "प्रिया",
    "Rahul": "राहुल",
    "Amit": "अमित",
    "Pooja": "पूजा",
    "Sharma": "शर्मा",
    "Verma": "वर्मा",
    "Gupta": "गुप्ता",
    "Yadav": "यादव",
    "Joshi": "जोशी",
    "Anil": "अनिल",
    "Rajesh": "राजेश",
    "Meena": "मीना",
    "Neha": "नेहा",
    "Deepak": "दीपक",
}
ARABIC = {
    "Ahmed": "أحمد",
    "Khalid": "خالد",
    "Omar": "عمر",
    "Mariam": "مريم",
    "Noura": "نورة",
    "Mohammed": "محمد",
    "Aisha": "عائشة",
    "Huda": "هدى",
    "Yousef": "يوسف",
    "Hamdan": "حمدان",
}
TAMIL = {"Lakshmi": "லட்சுமி", "Karthik": "கார்த்திக்", "Venkatesh": "வெங்கடேஷ்", "Kavya": "காவ்யா"}

TRANSLIT = {
    "Mohammed": ["Muhammad", "Mohammad", "Mohd", "Md.", "Mohamed"],
    "Lakshmi": ["Laxmi"],
    "Pooja": ["Puja"],
    "Sanjay": ["Sanjai"],
    "Srinivas": ["Shrinivas", "Sreenivas"],
    "Aishwarya": ["Aishvarya"],
    "Deepa": ["Dipa"],
    "Karthik": ["Kartik", "Karthick"],
    "Shaikh": ["Sheikh", "Shaik"],
    "Qureshi": ["Quraishi"],
    "Chatterjee": ["Chaterji"],
    "Iyer": ["Iyyer"],
    "Yousef": ["Yusuf"],
    "Ahmed": ["Ahmad"],
    "Al-Mansoori": ["Al Mansouri", "Mansoori"],
}
HONORIFIC_BEFORE = ["Mr.", "Mr", "Mrs.", "Ms", "Smt.", "Shri", "Dr.", "Sh."]
HONORIFIC_AFTER = ["ji", "bhai", "Madam", "sir"]

EMAIL_DOMAINS_IN = ["gmail.com"] * 7 + ["yahoo.co.in", "rediffmail.com", "outlook.com", "hotmail.com"]
EMAIL_DOMAINS_UK = ["gmail.com", "googlemail.com", "hotmail.co.uk", "btinternet.com", "outlook.com"]
EMAIL_DOMAINS_AE = ["gmail.com", "hotmail.com", "emirates.net.ae", "outlook.com"]

CITIES = {"IN": ["BLR", "MUM", "DEL", "HYD", "CHE", "PUN"], "GB": ["LON"], "AE": ["DXB"]}
LANDLINE_STD = {"BLR": "80", "MUM": "22", "DEL": "11", "HYD": "40", "CHE": "44", "PUN": "20"}
STORE_LANDLINE = {"BLR": "080 4123 7700", "MUM": "022 6123 8800", "DEL": "011 4567 2200"}
TOLL_FREE = "1800 103 4455"
STORE_EMAIL = "care@shopkart.in"
PLACEHOLDER_PHONES = ["9999999999", "1234567890", "0000000000", "9876543210", "+91 00000 00000"]
PLACEHOLDER_EMAILS = ["test@test.com", "na@na.com", "noemail@gmail.com", "abc@abc.com", "none@none.com"]
PLACEHOLDER_NAMES = ["Guest", "NA", "Customer", "Walk-in Customer", "xxx", "Sir"]


@dataclass
class Person:
    pid: str
    country: str
    city: str
    given: str
    surname: str
    gender: str
    phone: str  # E.164 of the person's own mobile
    email: str | None
    wa: bool
    web: bool
    kiosk: bool
    crm: bool
    cookies: list[str] = field(default_factory=list)
    user_id: str | None = None
    card: str | None = None
    landline: str | None = None  # E.164 of a household landline
    extra_email: str | None = None

    @property
    def full(self) -> str:
        return f"{self.given} {self.surname}"


class Gen:
    def __init__(self, seed: int, end_ms: int, days: int) -> None:
        self.rng = random.Random(seed)
        self.end = end_ms
        self.start = end_ms - days * DAY
        self.events: list[tuple[int, dict[str, Any]]] = []  # (arrival_ms, event)
        self.truth: dict[str, str] = {}
        self.used_phones: set[str] = set()
        self.used_emails: set[tuple[str, str]] = set()
        self.counter = 0
        self.cases: dict[str, dict[str, Any]] = {}
        self.people: list[Person] = []

    # --- identifiers ------------------------------------------------------------------------

    def mobile(self, country: str) -> str:
        rng = self.rng
        while True:
            if country == "IN":
                nat = rng.choice("6789") + "".join(rng.choice("0123456789") for _ in range(9))
                e164 = "+91" + nat
            elif country == "GB":
                nat = "7" + rng.choice("4589") + "".join(rng.choice("0123456789") for _ in range(8))
                e164 = "+44" + nat
            else:
                nat = "5" + rng.choice("02568") + "".join(rng.choice("0123456789") for _ in range(7))
                e164 = "+971" + nat
            num = phonenumbers.parse(e164)
            if (
                phonenumbers.is_valid_number(num)
                and phonenumbers.number_type(num) == phonenumbers.PhoneNumberType.MOBILE
                and e164 not in self.used_phones
                and not _patterned(nat)
            ):
                self.used_phones.add(e164)
                return e164

    def landline(self, city: str) -> str:
        rng = self.rng
        while True:
            std = LANDLINE_STD[city]
            sub = rng.choice("2346") + "".join(rng.choice("0123456789") for _ in range(9 - len(std) - 1 + 1))
            sub = sub[: 10 - len(std)]
            e164 = "+91" + std + sub
            num = phonenumbers.parse(e164)
            if phonenumbers.is_valid_number(num) and e164 not in self.used_phones:
                self.used_phones.add(e164)
                return e164

    def spell_phone(self, e164: str, country: str, at_kiosk_abroad: bool = False) -> str:
        """One of the ways a person or a form writes the number."""
        rng = self.rng
        if e164.startswith("+91"):
            n = e164[3:]
            if n[0] in "6789":
                forms = [
                    f"+91 {n[:5]} {n[5:]}",
                    f"0{n[:5]} {n[5:]}",
                    f"0091{n}",
                    f"91-{n}",
                    n,
                    n,
                    f"+91-{n[:5]}-{n[5:]}",
                    f"(+91) {n[:5]}-{n[5:]}",
                    f"{n[:5]}-{n[5:]}",
                    f"+91{n}",
                    f"{n[:3]} {n[3:6]} {n[6:]}",
                    f"0{n}",
                ]
            else:  # landline: STD code without/with trunk 0
                std = next(s for s in LANDLINE_STD.values() if n.startswith(s))
                rest = n[len(std) :]
                forms = [f"0{std} {rest[:4]} {rest[4:]}", f"0{std}-{rest}", f"+91 {std} {rest}", f"(0{std}) {rest}"]
            return rng.choice(forms)
        if e164.startswith("+44"):
            n = e164[3:]
            forms = [f"+44 {n[:4]} {n[4:]}", f"0{n[:4]} {n[4:]}", f"+44{n}", f"0044 {n}", f"+44 (0){n[:4]} {n[4:]}"]
            if country == "GB" and not at_kiosk_abroad:
                # a UK customer on the Indian site often types the number as at home
                forms += [f"0{n[:4]} {n[4:]}", f"0{n}"]
            return rng.choice(forms)
        n = e164[4:]
        forms = [f"+971 {n[:2]} {n[2:5]} {n[5:]}", f"+971{n}", f"00971 {n}", f"0{n[:2]} {n[2:5]} {n[5:]}"]
        return rng.choice(forms)

    def spell_wa(self, e164: str) -> str:
        digits = e164[1:]
        return self.rng.choice(
            [digits, digits, digits, f"+{digits}", f"whatsapp:+{digits}", f"{digits}@c.us", f"{digits}@s.whatsapp.net"]
        )

    def make_email(self, given: str, surname: str, country: str) -> str:
        rng = self.rng
        g = given.lower().replace(" ", "").replace(".", "")
        s = surname.lower().replace(" ", "").replace("'", "").replace("-", "")
        dom = rng.choice({"IN": EMAIL_DOMAINS_IN, "GB": EMAIL_DOMAINS_UK, "AE": EMAIL_DOMAINS_AE}[country])
        local = rng.choice(
            [
                f"{g}.{s}",
                f"{g}{s}",
                f"{g}{s}{rng.randint(1, 99)}",
                f"{g[0]}{s}",
                f"{g}.{s}{rng.randint(80, 99)}",
                f"{s}.{g}",
            ]
        )
        # one mailbox per person: gmail ignores dots, so compare without them
        while (local.replace(".", "") if dom in ("gmail.com", "googlemail.com") else local, dom) in self.used_emails:
            local = f"{local}{rng.randint(1, 9)}"
        self.used_emails.add((local.replace(".", "") if dom in ("gmail.com", "googlemail.com") else local, dom))
        return f"{local}@{dom}"

    def spell_email(self, email: str, person_name: str | None = None) -> str:
        """Gmail dots, +tags, case, a display name, mailto:."""
        rng = self.rng
        local, dom = email.split("@")
        r = rng.random()
        if dom in ("gmail.com", "googlemail.com") and r < 0.15:
            local = local.replace(".", "")
        elif dom == "gmail.com" and r < 0.25 and "." not in local and len(local) > 6:
            cut = rng.randint(2, len(local) - 2)
            local = local[:cut] + "." + local[cut:]
        if dom in ("gmail.com", "outlook.com", "hotmail.com") and rng.random() < 0.1:
            local += rng.choice(["+shopkart", "+offers", "+diwali"])
        out = f"{local}@{dom}"
        r = rng.random()
        if r < 0.1:
            out = out.upper()
        elif r < 0.2:
            out = out[0].upper() + out[1:]
        elif r < 0.25 and person_name:
            out = f"{person_name} <{out}>"
        elif r < 0.28:
            out = f"mailto:{out}"
        elif r < 0.31:
            out = f" {out} "
        return out

    def spell_name(self, p: Person, formal: bool = True) -> str:
        """How a form or a cashier writes the name: typos, initials, honorifics, transliterations."""
        rng = self.rng
        given, surname = p.given, p.surname
        r = rng.random()
        if r < 0.45:
            out = f"{given} {surname}"
        elif r < 0.55:
            out = (
                f"{given[0]}. {surname}" if " " not in given else f"{given.split()[0][0]}. {given.split()[1]} {surname}"
            )
        elif r < 0.62:
            out = f"{(given + ' ' + surname).upper()}"
        elif r < 0.70:
            out = f"{rng.choice(HONORIFIC_BEFORE)} {given} {surname}"
        elif r < 0.75:
            out = f"{surname}, {given}"
        elif r < 0.82:
            out = _typo(rng, f"{given} {surname}")
        elif r < 0.88:
            words = []
            for w in f"{given} {surname}".split():
                alt = TRANSLIT.get(w)
                words.append(rng.choice(alt) if alt and rng.random() < 0.7 else w)
            out = " ".join(words)
        elif r < 0.92 and p.country == "IN":
            out = f"{surname if rng.random() < 0.5 else given} {rng.choice(HONORIFIC_AFTER)}"
        elif r < 0.96:
            out = given.split()[-1] if " " in given else given
        else:
            out = f"{given.lower()} {surname.lower()}"
        return out

    def wa_profile(self, p: Person) -> str | None:
        rng = self.rng
        r = rng.random()
        first = p.given.split()[-1] if p.given.startswith("Mohammed ") else p.given
        if r < 0.35:
            return p.full
        if r < 0.50:
            return first
        if r < 0.60:
            return rng.choice(WA_NICK)
        if r < 0.70:
            g = DEVANAGARI.get(p.given) or ARABIC.get(p.given) or TAMIL.get(p.given)
            s = DEVANAGARI.get(p.surname) or ARABIC.get(p.surname.replace("Al-", "").replace("Al ", "")) or ""
            if g:
                return f"{g} {s}".strip()
            return f"{first} {rng.choice(['🌸', '🙏', '❤️', '✨'])}"
        if r < 0.78:
            return f"{first} {rng.choice(['😊', '🙏', '🌸', '💫'])}"
        if r < 0.85:
            return f"{first} {p.surname[0]}"
        if r < 0.90:
            return None
        return f"{p.full} ({rng.choice(['Work', 'Personal', 'BLR'])})"

    # --- events -----------------------------------------------------------------------------

    def eid(self, touchpoint: str) -> str:
        self.counter += 1
        prefix = {"WEB": "web", "WHATSAPP": "wamid", "KIOSK": "ksk", "CRM": "hs"}[touchpoint]
        h = f"{self.rng.getrandbits(40):010x}"
        return f"{prefix}-{h}-{self.counter}"

    def emit(
        self,
        owner: str,
        touchpoint: str,
        t: int,
        source_id: str,
        interaction: str,
        *,
        phone: str | None = None,
        email: str | None = None,
        name: str | None = None,
        attributes: dict[str, str] | None = None,
        arrival: int | None = None,
        event_id: str | None = None,
        time_form: str = "ms",
    ) -> dict[str, Any]:
        eid = event_id or self.eid(touchpoint)
        occurred: Any = t
        if time_form == "iso":
            occurred = datetime.fromtimestamp(t / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        elif time_form == "ist":
            from datetime import timedelta, timezone

            occurred = datetime.fromtimestamp(t / 1000, timezone(timedelta(hours=5, minutes=30))).isoformat()
        ev: dict[str, Any] = {
            "event_id": eid,
            "touchpoint": touchpoint,
            "occurred_at": occurred,
            "source_id": source_id,
            "interaction": interaction,
        }
        if phone is not None:
            ev["phone"] = phone
        if email is not None:
            ev["email"] = email
        if name is not None:
            ev["name"] = name
        ev["attributes"] = attributes or {}
        self.events.append((arrival if arrival is not None else t + self.rng.randint(200, 20_000), ev))
        self.truth.setdefault(eid, owner)
        return ev

    def when(self) -> int:
        return self.start + self.rng.randrange(self.end - self.start - 2 * DAY)

    def case(self, name: str, note: str, people: list[str], events: list[dict[str, Any]]) -> None:
        c = self.cases.setdefault(name, {"note": note, "people": [], "event_ids": []})
        c["people"] += [p for p in people if p not in c["people"]]
        c["event_ids"] += [e["event_id"] for e in events]


def _patterned(nat: str) -> bool:
    """Keep clear of the product's placeholder patterns: no long runs or repeats."""
    for d in "0123456789":
        if d * 5 in nat:
            return True
    return len(set(nat)) < 5


def _typo(rng: random.Random, s: str) -> str:
    chars = list(s)
    positions = [i for i in range(1, len(chars) - 1) if chars[i].isalpha() and chars[i + 1].isalpha()]
    if not positions:
        return s
    i = rng.choice(positions)
    op = rng.random()
    if op < 0.4:
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    elif op < 0.7:
        del chars[i]
    else:
        chars.insert(i, chars[i])
    return "".join(chars)


# --- people ------------------------------------------------------------------------------------


def make_person(
    g: Gen,
    idx: int,
    country: str | None = None,
    *,
    given: str | None = None,
    surname: str | None = None,
    gender: str | None = None,
    city: str | None = None,
) -> Person:
    rng = g.rng
    if country is None:
        r = rng.random()
        country = "IN" if r < 0.86 else ("GB" if r < 0.93 else "AE")
    gender = gender or rng.choice("MF")
    if given is None or surname is None:
        if country == "IN":
            c = rng.random()
            if c < 0.62:
                gv, sv = (HINDU_M if gender == "M" else HINDU_F), HINDU_SUR
            elif c < 0.80:
                gv, sv = (MUSLIM_M if gender == "M" else MUSLIM_F), MUSLIM_SUR
            elif c < 0.90:
                gv, sv = (SIKH_M if gender == "M" else SIKH_F), (SIKH_SUR_M if gender == "M" else SIKH_SUR_F)
            else:
                gv, sv = (CHRISTIAN_M if gender == "M" else CHRISTIAN_F), CHRISTIAN_SUR
        elif country == "GB":
            gv, sv = (UK_M if gender == "M" else UK_F), UK_SUR
        else:
            gv, sv = (AE_M if gender == "M" else AE_F), AE_SUR
        given = given or rng.choice(gv)
        surname = surname or rng.choice(sv)
    city = city or rng.choice(CITIES[country])
    p = Person(
        pid=f"P{idx:04d}",
        country=country,
        city=city,
        given=given,
        surname=surname,
        gender=gender,
        phone=g.mobile(country),
        email=None,
        wa=rng.random() < 0.7,
        web=rng.random() < 0.7,
        kiosk=rng.random() < (0.55 if country == "IN" else 0.35),
        crm=rng.random() < 0.35,
    )
    if rng.random() < 0.75:
        p.email = g.make_email(given.split()[-1] if given.startswith("Mohammed ") else given, surname, country)
    if p.web:
        p.cookies = [f"ck_{rng.getrandbits(48):012x}" for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        if p.email and rng.random() < 0.8:
            p.user_id = f"u{rng.randint(100000, 999999)}"
    if p.kiosk:
        p.card = rng.choice([f"LC{rng.randint(10**7, 10**8 - 1)}", f"SK-{rng.randint(100000, 999999)}"])
    if not (p.wa or p.web or p.kiosk or p.crm):
        p.web = True
        p.cookies = [f"ck_{rng.getrandbits(48):012x}"]
    return p


def person_history(g: Gen, p: Person) -> None:
    """The person's ordinary life across touchpoints."""
    rng = g.rng
    # WEB: anonymous visits on cookies, a login on a cookie (reveals email), orders under the user id.
    if p.web:
        for ck in p.cookies:
            t0 = g.when()
            for k in range(rng.randint(1, 5)):
                g.emit(
                    p.pid,
                    "WEB",
                    t0 + k * rng.randint(20_000, 600_000),
                    ck,
                    "page_view",
                    attributes={
                        "path": rng.choice(["/", "/sale", "/p/kurta-123", "/cart", "/p/saree-88"]),
                        "ua": "Mozilla/5.0 (Linux; Android 14)",
                    },
                )
            if p.email and rng.random() < 0.85:
                g.emit(p.pid, "WEB", t0 + 3_600_000, ck, "login", email=g.spell_email(p.email, p.full))
            elif p.email is None and rng.random() < 0.6:
                g.emit(p.pid, "WEB", t0 + 3_600_000, ck, "otp_login", phone=g.spell_phone(p.phone, p.country))
        if p.user_id:
            for _ in range(rng.randint(1, 3)):
                t = g.when()
                g.emit(
                    p.pid,
                    "WEB",
                    t,
                    p.user_id,
                    rng.choice(["order", "order", "checkout", "profile_update"]),
                    phone=g.spell_phone(p.phone, p.country) if rng.random() < 0.85 else None,
                    email=g.spell_email(p.email or "", p.full) if p.email and rng.random() < 0.9 else None,
                    name=g.spell_name(p) if rng.random() < 0.9 else None,
                    attributes={"order_total": str(rng.randint(299, 24999)), "currency": "INR"},
                )
        elif p.email is None and rng.random() < 0.5:
            # guest checkout on a cookie: phone and name only
            g.emit(
                p.pid,
                "WEB",
                g.when(),
                p.cookies[0],
                "guest_checkout",
                phone=g.spell_phone(p.phone, p.country),
                name=g.spell_name(p),
            )
    # WHATSAPP: inbound messages with a profile name, outbound templates without.
    if p.wa:
        profile = g.wa_profile(p)
        t0 = g.when()
        for k in range(rng.randint(1, 6)):
            inbound = rng.random() < 0.75
            ev_name = profile if inbound else None
            if inbound and profile and rng.random() < 0.1:
                ev_name = g.wa_profile(p)  # the owner renamed the profile
            g.emit(
                p.pid,
                "WHATSAPP",
                t0 + k * rng.randint(60_000, 2 * DAY),
                g.spell_wa(p.phone),
                "message" if inbound else rng.choice(["template_sent", "status_delivered"]),
                name=ev_name,
                attributes={"direction": "in" if inbound else "out", "text_len": str(rng.randint(2, 300))},
            )
        if rng.random() < 0.2 and p.email:
            # the customer types their email in the chat, the bot extracts it
            g.emit(
                p.pid,
                "WHATSAPP",
                t0 + DAY,
                g.spell_wa(p.phone),
                "email_captured",
                email=g.spell_email(p.email),
                name=profile,
            )
    # KIOSK: loyalty card visits, the card's holder typed with phone and name.
    if p.kiosk:
        prefix = "dxb-" if p.country == "AE" and rng.random() < 0.6 else ""
        for _ in range(rng.randint(1, 4)):
            g.emit(
                p.pid,
                "KIOSK",
                g.when(),
                f"{prefix}{p.card}",
                rng.choice(["visit", "purchase", "return"]),
                phone=g.spell_phone(p.phone, p.country, at_kiosk_abroad=bool(prefix)) if rng.random() < 0.8 else None,
                name=g.spell_name(p) if rng.random() < 0.7 else None,
                email=g.spell_email(p.email) if p.email and rng.random() < 0.25 else None,
                attributes={"store": f"{p.city}-{rng.randint(1, 4):02d}", "terminal": f"T{rng.randint(1, 6)}"},
            )
    # CRM (HubSpot export): one or two records, first+last joined, with created dates or unknown.
    if p.crm:
        for k in range(rng.choice([1, 1, 1, 2])):
            created = UNKNOWN_TIME_MS if rng.random() < 0.4 else g.start - rng.randint(30, 900) * DAY
            nm = f"{p.given} {p.surname}" if k == 0 else g.spell_name(p)
            g.emit(
                p.pid,
                "CRM",
                created,
                f"hs-{rng.randint(10**6, 10**7 - 1)}",
                "crm_import",
                phone=g.spell_phone(p.phone, p.country) if rng.random() < 0.85 else None,
                email=g.spell_email(p.email) if p.email and rng.random() < 0.85 else None,
                name=nm,
                attributes={"import_file": "hubspot-export-2026-11.csv", "lifecycle": "customer"},
                arrival=g.start + rng.randint(0, 2 * HOUR),
            )


# --- hard cases ------------------------------------------------------------------------------


def hard_cases(g: Gen, next_idx: Callable[[], int]) -> None:
    rng = g.rng

    # 1. Families sharing one email, each with their own phone and name (4 families).
    for f in range(4):
        sur = rng.choice(["Gupta", "Kapoor", "Agarwal", "Iyer", "Khan"])
        members = [
            make_person(g, next_idx(), "IN", given=gv, surname=sur, gender=gd, city="DEL")
            for gv, gd in [(rng.choice(HINDU_M), "M"), (rng.choice(HINDU_F), "F")]
        ]
        if f % 2 == 0:
            members.append(
                make_person(g, next_idx(), "IN", given=rng.choice(["Aarav", "Ishaan", "Diya"]), surname=sur, city="DEL")
            )
        fam_mail = f"{sur.lower()}family{rng.randint(1, 99)}@gmail.com"
        evs = []
        for m in members:
            m.email, m.web, m.wa, m.kiosk, m.crm = None, False, True, False, False
            g.people.append(m)
            person_history(g, m)
            for _ in range(2):
                evs.append(
                    g.emit(
                        m.pid,
                        "WEB",
                        g.when(),
                        f"u{rng.randint(100000, 999999)}",
                        "order",
                        phone=g.spell_phone(m.phone, "IN"),
                        email=g.spell_email(fam_mail),
                        name=g.spell_name(m),
                    )
                )
            evs.append(
                g.emit(
                    m.pid,
                    "KIOSK",
                    g.when(),
                    f"LC{rng.randint(10**7, 10**8 - 1)}",
                    "visit",
                    email=g.spell_email(fam_mail),
                    name=m.full,
                )
            )
        g.case(
            "family_email", "family members sharing one email, each with an own phone", [m.pid for m in members], evs
        )

    # 2. Households sharing a landline (3 households of 2-3 people), given at kiosks and web.
    for _h in range(3):
        city = rng.choice(["BLR", "MUM", "CHE"])
        sur = rng.choice(HINDU_SUR)
        members = [
            make_person(g, next_idx(), "IN", surname=sur, city=city, gender=gd) for gd in rng.choice(["MF", "MFF"])
        ]
        line = g.landline(city)
        evs = []
        for m in members:
            m.landline = line
            g.people.append(m)
            person_history(g, m)
            for _ in range(2):
                evs.append(
                    g.emit(
                        m.pid,
                        "KIOSK",
                        g.when(),
                        m.card or f"LC{rng.randint(10**7, 10**8 - 1)}",
                        "purchase",
                        phone=g.spell_phone(line, "IN"),
                        name=g.spell_name(m),
                        attributes={"store": f"{city}-01"},
                    )
                )
        g.case("landline", "household landline typed by each member with their own name", [m.pid for m in members], evs)

    # 3. Phone numbers reassigned to a new owner (4): old owner in the early part, new owner later.
    for _r in range(4):
        old = make_person(g, next_idx(), "IN")
        new = make_person(g, next_idx(), "IN")
        new.phone = old.phone
        old.wa = new.wa = True
        old.kiosk = new.kiosk = False
        old.crm = True
        evs = []
        mid = g.start + (g.end - g.start) // 3
        for who, lo, hi in [(old, g.start - 200 * DAY, g.start - 60 * DAY), (new, mid, g.end - 3 * DAY)]:
            g.people.append(who)
            # the WhatsApp chat of the number, in its owner's era
            prof = who.full if rng.random() < 0.6 else who.given
            for k in range(rng.randint(2, 4)):
                t = rng.randint(lo, hi) if who is new else rng.randint(mid - 40 * DAY, mid - 20 * DAY)
                evs.append(
                    g.emit(who.pid, "WHATSAPP", t, g.spell_wa(who.phone), "message", name=prof if k % 2 == 0 else None)
                )
            tw = rng.randint(lo, hi) if who is new else g.start - rng.randint(60, 200) * DAY
            evs.append(
                g.emit(
                    who.pid,
                    "CRM" if who is old else "WEB",
                    tw,
                    f"hs-{rng.randint(10**6, 10**7 - 1)}" if who is old else f"u{rng.randint(100000, 999999)}",
                    "crm_import" if who is old else "order",
                    phone=g.spell_phone(who.phone, "IN"),
                    email=g.spell_email(who.email) if who.email else None,
                    name=g.spell_name(who),
                    arrival=g.start + HOUR if who is old else None,
                )
            )
        g.case(
            "reassigned_phone",
            "a number reassigned: old owner (CRM + chat), new owner later (chat + web)",
            [old.pid, new.pid],
            evs,
        )

    # 4. Two strangers of the same common name, own phones and emails (5 pairs).
    for _s in range(5):
        gv, sv = rng.choice(
            [
                ("Rahul", "Sharma"),
                ("Mohammed Irfan", "Khan"),
                ("Priya", "Patel"),
                ("Gurpreet", "Singh"),
                ("Amit", "Kumar"),
                ("Anjali", "Gupta"),
            ]
        )
        a = make_person(g, next_idx(), "IN", given=gv, surname=sv)
        b = make_person(g, next_idx(), "IN", given=gv, surname=sv)
        evs_before = len(g.events)
        for x in (a, b):
            x.web = x.kiosk = True
            if not x.cookies:
                x.cookies = [f"ck_{rng.getrandbits(48):012x}"]
            x.card = x.card or f"LC{rng.randint(10**7, 10**8 - 1)}"
            g.people.append(x)
            person_history(g, x)
        g.case("namesakes", "two strangers with one common name", [a.pid, b.pid], [e for _, e in g.events[evs_before:]])

    # 5. A wife uses her husband's mobile at the kiosk and on WhatsApp (3 couples).
    for _c in range(3):
        sur = rng.choice(HINDU_SUR)
        h = make_person(g, next_idx(), "IN", surname=sur, gender="M", given=rng.choice(HINDU_M))
        w = make_person(g, next_idx(), "IN", surname=sur, gender="F", given=rng.choice(HINDU_F))
        g.people += [h, w]
        person_history(g, h)
        person_history(g, w)
        evs = []
        for _ in range(2):
            evs.append(
                g.emit(
                    w.pid,
                    "KIOSK",
                    g.when(),
                    f"LC{rng.randint(10**7, 10**8 - 1)}",
                    "purchase",
                    phone=g.spell_phone(h.phone, "IN"),
                    name=g.spell_name(w),
                )
            )
        g.case("wife_on_husband_phone", "a spouse giving the partner's mobile under her own name", [h.pid, w.pid], evs)

    # 6. UK and UAE customers writing their numbers without a country code on the Indian site.
    for _u in range(4):
        uk = make_person(g, next_idx(), "GB")
        uk.wa, uk.web = True, True
        uk.cookies = uk.cookies or [f"ck_{rng.getrandbits(48):012x}"]
        uk.user_id = uk.user_id or f"u{rng.randint(100000, 999999)}"
        g.people.append(uk)
        person_history(g, uk)
        n = uk.phone[3:]
        evs = [
            g.emit(
                uk.pid,
                "WEB",
                g.when(),
                uk.user_id,
                "order",
                phone=f"0{n[:4]} {n[4:]}",
                name=uk.full,
                attributes={"currency": "GBP"},
            ),
            g.emit(uk.pid, "WHATSAPP", g.when(), uk.phone[1:], "message", name=uk.full),
        ]
        g.case("uk_national_format", "a UK mobile written 07xxx on the web; its WhatsApp is 447xxx", [uk.pid], evs)
    for _u in range(3):
        ae = make_person(g, next_idx(), "AE")
        ae.wa = ae.kiosk = True
        ae.card = ae.card or f"LC{rng.randint(10**7, 10**8 - 1)}"
        g.people.append(ae)
        person_history(g, ae)
        n = ae.phone[4:]
        evs = [
            g.emit(
                ae.pid,
                "KIOSK",
                g.when(),
                f"dxb-{ae.card}",
                "purchase",
                phone=f"0{n[:2]} {n[2:5]} {n[5:]}",
                name=ae.full,
                attributes={"store": "DXB-01"},
            ),
            g.emit(
                ae.pid,
                "WEB",
                g.when(),
                f"ck_{rng.getrandbits(48):012x}",
                "guest_checkout",
                phone=f"0{n[:2]} {n[2:5]} {n[5:]}",
                name=ae.full,
            ),
            g.emit(ae.pid, "WHATSAPP", g.when(), ae.phone[1:], "message", name=ae.full),
        ]
        g.case(
            "uae_national_format",
            "a UAE mobile 05x at a Dubai kiosk (dxb- rule) and on the web (no rule)",
            [ae.pid],
            evs,
        )

    # 7. Walk-ins giving placeholders at kiosks (their own loyalty card or a receipt id each).
    evs = []
    walkins = []
    for _w in range(10):
        wp = make_person(g, next_idx(), "IN")
        walkins.append(wp.pid)
        g.people.append(wp)
        evs.append(
            g.emit(
                wp.pid,
                "KIOSK",
                g.when(),
                f"RCPT-{rng.randint(10**6, 10**7 - 1)}",
                "purchase",
                phone=rng.choice(PLACEHOLDER_PHONES),
                email=rng.choice([*PLACEHOLDER_EMAILS, None]),
                name=rng.choice([*PLACEHOLDER_NAMES, None]),
            )
        )
    g.case("placeholders_walkins", "walk-ins with placeholder phone/email/name on their own receipt ids", walkins, evs)
    # placeholders on real people's web orders (they then give real data elsewhere)
    evs = []
    ppl = []
    for p in rng.sample([q for q in g.people if q.user_id], 8):
        ppl.append(p.pid)
        evs.append(
            g.emit(
                p.pid,
                "WEB",
                g.when(),
                p.user_id or "",
                "order",
                phone=rng.choice(PLACEHOLDER_PHONES),
                email=g.spell_email(p.email) if p.email else None,
                name=g.spell_name(p),
            )
        )
    g.case("placeholder_on_real", "real customers typing 9999999999-style placeholders beside their email", ppl, evs)

    # 8. The store's landline / toll-free / care email typed for walk-ins who give their own email.
    evs = []
    ppl = []
    for _w in range(6):
        wp = make_person(g, next_idx(), "IN", city="BLR")
        wp.email = wp.email or g.make_email(wp.given, wp.surname, "IN")
        ppl.append(wp.pid)
        g.people.append(wp)
        evs.append(
            g.emit(
                wp.pid,
                "KIOSK",
                g.when(),
                f"RCPT-{rng.randint(10**6, 10**7 - 1)}",
                "purchase",
                phone=rng.choice([STORE_LANDLINE["BLR"], TOLL_FREE]),
                email=g.spell_email(wp.email),
                name=g.spell_name(wp),
            )
        )
        evs.append(
            g.emit(wp.pid, "WEB", g.when(), f"ck_{rng.getrandbits(48):012x}", "login", email=g.spell_email(wp.email))
        )
    g.case(
        "store_number_walkins",
        "the store's landline or toll-free number typed for walk-ins with their own email",
        ppl,
        evs,
    )
    evs = []
    ppl = []
    for _w in range(4):
        wp = make_person(g, next_idx(), "IN", city="BLR")
        ppl.append(wp.pid)
        g.people.append(wp)
        evs.append(
            g.emit(
                wp.pid,
                "KIOSK",
                g.when(),
                f"RCPT-{rng.randint(10**6, 10**7 - 1)}",
                "purchase",
                phone=g.spell_phone(wp.phone, "IN"),
                email=STORE_EMAIL,
                name=g.spell_name(wp),
            )
        )
        evs.append(g.emit(wp.pid, "WHATSAPP", g.when(), wp.phone[1:], "message", name=wp.given))
    g.case("store_email_walkins", "the store's own care@ address typed for walk-ins who give their own phone", ppl, evs)

    # 9. Bots: one cookie, many page views, a junk form.
    for bot in range(2):
        ck = f"ck_{rng.getrandbits(48):012x}"
        t0 = g.when()
        evs = []
        for k in range(rng.randint(120, 180)):
            evs.append(
                g.emit(
                    f"BOT{bot}",
                    "WEB",
                    t0 + k * rng.randint(300, 3000),
                    ck,
                    "page_view",
                    attributes={"path": f"/p/{rng.randint(1, 5000)}", "ua": "python-requests/2.31"},
                )
            )
        evs.append(
            g.emit(
                f"BOT{bot}",
                "WEB",
                t0 + 200_000,
                ck,
                "signup",
                phone="1234567890",
                email="test@test.com",
                name="test test",
            )
        )
        g.case("bot", "a crawler on one cookie", [f"BOT{bot}"], evs)

    # 10. Mohammed/Muhammad variants of one person across touchpoints.
    for _m in range(3):
        p = make_person(
            g,
            next_idx(),
            "IN",
            given="Mohammed " + rng.choice(["Irfan", "Salim", "Asif", "Rafiq"]),
            surname=rng.choice(MUSLIM_SUR),
            gender="M",
        )
        p.wa = p.web = p.kiosk = True
        p.cookies = p.cookies or [f"ck_{rng.getrandbits(48):012x}"]
        p.card = p.card or f"LC{rng.randint(10**7, 10**8 - 1)}"
        g.people.append(p)
        person_history(g, p)
        second = p.given.split()[1]
        evs = [
            g.emit(
                p.pid,
                "KIOSK",
                g.when(),
                p.card,
                "visit",
                phone=g.spell_phone(p.phone, "IN"),
                name=f"{v} {second} {p.surname}",
            )
            for v in rng.sample(["Md.", "Mohd", "Muhammad", "Mohammad", "MOHAMMED"], 3)
        ]
        evs.append(g.emit(p.pid, "WHATSAPP", g.when(), p.phone[1:], "message", name=f"{second} {p.surname}"))
        g.case("mohammed_variants", "one person written Md./Mohd/Muhammad", [p.pid], evs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=39)
    ap.add_argument("--people", type=int, default=190, help="ordinary people, besides the hard cases")
    ap.add_argument("--end", default="2026-12-06T00:00:00Z", help="latest event time (fixed, never the clock)")
    ap.add_argument("--days", type=int, default=60)
    args = ap.parse_args()
    end_ms = int(datetime.fromisoformat(args.end.replace("Z", "+00:00")).timestamp() * 1000)
    g = Gen(args.seed, end_ms, args.days)
    idx = [0]

    def next_idx() -> int:
        idx[0] += 1
        return idx[0]

    for _ in range(args.people):
        p = make_person(g, next_idx())
        g.people.append(p)
        person_history(g, p)
    hard_cases(g, next_idx)
    rng = g.rng

    # Duplicates: a producer's retries of the same event id with the same content (3% of events),
    # some arriving days later; one with the time written as ISO instead of ms (same instant).
    base = list(g.events)
    dups = []
    for arrival, ev in rng.sample(base, max(1, len(base) * 3 // 100)):
        copy = dict(ev)
        copy["attributes"] = dict(ev["attributes"])
        later = arrival + rng.choice([1_000, 30_000, HOUR, 2 * DAY])
        g.events.append((later, copy))
        dups.append(copy)
    g.case("duplicates", "the same event id sent again (a producer's retry)", [], dups)

    # Late and out-of-order: 4% of events arrive 3 to 20 days after they happened.
    late = []
    for i in rng.sample(range(len(base)), len(base) * 4 // 100):
        arrival, ev = g.events[i]
        if isinstance(ev["occurred_at"], int) and ev["occurred_at"] > g.start:
            g.events[i] = (ev["occurred_at"] + rng.randint(3, 20) * DAY, ev)
            late.append(ev)
    g.case("late", "events arriving 3 to 20 days after they happened", [], late)

    # A few events with ISO times, with and without a zone (the latter need --timezone: rejected).
    for _arrival, ev in rng.sample(base, 15):
        t = ev["occurred_at"]
        if isinstance(t, int) and t > g.start:
            ev["occurred_at"] = (
                datetime.fromtimestamp(t / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
                if rng.random() < 0.5
                else datetime.fromtimestamp(t / 1000, UTC)
                .astimezone(datetime.fromisoformat("2026-01-01T00:00:00+05:30").tzinfo)
                .isoformat()
            )

    g.events.sort(key=lambda ae: ae[0])
    lines = [json.dumps(ev, ensure_ascii=False) for _, ev in g.events]

    # Malformed events: each should be refused (replay's rejects, produce's rejects, or the worker's dead letters).
    t = g.end - DAY
    malformed = [
        (
            {
                "touchpoint": "WEB",
                "occurred_at": t,
                "source_id": "ck_bad1",
                "interaction": "page_view",
                "attributes": {},
            },
            "no event_id",
        ),
        (
            {
                "event_id": "",
                "touchpoint": "KIOSK",
                "occurred_at": t,
                "source_id": "LC1",
                "interaction": "visit",
                "phone": "+91 98450 11223",
                "attributes": {},
            },
            "empty event_id",
        ),
        (
            {
                "event_id": "bad-3",
                "touchpoint": "SMS",
                "occurred_at": t,
                "source_id": "x",
                "interaction": "message",
                "attributes": {},
            },
            "unknown touchpoint",
        ),
        (
            {
                "event_id": "bad-4",
                "touchpoint": "WEB",
                "occurred_at": "yesterday",
                "source_id": "ck_bad4",
                "interaction": "page_view",
                "attributes": {},
            },
            "unreadable time",
        ),
        (
            {
                "event_id": "bad-5",
                "touchpoint": "WEB",
                "occurred_at": "2026-11-20 14:03:00",
                "source_id": "ck_bad5",
                "interaction": "page_view",
                "attributes": {},
            },
            "ISO time without a zone",
        ),
        (
            {
                "event_id": "bad-6",
                "touchpoint": "WHATSAPP",
                "occurred_at": 1_893_456_000_000,
                "source_id": "919845011223",
                "interaction": "message",
                "name": "Future Person",
                "attributes": {},
            },
            "time years ahead (2030)",
        ),
        (
            {
                "event_id": "bad-7",
                "touchpoint": "KIOSK",
                "occurred_at": 1_700_000_000,
                "source_id": "LC7",
                "interaction": "visit",
                "attributes": {},
            },
            "epoch seconds read as ms: 1970",
        ),
        (
            {"event_id": "bad-8", "touchpoint": "WEB", "occurred_at": t, "interaction": "page_view", "attributes": {}},
            "no source_id",
        ),
        (
            {"event_id": "bad-9", "touchpoint": "WEB", "occurred_at": t, "source_id": "ck_bad9", "attributes": {}},
            "no interaction",
        ),
        (
            {
                "event_id": "bad-10",
                "touchpoint": "WEB",
                "occurred_at": t,
                "source_id": "ck_bad10",
                "interaction": "x",
                "attributes": "utm=google",
            },
            "attributes not a map",
        ),
    ]
    mal_lines = [json.dumps(ev, ensure_ascii=False) for ev, _ in malformed]
    mal_lines.append('{"event_id": "bad-11", "touchpoint": "WEB", "occurred_at": ')  # truncated JSON
    reasons = [r for _, r in malformed] + ["truncated JSON"]
    # scatter them into the stream
    for line in mal_lines:
        lines.insert(rng.randrange(len(lines)), line)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with (args.out / "malformed.jsonl").open("w", encoding="utf-8") as f:
        for line, reason in zip(mal_lines, reasons, strict=True):
            f.write(json.dumps({"line": line, "expected": reason}, ensure_ascii=False) + "\n")
    with (args.out / "truth.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["event_id", "true_customer"])
        for eid, owner in sorted(g.truth.items()):
            w.writerow([eid, owner])
    (args.out / "cases.json").write_text(json.dumps(g.cases, indent=1, ensure_ascii=False), encoding="utf-8")
    people = {p.pid: {"name": p.full, "country": p.country, "phone": p.phone, "email": p.email} for p in g.people}
    (args.out / "people.json").write_text(json.dumps(people, indent=1, ensure_ascii=False), encoding="utf-8")
    n_valid = len(g.events)
    print(
        f"{n_valid} events ({len(g.truth)} distinct ids, {len(dups)} resends, {len(late)} late), "
        f"{len(mal_lines)} malformed, {len(people) + 2} people, cases: "
        + ", ".join(f"{k} {len(v['event_ids'])}" for k, v in g.cases.items())
    )


if __name__ == "__main__":
    main()
