"""`irl produce` without a broker: line parsing and record preparation over the malformed corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from resolver.interaction import Interaction, InvalidInteraction, Limits
from streams.cli import main
from streams.codec import decode_interaction
from streams.commands.produce import parse_line, rejects_path
from streams.producer import prepare

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "malformed" / "lines.jsonl"
EXPECTED = json.loads(CORPUS.with_name("lines.expected.json").read_text())
TOPICS = {"WEB": "t.web", "WHATSAPP": "t.whatsapp", "KIOSK": "t.kiosk"}
NOW = 1_800_000_000_000


def _outcome(raw: bytes) -> Interaction | str:
    limits = Limits(now_ms=NOW)
    try:
        event = parse_line(raw, limits)
        prepare(event, TOPICS, limits)
    except InvalidInteraction as exc:
        return exc.reason
    return event


def test_the_corpus_gives_exactly_the_expected_outcomes() -> None:
    lines = CORPUS.read_bytes().splitlines()
    for number, raw in enumerate(lines, 1):
        if str(number) in EXPECTED["rejected"]:
            outcome = _outcome(raw)
            assert isinstance(outcome, str), f"line {number} accepted"
            assert EXPECTED["rejected"][str(number)] in outcome, (number, outcome)
        elif number in EXPECTED["valid"]:
            assert isinstance(_outcome(raw), Interaction), number
        else:
            assert number in EXPECTED["blank"] and not raw.strip()


def test_json_form_is_read_in_any_case_and_time_format() -> None:
    lines = CORPUS.read_bytes().splitlines()
    web = parse_line(lines[12], Limits())
    assert web.touchpoint == "WEB" and web.occurred_at == 1_714_557_600_000  # 15:30+05:30 is 10:00Z
    kiosk = parse_line(lines[5], Limits())
    assert kiosk.touchpoint == "KIOSK" and kiosk.occurred_at == 1_714_557_900_250


def test_prepare_keys_by_source_id_and_stamps_occurred_at() -> None:
    event = Interaction("ev", "WHATSAPP", 1_714_557_600_000, "919845071623", "message")
    record = prepare(event, TOPICS, Limits(now_ms=NOW))
    assert record.topic == "t.whatsapp"
    assert record.key == b"919845071623"
    assert record.timestamp_ms == event.occurred_at
    assert decode_interaction(record.value) == event


def test_prepare_refuses_unknown_and_unmapped_touchpoints() -> None:
    with pytest.raises(InvalidInteraction, match="UNKNOWN names no touchpoint"):
        prepare(Interaction("ev", "UNKNOWN", NOW, "s", "x"), TOPICS, Limits(now_ms=NOW))
    with pytest.raises(InvalidInteraction, match="KIOSK has no topic"):
        prepare(Interaction("ev", "KIOSK", NOW, "s", "x"), {"WEB": "w"}, Limits(now_ms=NOW))


def test_prepare_refuses_events_far_in_the_future() -> None:
    with pytest.raises(InvalidInteraction, match="future"):
        prepare(Interaction("ev", "WEB", NOW + 86_400_001, "s", "x"), TOPICS, Limits(now_ms=NOW))


def test_a_lone_surrogate_is_invalid_not_a_crash() -> None:
    line = (b'{"event_id":"e","touchpoint":"web","occurred_at":1714557600000,'
            b'"source_id":"s","interaction":"x","name":"\\ud800"}')  # fmt: skip
    with pytest.raises(InvalidInteraction, match="surrogate"):
        parse_line(line, Limits())
    with pytest.raises(InvalidInteraction, match="surrogate"):
        prepare(Interaction("e", "WEB", NOW, "s", "x", name="\ud800"), TOPICS, Limits(now_ms=NOW))


def test_rejects_file_sits_next_to_an_input_under_the_working_directory_else_in_it(tmp_path: Path) -> None:
    """Audit s35's C11: `irl produce /etc/shadow --dry-run` wrote `/etc/shadow.rejects.jsonl` (as root)."""
    work = tmp_path / "work"
    assert rejects_path(work / "d" / "events.jsonl", work) == work / "d" / "events.rejects.jsonl"
    assert rejects_path(work / "events.txt", work) == work / "events.txt.rejects.jsonl"
    assert rejects_path(Path("/etc/hosts"), work) == work.resolve() / "hosts.rejects.jsonl"
    assert rejects_path(work / ".." / "other" / "events.jsonl", work) == work.resolve() / "events.rejects.jsonl"


def test_produce_writes_the_rejects_of_an_input_elsewhere_in_the_working_directory_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IRL_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("IRL_SCHEMA_REGISTRY_URL", "http://127.0.0.1:1/apis/ccompat/v7")
    theirs, work = tmp_path / "theirs", tmp_path / "work"
    theirs.mkdir()
    work.mkdir()
    source = theirs / "events.jsonl"
    source.write_bytes(CORPUS.read_bytes())
    monkeypatch.chdir(work)
    result = CliRunner().invoke(main, ["produce", str(source), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in theirs.iterdir()) == ["events.jsonl"]  # nothing written beside it
    assert f"rejects of {source} are written to {work.resolve() / 'events.rejects.jsonl'}" in result.stderr
    assert len((work / "events.rejects.jsonl").read_text().splitlines()) == 17


def test_a_rejects_file_that_cannot_be_written_is_said_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IRL_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("IRL_SCHEMA_REGISTRY_URL", "http://127.0.0.1:1/apis/ccompat/v7")
    monkeypatch.chdir(tmp_path)  # the default rejects file sits beside an input under the working directory
    source = tmp_path / "events.jsonl"
    source.write_bytes(CORPUS.read_bytes())
    nowhere = tmp_path / "no-such-dir" / "r.jsonl"  # unwritable for root too (a read-only directory is not)
    result = CliRunner().invoke(main, ["produce", str(source), "--dry-run", "--rejects", str(nowhere)])
    assert result.exit_code == 0, result.output
    assert "would send 6 (kiosk 2, web 3, whatsapp 1); rejected 17" in result.stdout
    assert f"warning: cannot write the rejects file {nowhere} (No such file or directory)" in result.stderr
    assert result.stderr.count("warning: cannot write") == 1
    assert result.stderr.count(": rejected: ") == 17  # each still reported, with its line and reason
    assert not nowhere.parent.exists()


def test_a_dry_run_reports_and_rejects_what_a_run_would_and_asks_no_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IRL_KAFKA_BOOTSTRAP", "127.0.0.1:1")  # nothing answers there: nothing may be asked
    monkeypatch.setenv("IRL_SCHEMA_REGISTRY_URL", "http://127.0.0.1:1/apis/ccompat/v7")
    monkeypatch.chdir(tmp_path)  # the default rejects file sits beside an input under the working directory
    source = tmp_path / "events.jsonl"
    source.write_bytes(CORPUS.read_bytes())
    result = CliRunner().invoke(main, ["produce", str(source), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run, nothing sent: would send 6 (kiosk 2, web 3, whatsapp 1); rejected 17; failed 0; blank 1" in (
        result.stdout
    )
    rejects = [json.loads(line) for line in (tmp_path / "events.rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == sorted(int(n) for n in EXPECTED["rejected"])
    # the refused lines as read hold personal data: the owner's alone
    assert (tmp_path / "events.rejects.jsonl").stat().st_mode & 0o777 == 0o600
    nothing = tmp_path / "bad.jsonl"
    nothing.write_text("not json\n")
    result = CliRunner().invoke(main, ["produce", str(nothing), "--dry-run"])
    assert result.exit_code == 1 and "nothing is valid" in result.stderr


def test_times_without_a_zone_are_read_in_the_zone_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRL_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("IRL_SCHEMA_REGISTRY_URL", "http://127.0.0.1:1/apis/ccompat/v7")
    monkeypatch.chdir(tmp_path)  # the default rejects file sits beside an input under the working directory
    source = tmp_path / "events.jsonl"
    line = {
        "event_id": "z1",
        "touchpoint": "WEB",
        "occurred_at": "2024-12-01 10:00:00",
        "source_id": "u",
        "interaction": "x",
    }
    source.write_text(json.dumps(line) + "\n")
    refused = CliRunner().invoke(main, ["produce", str(source), "--dry-run"])
    assert refused.exit_code == 1
    assert "without a zone" in (tmp_path / "events.rejects.jsonl").read_text()
    read = CliRunner().invoke(main, ["produce", str(source), "--dry-run", "--timezone", "Asia/Kolkata"])
    assert read.exit_code == 0 and "would send 1 (web 1)" in read.stdout, read.output
    bad = CliRunner().invoke(main, ["produce", str(source), "--dry-run", "--timezone", "Mars/Olympus"])
    assert bad.exit_code == 2 and "unknown zone" in bad.output


def test_a_control_character_in_a_line_is_said_once() -> None:
    """json says "Invalid control character at"; the reason gives the column once, not "at at"."""
    from resolver.interaction import InvalidInteraction, Limits
    from streams.commands.produce import parse_line

    with pytest.raises(InvalidInteraction) as err:
        parse_line(b'{"event_id": "a\tb"}', Limits())
    assert str(err.value) == "line: not JSON (Invalid control character at column 16)"
