"""Copies of a data set: the same customers' events again, under new ids, later in time.

Copy ``k`` (``k = 0 .. N-1``) of an event is the same event with ``event_id`` ``f"{id}~{k}"``
(copy 0 keeps its id) and ``occurred_at`` ``k * gap_days`` days later, in the form it was
written (epoch milliseconds stay an integer, an ISO-8601 text keeps its zone suffix and
precision); every other field (phone, email, name, touchpoint, source id, attributes) is
unchanged. A truth row is copied the same way and keeps its true customer. This is what a
returning customer looks like: nothing new is learnt, so who is who must not change.

`copy_event` and `copy_truth_row` are pure; `write_copies` and `write_truth_copies` stream a
file copy-major (all of copy 0, then all of copy 1, ...), reading the input once per copy and
holding one line at a time. With ``gap_days`` at least the data set's span, copy ``k + 1``
happens wholly after copy ``k``.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["DAY_MS", "copy_event", "copy_id", "copy_truth_row", "shift_time", "write_copies", "write_truth_copies"]

DAY_MS = 86_400_000

#: The generator's encoder (`streams.synthetic`): compact, UTF-8 kept as is.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
#: An extended calendar date at the start of an ISO-8601 text, not followed by another digit.
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?!\d)")


def copy_id(event_id: str, k: int) -> str:
    """The event id of copy `k`: unchanged for copy 0, ``f"{event_id}~{k}"`` after."""
    if k < 0:
        raise ValueError("copy number must not be negative")
    return event_id if k == 0 else f"{event_id}~{k}"


def shift_time(value: object, days: int) -> int | float | str:
    """`value` (an ``occurred_at`` as `resolver.interaction.parse_time` accepts it) `days` later.

    The result is written as the input was: an int (or whole float) of epoch milliseconds stays
    one, a text of digits stays a text of digits, and an ISO-8601 text with a zone keeps
    everything but its date (the offset is fixed, so whole days move only the date). Raises
    ValueError for anything else.
    """
    if isinstance(value, bool):
        raise ValueError("occurred_at: a boolean is not a time")
    if isinstance(value, int):
        return value + days * DAY_MS
    if isinstance(value, float) and value.is_integer():
        return value + days * DAY_MS
    if not isinstance(value, str):
        raise ValueError(f"occurred_at: cannot shift a {type(value).__name__}")
    text = value.strip()
    if text.isdigit():
        return value.replace(text, str(int(text) + days * DAY_MS), 1)
    try:
        moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        later = moment + _dt.timedelta(days=days)
    except (ValueError, OverflowError):
        raise ValueError(f"occurred_at: not ISO-8601 nor epoch milliseconds: {value!r:.60}") from None
    if moment.tzinfo is None:
        raise ValueError(f"occurred_at: ISO-8601 time without a zone: {value!r:.60}")
    found = _DATE.match(text)
    if found is not None:
        start = value.index(text)
        return value[:start] + later.date().isoformat() + value[start + found.end() :]
    # A basic, week or ordinal date: written again in the generator's form.
    out = later.isoformat(timespec="milliseconds")
    return out.replace("+00:00", "Z") if "Z" in text or "z" in text else out


def copy_event(event: Mapping[str, Any], k: int, gap_days: int) -> dict[str, Any]:
    """Copy `k` of `event`: a new dict, id `copy_id`, time `k * gap_days` days later, the rest the same.

    Copy 0 is an equal dict. Raises ValueError when the event has no ``event_id`` string or an
    ``occurred_at`` that `shift_time` cannot move, or when `k` or `gap_days` is negative.
    """
    if gap_days < 0:
        raise ValueError("gap_days must not be negative")
    out = dict(event)
    if k == 0:
        return out
    event_id = event.get("event_id")
    if not isinstance(event_id, str):
        raise ValueError("event_id: must be a string")
    out["event_id"] = copy_id(event_id, k)
    out["occurred_at"] = shift_time(event.get("occurred_at"), k * gap_days)
    return out


def copy_truth_row(row: tuple[str, str], k: int) -> tuple[str, str]:
    """Copy `k` of a truth row ``(event_id, true_customer)``: the copied id, the same customer."""
    return copy_id(row[0], k), row[1]


def _check(source: Path, target: Path, copies: int) -> None:
    if copies < 1:
        raise ValueError("copies must be at least 1")
    if source.resolve() == target.resolve():
        raise ValueError("the copies must go to another file than their source")


def write_copies(source: Path, target: Path, copies: int, gap_days: int) -> int:
    """Write `copies` copies of the JSON Lines events of `source` to `target`, copy-major; return lines written.

    Copy 0 is each line of `source` as it is; blank lines are dropped. Streams: one line in
    memory at a time, `source` read once per copy. Raises ValueError (naming the line) for a
    line that is not a JSON object or whose event cannot be copied, and like `copy_event`.
    """
    _check(source, target, copies)
    if gap_days < 0:
        raise ValueError("gap_days must not be negative")
    written = 0
    with target.open("w", encoding="utf-8", newline="\n") as out:
        for k in range(copies):
            with source.open(encoding="utf-8", newline="\n") as lines:
                for number, line in enumerate(lines, start=1):
                    if not line.strip():
                        continue
                    if k == 0:
                        out.write(line if line.endswith("\n") else line + "\n")
                    else:
                        out.write(_ENCODER.encode(_copy_line(line, k, gap_days, source, number)) + "\n")
                    written += 1
    return written


def _copy_line(line: str, k: int, gap_days: int, source: Path, number: int) -> dict[str, Any]:
    try:
        event = json.loads(line)
        if not isinstance(event, dict):
            raise ValueError("not a JSON object")
        return copy_event(event, k, gap_days)
    except ValueError as exc:
        raise ValueError(f"{source.name}:{number}: {exc}") from None


def write_truth_copies(source: Path, target: Path, copies: int) -> int:
    """Write `copies` copies of the truth CSV `source` (header ``event_id,true_customer``) to `target`.

    One header, then every row of copy 0, then of copy 1, ...; returns the rows written (not
    counting the header). Streams like `write_copies`. Raises ValueError for a missing header
    or a row without two fields.
    """
    _check(source, target, copies)
    written = 0
    with target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        for k in range(copies):
            with source.open(encoding="utf-8", newline="") as handle:
                reader = csv.reader(handle)
                header = next(reader, None)
                if header is None or [h.strip() for h in header[:2]] != ["event_id", "true_customer"]:
                    raise ValueError(f"{source.name}: the header must be event_id,true_customer")
                if k == 0:
                    writer.writerow(header)
                for row in reader:
                    if not row:
                        continue
                    if len(row) < 2:
                        raise ValueError(f"{source.name}:{reader.line_num}: a row needs event_id,true_customer")
                    writer.writerow([*copy_truth_row((row[0], row[1]), k), *row[2:]])
                    written += 1
    return written
