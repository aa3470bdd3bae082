"""Operator actions: block an identifier, split a customer, erase a person.

Each re-resolves the affected components from their evidence and returns the `Step`; a
split bars its parts from merging again, an erasure suppresses what it removed so a replay
cannot bring it back (`Graph.suppressed` holds keyed digests, never raw values: `resolver.digests`).
"""

from __future__ import annotations

from resolver.explain import resolve_ref
from resolver.graph import PERSON, Graph
from resolver.households import set_status
from resolver.identifiers import kind_of, mask
from resolver.outcome import Step
from resolver.reresolution import carrying, closure, raw_evidence, reresolve

__all__ = ["block", "erase", "split"]


def block(g: Graph, identifier: str, step: Step) -> None:
    """Quarantine an identifier (raw phone/email/``TOUCHPOINT:id`` or key) and re-resolve."""
    key, _ = resolve_ref(g, identifier)
    if key is None or key not in g.nodes or key.startswith("x:"):
        step.notes.append("block: unknown identifier")
        return
    if g.nodes[key].status == "blocked":
        step.notes.append(f"block: {mask(key)} already blocked")
        return
    vids = raw_evidence(g, [key]) | carrying(g, [key])
    set_status(g, key, "blocked", step)
    reresolve(g, closure(g, vids), step)


def split(g: Graph, customer_id: str, identifier: str, step: Step) -> None:
    """Recompute a customer without an identifier (or a piece of evidence's links); bar the parts."""
    cid = g.current_id(customer_id)
    if cid is None:
        step.notes.append("split: unknown customer")
        return
    cust = g.cust[cid]
    members = set(g.uf.members(cust.root))
    own = {ev.vid for ev in g.customer_evidence(cust)}
    target = identifier.strip()
    vids = raw_evidence(g, sorted(members))
    ev = g.evidence_of(target)
    if ev is not None and ev.vid in own:
        ev.cut = True
        g.mark("e/" + ev.vid)
        label = f"evidence {ev.vid}"
    else:
        key, _ = resolve_ref(g, target)
        if key is None or key not in members:
            step.notes.append("split: identifier not part of this customer")
            return
        g.nodes[key].status = "cut"
        g.nodes[key].sig = None
        g.mark("n/" + key)
        label = f"{kind_of(key)} {mask(key)}"
    g.profiles.clear()
    reresolve(g, closure(g, vids), step)
    parts = sorted({c for v in own if (c := g.customer_of(g.evidence[v])) is not None})
    if len(parts) > 1:
        g.split_seq += 1
        g.mark("m/split")
        for index, part in enumerate(parts):
            pc = g.cust[part]
            pc.bars[g.split_seq] = index
            g.mark("c/" + part)
            for key in g.uf.members(pc.root):
                node = g.nodes[key]
                node.bars = (*node.bars, (g.split_seq, index))
                g.mark("n/" + key)
    step.notes.append(f"split {cid} without {label}: {len(parts)} part(s)")


def erase(g: Graph, customer_id: str, step: Step) -> list[str]:
    """Forget a customer's evidence and identifiers and suppress them; returns the erased ids."""
    cid = g.current_id(customer_id)
    if cid is None:
        step.notes.append("erase: unknown customer")
        return []
    cust = g.cust[cid]
    members = list(g.uf.members(cust.root))
    own = g.customer_evidence(cust)
    g.profiles.clear()
    g.near_memo.clear()
    vids = raw_evidence(g, members)
    for ev in own:
        g.suppress("ev:" + ev.vid)
        vids.discard(ev.vid)
        del g.evidence[ev.vid]
        if g.by_content.get(ev.content()) is ev:
            del g.by_content[ev.content()]
        g.mark("e/" + ev.vid)
    gone_ids = {ev.vid for ev in own}
    forgotten = g.recent.ids_of(gone_ids)
    for event_id in forgotten:
        g.mark("h/" + event_id)
    g.recent.forget(forgotten)
    gone = set(members)
    for key in members:
        if not key.startswith("x:"):
            g.suppress(key)
    # Identifiers of the person seen on other customers' evidence are removed from it too,
    # including evidence that carries one without linking it (a household phone, say).
    vids.update(v for key in members for v in g.nodes[key].evidence if v in g.evidence)
    for vid in sorted(vids):
        ev = g.evidence[vid]
        if any(k in gone for k in ev.keys):
            if g.by_content.get(ev.content()) is ev:
                del g.by_content[ev.content()]
            ev.keys = tuple(k for k in ev.keys if k not in gone)
            g.by_content.setdefault(ev.content(), ev)
            g.mark("e/" + vid)
    _drop_nodes(g, members)
    for key in {k for ev in own for k in ev.keys} - gone:
        kept = g.nodes.get(key)
        if kept is not None:
            kept.evidence = [v for v in kept.evidence if v in g.evidence]
            g.mark("n/" + key)
    del g.by_root[cust.root]
    del g.cust[cid]
    g.uf.reset(members)
    g.uf.remove(members)
    erased = [cid]
    g.erased.add(cid)
    g.mark("c/" + cid)
    g.mark("d/" + cid)
    for absorbed, survivor in list(g.absorbed.items()):
        if survivor == cid:
            del g.absorbed[absorbed]
            g.erased.add(absorbed)
            g.mark("a/" + absorbed)
            g.mark("d/" + absorbed)
    if vids:
        reresolve(g, closure(g, vids), step)
    step.notes.append(f"erased {cid}: {len(own)} piece(s) of evidence, {len(members)} identifier(s)")
    return erased


def _drop_nodes(g: Graph, members: list[str]) -> None:
    for key in members:
        node = g.nodes.pop(key)
        g.mark("n/" + key)
        if key[0] == "p" and PERSON not in key:
            g.near_index.discard(key)
        for near_key in node.near or ():
            partner = g.nodes.get(near_key)
            if partner is not None and partner.near is not None:
                partner.near.pop(key, None)
                if not partner.near:
                    partner.near = None
                g.mark("n/" + near_key)
        for vid in node.evidence:
            other = g.evidence.get(vid)
            if other is not None and other.anchor == key:
                other.anchor = ""
