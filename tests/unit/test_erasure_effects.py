"""An erasure reaches every effects partition that holds effects of the person (issue 15, "Erasure, the rest").

    t=0      web u-meera, her email        ─▶ customer A   ─ tick ─▶ Replaced(A: her email)      in partition p(A)
    t=6s     kiosk k-meera, her phone      ─▶ customer B   ─ tick ─▶ Replaced(B: her phone)      in partition p(B)
    t=12s    web u-meera, phone and email  ─▶ A and B merge ─ tick ─▶ Removed(absorbed, survivor) ...
    erase(survivor)                        ─▶ Erased(survivor) in p(survivor), Erased(absorbed) in p(absorbed)

A partition that applies an `Erased` snapshots at once and deletes its effects before it
(`streams.customers.CustomerPartition`, tests/unit/test_customers.py): so every partition that
ever got an effect carrying her data must get an `Erased` at the erasure. Sending it to the
erased id's partition alone left the absorbed id's effects there until retention.
"""

from __future__ import annotations

import json
from typing import Any

from resolver.config import ResolverConfig
from resolver.effect_codec import encode_effect, partition_of
from resolver.effects import Effect, Erased, Reset, Tick
from resolver.graph import customer_id_for
from resolver.interaction import from_json
from resolver.resolver import Resolver
from streams.pipeline import Pipeline
from streams.synthetic import generate

PARTITIONS = 8
WINDOW_MS, GRACE_MS = 5_000, 0
EMAIL, PHONE, NAME = "meera.iyer@example.com", "+91 98862 71453", "Meera Iyer"
HERS = (b"meera", b"98862", b"u-meera", b"k-meera")
T0 = 1_767_225_600_000  # 2026-01-01 UTC: times below are after it


def _visit(eid: str, tp: str, sid: str, at: int, **fields: Any) -> Any:
    return from_json(
        {"event_id": eid, "touchpoint": tp, "occurred_at": T0 + at, "source_id": sid, "interaction": "visit", **fields}
    )


def _apart(prefix: str, other: str) -> str:
    """The first event id ``prefix<n>`` whose customer's effects partition is not ``other``'s event's."""
    avoid = partition_of(customer_id_for(other), PARTITIONS)
    n = 0
    while partition_of(customer_id_for(f"{prefix}{n}"), PARTITIONS) == avoid:
        n += 1
    return f"{prefix}{n}"


def _run(p: Pipeline) -> tuple[dict[int, list[Effect]], list[Effect], list[str], str]:
    """Her three events and a reading of Ravi, ticks between them, then the erasure of her customer."""
    first = "m-email"
    second = _apart("m-phone-", first)
    log: list[tuple[str, Any]] = [
        ("events", [_visit(first, "web", "u-meera", 0, email=EMAIL, name=NAME)]),
        ("tick", 6_000),
        ("events", [_visit(second, "kiosk", "k-meera", 6_000, phone=PHONE, name=NAME)]),
        ("tick", 12_000),
        ("events", [_visit("m-both", "web", "u-meera", 12_000, email=EMAIL, phone=PHONE, name=NAME)]),
        ("events", [_visit("r1", "web", "u-ravi", 12_500, email="ravi@example.net", name="Ravi Kumar")]),
        ("tick", 18_000),
    ]
    sent: dict[int, list[Effect]] = {}
    offset = 0
    for kind, value in log:
        offset += 1
        steps = p.on_events(offset, value) if kind == "events" else list(p.on_tick(offset, T0 + value))
        for s in steps:
            for e in s.effects:
                if not isinstance(e, Tick | Reset):
                    sent.setdefault(partition_of(e.customer_id, PARTITIONS), []).append(e)
    hers = p.resolver.current_id(customer_id_for(first))
    assert hers is not None and hers == p.resolver.current_id(customer_id_for(second)), "her events did not merge"
    erase = {"action": "erase", "customer_id": hers, "action_id": "a1", "actor": "t", "reason": "r", "at": T0 + 18_500}
    steps = list(p.on_action(offset + 1, erase))
    return sent, [e for s in steps for e in s.effects], steps[0].erased_absorbed, hers


def test_every_partition_that_held_her_effects_gets_an_erased() -> None:
    p = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS, customer_stage=True)
    sent, at_erasure, absorbed, hers = _run(p)
    holding = {
        part for part, effects in sent.items() if any(m in encode_effect(e).lower() for e in effects for m in HERS)
    }
    assert len(holding) >= 2, "the test needs her effects in two partitions (an absorbed id's and the survivor's)"
    erased = {e.customer_id for e in at_erasure if isinstance(e, Erased)}
    assert erased == {hers, *absorbed} and absorbed, (erased, absorbed)
    assert holding <= {partition_of(cid, PARTITIONS) for cid in erased}
    ravi = p.resolver.current_id(customer_id_for("r1"))
    assert ravi is not None and ravi not in erased  # nobody else is erased


def test_the_default_mode_names_the_absorbed_ids_too() -> None:
    """Without the stage no effect is sent, but the step names the ids (the receipt carries them)."""
    p = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    _sent, at_erasure, absorbed, hers = _run(p)
    assert at_erasure == [] and absorbed and hers not in absorbed


def test_absorbed_into_follows_chains_at_any_depth() -> None:
    """Oracle: an id is absorbed into a live customer iff its absorbed-into chain ends there."""
    r = Resolver(ResolverConfig())
    for obj in generate(customers=400, seed=11)[0]:
        r.apply(from_json(obj))
    minted = r.minted_ids()
    live = set(r.customer_ids())
    expected: dict[str, list[str]] = {}
    for cid in sorted(minted - live):
        end = r.current_id(cid)
        if end is not None:
            expected.setdefault(end, []).append(cid)
    assert expected, "the generated history merged nobody"
    for cid in sorted(live):
        assert r.absorbed_into(cid) == expected.get(cid, []), cid
    assert r.absorbed_into("c_unknown") == []
    assert json.dumps(expected)  # plain ids


async def test_the_receipt_names_the_absorbed_ids() -> None:
    """The ordered stage's receipt carries them (customer ids only): `irl erasure-status` checks their partitions."""
    from resolver.interaction import Interaction
    from streams.linkbatch import BATCH, encode_batches
    from streams.sequencer import LinkRecord

    from .test_erasure_followup import Clock, Kafka, erase, stage, tend, tick
    from .test_sequencer import NOW

    kafka, clock = Kafka(), Clock()
    seq = stage(kafka, clock)
    await seq.restore()
    first, second = "m-email", _apart("m-phone-", "m-email")
    batches = [
        [Interaction(first, "WEB", NOW, "u-meera", "visit", None, EMAIL, NAME)],
        [Interaction(second, "KIOSK", NOW + 6_000, "k-meera", "visit", PHONE, None, NAME)],
        [Interaction("m-both", "WEB", NOW + 12_000, "u-meera", "visit", PHONE, EMAIL, NAME)],
    ]
    offset = 0
    for n, events in enumerate(batches):
        (value,) = encode_batches(events, max_bytes=1 << 30)
        await seq.apply(
            [LinkRecord(offset, BATCH, value), tick(offset + 1, NOW + 6_000 * (n + 1))], seq.rt.writer_epoch
        )
        offset += 2
    pipeline = seq.rt.pipeline
    assert pipeline is not None
    hers = pipeline.resolver.current_id(customer_id_for(first))
    assert hers is not None and hers == pipeline.resolver.current_id(customer_id_for(second))
    absorbed = pipeline.resolver.absorbed_into(hers)
    assert absorbed
    await seq.apply([erase(offset, hers), tick(offset + 1, NOW + 30_000)], seq.rt.writer_epoch)
    await tend(seq, 3)
    assert kafka.receipts[hers]["absorbed_ids"] == absorbed
    assert "meera" not in json.dumps(kafka.receipts[hers]).casefold()
