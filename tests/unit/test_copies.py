"""Copies of a data set (`streams.copies`, `irl generate --copies`): new ids, later times, nothing else changed."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from resolver.interaction import from_json, parse_time
from streams.commands.generate import command
from streams.copies import DAY_MS, copy_event, copy_id, copy_truth_row, shift_time, write_copies, write_truth_copies
from streams.synthetic import generate, write

GAP = 30
_SAME = ("touchpoint", "source_id", "interaction", "phone", "email", "name", "attributes")


def _events(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _truth(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["event_id", "true_customer"]
    return [(a, b) for a, b in rows[1:]]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("one")
    write(out, *generate(60, seed=3))
    return out


def test_copy_zero_keeps_the_id_and_later_copies_get_a_suffix() -> None:
    assert copy_id("ev-1", 0) == "ev-1"
    assert copy_id("ev-1", 1) == "ev-1~1"
    assert copy_id("ev-1", 15) == "ev-1~15"
    with pytest.raises(ValueError):
        copy_id("ev-1", -1)


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        (1_704_067_200_000, 30, 1_704_067_200_000 + 30 * DAY_MS),
        ("2024-01-05T10:20:30.123Z", 30, "2024-02-04T10:20:30.123Z"),
        ("2024-01-05T23:59:59.999+05:30", 30, "2024-02-04T23:59:59.999+05:30"),
        ("2024-02-28T23:00:00.000+05:30", 1, "2024-02-29T23:00:00.000+05:30"),  # leap day
        ("2024-12-31T18:30:00.000Z", 30, "2025-01-30T18:30:00.000Z"),  # year end
        ("2024-01-05T10:20:30+00:00", 2, "2024-01-07T10:20:30+00:00"),  # seconds, +00:00: as written
        (" 1704067200000 ", 1, " 1704153600000 "),
        ("2024-01-05T10:20:30.123Z", 0, "2024-01-05T10:20:30.123Z"),
    ],
)
def test_a_time_moves_by_whole_days_in_the_form_it_was_written(value: object, days: int, expected: object) -> None:
    shifted = shift_time(value, days)
    assert shifted == expected
    assert type(shifted) is type(value)
    assert parse_time(shifted) == parse_time(value) + days * DAY_MS


def test_a_basic_iso_date_is_written_again_in_the_generators_form() -> None:
    shifted = shift_time("20240105T102030Z", 1)
    assert shifted == "2024-01-06T10:20:30.000Z"
    assert parse_time(shifted) == parse_time("20240105T102030Z") + DAY_MS


@pytest.mark.parametrize("value", [True, None, "yesterday", "2024-01-05T10:20:30", 1.5, [1]])
def test_a_time_that_cannot_be_read_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="occurred_at"):
        shift_time(value, 1)


def test_a_copied_event_changes_only_its_id_and_time(small: Path) -> None:
    events = _events(small / "events.jsonl")
    for event in events:
        assert copy_event(event, 0, GAP) == event
        for k in (1, 2, 15):
            copy = copy_event(event, k, GAP)
            assert copy["event_id"] == f"{event['event_id']}~{k}"
            assert parse_time(copy["occurred_at"]) == parse_time(event["occurred_at"]) + k * GAP * DAY_MS
            assert type(copy["occurred_at"]) is type(event["occurred_at"])
            assert {f: copy.get(f) for f in _SAME} == {f: event.get(f) for f in _SAME}
            assert list(copy) == list(event)  # same fields, same order
            from_json(copy)  # still a valid interaction
    assert events == _events(small / "events.jsonl")  # the originals are not touched


def test_the_events_file_is_written_copy_major(small: Path, tmp_path: Path) -> None:
    one = _events(small / "events.jsonl")
    target = tmp_path / "events.jsonl"
    assert write_copies(small / "events.jsonl", target, 3, GAP) == 3 * len(one)
    lines = target.read_text(encoding="utf-8").splitlines(keepends=True)
    original = (small / "events.jsonl").read_text(encoding="utf-8")
    assert "".join(lines[: len(one)]) == original  # copy 0 is the file as it was, byte for byte
    got = [json.loads(line) for line in lines]
    for k in range(3):
        block = got[k * len(one) : (k + 1) * len(one)]
        assert block == [copy_event(e, k, GAP) for e in one]
    # Generated over 30 days, so with a 30-day gap every copy happens after the one before.
    times = [[parse_time(e["occurred_at"]) for e in got[k * len(one) : (k + 1) * len(one)]] for k in range(3)]
    assert max(times[0]) < min(times[1]) and max(times[1]) < min(times[2])


def test_truth_gets_a_row_per_copy_with_the_same_customer(small: Path, tmp_path: Path) -> None:
    one = _truth(small / "truth.csv")
    target = tmp_path / "truth.csv"
    assert write_truth_copies(small / "truth.csv", target, 4) == 4 * len(one)
    got = _truth(target)
    assert got == [copy_truth_row(row, k) for k in range(4) for row in one]
    assert got[len(one)] == (f"{one[0][0]}~1", one[0][1])
    assert len({event_id for event_id, _ in got}) == len(got)


def test_every_copied_event_has_its_truth_row(small: Path, tmp_path: Path) -> None:
    write_copies(small / "events.jsonl", tmp_path / "events.jsonl", 3, GAP)
    write_truth_copies(small / "truth.csv", tmp_path / "truth.csv", 3)
    truth = dict(_truth(tmp_path / "truth.csv"))
    one = dict(_truth(small / "truth.csv"))
    for event in _events(tmp_path / "events.jsonl"):
        base = event["event_id"].split("~")[0]
        assert truth[event["event_id"]] == one[base]


def test_the_writers_refuse_bad_arguments(small: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        write_copies(small / "events.jsonl", tmp_path / "e.jsonl", 0, GAP)
    with pytest.raises(ValueError, match="another file"):
        write_copies(small / "events.jsonl", small / "events.jsonl", 2, GAP)
    with pytest.raises(ValueError, match="negative"):
        write_copies(small / "events.jsonl", tmp_path / "e.jsonl", 2, -1)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event_id":"a","occurred_at":"soon"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:1: occurred_at"):
        write_copies(bad, tmp_path / "e.jsonl", 2, GAP)
    headless = tmp_path / "t.csv"
    headless.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(ValueError, match="header"):
        write_truth_copies(headless, tmp_path / "t2.csv", 2)


def test_generate_with_copies_writes_the_copies_of_generate(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--customers", "40", "--seed", "9"]
    plain = runner.invoke(command, [*base, "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0, plain.output
    once = runner.invoke(command, [*base, "--out", str(tmp_path / "once"), "--copies", "1"])
    assert once.exit_code == 0, once.output
    for name in ("events.jsonl", "truth.csv"):  # --copies 1 is today's output
        assert (tmp_path / "once" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes()
    many = runner.invoke(command, [*base, "--out", str(tmp_path / "many"), "--copies", "3", "--copy-gap-days", "45"])
    assert many.exit_code == 0, many.output
    events = _events(tmp_path / "plain" / "events.jsonl")
    assert _events(tmp_path / "many" / "events.jsonl") == [copy_event(e, k, 45) for k in range(3) for e in events]
    truth = _truth(tmp_path / "plain" / "truth.csv")
    assert _truth(tmp_path / "many" / "truth.csv") == [copy_truth_row(r, k) for k in range(3) for r in truth]
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == ["events.jsonl", "truth.csv"]
    assert f"copies=3 copy_gap_days=45 events={3 * len(events)}" in many.output


def test_generate_refuses_zero_copies(tmp_path: Path) -> None:
    result = CliRunner().invoke(command, ["--customers", "5", "--seed", "1", "--out", str(tmp_path), "--copies", "0"])
    assert result.exit_code != 0
    assert "--copies" in result.output
