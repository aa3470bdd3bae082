"""Operator merge and the review queue, through the views over a real single-writer pipeline.

World (one 60 s window)::

    h-1 WEB   ck-priya-01  phone 97318 62045, priya@y.in  "Priya Kumar"  ─┐ one family phone,
    h-2 KIOSK kiosk-1      phone 97318 62045              "Priya Kumar"   │ two people with different
    h-3 WEB   ck-anil-001  phone 97318 62045, anil@z.in   "Anil Shah"     │ names and emails: the household
    h-4 KIOSK kiosk-2      phone 97318 62045              "Anil Shah"    ─┘ rule keeps them apart
    r-1 WEB   ck-ravi-001  phone 98450 12345              "Ravi Kumar"   ─ Ravi
    r-2 KIOSK kiosk-3      email ravi.k@yahoo.co.in       "Ravi Kumar"   ─ Ravi again, nothing shared

Actions the views queue are applied here as the single writer would (`Pipeline.on_action`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from resolver.config import ResolverConfig
from resolver.interaction import Interaction
from streams.pipeline import Pipeline
from streams.runtime import Runtime
from streams.web import create_web_app

from .test_web_views import ADMIN, READ, SETTINGS, Recorder, auth

T0 = 1_700_000_000_000
HTML = {"Accept": "text/html"}


def _ev(eid: str, tp: str, src: str, at: int, **kw: Any) -> Interaction:
    return Interaction(event_id=eid, touchpoint=tp, occurred_at=T0 + at, source_id=src, interaction="visit", **kw)


EVENTS = [
    _ev("h-1", "WEB", "ck-priya-01", 0, phone="97318 62045", email="priya@y.in", name="Priya Kumar"),
    _ev("h-2", "KIOSK", "kiosk-1", 1000, phone="97318 62045", name="Priya Kumar"),
    _ev("h-3", "WEB", "ck-anil-001", 2000, phone="97318 62045", email="anil@z.in", name="Anil Shah"),
    _ev("h-4", "KIOSK", "kiosk-2", 3000, phone="97318 62045", name="Anil Shah"),
    _ev("r-1", "WEB", "ck-ravi-001", 4000, phone="98450 12345", name="Ravi Kumar"),
    _ev("r-2", "KIOSK", "kiosk-3", 5000, email="ravi.k@yahoo.co.in", name="Ravi Kumar"),
]


@dataclass
class World:
    rt: Runtime
    send: Recorder
    client: TestClient[web.Request, web.Application]

    @property
    def pipeline(self) -> Pipeline:
        assert self.rt.pipeline is not None
        return self.rt.pipeline

    def cid(self, event_id: str) -> str:
        cid = self.pipeline.resolver.customer_of_event(event_id)
        assert cid is not None
        return str(cid)

    def apply_queued(self) -> list[str]:
        """Apply every queued action in order, as the single writer would; their notes."""
        notes: list[str] = []
        for i, action in enumerate(self.send.actions):
            for step in self.pipeline.on_action(100 + i, action):
                notes.extend(step.notes)
        self.send.actions.clear()
        return notes


@pytest.fixture
async def world() -> AsyncIterator[World]:
    rt = Runtime(SETTINGS)
    rt.pipeline = Pipeline(ResolverConfig(), 60_000, 1_000)
    for offset, event in enumerate(EVENTS):
        rt.pipeline.on_events(offset, [event])
    rt.recovered = rt.owns_links = True
    send = Recorder()
    app = create_web_app(rt, SETTINGS, send, stats_ttl=0.0)
    async with TestClient(TestServer(app)) as client:
        yield World(rt, send, client)


async def test_merge_needs_the_operator_token_and_a_reason(world: World) -> None:
    ravi, again = world.cid("r-1"), world.cid("r-2")
    path = f"/customers/{ravi}/merge"
    assert (await world.client.post(path, json={"other": again, "reason": "t"})).status == 401
    assert (await world.client.post(path, json={"other": again, "reason": "t"}, headers=auth(READ))).status == 403
    r = await world.client.post(path, json={"other": again}, headers=auth(ADMIN))
    assert r.status == 400 and "reason" in (await r.json())["error"]
    r = await world.client.post(path, json={"reason": "t"}, headers=auth(ADMIN))
    assert r.status == 400 and "other" in (await r.json())["error"]
    r = await world.client.post(path, json={"other": "not a/id", "reason": "t"}, headers=auth(ADMIN))
    assert r.status == 400
    assert world.send.actions == []


async def test_merge_is_queued_applied_in_log_order_and_then_refused_as_done(world: World) -> None:
    ravi, again = world.cid("r-1"), world.cid("r-2")
    r = await world.client.post(
        f"/customers/{again}/merge", json={"other": ravi, "reason": "TICKET-9 same person"}, headers=auth(ADMIN)
    )
    assert r.status == 202
    body = await r.json()
    assert body["action"] == "merge" and body["customer_id"] == again
    (action,) = world.send.actions
    assert action["identifier"] == ravi and action["actor"] == "operator"
    notes = world.apply_queued()
    assert any("operator merge 1" in n for n in notes)
    assert world.cid("r-1") == world.cid("r-2") == ravi  # the older customer survives
    # The merge is in the customer's explanation as an operator link.
    r = await world.client.get(f"/customers/{ravi}/explain", headers=auth(READ))
    edges = [e for e in (await r.json())["edges"] if e["rule"] == "operator-merge"]
    assert len(edges) == 1 and "98450" not in str(edges)
    r = await world.client.get(f"/customers/{ravi}/explain?format=html", headers=auth(ADMIN))
    assert r.status == 200 and "operator-merge" in await r.text()
    # Asked again: refused with the core's reason, nothing queued.
    r = await world.client.post(f"/customers/{ravi}/merge", json={"other": again, "reason": "t"}, headers=auth(ADMIN))
    assert r.status == 409 and "one customer already" in (await r.json())["error"]
    r = await world.client.post(
        f"/customers/{ravi}/merge", json={"other": "c_nobody", "reason": "t"}, headers=auth(ADMIN)
    )
    assert r.status == 404
    assert world.send.actions == []


async def test_a_merge_refused_by_a_block_says_so_masked(world: World) -> None:
    world.pipeline.on_action(50, {"action": "block", "identifier": "97318 62045", "action_id": "b1", "at": T0})
    priya, anil = world.cid("h-1"), world.cid("h-3")
    r = await world.client.post(f"/customers/{priya}/merge", json={"other": anil, "reason": "t"}, headers=auth(ADMIN))
    assert r.status == 409
    error = (await r.json())["error"]
    assert "kept apart by a block on phone" in error and "91234" not in error and "9731862045" not in error


async def test_a_merge_refused_by_the_writer_changes_nothing(world: World) -> None:
    """Queued while allowed, refused in log order (an erasure came first): a note, no change."""
    ravi, again = world.cid("r-1"), world.cid("r-2")
    world.pipeline.on_action(50, {"action": "erase", "customer_id": again, "action_id": "e1", "at": T0})
    before = world.pipeline.resolver.snapshot()
    (step,) = world.pipeline.on_action(51, {"action": "merge", "customer_id": ravi, "identifier": again})
    assert any(f"merge refused: customer {again} was erased" in n for n in step.notes)
    assert world.pipeline.resolver.snapshot() == before and not step.records


async def test_review_lists_the_household_pair_with_its_evidence_masked_for_read(world: World) -> None:
    priya, anil = world.cid("h-1"), world.cid("h-3")
    r = await world.client.get("/review", headers=auth(READ))
    assert r.status == 200
    body = await r.json()
    assert body["masked"] and body["complete"]
    pair = next(p for p in body["pairs"] if {p["customer_a"], p["customer_b"]} == {priya, anil})
    assert [x["rule"] for x in pair["reasons"]] == ["household"]
    assert pair["why_not"] and pair["links"]["merge"].endswith("/merge")
    text = await r.text()
    for raw in ("9731862045", "priya@y.in", "anil@z.in", "Priya Kumar"):
        assert raw not in text, raw
    r = await world.client.get("/review", headers=auth(ADMIN))
    pair = next(p for p in (await r.json())["pairs"] if {p["customer_a"], p["customer_b"]} == {priya, anil})
    assert pair["reasons"][0]["identifier"] == "p:+919731862045"
    assert (await world.client.get("/review?limit=0", headers=auth(READ))).status == 400


async def test_a_dismissed_pair_stays_dismissed_after_a_snapshot(world: World) -> None:
    priya, anil = world.cid("h-1"), world.cid("h-3")
    assert (await world.client.post("/review/dismiss", json={"customer_id": priya, "other": anil})).status == 401
    r = await world.client.post(
        "/review/dismiss", json={"customer_id": priya, "other": anil, "reason": "two people"}, headers=auth(READ)
    )
    assert r.status == 403
    r = await world.client.post(
        "/review/dismiss", json={"customer_id": priya, "other": anil, "reason": "two people"}, headers=auth(ADMIN)
    )
    assert r.status == 202
    world.apply_queued()
    world.rt.pipeline = Pipeline.from_snapshot(ResolverConfig(), 60_000, 1_000, world.pipeline.snapshot())
    body = await (await world.client.get("/review", headers=auth(READ))).json()
    assert not any({p["customer_a"], p["customer_b"]} == {priya, anil} for p in body["pairs"])
    assert body["dismissed"] == 1


async def test_the_review_page_acts_through_its_own_forms_only(world: World) -> None:
    priya, anil = sorted((world.cid("h-1"), world.cid("h-3")))  # the pair's buttons act on the smaller id
    jar = {"Cookie": f"irl_token={ADMIN}"}
    page = await (await world.client.get("/review", headers={**HTML, **jar})).text()
    assert ADMIN not in page and "token" not in page
    proof = re.search(r'name="irl_form" value="([0-9a-f]{64})"', page)
    assert proof is not None and f'action="/customers/{priya}/merge"' in page
    form = {"other": anil, "reason": "review queue", "irl_form": proof.group(1)}
    same = {**jar, "Sec-Fetch-Site": "same-origin"}
    # Another site, a missing proof, or a JSON body: the cookie does not act.
    r = await world.client.post(f"/customers/{priya}/merge", data=form, headers={**jar, "Sec-Fetch-Site": "cross-site"})
    assert r.status == 401
    r = await world.client.post(f"/customers/{priya}/merge", data={**form, "irl_form": "0" * 64}, headers=same)
    assert r.status == 401
    assert (await world.client.post(f"/customers/{priya}/merge", json=form, headers=same)).status == 401
    assert world.send.actions == []
    r = await world.client.post(f"/customers/{priya}/merge", data=form, headers=same, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].startswith("/review?queued=merge")
    assert [a["action"] for a in world.send.actions] == ["merge"]
    # A read token's page has no buttons.
    page = await (await world.client.get("/review", headers={**HTML, "Cookie": f"irl_token={READ}"})).text()
    assert "irl_form" not in page and '<form class="act"' not in page and "9731862045" not in page


async def test_a_refused_near_phone_is_masked_for_read_in_review_and_why_not() -> None:
    """A near phone that did not link (one digit apart, names that do not agree) is named in ``near``:
    a read-token caller sees it masked in `/review`'s ``why_not`` and in `/why-not`, the operator raw."""
    rt = Runtime(SETTINGS)
    rt.pipeline = Pipeline(ResolverConfig(), 60_000, 1_000)
    near = [
        _ev("n-1", "WEB", "ck-ravi-001", 0, phone="98450 12345", email="ravi@y.in", name="Ravi Kumar"),
        _ev("n-2", "KIOSK", "kiosk-9", 1000, phone="98450 12354", email="sunil@z.in", name="Sunil Rao"),
    ]
    for offset, event in enumerate(near):
        rt.pipeline.on_events(offset, [event])
    rt.recovered = rt.owns_links = True
    a, b = (rt.pipeline.resolver.customer_of_event(e.event_id) for e in near)
    assert a and b and a != b
    app = create_web_app(rt, SETTINGS, Recorder(), stats_ttl=0.0)
    async with TestClient(TestServer(app)) as client:
        r = await client.get(f"/why-not?a={a}&b={b}", headers=auth(ADMIN))
        assert [x.get("near") for x in (await r.json())["reasons"]] == ["p:+919845012354"]
        for path in (f"/why-not?a={a}&b={b}", "/review"):
            r = await client.get(path, headers=auth(READ))
            assert r.status == 200, path
            text = await r.text()
            assert '"near"' in text, path  # the refused near phone is listed ...
            for raw in ("9845012345", "9845012354", "ravi@y.in", "sunil@z.in"):
                assert raw not in text, (path, raw)  # ... masked
