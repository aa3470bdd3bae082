"""`irl import` without a broker: the column mapping, CSV dialects and encodings, validation, rejects,
deterministic event ids and the command's dry run (issue 19)."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from resolver.interaction import UNKNOWN_TIME_MS, Interaction, InvalidInteraction, Limits, from_json
from streams.cli import main
from streams.commands.produce import Progress
from streams.csvimport import (
    ColumnMap,
    CsvContacts,
    CsvImportError,
    MappingError,
    contact_event,
    event_id_of,
    parse_date_format,
    parse_delimiter,
    parse_timezone,
)

NOW = 1_800_000_000_000
T_2024 = 1_714_557_600_000  # 2024-05-01T10:00:00Z
MAP = 'phone=Mobile,email=Email,name="Full Name",id=ContactId'

#: A realistic export: Excel's "CSV UTF-8" (a byte-order mark, CRLF), a comma inside a quoted name,
#: a line break inside a quoted note, an apostrophe, a row with a shifted column, one without an id.
EXPORT = (
    "\ufeffContactId,Full Name,Mobile,Email,Company,Notes\r\n"
    '003A1,"Rao, Asha",+91 98450 71623,asha.rao@gmail.com,Acme,"called twice,\r\nprefers WhatsApp"\r\n'
    "003A2,Vikram D'Souza,098450 12345,,,\r\n"
    "003A3,Ravi Kumar,Rao,98450 12345,ravi@x.in,Acme,\r\n"
    ",Nobody,,nobody@x.in,,\r\n"
    ",,,,,\r\n"
    "003A1,Asha Rao,+91 98450 71623,asha.rao@gmail.com,Acme,\r\n"
)


def _contacts(tmp_path: Path, text: str | bytes, mapping: str = MAP, delimiter: str | None = None) -> CsvContacts:
    path = tmp_path / "contacts.csv"
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return CsvContacts(path, ColumnMap.parse(mapping), default_ms=T_2024, delimiter=delimiter)


def _outcomes(contacts: CsvContacts) -> list[tuple[int, Any]]:
    """(line, event or reject reason or None for blank) of every record."""
    out: list[tuple[int, Any]] = []
    for record in contacts.records():
        if record.read is None:
            out.append((record.line, None))
            continue
        try:
            out.append((record.line, record.read(Limits(now_ms=NOW))))
        except InvalidInteraction as exc:
            out.append((record.line, exc.reason))
    return out


# -- the mapping ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        'phone=Mobile,email=Email,name="Full Name",id=ContactId',
        "phone=Mobile,email=Email,name=Full Name,id=ContactId",  # what the shell leaves of the line above
        " ID = ContactId , Phone=Mobile,EMAIL=Email, name = Full Name ,",
    ],
)
def test_the_mapping_reads_field_column_pairs(text: str) -> None:
    assert dict(ColumnMap.parse(text).columns) == {
        "phone": "Mobile",
        "email": "Email",
        "name": "Full Name",
        "id": "ContactId",
    }


def test_a_quoted_column_may_hold_commas_and_quotes() -> None:
    columns = ColumnMap.parse('id=Id,name="Name, as ""typed""",occurred_at=Created Date').columns
    assert dict(columns) == {"id": "Id", "name": 'Name, as "typed"', "occurred_at": "Created Date"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("phone=Mobile", "id=COLUMN is required"),
        ("id=Id,mobile=Mobile", "unknown field 'mobile'"),
        ("id=Id,phone=Mobile,phone=Phone", "phone is mapped twice"),
        ("id=Id,phone", "is not FIELD=COLUMN"),
        ("id=Id,phone=", "phone= names no column"),
        ('id=Id,name="Full Name', "not closed"),
    ],
)
def test_a_bad_mapping_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        ColumnMap.parse(text)


def test_columns_are_found_exactly_else_ignoring_case_and_spacing() -> None:
    columns = ColumnMap.parse("id=contactid,name=Full  Name,email=Email")
    assert columns.locate(["ContactId", "full name", "Email", "EMAIL"]) == {"id": 0, "name": 1, "email": 2}
    with pytest.raises(MappingError, match=r"'Mobile' \(phone\) is not in the header: 'ContactId', 'Email'"):
        ColumnMap.parse("id=ContactId,phone=Mobile").locate(["ContactId", "Email"])
    with pytest.raises(MappingError, match="more than once"):
        ColumnMap.parse("id=ContactId,email=email").locate(["ContactId", "EMAIL", "Email"])


# -- reading a file -------------------------------------------------------------------------------


def test_a_realistic_export_gives_its_events_rejects_and_blanks(tmp_path: Path) -> None:
    contacts = _contacts(tmp_path, EXPORT)
    assert contacts.delimiter == "," and contacts.header[0] == "ContactId"  # the BOM is not part of it
    out = _outcomes(contacts)
    assert [line for line, _ in out] == [2, 4, 5, 6, 7, 8]  # row 2 spans lines 2 and 3
    asha, vikram, shifted, no_id, blank, again = (o for _, o in out)
    assert isinstance(asha, Interaction) and isinstance(vikram, Interaction) and isinstance(again, Interaction)
    assert asha.name == "Rao, Asha" and asha.phone == "+91 98450 71623"
    assert asha.touchpoint == "CRM" and asha.source_id == "003A1" and asha.interaction == "crm_import"
    assert asha.occurred_at == T_2024 and asha.attributes == {"import_file": "contacts.csv", "import_line": "2"}
    assert vikram.email is None and vikram.name == "Vikram D'Souza"
    assert shifted == "row: 7 cells, the header has 6 (a comma inside an unquoted value, or an unclosed quote?)"
    assert no_id == "id: empty"
    assert blank is None
    assert again.source_id == "003A1" and again.event_id != asha.event_id
    records = list(contacts.records())
    assert (
        records[0].raw
        == b'003A1,"Rao, Asha",+91 98450 71623,asha.rao@gmail.com,Acme,"called twice,\r\nprefers WhatsApp"\r\n'
    )
    assert [(r.line, r.raw) for r in contacts.records()] == [(r.line, r.raw) for r in records]  # read again


@pytest.mark.parametrize(("delimiter", "shown"), [(";", ";"), ("\t", "\t"), ("|", "|")])
def test_the_delimiter_is_sniffed(tmp_path: Path, delimiter: str, shown: str) -> None:
    rows = [
        ["ContactId", "Full Name", "Mobile", "Email"],
        ["1", "Rao, Asha", "98450 71623", "a@x.in"],
        ["2", "Ravi", "", ""],
    ]
    text = "\n".join(delimiter.join(r) for r in rows) + "\n"
    contacts = _contacts(tmp_path, text)
    assert contacts.delimiter == shown
    events = [o for _, o in _outcomes(contacts)]
    assert [e.name for e in events] == ["Rao, Asha", "Ravi"]


def test_a_delimiter_the_sniffer_does_not_know_can_be_given(tmp_path: Path) -> None:
    text = "ContactId:Full Name:Mobile:Email\n1:Asha:98450 71623:a@x.in\n"
    with pytest.raises(MappingError, match="one column only: give the file's --delimiter"):
        _contacts(tmp_path, text)
    contacts = _contacts(tmp_path, text, delimiter=parse_delimiter(":"))
    assert [o.name for _, o in _outcomes(contacts)] == ["Asha"]
    assert parse_delimiter("tab") == "\t"
    with pytest.raises(CsvImportError):
        parse_delimiter(";;")


def test_a_row_that_is_not_utf8_is_rejected_alone(tmp_path: Path) -> None:
    data = b"ContactId,Full Name\n1,Asha\n" + b"2,Caf\xe9 Owner\n" + b"3,Ravi\n"
    contacts = _contacts(tmp_path, data, "id=ContactId,name=Full Name")
    out = dict(_outcomes(contacts))
    assert out[3] == "row: not UTF-8: save the export as UTF-8 (CSV UTF-8), or give its --encoding (cp1252)"
    assert [out[2].name, out[4].name] == ["Asha", "Ravi"]
    assert next(r for r in contacts.records() if r.line == 3).raw == b"2,Caf\xe9 Owner\n"  # the bytes as they were


def test_blank_rows_before_the_header_are_skipped_and_a_file_without_one_is_refused(tmp_path: Path) -> None:
    assert _contacts(tmp_path, "\n,,\nContactId,Full Name\n1,Asha\n", "id=ContactId").header == [
        "ContactId",
        "Full Name",
    ]
    with pytest.raises(CsvImportError, match="no header row"):
        _contacts(tmp_path, "\n\n", "id=ContactId")


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("x" * 300, "source_id: longer than 256"),
        ("a\x00b", "source_id: contains a NUL character"),
        ("   ", "id: empty"),
    ],
)
def test_rows_get_the_contract_s_validation(tmp_path: Path, cell: str, problem: str) -> None:
    contacts = _contacts(tmp_path, f"ContactId,Full Name\n{cell},Asha\n", "id=ContactId,name=Full Name")
    [(_, reason)] = _outcomes(contacts)
    assert isinstance(reason, str) and problem in reason


# -- event ids and times --------------------------------------------------------------------------


def test_an_event_id_is_a_function_of_the_mapped_values_only() -> None:
    values = {"id": "003A1", "phone": "+91 98450 71623", "email": "asha.rao@gmail.com", "name": "Asha Rao"}
    first = contact_event(values, default_ms=T_2024, file_name="a.csv", line=2)
    moved = contact_event({k: f" {v} " for k, v in values.items()}, default_ms=T_2024 + 9, file_name="b.csv", line=70)
    assert first.event_id == moved.event_id == event_id_of(values)
    assert first.event_id.startswith("crm-") and len(first.event_id) == 36
    for field in ("id", "phone", "email", "name"):
        assert event_id_of(values | {field: "changed"}) != first.event_id, field
    assert event_id_of(values | {"occurred_at": "2024-05-01T10:00:00Z"}) != first.event_id
    assert event_id_of(values | {"email": ""}) == event_id_of({k: v for k, v in values.items() if k != "email"})


def test_times_are_read_as_produce_reads_them_and_without_a_zone_only_with_one_given() -> None:
    def at(text: str, zone: str | None = None) -> int | str:
        tz = parse_timezone(zone) if zone else None
        try:
            return contact_event(
                {"id": "1", "occurred_at": text}, default_ms=0, file_name="f", line=1, timezone=tz
            ).occurred_at
        except InvalidInteraction as exc:
            return exc.reason

    assert at("2024-05-01T15:30:00+05:30") == at("2024-05-01T10:00:00Z") == at(str(T_2024)) == T_2024
    assert at("2024-05-01 15:30:00") == "occurred_at: ISO-8601 time without a zone (--timezone says which)"
    assert at("2024-05-01 15:30:00", "Asia/Kolkata") == at("2024-05-01 15:30", "+05:30") == T_2024
    assert at("2024-05-01", "UTC") == T_2024 - 10 * 3_600_000
    assert at("2024-05-01T15:30:00+05:30", "America/New_York") == T_2024  # a written zone wins
    assert at("01/05/2024", "UTC") == (
        "occurred_at: not ISO-8601 nor epoch milliseconds (--date-format reads others, e.g. %d/%m/%Y %H:%M)"
    )
    assert at("") == 0  # an empty cell: the default
    for bad in ("Mars/Olympus", "+5:3x"):
        with pytest.raises(CsvImportError):
            parse_timezone(bad)


def test_a_date_format_reads_what_crm_exports_write() -> None:
    def at(text: str, fmt: str, zone: str | None = "Asia/Kolkata") -> int | str:
        tz = parse_timezone(zone) if zone else None
        try:
            event = contact_event(
                {"id": "1", "occurred_at": text}, default_ms=0, file_name="f", line=1, timezone=tz, date_format=fmt
            )
            return event.occurred_at
        except InvalidInteraction as exc:
            return exc.reason

    day_first = "%d/%m/%Y %H:%M"
    assert at("01/05/2024 15:30", day_first) == T_2024
    assert at("01/05/2024 10:00", day_first, "UTC") == T_2024
    assert at("2024-05-01T10:00:00Z", day_first) == T_2024  # ISO-8601 and epoch ms still read first
    assert at("2024-05-01 15:30", day_first) == T_2024  # and a zoneless ISO time in the --timezone
    assert at("05/01/2024 15:30", "%m/%d/%Y %H:%M") == T_2024
    assert at("01/05/2024 15:30 +0530", day_first + " %z", None) == T_2024  # a written zone needs none given
    assert at("01/05/2024 15:30", day_first, None) == "occurred_at: a time without a zone (--timezone says which)"
    assert at("1 May 2024", day_first) == "occurred_at: neither ISO-8601, epoch milliseconds nor '%d/%m/%Y %H:%M'"
    assert parse_date_format("%d-%m-%Y") == "%d-%m-%Y"
    for bad in ("dd/mm/yyyy", "%H:%M", "%d/%m"):
        with pytest.raises(CsvImportError):
            parse_date_format(bad)


def test_a_contact_created_before_2000_is_imported_with_its_time_kept_as_an_attribute(
    tmp_path: Path, offline: None
) -> None:
    """A CRM's oldest contacts are customers too: the contract's floor (2000) must not drop them."""
    source = tmp_path / "old.csv"
    source.write_text(
        "ContactId,Full Name,Mobile,Created Date\n"
        "1,Asha Rao,+91 98450 71623,1998-05-01T10:00:00Z\n"
        "2,Ravi Kumar,+91 98450 12345,2024-05-01T10:00:00Z\n"
        "3,Old Clock,+91 98450 22222,1965-01-01T00:00:00Z\n"  # before 1973: junk, rejected as before
        "4,Seconds,+91 98450 33333,1714557600\n",  # epoch seconds read as ms: rejected as before
        encoding="utf-8",
    )
    os.utime(source, ns=(T_2024 * 1_000_000, T_2024 * 1_000_000))
    out = tmp_path / "events.jsonl"
    mapping = 'id=ContactId,name="Full Name",phone=Mobile,occurred_at="Created Date"'
    result = _import(str(source), "--map", mapping, "--dry-run", "--events-out", str(out))
    assert result.exit_code == 0, result.output
    events = {e.source_id: e for e in (from_json(json.loads(line)) for line in out.read_text().splitlines())}
    assert sorted(events) == ["1", "2"]
    assert events["1"].occurred_at == UNKNOWN_TIME_MS  # within the contract, and moves no first/last seen
    assert dict(events["1"].attributes)["occurred_at_written"] == "1998-05-01T10:00:00Z"
    assert events["2"].occurred_at == T_2024 and "occurred_at_written" not in dict(events["2"].attributes)
    assert "1 row(s) dated before 2000-01-01" in result.stderr and "with occurred_at unknown;" in result.stderr
    rejects = [json.loads(line)["reason"] for line in (tmp_path / "old.csv.rejects.jsonl").read_text().splitlines()]
    assert rejects[0] == "occurred_at: before 2000-01-01" and "epoch seconds" in rejects[1]


def test_a_row_without_a_time_is_unknown_not_the_file_s_modification_time(tmp_path: Path, offline: None) -> None:
    """Audit s36, A11: the file's time made every dormant contact imported without a date look active."""
    source = tmp_path / "c.csv"
    source.write_text("ContactId,Mobile,Created\n1,+91 98450 71623,\n2,+91 98450 12345,2024-05-01T10:00:00Z\n")
    os.utime(source, ns=(NOW * 1_000_000, NOW * 1_000_000))
    out = tmp_path / "events.jsonl"
    result = _import(
        str(source), "--map", "id=ContactId,phone=Mobile,occurred_at=Created", "--dry-run", "--events-out", str(out)
    )
    assert result.exit_code == 0, result.output
    events = {e.source_id: e for e in (from_json(json.loads(line)) for line in out.read_text().splitlines())}
    assert events["1"].occurred_at == UNKNOWN_TIME_MS and events["2"].occurred_at == T_2024
    assert "occurred_at, when a cell is empty: unknown (2000-01-01T00:00:00Z" in result.stderr
    unmapped = _import(str(source), "--map", "id=ContactId,phone=Mobile", "--dry-run", "--events-out", str(out))
    assert unmapped.exit_code == 0, unmapped.output
    assert {from_json(json.loads(line)).occurred_at for line in out.read_text().splitlines()} == {UNKNOWN_TIME_MS}


# -- the command ----------------------------------------------------------------------------------


def _import(*args: str) -> Result:
    return CliRunner().invoke(main, ["import", *args])


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing answers at these addresses: a dry run must not ask anything."""
    monkeypatch.setenv("IRL_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("IRL_SCHEMA_REGISTRY_URL", "http://127.0.0.1:1/apis/ccompat/v7")
    monkeypatch.chdir(tmp_path)  # a default rejects file sits beside an input under the working directory


def test_a_dry_run_validates_writes_rejects_and_the_events_and_masks_stderr(tmp_path: Path, offline: None) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text(EXPORT, encoding="utf-8", newline="")
    os.utime(source, ns=(T_2024 * 1_000_000, T_2024 * 1_000_000))
    out = tmp_path / "events.jsonl"
    result = _import(str(source), "--map", MAP, "--dry-run", "--events-out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "dry run, nothing sent: would send 3 (crm 3); rejected 2; failed 0; blank 1; 6 rows in "
    )
    assert (
        "contacts.csv: delimiter ',', 6 columns; id='ContactId', phone='Mobile', email='Email', name='Full Name'"
        in (result.stderr)
    )
    assert "occurred_at: unknown (2000-01-01T00:00:00Z, the contract's mark" in result.stderr
    rejects = [json.loads(line) for line in (tmp_path / "contacts.csv.rejects.jsonl").read_text().splitlines()]
    assert [(r["file"], r["line"]) for r in rejects] == [(str(source), 5), (str(source), 6)]
    assert rejects[0]["raw"] == "003A3,Ravi Kumar,Rao,98450 12345,ravi@x.in,Acme,"
    assert "contacts.csv:5: rejected: row: 7 cells" in result.stderr
    for raw in ("98450 12345", "9845012345", "ravi@x.in", "Ravi Kumar", "nobody@x.in", "Nobody"):
        assert raw not in result.stderr
    events = [from_json(json.loads(line)) for line in out.read_text().splitlines()]  # valid contract JSON
    assert [(e.source_id, e.name) for e in events] == [
        ("003A1", "Rao, Asha"),
        ("003A2", "Vikram D'Souza"),
        ("003A1", "Asha Rao"),
    ]
    assert {e.touchpoint for e in events} == {"CRM"} and {e.occurred_at for e in events} == {UNKNOWN_TIME_MS}


def test_importing_the_same_file_again_gives_the_same_events(tmp_path: Path, offline: None) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text(EXPORT, encoding="utf-8", newline="")
    runs = []
    for n in range(2):
        out = tmp_path / f"run{n}.jsonl"
        os.utime(source, ns=((T_2024 + n) * 1_000_000,) * 2)  # copied, touched: another modification time
        assert _import(str(source), "--map", MAP, "--dry-run", "--events-out", str(out)).exit_code == 0
        runs.append([json.loads(line) for line in out.read_text().splitlines()])
    assert [e["event_id"] for e in runs[0]] == [e["event_id"] for e in runs[1]]
    reordered = tmp_path / "reordered.csv"
    lines = EXPORT.split("\r\n")
    reordered.write_text("\r\n".join([lines[0], lines[-2], *lines[1:-2], ""]), encoding="utf-8", newline="")
    out = tmp_path / "reordered.jsonl"
    assert _import(str(reordered), "--map", MAP, "--dry-run", "--events-out", str(out)).exit_code == 0
    assert sorted(json.loads(line)["event_id"] for line in out.read_text().splitlines()) == sorted(
        e["event_id"] for e in runs[0]
    )


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("id=ContactId,phone=Phone", "'Phone' (phone) is not in the header"),
        ("phone=Mobile", "id=COLUMN is required"),
    ],
)
def test_a_mapping_that_cannot_work_is_a_usage_error_before_anything_is_sent(
    tmp_path: Path, mapping: str, message: str
) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text(EXPORT, encoding="utf-8", newline="")
    result = _import(str(source), "--map", mapping, "--bootstrap", "127.0.0.1:1")
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "contacts.csv.rejects.jsonl").exists()


def test_a_file_with_nothing_valid_exits_1_and_the_mapping_may_be_given_in_parts(tmp_path: Path, offline: None) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text("ContactId,Created\n1,yesterday\n", encoding="utf-8")
    result = _import(str(source), "--map", "id=ContactId", "--map", "occurred_at=Created", "--dry-run")
    assert result.exit_code == 1
    assert "rejected 1" in result.stdout and "nothing is valid" in result.stderr


def test_the_command_is_listed_with_its_options() -> None:
    result = CliRunner().invoke(main, ["import", "--help"])
    assert result.exit_code == 0
    for option in ("--map", "--dry-run", "--rejects", "--events-out", "--delimiter", "--timezone", "--topic"):
        assert option in result.output
    assert "import" in CliRunner().invoke(main, ["--help"]).output


def test_the_readme_s_offline_flow_generate_import_replay_evaluate(tmp_path: Path, offline: None) -> None:
    from streams.synthetic import CRM_MAP

    d = tmp_path / "data"
    run = CliRunner().invoke
    assert run(main, ["generate", "--customers", "300", "--seed", "4", "--out", str(d), "--crm"]).exit_code == 0
    imported = run(
        main,
        ["import", str(d / "crm_contacts.csv"), "--map", CRM_MAP, "--dry-run", "--events-out", str(d / "crm.jsonl")],
    )
    assert imported.exit_code == 0 and "rejected 0;" in imported.stdout
    outputs = ["--assignments", str(tmp_path / "a.csv"), "--profiles", str(tmp_path / "p.jsonl")]
    replayed = run(
        main,
        ["replay", str(d / "events.jsonl"), str(d / "crm.jsonl"), *outputs, "--rejects", str(tmp_path / "r.jsonl")],
    )
    assert replayed.exit_code == 0 and "rejects=0" in replayed.stderr + replayed.stdout
    evaluated = run(main, [
        "evaluate", "--truth", str(d / "truth.csv"), "--truth", str(d / "crm_truth.csv"), *outputs,
        "--events", str(d / "events.jsonl"), "--events", str(d / "crm.jsonl"),
    ])  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    crm_rows = (d / "crm_truth.csv").read_text().count("\n") - 1
    events = len({json.loads(line)["event_id"] for line in (d / "events.jsonl").read_text().splitlines()})
    assert re.search(rf"^events\s+{events + crm_rows}\s", evaluated.stdout, re.MULTILINE)  # every contact is scored
    precision = float(re.search(r"pairwise precision\s+([\d.]+)%", evaluated.stdout).group(1))  # type: ignore[union-attr]
    assert precision > 98.0


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_counts_the_bytes_of_the_rows_on_a_terminal_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contacts = _contacts(tmp_path, EXPORT)
    size = (tmp_path / "contacts.csv").stat().st_size
    header = len("\ufeffContactId,Full Name,Mobile,Email,Company,Notes\r\n".encode())
    assert sum(len(r.raw) for r in contacts.records()) == size - header  # every row's bytes, as read
    screen = _Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    bar = Progress(size, "importing")
    for record in contacts.records():
        bar.update(len(record.raw))
    bar.close()
    assert "importing" in screen.getvalue()
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)  # not a terminal: nothing drawn
    quiet = Progress(size, "importing")
    quiet.update(size)
    quiet.close()
    assert pipe.getvalue() == ""


# -- a name in two columns (s36 audit, finding A1) --------------------------------------------------

#: Salesforce, HubSpot, Zoho and Dynamics export a contact's name as two columns.
SPLIT_NAME_EXPORT = (
    "\ufeffRecord ID;First Name;Last Name;Mobile Phone Number;Email\r\n"
    "1001;Karthik;R;98450 33445;karthik.r@gmail.com\r\n"
    "1002; Asha ;Rao;;asha.rao@gmail.com\r\n"
    "1003;;Iyer;9731144556;\r\n"
    "1004;Madonna;;;\r\n"
    "1005;;;9845071623;\r\n"
)


def test_a_name_in_first_and_last_name_columns_is_imported_whole(tmp_path: Path) -> None:
    mapping = 'id=Record ID,first_name="First Name",last_name=Last Name,phone=Mobile Phone Number,email=Email'
    out = _outcomes(_contacts(tmp_path, SPLIT_NAME_EXPORT, mapping))
    events = [o for _, o in out]
    assert all(isinstance(e, Interaction) for e in events), events
    assert [e.name for e in events] == ["Karthik R", "Asha Rao", "Iyer", "Madonna", None]
    # The event id is that of the same contact exported with one name column: importing from either
    # export sends duplicates, not new events.
    one_column = ColumnMap.parse("id=Record ID,name=Name,phone=Mobile Phone Number,email=Email")
    joined = {"id": "1001", "name": "Karthik R", "phone": "98450 33445", "email": "karthik.r@gmail.com"}
    assert events[0].event_id == event_id_of(joined) and "name" in one_column.columns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id=Id,name=Name,first_name=First", "name and first_name/last_name"),
        ("id=Id,first_name=First,first_name=Given", "first_name is mapped twice"),
    ],
)
def test_a_name_is_mapped_whole_or_in_parts_not_both(text: str, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        ColumnMap.parse(text)


def test_the_summary_names_the_name_columns(tmp_path: Path, offline: None) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text(SPLIT_NAME_EXPORT, encoding="utf-8", newline="")
    mapping = "id=Record ID,first_name=First Name,last_name=Last Name,phone=Mobile Phone Number"
    out = tmp_path / "events.jsonl"
    result = _import(str(source), "--map", mapping, "--dry-run", "--events-out", str(out))
    assert result.exit_code == 0, result.output
    assert "first_name='First Name', last_name='Last Name'" in result.stderr
    assert [json.loads(line)["name"] for line in out.read_text().splitlines()] == [
        "Karthik R",
        "Asha Rao",
        "Iyer",
        "Madonna",
        None,
    ]


# -- a field in several columns (s36 audit, finding A5) ---------------------------------------------

#: Salesforce exports Phone, Mobile, Home Phone; HubSpot Phone Number and Mobile Phone Number. A contact
#: may have a number in any one of them.
SEVERAL_PHONES_EXPORT = (
    "Id,Name,Mobile,Phone,Home Phone,Email,Work Email\r\n"
    "1,Asha Rao,98450 71623,080 2345 6789,,asha.rao@gmail.com,\r\n"
    "2,Vikram Das,,080 4123 9876,,,vikram.das@acme.in\r\n"
    "3,Ravi Kumar,,,  ,ravi.k@gmail.com,\r\n"
    "4,Meena Iyer,, ,97311 44556,,\r\n"
)


def test_a_field_may_name_several_columns_and_takes_the_first_not_blank(tmp_path: Path) -> None:
    mapping = 'id=Id,name=Name,phone=Mobile|Phone|"Home Phone",email=Email|Work Email'
    out = [o for _, o in _outcomes(_contacts(tmp_path, SEVERAL_PHONES_EXPORT, mapping))]
    assert all(isinstance(e, Interaction) for e in out), out
    assert [(e.phone, e.email) for e in out] == [
        ("98450 71623", "asha.rao@gmail.com"),
        ("080 4123 9876", "vikram.das@acme.in"),
        (None, "ravi.k@gmail.com"),
        ("97311 44556", None),
    ]
    # The event is the one an export with that value in a single column gives.
    assert out[1].event_id == event_id_of({"id": "2", "name": "Vikram Das", "phone": "080 4123 9876",
                                           "email": "vikram.das@acme.in"})  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id=Id|Other", "id= names one column"),
        ("id=Id,phone=Mobile|", "phone= names no column between two |"),
        ('id=Id,phone="Mobile|Phone', "not closed"),
    ],
)
def test_several_columns_are_mapped_with_a_bar_and_not_for_the_id(text: str, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        ColumnMap.parse(text)


def test_a_quoted_column_name_may_hold_a_bar_and_the_summary_shows_every_column(tmp_path: Path, offline: None) -> None:
    assert dict(ColumnMap.parse('id=Id,phone="Mobile|Cell"').columns) == {"id": "Id", "phone": "Mobile|Cell"}
    source = tmp_path / "contacts.csv"
    source.write_text(SEVERAL_PHONES_EXPORT, encoding="utf-8", newline="")
    result = _import(str(source), "--map", "id=Id,phone=Mobile|Phone|Home Phone", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "phone='Mobile'|'Phone'|'Home Phone'" in result.stderr
    missing = _import(str(source), "--map", "id=Id,phone=Mobile|Fax", "--dry-run")
    assert missing.exit_code == 2 and "'Fax' (phone) is not in the header" in missing.output


# -- what Excel writes besides CSV UTF-8 (s36 audit, findings A12, A13) -----------------------------


def test_an_excel_sep_line_gives_the_delimiter_and_is_not_the_header(tmp_path: Path) -> None:
    """Files written for Excel may start with ``sep=;``, Excel's own hint of the delimiter."""
    text = "sep=;\r\nId;Name;Mobile\r\n1;Rao, Asha;9845071623\r\n2;Vikram Das;9731862045\r\n"
    for data in (text, "\ufeff" + text, text.replace("sep=;", "SEP=;")):
        contacts = _contacts(tmp_path, data, "id=Id,name=Name,phone=Mobile")
        assert contacts.delimiter == ";" and contacts.header == ["Id", "Name", "Mobile"]
        out = [o for _, o in _outcomes(contacts)]
        assert [(e.source_id, e.name) for e in out] == [("1", "Rao, Asha"), ("2", "Vikram Das")]
    given = _contacts(tmp_path, text, "id=Id,name=Name,phone=Mobile", delimiter=";")
    assert given.header == ["Id", "Name", "Mobile"]


def test_a_windows_1252_export_is_read_with_its_encoding(tmp_path: Path) -> None:
    """Excel's "CSV (Comma delimited)" on Windows writes the ANSI code page, not UTF-8."""
    data = "Id,Name,Mobile\r\n1,José García,9845071623\r\n2,Zoë Müller \u2013 Shah,9731862045\r\n".encode("cp1252")
    rejected = [o for _, o in _outcomes(_contacts(tmp_path, data, "id=Id,name=Name,phone=Mobile"))]
    assert rejected[0] == "row: not UTF-8: save the export as UTF-8 (CSV UTF-8), or give its --encoding (cp1252)"
    path = tmp_path / "contacts.csv"
    contacts = CsvContacts(path, ColumnMap.parse("id=Id,name=Name,phone=Mobile"), default_ms=T_2024, encoding="cp1252")
    names = [o.name for _, o in _outcomes(contacts)]
    assert names == ["José García", "Zoë Müller \u2013 Shah"]
    with pytest.raises(CsvImportError, match="--encoding: unknown encoding 'latin-9x'"):
        CsvContacts(path, ColumnMap.parse("id=Id"), default_ms=T_2024, encoding="latin-9x")


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_utf16_export_is_read_by_its_byte_order_mark(tmp_path: Path, codec: str) -> None:
    """Excel's "Unicode Text" (tab-separated UTF-16 with a byte-order mark) keeps every script."""
    text = "Id\tName\tMobile\r\n1\tसुनीता वर्मा\t9845071623\r\n2\tJosé García\t9731862045\r\n"
    bom = {"utf-16-le": "\ufeff", "utf-16-be": "\ufeff"}.get(codec, "")
    contacts = _contacts(tmp_path, (bom + text).encode(codec), "id=Id,name=Name,phone=Mobile")
    assert contacts.delimiter == "\t"
    assert [o.name for _, o in _outcomes(contacts)] == ["सुनीता वर्मा", "José García"]


def test_the_command_takes_an_encoding(tmp_path: Path, offline: None) -> None:
    source = tmp_path / "contacts.csv"
    source.write_bytes("Id;Name;Mobile\r\n1;José García;9845071623\r\n".encode("cp1252"))
    out = tmp_path / "events.jsonl"
    result = _import(
        str(source), "--map", "id=Id,name=Name", "--encoding", "cp1252", "--dry-run", "--events-out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["name"] for line in out.read_text().splitlines()] == ["José García"]
    assert "encoding cp1252" in result.stderr
