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
        return "unknown"  # no evidence with a known time (an import without dates: `UNKNOWN_TIME_MS`)
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
    customers = snap.get("customers")
    parts: list[str] = []
    if snap["worker"]["role"] != "writer":
        parts.append(
            '<div class="banner">This worker is on standby: it does not own the resolver partition, '
            "so customer figures are not available here.</div>"
        )
    parts.append(_search_form())
    parts.append(f'<p><a href="{escape(href("/review"))}">Review queue</a>: pairs kept apart, low confidence</p>')
    parts.append('<h2>Now</h2><div class="cards">' + "".join(_now_cards(snap)) + "</div>")
    if customers:
        parts.append(_customers_section(customers))
    parts.append(_open_windows_section(snap["windows"]))
    parts.append(_published_windows_section(snap))
    parts.append(_quarantined_section(snap))
    parts.append(_actions_section(snap))
    return _page("Dashboard", "".join(parts))


def _now_cards(snap: Mapping[str, Any]) -> list[str]:
    """The headline figures as cards, "n/a" for those this worker does not have (a standby's resolver)."""
    ev = snap["events"]
    win = snap["windows"]
    customers = snap.get("customers")
    resolver = snap.get("resolver")
    return [
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


def _customers_section(customers: Mapping[str, Any]) -> str:
    """The confidence histogram (noting a sample) and the largest and lowest-confidence customers."""
    note = f" (sample of {customers['scanned']} of {customers['live']})" if customers["sampled"] else ""
    mean = customers["confidence"]["mean"]
    parts = [
        f"<h2>Confidence distribution{escape(note)}</h2>",
        f'<div class="scroll" style="display:inline-block">{histogram_svg(customers["confidence"]["buckets"])}'
        f'<div class="muted">mean {escape(str(mean))}</div></div>',
    ]
    for title, key in (("Largest clusters", "largest_clusters"), ("Lowest confidence", "lowest_confidence")):
        rows = [
            [_customer_link(c["customer_id"]), str(c["identifiers"]), str(c["events"]), str(c["confidence"])]
            for c in customers[key]
        ]
        parts.append(f"<h2>{escape(title)}</h2>")
        parts.append(_table(["customer (explain)", "identifiers", "events", "confidence"], rows))
    return "".join(parts)


def _open_windows_section(win: Mapping[str, Any]) -> str:
    """The windows with changes not yet published, with their counts by kind."""
    rows = [
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
    table = _table(["start", "end", "touched", "created", "merges", "splits", "erased"], rows, "no open window")
    return "<h2>Open windows</h2>" + table


def _published_windows_section(snap: Mapping[str, Any]) -> str:
    """The windows this worker published since it started, with their changes by kind."""
    rows = [
        [
            escape(_when(w["window_end"])),
            escape(", ".join(f"{k} {v}" for k, v in w["changes"].items())),
        ]
        for w in snap.get("changes", {}).get("per_window", ())
    ]
    table = _table(["window end", "changes"], rows, "nothing published yet")
    return "<h2>Published windows (since this worker started)</h2>" + table


def _quarantined_section(snap: Mapping[str, Any]) -> str:
    """The first 20 quarantined and blocked identifiers (already masked)."""
    quarantined = snap.get("quarantined") or {}
    rows = [[f'<span class="mono">{escape(q)}</span>'] for q in quarantined.get("identifiers", ())[:20]]
    return "<h2>Quarantined and blocked identifiers</h2>" + _table(["identifier"], rows)


def _actions_section(snap: Mapping[str, Any]) -> str:
    """The recent operator actions, newest first."""
    rows = [
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
    return "<h2>Recent operator actions</h2>" + _table(
        ["at", "action", "customer", "identifier", "actor", "reason"], rows
    )


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
        parts.append(_profile_table(profile))
    absorbed = explanation.get("absorbed_ids", ())
    if absorbed:
        parts.append(f'<p>Absorbed ids: <span class="mono">{escape(", ".join(absorbed))}</span></p>')
    parts.append("<h2>Evidence graph</h2>")
    parts.append(f'<div class="scroll">{svg}</div>')
    parts.append(_evidence_section(list(explanation.get("evidence", ()))))
    parts.append(_linking_events_section(list(explanation.get("edges", ()))))
    if history:
        parts.append(_history_section(history))
    json_link = href(f"/customers/{cid}/explain")
    parts.append(f'<p class="muted"><a href="{escape(json_link)}">this explanation as JSON</a></p>')
    return _page(f"Explain {cid}", "".join(parts))


def _more_in_json(total: int) -> str:
    """The note under a table cut at `_MAX_ROWS` rows of `total`; empty when nothing was cut."""
    return f'<p class="muted">{total - _MAX_ROWS} more in the JSON form</p>' if total > _MAX_ROWS else ""


def _profile_table(profile: Mapping[str, Any]) -> str:
    """The customer's profile (already masked for the scope) and its confidence with the reasons."""
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
    return _table(["", ""], rows)


def _evidence_section(evidence: Sequence[Mapping[str, Any]]) -> str:
    """The distinct evidence with its interaction counts: at most `_MAX_ROWS` rows, then a note."""
    interactions = sum(int(e.get("count", 0)) for e in evidence)
    rows = [
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
    return (
        f"<h2>Evidence ({len(evidence)} distinct, {interactions} interactions)</h2>"
        + _table(["evidence", "first event", "touchpoint", "interactions", "first seen", "last seen"], rows, "none")
        + _more_in_json(len(evidence))
    )


def _linking_events_section(edges: Sequence[Mapping[str, Any]]) -> str:
    """The events that link identifiers, each a link, a weak link or refused (in red), with its rule and reason."""
    rows = []
    for e in edges[:_MAX_ROWS]:
        kind = "refused" if e.get("refused") else "weak" if e.get("weak") else "link"
        cls = ' class="warn"' if kind == "refused" else ""
        rows.append(
            [
                f'<span class="mono">{escape(str(e.get("event_id")))}</span>',
                f'<span class="mono">{escape(str(e["from"]))}</span>',
                f'<span class="mono">{escape(str(e["to"]))}</span>',
                escape(str(e.get("rule", ""))),
                f"<span{cls}>{kind}</span>",
                escape(str(e.get("reason", ""))),
            ]
        )
    return (
        "<h2>Linking events</h2>"
        + _table(["event", "from", "to", "rule", "link", "reason"], rows, "no linking event")
        + _more_in_json(len(edges))
    )


def _history_section(history: Sequence[Mapping[str, Any]]) -> str:
    """The changes published about this customer since this worker started."""
    rows = [
        [
            escape(str(h.get("version"))),
            escape(str(h.get("change"))),
            escape(_when(h.get("window_end"))),
            escape(", ".join(h.get("merged_from") or ())),
            escape(str(h.get("survivor_id") or "")),
        ]
        for h in history
    ]
    return "<h2>Published changes (since this worker started)</h2>" + _table(
        ["version", "change", "window end", "merged from", "survivor"], rows
    )


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
    note = "" if body.get("pairs_complete", body.get("complete", True)) else f" (the first {body.get('limit')})"
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
    drawn = body.get("low_confidence_from")
    if isinstance(drawn, Mapping):
        sample = (
            f"a sample of {drawn.get('scanned')} of {drawn.get('live')} customers: others are not listed"
            if drawn.get("sampled")
            else f"every customer ({drawn.get('scanned')})"
        )
        parts.append(
            f'<p class="muted">{escape(str(drawn.get("listed")))} listed of {escape(str(drawn.get("found")))} '
            f"found below it in the dashboard's scan of {escape(sample)}.</p>"
        )
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
