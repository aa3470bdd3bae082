"""A loaded state's evidence, node and customer tables: cold rows behave as the plain dicts they stand for.

Reads thaw a piece once, in its place; `peek`, `interactions` and `field_columns` thaw
nothing; a dump in any mix of cold, thawed and new pieces writes the bytes the original
graph writes after the same steps.
"""

from __future__ import annotations

from typing import Any

from resolver.cold import TextTable, peek
from resolver.customer_table import CustomerTable
from resolver.customer_table import field_columns as customer_columns
from resolver.evidence import Evidence
from resolver.evidence_table import FIELDS, EvidenceTable, field_columns, interactions
from resolver.interaction import Interaction
from resolver.node_table import NodeTable, statuses
from resolver.node_table import field_columns as node_columns
from resolver.resolver import Resolver
from resolver.snapshot import dump, load
from tests.unit.test_snapshot import CONFIG, T0, _rich, answers


def _cold(table: dict[str, Any]) -> list[str]:
    """The keys of the cold values, in order."""
    if isinstance(table, TextTable):
        return table.ids.keys([row for row, state in enumerate(table.state) if state == 0])
    return [vid for vid, value in dict.items(table) if isinstance(value, int)]


def _loaded() -> tuple[Resolver, Resolver]:
    original = _rich()
    return original, Resolver.from_snapshot(CONFIG, original.snapshot())


def test_a_load_keeps_every_piece_cold_until_read() -> None:
    original, copy = _loaded()
    table = copy._g.evidence
    assert isinstance(table, EvidenceTable)
    assert list(table) == list(original._g.evidence) and len(table) == len(original._g.evidence)
    # The content index's exceptions (after an erasure) are read at load: every other piece is cold.
    assert len(_cold(table)) >= len(table) - len(copy._g.by_content.odd)
    vid = _cold(table)[0]
    seen = peek(table, vid)
    assert seen is not None and seen.record() == original._g.evidence[vid].record()
    assert vid in _cold(table)  # peek thaws nothing
    assert interactions(table) == sum(ev.count for ev in original._g.evidence.values())
    assert field_columns(table) == [list(c) for c in field_columns(original._g.evidence)]
    assert vid in _cold(table)
    first = table[vid]
    assert table.get(vid) is first and table[vid] is first and vid not in _cold(table)
    assert first.record() == original._g.evidence[vid].record()
    assert list(table) == list(original._g.evidence)  # thawed in its place


def test_any_mix_of_cold_thawed_and_new_pieces_dumps_the_original_bytes() -> None:
    original, copy = _loaded()
    table = copy._g.evidence
    assert isinstance(table, EvidenceTable)
    for vid in _cold(table)[::2]:
        table.get(vid)
    assert _cold(table) and dump(copy._g) == dump(original._g)
    mixed = [list(c) for c in field_columns(table)]
    assert mixed == [list(c) for c in field_columns(original._g.evidence)] and len(mixed) == len(FIELDS)
    # New evidence, a repeat and an erasure on both: the same bytes and the same answers.
    for r in (original, copy):
        r.apply(Interaction("n1", "WEB", T0 + 40 * 3_600_000, "w-9", "visit", "93333 44444", None, "Tara"))
        r.apply(
            Interaction("n2", "KIOSK", T0 + 40 * 3_600_000, "k-1", "visit", "98450 71629", "ravi@x.in", "Ravi Kumar")
        )
        r.erase(r.customer_of_event("n1") or "")
    assert dump(copy._g) == dump(original._g)
    assert answers(copy) == answers(original)
    assert dump(load(CONFIG, dump(copy._g))) == dump(original._g)


def test_the_table_answers_as_a_dict_of_evidence() -> None:
    original, copy = _loaded()
    table, plain = copy._g.evidence, dict(original._g.evidence)
    assert isinstance(table, EvidenceTable)
    cold = _cold(table)
    a, b, c = cold[0], cold[1], cold[2]
    assert table.pop(a).record() == plain.pop(a).record()
    assert table.pop("nope", None) is None and table.get("nope") is None and "nope" not in table
    held = table.setdefault(b, Evidence("x", "x", 0, "WEB", "s", None, (), ()))
    assert held.record() == plain[b].record() and table[b] is held
    del table[c], plain[c]
    table[c], plain[c] = held, plain[b]  # deleted and added again: last, as in a dict
    assert list(table) == list(plain)
    values: list[Any] = list(table.values())
    assert not _cold(table) and [v.record() for v in values] == [v.record() for v in plain.values()]
    assert [k for k, _ in table.items()] == list(plain)


def test_loaded_nodes_stay_cold_until_read_and_dump_the_same_bytes() -> None:
    original, copy = _loaded()
    nodes, plain = copy._g.nodes, original._g.nodes
    assert isinstance(nodes, NodeTable) and list(nodes) == list(plain)
    assert list(statuses(nodes)) == list(statuses(plain)) and len(_cold(nodes)) == len(nodes)
    assert node_columns(nodes) == [list(c) for c in node_columns(plain)]
    key = next(k for k in _cold(nodes) if k.startswith("p:"))
    seen = peek(nodes, key)
    assert seen is not None and seen.record(key, None) == plain[key].record(key, None) and key in _cold(nodes)
    for k in _cold(nodes)[::3]:
        node = nodes[k]
        assert type(node) is type(plain[k]) and node.record(k, None) == plain[k].record(k, None)
        assert nodes.get(k) is node
    assert _cold(nodes) and dump(copy._g) == dump(original._g)
    assert node_columns(nodes) == [list(c) for c in node_columns(plain)]
    assert copy.stats() == original.stats() and copy.quarantined() == original.quarantined()
    assert _cold(nodes)  # stats and quarantined keys read the columns


def test_loaded_customers_stay_cold_until_read() -> None:
    original, copy = _loaded()
    custs, plain = copy._g.cust, original._g.cust
    assert isinstance(custs, CustomerTable) and list(custs) == list(plain) and len(_cold(custs)) == len(custs)
    assert customer_columns(custs) == [list(c) for c in customer_columns(plain)]
    cid = _cold(custs)[0]
    assert custs[cid].record() == plain[cid].record() and custs.get(cid) is custs[cid] and cid not in _cold(custs)
    assert _cold(custs) and customer_columns(custs) == [list(c) for c in customer_columns(plain)]
    assert dump(copy._g) == dump(original._g)


def test_a_loaded_forest_stays_cold_until_read_and_answers_as_the_original() -> None:
    original, copy = _loaded()
    uf, plain = copy._g.uf, original._g.uf
    parents, members = uf._parent, uf._members
    assert isinstance(parents, TextTable) and isinstance(members, TextTable)
    assert len(_cold(parents)) == len(parents) == len(plain) and len(_cold(members)) == len(members)
    assert uf.groups() == plain.groups() and uf.roots() == plain.roots()
    assert len(_cold(parents)) == len(parents)  # groups and roots read the columns
    keys = list(original._g.nodes)
    assert [uf.find(k) for k in keys] == [plain.find(k) for k in keys]
    first = plain.roots()[0]
    assert uf.members(first) == plain.members(first) and len(_cold(members)) == len(members) - 1  # that set only
    assert dump(copy._g) == dump(original._g)
    assert all(uf.members(r) == plain.members(r) for r in plain.roots()) and not _cold(members)
    assert dump(copy._g) == dump(original._g)


def test_a_dump_copies_loaded_keys_only_while_they_are_the_tables_keys() -> None:
    # Thawing keeps a table's loaded keys (a dump copies their text and index as loaded);
    # adding or deleting a key, or deleting one and adding it again, makes the dump write them anew.
    original, copy = _loaded()
    evidence, nodes, custs = copy._g.evidence, copy._g.nodes, copy._g.cust
    assert isinstance(evidence, EvidenceTable) and isinstance(nodes, NodeTable) and isinstance(custs, CustomerTable)
    tables: list[TextTable[Any]] = [evidence, nodes, custs]
    for table in tables:
        assert table.loaded_keys() is table.ids
        for key in _cold(table)[::3]:
            table.get(key)
        assert table.loaded_keys() is table.ids
    assert dump(copy._g) == dump(original._g)
    vid = list(evidence)[1]
    held = evidence.pop(vid)
    assert evidence.loaded_keys() is None
    evidence[vid] = held  # the same keys, another order: written anew
    assert evidence.loaded_keys() is None and list(evidence)[-1] == vid
    twin = load(CONFIG, dump(copy._g))
    assert dump(twin) == dump(copy._g) and list(twin.evidence) == list(evidence)
    for r in (original, copy):
        r.apply(Interaction("n1", "WEB", T0 + 40 * 3_600_000, "w-9", "visit", "93333 44444", None, "Tara"))
    assert nodes.loaded_keys() is None and custs.loaded_keys() is None
