"""A CRM's contacts export (CSV) as interaction events of the CRM touchpoint: what `irl import` reads.

Each data row is one event::

    event_id     "crm-" and 32 hex digits of SHA-256 over the mapped values as read (id, phone, email,
                 name, and occurred_at when that column is mapped): the same contact with the same
                 values is the same event, whichever file, position or import it comes from, so
                 importing a file again sends only duplicates; a changed value is a new event
    touchpoint   CRM
    source_id    the CRM's own record id (column `id`): its key `t:CRM:<id>` links like any touchpoint id
    interaction  crm_import
    phone, email, name   the mapped columns; empty is none (a name mapped in two columns,
                 `first_name` and `last_name`, is joined: "First Last"; a field mapped to several
                 columns, ``phone=Mobile|Phone``, is the first of their cells not blank)
    occurred_at  column `occurred_at` (ISO-8601 with a zone or epoch ms, or as `date_format` says,
                 a strptime format such as ``%d/%m/%Y %H:%M``; a time without a zone only with a
                 `timezone`); when the column is not mapped or the cell is empty, `default_ms`;
                 a time from 1973 to the end of 1999 (a CRM's oldest contacts, before the
                 contract's floor of 2000-01-01) is kept as an attribute and `default_ms` taken,
                 so the contact is imported; earlier times are rejected (epoch seconds read as ms)
    attributes   {"import_file": the file's name, "import_line": the line the row starts on},
                 and "occurred_at_written" (ISO-8601, UTC) for a time before 2000 taken as above

Values are stripped of surrounding white space; the resolver normalises the rest.

The file: UTF-8 with or without a byte-order mark, or the encoding given (``cp1252``); a UTF-16 or
UTF-32 byte-order mark says which whatever is given. The delimiter: Excel's ``sep=;`` first line
(skipped), else sniffed among ``, ; tab |`` (or given); RFC 4180 quoting (``"..."``, ``""`` inside,
line breaks allowed); the first non-blank row is the header, whose cells name the columns (matched
exactly, else ignoring case and spacing). A row is rejected (`InvalidInteraction`, a reason without
personal data) when it is not in the file's encoding, does not
have as many cells as the header (a delimiter inside an unquoted value shifts every column after
it: nothing of such a row is trusted), has no id, has a time that cannot be read, or fails the
contract's validation; a row whose cells are all blank is skipped.

Errors that stop an import before anything is read (fix the mapping or the file)::

    CsvImportError (ValueError)
    └── MappingError      --map is malformed, or names a column the header lacks
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import functools
import hashlib
import json
import re
import zoneinfo
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as _field
from pathlib import Path
from typing import IO

from resolver.interaction import Interaction, InvalidInteraction, Limits, parse_time, validate
from streams.inputs import InputRecord

__all__ = [
    "FIELDS",
    "INTERACTION",
    "MAPPABLE",
    "NAME_PARTS",
    "TOUCHPOINT",
    "ColumnMap",
    "CsvContacts",
    "CsvImportError",
    "MappingError",
    "contact_event",
    "event_id_of",
    "parse_date_format",
    "parse_delimiter",
    "parse_timezone",
]

#: The fields of an event a column gives; `id` is required. The event id digests these.
FIELDS = ("id", "phone", "email", "name", "occurred_at")
#: A name exported as two columns (Salesforce, HubSpot, Zoho, Dynamics): mapped instead of `name`,
#: joined with a space into it (either may be empty) before anything else reads the row.
NAME_PARTS = ("first_name", "last_name")
#: What a column can be mapped to.
MAPPABLE = FIELDS + NAME_PARTS
TOUCHPOINT = "CRM"
INTERACTION = "crm_import"

#: Delimiters the sniffer chooses among (a CRM export uses one of these).
_DELIMITERS = ",;\t|"
_SAMPLE_CHARS = 64 * 1024
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_MS = _dt.timedelta(milliseconds=1)
#: The contract's oldest occurred_at (2000-01-01T00:00:00Z), and the oldest a CRM export's time may be
#: to be kept as an attribute instead (1973-01-01: below, a number is epoch seconds read as ms).
FLOOR_MS = 946_684_800_000
_OLDEST_KEPT_MS = FLOOR_MS // 10


class CsvImportError(ValueError):
    """The file or the mapping cannot be used at all: nothing is imported. Fix them and run again."""


class MappingError(CsvImportError):
    """`--map` is malformed, or names a column that the file's header does not have."""


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Which column holds each field: `{field: column name}`, `id` always among them.

    `more` lists, for a field mapped to several columns (``phone=Mobile|Phone``), the columns read
    in turn after the first when the cells before are empty (an export's ``Mobile``, ``Phone``, ...).
    """

    columns: Mapping[str, str]
    more: Mapping[str, tuple[str, ...]] = _field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> ColumnMap:
        """Read ``field=Column,field="Column, with comma",...``. Raises MappingError saying what is wrong.

        Fields are those of `MAPPABLE`, in any case (`first_name` / `last_name` instead of `name`).
        A field other than `id` may name several columns separated by ``|``: its value is the first
        of their cells that is not blank. A column name may be double-quoted (needed only
        when it holds a comma, a ``|`` or a double quote, written ``""`` inside the quotes).
        """
        columns: dict[str, str] = {}
        more: dict[str, tuple[str, ...]] = {}
        for item in _split_outside_quotes(text):
            if not item.strip():
                continue
            key, sep, value = item.partition("=")
            field = key.strip().lower()
            names = [_unquote(part.strip()) for part in _split_outside_quotes(value.strip(), "|")]
            column = names[0]
            if not sep or not field:
                raise MappingError(f"--map: {item.strip()!r:.60} is not FIELD=COLUMN")
            if field not in MAPPABLE:
                raise MappingError(f"--map: unknown field {field!r:.40}; fields are {', '.join(MAPPABLE)}")
            if not all(names):
                raise MappingError(f"--map: {field}= names no column" + (" between two |" if len(names) > 1 else ""))
            if field in columns:
                raise MappingError(f"--map: {field} is mapped twice")
            if len(names) > 1:
                if field == "id":
                    raise MappingError("--map: id= names one column (the CRM's own record id), not several")
                more[field] = tuple(names[1:])
            columns[field] = column
        if "id" not in columns:
            raise MappingError("--map: id=COLUMN is required (the CRM's own record id)")
        if "name" in columns and any(part in columns for part in NAME_PARTS):
            raise MappingError("--map: map name and first_name/last_name not both (one name column, or its two parts)")
        return cls(columns, more)

    def locate_more(self, header: Sequence[str]) -> dict[str, tuple[int, ...]]:
        """`{field: indexes in header of its columns after the first}` (`more`), found as `locate` finds them."""
        return {f: tuple(ColumnMap({f: c}).locate(header)[f] for c in names) for f, names in self.more.items()}

    def shown(self, field_name: str) -> str:
        """The column(s) of a mapped field as the summary shows them: ``'Mobile'`` or ``'Mobile'|'Phone'``."""
        return "|".join(repr(c) for c in (self.columns[field_name], *self.more.get(field_name, ())))

    def locate(self, header: Sequence[str]) -> dict[str, int]:
        """`{field: index of its column in header}`. Raises MappingError when a column is missing or ambiguous.

        A column is found by its exact name, else by its name ignoring case and spacing.
        """
        cells = [h.strip() for h in header]
        out: dict[str, int] = {}
        for field, column in self.columns.items():
            found = [i for i, h in enumerate(cells) if h == column] or [
                i for i, h in enumerate(cells) if _fold(h) == _fold(column)
            ]
            if len(found) != 1:
                shown = ", ".join(repr(h[:40]) for h in cells[:30]) + (", ..." if len(cells) > 30 else "")
                problem = "is not in the header" if not found else "is in the header more than once"
                raise MappingError(f"column {column!r:.60} ({field}) {problem}: {shown}")
            out[field] = found[0]
        return out


def _split_outside_quotes(text: str, separator: str = ",") -> list[str]:
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == separator and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quoted:
        raise MappingError("--map: a double quote is not closed")
    items.append("".join(current))
    return items


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('""', '"').strip()
    return value


def _fold(name: str) -> str:
    return " ".join(name.casefold().split())


def parse_delimiter(text: str) -> str:
    """One delimiter character from an option (``tab`` or ``\\t`` for a tab). Raises CsvImportError."""
    value = {"tab": "\t", "\\t": "\t"}.get(text.strip().lower(), text)
    if len(value) != 1 or value in '"\r\n':
        raise CsvImportError(f"--delimiter: expected one character (or tab), got {text!r:.20}")
    return value


def parse_timezone(text: str) -> _dt.tzinfo:
    """A zone for times written without one: ``UTC``, an offset such as ``+05:30``, or an IANA name
    such as ``Asia/Kolkata``. Raises CsvImportError."""
    name = text.strip()
    if name.upper() in ("UTC", "Z"):
        return _dt.UTC
    if name[:1] in "+-":
        try:
            offset = _dt.datetime.strptime(name, "%z").utcoffset()
        except ValueError:
            offset = None
        if offset is None:
            raise CsvImportError(f"--timezone: {name!r:.20} is not an offset such as +05:30")
        return _dt.timezone(offset)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise CsvImportError(f"--timezone: unknown zone {name!r:.40} (try Asia/Kolkata, UTC or +05:30)") from None


def event_id_of(values: Mapping[str, str]) -> str:
    """The event id of a row: a digest of its mapped values (see the module docstring)."""
    content = [(values.get(f) or "").strip() or None for f in FIELDS]
    digest = hashlib.sha256(json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()
    return "crm-" + digest[:32]


def contact_event(
    values: Mapping[str, str],
    *,
    default_ms: int,
    file_name: str,
    line: int,
    timezone: _dt.tzinfo | None = None,
    date_format: str | None = None,
) -> Interaction:
    """The event of one row, from its mapped values (`{field: cell}`). Not validated here.

    Raises InvalidInteraction when it has no id or its time cannot be read.
    """
    source = (values.get("id") or "").strip()
    if not source:
        raise InvalidInteraction("id: empty")
    written = (values.get("occurred_at") or "").strip()
    at = _time_of(written, timezone, date_format) if written else default_ms
    attributes = {"import_file": file_name, "import_line": str(line)}
    if _OLDEST_KEPT_MS <= at < FLOOR_MS:
        # A contact created before 2000 is still a customer: its time is kept, not its event's.
        attributes["occurred_at_written"] = (_EPOCH + at * _MS).isoformat(timespec="seconds").replace("+00:00", "Z")
        at = default_ms
    return Interaction(
        event_id=event_id_of(values),
        touchpoint=TOUCHPOINT,
        occurred_at=at,
        source_id=source,
        interaction=INTERACTION,
        phone=(values.get("phone") or "").strip() or None,
        email=(values.get("email") or "").strip() or None,
        name=(values.get("name") or "").strip() or None,
        attributes=attributes,
    )


def _time_of(text: str, timezone: _dt.tzinfo | None, date_format: str | None = None) -> int:
    try:
        return parse_time(text)
    except InvalidInteraction as exc:
        if timezone is not None:
            try:
                parsed = _dt.datetime.fromisoformat(text)
            except ValueError:
                pass
            else:
                if parsed.tzinfo is not None:
                    raise exc from None
                return (parsed.replace(tzinfo=timezone) - _EPOCH) // _MS
        if date_format is not None:
            return _formatted_time(text, date_format, timezone)
        if timezone is None and "without a zone" in exc.reason:
            raise InvalidInteraction(f"{exc.reason} (--timezone says which)") from None
        raise InvalidInteraction(f"{exc.reason} (--date-format reads others, e.g. %d/%m/%Y %H:%M)") from None


def _formatted_time(text: str, date_format: str, timezone: _dt.tzinfo | None) -> int:
    """`text` read with the strptime `date_format` (ISO-8601 and epoch ms were tried first)."""
    try:
        parsed = _dt.datetime.strptime(text, date_format)
    except ValueError:
        raise InvalidInteraction(f"occurred_at: neither ISO-8601, epoch milliseconds nor {date_format!r}") from None
    if parsed.tzinfo is None:
        if timezone is None:
            raise InvalidInteraction("occurred_at: a time without a zone (--timezone says which)")
        parsed = parsed.replace(tzinfo=timezone)
    return (parsed - _EPOCH) // _MS


def parse_date_format(text: str) -> str:
    """A strptime format for `--date-format`, checked to read a date; raises CsvImportError."""
    if "%" not in text:
        raise CsvImportError(f"--date-format: {text!r:.40} has no % directive (e.g. %d/%m/%Y %H:%M)")
    sample = _dt.datetime(2024, 5, 1, 15, 30, 45, tzinfo=_dt.UTC)
    try:
        written = sample.strftime(text)
        back = _dt.datetime.strptime(written, text)
    except ValueError as exc:
        raise CsvImportError(f"--date-format: {text!r:.40} cannot be read back: {exc}") from None
    if back.date() != sample.date():
        raise CsvImportError(f"--date-format: {text!r:.40} does not give the day, month and year")
    return text


class _Dialect(csv.excel):
    """RFC 4180 quoting with the delimiter of the file."""

    strict = False


def _dialect(delimiter: str, skip_initial_space: bool) -> type[csv.Dialect]:
    return type("_FileDialect", (_Dialect,), {"delimiter": delimiter, "skipinitialspace": skip_initial_space})


class CsvContacts:
    """The rows of one CSV export as `InputRecord`s of CRM events (see the module docstring).

    The header is read, and the mapping checked against it, when this is built: a file or
    mapping that cannot work raises CsvImportError before anything is sent. `records()` reads
    the file again from the start, so it can be read more than once.
    """

    def __init__(
        self,
        path: Path,
        columns: ColumnMap,
        *,
        default_ms: int,
        delimiter: str | None = None,
        timezone: _dt.tzinfo | None = None,
        date_format: str | None = None,
        encoding: str | None = None,
    ) -> None:
        self.path = path
        self.columns = columns
        self.encoding, self._codec = _encoding_of(path, encoding)
        self.default_ms = default_ms
        self.timezone = timezone
        self.date_format = date_format
        #: Rows read so far whose time was before 2000 (kept as the attribute occurred_at_written).
        self.dated_before_floor = 0
        with self._open() as fh:
            sample = fh.read(_SAMPLE_CHARS)
        if len(sample) == _SAMPLE_CHARS and "\n" in sample:
            sample = sample[: sample.rindex("\n") + 1]  # whole lines only
        # Excel's own hint of the delimiter, ``sep=;``, on a line of its own before the header.
        hint = _SEP_LINE.fullmatch(sample.split("\n", 1)[0].rstrip("\r"))
        if hint is not None and delimiter is None:
            delimiter = hint.group(1)
        self.delimiter, skip = delimiter, False
        if delimiter is None:
            try:
                sniffed = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS)
                self.delimiter, skip = sniffed.delimiter, bool(sniffed.skipinitialspace)
            except csv.Error:  # one column, or nothing to tell: the CSV default
                self.delimiter = ","
        assert self.delimiter is not None
        self.dialect = _dialect(self.delimiter, skip)
        self.header: list[str] = []
        self._header_rows = 0
        with self._open() as fh:
            for _, _, row in self._rows(fh):
                self._header_rows += 1
                if hint is not None and self._header_rows == 1:
                    continue
                if isinstance(row, list) and any(cell.strip() for cell in row):
                    self.header = [cell.strip() for cell in row]
                    break
        if not self.header:
            raise CsvImportError(f"{path.name}: no header row (the first non-blank row names the columns)")
        if _not_utf8("".join(self.header)):
            raise CsvImportError(f"{path.name}: the header is {self._undecodable()}")
        try:
            self.index = columns.locate(self.header)
            self.more = columns.locate_more(self.header)
        except MappingError as exc:
            if len(self.header) == 1:  # one column: the sniffer found no delimiter it knows
                raise MappingError(f"{exc} (one column only: give the file's --delimiter)") from None
            raise

    def _open(self) -> IO[str]:
        # utf-8-sig drops a byte-order mark; surrogateescape keeps bytes that are not UTF-8 so that
        # only the rows holding them are rejected, with their bytes in the rejects file.
        return self.path.open("r", encoding=self._codec, errors="surrogateescape", newline="")

    def _undecodable(self) -> str:
        if self.encoding == "utf-8":
            return "not UTF-8: save the export as UTF-8 (CSV UTF-8), or give its --encoding (cp1252)"
        return f"not {self.encoding}: a byte it does not define (another --encoding?)"

    def _rows(self, fh: IO[str]) -> Iterator[tuple[int, str, list[str] | csv.Error]]:
        """(line the row starts on, its text as read, its cells or the csv error) for every row."""
        parts: list[str] = []

        def lines() -> Iterator[str]:
            for text in fh:
                parts.append(text)
                yield text

        reader = csv.reader(lines(), self.dialect)
        consumed = 0
        while True:
            row: list[str] | csv.Error
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if not parts:
                    return
                row = exc
            start, consumed = consumed + 1, reader.line_num
            raw = "".join(parts)
            parts.clear()
            yield start, raw, row

    def records(self) -> Iterator[InputRecord]:
        """Every row after the header as an InputRecord (`read` None for a blank row)."""
        width = len(self.header)
        with self._open() as fh:
            rows = self._rows(fh)
            for _ in range(self._header_rows):
                next(rows)
            for line, raw, row in rows:
                data = raw.encode("utf-8", "surrogateescape")
                if isinstance(row, list) and not any(cell.strip() for cell in row):
                    yield InputRecord(self.path, line, data, None)
                    continue
                problem, values = "", {}
                if _not_utf8(raw):
                    problem = f"row: {self._undecodable()}"
                elif isinstance(row, csv.Error):
                    problem = f"row: not CSV ({str(row)[:80]})"
                elif len(row) != width:
                    problem = (
                        f"row: {len(row)} cells, the header has {width} "
                        f"(a {_shown(self.delimiter)} inside an unquoted value, or an unclosed quote?)"
                    )
                else:
                    values = {f: row[i] for f, i in self.index.items()}
                    for f, others in self.more.items():
                        for i in others:  # the first cell that is not blank
                            if values[f].strip():
                                break
                            values[f] = row[i]
                    values = _joined_name(values)
                yield InputRecord(self.path, line, data, functools.partial(self._read, problem, values, line))

    def _read(self, problem: str, values: Mapping[str, str], line: int, limits: Limits) -> Interaction:
        if problem:
            raise InvalidInteraction(problem)
        event = contact_event(
            values,
            default_ms=self.default_ms,
            file_name=self.path.name,
            line=line,
            timezone=self.timezone,
            date_format=self.date_format,
        )
        problems = validate(event, limits)
        if problems:
            raise InvalidInteraction("; ".join(problems))
        if "occurred_at_written" in event.attributes:
            self.dated_before_floor += 1
        return event


def _joined_name(values: dict[str, str]) -> dict[str, str]:
    """`values` with a name mapped in parts (`NAME_PARTS`) joined into `name`: "First Last", either alone."""
    if not any(part in values for part in NAME_PARTS):
        return values
    parts = [values.pop(part, "").strip() for part in NAME_PARTS]
    values["name"] = " ".join(part for part in parts if part)
    return values


#: Excel's delimiter line: ``sep=`` and one character, alone on the file's first line.
_SEP_LINE = re.compile(r"[Ss][Ee][Pp]=(.)[ ]*")


def _encoding_of(path: Path, given: str | None) -> tuple[str, str]:
    """(the encoding's name as shown, the codec to read `path` with).

    A UTF-16 or UTF-32 byte-order mark says which (Excel's "Unicode Text"), whatever is given;
    otherwise `given` (``cp1252``: Excel's "CSV (Comma delimited)" on Windows), else UTF-8 with or
    without a byte-order mark. Raises CsvImportError for an encoding Python does not know.
    """
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32", "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "utf-16"
    if given is None:
        return "utf-8", "utf-8-sig"
    try:
        name = codecs.lookup(given.strip()).name
    except LookupError:
        raise CsvImportError(f"--encoding: unknown encoding {given!r:.40} (try utf-8, cp1252, utf-16)") from None
    return (name, "utf-8-sig") if name == "utf-8" else (name, name)


def _not_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _shown(delimiter: str | None) -> str:
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(delimiter or ",", repr(delimiter))
