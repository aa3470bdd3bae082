"""Near-phone links in the graph: which pairs of phones one digit apart are linked now.

The rule itself is `resolver.near` (pure, on names and emails); this module keeps, per phone
node, its near candidates and whether each link holds, and re-evaluates them whenever either
phone gains evidence. Whether a link holds is a function of the two phones' evidence, so it
does not depend on order.
"""

from __future__ import annotations

from collections.abc import Iterable

from resolver.graph import OK, Graph, Node, as_line
from resolver.near import near_allowed

__all__ = ["near_changed", "near_holds", "near_links", "near_refresh"]


def near_changed(g: Graph, keys: tuple[str, ...], new_keys: list[str]) -> bool:
    """Find near candidates of new phones; True when a near link of these phones must flip."""
    nodes = g.nodes
    changed = False
    for key in keys:
        if key[0] != "p":
            continue
        node = nodes[key]
        if new_keys and key in new_keys:
            found = g.near_index.near(key)
            g.near_index.add(key)
            for other in found:
                partner = nodes.get(other)
                if partner is not None:
                    here, there = as_line(node), as_line(partner)
                    if here.near is None:
                        here.near = {}
                    here.near[other] = False
                    if there.near is None:
                        there.near = {}
                    there.near[key] = False
                    g.mark("n", key)
                    g.mark("n", other)
        near = node.near
        if near:
            for other, used in near.items():
                if near_holds(g, key, other) != used:
                    changed = True
    return changed


def near_holds(g: Graph, a: str, b: str) -> bool:
    """Whether the near link between phones `a` and `b` holds (a function of their evidence)."""
    na, nb = g.nodes.get(a), g.nodes.get(b)
    if na is None or nb is None:
        return False
    for node in (na, nb):
        if node.status != OK or node.shared or node.groups is not None:
            return False
    # The answer depends only on the two phones' evidence, which is only ever appended
    # (erase clears this memo): equal evidence counts mean an equal answer.
    pair = (a, b) if a < b else (b, a)
    counts = (len(na.vids()), len(nb.vids())) if a < b else (len(nb.vids()), len(na.vids()))
    memo = g.near_memo.get(pair)
    if memo is not None and memo[0] == counts:
        return memo[1]
    names_a, emails_a = _side(g, na)
    names_b, emails_b = _side(g, nb)
    holds = near_allowed(names_a, names_b, emails_a, emails_b)
    g.near_memo[pair] = (counts, holds)
    return holds


def _side(g: Graph, node: Node) -> tuple[dict[str, int], set[str]]:
    """(name key -> distinct evidence, emails) of one phone's evidence."""
    names: dict[str, int] = {}
    emails: set[str] = set()
    evidence = g.evidence
    for vid in node.vids():
        ev = evidence.get(vid)
        if ev is None:
            continue
        key = g.class_of(ev.name)
        if key is not None:
            names[key] = names.get(key, 0) + 1
        for key in ev.keys:
            if key[0] == "e":
                emails.add(key)
    return names, emails


def near_links(g: Graph, members: Iterable[str]) -> list[tuple[str, str]]:
    """The near links in force between `members` (each pair once, sorted)."""
    inside = set(members)
    out: list[tuple[str, str]] = []
    for key in sorted(inside):
        node = g.nodes.get(key)
        near = None if node is None else node.near
        if near:
            out.extend((key, o) for o, used in sorted(near.items()) if used and key < o and o in inside)
    return out


def near_refresh(g: Graph, keys: set[str], linked: set[str]) -> list[tuple[str, str]]:
    """Re-evaluate the near links of `keys`; return those that hold between `linked` keys."""
    out: list[tuple[str, str]] = []
    for key in sorted(keys):
        node = g.nodes.get(key)
        near = None if node is None else node.near
        if not near:
            continue
        for other in sorted(near):
            holds = near_holds(g, key, other)
            if near[other] != holds:
                g.forget_profiles([key, other])
                near[other] = holds
                g.mark("n", key)
            partner = g.nodes.get(other)
            if partner is not None and partner.near is not None and partner.near.get(key) != holds:
                g.forget_profiles([key, other])
                partner.near[key] = holds
                g.mark("n", other)
            if holds and key < other and key in linked and other in linked:
                out.append((key, other))
    return out
