"""Compaction (`resolver.compaction`): a state compacted at any points answers and evolves as one never compacted.

Two resolvers take the same operations (`tests.unit.test_snapshot.operations`); one is compacted
after any of them. Step by step their outcomes and drained records are equal, and at the end
everything a caller can ask, every state record and the snapshot bytes.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolver.cold import TextTable
from resolver.compaction import DEFAULT_GROWTH, Cadence, compact, hot_rows
from resolver.config import ResolverConfig
from resolver.effects import EffectLog
from resolver.graph import Graph
from resolver.interaction import Interaction
from resolver.resolver import Resolver
from resolver.snapshot import dump
from tests.unit.test_snapshot import CONFIG, Op, assert_same, consistent, operations, run


def _hot(g: Graph) -> int:
    """Rows held as objects (hot) in the evidence, node and customer tables."""
    tables: list[Any] = [g.evidence, g.nodes, g.cust]
    return sum(dict.__len__(t) for t in tables)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations("ev", max_size=40), st.lists(st.integers(0, 40), max_size=6), st.booleans())
def test_a_state_compacted_at_any_points_answers_and_evolves_the_same(
    ops: list[Op], points: list[int], drain: bool
) -> None:
    plain, compacted = Resolver(CONFIG, track_changes=True), Resolver(CONFIG, track_changes=True)
    seen_a: list[Interaction] = []
    seen_b: list[Interaction] = []
    at = sorted(set(points))
    start = 0
    for stop in [*at, len(ops)]:
        chunk = ops[start:stop]
        start = max(start, stop)
        # Outcomes and drained records step by step (`run` drains after each op unless told not to).
        assert _run(plain, chunk, seen_a, drain) == _run(compacted, chunk, seen_b, drain)
        compacted.compact()
        assert consistent(compacted._g) == []
    assert compacted.drain_changes() == plain.drain_changes()  # the change set survives compaction
    assert dump(plain._g) == dump(compacted._g)
    assert_same(plain, compacted)


def _run(r: Resolver, ops: list[Op], seen: list[Interaction], drain: bool) -> list[object]:
    # Without draining: the change set accumulates across compactions (drained at the end). Not by
    # replacing `drain_changes` on the instance: a compiled `Resolver`'s methods are read-only.
    return run(r, ops, seen, drain=drain)


def test_a_compacted_state_holds_its_tables_cold_and_the_same_graph() -> None:
    r = Resolver(CONFIG, track_changes=True)
    ops = [
        ("event", Interaction(f"e-{i}", "WEB", 1_700_000_000_000 + i, f"web-{i}", "visit", phone=p, email=None))
        for i, p in enumerate(["98450 71623", "97318 62045", "98862 71453"])
    ]
    run(r, ops, [])
    g = r._g
    assert _hot(g) > 0
    before = dump(g)
    r.compact()
    assert r._g is g
    assert isinstance(g.nodes, TextTable) and isinstance(g.evidence, TextTable)
    assert _hot(g) == 0
    assert dump(g) == before


def test_a_compaction_keeps_no_object_of_the_hot_state_and_empties_the_caches() -> None:
    """No hot object outlives a compaction: one kept (a node key in the string table, a phone in a
    parser cache) would keep the allocator's pool and arena around it resident (`resolver.compaction`)."""
    r = Resolver(CONFIG, track_changes=False)
    ops = [
        ("event", Interaction(f"e-{i}", "WEB", 1_700_000_000_000 + i, f"web-{i}", "visit", phone=p, email=None))
        for i, p in enumerate(["98450 71623", "97318 62045", "98862 71453"])
    ]
    run(r, ops, [])
    g = r._g
    raw = ("WEB", "web-0", "98450 71623", None)
    parsed = g.parser.extract_fields(*raw)
    assert g.parser.extract_fields(*raw) is parsed  # cached
    keys = list(g.nodes)  # held here, so that no other object takes their ids
    r.compact()
    after = list(g.nodes)
    assert after == keys
    assert not {id(k) for k in keys} & {id(k) for k in after}  # equal strings, new objects
    again = g.parser.extract_fields(*raw)
    assert again == parsed and again is not parsed  # the parser's caches were emptied


def test_effects_watched_across_a_compaction_are_the_same() -> None:
    events = [
        Interaction(f"e-{i}", "WEB", 1_700_000_000_000 + i, f"web-{i % 3}", "visit", phone="98450 71623", email=e)
        for i, e in enumerate(["ravi@x.in", "priya@y.in", None, "ravi@x.in"])
    ]
    out: list[list[Any]] = []
    for compacting in (False, True):
        r, log = Resolver(CONFIG, track_changes=False), EffectLog()
        r.flush_effects(log)
        effects: list[Any] = []
        for ev in events:
            log.note(r.apply(ev), in_place=r.in_place)
            if compacting:  # between a step and the flush of its effects
                r.compact()
            effects.append(r.flush_effects(log))
            if compacting:
                r.compact()
        out.append(effects)
    assert out[0] == out[1]


def test_compaction_refuses_to_run_inside_a_step() -> None:
    g = Graph(CONFIG)
    g.regroup["p:x"] = None
    with pytest.raises(ValueError, match="between steps"):
        compact(g)


def test_the_cadence_looks_every_so_many_events_and_compacts_on_the_hot_share() -> None:
    c = Cadence(0.5, floor=10, every=3)
    assert [c.look() for _ in range(6)] == [False, False, True, False, False, True]
    assert c.look(3)
    assert not c.ripe(9, 9)  # under the floor
    assert c.ripe(10, 10)  # all hot: a state never compacted
    assert c.ripe(50, 150) and not c.ripe(49, 150)  # hot >= half the cold
    never = Cadence(0)
    assert not never.look(10**9) and not never.ripe(10**9, 10**9)
    with pytest.raises(ValueError):
        Cadence(-1)


def test_compact_if_compacts_a_state_once_its_hot_rows_are_due() -> None:
    r = Resolver(CONFIG, track_changes=False)
    cadence = Cadence(1.0, floor=4, every=1)
    done = []
    for i in range(12):
        ev = Interaction(f"e-{i}", "WEB", 1_700_000_000_000 + i, f"web-{i}", "visit", phone=None, email=f"p{i}@x.in")
        r.apply(ev)
        done.append(r.compact_if(cadence))
        hot, rows = hot_rows(r._g)
        assert hot < 4 or hot < rows - hot  # never left due
    assert done.count(True) >= 2  # at geometric sizes, not after every event
    assert done.count(True) < 6


@pytest.mark.parametrize("customer_stage", [False, True])
def test_a_pipeline_that_compacts_publishes_and_snapshots_what_one_that_never_does(customer_stage: bool) -> None:
    """The worker's ordered stage (`IRL_COMPACT_GROWTH`): the same steps (records, effects, closed
    windows) and the same snapshot bytes, over generated history with operator actions."""
    from streams.pipeline import Pipeline
    from tests.unit.test_customer_stage import _steps, history_log

    log = history_log(60, 3)
    plain = Pipeline(ResolverConfig(), 15 * 60_000, 60_000, customer_stage=customer_stage)
    compacting = Pipeline(
        ResolverConfig(), 15 * 60_000, 60_000, customer_stage=customer_stage, compact_growth=DEFAULT_GROWTH
    )
    assert compacting.cadence is not None
    compacting.cadence = Cadence(0.3, floor=20, every=5)  # often, at this size
    for rec in log:
        a, b = _steps(plain, rec), _steps(compacting, rec)
        assert [(s.records, s.outputs, s.effects, s.closed) for s in a] == [
            (s.records, s.outputs, s.effects, s.closed) for s in b
        ]
    assert compacting.compactions >= 3
    assert plain.snapshot() == compacting.snapshot()
