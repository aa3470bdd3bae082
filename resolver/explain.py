"""Lookups and explanations: where an identifier leads, why two references are one customer or not.

Everything returns typed, JSON-able results built from the graph; nothing here changes state
(`find` may compress union-find paths, which changes no answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import phonenumbers

from resolver.evidence import Evidence
from resolver.graph import OK, Graph, holder_of
from resolver.identifiers import IdentifierParser, kind_of, mask, touchpoint_key
from resolver.interaction import TOUCHPOINTS, UNKNOWN_TIME_MS
from resolver.near import NEAR_RULE
from resolver.nearlinks import near_links

__all__ = [
    "MERGE_RULE",
    "Explanation",
    "Lookup",
    "explain",
    "key_of",
    "lookup",
    "parsed_key",
    "resolve_ref",
    "split_lookup_reason",
    "why",
    "why_not",
]

#: The rule of an operator merge's link (`resolver.actions.merge`) in explanations.
MERGE_RULE = "operator-merge"


@dataclass(frozen=True, slots=True)
class Lookup:
    """Where a raw identifier leads: a customer id, or why none (invalid, junk, quarantined...).

    ``split``: the identifier is held by several customers, one per person (a phone, email or
    account split between people by their names): ``customers`` lists them, and
    ``customer_id`` is None rather than one of them picked at random.
    """

    kind: str
    key: str | None
    status: str  # "linked" | "invalid" | "junk" | "unknown" | "quarantined" | "blocked" | "cut" | "shared" | "split"
    customer_id: str | None
    reason: str
    customers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "status": self.status,
            "customer_id": self.customer_id,
            "customers": list(self.customers),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    """The evidence graph of one customer: identifier nodes, evidence edges, refusals, the evidence.

    ``events`` are the ids of the customer's evidence (what a split by "event" takes);
    ``evidence`` describes each: its earliest event id, touchpoint, interaction count, first
    and last seen.
    """

    customer_id: str
    nodes: tuple[dict[str, Any], ...] = ()
    edges: tuple[dict[str, Any], ...] = ()
    events: tuple[str, ...] = ()
    absorbed_ids: tuple[str, ...] = ()
    found: bool = True
    evidence: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "found": self.found,
            "nodes": list(self.nodes),
            "edges": list(self.edges),
            "events": list(self.events),
            "evidence": list(self.evidence),
            "absorbed_ids": list(self.absorbed_ids),
        }


def key_of(g: Graph, raw: str, kind: str) -> tuple[str | None, str]:
    """(key, status) for a raw identifier of `kind`; status "ok" when it could link."""
    return parsed_key(g.parser, raw, kind)


def parsed_key(parser: IdentifierParser, raw: str, kind: str) -> tuple[str | None, str]:
    """`key_of` with a parser alone (a standby's views read a lookup's key without a graph)."""
    if kind == "phone":
        phone = parser.phones.normalise(raw)
        return "p:" + phone.e164, "ok" if phone.linkable else phone.status
    if kind == "email":
        email = parser.emails.normalise(raw)
        return "e:" + email.address, "ok" if email.linkable else email.status
    if kind == "touchpoint":
        touchpoint, _, source = raw.partition(":")
        touchpoint = touchpoint.strip().upper()
        if touchpoint == "WHATSAPP":
            wa = parser.phones.international(source)
            if wa.linkable:
                return "p:" + wa.e164, "ok"
        if parser.junk.source_id(source):
            return None, "junk"
        return touchpoint_key(touchpoint, source), "ok"
    raise ValueError(f"unknown identifier kind {kind!r}")


def lookup(g: Graph, raw: str, kind: str) -> Lookup:
    """Where `raw` (a phone, email or ``TOUCHPOINT:source_id``) leads, or why nowhere.

    A WhatsApp identity is its phone, but when the phone is split between people the
    account's own evidence (its chats) names its owner: the lookup answers with the customer
    holding that evidence. An identifier held by several customers (each person's part of a
    split phone, email or account) is ``split``, with every holder.
    """
    key, status = key_of(g, raw, kind)
    shown = None if key is None else mask(key)
    if status != "ok":
        return Lookup(kind, shown, status, None, f"{kind} is {status}: never linked")
    assert key is not None
    node = g.nodes.get(key)
    if node is None:
        return Lookup(kind, shown, "unknown", None, "never seen")
    if node.status != OK:
        return Lookup(kind, shown, node.status, None, f"{node.status}: this {kind} does not link customers")
    own = _whatsapp_holders(g, key) if kind == "touchpoint" and _is_whatsapp(raw) else {}
    holders = own or _holders(g, key)
    if len(holders) > 1:
        reason = split_lookup_reason(key, bool(own))
        return Lookup(kind, shown, "split", None, reason, tuple(sorted(holders)))
    if not holders:
        reason = _shared_reason(key) if node.shared else "unlinked"
        return Lookup(kind, shown, "shared" if node.shared else "unknown", None, reason)
    cid = next(iter(holders))
    if own and node.groups is not None:
        reason = "the WhatsApp account's own messages: its phone is split between people, this is its owner"
    else:
        reason = "shared household phone" if node.shared else "linked"
    return Lookup(kind, shown, "linked", cid, reason)


def split_lookup_reason(key: str, whatsapp: bool) -> str:
    """The reason of a ``split`` lookup of `key` (``whatsapp``: the holders are a WhatsApp account's own)."""
    return "held by several customers, one per person: " + _split_what(key, whatsapp)


def _split_what(key: str, whatsapp: bool) -> str:
    if whatsapp:
        return "the WhatsApp account's own messages came under names of different people"
    if key[0] == "t":
        return "an account used by another person with a phone or email of their own"
    what = "an email" if key[0] == "e" else "a phone"
    return f"{what} used by people with different names: each person's part is linked on its own"


def _is_whatsapp(raw: str) -> bool:
    return raw.partition(":")[0].strip().upper() == "WHATSAPP"


def _names_touchpoint(raw: str) -> bool:
    """Whether `raw` is ``TOUCHPOINT:source_id`` (any case), whatever the source id holds."""
    touchpoint, sep, _ = raw.partition(":")
    return bool(sep) and touchpoint.strip().upper() in TOUCHPOINTS[1:]


def _holders(g: Graph, key: str) -> dict[str, str]:
    """Customer id -> the key holding it: identifier `key` itself and each person's part of it."""
    node = g.nodes.get(key)
    if node is None:
        return {}
    keys = [key]
    if node.groups is not None:
        keys += sorted(set(node.groups.values()) - {key})
    out: dict[str, str] = {}
    for k in keys:
        part = g.nodes.get(k)
        if part is None or part.status != OK or k not in g.uf:
            continue
        cid = g.by_root.get(g.uf.find(k))
        if cid is not None:
            out.setdefault(cid, k)
    return out


def _whatsapp_holders(g: Graph, key: str) -> dict[str, str]:
    """Customer id -> key, for the customers holding the evidence of phone `key`'s own WhatsApp account."""
    node = g.nodes.get(key)
    if node is None or key[0] != "p":
        return {}
    out: dict[str, str] = {}
    phones = g.parser.phones
    for vid in node.vids():
        ev = g.evidence.get(vid)
        if ev is None or ev.tp != "WHATSAPP" or "p:" + phones.international(ev.src).e164 != key:
            continue
        cid = g.customer_of(ev)
        if cid is None:
            continue
        held = next((k for k in g.effective(ev) if holder_of(k) == key and k in g.uf), ev.anchor)
        out.setdefault(cid, held)
    return out


def _holders_of_ref(g: Graph, ref: str) -> tuple[str | None, dict[str, str]]:
    """(node key, customer id -> the key holding it there) of a reference (`resolve_ref`).

    A customer id, an evidence or event id has one holder. An identifier has one per customer
    holding it or a person's part of it; a WhatsApp account, the customers holding its own
    messages (when it has any).
    """
    key, cid = resolve_ref(g, ref)
    text = ref.strip()
    direct = text.startswith("c_") or g.evidence_of(text) is not None
    if direct or key is None or key not in g.nodes or g.nodes[key].status != OK:
        return key, ({} if cid is None else {cid: key or ""})
    whatsapp = text[:2] not in ("p:", "e:", "t:") and _is_whatsapp(text)
    holders = (_whatsapp_holders(g, key) if whatsapp else {}) or _holders(g, key)
    if not holders and cid is not None:
        holders = {cid: key}
    return key, holders


def _pick(ha: dict[str, str], hb: dict[str, str]) -> tuple[str | None, str | None]:
    """The customers to compare: one both sides are held by, else each side's only holder (or None)."""
    common = sorted(set(ha) & set(hb))
    if common:
        return common[0], common[0]
    return (next(iter(ha)) if len(ha) == 1 else None), (next(iter(hb)) if len(hb) == 1 else None)


def resolve_ref(g: Graph, ref: str) -> tuple[str | None, str | None]:
    """(node key, customer id) of a reference: customer id, evidence or event id, key, or raw identifier."""
    ref = ref.strip()
    if ref.startswith("c_"):
        cid = g.current_id(ref)
        return (None if cid is None else g.cust[cid].root), cid
    ev = g.evidence_of(ref)
    if ev is not None:
        return ev.anchor or None, g.customer_of(ev)
    key: str | None
    if ref[:2] in ("p:", "e:", "t:") and ref in g.nodes:
        key = ref
    elif _names_touchpoint(ref):  # before the "@": a WhatsApp jid is ``<digits>@c.us``
        key = key_of(g, ref, "touchpoint")[0]
    elif "@" in ref:
        key = key_of(g, ref, "email")[0]
    elif ref.lstrip("+(").strip()[:1].isdigit():
        key = key_of(g, ref, "phone")[0]
    else:
        key = key_of(g, ref, "touchpoint")[0]
    if key is None or key not in g.nodes:
        return key, None
    return key, g.by_root.get(g.uf.find(key))


def _evidence_row(ev: Evidence) -> dict[str, Any]:
    # A time nobody knows (`UNKNOWN_TIME_MS`) is shown as none, as the profile reads it (`Tally`).
    first = ev.last if ev.at == UNKNOWN_TIME_MS else ev.at
    return {
        "id": ev.vid,
        "first_event_id": ev.eid,
        "touchpoint": ev.tp,
        "count": ev.count,
        "first_seen": None if first == UNKNOWN_TIME_MS else first,
        "last_seen": None if ev.last == UNKNOWN_TIME_MS else ev.last,
    }


def explain(g: Graph, customer_id: str) -> Explanation:
    """The evidence graph of a customer (JSON-able via `to_dict`). Contains PII: operators only.

    Edges are evidence links (``same-event:...``, with the evidence id and its interaction
    count), refusals and rejected values, and near-phone links (rule
    `resolver.near.NEAR_RULE`, ``weak``, ``event_id`` empty: the link rests on the names of
    both phones' evidence), refused ones with their reason.
    """
    cid = g.current_id(customer_id)
    if cid is None:
        return Explanation(customer_id, found=False)
    cust = g.cust[cid]
    members = set(g.uf.members(cust.root))
    evidence = g.customer_evidence(cust)
    nodes = [
        {"id": k, "kind": kind_of(k), "status": g.nodes[k].status, "shared": g.nodes[k].shared} for k in sorted(members)
    ]
    extra: set[str] = set()
    edges: list[dict[str, Any]] = []
    for ev in evidence:
        eff = g.effective(ev)
        extra.update(k for k in ev.keys if k not in members)
        base = {"event_id": ev.eid, "evidence": ev.vid, "count": ev.count}
        for key in ev.keys:
            if key == eff[0]:
                continue
            edge: dict[str, Any] = {
                **base,
                "from": eff[0],
                "to": key,
                "rule": f"same-event:{kind_of(eff[0])}+{kind_of(key)}",
                "weak": len(eff) < 2,
                "refused": key not in members or key not in eff,
            }
            if key not in eff:
                edge["reason"] = _why_not_linking(g, key, ev)
            elif key not in members:
                edge["reason"] = ev.note or "refused"
            edges.append(edge)
        for rejected in ev.rejected:
            kind, status, value = rejected.split(":", 2)
            edges.append(
                {
                    **base,
                    "from": eff[0],
                    "to": f"{kind}:{status}:{mask(value)}",
                    "rule": "rejected",
                    "weak": True,
                    "refused": True,
                    "reason": f"{kind} {status}",
                }
            )
    for a, b in near_links(g, members):
        edges.append({"event_id": "", "from": a, "to": b, "rule": NEAR_RULE, "weak": True, "refused": False})
    edges.extend(_merge_edges(g, evidence, members))
    for key in sorted(members):
        for other, used in sorted((g.nodes[key].near or {}).items()):
            if other not in members and key[0] == "p" and other in g.nodes:
                reason = "refused by a limit" if used else "names do not agree strongly, or emails conflict"
                edges.append(
                    {
                        "event_id": "",
                        "from": key,
                        "to": other,
                        "rule": NEAR_RULE,
                        "weak": True,
                        "refused": True,
                        "reason": reason,
                    }
                )
    for key in sorted(extra):
        nodes.append({"id": key, "kind": kind_of(key), "status": g.nodes[key].status, "outside": True})
    absorbed = sorted(a for a in g.absorbed if g.current_id(a) == cid)
    return Explanation(
        cid,
        tuple(nodes),
        tuple(edges),
        tuple(ev.vid for ev in evidence),
        tuple(absorbed),
        evidence=tuple(_evidence_row(ev) for ev in evidence),
    )


def _merge_edges(g: Graph, evidence: list[Evidence], members: set[str]) -> list[dict[str, Any]]:
    """Operator merges holding this customer's evidence: an operator link between their anchors."""
    if not g.must_of:
        return []
    numbers = sorted({n for ev in evidence for n in g.must_of.get(ev.vid, ())})
    out: list[dict[str, Any]] = []
    for number in numbers:
        a, b = (g.evidence[v] for v in g.must[number])
        held = a.anchor in members and b.anchor in members
        edge: dict[str, Any] = {
            "event_id": "",
            "from": a.anchor,
            "to": b.anchor,
            "rule": MERGE_RULE,
            "merge": number,
            "evidence_pair": [a.vid, b.vid],
            "weak": False,
            "refused": not held,
        }
        if not held:
            edge["reason"] = "an operator merge refused by a limit"
        out.append(edge)
    return out


def _shared_reason(key: str) -> str:
    """Why a shared phone or email (`resolver.households`: a shared phone, or typed for walk-ins) links less."""
    if key[0] == "p":
        return "shared phone (a household's, or typed at a kiosk for walk-ins): events with emails are kept apart"
    return "email typed at a kiosk for walk-ins: events with phones are kept apart"


def _why_not_linking(g: Graph, key: str, ev: Evidence) -> str:
    node = g.nodes[key]
    if node.status != OK:
        return f"{kind_of(key)} {node.status}"
    if node.shared:
        return _shared_reason(key)
    if node.groups is not None:
        return _split_reason(key)
    if ev.cut:
        return "evidence links cut by a split"
    return ev.note or "refused"


def _split_reason(key: str) -> str:
    """Why an identifier split between people did not link this evidence as itself."""
    if key[0] == "t":
        return (
            "account used by another person with a phone or email of their own (an order for someone else): "
            "that person's evidence links their own part of it"
        )
    return f"household {kind_of(key)} used by people with different names: linked per person, or not at all"


def why(g: Graph, a: str, b: str) -> dict[str, Any]:
    """The chain of evidence joining `a` and `b` if they are one customer (JSON-able).

    A reference held by several customers (`lookup`'s ``split``) lists them in
    ``customers_a`` / ``customers_b``; it joins the other side when one of them is its customer.
    """
    ka, ha = _holders_of_ref(g, a)
    kb, hb = _holders_of_ref(g, b)
    ca, cb = _pick(ha, hb)
    held = _held_by(ha, hb)
    if ca is None or cb is None or ca != cb or ka is None or kb is None:
        return {"joined": False, "customer_a": ca, "customer_b": cb, **held, "path": []}
    ka, kb = ha[ca] or ka, hb[cb] or kb
    cust = g.cust[ca]
    # Near links sort after evidence links ("~" > any event id): a path prefers shared identifiers.
    adj: dict[str, list[tuple[str, str]]] = {}
    for ev in g.customer_evidence(cust):
        eff = g.effective(ev)
        for key in eff[1:]:
            if g.uf.find(key) == cust.root:
                adj.setdefault(eff[0], []).append((key, ev.eid))
                adj.setdefault(key, []).append((eff[0], ev.eid))
    for x, y in near_links(g, g.uf.members(cust.root)):
        adj.setdefault(x, []).append((y, "~"))
        adj.setdefault(y, []).append((x, "~"))
    merges = [e for e in _merge_edges(g, g.customer_evidence(cust), set(g.uf.members(cust.root))) if not e["refused"]]
    for e in merges:
        # Marked with a control character, which no valid event id holds.
        adj.setdefault(e["from"], []).append((e["to"], f"\x00{e['merge']}"))
        adj.setdefault(e["to"], []).append((e["from"], f"\x00{e['merge']}"))
    previous: dict[str, tuple[str, str] | None] = {ka: None}
    queue = [ka]
    for node in queue:
        if node == kb:
            break
        for nxt, eid in sorted(adj.get(node, []), key=lambda p: (p[1] == "~", p)):
            if nxt not in previous:
                previous[nxt] = (node, eid)
                queue.append(nxt)
    path: list[dict[str, Any]] = []
    cur = kb
    while (hop := previous.get(cur)) is not None:
        prev, eid = hop
        if eid == "~":
            path.append({"from": prev, "to": cur, "event_id": "", "rule": NEAR_RULE})
        elif eid.startswith("\x00"):
            path.append({"from": prev, "to": cur, "event_id": "", "rule": MERGE_RULE, "merge": int(eid[1:])})
        else:
            path.append(
                {"from": prev, "to": cur, "event_id": eid, "rule": f"same-event:{kind_of(prev)}+{kind_of(cur)}"}
            )
        cur = prev
    path.reverse()
    return {"joined": True, "customer_a": ca, "customer_b": cb, **held, "path": path}


def _held_by(ha: dict[str, str], hb: dict[str, str]) -> dict[str, list[str]]:
    """``customers_a`` / ``customers_b`` for a side held by several customers."""
    out: dict[str, list[str]] = {}
    if len(ha) > 1:
        out["customers_a"] = sorted(ha)
    if len(hb) > 1:
        out["customers_b"] = sorted(hb)
    return out


def why_not(g: Graph, a: str, b: str) -> dict[str, Any]:
    """Why `a` and `b` are apart: their statuses and the evidence that was refused (JSON-able)."""
    ka, ha = _holders_of_ref(g, a)
    kb, hb = _holders_of_ref(g, b)
    ca, cb = _pick(ha, hb)
    held = _held_by(ha, hb)
    reasons: list[dict[str, Any]] = []
    if ca is not None and ca == cb:
        return {"apart": False, "customer_a": ca, "customer_b": cb, **held, "reasons": []}
    for ref, key, holders in ((a, ka, ha), (b, kb, hb)):
        if len(holders) > 1:
            reasons.append(
                {
                    "ref": ref,
                    "customers": sorted(holders),
                    "reason": "held by several customers, one per person (split between people by their names)",
                }
            )
        if key is None and not holders and ref.strip().startswith("c_"):
            reasons.append({"ref": ref, "reason": "unknown customer id (never seen, or erased)"})
        elif key is None:
            reasons.append({"ref": ref, "reason": "not a linkable identifier"})
        elif key not in g.nodes:
            reasons.append({"ref": ref, "reason": "never seen"})
        elif g.nodes[key].status != OK:
            reasons.append({"ref": ref, "reason": f"{g.nodes[key].status}: does not link"})
        elif g.nodes[key].shared:
            reasons.append({"ref": ref, "reason": _shared_reason(key)})
    side_a = _side(g, ka, ha)
    side_b = _side(g, kb, hb)
    bars_a = {bar for k in side_a if k in g.nodes for bar in g.nodes[k].bars}
    bars_b = {bar for k in side_b if k in g.nodes for bar in g.nodes[k].bars}
    # Identifiers carried by evidence of both sides: each one says why it did not join them.
    for key in sorted(side_a & side_b):
        node = g.nodes.get(key)
        if node is None:
            continue
        if node.status != OK:
            reason = f"shared {kind_of(key)} {node.status}: it does not link"
        elif node.shared:
            reason = _shared_reason(key)
        elif node.groups is not None:
            reason = _split_reason(key)
        else:
            notes = sorted({ev.note for v in node.vids() if (ev := g.evidence.get(v)) and ev.note})
            reason = "; ".join(notes) if notes else "a link through it was refused"
        reasons.append({"identifier": key, "reason": reason})
    for key in sorted(side_a):
        near = g.nodes[key].near if key in g.nodes else None
        for other, used in sorted((near or {}).items()):
            if other in side_b:
                reason = (
                    "near phone link refused by a limit"
                    if used
                    else "near phone (one digit apart) not linked: names do not agree strongly, or emails conflict"
                )
                reasons.append({"identifier": key, "near": other, "rule": NEAR_RULE, "reason": reason})
    for split_no in sorted({s for s, _ in bars_a} & {s for s, _ in bars_b}):
        reasons.append({"reason": f"kept apart by split {split_no}"})
    if not reasons:
        reasons = _nothing_shared(side_a, side_b)
    return {"apart": True, "customer_a": ca, "customer_b": cb, **held, "reasons": reasons[:100]}


def _side(g: Graph, key: str | None, holders: dict[str, str]) -> set[str]:
    """Every key the side's evidence carries (members and non-linking ones), over all its customers."""
    out: set[str] = set()
    for cid in holders:
        cust = g.cust[cid]
        out.update(g.uf.members(cust.root))
        for ev in g.customer_evidence(cust):
            out.update(ev.keys)
    if not out and key is not None and key in g.nodes:
        out.add(key)
    return out


#: Keys of one kind compared per side by `_nothing_shared` (the closest pair is a hint, not a search).
_COMPARED = 20


def _nothing_shared(side_a: set[str], side_b: set[str]) -> list[dict[str, Any]]:
    """Why-not's answer when no shared identifier, refusal or split explains it: they share no
    identifier; and per kind, the closest phones and emails that differ, masked, with how."""
    reasons: list[dict[str, Any]] = [{"reason": "they share no identifier"}]
    for kind, name in (("p", "phone"), ("e", "email")):
        mine = sorted({holder_of(k) for k in side_a if k[0] == kind and k[1:2] == ":"})[:_COMPARED]
        theirs = sorted({holder_of(k) for k in side_b if k[0] == kind and k[1:2] == ":"})[:_COMPARED]
        best: tuple[int, str, str, str] | None = None
        for x in mine:
            for y in theirs:
                score, how = _phone_difference(x, y) if kind == "p" else _email_difference(x, y)
                if best is None or (score, x, y) < best[:3]:
                    best = (score, x, y, how)
        if best is not None:
            reasons.append(
                {"kind": name, "identifier_a": mask(best[1]), "identifier_b": mask(best[2]), "reason": best[3]}
            )
    return reasons


def _national(e164_key: str) -> str:
    try:
        return str(phonenumbers.parse(e164_key[2:]).national_number)
    except phonenumbers.NumberParseException:
        return e164_key[3:]


def _phone_difference(x: str, y: str) -> tuple[int, str]:
    nx, ny = _national(x), _national(y)
    if nx == ny:
        return 0, (
            "phones with the same national number and different country codes "
            "(a number written without one is read in the default region)"
        )
    d = _distance(nx, ny)
    return d, f"phones that differ in {d} digit{'s' if d > 1 else ''}"


def _email_difference(x: str, y: str) -> tuple[int, str]:
    local_x, _, domain_x = x[2:].rpartition("@")
    local_y, _, domain_y = y[2:].rpartition("@")
    if domain_x == domain_y and _bare(local_x) == _bare(local_y):
        return 0, (
            "emails that differ only by a +tag or dots, which this domain keeps "
            "(only domains with a provider rule drop them)"
        )
    if local_x == local_y:
        return 1, "emails with the same mailbox name at different domains"
    return 1 + _distance(x, y), "emails that differ"


def _bare(local: str) -> str:
    return local.partition("+")[0].replace(".", "")


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (short strings: identifiers)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
