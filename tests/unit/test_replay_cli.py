"""`irl replay` end to end on a small file: outputs, rejects, determinism."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from resolver.engine import Resolver
from resolver.replay import replay
from streams.commands.replay import command

T0 = 1_700_000_000_000
LINES = [
    {"event_id": "e1", "touchpoint": "WEB", "occurred_at": T0, "source_id": "ck1", "interaction": "visit",
     "phone": "098765-43210", "email": "Ravi.Kumar@gmail.com", "name": "Ravi Kumar"},
    {"event_id": "e2", "touchpoint": "WHATSAPP", "occurred_at": T0 + 5, "source_id": "919876543210",
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
    assert ravi["phones"] == ["+919876543210"] and ravi["emails"] == ["ravikumar@gmail.com"]
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
         "interaction": "crm_import", "phone": "+91 98765 43210", "name": "RAVI KUMAR"},
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
