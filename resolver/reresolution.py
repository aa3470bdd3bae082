"""Re-resolving a component from its evidence, when a plain union is not enough.

The partition is a function of the SET of evidence (plus operator actions): a raw component
(the connected component of the effective links and the near links that hold) that fits the
limits is one customer; otherwise its evidence is linked greedily in canonical order
(earliest first: ``at``, ``eid``), each refused link noted on its evidence. Ids: each old
customer id stays with the part holding its oldest evidence; other parts get new ids.
"""

from __future__ import annotations

from collections.abc import Iterable

from resolver.evidence import Evidence
from resolver.graph import OK, Customer, Graph, holder_of, is_person
from resolver.identifiers import kind_of, mask
from resolver.limits import keys_refusal
from resolver.nearlinks import near_refresh
from resolver.outcome import Step
from resolver.unionfind import DisjointSet

__all__ = ["carrying", "closure", "raw_evidence", "reresolve"]


def raw_evidence(g: Graph, seeds: Iterable[str]) -> set[str]:
    """Ids of all evidence in the raw components (current links, any customer) of the seed keys."""
    nodes = g.nodes
    seen_nodes: set[str] = set()
    seen: set[str] = set()
    stack: list[str] = []
    for seed in seeds:
        if seed in nodes and seed not in seen_nodes:
            seen_nodes.add(seed)
            stack.append(seed)

    def visit(key: str) -> None:
        if key not in seen_nodes and key in nodes:
            seen_nodes.add(key)
            stack.append(key)

    def take_merged(vid: str) -> None:
        # Evidence an operator merge keeps with `vid` is in the component, with its own links.
        todo = [vid]
        while todo:
            for partner in g.must_partners(todo.pop()):
                ev = g.evidence.get(partner)
                if ev is None or partner in seen:
                    continue
                seen.add(partner)
                todo.append(partner)
                for other in g.effective_uncut(ev):
                    visit(other)

    must = g.must_of
    while stack:
        key = stack.pop()
        node = nodes[key]
        if node.status != OK:
            continue
        if is_person(key):
            # One person's part of a shared phone or email: its evidence is the identifier's.
            visit(holder_of(key))
        for other in node.near or ():
            # Near candidates belong to the component whether or not their link holds now.
            visit(other)
        # Members of the customer are part of the component even if refused links hide them.
        root = g.uf.find(key)
        if root in g.by_root:
            for member in g.uf.members(root):
                visit(member)
        for vid in node.vids():
            if vid in seen:
                continue
            ev = g.evidence.get(vid)
            if ev is None:
                continue
            keys = g.effective_uncut(ev)
            if key not in keys and not key.startswith("x:") and node.groups is None:
                continue
            seen.add(vid)
            for other in keys:
                visit(other)
            if must and vid in must:
                take_merged(vid)
    return seen


def carrying(g: Graph, keys: Iterable[str]) -> set[str]:
    """Ids of all evidence that carries any of `keys`, whether the key links it now or not.

    A key's status decides more than its own links: a household's phone links again when its
    email is quarantined, and the other way round. So evidence carrying a key whose status
    changes is re-resolved, not only the evidence the key links now.
    """
    out: set[str] = set()
    for key in keys:
        node = g.nodes.get(key)
        if node is not None:
            out.update(vid for vid in node.vids() if vid in g.evidence)
    return out


def closure(g: Graph, vids: set[str]) -> set[str]:
    """Grow `vids` (raw components under the old links) to whole components under the new ones.

    A status change can also ADD links: quarantining an email lets a household phone link
    that email's evidence again. So after a change we expand until nothing new is reached.
    """
    while True:
        keys = {k for v in vids for k in g.evidence[v].keys}
        more = raw_evidence(g, sorted(keys))
        if more <= vids:
            return vids
        vids = vids | more


def reresolve(g: Graph, vids: set[str], step: Step) -> None:
    """Recompute the customers of `vids` (a union of whole raw components) from their evidence."""
    evidence = sorted((g.evidence[v] for v in vids), key=lambda ev: (ev.at, ev.eid))
    old_cid, homes, old_nodes = _old_customers(g, evidence)
    effs: dict[str, list[str]] = {}
    for ev in evidence:
        eff = effs[ev.vid] = g.effective(ev)
        for key in eff:
            g.ensure_pseudo(key)
            old_nodes.add(key)
    near_edges: list[tuple[str, str]] = []
    if g.near_on:
        near_edges = near_refresh(g, old_nodes, {k for eff in effs.values() for k in eff})
    # Old customers of this evidence are rebuilt; their ids are reassigned below.
    for cid in sorted(set(old_cid.values())):
        cust = g.cust.pop(cid)
        g.by_root.pop(cust.root, None)
    g.uf.reset(sorted(old_nodes))  # in a set's order a dict would take new keys in the hash seed's order
    for key in old_nodes:
        g.mark("n", key)
    merged = _merge_edges(g, effs)
    parts, constrained = _link_components(g, evidence, effs, near_edges, merged, step)
    _assign_ids(g, parts, constrained, homes, step)


def _old_customers(g: Graph, evidence: list[Evidence]) -> tuple[dict[str, str], dict[str, Evidence], set[str]]:
    """Old customer per evidence id, each old customer's oldest evidence, and their nodes."""
    uf = g.uf
    old_cid: dict[str, str] = {}
    old_nodes: set[str] = set()
    seen_roots: set[str] = set()
    homes: dict[str, Evidence] = {}
    for ev in evidence:
        if ev.anchor and ev.anchor in uf:
            root = uf.find(ev.anchor)
            cid = g.by_root.get(root)
            if cid is not None:
                old_cid[ev.vid] = cid
                homes.setdefault(cid, ev)
                if root not in seen_roots:
                    seen_roots.add(root)
                    old_nodes.update(uf.members(root))
    return old_cid, homes, old_nodes


def _merge_edges(g: Graph, effs: dict[str, list[str]]) -> list[tuple[int, str, str]]:
    """Operator merges among this evidence, as (merge number, anchor, anchor), in merge order."""
    if not g.must:
        return []
    out = []
    for number, (a, b) in sorted(g.must.items()):
        if a in effs and b in effs:
            out.append((number, effs[a][0], effs[b][0]))
    return out


def _link_components(
    g: Graph,
    evidence: list[Evidence],
    effs: dict[str, list[str]],
    near_edges: list[tuple[str, str]],
    merged: list[tuple[int, str, str]],
    step: Step,
) -> tuple[dict[str, list[Evidence]], set[str]]:
    """Union each raw component whole when it fits the limits, else greedily; the parts by root.

    Operator merges (`merged`) join their evidence's anchors; in a greedy pass they go first
    (an operator's word outranks any evidence), each still checked against the limits.
    """
    uf = g.uf
    raw = DisjointSet()
    for ev in evidence:
        eff = effs[ev.vid]
        raw.add(eff[0])
        for key in eff[1:]:
            raw.add(key)
            raw.union(eff[0], key)
    for a, b in near_edges:
        raw.union(a, b)
    merge_of: dict[str, list[tuple[int, str, str]]] = {}
    for _, a, b in merged:
        raw.union(a, b)
    for number, a, b in merged:
        merge_of.setdefault(raw.find(a), []).append((number, a, b))
    groups: dict[str, list[Evidence]] = {}
    for ev in evidence:
        groups.setdefault(raw.find(effs[ev.vid][0]), []).append(ev)
    near_of: dict[str, list[tuple[str, str]]] = {}
    for a, b in near_edges:
        near_of.setdefault(raw.find(a), []).append((a, b))
    parts: dict[str, list[Evidence]] = {}
    constrained: set[str] = set()
    for group_root, members in groups.items():
        whole = keys_refusal(g, {k for ev in members for k in effs[ev.vid]}) is None
        for number, a, b in merge_of.get(group_root, ()):
            reason = None if whole else _link_refusal(g, a, b)
            if reason is None:
                uf.union(a, b)
            else:
                step.notes.append(f"refused operator merge {number}: {reason}")
        for ev in members:
            eff = effs[ev.vid]
            note: str | None = None
            for key in eff[1:]:
                reason = None if whole else _link_refusal(g, eff[0], key)
                if reason is None:
                    uf.union(eff[0], key)
                else:
                    note = f"refused {kind_of(key)} link: {reason}"
            if ev.anchor != eff[0] or ev.note != note:
                ev.anchor = eff[0]
                ev.note = note
                g.mark("e", ev.vid)
            if note is not None:
                step.notes.append(f"evidence {ev.vid}: {note}")
        # Near links are the weakest evidence: applied last, so a limit refuses them first.
        for a, b in near_of.get(group_root, ()):
            reason = None if whole else _link_refusal(g, a, b)
            if reason is None:
                uf.union(a, b)
            else:
                step.notes.append(f"refused near phone link {mask(a)} ~ {mask(b)}: {reason}")
        roots_here: set[str] = set()
        for ev in members:
            root = uf.find(ev.anchor)
            parts.setdefault(root, []).append(ev)
            roots_here.add(root)
        if len(roots_here) > 1:
            constrained.update(roots_here)
    return parts, constrained


def _link_refusal(g: Graph, a: str, b: str) -> str | None:
    """Why joining the sets of `a` and `b` (during greedy linking) is refused, or None."""
    ra, rb = g.uf.find(a), g.uf.find(b)
    if ra == rb:
        return None
    return keys_refusal(g, g.uf.members(ra) + g.uf.members(rb))


def _assign_ids(
    g: Graph,
    parts: dict[str, list[Evidence]],
    constrained: set[str],
    homes: dict[str, Evidence],
    step: Step,
) -> None:
    """Each old id stays with the part holding its oldest evidence; the rest are absorbed or new."""
    for root in sorted(parts, key=lambda r: (parts[r][0].at, parts[r][0].eid)):
        inside = parts[root]
        vids = {ev.vid for ev in inside}
        claimants = sorted((c for c, home in homes.items() if home.vid in vids), key=lambda c: (homes[c].at, c))
        if claimants:
            cid = claimants[0]
            for other in claimants[1:]:
                g.absorbed[other] = cid
                step.absorbed[other] = cid
                step.touched.discard(other)
                g.merges += 1
                g.mark("a", other)
                g.mark("c", other)
        else:
            cid = g.new_id(inside[0].eid, homes)  # never an old id a later part claims
            step.created.append(cid)
        cust = Customer(cid, root, inside[0].at)
        members = g.uf.members(root)
        cust.count_keys(members)
        for key in members:
            for split_no, part in g.nodes[key].bars:
                cust.bar(split_no, part)
        cust.constrained = root in constrained
        g.cust[cid] = cust
        g.by_root[root] = cid
        g.mark("c", cid)
        step.touched.add(cid)
