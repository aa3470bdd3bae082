"""`irl replay --workers N` writes what `irl replay --sequential` writes, byte for byte.

On generated data (households, offices and stores' shared numbers, mistyped phones one digit
apart, resent events) with more: bad lines, blank lines, a line that is not UTF-8, the same
event ids sent again within and beyond the duplicate horizon with other content, and two
files, each cut into pieces parsed by different workers.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from streams import replay_shards
from streams.commands.generate import command as generate
from streams.commands.replay import command

DAY_MS = 86_400_000


def _generated(tmp_path: Path, seed: int) -> list[str]:
    out = tmp_path / f"gen{seed}"
    result = CliRunner().invoke(generate, ["--customers", "150", "--seed", str(seed), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return (out / "events.jsonl").read_text(encoding="utf-8").splitlines()


def _with_trouble(lines: list[str], seed: int) -> list[str]:
    """`lines` with bad lines and ids sent again (same id, other content, later or earlier time)."""
    rng = random.Random(seed)
    out = list(lines)
    for _ in range(len(lines) // 20):
        event = json.loads(rng.choice(lines))
        if not isinstance(event["occurred_at"], int):
            continue  # an ISO time: the generator writes a few
        event["occurred_at"] += rng.choice([3_600_000, 2 * DAY_MS, 10 * DAY_MS, -DAY_MS])
        event["name"] = rng.choice([event.get("name"), "Someone Else", None])
        out.insert(rng.randrange(len(out) + 1), json.dumps(event))
    for bad in ["{not json", "", "   ", json.dumps({"event_id": "x", "touchpoint": "WEB"}), "[]"]:
        out.insert(rng.randrange(len(out) + 1), bad)
    return out


def _run(tmp_path: Path, files: list[Path], tag: str, *flags: str) -> tuple[bytes, ...]:
    out = tmp_path / tag
    out.mkdir()
    paths = [out / "a.csv", out / "p.jsonl", out / "r.jsonl"]
    argv = [*map(str, files), "--assignments", str(paths[0]), "--profiles", str(paths[1]), "--rejects", str(paths[2])]
    result = CliRunner().invoke(command, [*argv, *flags])
    assert result.exit_code == 0, result.output
    summary = result.output.rpartition("seconds=")[0]  # all but the timing
    return (*(p.read_bytes() for p in paths), summary.encode())


@pytest.mark.parametrize(("seed", "workers", "horizon"), [(1, 2, "7"), (2, 3, "1"), (3, 4, "2")])
def test_sharded_replay_writes_the_sequential_outputs(
    tmp_path: Path, monkeypatch: Any, seed: int, workers: int, horizon: str
) -> None:
    lines = _with_trouble(_generated(tmp_path, seed), seed)
    half = len(lines) // 2
    first, second = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    first.write_text("\n".join(lines[:half]) + "\n", encoding="utf-8")
    with second.open("wb") as handle:
        handle.write(("\r\n".join(lines[half:]) + "\n").encode())  # Windows line ends, and a lone \r
        handle.write(b'{"event_id": "\\ud800", "name": "\xff\xfe not UTF-8"}\r' + lines[0].encode() + b"\n")
    monkeypatch.setattr(replay_shards, "SMALL", 1000)  # cut even these small files
    assert len(replay_shards.pieces((first, second), workers)) == 2 * workers
    flags = ("--duplicate-horizon-days", horizon)
    sharded = _run(tmp_path, [first, second], "sharded", "--workers", str(workers), *flags)
    sequential = _run(tmp_path, [first, second], "sequential", "--sequential", *flags)
    assert sharded == sequential
    assert b"duplicates=0 " not in sharded[3] and sharded[2].count(b"\n") >= 4  # the trouble was there


def test_pieces_end_just_after_a_line_end(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(replay_shards, "SMALL", 1)
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"aaaa\nbb\n\ncccccccccc\nd")
    data = path.read_bytes()
    for parts in range(1, 8):
        cuts = replay_shards.pieces((path,), parts)
        assert b"".join(data[s:e] for _, s, e in cuts) == data and len(cuts) <= parts
        assert all(data[e - 1 : e] == b"\n" for _, _, e in cuts[:-1])
    assert [data[s:e] for _, s, e in replay_shards.pieces((path,), 100)] == data.splitlines(keepends=True)


def test_one_worker_parses_in_a_child_and_resolves_here(tmp_path: Path) -> None:
    lines = _generated(tmp_path, 4)[:300]
    events = tmp_path / "e.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _run(tmp_path, [events], "child", "--workers", "1") == _run(tmp_path, [events], "one", "--sequential")


def test_a_customer_id_in_two_shards_replays_in_one_process(tmp_path: Path, monkeypatch: Any) -> None:
    lines = _generated(tmp_path, 5)[:200]
    events = tmp_path / "e.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(replay_shards, "ids_disjoint", lambda held: False)
    *files, summary = _run(tmp_path, [events], "fallback", "--workers", "2")
    *one, one_summary = _run(tmp_path, [events], "one", "--sequential")
    note = b"a customer id was minted in two shards: replaying in one process\n"
    assert files == one and summary == note + one_summary


def test_assignments_spilled_in_many_runs_are_the_same_file(tmp_path: Path, monkeypatch: Any) -> None:
    lines = _with_trouble(_generated(tmp_path, 6), 6)
    events = tmp_path / "e.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    whole = _run(tmp_path, [events], "whole", "--sequential")
    monkeypatch.setattr("streams.commands.replay.RUN_ROWS", 7)
    monkeypatch.setattr(replay_shards, "_SHARD_RUN_ROWS", 5)
    monkeypatch.setattr(replay_shards, "_RUN_RECORD", 2)
    assert _run(tmp_path, [events], "runs", "--sequential") == whole
    assert _run(tmp_path, [events], "shard-runs", "--workers", "3") == whole


def test_a_failing_child_is_an_error_with_its_traceback(tmp_path: Path, monkeypatch: Any) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text("\n".join(_generated(tmp_path, 7)[:50]) + "\n", encoding="utf-8")

    def broken(*_: Any) -> None:
        raise RuntimeError("resolver broke")

    monkeypatch.setattr(replay_shards, "ingest_timed", broken)
    out = tmp_path / "out"
    out.mkdir()
    argv = [str(events), "--assignments", str(out / "a"), "--profiles", str(out / "p"), "--rejects", str(out / "r")]
    result = CliRunner().invoke(command, [*argv, "--workers", "2"])
    assert result.exit_code == 1 and "a replay child failed" in result.output and "resolver broke" in result.output


def test_a_pipe_is_read_whole_once(tmp_path: Path) -> None:
    """A pipe has no size to cut by: one worker reads it whole, and nothing reads it twice.

    (`--workers 1` and `--sequential` read the input a second time for the assignments: a
    pipe hangs them.)
    """
    lines = _generated(tmp_path, 8)[:100]
    events = tmp_path / "e.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pipe = tmp_path / "events.pipe"
    os.mkfifo(pipe)
    writer = subprocess.Popen(["cp", str(events), str(pipe)])  # opens the pipe when a reader does
    try:
        piped = _run(tmp_path, [pipe], "pipe", "--workers", "2")
    finally:
        writer.kill()
        writer.wait()
    assert piped[:2] == _run(tmp_path, [events], "file", "--workers", "2")[:2]
    assert b"events=0 " not in piped[3]
