"""The picture of one customer's evidence graph, as inline SVG (no script, no external resource).

Layout (deterministic, a pure function of the explanation dict)::

    phones        emails        touchpoint records      events alone     not linked
    [p:+91..10] ─ [e:a***@..] ─ [t:WEB:co***12]         [x:evt-9]        [phone:invalid:..]
         └─────────── event e1 ──────┘                                   (outside, rejected)

Nodes are identifiers and touchpoint records, one column per kind; identifiers seen on the
customer's events but not part of it (``outside``) and rejected values go to the last
column. Edges are linking events, one line per pair of nodes (thicker for several events;
the event ids are in its tooltip). Weak links are dashed; refused links are red, dotted and
crossed. Labels arrive masked or not as the caller's scope allows: this module only draws.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any

__all__ = ["MAX_NODES_PER_COLUMN", "evidence_svg"]

MAX_NODES_PER_COLUMN = 40
_COLUMNS = ("phone", "email", "touchpoint", "event", "not linked")
_COL_W = 250
_NODE_W = 200
_NODE_H = 30
_ROW_H = 46
_TOP = 96
_LEFT = 24

_NODE_STYLE = {
    "ok": ("#e6fffa", "#2c7a7b", ""),
    "shared": ("#faf5ff", "#6b46c1", ""),
    "quarantined": ("#fff5f5", "#c53030", ""),
    "blocked": ("#fff5f5", "#c53030", ""),
    "cut": ("#edf2f7", "#4a5568", "4 3"),
    "outside": ("#ffffff", "#718096", "4 3"),
    "rejected": ("#fffaf0", "#c05621", "4 3"),
}


@dataclass
class _Edge:
    a: str
    b: str
    events: list[str] = field(default_factory=list)
    rules: set[str] = field(default_factory=set)
    reasons: set[str] = field(default_factory=set)
    weak: bool = True
    refused: bool = False


def _column(node: Mapping[str, Any]) -> int:
    if node.get("outside") or node.get("rejected"):
        return 4
    kind = str(node.get("kind", "event"))
    return _COLUMNS.index(kind) if kind in _COLUMNS[:4] else 3


def _style(node: Mapping[str, Any]) -> tuple[str, str, str]:
    if node.get("rejected"):
        return _NODE_STYLE["rejected"]
    if node.get("outside"):
        return _NODE_STYLE["outside"]
    status = str(node.get("status", "ok"))
    if status == "ok" and node.get("shared"):
        status = "shared"
    return _NODE_STYLE.get(status, _NODE_STYLE["ok"])


def _short(text: str, n: int = 27) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def evidence_svg(explanation: Mapping[str, Any]) -> str:
    """SVG markup for an `Explanation.to_dict()` (already redacted for the caller)."""
    nodes: dict[str, dict[str, Any]] = {}
    for n in explanation.get("nodes", ()):
        nodes.setdefault(str(n["id"]), dict(n))
    edges: dict[tuple[str, str], _Edge] = {}
    for e in explanation.get("edges", ()):
        a, b = str(e["from"]), str(e["to"])
        for end in (a, b):
            if end not in nodes:
                rejected = e.get("rule") == "rejected" and end == b
                nodes[end] = {"id": end, "kind": "event", "status": "ok", "rejected": rejected, "outside": not rejected}
        edge = edges.setdefault((a, b), _Edge(a, b))
        edge.events.append(str(e.get("event_id", "")))
        edge.rules.add(str(e.get("rule", "")))
        if e.get("reason"):
            edge.reasons.add(str(e["reason"]))
        edge.weak = edge.weak and bool(e.get("weak"))
        edge.refused = edge.refused or bool(e.get("refused"))

    columns: list[list[str]] = [[] for _ in _COLUMNS]
    for nid in sorted(nodes):
        columns[_column(nodes[nid])].append(nid)
    hidden: list[int] = []
    for col in columns:
        hidden.append(max(0, len(col) - MAX_NODES_PER_COLUMN))
        del col[MAX_NODES_PER_COLUMN:]
    pos: dict[str, tuple[int, int]] = {}
    for c, col in enumerate(columns):
        for r, nid in enumerate(col):
            pos[nid] = (_LEFT + c * _COL_W, _TOP + r * _ROW_H)
    rows = max([len(col) + (1 if hidden[i] else 0) for i, col in enumerate(columns)] + [1])
    width = _LEFT * 2 + (len(_COLUMNS) - 1) * _COL_W + _NODE_W + 40
    height = _TOP + rows * _ROW_H + 24
    cid = str(explanation.get("customer_id", ""))

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="evidence" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="evidence graph of {escape(cid)}">',
        f"<title>Evidence graph of {escape(cid)}</title>",
        '<rect x="0" y="0" width="100%" height="100%" fill="#ffffff"/>',
    ]
    out += _legend()
    for c, name in enumerate(_COLUMNS):
        x = _LEFT + c * _COL_W
        out.append(
            f'<text x="{x}" y="{_TOP - 16}" font-size="13" font-weight="bold" fill="#2d3748">{escape(name)}</text>'
        )
    for edge in sorted(edges.values(), key=lambda e: (e.refused, e.a, e.b)):
        if edge.a in pos and edge.b in pos:
            out.append(_edge(edge, pos[edge.a], pos[edge.b]))
    for nid, (x, y) in sorted(pos.items()):
        out.append(_node(nodes[nid], x, y))
    for c, n in enumerate(hidden):
        if n:
            x = _LEFT + c * _COL_W
            y = _TOP + len(columns[c]) * _ROW_H + 20
            out.append(f'<text x="{x}" y="{y}" font-size="12" fill="#4a5568">+{n} more not drawn</text>')
    out.append("</svg>")
    return "\n".join(out)


def _legend() -> list[str]:
    y = 22
    items = [
        ("#2b6cb0", "", "link (one event joins two identifiers)"),
        ("#2b6cb0", "6 4", "weak link"),
        ("#c53030", "2 4", "refused link ✕"),
    ]
    out = ['<g class="legend" font-size="12" fill="#2d3748">']
    x = _LEFT
    for color, dash, label in items:
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{x}" y1="{y}" x2="{x + 34}" y2="{y}" stroke="{color}" stroke-width="2"{dash_attr}/>')
        out.append(f'<text x="{x + 40}" y="{y + 4}">{escape(label)}</text>')
        x += 60 + 7 * len(label)
    y2 = 46
    x = _LEFT
    for status in ("ok", "shared", "quarantined", "cut", "outside", "rejected"):
        fill, stroke, dash = _NODE_STYLE[status]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<rect x="{x}" y="{y2 - 9}" width="16" height="14" rx="3" fill="{fill}" stroke="{stroke}"{dash_attr}/>'
        )
        label = {"ok": "linked", "outside": "not part of it"}.get(status, status)
        out.append(f'<text x="{x + 22}" y="{y2 + 3}">{escape(label)}</text>')
        x += 40 + 8 * len(label)
    out.append("</g>")
    return out


def _node(node: Mapping[str, Any], x: int, y: int) -> str:
    fill, stroke, dash = _style(node)
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    nid = str(node["id"])
    status = str(node.get("status", "ok"))
    tags = [status]
    if node.get("shared"):
        tags.append("shared")
    if node.get("outside"):
        tags.append("not part of this customer")
    if node.get("rejected"):
        tags.append("rejected")
    tip = escape(f"{nid} ({', '.join(tags)})")
    return (
        f'<g class="node" data-status="{escape(status)}"><title>{tip}</title>'
        f'<rect x="{x}" y="{y}" width="{_NODE_W}" height="{_NODE_H}" rx="6" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="1.5"{dash_attr}/>'
        f'<text x="{x + 8}" y="{y + 19}" font-size="12" font-family="monospace" fill="#1a202c">'
        f"{escape(_short(nid))}</text></g>"
    )


def _edge(edge: _Edge, a: tuple[int, int], b: tuple[int, int]) -> str:
    (ax, ay), (bx, by) = a, b
    ya, yb = ay + _NODE_H // 2, by + _NODE_H // 2
    if ax == bx:
        # Same column: bulge out to the right so the curve does not run through the boxes.
        x1 = x2 = ax + _NODE_W
        bulge = 40 + min(abs(yb - ya) // 4, 80)
        path = f"M {x1} {ya} C {x1 + bulge} {ya}, {x2 + bulge} {yb}, {x2} {yb}"
        mx, my = x1 + bulge * 3 // 4, (ya + yb) // 2
    else:
        x1, x2 = (ax + _NODE_W, bx) if bx > ax else (ax, bx + _NODE_W)
        dx = (x2 - x1) // 2
        # An edge that skips a column dips into the gap between rows, under the boxes it passes.
        dip = 32 if abs(bx - ax) > _COL_W else 0
        path = f"M {x1} {ya} C {x1 + dx} {ya + dip}, {x2 - dx} {yb + dip}, {x2} {yb}"
        mx, my = (x1 + x2) // 2, (ya + yb) // 2 + (dip * 3) // 4
    if edge.refused:
        color, dash, kind = "#c53030", "2 4", "refused"
    elif edge.weak:
        color, dash, kind = "#2b6cb0", "6 4", "weak"
    else:
        color, dash, kind = "#2b6cb0", "", "link"
    width = 1.5 + 0.5 * min(len(edge.events), 6)
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    events = ", ".join(sorted(edge.events)[:12]) + (" …" if len(edge.events) > 12 else "")
    tip = f"{kind}: {len(edge.events)} event(s): {events}; {', '.join(sorted(edge.rules))}"
    if edge.reasons:
        tip += "; " + "; ".join(sorted(edge.reasons))
    mark = (
        f'<text x="{mx - 5}" y="{my + 5}" font-size="14" font-weight="bold" fill="#c53030">✕</text>'
        if edge.refused
        else ""
    )
    return (
        f'<g class="edge" data-kind="{kind}"><title>{escape(tip)}</title>'
        f'<path d="{path}" fill="none" stroke="{color}" stroke-width="{width}"{dash_attr}/>{mark}</g>'
    )
