"""`irl replay` and `irl produce` read UTF-8, a byte-order mark included; anything else is said plainly.

The audit: a BOM (Excel's, Windows') cost the first line ("not a JSON event: JSONDecodeError"); a
Latin-1 ``José Müller`` was read as ``Jos M ller`` (bytes replaced, then cleaned away); a UTF-16
file gave one JSONDecodeError a line and never named its encoding. Every mode of replay gives
the same outputs, including `--workers 2` on a file large enough to be cut into pieces by bytes
(`streams.replay_shards.pieces`): only a file's first piece starts at its byte-order mark.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from streams.cli import main
from streams.commands.replay import command
from streams.replay_shards import pieces

MODES = ("--sequential", "--workers=1", "--workers=2")
T0 = 1_700_000_000_000


def _event(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"e{n}", "touchpoint": "WEB", "occurred_at": T0 + n, "source_id": f"ck{n % 97}",
        "interaction": "visit", "phone": f"98765{n % 89:05d}", "name": f"Person {n % 89} Rao", **extra,
    }  # fmt: skip


def _lines(count: int) -> list[bytes]:
    return [json.dumps(_event(n), ensure_ascii=False).encode() for n in range(count)]


def _replay(out: Path, *sources: Path, mode: str) -> dict[str, str]:
    out.mkdir()
    paths = {name: out / f"{name}.out" for name in ("assignments", "profiles", "rejects")}
    result = CliRunner().invoke(command, [*map(str, sources), *(f"--{k}={v}" for k, v in paths.items()), mode])
    assert result.exit_code == 0, result.output
    summary = result.output.rpartition(" seconds=")[0]
    return {"summary": summary, **{name: path.read_text(encoding="utf-8") for name, path in paths.items()}}


@pytest.mark.parametrize("mode", MODES)
def test_a_byte_order_mark_at_a_files_start_is_skipped_in_every_mode(tmp_path: Path, mode: str) -> None:
    plain, marked = tmp_path / "plain" / "events.jsonl", tmp_path / "marked" / "events.jsonl"
    for path in (plain, marked):
        path.parent.mkdir()
    body = b"\n".join(_lines(40)) + b"\n"
    plain.write_bytes(body)
    marked.write_bytes(codecs.BOM_UTF8 + body)
    expected = _replay(tmp_path / "expected", plain, mode=mode)
    got = _replay(tmp_path / "got", marked, mode=mode)
    assert got == expected
    assert expected["rejects"] == "" and "events=40 " in expected["summary"]


def test_a_file_cut_in_pieces_with_a_mark_and_bytes_not_utf8_gives_one_result_in_every_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut into pieces by bytes (`--workers 2`): the mark is only the first piece's, each bad line a reject."""
    monkeypatch.setattr("streams.replay_shards.SMALL", 4096)
    lines = _lines(600)
    for n in range(3, len(lines), 97):
        lines[n] = json.dumps(_event(n, name="NAME")).encode().replace(b"NAME", "José Müller".encode("latin-1"))
    events = tmp_path / "events.jsonl"
    events.write_bytes(codecs.BOM_UTF8 + b"\n".join(lines) + b"\n")
    assert len(pieces((events,), 8)) == 8
    outputs = [_replay(tmp_path / mode.strip("-="), events, mode=mode) for mode in MODES]
    assert outputs[0] == outputs[1] == outputs[2]
    rejects = [json.loads(x) for x in outputs[0]["rejects"].splitlines()]
    assert [r["line"] for r in rejects] == [n + 1 for n in range(3, len(lines), 97)]
    column = len(json.dumps(_event(3, name="NAME")).partition("NAME")[0]) + 4  # "Jos" then the é
    assert rejects[0]["reason"] == f"not UTF-8: invalid byte at column {column}"
    assert "Jos" not in outputs[0]["rejects"]


@pytest.mark.parametrize("mode", MODES)
def test_a_latin1_line_is_a_reject_not_a_mangled_name(tmp_path: Path, mode: str) -> None:
    events = tmp_path / "events.jsonl"
    latin = json.dumps(_event(1, name="NAME")).encode().replace(b"NAME", "José Müller".encode("latin-1"))
    events.write_bytes(b"\n".join([_lines(1)[0], latin, json.dumps(_event(2, name="José Müller")).encode()]) + b"\n")
    out = _replay(tmp_path / "out", events, mode=mode)
    assert [json.loads(x)["line"] for x in out["rejects"].splitlines()] == [2]
    assert "not UTF-8: invalid byte at column" in out["rejects"]
    names = {json.loads(x)["name"] for x in out["profiles"].splitlines()}
    assert "José Müller" in names and not any("Jos " in name for name in names)


@pytest.mark.parametrize("mark", [codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE])
@pytest.mark.parametrize("mode", MODES)
def test_a_utf16_file_is_refused_whole_naming_its_encoding(tmp_path: Path, mode: str, mark: bytes) -> None:
    encoding = {codecs.BOM_UTF16_LE: "utf-16-le", codecs.BOM_UTF16_BE: "utf-16-be"}.get(mark, "utf-32-le")
    events = tmp_path / "events.jsonl"
    events.write_bytes(mark + "\n".join(json.dumps(_event(n)) for n in range(3)).encode(encoding))
    outs = [tmp_path / name for name in ("a.csv", "p.jsonl", "r.jsonl")]
    result = CliRunner().invoke(
        command, [str(events), f"--assignments={outs[0]}", f"--profiles={outs[1]}", f"--rejects={outs[2]}", mode]
    )
    assert result.exit_code == 1
    assert f"events.jsonl: {'UTF-32' if encoding == 'utf-32-le' else 'UTF-16'} text" in result.output
    assert "save it as UTF-8" in result.output
    assert not any(path.exists() for path in outs)


@pytest.mark.parametrize("mode", MODES)
def test_utf16_without_a_mark_is_a_reject_a_line_naming_nul_bytes(tmp_path: Path, mode: str) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes("\n".join(json.dumps(_event(n)) for n in range(3)).encode("utf-16-le"))
    out = _replay(tmp_path / "out", events, mode=mode)
    reasons = {json.loads(x)["reason"] for x in out["rejects"].splitlines()}
    assert reasons == {"not a JSON event: NUL bytes (UTF-16 text without a byte-order mark?)"}


def _produce(tmp_path: Path, body: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, list[dict[str, Any]]]:
    monkeypatch.setenv("IRL_KAFKA_BOOTSTRAP", "127.0.0.1:1")  # a dry run asks nothing
    monkeypatch.setenv("IRL_SCHEMA_REGISTRY_URL", "http://127.0.0.1:1/apis/ccompat/v7")
    source = tmp_path / "events.jsonl"
    source.write_bytes(body)
    monkeypatch.chdir(tmp_path)  # the default rejects file sits beside an input under the working directory
    result = CliRunner().invoke(main, ["produce", str(source), "--dry-run"])
    rejects = tmp_path / "events.rejects.jsonl"
    records = [json.loads(x) for x in rejects.read_text().splitlines()] if rejects.exists() else []
    return result.exit_code, result.output, records


def test_produce_skips_a_byte_order_mark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, output, rejects = _produce(tmp_path, codecs.BOM_UTF8 + b"\n".join(_lines(3)) + b"\n", monkeypatch)
    assert code == 0 and "would send 3 (web 3); rejected 0" in output and rejects == []


def test_produce_rejects_a_latin1_line_saying_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    latin = json.dumps(_event(1, name="NAME")).encode().replace(b"NAME", "José".encode("latin-1"))
    code, _, rejects = _produce(tmp_path, b"\n".join([_lines(1)[0], latin]) + b"\n", monkeypatch)
    column = len(json.dumps(_event(1, name="NAME")).partition("NAME")[0]) + 4
    assert code == 0 and [r["reason"] for r in rejects] == [f"line: not UTF-8: invalid byte at column {column}"]


def test_produce_refuses_a_utf16_file_before_sending(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = codecs.BOM_UTF16_LE + "\n".join(json.dumps(_event(n)) for n in range(3)).encode("utf-16-le")
    code, output, rejects = _produce(tmp_path, body, monkeypatch)
    assert code == 1 and "events.jsonl: UTF-16 text (it starts with the byte-order mark FF FE)" in output
    assert rejects == [] and "would send" not in output
