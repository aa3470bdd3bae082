"""`effects.input_of` reads each piece of evidence as `facts_of` does, in `customer_evidence`'s set.

`input_of` gathers and reads a customer's evidence in one pass (`facts_of` inlined, s36); the
oracle is the plain definition: `facts_of` over `Graph.customer_evidence`, sorted by (at, vid).
Checked on a built state and on the same state loaded from its snapshot (cold tables).
"""

from __future__ import annotations

from operator import attrgetter

import pytest

from resolver.config import ResolverConfig
from resolver.effects import facts_of, input_of
from resolver.graph import Graph
from resolver.interaction import from_json
from resolver.resolver import Resolver
from streams.synthetic import generate


def _oracle_facts(g: Graph, customer_id: str) -> tuple[object, ...]:
    cust = g.cust[customer_id]
    facts = [facts_of(g, ev) for ev in g.customer_evidence(cust)]
    facts.sort(key=attrgetter("at", "vid"))
    return tuple(facts)


def _built() -> Resolver:
    r = Resolver(ResolverConfig(), track_changes=False)
    for obj in generate(customers=120, seed=36)[0]:
        r.apply(from_json(obj))
    return r


@pytest.mark.parametrize("loaded", [False, True], ids=["built", "loaded"])
def test_input_of_reads_every_customers_evidence_as_facts_of_does(loaded: bool) -> None:
    r = _built()
    if loaded:
        r = Resolver.from_snapshot(ResolverConfig(), r.snapshot(), track_changes=False)
    g = r._g
    ids = sorted(g.cust)
    assert len(ids) > 100
    many = 0
    for cid in ids:
        inp = input_of(g, cid)
        assert inp is not None
        assert inp.evidence == _oracle_facts(g, cid), cid
        many += len(inp.evidence) > 1
    assert many > 20  # customers with more than one piece: the order is checked too
    assert input_of(g, "no-such-customer") is None
