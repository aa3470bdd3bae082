"""Each identifier string is held once: evidence and hub signals refer to their node's key, not to copies."""

from __future__ import annotations

from resolver.config import ResolverConfig
from resolver.resolver import Resolver
from resolver.snapshot import dump, load

T0 = 1_700_000_000_000


def _events(r: Resolver, phones: list[str], t0: int = T0) -> None:
    for i, phone in enumerate(phones):
        r.ingest(f"e{t0}-{i}", "WEB", t0 + i, f"cookie-{i}", phone, f"p{i % 2}@x.in", f"Asha Rao {i % 3}")


def _copies(r: Resolver) -> list[str]:
    g = r._g
    held = {key: node.key for key, node in g.nodes.items()}
    refs = [k for ev in g.evidence.values() for k in ev.keys]
    refs += [v for node in g.nodes.values() for v in node.sig or () if v in held]
    return [k for k in refs if held[k] is not k]


def test_new_evidence_refers_to_the_node_keys_whatever_the_raw_form() -> None:
    r = Resolver(ResolverConfig(), track_changes=False)
    # One phone written four ways, two emails: each new combination makes new key strings in the parser.
    _events(r, ["98450 71623", "+91 98450 71623", "098450-71623", "9845071623", "98450 71623"])
    assert len(r._g.evidence) == 5
    assert _copies(r) == []


def test_after_a_load_new_evidence_refers_to_the_cold_node_keys() -> None:
    config = ResolverConfig()
    r = Resolver(config, track_changes=False)
    _events(r, ["98450 71623", "+91 98450 71623"])
    again = Resolver.from_snapshot(config, dump(r._g), track_changes=False)
    loaded = again._g
    _events(again, ["098450-71623", "9845071623"], T0 + 1000)
    assert _copies(again) == []
    assert dump(load(config, dump(loaded))) == dump(loaded)


def test_a_node_of_one_piece_holds_its_id_alone_and_reads_as_a_sequence() -> None:
    config = ResolverConfig()
    r = Resolver(config, track_changes=False)
    _events(r, ["98450 71623", "97318 62045"])
    g = r._g
    one = g.nodes["t:WEB:cookie-0"]
    assert isinstance(one.evidence, str) and one.vids() == (one.evidence,)
    two = g.nodes["e:p0@x.in"]
    assert isinstance(two.evidence, str)
    _events(r, ["98862 71453"], T0 + 1000)
    assert isinstance(two.evidence, tuple) and len(two.vids()) == 2
    loaded = load(config, dump(g))
    assert {k: n.vids() for k, n in g.nodes.items()} == {k: loaded.nodes[k].vids() for k in loaded.nodes}
    assert dump(loaded) == dump(g)
