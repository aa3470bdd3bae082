"""Operator actions: block an identifier, split a customer, merge two, erase a person, dismiss a review item.

Each re-resolves the affected components from their evidence and returns the `Step`; a
split bars its parts from merging again, an erasure suppresses what it removed so a replay
cannot bring it back (`Graph.suppressed` holds keyed digests, never raw values: `resolver.digests`).

A merge is a *must-link*: operator merge ``n`` keeps the oldest piece of evidence of each
customer in one customer (`Graph.must`), and every re-resolution joins their anchors
(`resolver.reresolution`), so it holds whatever evidence comes later, like a split's ban.
It is refused, as a value (`merge_refusal`), when a customer is unknown or erased, when the
two are one already, when the merged customer would break the limits or a split's ban
(`resolver.limits`), or when an identifier both carry is blocked (the block keeps them
apart). Later actions win over it: a split that cuts either of its two pieces (a split
by that evidence, or by an identifier it carries) ends it, and so does an erasure of either.
"""

from __future__ import annotations

from resolver.display_name import forget as forget_names
from resolver.explain import resolve_ref
from resolver.graph import PERSON, Customer, Graph, as_line, holder_of
from resolver.households import scrub, set_status
from resolver.identifiers import kind_of, mask
from resolver.limits import customers_refusal
from resolver.outcome import Step
from resolver.reresolution import carrying, closure, raw_evidence, reresolve

__all__ = ["block", "dismiss", "erase", "merge", "merge_refusal", "split"]


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
        cut_vids = {ev.vid}
        ev.cut = True
        g.mark("e", ev.vid)
        label = f"evidence {ev.vid}"
    else:
        key, _ = resolve_ref(g, target)
        if key is None or key not in members:
            step.notes.append("split: identifier not part of this customer")
            return
        cut_vids = {v for v in g.nodes[holder_of(key)].vids() if v in own}
        g.nodes[key].status = "cut"
        g.nodes[key].sig = None
        g.mark("n", key)
        label = f"{kind_of(key)} {mask(key)}"
    g.profiles.clear()
    # An operator merge holding a piece of evidence the split cuts is ended with it (the
    # operator's newer word): otherwise it would hold the parts together.
    for number in sorted({n for v in cut_vids for n in g.must_of.get(v, ())}):
        g.drop_must(number)
        step.notes.append(f"split {cid} ends operator merge {number}")
    reresolve(g, closure(g, vids), step)
    parts = sorted({c for v in own if (c := g.customer_of(g.evidence[v])) is not None})
    if len(parts) > 1:
        g.split_seq += 1
        g.mark("m", "split")
        for index, part in enumerate(parts):
            pc = g.cust[part]
            pc.bar(g.split_seq, index)
            g.mark("c", part)
            for key in g.uf.members(pc.root):
                node = g.nodes[key]
                node.bars = (*node.bars, (g.split_seq, index))
                g.mark("n", key)
    if len(parts) > 1:
        step.notes.append(f"split {cid} without {label}: {len(parts)} part(s)")
    else:
        step.notes.append(
            f"split {cid} without {label}: nothing separated (its evidence links by its other identifiers); "
            "it links nothing from now on"
        )


def merge_refusal(g: Graph, a: str, b: str) -> tuple[str | None, str | None, str | None]:
    """(why customers `a` and `b` may not be merged or None, the live id of each).

    Refused: an unknown or erased id, the same customer already, a merged customer beyond
    the limits or across a split's ban (`resolver.limits`), or an identifier carried by
    evidence of both that an operator blocked (merging would undo what the block keeps apart).
    """
    ca, cb = g.current_id(a), g.current_id(b)
    for given, live in ((a, ca), (b, cb)):
        if live is None:
            return (f"customer {given} was erased" if given in g.erased else f"unknown customer {given}"), ca, cb
    assert ca is not None and cb is not None
    if ca == cb:
        return f"{a} and {b} are one customer already ({ca})", ca, cb
    one, other = g.cust[ca], g.cust[cb]
    limit = customers_refusal(g, [one, other], [])
    if limit is not None:
        return f"the merged customer would break a rule: {limit}", ca, cb
    blocked = sorted(_carried(g, one) & _carried(g, other))
    for key in blocked:
        node = g.nodes.get(key)
        if node is not None and node.status == "blocked":
            return f"kept apart by a block on {kind_of(key)} {mask(key)}", ca, cb
    return None, ca, cb


def _carried(g: Graph, cust: Customer) -> set[str]:
    """Every identifier key the customer's evidence carries (linking or not)."""
    return {k for ev in g.customer_evidence(cust) for k in ev.keys}


def merge(g: Graph, a: str, b: str, step: Step) -> str | None:
    """Join customers `a` and `b` for good (a must-link); returns why it was refused, or None.

    The survivor is chosen as for any merge (the customer with the oldest evidence keeps its
    id); the other id is absorbed.
    """
    refused, ca, cb = merge_refusal(g, a, b)
    if refused is not None:
        step.notes.append(f"merge refused: {refused}")
        return refused
    assert ca is not None and cb is not None
    first = g.customer_evidence(g.cust[ca])[0]
    second = g.customer_evidence(g.cust[cb])[0]
    g.merge_seq += 1
    g.mark("m", "merge")
    number = g.merge_seq
    g.add_must(number, first.vid, second.vid)
    g.profiles.clear()
    keys = list(g.uf.members(g.cust[ca].root)) + list(g.uf.members(g.cust[cb].root))
    vids = raw_evidence(g, keys) | {first.vid, second.vid}
    reresolve(g, closure(g, vids), step)
    joined = g.customer_of(first)
    if joined is None or joined != g.customer_of(second):
        # Cannot happen after the refusal check; say so rather than pretend.
        step.notes.append(f"operator merge {number} of {ca} and {cb} did not hold")
        return None
    step.notes.append(f"operator merge {number}: {ca} and {cb} are one customer ({joined})")
    return None


def dismiss(g: Graph, a: str, b: str | None, step: Step) -> str | None:
    """Mark a review item reviewed: the pair `a`, `b` (or customer `a` alone); why not, or None."""
    other = a if b is None else b
    for given in (a, other):
        if g.current_id(given) is None:
            reason = f"customer {given} was erased" if given in g.erased else f"unknown customer {given}"
            step.notes.append(f"dismiss refused: {reason}")
            return reason
    item = (a, other) if a <= other else (other, a)
    if item in g.dismissed:
        step.notes.append("dismiss: already dismissed")
        return None
    g.dismissed.add(item)
    g.mark("r", f"{item[0]}/{item[1]}")
    step.notes.append(f"dismissed review item {item[0]} {item[1]}")
    return None


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
        g.by_content.discard(ev.content(), ev)
        g.mark("e", ev.vid)
    gone_ids = {ev.vid for ev in own}
    forget_names(ev.name for ev in own if ev.name)  # the profiles' name memos hold no copy of hers
    for number in sorted({n for v in gone_ids for n in g.must_of.get(v, ())}):
        g.drop_must(number)
    forgotten = g.recent.ids_of(gone_ids)
    for event_id in forgotten:
        g.mark("h", event_id)
    g.recent.forget(forgotten)
    gone = set(members)
    # The other people's parts of the person's shared identifiers (`resolver.households`): their
    # keys hold the person's identifier; those that link nothing once it is gone go too.
    parts = sorted({p for key in members for p in (g.nodes[key].groups or {}).values() if p not in gone})
    for key in members:
        if not key.startswith("x:"):
            g.suppress(key)
    # Identifiers of the person seen on other customers' evidence are removed from it too,
    # including evidence that carries one without linking it (a household phone, say).
    vids.update(v for key in members for v in g.nodes[key].vids() if v in g.evidence)
    for vid in sorted(vids):
        ev = g.evidence[vid]
        if any(k in gone for k in ev.keys):
            before = ev.content()
            g.by_content.discard(before, ev)
            ev.keys = tuple(k for k in ev.keys if k not in gone)
            g.by_content.setdefault(ev.content(), ev)
            g.by_content.forget(before)  # no trace of the erased identifiers
            g.mark("e", vid)
            for key in ev.keys:
                # Hub signals hold the keys seen beside this one: the person's go too.
                node = g.nodes[key]
                if node.sig and any(s in gone for s in node.sig):
                    node.sig = tuple(s for s in node.sig if s not in gone)
                    g.mark("n", key)
    _drop_nodes(g, members)
    orphans: list[str] = []
    for key in sorted({k for ev in own for k in ev.keys} - gone):
        kept = g.nodes.get(key)
        if kept is not None:
            kept.evidence = [v for v in kept.vids() if v in g.evidence]
            g.mark("n", key)
            if not kept.evidence and key not in g.by_root:
                orphans.append(key)
    # An identifier of the person's evidence that linked nothing (blocked, or cut by a split) and
    # that no one else's evidence carries is theirs alone: it goes too, as the linking ones do.
    for key in orphans:
        g.suppress(key)
    _drop_nodes(g, orphans)
    present = [key for key in orphans if key in g.uf]
    g.uf.reset(present)
    g.uf.remove(present)
    del g.by_root[cust.root]
    del g.cust[cid]
    g.uf.reset(members)
    g.uf.remove(members)
    erased = [cid]
    g.erased.add(cid)
    g.mark("c", cid)
    g.mark("d", cid)
    for absorbed, survivor in list(g.absorbed.items()):
        if survivor == cid:
            del g.absorbed[absorbed]
            g.erased.add(absorbed)
            g.mark("a", absorbed)
            g.mark("d", absorbed)
    # What the person's evidence left on identifiers that stay: names, emails and parts in their
    # hub signals, name support, splits and pairs (a household's shared phone).
    stay = {k for ev in own for k in ev.keys} | {k for vid in vids for k in g.evidence[vid].keys}
    for key in scrub(g, stay - gone, gone):
        vids.update(v for v in g.nodes[key].vids() if v in g.evidence)
    for ev in own:
        g.forget_name(ev.name)
    if vids:
        reresolve(g, closure(g, vids), step)
    _drop_parts_left(g, parts)
    step.notes.append(f"erased {cid}: {len(own)} piece(s) of evidence, {len(members)} identifier(s)")
    return erased


def _drop_parts_left(g: Graph, parts: list[str]) -> None:
    """Drop the person parts (`parts`) of erased identifiers that no live customer holds any more.

    Such a part (``e:<erased email>#<name>``, ``t:WEB#<name>:<erased account>``) links nothing:
    no evidence carries its identifier now. Its key holds the erased identifier, so it goes.
    """
    left = [p for p in parts if p in g.nodes and (p not in g.uf or g.uf.find(p) not in g.by_root)]
    if not left:
        return
    _drop_nodes(g, left)
    present = [key for key in left if key in g.uf]
    g.uf.reset(present)
    g.uf.remove(present)


def _drop_nodes(g: Graph, members: list[str]) -> None:
    for key in members:
        node = g.nodes.pop(key)
        g.mark("n", key)
        if key[0] == "p" and PERSON not in key:
            g.near_index.discard(key)
        for near_key in node.near or ():
            partner = g.nodes.get(near_key)
            if partner is not None and partner.near is not None:
                partner.near.pop(key, None)
                if not partner.near:
                    as_line(partner).near = None
                g.mark("n", near_key)
        for vid in node.vids():
            other = g.evidence.get(vid)
            if other is not None and other.anchor == key:
                other.anchor = ""
