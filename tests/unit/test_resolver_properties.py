"""Invariants of the resolver: oracle components, order independence, idempotence, restore."""

from __future__ import annotations

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolver.config import ResolverConfig
from resolver.engine import Resolver
from resolver.identifiers import IdentifierParser
from resolver.interaction import Interaction
from resolver.unionfind import DisjointSet

T0 = 1_700_000_000_000
PHONES = [f"98{n:03d}4321{n % 10}" for n in range(12)]  # valid Indian mobiles
EMAILS = [f"user{n}@example.in" for n in range(10)]
NAMES = ["Ravi Kumar", "Priya", "Anil", "Ravi K", None, "Sunita"]
TOUCH = ["WEB", "KIOSK", "WHATSAPP"]

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def events(draw: st.DrawFn, max_size: int = 30) -> list[Interaction]:
    count = draw(st.integers(1, max_size))
    out = []
    for i in range(count):
        touchpoint = draw(st.sampled_from(TOUCH))
        phone = draw(st.none() | st.sampled_from(PHONES))
        source = (
            "91" + draw(st.sampled_from(PHONES))
            if touchpoint == "WHATSAPP"
            else f"{touchpoint.lower()}-{draw(st.integers(0, 15))}"
        )
        out.append(
            Interaction(
                event_id=f"ev-{i:03d}",
                touchpoint=touchpoint,
                occurred_at=T0 + draw(st.integers(0, 50)) * 1000,
                source_id=source,
                interaction="visit",
                phone=phone,
                email=draw(st.none() | st.sampled_from(EMAILS)),
                name=draw(st.sampled_from(NAMES)),
            )
        )
    return out


def partition(resolver: Resolver) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for eid in resolver.event_ids():
        cid = resolver.customer_of_event(eid)
        assert cid is not None
        groups.setdefault(cid, set()).add(eid)
    return {frozenset(g) for g in groups.values()}


def run(evs: list[Interaction], config: ResolverConfig | None = None) -> Resolver:
    resolver = Resolver(config or ResolverConfig())
    for ev in evs:
        resolver.apply(ev)
    return resolver


def snapshot(resolver: Resolver) -> list[object]:
    return [resolver.profile(c) for c in resolver.customer_ids()] + [
        (e, resolver.customer_of_event(e)) for e in resolver.event_ids()
    ]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39)), max_size=60))
def test_disjoint_set_matches_networkx(n: int, pairs: list[tuple[int, int]]) -> None:
    ds = DisjointSet()
    graph = nx.Graph()
    for i in range(n):
        ds.add(str(i))
        graph.add_node(str(i))
    for a, b in pairs:
        if a < n and b < n:
            ds.union(str(a), str(b))
            graph.add_edge(str(a), str(b))
    ours = {frozenset(ds.members(r)) for r in ds.roots()}
    assert ours == {frozenset(c) for c in nx.connected_components(graph)}
    # Rebuilt from its groups or its roots, the forest is the same (singletons keep one key, not a list).
    roots, groups = ds.groups()
    assert DisjointSet.from_groups(roots, [list(g) for g in groups]).groups() == (roots, groups)
    # From the sets of more than one member: the same forest, the same roots.
    again = DisjointSet.from_sets(roots, bytes(len(g) > 1 for g in groups), [list(g) for g in groups if len(g) > 1])
    assert again.groups() == (roots, groups) and len(again) == n
    assert [again.find(str(i)) for i in range(n)] == [ds.find(str(i)) for i in range(n)]
    rebuilt = DisjointSet.from_parents((str(i), ds.find(str(i))) for i in range(n))
    assert {frozenset(rebuilt.members(r)) for r in rebuilt.roots()} == ours
    # Resetting a whole set makes singletons of it; removing them forgets them.
    whole = list(ds.members(ds.find("0")))
    ds.reset(whole)
    assert all(ds.members(k) == [k] for k in whole)
    ds.remove(whole)
    assert all(k not in ds for k in whole) and len(ds) == n - len(whole)


@SETTINGS
@given(events())
def test_engine_components_match_networkx_without_protections(evs: list[Interaction]) -> None:
    config = ResolverConfig(
        hub_threshold=10_000, max_phones=10_000, max_emails=10_000, household_rule=False, near_phones=False
    )
    resolver = run(evs, config)
    graph = nx.Graph()
    parser = IdentifierParser(config)
    for ev in evs:
        keys = parser.extract(ev).keys
        graph.add_node(ev.event_id)
        for key in keys:
            graph.add_edge(ev.event_id, key)
    expected = {frozenset(k for k in c if k.startswith("ev-")) for c in nx.connected_components(graph)}
    assert partition(resolver) == expected


@SETTINGS
@given(events(), st.randoms(use_true_random=False))
def test_any_order_gives_the_same_partition(evs: list[Interaction], rnd: object) -> None:
    config = ResolverConfig(hub_threshold=3, max_phones=2, max_emails=2)
    shuffled = list(evs)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert partition(run(evs, config)) == partition(run(shuffled, config))


@SETTINGS
@given(events(), st.data())
def test_duplicates_change_nothing(evs: list[Interaction], data: st.DataObject) -> None:
    config = ResolverConfig(hub_threshold=3, max_phones=2)
    once = run(evs, config)
    twice = Resolver(config)
    for ev in evs:
        twice.apply(ev)
        if data.draw(st.booleans()):
            outcome = twice.apply(ev)
            assert outcome.duplicate and outcome.touched == () and outcome.absorbed == ()
    for ev in evs:
        assert twice.apply(ev).duplicate
    assert snapshot(once) == snapshot(twice)


@SETTINGS
@given(events(), st.integers(0, 30))
def test_restore_from_drained_records_behaves_like_the_original(evs: list[Interaction], cut: int) -> None:
    config = ResolverConfig(hub_threshold=3, max_phones=2)
    original = Resolver(config)
    table: dict[str, str | None] = {}
    for i, ev in enumerate(evs):
        original.apply(ev)
        if i % 4 == 0:
            table.update(original.drain_changes())
    table.update(original.drain_changes())
    restored = Resolver.restore(config, [(k, v) for k, v in table.items() if v is not None])
    assert snapshot(restored) == snapshot(original)
    # and they keep behaving the same
    more = [
        Interaction(f"late-{i}", "WEB", T0 + i, f"web-{i}", "visit", phone=PHONES[i % 12], email=EMAILS[i % 10])
        for i in range(cut % 7)
    ]
    out_a = [original.apply(ev) for ev in more]
    out_b = [restored.apply(ev) for ev in more]
    assert out_a == out_b
    assert snapshot(restored) == snapshot(original)
    assert original.drain_changes() == restored.drain_changes()


@SETTINGS
@given(events())
def test_same_order_gives_identical_output(evs: list[Interaction]) -> None:
    a, b = run(evs), run(evs)
    assert snapshot(a) == snapshot(b)
    assert a.drain_changes() == b.drain_changes()
