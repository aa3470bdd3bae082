"""The generated data set: deterministic, valid against the contract, and as messy as real data."""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import random
import re
import string
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from click.testing import CliRunner

from resolver.interaction import from_json
from streams import synthetic
from streams.commands.generate import command
from streams.synthetic import generate, generate_to, summary, write

CUSTOMERS = 1500
JUNK_PHONES = {"1234567890", "9999999999", "0000000000", "99999 99999"}
JUNK_EMAILS = {"test@test.com", "na@na.com", "noemail@example.com"}
HOUR = 3_600_000

Events = list[dict[str, Any]]


@pytest.fixture(scope="module")
def data() -> tuple[Events, list[tuple[str, str]]]:
    return generate(CUSTOMERS, seed=7)


@pytest.fixture(scope="module")
def owner(data: tuple[Events, list[tuple[str, str]]]) -> dict[str, str]:
    return dict(data[1])


def _e164(raw: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, "IN")
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _masked(raw: str) -> bool:
    return "*" in raw


def _phones_by_number(events: Events, owner: dict[str, str]) -> dict[str, set[str]]:
    """E.164 -> true customers that typed it (phone field and WhatsApp ids), junk and masks left out."""
    out: dict[str, set[str]] = defaultdict(set)
    for e in events:
        raws = [e["phone"]] if e["phone"] and e["phone"] not in JUNK_PHONES and not _masked(e["phone"]) else []
        if e["touchpoint"].upper() == "WHATSAPP":
            raws.append("+" + e["source_id"])
        for raw in raws:
            number = _e164(raw)
            assert number is not None, raw
            out[number].add(owner[e["event_id"]])
    return out


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        write(tmp_path / name, *generate(200, seed=seed))
    read = {n: ((tmp_path / n / "events.jsonl").read_bytes(), (tmp_path / n / "truth.csv").read_bytes()) for n in "abc"}
    assert read["a"] == read["b"]
    assert read["a"][0] != read["c"][0]
    assert read["a"][1] != read["c"][1]


def test_every_line_is_a_valid_event_and_truth_covers_each_event_once(tmp_path: Path) -> None:
    events, truth = generate(300, seed=5)
    write(tmp_path, events, truth)
    lines = (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(events)
    parsed = [from_json(json.loads(line)) for line in lines]  # raises on any invalid line
    truth_lines = (tmp_path / "truth.csv").read_text(encoding="utf-8").splitlines()
    assert truth_lines[0] == "event_id,true_customer"
    ids = [row.split(",")[0] for row in truth_lines[1:]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {e.event_id for e in parsed}


def test_about_five_events_per_customer(data: tuple[Events, list[tuple[str, str]]]) -> None:
    _, truth = data
    assert len({c for _, c in truth}) == CUSTOMERS
    assert 4.5 <= len(truth) / CUSTOMERS <= 5.5


def test_all_three_touchpoints_with_their_kinds_of_source_ids(data: tuple[Events, list[tuple[str, str]]]) -> None:
    events, _ = data
    by_tp: dict[str, Events] = defaultdict(list)
    for e in events:
        by_tp[e["touchpoint"].upper()].append(e)
    assert set(by_tp) == {"WEB", "WHATSAPP", "KIOSK"}
    web_ids = Counter(e["source_id"][:5] for e in by_tp["WEB"])
    assert web_ids["anon-"] > 0 and sum(n for k, n in web_ids.items() if k.startswith("u")) > 0
    anon_with_pii = [e for e in by_tp["WEB"] if e["source_id"].startswith("anon-") and (e["email"] or e["phone"])]
    assert anon_with_pii
    kiosk_ids = Counter(e["source_id"][:3] for e in by_tp["KIOSK"])
    assert kiosk_ids["KC-"] > 0 and kiosk_ids["KV-"] > 0


def test_whatsapp_ids_are_valid_international_numbers_and_rarely_carry_email(
    data: tuple[Events, list[tuple[str, str]]],
) -> None:
    wa = [e for e in data[0] if e["touchpoint"].upper() == "WHATSAPP"]
    assert all(e["source_id"].isdigit() for e in wa)
    assert all(phonenumbers.is_valid_number(phonenumbers.parse("+" + e["source_id"], None)) for e in wa)
    assert sum(1 for e in wa if e["email"]) / len(wa) < 0.1
    assert any(not e["source_id"].startswith("91") for e in wa)  # foreign WhatsApp users too


def test_every_phone_is_a_placeholder_a_mask_or_a_valid_number(data: tuple[Events, list[tuple[str, str]]]) -> None:
    phones = [e["phone"] for e in data[0] if e["phone"]]
    masked = [p for p in phones if _masked(p)]
    real = [p for p in phones if p not in JUNK_PHONES and not _masked(p)]
    assert len(real) + len(masked) < len(phones)  # placeholders are present
    assert all(re.fullmatch(r"\d\d\*+\d\d", p) for p in masked)
    invalid = [p for p in real if not phonenumbers.is_valid_number(phonenumbers.parse(p, "IN"))]
    assert invalid == []
    indian = {_e164(p) for p in real if _e164(p).startswith("+91")}  # type: ignore[union-attr]
    mobiles = {p for p in indian if p is not None and p[3] in "6789"}
    # The rest are office landlines: a city code (Bengaluru 80, Mumbai 22, ...) and eight digits.
    assert all(re.fullmatch(r"\+91(80|22|11|44|40|33)[2-6]\d{7}", p or "") for p in indian - mobiles)
    assert len(mobiles) > 10 * len(indian - mobiles)


@pytest.mark.parametrize(
    "pattern",
    [
        r"\+91 \d{5} \d{5}",
        r"0\d{5}-\d{5}",
        r"\(\+91\) \d{10}",
        r"\+91\.\d{5}\.\d{5}",
        r" \d{10} ",
        r"91-\d{10}",
        r"0091 \d{10}",
        r"\d{5} \d{5}",
        r"\+91\d{10}",
    ],
)
def test_indian_numbers_come_in_the_ways_people_type_them(
    data: tuple[Events, list[tuple[str, str]]], pattern: str
) -> None:
    regex = re.compile(pattern)
    assert sum(1 for e in data[0] if e["phone"] and regex.fullmatch(e["phone"])) >= 5


def test_foreign_numbers_keep_their_country(data: tuple[Events, list[tuple[str, str]]]) -> None:
    regions = Counter(
        phonenumbers.region_code_for_number(phonenumbers.parse(e["phone"], "IN"))
        for e in data[0]
        if e["phone"] and e["phone"] not in JUNK_PHONES
    )
    assert {"US", "GB", "AE", "SG"} <= set(regions)
    assert regions["IN"] > 10 * sum(n for r, n in regions.items() if r != "IN")


def test_a_store_phone_is_a_hub_and_households_share_a_phone(
    data: tuple[Events, list[tuple[str, str]]], owner: dict[str, str]
) -> None:
    people = _phones_by_number(data[0], owner)
    sharing = Counter(len(s) for s in people.values())
    assert max(sharing) > 20  # the store's own number, typed for many different people
    assert sharing[2] >= 5  # households (and nothing else shares a number between two people)


def test_real_world_patterns_are_present_at_low_rates(data: tuple[Events, list[tuple[str, str]]]) -> None:
    """Issue 18: extensions, masks, swapped name order, short names, family mailboxes, shared lines."""
    events = data[0]
    phones = [e["phone"] for e in events if e["phone"]]
    emails = [e["email"] for e in events if e["email"]]
    names = [e["name"] for e in events if e["name"]]
    extensions = [p for p in phones if re.search(r"(x|ext\.?|extn)\s*\d+$", p, re.IGNORECASE)]
    assert 0.005 < len(extensions) / len(phones) < 0.05
    masked = [p for p in phones if _masked(p)] + [m for m in emails if "***@" in m]
    assert 0.001 < len(masked) / (len(phones) + len(emails)) < 0.02
    surnames = {x.upper() for x in synthetic._LAST}
    swapped = [
        n
        for n in names
        if re.fullmatch(r"[A-Z][A-Za-z']+,? [A-Z][a-z]+", n) and n.split()[0].rstrip(",").upper() in surnames
    ]
    assert 0.01 < len(swapped) / len(names) < 0.1
    assert any(n in {f[:3] for f in synthetic._FIRST} for n in names)  # a short form of a first name
    owner = dict(data[1])
    by_mailbox: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e["email"] and "family" in e["email"].lower():
            by_mailbox[e["email"].strip().lower().replace("googlemail", "gmail").replace(".", "")].add(
                owner[e["event_id"]]
            )
    assert sum(1 for who in by_mailbox.values() if len(who) == 2) >= 3  # family mailboxes of two people
    lines = _phones_by_number(events, owner)
    offices = {n: who for n, who in lines.items() if n[3] not in "6789" and n.startswith("+91")}
    assert any(len(who) >= 2 for who in offices.values())  # an office line that several people give


def test_household_members_have_different_names_and_emails(
    data: tuple[Events, list[tuple[str, str]]], owner: dict[str, str]
) -> None:
    events = data[0]
    people = _phones_by_number(events, owner)
    first_names: dict[str, set[str]] = defaultdict(set)
    emails: dict[str, set[str]] = defaultdict(set)
    for e in events:
        who = owner[e["event_id"]]
        if e["name"] and " " in e["name"] and "." not in e["name"]:
            first_names[who].add(e["name"].split()[0].lower())
        if e["email"] and e["email"].strip().lower() not in JUNK_EMAILS:
            emails[who].add(e["email"].strip().lower())
    pairs = [tuple(s) for s in people.values() if len(s) == 2]
    checked = 0
    for a, b in pairs:
        if first_names[a] and first_names[b] and emails[a] and emails[b]:
            checked += 1
            assert not first_names[a] & first_names[b]
            assert not emails[a] & emails[b]
    assert checked >= 3


def test_typos_make_another_valid_number_one_digit_away(
    data: tuple[Events, list[tuple[str, str]]], owner: dict[str, str]
) -> None:
    mine: dict[str, set[str]] = defaultdict(set)
    for number, who in _phones_by_number(data[0], owner).items():
        if len(who) == 1:
            mine[next(iter(who))].add(number)

    def one_apart(a: str, b: str) -> bool:
        return len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1

    typos = sum(1 for nums in mine.values() for a in nums for b in nums if a < b and one_apart(a, b))
    assert typos >= 10
    two_phones = sum(1 for nums in mine.values() if len(nums) >= 2)
    assert two_phones > typos  # second phones, not only typos


def test_emails_gmail_variants_placeholders_and_second_addresses(
    data: tuple[Events, list[tuple[str, str]]], owner: dict[str, str]
) -> None:
    emails = [e["email"] for e in data[0] if e["email"]]
    assert any(m.endswith("@googlemail.com") for m in emails)
    assert any(re.search(r"\+\w+@gmail\.com$", m) for m in emails)
    assert any(m != m.lower() for m in emails)
    assert any(m != m.strip() for m in emails)
    assert {m.strip().lower() for m in emails} & JUNK_EMAILS
    mailboxes: dict[str, set[str]] = defaultdict(set)
    for e in data[0]:
        if e["email"] and e["email"].strip().lower() not in JUNK_EMAILS:
            local, domain = e["email"].strip().lower().split("@")
            if domain in ("gmail.com", "googlemail.com"):
                local, domain = local.split("+")[0].replace(".", ""), "gmail.com"
            mailboxes[owner[e["event_id"]]].add(f"{local}@{domain}")
    assert sum(1 for boxes in mailboxes.values() if len(boxes) >= 2) >= 10
    # Gmail dot variants: one mailbox, several spellings.
    spellings: dict[str, set[str]] = defaultdict(set)
    for m in emails:
        low = m.strip().lower()
        if low.endswith("@gmail.com") and "+" not in low:
            spellings[low.replace(".", "").removesuffix("@gmailcom")].add(low)
    assert any(len(s) >= 2 for s in spellings.values())


def test_names_vary_by_case_initial_and_typo(data: tuple[Events, list[tuple[str, str]]]) -> None:
    names = [e["name"] for e in data[0] if e["name"]]
    assert any(n.isupper() for n in names)
    assert any(n.islower() for n in names)
    assert any(re.fullmatch(r"[A-Z]\. \S+", n) for n in names)


def test_duplicates_late_and_out_of_order_events(data: tuple[Events, list[tuple[str, str]]]) -> None:
    events = data[0]
    counts = Counter(e["event_id"] for e in events)
    dupes = [eid for eid, n in counts.items() if n > 1]
    assert len(dupes) >= 10
    first: dict[str, dict[str, Any]] = {}
    for e in events:
        if e["event_id"] in first:
            assert e == first[e["event_id"]]  # a resend carries the same content
        first.setdefault(e["event_id"], e)
    times = [from_json(e).occurred_at for e in events]
    assert any(b < a for a, b in itertools.pairwise(times))
    latest = late = 0
    for t in times:
        late += latest - t > HOUR
        latest = max(latest, t)
    assert late >= 10
    assert sorted(times) != times


def test_times_and_touchpoints_come_in_several_spellings(data: tuple[Events, list[tuple[str, str]]]) -> None:
    kinds = Counter(
        "ms" if isinstance(e["occurred_at"], int) else e["occurred_at"][-6:] if "+" in e["occurred_at"] else "Z"
        for e in data[0]
    )
    assert kinds["ms"] > 0 and kinds["Z"] > 0 and kinds["+05:30"] > 0
    assert any(e["touchpoint"].islower() for e in data[0])


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        generate(10, seed=1, days=0)
    with pytest.raises(ValueError):
        generate(-1, seed=1)
    assert generate(0, seed=1) == ([], [])


def test_summary_counts_events_and_touchpoints() -> None:
    events, truth = generate(100, seed=2)
    text = summary(events, truth)
    assert "customers=100 " in text
    assert f"events={len(events)} " in text
    assert f"distinct={len(truth)} " in text


def test_the_command_writes_both_files_and_reports_on_stderr(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        command,
        ["--customers", "50", "--seed", "9", "--out", str(tmp_path / "d"), "--start", "2024-03-01T00:00:00+05:30"],
    )
    assert result.exit_code == 0, result.output
    assert "customers=50" in result.stderr
    lines = (tmp_path / "d" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    start = 1_709_231_400_000  # 2024-03-01T00:00:00+05:30
    times = [from_json(json.loads(line)).occurred_at for line in lines]
    assert min(times) >= start and max(times) < start + 30 * 24 * HOUR
    bad = CliRunner().invoke(command, ["--customers", "5", "--seed", "1", "--out", str(tmp_path), "--start", "x"])
    assert bad.exit_code != 0


# Pinned: other people's quality figures depend on these exact bytes. A change here is a new data set.
GOLDEN = {
    (300, 5): (
        "308df1f5fff70dc563600ae1120b97568ffe363d92daad40370baf472d88d9ac",
        "57d1e6d689213b27f3ad029d02ef59fb00f21a156b4b57a117348fc4480045f7",
    ),
    (400, 11): (
        "8839389e136aab196f7e2666d316d4f88efc3079f7f8a7073abceb2102b6b8e2",
        "213c638e16d311b0dc11a8710b1318a7379e85040c65cc240b68474f866d9a5e",
    ),
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("customers", "seed"), sorted(GOLDEN))
def test_the_data_set_for_a_seed_never_changes(tmp_path: Path, customers: int, seed: int) -> None:
    write(tmp_path, *generate(customers, seed=seed))
    assert (_sha(tmp_path / "events.jsonl"), _sha(tmp_path / "truth.csv")) == GOLDEN[customers, seed]


@pytest.mark.parametrize("per_part", [10_000, 40])  # in memory; spread over 10 parts on disk
def test_generate_to_writes_the_same_bytes_in_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, per_part: int
) -> None:
    monkeypatch.setattr(synthetic, "_CUSTOMERS_PER_PART", per_part)
    events, truth = generate(400, seed=11)
    write(tmp_path / "lists", events, truth)
    line = generate_to(tmp_path / "streamed", 400, seed=11)
    assert line == summary(events, truth)
    for name in ("events.jsonl", "truth.csv"):
        assert (tmp_path / "streamed" / name).read_bytes() == (tmp_path / "lists" / name).read_bytes()
    assert sorted(p.name for p in (tmp_path / "streamed").iterdir()) == ["events.jsonl", "truth.csv"]


@pytest.mark.parametrize(("alphabet", "length"), [("0123456789abcdef", 20), (string.digits, 9), (string.digits, 0)])
def test_draw_takes_the_same_characters_and_bits_as_choice(alphabet: str, length: int) -> None:
    fast, slow = random.Random(3), random.Random(3)
    for _ in range(2000):
        assert synthetic._draw(fast, alphabet, length) == "".join(slow.choice(alphabet) for _ in range(length))
    assert fast.getstate() == slow.getstate()


def test_the_quick_validity_check_agrees_with_parsing() -> None:
    rng = random.Random(5)
    ids = synthetic._Ids(rng)
    numbers = [ids.indian_mobile() for _ in range(300)] + [ids.foreign_mobile() for _ in range(300)]
    typos = [n[:i] + d + n[i + 1 :] for n in numbers for i in (len(n) - 1, len(n) - 6) for d in "0123456789"]
    for number in numbers + typos + ["+9101234", "+1 415", "+44x"]:
        try:
            parsed = phonenumbers.is_valid_number(phonenumbers.parse(number, None))
        except phonenumbers.NumberParseException:
            parsed = False
        assert synthetic._valid(number) == parsed, number


def test_an_email_is_numbered_when_every_address_for_the_name_is_taken() -> None:
    rng = random.Random(1)
    ids = synthetic._Ids(rng)
    taken = synthetic._email_candidates("aditya", "sharma", gmail=False, work=True)
    ids.tokens.update(taken)
    address = synthetic._email_for(rng, ids, "Aditya", "Sharma", gmail=False, work=True)
    assert re.fullmatch(r"aditya\.sharma2@[a-z.]+", address)
    assert address not in taken and address in ids.tokens
    ids.tokens.discard("asharma@tcs.com")  # one left: the draw finds it, as it always did
    assert synthetic._email_for(rng, ids, "Aditya", "Sharma", gmail=False, work=True) == "asharma@tcs.com"


# -- the CRM export (issue 19) -------------------------------------------------------------------


@pytest.fixture(scope="module")
def crm() -> tuple[Events, list[tuple[str, str]], list[dict[str, str]], list[tuple[str, str]]]:
    return synthetic.generate_with_crm(CUSTOMERS, seed=7)


def test_the_crm_export_leaves_the_events_as_they_were(
    data: tuple[Events, list[tuple[str, str]]], crm: tuple[Events, Any, Any, Any], tmp_path: Path
) -> None:
    assert crm[:2] == data
    plain = generate_to(tmp_path / "plain", 300, seed=5)
    with_crm = generate_to(tmp_path / "crm", 300, seed=5, crm=True)
    assert with_crm.startswith(plain + " crm_contacts=")
    for name in ("events.jsonl", "truth.csv"):
        assert (tmp_path / "crm" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes()
    assert _sha(tmp_path / "crm" / "events.jsonl") == GOLDEN[300, 5][0]
    assert sorted(p.name for p in (tmp_path / "crm").iterdir()) == [
        "crm_contacts.csv", "crm_truth.csv", "events.jsonl", "truth.csv",
    ]  # fmt: skip


# Pinned like the events: the import's quality test depends on these bytes.
CRM_GOLDEN = (
    "1b940025df49f9a0b19da86005d905cdcc0e9c77e24709cc820e0f99408f288b",
    "a43532c8e7f14caa0bde375d58686f66aa983535e442b0bc26e222bdc8e65d08",
)


def test_the_crm_export_for_a_seed_never_changes_and_reads_as_excel_writes_it(tmp_path: Path) -> None:
    generate_to(tmp_path, 300, seed=5, crm=True)
    raw = (tmp_path / "crm_contacts.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfContactId,Full Name,Mobile,") and b"\r\n" in raw  # "CSV UTF-8"
    assert (_sha(tmp_path / "crm_contacts.csv"), _sha(tmp_path / "crm_truth.csv")) == CRM_GOLDEN


def test_every_crm_row_imports_with_the_documented_mapping(
    crm: tuple[Events, Any, list[dict[str, str]], list[tuple[str, str]]], tmp_path: Path
) -> None:
    from resolver.interaction import Limits
    from streams.csvimport import ColumnMap, CsvContacts

    _, _, rows, truth = crm
    synthetic.write_crm(tmp_path, rows, truth)
    contacts = CsvContacts(tmp_path / "crm_contacts.csv", ColumnMap.parse(synthetic.CRM_MAP), default_ms=0)
    events = [record.read(Limits()) for record in contacts.records() if record.read is not None]
    assert [e.source_id for e in events] == [r["ContactId"] for r in rows] == [c for c, _ in truth]
    with (tmp_path / "crm_truth.csv").open(newline="") as fh:  # keyed as irl evaluate reads truth
        written = [(r["event_id"], r["contact_id"], r["true_customer"]) for r in csv.DictReader(fh)]
    assert written == [(e.event_id, c, who) for e, (c, who) in zip(events, truth, strict=True)]
    assert all(e.occurred_at < synthetic.DEFAULT_START_MS for e in events)  # made before the events


def test_the_crm_holds_duplicates_fragments_placeholders_and_people_only_it_knows(
    data: tuple[Events, list[tuple[str, str]]],
    crm: tuple[Events, Any, list[dict[str, str]], list[tuple[str, str]]],
) -> None:
    _, _, rows, truth = crm
    owner = dict(truth)
    records = Counter(owner.values())
    seen_at_touchpoints = {c for _, c in data[1]}
    assert 0.4 < len([c for c in records if c in seen_at_touchpoints]) / CUSTOMERS < 0.6
    assert sum(1 for c in records if c.startswith("crm-only-")) == CUSTOMERS // 10
    assert not {c for c in records if c.startswith("crm-only-")} & seen_at_touchpoints
    held_twice = [c for c, n in records.items() if n >= 2]
    assert 0.1 < len(held_twice) / len(records) < 0.3 and any(n == 3 for n in records.values())
    phone_only = [r for r in rows if r["Mobile"] and not r["Email"]]
    email_only = [r for r in rows if r["Email"] and not r["Mobile"]]
    name_only = [r for r in rows if not r["Email"] and not r["Mobile"]]
    assert phone_only and email_only and name_only
    assert any(r["Mobile"] in JUNK_PHONES for r in rows) and any(
        r["Email"].strip().lower() in JUNK_EMAILS for r in rows
    )
    assert any("," in r["Full Name"] for r in rows)  # "RAO, Asha": quoted in the file
    assert len({r["ContactId"] for r in rows}) == len(rows)
    assert all(re.fullmatch(r"003[0-9A-Za-z]{12}", r["ContactId"]) for r in rows)
    # A CRM-only person's records carry identifiers no event does.
    event_phones = {
        _e164(e["phone"]) for e in data[0] if e["phone"] and e["phone"] not in JUNK_PHONES and "*" not in e["phone"]
    }
    only = [r for r in rows if owner[r["ContactId"]].startswith("crm-only-") and r["Mobile"] and "*" not in r["Mobile"]]
    assert only and all(_e164(r["Mobile"]) not in event_phones for r in only if r["Mobile"] not in JUNK_PHONES)


def test_the_command_writes_the_crm_export_on_request(tmp_path: Path) -> None:
    result = CliRunner().invoke(command, ["--customers", "40", "--seed", "2", "--out", str(tmp_path), "--crm"])
    assert result.exit_code == 0, result.output
    assert "crm_contacts=" in result.stderr
    assert (tmp_path / "crm_truth.csv").read_text().startswith("event_id,contact_id,true_customer\n")
