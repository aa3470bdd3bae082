"""An event id reused by another event within the duplicate horizon: the stream takes nothing of it and says so."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from resolver.config import ResolverConfig
from resolver.interaction import Interaction
from resolver.replay import REUSED_ID
from resolver.resolver import Resolver
from streams.cli import main
from streams.deadletter import reused_id_letter
from streams.linkbatch import BATCH, TICK, encode_batches
from streams.mentions import ErasedPerson, mentions
from streams.pipeline import Pipeline
from streams.purge import texts_of
from streams.sequencer import LinkRecord

T0 = 1_700_000_000_000


def _event(eid: str, src: str, phone: str, name: str, at: int = T0, what: str = "order") -> Interaction:
    return Interaction(eid, "WEB", at, src, what, phone=phone, name=name)


def test_the_pipeline_counts_a_reused_id_among_duplicates_and_names_it() -> None:
    p = Pipeline(ResolverConfig(), 1000, 0)
    first = _event("ord-1", "u-1", "98450 11111", "Kavya S")
    resend = _event("ord-1", "u-1", "98450 11111", "Kavya S", T0 + 5_000, "order_retry")
    other = _event("ord-1", "u-2", "98450 22222", "Deepak Menon", T0 + 9_000)
    (step,) = p.on_events(0, [first, resend, other])
    assert (step.events, step.duplicates, step.reused_ids) == (3, 2, ["ord-1"])
    assert len(p.resolver.customer_ids()) == 1  # Deepak's event under Kavya's id took nothing


def test_the_core_answers_conflict_only_for_other_content() -> None:
    r = Resolver()
    assert not r.apply(_event("e1", "u-1", "98450 11111", "Kavya S")).duplicate
    resend = r.apply(_event("e1", "u-1", "+91 98450 11111", " Kavya S", T0 + 1, "retry"))  # same evidence
    assert resend.duplicate and not resend.conflict and resend.customer_id is not None
    other = r.apply(_event("e1", "u-2", "98450 22222", "Deepak Menon", T0 + 2))
    assert other.duplicate and other.conflict and other.customer_id is None
    assert len(r.customer_ids()) == 1


def test_an_id_taken_in_again_beyond_the_horizon_is_a_new_event_whatever_came_between() -> None:
    """The later event's own time ends its id's horizon: the stream, whose order of topics is not
    the file's, and the file decide alike (found by audit s30: kiosk-3001 reused 18 days later was
    a reject in the worker and a new event in replay)."""
    day = 86_400_000
    for between in (False, True):
        r = Resolver()
        assert not r.apply(_event("k-1", "u-1", "98450 11111", "Kavya S")).duplicate
        if between:  # another event moves the log's time on first
            assert not r.apply(_event("w-9", "u-9", "98450 99999", "Ravi K", T0 + 17 * day)).duplicate
        later = r.apply(_event("k-1", "u-2", "98450 22222", "Deepak Menon", T0 + 18 * day))
        assert not later.duplicate and not later.conflict
        assert len(r.customer_ids()) == (3 if between else 2)
        assert r.ingest("k-1", "WEB", T0 + 18 * day + 1, "u-3", "98450 33333", None, "Anu P") == "conflict"


def test_an_id_sent_again_within_the_horizon_is_still_a_repeat_when_it_moves_the_time_on() -> None:
    r = Resolver()
    r.apply(_event("k-1", "u-1", "98450 11111", "Kavya S"))
    again = r.apply(_event("k-1", "u-1", "98450 11111", "Kavya S", T0 + 6 * 86_400_000, "retry"))
    assert again.duplicate and not again.conflict


def test_produce_rejects_the_reused_id_that_replay_rejects_so_the_worker_sees_only_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit s35's C5: one file, WEB `Sana Mir` then KIOSK `Imran Ali` under one id. `irl replay` kept the
    file's first; `irl produce` sent both to their topics, where the worker met the KIOSK one first (the
    topics interleave by arrival) and kept it. Now produce rejects the line replay rejects, for the same
    reason, so what reaches the worker is what replay took; an identical resend is still sent (a duplicate)."""
    monkeypatch.setenv("IRL_KAFKA_BOOTSTRAP", "127.0.0.1:1")  # a dry run asks nothing of any service
    monkeypatch.setenv("IRL_SCHEMA_REGISTRY_URL", "http://127.0.0.1:1/apis/ccompat/v7")

    def line(eid: str, tp: str, src: str, phone: str, name: str) -> dict[str, object]:
        return {"event_id": eid, "touchpoint": tp, "occurred_at": T0, "source_id": src, "interaction": "visit"} | {
            "phone": phone,
            "name": name,
        }

    lines = [
        line("7", "WEB", "w-1", "98450 11111", "Sana Mir"),
        line("7", "WEB", "w-1", "+919845011111", "Sana Mir"),  # a resend: the same evidence
        line("7", "KIOSK", "k-1", "98450 22222", "Imran Ali"),  # another event under the id
        line("8", "KIOSK", "k-2", "98450 33333", "Anu P"),
    ]
    source = tmp_path / "events.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    rejects = tmp_path / "produce-rejects.jsonl"
    result = CliRunner().invoke(main, ["produce", str(source), "--dry-run", "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    assert "would send 3 (kiosk 1, web 2); rejected 1 (1 reusing an event id with other content)" in result.stdout
    produced = [(r["line"], r["reason"]) for r in map(json.loads, rejects.read_text().splitlines())]
    assert produced == [(3, REUSED_ID)]
    replayed = tmp_path / "replay-rejects.jsonl"
    for mode in ("--sequential", "--workers=2"):
        out = CliRunner().invoke(
            main,
            [
                "replay",
                str(source),
                "--assignments",
                str(tmp_path / "a.csv"),
                "--profiles",
                str(tmp_path / "p.jsonl"),
                "--rejects",
                str(replayed),
                mode,
            ],
        )
        assert out.exit_code == 0, out.output
        assert [(r["line"], r["reason"]) for r in map(json.loads, replayed.read_text().splitlines())] == produced


def test_the_ordered_stage_dead_letters_a_reused_id_once_and_not_when_it_restores() -> None:
    """Audit s35's C5: the worker only logged such an event's id (its content was left on its touchpoint
    topic for the retention). Now it goes to the dead-letter topic with the reason, stage `resolve`; a
    restore that applies the links log's tail quietly (its outputs on the broker already) sends none again."""
    from tests.unit.test_sequencer import FakeKafka, sequencer

    first = _event("ord-1", "u-1", "98450 11111", "Kavya S")
    other = _event("ord-1", "u-2", "98450 22222", "Deepak Menon", T0 + 9_000)
    log = [
        LinkRecord(0, BATCH, next(encode_batches([first, _event("ord-2", "u-3", "98450 33333", "Anu P")]))),
        LinkRecord(1, BATCH, next(encode_batches([other]))),
        LinkRecord(2, TICK, json.dumps({"now": T0 + 10_000}).encode()),  # the published mark goes with a tick
    ]
    kafka = FakeKafka()
    sent: list[tuple[int, Interaction]] = []

    async def reused(events: list[tuple[int, Interaction]]) -> None:
        sent.extend(events)

    async def scenario() -> None:
        seq = sequencer(kafka)
        seq.ports.reused = reused
        await seq.restore()
        await seq.apply(log, seq.rt.writer_epoch)
        assert sent == [(1, other)] and seq.rt.stats["reused_ids"] == 1
        again = sequencer(kafka)  # a restart without a snapshot: the whole log is the tail
        again.ports.reused = reused
        position = await again.restore()
        await again.apply(log[position:], again.rt.writer_epoch)
        assert position == 0 and again.rt.stats["steps_quiet"] > 0
        assert sent == [(1, other)]

    asyncio.run(scenario())


def test_the_dead_letter_of_a_reused_id_says_why_and_an_erasure_finds_the_person_in_it() -> None:
    other = _event("ord-1", "u-2", "+91 98450 22222", "Deepak Menon", T0 + 9_000)
    letter = reused_id_letter(
        other, "irl-resolver-links", 812, T0, encode=lambda r: json.dumps(r, default=str).encode()
    )
    headers = dict(letter.headers)
    assert headers["irl.stage"] == b"resolve" and headers["irl.error.code"] == b"reused_id"
    assert headers["irl.source.topic"] == b"irl-resolver-links" and headers["irl.source.offset"] == b"812"
    assert b"event id reused with other content" in headers["irl.error"]
    assert json.loads(letter.record["value"]) == {**other.to_record(), "attributes": {}}
    deepak = ErasedPerson.from_identifiers(["phone:+919845022222"])
    assert mentions(deepak, texts_of(letter.key, letter.record["value"], []))
    assert not mentions(
        ErasedPerson.from_identifiers(["phone:+919845011111"]), texts_of(letter.key, letter.record["value"], [])
    )
