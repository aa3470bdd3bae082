"""No command writes over its own input, or writes two outputs to one file.

The audit: ``irl replay events.jsonl --rejects events.jsonl ...`` truncated the input before
reading it, then reported ``events=0`` and exited 0. Now it is a usage error (exit 2) and the
input is left as it was, however the path is spelled (another spelling, a symbolic or a hard link).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli import main
from streams.commands.replay import command as replay

EVENT = {
    "event_id": "e1", "touchpoint": "WEB", "occurred_at": 1_700_000_000_000, "source_id": "ck1",
    "interaction": "visit", "phone": "9876543210", "name": "Ravi Kumar",
}  # fmt: skip
OUTPUTS = ("assignments", "profiles", "rejects")


def _events(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(EVENT) + "\n", encoding="utf-8")
    return path


def _spellings(tmp_path: Path, events: Path) -> list[str]:
    (tmp_path / "sub").mkdir()
    (tmp_path / "linked.jsonl").symlink_to(events)
    os.link(events, tmp_path / "hard.jsonl")
    return [str(events), str(tmp_path / "sub" / ".." / "events.jsonl"), str(tmp_path / "linked.jsonl"),
            str(tmp_path / "hard.jsonl")]  # fmt: skip


@pytest.mark.parametrize("output", OUTPUTS)
def test_replay_refuses_an_output_that_is_an_input_however_spelled(tmp_path: Path, output: str) -> None:
    events = _events(tmp_path)
    before = events.read_bytes()
    for n, spelling in enumerate(_spellings(tmp_path, events)):
        paths = {name: str(tmp_path / f"{name}{n}.out") for name in OUTPUTS} | {output: spelling}
        result = CliRunner().invoke(replay, [str(events), *(f"--{k}={v}" for k, v in paths.items())])
        assert result.exit_code == 2, (spelling, result.output)
        assert f"--{output} {spelling} is the input" in result.output
        assert events.read_bytes() == before
        assert not any(Path(p).exists() for name, p in paths.items() if name != output)


def test_replay_refuses_two_outputs_on_one_file(tmp_path: Path) -> None:
    events = _events(tmp_path)
    (tmp_path / "out.jsonl").write_text("")
    (tmp_path / "alias.jsonl").symlink_to(tmp_path / "out.jsonl")
    for profiles in (tmp_path / "out.jsonl", tmp_path / "alias.jsonl"):
        args = [str(events), f"--assignments={tmp_path / 'a.csv'}", f"--profiles={profiles}",
                f"--rejects={tmp_path / 'out.jsonl'}"]  # fmt: skip
        result = CliRunner().invoke(replay, args)
        assert result.exit_code == 2 and "--profiles and --rejects are one file" in result.output
    fresh = [str(events), *(f"--{name}={tmp_path / 'new.out'}" for name in OUTPUTS)]  # none exists yet
    result = CliRunner().invoke(replay, fresh)
    assert result.exit_code == 2 and "--assignments and --profiles are one file" in result.output


def test_replay_still_writes_outputs_beside_its_input(tmp_path: Path) -> None:
    events = _events(tmp_path)
    result = CliRunner().invoke(replay, [str(events), *(f"--{name}={tmp_path / name}.out" for name in OUTPUTS)])
    assert result.exit_code == 0 and "events=1 " in result.output


def _dry_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRL_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("IRL_SCHEMA_REGISTRY_URL", "http://127.0.0.1:1/apis/ccompat/v7")


def test_produce_refuses_a_rejects_file_that_is_an_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _dry_env(monkeypatch)
    monkeypatch.chdir(tmp_path)  # the default rejects file sits beside an input under the working directory
    events = _events(tmp_path)
    events.write_text(events.read_text() + "not json\n")
    before = events.read_bytes()
    result = CliRunner().invoke(main, ["produce", str(events), "--dry-run", "--rejects", str(events)])
    assert result.exit_code == 2 and "--rejects" in result.output and "is the input" in result.output
    assert events.read_bytes() == before
    # The default rejects file of one input is another input: `irl produce *.jsonl` after a run.
    earlier = tmp_path / "events.rejects.jsonl"
    earlier.write_text('{"file": "events.jsonl", "line": 2, "reason": "line: not JSON", "raw": "not json"}\n')
    kept = earlier.read_bytes()
    result = CliRunner().invoke(main, ["produce", str(events), str(earlier), "--dry-run"])
    assert result.exit_code == 2 and "--rejects (default)" in result.output
    assert earlier.read_bytes() == kept


def test_import_refuses_outputs_on_its_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _dry_env(monkeypatch)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("Id,Name\n1,Asha Rao\n", encoding="utf-8")
    before = contacts.read_bytes()
    for option in ("--rejects", "--events-out"):
        result = CliRunner().invoke(main, ["import", str(contacts), "--map", "id=Id,name=Name", "--dry-run",
                                           option, str(contacts)])  # fmt: skip
        assert result.exit_code == 2 and f"{option} {contacts} is the input" in result.output, result.output
        assert contacts.read_bytes() == before
    out = tmp_path / "both.jsonl"
    result = CliRunner().invoke(main, ["import", str(contacts), "--map", "id=Id,name=Name", "--dry-run",
                                       "--rejects", str(out), "--events-out", str(out)])  # fmt: skip
    assert result.exit_code == 2 and "--rejects and --events-out are one file" in result.output
