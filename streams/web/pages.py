"""HTML pages for people: the dashboard, an explanation, and short messages.

Self-contained: inline CSS and SVG, no script, no font or CDN (these views are used offline);
views send them with a Content-Security-Policy that forbids anything else (`HTML_HEADERS`).
Every value is HTML-escaped; personal data arrives already masked for the caller's scope.
Links and forms never carry the token: a browser that opened a page with ``?token=`` is sent
a cookie instead and redirected to the same page without it (`streams.web.auth`).
"""

from __future__ import annotations

import datetime as _dt
import urllib.parse
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from streams.web.auth import FORM_FIELD
from streams.web.histogram_svg import histogram_svg

__all__ = ["HTML_HEADERS", "dashboard_html", "explain_html", "href", "message_html", "review_html"]

HTML_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",  # a first URL may carry ?token= (then replaced by a cookie)
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

#: Rows of the evidence table on a page (a hub can have thousands; the JSON has them all).
_MAX_ROWS = 500

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f7fafc;color:#1a202c}
header{background:#1a365d;color:#fff;padding:12px 24px;display:flex;align-items:center;gap:24px}
header a{color:#fff;text-decoration:none;font-weight:bold}
main{padding:16px 24px;max-width:1400px}
h1{font-size:20px;margin:0}h2{font-size:16px;margin:20px 0 8px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:10px 14px;min-width:150px}
.card .v{font-size:22px;font-weight:bold}.card .k{font-size:12px;color:#4a5568}
table{border-collapse:collapse;background:#fff;font-size:13px}
td,th{border:1px solid #e2e8f0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#edf2f7}
.mono{font-family:monospace}.warn{color:#c53030;font-weight:bold}.muted{color:#718096}
.banner{background:#fffaf0;border:1px solid #dd6b20;padding:8px 12px;border-radius:6px;margin:8px 0}
form.search input[type=text]{width:360px;padding:6px;font-size:14px}
form.search button{padding:6px 12px;font-size:14px}
form.act{display:inline-block;margin:2px 4px 2px 0}form.act input[type=text]{width:120px}
.scroll{overflow-x:auto;background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:8px}
"""


def href(path: str, **params: str) -> str:
    """A link to ``path`` with ``params`` (never the token: the browser's cookie carries it)."""
    query = {k: v for k, v in params.items() if v is not None}
    url = urllib.parse.quote(path, safe="/_-.~")
    return url + ("?" + urllib.parse.urlencode(query) if query else "")


def _when(ms: Any) -> str:
    if not isinstance(ms, int):
        return "never"
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<header><a href="{escape(href("/"))}">IRL on-call</a><span>{escape(title)}</span></header>'
        f"<main>{body}</main></body></html>"
    )


def _search_form() -> str:
    return (
        '<form class="search" method="get" action="/search">'
        '<input type="text" name="q" placeholder="phone, email, customer id or TOUCHPOINT:source_id" '
        'aria-label="search">'
        ' <button type="submit">Find</button></form>'
    )


def _card(label: str, value: Any, warn: bool = False) -> str:
    cls = "v warn" if warn else "v"
    return f'<div class="card"><div class="{cls}">{escape(str(value))}</div><div class="k">{escape(label)}</div></div>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], empty: str = "none") -> str:
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _customer_link(cid: str) -> str:
    url = href(f"/customers/{cid}/explain", format="html")
    return f'<a class="mono" href="{escape(url)}">{escape(cid)}</a>'


def dashboard_html(snap: Mapping[str, Any]) -> str:
    """The dashboard of a stats snapshot (`StatsCollector.snapshot`)."""
    ev = snap["events"]
    win = snap["windows"]
    worker = snap["worker"]
    customers = snap.get("customers")
    resolver = snap.get("resolver")
    parts: list[str] = []
    if worker["role"] != "writer":
        parts.append(
            '<div class="banner">This worker is on standby: it does not own the resolver partition, '
            "so customer figures are not available here.</div>"
        )
    parts.append(_search_form())
    parts.append(f'<p><a href="{escape(href("/review"))}">Review queue</a>: pairs kept apart, low confidence</p>')
    cards = [
        _card("events applied", ev["applied"]),
        _card("events / s (last minute)", ev["rate_per_s"]),
        _card("customers", resolver["customers"] if resolver else "n/a"),
        _card("merges", resolver["merges"] if resolver else "n/a"),
        _card(
            "single-identity rate",
            f"{customers['single_identity_rate']:.1%}"
            if customers and customers["single_identity_rate"] is not None
            else "n/a",
        ),
        _card("dead letters", ev["dead_letters"], warn=bool(ev["dead_letters"])),
        _card("quarantined identifiers", (snap.get("quarantined") or {}).get("count", "n/a")),
        _card("last window published", _when(win.get("last_window_end"))),
        _card(
            "publish delay (s)",
            f"{win['publish_delay_ms'] / 1000:.1f}" if isinstance(win.get("publish_delay_ms"), int) else "n/a",
        ),
        _card("consumer lag", sum(snap["consumer_lag"].values()) if snap.get("consumer_lag") else "n/a"),
    ]
    parts.append('<h2>Now</h2><div class="cards">' + "".join(cards) + "</div>")
    if customers:
        note = f" (sample of {customers['scanned']} of {customers['live']})" if customers["sampled"] else ""
        mean = customers["confidence"]["mean"]
        parts.append(f"<h2>Confidence distribution{escape(note)}</h2>")
        parts.append(
            f'<div class="scroll" style="display:inline-block">{histogram_svg(customers["confidence"]["buckets"])}'
            f'<div class="muted">mean {escape(str(mean))}</div></div>'
        )
        for title, key in (("Largest clusters", "largest_clusters"), ("Lowest confidence", "lowest_confidence")):
            rows = [
                [_customer_link(c["customer_id"]), str(c["identifiers"]), str(c["events"]), str(c["confidence"])]
                for c in customers[key]
            ]
            parts.append(f"<h2>{escape(title)}</h2>")
            parts.append(_table(["customer (explain)", "identifiers", "events", "confidence"], rows))
    open_rows = [
        [
            escape(_when(w["window_start"])),
            escape(_when(w["window_end"])),
            str(w["touched"]),
            str(w["created"]),
            str(w["merges"]),
            str(w["splits"]),
            str(w["erased"]),
        ]
        for w in win.get("open", ())
    ]
    parts.append("<h2>Open windows</h2>")
    parts.append(
        _table(["start", "end", "touched", "created", "merges", "splits", "erased"], open_rows, "no open window")
    )
    pub_rows = [
        [
            escape(_when(w["window_end"])),
            escape(", ".join(f"{k} {v}" for k, v in w["changes"].items())),
        ]
        for w in snap.get("changes", {}).get("per_window", ())
    ]
    parts.append("<h2>Published windows (since this worker started)</h2>")
    parts.append(_table(["window end", "changes"], pub_rows, "nothing published yet"))
    quarantined = snap.get("quarantined") or {}
    q_rows = [[f'<span class="mono">{escape(q)}</span>'] for q in quarantined.get("identifiers", ())[:20]]
    parts.append("<h2>Quarantined and blocked identifiers</h2>")
    parts.append(_table(["identifier"], q_rows))
    a_rows = [
        [
            escape(_when(a.get("at"))),
            escape(str(a.get("action"))),
            escape(str(a.get("customer_id") or "")),
            escape(str(a.get("identifier") or "")),
            escape(str(a.get("actor"))),
            escape(str(a.get("reason"))),
        ]
        for a in reversed(snap.get("actions", ()))
    ]
    parts.append("<h2>Recent operator actions</h2>")
    parts.append(_table(["at", "action", "customer", "identifier", "actor", "reason"], a_rows))
    return _page("Dashboard", "".join(parts))


def explain_html(
    requested_id: str,
    explanation: Mapping[str, Any],
    profile: Mapping[str, Any] | None,
    svg: str,
    history: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The explanation page of one customer: profile, confidence, the picture, the evidence table."""
    cid = str(explanation["customer_id"])
    parts: list[str] = [_search_form(), f'<h2>Customer <span class="mono">{escape(cid)}</span></h2>']
    if requested_id != cid:
        parts.append(f'<div class="banner">{escape(requested_id)} was absorbed into this customer by a merge.</div>')
    if profile is not None:
        src = ", ".join(f"{s['touchpoint']}:{s['source_id']}" for s in profile.get("source_ids", ()))
        rows = [
            ["name", escape(str(profile.get("name") or ""))],
            ["phones", escape(", ".join(profile.get("phones", ())))],
            ["emails", escape(", ".join(profile.get("emails", ())))],
            ["touchpoint records", escape(src)],
            ["events", escape(str(profile.get("event_count")))],
            ["first seen", escape(_when(profile.get("first_seen")))],
            ["last seen", escape(_when(profile.get("last_seen")))],
            ["confidence", f"<b>{escape(str(profile.get('confidence')))}</b>"],
            ["why", "<br>".join(escape(r) for r in profile.get("confidence_reasons", ())) or "no adjustment"],
        ]
        parts.append(_table(["", ""], rows))
    absorbed = explanation.get("absorbed_ids", ())
    if absorbed:
        parts.append(f'<p>Absorbed ids: <span class="mono">{escape(", ".join(absorbed))}</span></p>')
    parts.append("<h2>Evidence graph</h2>")
    parts.append(f'<div class="scroll">{svg}</div>')
    edge_rows = []
    all_edges = list(explanation.get("edges", ()))
    for e in all_edges[:_MAX_ROWS]:
        kind = "refused" if e.get("refused") else "weak" if e.get("weak") else "link"
        cls = ' class="warn"' if kind == "refused" else ""
        edge_rows.append(
            [
                f'<span class="mono">{escape(str(e.get("event_id")))}</span>',
                f'<span class="mono">{escape(str(e["from"]))}</span>',
                f'<span class="mono">{escape(str(e["to"]))}</span>',
                escape(str(e.get("rule", ""))),
                f"<span{cls}>{kind}</span>",
                escape(str(e.get("reason", ""))),
            ]
        )
    evidence = list(explanation.get("evidence", ()))
    interactions = sum(int(e.get("count", 0)) for e in evidence)
    evidence_rows = [
        [
            f'<span class="mono">{escape(str(e.get("id")))}</span>',
            f'<span class="mono">{escape(str(e.get("first_event_id")))}</span>',
            escape(str(e.get("touchpoint"))),
            escape(str(e.get("count"))),
            escape(_when(e.get("first_seen"))),
            escape(_when(e.get("last_seen"))),
        ]
        for e in evidence[:_MAX_ROWS]
    ]
    parts.append(f"<h2>Evidence ({len(evidence)} distinct, {interactions} interactions)</h2>")
    parts.append(
        _table(
            ["evidence", "first event", "touchpoint", "interactions", "first seen", "last seen"], evidence_rows, "none"
        )
    )
    if len(evidence) > _MAX_ROWS:
        parts.append(f'<p class="muted">{len(evidence) - _MAX_ROWS} more in the JSON form</p>')
    parts.append("<h2>Linking events</h2>")
    parts.append(_table(["event", "from", "to", "rule", "link", "reason"], edge_rows, "no linking event"))
    if len(all_edges) > _MAX_ROWS:
        parts.append(f'<p class="muted">{len(all_edges) - _MAX_ROWS} more in the JSON form</p>')
    if history:
        h_rows = [
            [
                escape(str(h.get("version"))),
                escape(str(h.get("change"))),
                escape(_when(h.get("window_end"))),
                escape(", ".join(h.get("merged_from") or ())),
                escape(str(h.get("survivor_id") or "")),
            ]
            for h in history
        ]
        parts.append("<h2>Published changes (since this worker started)</h2>")
        parts.append(_table(["version", "change", "window end", "merged from", "survivor"], h_rows))
    json_link = href(f"/customers/{cid}/explain")
    parts.append(f'<p class="muted"><a href="{escape(json_link)}">this explanation as JSON</a></p>')
    return _page(f"Explain {cid}", "".join(parts))


def message_html(title: str, message: str) -> str:
    """A short page that says why there is nothing to show."""
    return _page(title, _search_form() + f'<div class="banner">{escape(message)}</div>')


def _form(action: str, label: str, proof: str, fields: Mapping[str, str], extra: str = "") -> str:
    """A one-click action button: the page's form proof, the fields, and a reason to audit."""
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in {**fields, FORM_FIELD: proof}.items()
    )
    return (
        f'<form class="act" method="post" action="{escape(action)}">{hidden}{extra}'
        '<input type="text" name="reason" value="review queue" required aria-label="reason">'
        f' <button type="submit">{escape(label)}</button></form>'
    )


def review_html(body: Mapping[str, Any], proof: str | None, queued: str | None = None) -> str:
    """The review queue (`Views.review`'s JSON) as a page; with `proof` (operator), a button per action."""
    parts: list[str] = [_search_form()]
    if queued:
        parts.append(f'<div class="banner">Queued: {escape(queued)}. It applies in log order.</div>')
    if proof is None:
        parts.append('<p class="muted">Open this page with the operator token to merge, split or dismiss.</p>')
    pairs = list(body.get("pairs", ()))
    note = "" if body.get("complete", True) else f" (the first {body.get('limit')})"
    parts.append(f"<h2>Kept apart ({len(pairs)}{escape(note)})</h2>")
    rows = []
    for p in pairs:
        a, b = str(p["customer_a"]), str(p["customer_b"])
        reasons = "<br>".join(
            f'<b>{escape(str(r["rule"]))}</b> <span class="mono">{escape(str(r["identifier"]))}</span>: '
            f"{escape(str(r['reason']))}"
            for r in p.get("reasons", ())
        )
        why = "<br>".join(escape(str(r.get("reason", ""))) for r in p.get("why_not", ())[:5])
        acts = ""
        if proof is not None:
            acts = _form(f"/customers/{a}/merge", "merge", proof, {"other": b}) + _form(
                "/review/dismiss", "dismiss", proof, {"customer_id": a, "other": b}
            )
        conf = f"{p.get('confidence_a')} / {p.get('confidence_b')}"
        rows.append([_customer_link(a) + "<br>" + _customer_link(b), escape(conf), reasons, why or "", acts])
    parts.append(_table(["customers", "confidence", "kept apart by", "why not (evidence)", "act"], rows))
    low = list(body.get("low_confidence", ()))
    parts.append(f"<h2>Low confidence (below {escape(str(body.get('low_confidence_below')))})</h2>")
    low_rows = []
    for c in low:
        cid = str(c["customer_id"])
        acts = ""
        if proof is not None:
            # A split by a piece of evidence: always one of this customer's own.
            ids = [
                (str(e["id"]), f"{e.get('touchpoint')} {e['id']} ({e.get('count')}x)")
                for e in c.get("evidence_seen", ())
            ]
            options = "".join(f'<option value="{escape(i)}">{escape(label)}</option>' for i, label in ids)
            pick = f'<select name="identifier" aria-label="identifier">{options}</select> ' if ids else ""
            if ids:
                acts += _form(f"/customers/{cid}/split", "split", proof, {}, pick)
            acts += _form("/review/dismiss", "dismiss", proof, {"customer_id": cid})
        low_rows.append(
            [
                _customer_link(cid),
                escape(str(c.get("confidence"))),
                "<br>".join(escape(str(r)) for r in c.get("confidence_reasons", ())),
                acts,
            ]
        )
    parts.append(_table(["customer", "confidence", "why", "act"], low_rows))
    parts.append(f'<p class="muted"><a href="{escape(href("/review", format="json"))}">this queue as JSON</a></p>')
    return _page("Review queue", "".join(parts))
