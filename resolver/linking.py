"""Taking in one event: a repeat moves counters, new evidence links its identifiers.

An event whose content (`resolver.evidence`) is already known changes counters only: its
evidence's count and times, and the customer's first seen. New evidence is recorded on its
identifier nodes (hub and household signals, near candidates); if that changes how any of
its identifiers links, the affected component is resolved again from its evidence
(`resolver.reresolution`); otherwise it is a plain union within the limits
(`resolver.limits`), the survivor of a merge being the customer with the oldest first seen
(ties: smallest id).
"""

from __future__ import annotations

from resolver.evidence import Content, Evidence, evidence_id
from resolver.graph import OK, PERSON, Customer, Graph, is_person, new_node
from resolver.households import observe, set_status
from resolver.identifiers import IdentifierParser
from resolver.junk import JunkRules
from resolver.limits import customers_refusal
from resolver.nearlinks import near_changed
from resolver.outcome import Step
from resolver.reresolution import carrying, closure, raw_evidence, reresolve
from resolver.summary import joined, see_again

__all__ = ["Found", "add", "add_content", "content_id", "evidence_name", "found_of"]

#: What parsing finds of an event besides its fields: its identifier keys and refused values
#: (`resolver.identifiers.Extracted`), the name its evidence carries (`evidence_name`) and its
#: evidence id (`resolver.evidence.evidence_id` of its content). Plain tuples and strings: any
#: serialiser carries them between processes.
Found = tuple[tuple[str, ...], tuple[str, ...], str | None, str]


#: The touchpoint whose names are profiles the account's owner chose (`JunkRules.profile_name_of`).
_WHATSAPP = "WHATSAPP"


def evidence_name(junk: JunkRules, name: str | None, touchpoint: str) -> str | None:
    """The name evidence carries: trimmed; None when absent or a placeholder (`JunkRules.name_of`),
    or a pet name on a WhatsApp profile (`JunkRules.profile_name_of`)."""
    if not name:
        return None
    return junk.profile_name_of(name) if touchpoint == _WHATSAPP else junk.name_of(name)


def content_id(
    g: Graph, touchpoint: str, source_id: str, phone: str | None, email: str | None, name: str | None
) -> str:
    """The evidence id an event of these fields has (`add` computes the same), without taking it in.

    Two events of one id are one event sent twice only when this is equal: the same
    touchpoint, source id, name and identifiers (its interaction, attributes and time may differ).
    """
    return found_of(g.parser, touchpoint, source_id, phone, email, name)[3]


def found_of(
    parser: IdentifierParser, touchpoint: str, source_id: str, phone: str | None, email: str | None, name: str | None
) -> Found:
    """`Found` of an event's fields, with `parser` (of the configuration of the core that takes it)."""
    keys, rejected = parser.extract_fields(touchpoint, source_id, phone, email)
    name = evidence_name(parser.junk, name, touchpoint)
    return (
        keys,
        rejected,
        name,
        evidence_id((touchpoint, parser.source_of(touchpoint, source_id), name, keys, rejected)),
    )


def add(
    g: Graph,
    eid: str,
    touchpoint: str,
    at: int,
    source_id: str,
    phone: str | None,
    email: str | None,
    name: str | None,
) -> Step | None:
    """Take in an event whose id is not remembered; None when it is suppressed (erased person)."""
    keys, rejected = g.parser.extract_fields(touchpoint, source_id, phone, email)
    junk = g.parser.junk  # `evidence_name`, inline: per event
    name = (junk.profile_name_of(name) if touchpoint == _WHATSAPP else junk.name_of(name)) if name else None
    content = (touchpoint, g.parser.source_of(touchpoint, source_id), name, keys, rejected)
    return add_content(g, eid, at, content, evidence_id(content))


def add_content(g: Graph, eid: str, at: int, content: Content, vid: str, *, foreign: bool = False) -> Step | None:
    """`add` of an event whose content (`resolver.evidence`) and its id `vid` are known already.

    A parsing process computes them once per event (`resolver.replay.parse`): the core then
    neither normalises nor digests the same values again. `foreign`: the keys were made
    elsewhere, so new evidence takes the equal strings the state holds (`Graph.held_key`)
    instead of keeping one more copy of each.
    """
    ev = g.by_content.get(content, vid)
    if ev is not None:
        return _repeat(g, ev, eid, at)
    touchpoint, src, name, keys, rejected = content
    # A handful of touchpoints: one string object each, not one per piece of evidence.
    touchpoint = g.intern(touchpoint)
    if foreign and keys:
        keys = tuple(map(g.held_key, keys))
    content = (touchpoint, src, name, keys, rejected)
    if g.suppressed and (g.is_suppressed("ev:" + vid) or any(g.is_suppressed(k) for k in keys)):
        return None
    ev = Evidence(vid, eid, at, touchpoint, src, name, keys, rejected)
    g.evidence[vid] = ev
    g.by_content.added(content)  # `vid` is the digest of `content`: the implicit answer
    _remember(g, eid, at, vid)
    if g.track:
        g.mark("e", vid)
    return _new_evidence(g, ev)


def _remember(g: Graph, eid: str, at: int, vid: str) -> None:
    if not g.track:
        # What follows only names changed records (`Graph.mark`): nothing to name.
        g.recent.remember(eid, at, vid)
        return
    before = g.recent.watermark
    for gone in g.recent.remember(eid, at, vid):
        g.mark("h", gone)
    if eid in g.recent:
        g.mark("h", eid)
    if g.recent.watermark != before:
        g.mark("m", "watermark")


def _repeat(g: Graph, ev: Evidence, eid: str, at: int) -> Step:
    """One more interaction of known evidence: counters only, never a new link.

    One exception keeps the result a function of the set of events: when the repeat is the
    evidence's new earliest, it moves in the canonical order, which decides a component
    resolved greedily. Moving evidence whose links were all accepted earlier changes nothing
    (the limits are monotone); evidence with a refused link, or in a customer cut apart by
    the greedy pass, has its component resolved again.
    """
    step = Step()
    earliest = ev.see(eid, at)
    _remember(g, eid, at, ev.vid)
    if g.track:
        g.mark("e", ev.vid)
    cid = g.customer_of(ev)
    if cid is None:
        return step
    cust = g.cust[cid]
    if earliest and (cust.constrained or ev.note is not None):
        seeds = raw_evidence(g, [k for k in ev.keys if g.nodes[k].status == OK])
        seeds.add(ev.vid)
        reresolve(g, closure(g, seeds), step)
        return step
    step.in_place = True
    if earliest and ev.at < cust.first:
        cust.first = ev.at
        g.mark("c", cid)
    step.touched.add(cid)
    if g.profiles:
        see_again(g, cid, ev.name, at)
    return step


def _new_evidence(g: Graph, ev: Evidence) -> Step:
    step = Step()
    nodes = g.nodes
    keys = ev.keys
    cls = g.class_of(ev.name)
    pending: list[tuple[str, str]] = []
    new_keys: list[str] = []
    signals = g.signals
    values: list[str] = []
    for k in keys:  # a loop, not a comprehension: no function object per event
        if k[0] in signals:
            values.append(k)
    if cls is not None and "n" in signals:
        values.append(g.name_signal(cls))
    near_check = False
    for key in keys:
        node = nodes.get(key)
        if node is None:
            node = nodes[key] = new_node(key)
            g.uf.add(key)
            new_keys.append(key)
            if g.track:
                g.mark("n", key)
            if key[0] == "p":
                near_check = True
        elif node.near:
            near_check = True
        node.add_evidence(ev.vid)
        if node.status == OK:
            change = observe(g, key, node, ev, cls, values)
            if change is not None:
                pending.append((key, change))
    # Near candidates of a new phone are found whatever else happens (the lookup is symmetric).
    near_flip = near_check and g.near_on and near_changed(g, keys, new_keys)
    if pending or near_flip:
        seeds = raw_evidence(g, [k for k in keys if nodes[k].status == OK])
        seeds.add(ev.vid)
        seeds |= carrying(g, [key for key, _ in pending])
        for key, change in pending:
            set_status(g, key, change, step)
        reresolve(g, closure(g, seeds), step)
    else:
        _link(g, ev, new_keys, step)
    return step


def _link(g: Graph, ev: Evidence, new_keys: list[str], step: Step) -> None:
    """Union the effective keys of new evidence, or re-resolve when a limit is in the way."""
    eff = g.effective(ev)
    uf = g.uf
    by_root = g.by_root
    anchor = eff[0]
    for key in eff:
        # `is_person` needs a "#" in the key: most keys are neither pseudo nor a person's part.
        if key[0] == "x" or (PERSON in key and is_person(key)):
            g.ensure_pseudo(key)
    roots = uf.roots_of(eff)
    if len(roots) == 1 and not new_keys:
        cid = by_root.get(roots[0])
        if cid is not None:
            # The common case: new evidence that only re-sees one customer's identifiers
            # (its membership and every status as they were): its summary takes it in.
            ev.anchor = anchor
            cust = g.cust[cid]
            if ev.at < cust.first:
                cust.first = ev.at
                if g.track:
                    g.mark("c", cid)
            step.touched.add(cid)
            if g.profiles:
                joined(g, cid, ev)
            step.in_place = True
            return
    custs: list[Customer] = []
    fresh: list[str] = []
    constrained = False
    for r in roots:
        held = by_root.get(r)
        if held is None:
            fresh.append(r)
        else:
            cust = g.cust[held]
            custs.append(cust)
            constrained = constrained or cust.constrained
    if constrained or customers_refusal(g, custs, fresh) is not None:
        seeds = raw_evidence(g, [k for k in eff if not k.startswith("x:")])
        seeds.add(ev.vid)
        reresolve(g, seeds, step)
        return
    ev.anchor = anchor
    if not custs:
        root = anchor
        for key in eff[1:]:
            root = _union(g, root, key)
        cid = g.new_id(ev.eid)
        cust = Customer(cid, root, ev.at)
        cust.count_keys(eff)
        g.cust[cid] = cust
        by_root[root] = cid
        if g.track:
            g.mark("c", cid)
        step.created.append(cid)
        step.touched.add(cid)
        return
    survivor = custs[0] if len(custs) == 1 else min(custs, key=lambda c: (c.first, c.cid))
    for c in custs:
        if c is not survivor:
            _absorb(g, c, survivor, step)
    root = survivor.root
    for r in roots:
        root = _union(g, root, r)
    for r in fresh:
        survivor.count_keys([r])
        for split_no, part in g.nodes[r].bars:
            survivor.bar(split_no, part)
    if root != survivor.root:
        del by_root[survivor.root]
        survivor.root = root
    by_root[root] = survivor.cid
    survivor.first = min(survivor.first, ev.at)
    if g.track:
        g.mark("c", survivor.cid)
    step.touched.add(survivor.cid)


def _absorb(g: Graph, gone: Customer, survivor: Customer, step: Step) -> None:
    del g.cust[gone.cid]
    del g.by_root[gone.root]
    g.absorbed[gone.cid] = survivor.cid
    survivor.phones += gone.phones
    survivor.emails += gone.emails
    for split_no, part in gone.bars.items():
        survivor.bar(split_no, part)
    survivor.first = min(survivor.first, gone.first)
    step.absorbed[gone.cid] = survivor.cid
    step.touched.discard(gone.cid)
    g.merges += 1
    g.mark("c", gone.cid)
    g.mark("a", gone.cid)


def _union(g: Graph, a: str, b: str) -> str:
    root, gone = g.uf.union(a, b)
    if gone is not None and g.track:
        g.mark("n", gone)
    return root
