"""Pure parts of the web views: SVG pictures, Prometheus text, masking per scope, refs, journal."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from streams.settings import Settings
from streams.triage_process import REPORT_LINE_LIMIT
from streams.web.auth import Scope
from streams.web.evidence_svg import MAX_NODES_PER_COLUMN, evidence_svg
from streams.web.histogram_svg import histogram_svg
from streams.web.journal import Journal, JournalFeed
from streams.web.metrics import render
from streams.web.pages import href
from streams.web.redact import mask_key, mask_ref, redact_explanation, redact_profile, redact_why
from streams.web.refs import ReadModelKeys, ref_kind

SVG = "{http://www.w3.org/2000/svg}"


def _edge(eid: str, a: str, b: str, **kw: Any) -> dict[str, Any]:
    return {"event_id": eid, "from": a, "to": b, "rule": "same-event", "weak": False, "refused": False, **kw}


EXPLANATION = {
    "customer_id": "c_1",
    "found": True,
    "nodes": [
        {"id": "p:+919845012345", "kind": "phone", "status": "ok", "shared": True},
        {"id": "e:r@gmail.com", "kind": "email", "status": "ok", "shared": False},
        {"id": "t:WEB:<script>x", "kind": "touchpoint", "status": "ok", "shared": False},
        {"id": "p:+919900412871", "kind": "phone", "status": "quarantined", "outside": True},
    ],
    "edges": [
        _edge("e1", "p:+919845012345", "e:r@gmail.com"),
        _edge("e2", "p:+919845012345", "e:r@gmail.com"),
        _edge("e3", "p:+919845012345", "t:WEB:<script>x", weak=True),
        _edge("e4", "p:+919845012345", "p:+919900412871", refused=True, reason="phone quarantined"),
        _edge("e5", "e:r@gmail.com", "phone:invalid:p:*5*45", rule="rejected", weak=True, refused=True),
    ],
    "events": ["e1", "e2", "e3", "e4", "e5"],
    "absorbed_ids": [],
}


def test_evidence_svg_draws_nodes_and_marks_weak_and_refused_links() -> None:
    svg = evidence_svg(EXPLANATION)
    root = ET.fromstring(svg)  # well-formed: labels are escaped
    edges = [g for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]
    kinds = sorted(g.get("data-kind") or "" for g in edges)
    # e1 and e2 join the same pair: one line for both.
    assert kinds == ["link", "refused", "refused", "weak"]
    link = next(g for g in edges if g.get("data-kind") == "link")
    assert "2 event(s): e1, e2" in (link.findtext(f"{SVG}title") or "")
    refused = [g for g in edges if g.get("data-kind") == "refused"]
    assert all("✕" in ET.tostring(g, encoding="unicode") for g in refused)
    assert any("phone quarantined" in (g.findtext(f"{SVG}title") or "") for g in refused)
    nodes = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    assert len(nodes) == 5  # four identifiers and the rejected value
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_evidence_svg_caps_a_huge_column() -> None:
    n = MAX_NODES_PER_COLUMN + 7
    nodes = [{"id": f"t:WEB:s{i:03}", "kind": "touchpoint", "status": "ok"} for i in range(n)]
    svg = evidence_svg({"customer_id": "c_big", "nodes": nodes, "edges": []})
    assert "+7 more not drawn" in svg
    assert svg.count('class="node"') == MAX_NODES_PER_COLUMN


def test_histogram_svg_has_one_bar_per_bin() -> None:
    buckets = [{"le": round(0.1 * (i + 1), 1), "count": i} for i in range(10)]
    root = ET.fromstring(histogram_svg(buckets))
    bars = [g for g in root.iter(f"{SVG}g") if g.get("class") == "bar"]
    assert len(bars) == 10
    assert bars[9].findtext(f"{SVG}title") == "0.9 to 1.0: 9 customer(s)"
    heights = [float(g.find(f"{SVG}rect").get("height", "nan")) for g in bars]  # type: ignore[union-attr]
    assert heights[0] == 0 and heights == sorted(heights)


def _snapshot(**over: Any) -> dict[str, Any]:
    snap: dict[str, Any] = {
        "worker": {
            "role": "standby",
            "recovered": False,
            "uptime_s": 1.5,
            "applied_offset": -1,
            "redis_offset": None,
            "redis_rebuilds": 0,
        },
        "events": {"triaged": 3, "applied": 0, "duplicates": 0, "dead_letters": 1, "rate_per_s": 0.0},
        "windows": {"published": 0, "records_published": 0, "open": []},
        "consumer_lag": {'irl.touchpoint.web/0"\n': 4},
        "changes": {"totals": {}},
        "actions": [{"action": "erase"}, {"action": "erase"}, {"action": "block"}],
        "resolver": None,
        "customers": None,
        "quarantined": None,
    }
    snap.update(over)
    return snap


def test_metrics_of_a_standby_worker_leave_resolver_figures_out() -> None:
    text = render(_snapshot())
    assert "irl_writer 0\n" in text and "irl_dead_letters_total 1\n" in text
    assert "irl_customers" not in text and "irl_redis_offset" not in text
    # Label values are escaped: quote, newline.
    assert 'irl_consumer_lag{partition="irl.touchpoint.web/0\\"\\n"} 4\n' in text
    assert 'irl_recent_actions{action="erase"} 2\n' in text
    for name in ("irl_writer", "irl_dead_letters_total", "irl_consumer_lag"):
        assert f"# HELP {name} " in text and f"# TYPE {name} " in text


def test_metrics_histogram_is_cumulative() -> None:
    buckets = [{"le": round(0.1 * (i + 1), 1), "count": 1 if i in (2, 7) else 0} for i in range(10)]
    customers = {
        "scanned": 2,
        "single_identity_rate": 0.5,
        "confidence": {"mean": 0.55, "buckets": buckets},
    }
    text = render(_snapshot(customers=customers))
    assert 'irl_customer_confidence_bucket{le="0.2"} 0\n' in text
    assert 'irl_customer_confidence_bucket{le="0.3"} 1\n' in text
    assert 'irl_customer_confidence_bucket{le="1.0"} 2\n' in text
    assert "irl_customer_confidence_count 2\n" in text and "irl_customer_confidence_sum 1.1\n" in text


@pytest.mark.parametrize(
    ("key", "masked"),
    [
        ("p:+919845012345", "p:+91********45"),
        ("e:ravi.k@yahoo.co.in", "e:r***@y***.in"),
        ("t:WEB:ck-bbbb2222", "t:WEB:ck***22"),
        ("t:WHATSAPP:919845012345", "t:WHATSAPP:91********45"),
        ("t:KIOSK:k7", "t:KIOSK:***"),
        ("x:evt-9", "x:evt-9"),
        # one person's part of a shared identifier: the name group is masked too
        ("p:+919845012345#asha_rao", "p:+91********45#***"),
        ("e:ravi.k@yahoo.co.in#asha_rao", "e:r***@y***.in#***"),
        ("t:WEB#asha_rao:ck-bbbb2222", "t:WEB#***:ck***22"),
        ("t:CRM:ACC#bob-1234", "t:CRM:AC***34"),
    ],
)
def test_mask_key(key: str, masked: str) -> None:
    assert mask_key(key) == masked


def test_mask_ref() -> None:
    assert mask_ref("c_abc") == "c_abc"
    assert mask_ref("+91 98450 12345") == "+91********45"
    assert mask_ref("a.b@gmail.com") == "a***@g***.com"
    assert mask_ref("WEB:ck-bbbb2222") == "WEB:ck***22"


def test_redaction_depends_on_scope() -> None:
    profile = {
        "customer_id": "c_1",
        "phones": ["+919845012345"],
        "emails": ["r@gmail.com"],
        "source_ids": [{"touchpoint": "WHATSAPP", "source_id": "919845012345"}],
        "name": "Ravi Kumar",
    }
    read = redact_profile(profile, Scope.READ)
    assert read["phones"] == ["+91********45"] and read["name"] == "R***"
    assert read["source_ids"] == [{"touchpoint": "WHATSAPP", "source_id": "91********45"}]
    assert profile["phones"] == ["+919845012345"]  # input unchanged
    assert redact_profile(profile, Scope.OPERATOR) == profile
    exp = redact_explanation(EXPLANATION, Scope.READ)
    assert "9845012345" not in str(exp) and "r@gmail.com" not in str(exp)
    why = redact_why(
        {"reasons": [{"identifier": "p:+919845012345", "reason": "x"}, {"ref": "r@gmail.com", "reason": "y"}]},
        Scope.READ,
    )
    assert "9845012345" not in str(why) and "r@gmail.com" not in str(why)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("+91 98450 12345", ("phone", "+91 98450 12345")),
        ("(080) 1234", ("phone", "(080) 1234")),
        ("a@b.in", ("email", "a@b.in")),
        ("WEB:ck-1", ("touchpoint", "WEB:ck-1")),
        ("p:+919845012345", ("phone", "+919845012345")),
        ("t:KIOSK:k-7", ("touchpoint", "KIOSK:k-7")),
        ("justaword", None),
        ("::", None),
    ],
)
def test_ref_kind(ref: str, expected: tuple[str, str] | None) -> None:
    assert ref_kind(ref) == expected


def test_read_model_keys_normalise_like_the_resolver() -> None:
    keys = ReadModelKeys(Settings())
    assert keys.identifier("phone", "098450 12345") == ("phone:+919845012345", "ok")
    assert keys.identifier("phone", "12345") == (None, "invalid")
    assert keys.identifier("email", "R.avi@Gmail.com") == ("email:ravi@gmail.com", "ok")
    assert keys.identifier("touchpoint", "WHATSAPP:919845012345") == ("phone:+919845012345", "ok")
    assert keys.identifier("touchpoint", "web:ck-1") == ("tp:WEB:ck-1", "ok")
    assert keys.identifier("touchpoint", "WEB:") == (None, "junk")


def test_journal_is_bounded_and_keeps_no_personal_fields() -> None:
    j = Journal(max_customers=2, per_customer=2, max_windows=2)
    for v, window in enumerate((0, 0, 1, 2), start=1):
        j.record(
            [
                {
                    "customer_id": "c_a",
                    "change": "UPDATED" if v > 1 else "CREATED",
                    "version": v,
                    "window_start": window,
                    "window_end": window + 1,
                    "phones": ["+919845012345"],
                }
            ]
        )
    assert [h["version"] for h in j.history("c_a")] == [3, 4]
    assert "phones" not in j.history("c_a")[0]
    assert [w["window_end"] for w in j.windows()] == [3, 2]
    assert j.totals == {"CREATED": 1, "UPDATED": 3}
    j.record([{"customer_id": c, "change": "CREATED", "window_start": 2, "window_end": 3} for c in ("c_b", "c_c")])
    assert j.history("c_a") == []  # least recently published customer forgotten


def test_href_never_carries_a_token() -> None:
    assert href("/customers/c_1/explain", format="html") == "/customers/c_1/explain?format=html"
    assert href("/") == "/"


def _published(n: int) -> list[dict[str, object]]:
    """n records as the per-customer stage publishes them (with personal fields the journal must drop)."""
    return [
        {
            "customer_id": f"c_{i % 7}",
            "change": ("CREATED", "UPDATED", "MERGED")[i % 3],
            "version": i // 7 + 1,
            "window_start": 1000 * (i // 10),
            "window_end": 1000 * (i // 10 + 1),
            "change_id": f"x{i}",
            "merged_from": [f"c_{i}"] if i % 3 == 2 else [],
            "survivor_id": None,
            "phones": ["+919845012345"],
            "emails": ["asha.rao@gmail.com"],
        }
        for i in range(n)
    ]


def test_a_child_process_journal_feed_gives_the_worker_the_journal_it_would_have_recorded() -> None:
    """The per-customer stage's child reports what it published (`JournalFeed`); merged, the worker's journal is
    the one recording the records in process gives; past the feed's bound only the oldest histories are left out."""
    records = _published(45)
    direct, merged, feed = Journal(), Journal(), JournalFeed(max_history=100)
    direct.record(records)
    for part in (records[:20], records[20:]):  # two reports
        feed.record(part)
        report = json.loads(json.dumps(feed.take()))  # through the child's stdout
        merged.merge(report)
    assert feed.take() is None  # nothing new since
    assert merged.totals == direct.totals and merged.windows() == direct.windows()
    for cid in {str(r["customer_id"]) for r in records}:
        assert merged.history(cid) == direct.history(cid)
        assert all("phones" not in h and "emails" not in h for h in merged.history(cid))
    small, bounded = JournalFeed(max_history=5), Journal()
    small.record(records)
    report = small.take()
    assert report is not None and len(report["history"]) == 5
    bounded.merge(report)
    assert bounded.totals == direct.totals and bounded.windows() == direct.windows()
    assert [h["change_id"] for h in bounded.history("c_2")] == ["x44"]  # only the newest five were sent
    many = JournalFeed()  # a busy half second of a child: its report line stays far below what the worker reads
    many.record(_published(50_000))
    assert len(json.dumps(many.take())) < REPORT_LINE_LIMIT / 20
