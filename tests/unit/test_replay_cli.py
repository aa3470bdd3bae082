"""`irl replay` end to end on a small file: outputs, rejects, determinism, parsing in a child or not."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from resolver.config import ResolverConfig
from resolver.engine import Resolver
from resolver.replay import replay
from streams import replay_stage
from streams.commands.replay import command

T0 = 1_700_000_000_000
LINES: list[dict[str, Any]] = [
    {"event_id": "e1", "touchpoint": "WEB", "occurred_at": T0, "source_id": "ck1", "interaction": "visit",
     "phone": "098450-71623", "email": "Ravi.Kumar@gmail.com", "name": "Ravi Kumar"},
    {"event_id": "e2", "touchpoint": "WHATSAPP", "occurred_at": T0 + 5, "source_id": "919845071623",
     "interaction": "chat"},
    {"event_id": "e3", "touchpoint": "KIOSK", "occurred_at": "2023-11-14T22:13:20Z", "source_id": "k7",
     "interaction": "checkin", "email": "ravikumar+x@googlemail.com"},
    {"event_id": "e4", "touchpoint": "WEB", "occurred_at": T0, "source_id": "ck9", "interaction": "visit",
     "email": "someone@else.in"},
]  # fmt: skip


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    text = [json.dumps(x) for x in LINES]
    text.insert(2, "{not json")
    text.append(json.dumps({"event_id": "bad", "touchpoint": "WEB"}))
    text.append(json.dumps(LINES[0]))  # a duplicate send
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


def _run(tmp_path: Path, events: Path, tag: str) -> tuple[Path, Path, Path, str]:
    out = tmp_path / tag
    out.mkdir()
    a, p, r = out / "a.csv", out / "p.jsonl", out / "r.jsonl"
    result = CliRunner().invoke(
        command, [str(events), "--assignments", str(a), "--profiles", str(p), "--rejects", str(r)]
    )
    assert result.exit_code == 0, result.output
    return a, p, r, result.output


def test_replay_writes_assignments_profiles_rejects_and_a_summary(tmp_path: Path) -> None:
    events = _write(tmp_path)
    a, p, r, output = _run(tmp_path, events, "one")
    rows = list(csv.reader(a.open()))
    assert rows[0] == ["event_id", "customer_id"]
    assigned = dict(rows[1:])
    assert sorted(assigned) == ["e1", "e2", "e3", "e4"]
    assert assigned["e1"] == assigned["e2"] == assigned["e3"] != assigned["e4"]
    profiles = [json.loads(line) for line in p.read_text().splitlines()]
    assert [x["customer_id"] for x in profiles] == sorted(x["customer_id"] for x in profiles)
    ravi = next(x for x in profiles if x["customer_id"] == assigned["e1"])
    assert ravi["phones"] == ["+919845071623"] and ravi["emails"] == ["ravikumar@gmail.com"]
    assert 0.0 <= ravi["confidence"] <= 1.0 and ravi["event_count"] == 3
    rejects = [json.loads(line) for line in r.read_text().splitlines()]
    assert [x["line"] for x in rejects] == [3, 6]
    assert "duplicates=1" in output and "rejects=2" in output and "customers=2" in output


def test_replay_output_is_byte_identical_across_runs(tmp_path: Path) -> None:
    events = _write(tmp_path)
    first = _run(tmp_path, events, "one")
    second = _run(tmp_path, events, "two")
    for x, y in zip(first[:3], second[:3], strict=True):
        assert x.read_bytes() == y.read_bytes()


def test_replay_function_counts() -> None:
    resolver = Resolver()
    lines = [("mem", i + 1, json.dumps(x)) for i, x in enumerate(LINES)] + [("mem", 9, "[]")]
    seen: list[int] = []
    counts = replay(lines, resolver, on_reject=lambda rej: seen.append(rej.line))
    assert (counts.events, counts.rejects, seen) == (4, 1, [9])


def test_replay_resolves_crm_contacts_with_the_touchpoint_events(tmp_path: Path) -> None:
    """`irl import --events-out` writes CRM events in the contract's JSON form: replay reads them."""
    crm = [
        {"event_id": "crm-1", "touchpoint": "CRM", "occurred_at": T0 - 9, "source_id": "003A1",
         "interaction": "crm_import", "phone": "+91 98450 71623", "name": "RAVI KUMAR"},
        {"event_id": "crm-2", "touchpoint": "crm", "occurred_at": T0 - 8, "source_id": "003A2",
         "interaction": "crm_import", "email": "someone@else.in", "name": "Someone"},
    ]  # fmt: skip
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(x) + "\n" for x in [*LINES, *crm]), encoding="utf-8")
    a, p, r, _ = _run(tmp_path, events, "crm")
    assigned = dict(list(csv.reader(a.open()))[1:])
    assert assigned["crm-1"] == assigned["e1"] == assigned["e2"] and assigned["crm-2"] == assigned["e4"]
    assert r.read_text() == ""
    ravi = next(json.loads(x) for x in p.read_text().splitlines() if json.loads(x)["customer_id"] == assigned["e1"])
    assert {"touchpoint": "CRM", "source_id": "003A1"} in ravi["source_ids"] and "CRM" in ravi["touchpoints"]


def _run_with(tmp_path: Path, events: Path, tag: str, *flags: str) -> tuple[bytes, ...]:
    out = tmp_path / tag
    out.mkdir()
    paths = [out / "a.csv", out / "p.jsonl", out / "r.jsonl"]
    argv = [str(events), "--assignments", str(paths[0]), "--profiles", str(paths[1]), "--rejects", str(paths[2])]
    result = CliRunner().invoke(command, [*argv, *flags])
    assert result.exit_code == 0, result.output
    summary = result.output.rpartition("seconds=")[0]  # all but the timing
    return (*(p.read_bytes() for p in paths), summary.encode())


def test_parsing_in_a_child_gives_the_sequential_outputs_byte_for_byte(tmp_path: Path, monkeypatch: Any) -> None:
    events = _write(tmp_path)
    lines = []
    for n in range(2 * replay_stage.CHUNK + 7):  # more than one chunk, odd lines in each
        line = json.dumps({**LINES[n % 4], "event_id": f"x{n}"})
        lines.append("" if n % 97 == 0 else "{}" if n % 89 == 0 else line)
    with events.open("ab") as handle:
        handle.write(("\n".join(lines) + "\n").encode())
        handle.write(b'{"event_id": "\\ud800", "name": "\xff\xfe not UTF-8"}\n')
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    child = _run_with(tmp_path, events, "child", "--workers", "1")
    assert child == _run_with(tmp_path, events, "one", "--sequential")
    assert _run_with(tmp_path, events, "shards", "--workers", "2") == child


def test_a_failing_child_is_an_error_in_the_parent(tmp_path: Path) -> None:
    with pytest.raises(replay_stage.StageFailed, match="FileNotFoundError"):
        list(replay_stage.parsed_in_child((tmp_path / "missing.jsonl",), ResolverConfig()))


def test_the_child_stops_when_the_parent_stops_reading(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"  # chunks larger than a pipe holds: the child waits to send
    lines = (json.dumps({**LINES[n % 4], "event_id": f"x{n}"}) + "\n" for n in range(5 * replay_stage.CHUNK))
    events.write_text("".join(lines), encoding="utf-8")
    parsed = replay_stage.parsed_in_child((events,), ResolverConfig())
    next(parsed)
    children = multiprocessing.active_children()
    parsed.close()
    assert children and not any(child.is_alive() for child in children)


def test_json_nested_too_deep_is_a_reject_not_a_crash(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    deep = '{"a":' + "[" * 100_000 + "]" * 100_000 + "}"
    events.write_text("\n".join([json.dumps(LINES[0]), deep, json.dumps(LINES[3])]) + "\n", encoding="utf-8")
    child, sequential = (
        _run_with(tmp_path, events, "child", "--workers", "1"),
        _run_with(tmp_path, events, "one", "--sequential"),
    )
    assert child == sequential == _run_with(tmp_path, events, "shards", "--workers", "2")
    assert json.loads(child[2]) == {"source": "events.jsonl", "line": 2, "reason": "not a JSON event: RecursionError"}


def test_times_without_a_zone_are_read_in_the_zone_given_in_every_mode(tmp_path: Path) -> None:
    naive, zoned = tmp_path / "naive.jsonl", tmp_path / "zoned.jsonl"
    naive.write_text("".join(json.dumps({**x, "occurred_at": "2023-11-14 22:13:20"}) + "\n" for x in LINES))
    zoned.write_text("".join(json.dumps({**x, "occurred_at": "2023-11-14T22:13:20+00:00"}) + "\n" for x in LINES))
    refused = _outputs(tmp_path / "refused", naive, "--sequential")
    assert refused["rejects"].count("without a zone") == len(LINES)
    read = [
        _outputs(tmp_path / m[2:], naive, m, "--timezone", "UTC")
        for m in ("--sequential", "--workers=1", "--workers=2")
    ]
    expected = _outputs(tmp_path / "zoned", zoned, "--sequential")
    assert read[0] == read[1] == read[2] == expected
    assert expected["rejects"] == "" and len(expected["assignments"].splitlines()) == len(LINES) + 1


def _outputs(out: Path, source: Path, *options: str) -> dict[str, str]:
    out.mkdir()
    paths = {name: out / f"{name}.out" for name in ("assignments", "profiles", "rejects")}
    args = [str(source), *(f"--{name}={path}" for name, path in paths.items()), *options]
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 0, result.output
    return {name: path.read_text(encoding="utf-8") for name, path in paths.items()}


def _outputs_of_stdin(out: Path, text: str, *options: str) -> dict[str, str]:
    out.mkdir()
    paths = {name: out / f"{name}.out" for name in ("assignments", "profiles", "rejects")}
    result = CliRunner().invoke(
        command, ["-", *(f"--{name}={path}" for name, path in paths.items()), *options], input=text
    )
    assert result.exit_code == 0, result.output
    return {name: path.read_text(encoding="utf-8") for name, path in paths.items()}


@pytest.mark.parametrize("mode", ["--sequential", "--workers=1", "--workers=2"])
def test_events_from_stdin_or_a_pipe_give_the_outputs_of_the_file(tmp_path: Path, mode: str) -> None:
    """Every way reads its input twice (the assignments are a second pass): a pipe is read once, into a copy."""
    events = _write(tmp_path)
    expected = _outputs(tmp_path / "file", events, mode)
    assert len(expected["assignments"].splitlines()) == 5  # the header and e1-e4
    piped = _outputs_of_stdin(tmp_path / "stdin", events.read_text(encoding="utf-8"), mode)
    assert piped["assignments"] == expected["assignments"] and piped["profiles"] == expected["profiles"]
    assert piped["rejects"] == expected["rejects"].replace('"events.jsonl"', '"stdin"')
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(events.read_bytes(),))
    writer.start()
    try:
        from_fifo = _outputs(tmp_path / "fifo", fifo, mode)
    finally:
        writer.join(timeout=30)
    assert from_fifo["assignments"] == expected["assignments"] and from_fifo["profiles"] == expected["profiles"]
    assert from_fifo["rejects"] == expected["rejects"].replace('"events.jsonl"', '"fifo.jsonl"')


@pytest.mark.parametrize("mode", ["--sequential", "--workers=1", "--workers=2"])
def test_a_time_more_than_a_day_ahead_is_a_reject_and_does_not_end_the_horizon(tmp_path: Path, mode: str) -> None:
    """As the worker and `irl produce` judge it: a kiosk clock set to 2099 would move the watermark."""
    events = tmp_path / "events.jsonl"
    future = {**LINES[3], "event_id": "clock", "occurred_at": "2099-01-01T00:00:00Z"}
    events.write_text("".join(json.dumps(x) + "\n" for x in [LINES[0], future, LINES[0]]), encoding="utf-8")
    out = _outputs(tmp_path / "out", events, mode)
    assert [json.loads(x) for x in out["rejects"].splitlines()] == [
        {"line": 2, "reason": "occurred_at: more than a day in the future", "source": "events.jsonl"}
    ]
    profile = json.loads(out["profiles"])
    assert profile["event_count"] == 1  # the resend is still a duplicate


def test_an_event_id_reused_by_another_event_is_a_reject_in_every_mode(tmp_path: Path) -> None:
    """The event id is the idempotency key: a resend changes nothing; another event under it is not lost silently."""
    kavya = {
        "event_id": "ord-1001",
        "touchpoint": "WEB",
        "occurred_at": T0,
        "source_id": "u-d1",
        "interaction": "order",
        "phone": "98450 11111",
        "name": "Kavya S",
    }
    deepak = {**kavya, "source_id": "u-d2", "phone": "98450 22222", "name": "Deepak Menon", "occurred_at": T0 + 60_000}
    resend = {**kavya, "interaction": "order_retry", "occurred_at": T0 + 120_000}  # same content: a duplicate
    other = {**LINES[3], "occurred_at": T0 + 9 * 86_400_000}  # the log's time moves on 9 days
    later = {**deepak, "occurred_at": T0 + 9 * 86_400_000}  # beyond the 7-day horizon: a new event
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(x) + "\n" for x in [kavya, deepak, resend, other, later]), encoding="utf-8")
    outputs = [_outputs(tmp_path / m[2:], events, m) for m in ("--sequential", "--workers=1", "--workers=2")]
    assert outputs[0] == outputs[1] == outputs[2]
    rejects = [json.loads(x) for x in outputs[0]["rejects"].splitlines()]
    assert [(r["line"], r["reason"].split(":")[0]) for r in rejects] == [(2, "event_id")]
    assert "other content" in rejects[0]["reason"] and "Deepak" not in rejects[0]["reason"]
    names = sorted(json.loads(x)["name"] for x in outputs[0]["profiles"].splitlines() if json.loads(x)["phones"])
    assert names == ["Deepak Menon", "Kavya S"]  # Deepak's later event under the id, beyond the horizon


def test_an_id_taken_in_again_beyond_the_horizon_with_nothing_between_is_a_new_event_in_every_mode(
    tmp_path: Path,
) -> None:
    kavya = {"event_id": "k-3001", "touchpoint": "KIOSK", "occurred_at": T0, "source_id": "KV-1"}
    kavya |= {"interaction": "visit", "phone": "98450 11111", "name": "Kavya S"}
    deepak = {**kavya, "source_id": "KV-2", "phone": "98450 22222", "name": "Deepak Menon"}
    deepak["occurred_at"] = T0 + 18 * 86_400_000  # the next line: it moves the log's time on itself
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(x) + "\n" for x in [kavya, deepak]), encoding="utf-8")
    outputs = [_outputs(tmp_path / m[2:], events, m) for m in ("--sequential", "--workers=1", "--workers=2")]
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0]["rejects"] == ""
    assert len(outputs[0]["profiles"].splitlines()) == 2


@pytest.mark.parametrize("mode", ["--sequential", "--workers=1", "--workers=2"])
def test_the_summary_counts_blank_lines_in_every_mode(tmp_path: Path, mode: str, monkeypatch: Any) -> None:
    """``blank=N`` as `irl produce` counts them; a file cut into pieces (`--workers 2`) counts each once."""
    monkeypatch.setattr("streams.replay_shards.SMALL", 2048)
    lines, blank = [], 0
    for n in range(300):
        lines.append(json.dumps({**LINES[n % 4], "event_id": f"x{n}"}))
        if n % 7 == 0:
            lines.append(["", "   ", "\t", "\r"][n % 4])
            blank += 1
    events, second = tmp_path / "events.jsonl", tmp_path / "second.jsonl"
    events.write_text("\n".join(lines) + "\n\n", encoding="utf-8")  # one more at the end
    second.write_text("\n\n" + json.dumps(LINES[0]), encoding="utf-8")  # two first, no newline at the end
    out = tmp_path / "out"
    out.mkdir()
    paths = [f"--{name}={out / name}" for name in ("assignments", "profiles", "rejects")]
    result = CliRunner().invoke(command, [str(events), str(second), *paths, mode])
    assert result.exit_code == 0, result.output
    assert f" rejects=0 blank={blank + 3} " in result.output
