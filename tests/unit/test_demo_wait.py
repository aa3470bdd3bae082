"""`make demo`'s waiter expects exactly the events `irl produce` sends.

It counted lines by a validity of its own: a line whose time was more than a day ahead counted,
`irl produce` refused it, and the waiter ran to its timeout waiting for an event never sent.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli import main
from streams.demo import expected_events
from streams.settings import Settings

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "malformed" / "lines.jsonl"
DAY_MS = 86_400_000


def _event(event_id: str, at: int, name: str) -> str:
    return json.dumps(
        {"event_id": event_id, "touchpoint": "WEB", "occurred_at": at, "source_id": "u9", "interaction": "order",
         "phone": "9845071623", "email": "asha.rao@example.com", "name": name, "attributes": {}}
    )  # fmt: skip


def _dry_run_sends(source: Path, tmp_path: Path) -> int:
    result = CliRunner().invoke(main, ["produce", str(source), "--dry-run", "--rejects", str(tmp_path / "r.jsonl")])
    found = re.search(r"would send (\d+) ", result.stdout)
    assert found is not None, result.output
    return int(found.group(1))


def test_the_waiter_expects_what_produce_sends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRL_KAFKA_BOOTSTRAP", "127.0.0.1:1")  # a dry run asks no service
    monkeypatch.setenv("IRL_SCHEMA_REGISTRY_URL", "http://127.0.0.1:1/apis/ccompat/v7")
    now = time.time_ns() // 1_000_000
    lines = [
        _event("ok-1", now - DAY_MS, "Asha Rao"),
        _event("ahead", now + 2 * DAY_MS, "Asha Rao"),  # more than a day ahead: refused by produce
        _event("ok-1", now - DAY_MS, "Asha Rao"),  # the same event again: sent, a duplicate
        _event("ok-1", now - DAY_MS, "Ravi Kumar"),  # its id reused with other content: refused
        _event("ok-2", now - 5000, "Asha Rao"),
    ]
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = Settings.from_env()
    assert expected_events(source, settings) == 3
    assert _dry_run_sends(source, tmp_path) == 3
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_bytes(CORPUS.read_bytes())
    assert expected_events(corpus, settings) == _dry_run_sends(corpus, tmp_path) == 6
    assert not (tmp_path / "events.rejects.jsonl").exists()  # the waiter writes no rejects
