"""The on-call views over a real single-writer pipeline, through aiohttp's test client.

World (one 60 s window, events in this order)::

    evt-1 WEB ck-aaaa1111  phone +91 98450 71623, email asha.rao@gmail.com, "Asha Rao"  ─┐ Asha
    evt-2 WHATSAPP 919845071623 (same phone), "Asha"                                     ─┘
    evt-3 KIOSK kiosk-7    phone 98450 12345, "Ravi Kumar"                               ─┐ Ravi (absorbs
    evt-4 WEB ck-bbbb2222  email ravi.k@yahoo.co.in, "Ravi Kumar"                        ─┤ evt-4's customer
    evt-5 WEB ck-bbbb2222  phone 98450 12345                                             ─┘ via evt-5)
    evt-6 KIOSK kiosk-9    phone 12345 (invalid), "Zed"                                     Zed
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import faust
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from resolver.config import ResolverConfig
from resolver.interaction import Interaction
from streams.pipeline import Pipeline
from streams.runtime import Runtime
from streams.settings import Settings
from streams.web import create_web_app, install, record_published

READ = "read-token-123"
ADMIN = "admin-token-456"
T0 = 1_700_000_000_000
SETTINGS = Settings(web_token=READ, web_admin_token=ADMIN, kafka_bootstrap="127.0.0.1:1")
ASHA_PHONE = "+919845071623"
ASHA_EMAIL = "asha.rao@gmail.com"
RAVI_PHONE = "+919845012345"


def _ev(i: int, tp: str, src: str, at: int, **kw: Any) -> Interaction:
    return Interaction(
        event_id=f"evt-{i}", touchpoint=tp, occurred_at=T0 + at, source_id=src, interaction="visit", **kw
    )


EVENTS = [
    _ev(1, "WEB", "ck-aaaa1111", 0, phone="+91 98450 71623", email=ASHA_EMAIL, name="Asha Rao"),
    _ev(2, "WHATSAPP", "919845071623", 1000, name="Asha"),
    _ev(3, "KIOSK", "kiosk-7", 2000, phone="98450 12345", name="Ravi Kumar"),
    _ev(4, "WEB", "ck-bbbb2222", 3000, email="ravi.k@yahoo.co.in", name="Ravi Kumar"),
    _ev(5, "WEB", "ck-bbbb2222", 4000, phone="98450 12345"),
    _ev(6, "KIOSK", "kiosk-9", 5000, phone="12345", name="Zed"),
]


class Recorder:
    """A send_action that records what it was given (or fails like a broker that is down)."""

    def __init__(self) -> None:
        self.actions: list[dict[str, Any]] = []
        self.fail = False

    async def __call__(self, action: dict[str, Any]) -> None:
        if self.fail:
            raise ConnectionError("broker unreachable")
        self.actions.append(action)


@dataclass
class World:
    rt: Runtime
    send: Recorder
    client: TestClient[web.Request, web.Application]

    @property
    def resolver(self) -> Any:
        assert self.rt.pipeline is not None
        return self.rt.pipeline.resolver

    def cid_of(self, event_id: str) -> str:
        cid = self.resolver.customer_of_event(event_id)
        assert cid is not None
        return str(cid)


def build_runtime(settings: Settings = SETTINGS) -> Runtime:
    rt = Runtime(settings)
    rt.pipeline = Pipeline(ResolverConfig(), 60_000, 1_000)
    for offset, event in enumerate(EVENTS):
        for step in rt.pipeline.on_events(offset, [event]):
            rt.stats["events_applied"] += step.events - step.duplicates
            record_published(rt, step.records)
    rt.recovered = True
    rt.owns_links = True  # this worker is the single writer
    rt.applied_offset = len(EVENTS) - 1
    return rt


@pytest.fixture
async def world() -> AsyncIterator[World]:
    rt = build_runtime()
    send = Recorder()
    app = create_web_app(rt, SETTINGS, send, stats_ttl=0.0)
    async with TestClient(TestServer(app)) as client:
        yield World(rt, send, client)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _no_raw_pii(text: str) -> None:
    for raw in (
        ASHA_PHONE,
        "9845071623",
        ASHA_EMAIL,
        "asharao@gmail.com",
        "ravi.k@yahoo.co.in",
        RAVI_PHONE,
        "Asha Rao",
        "ck-aaaa1111",
    ):
        assert raw not in text, raw


# -- authentication -------------------------------------------------------------------------------


async def test_health_needs_no_token(world: World) -> None:
    r = await world.client.get("/health")
    assert r.status == 200
    assert await r.json() == {"status": "alive"}


@pytest.mark.parametrize(
    "path", ["/", "/ready", "/stats", "/metrics", "/lookup?phone=1", "/why?a=1&b=2", "/customers/c_1", "/nowhere"]
)
async def test_every_other_route_needs_a_token(world: World, path: str) -> None:
    r = await world.client.get(path)
    assert r.status == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    body = await r.json()
    assert "missing bearer token" in body["error"]


async def test_a_wrong_token_is_refused(world: World) -> None:
    for headers in (auth("nope"), {"Authorization": "Basic " + READ}, {"Authorization": "Bearer "}):
        r = await world.client.get("/stats", headers=headers)
        assert r.status == 401, headers
    r = await world.client.get("/stats", params={"token": "nope"})
    assert r.status == 401
    assert (await r.json())["error"] == "invalid token"


async def test_query_token_works_for_get_but_never_for_post(world: World) -> None:
    r = await world.client.get("/stats", params={"token": READ})
    assert r.status == 200
    cid = world.cid_of("evt-6")
    r = await world.client.post(f"/customers/{cid}/erase?token={ADMIN}", json={"reason": "gdpr"})
    assert r.status == 401
    assert world.send.actions == []


async def test_no_configured_token_closes_the_views() -> None:
    rt = build_runtime()
    app = create_web_app(rt, Settings(), Recorder())
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/health")).status == 200
        r = await client.get("/stats", headers=auth(""))
        assert r.status == 401
        assert "no token is configured" in (await r.json())["error"]


async def test_read_token_cannot_act(world: World) -> None:
    cid = world.cid_of("evt-6")
    for path, body in (
        ("/actions/block", {"identifier": "kiosk:kiosk-9", "reason": "r"}),
        (f"/customers/{cid}/split", {"identifier": "evt-6", "reason": "r"}),
        (f"/customers/{cid}/erase", {"reason": "r"}),
    ):
        r = await world.client.post(path, json=body, headers=auth(READ))
        assert r.status == 403, path
        assert "operator token" in (await r.json())["error"]
    assert world.send.actions == []


async def test_unknown_route_and_wrong_method_answer_json(world: World) -> None:
    r = await world.client.get("/nowhere", headers=auth(READ))
    assert r.status == 404
    assert (await r.json())["status"] == 404
    r = await world.client.post("/stats", headers=auth(READ))
    assert r.status == 405
    assert "error" in await r.json()


# -- readiness --------------------------------------------------------------------------------------


async def test_ready_says_what_is_missing(world: World) -> None:
    r = await world.client.get("/ready", headers=auth(READ))
    assert r.status == 503
    body = await r.json()
    # Nothing listens on 127.0.0.1:1 and this runtime has no Redis.
    assert body["kafka"] is False and body["redis"] is False and body["recovered"] is True
    assert body["stalled"] is False


@pytest.mark.parametrize("stat", ["stalled_s", "customers_stalled_s"])
async def test_ready_says_stalled_from_half_the_limit_for_either_stage(world: World, stat: str) -> None:
    """The ordered stage's stall, or a partition of the per-customer stage on this worker (IRL_CUSTOMER_STAGE=kafka)."""
    half = world.rt.settings.stall_seconds / 2
    world.rt.stats[stat] = half - 1
    assert (await (await world.client.get("/ready", headers=auth(READ))).json())["stalled"] is False
    world.rt.stats[stat] = half
    r = await world.client.get("/ready", headers=auth(READ))
    assert r.status == 503 and (await r.json())["stalled"] is True


async def test_ready_probes_kafka_over_tcp() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = replace(SETTINGS, kafka_bootstrap=f"127.0.0.1:{port}")
    app = create_web_app(build_runtime(settings), settings, Recorder())
    try:
        async with TestClient(TestServer(app)) as client:
            body = await (await client.get("/ready", headers=auth(READ))).json()
            assert body["kafka"] is True
            assert body["ready"] is False  # still no Redis
    finally:
        server.close()
        await server.wait_closed()


# -- customers ----------------------------------------------------------------------------------------


async def test_customer_profile_is_masked_for_read_scope(world: World) -> None:
    cid = world.cid_of("evt-1")
    r = await world.client.get(f"/customers/{cid}", headers=auth(READ))
    assert r.status == 200
    text = await r.text()
    _no_raw_pii(text)
    body = await r.json()
    assert body["status"] == "live" and body["masked"] is True
    assert body["profile"]["phones"] == ["+91********23"]
    assert body["profile"]["name"] == "A***"
    assert body["confidence"] == body["profile"]["confidence"]
    assert body["confidence_reasons"]
    # Two distinct pieces of evidence (web and WhatsApp), each seen once, named by their first event.
    seen = body["history"]["evidence_seen"]
    assert [(e["first_event_id"], e["count"]) for e in seen] == [("evt-1", 1), ("evt-2", 1)]
    assert body["history"]["events"] == [e["id"] for e in seen]
    assert {e["event_id"] for e in body["history"]["evidence"]} >= {"evt-1"}


async def test_operator_sees_the_profile_unmasked(world: World) -> None:
    cid = world.cid_of("evt-1")
    body = await (await world.client.get(f"/customers/{cid}", headers=auth(ADMIN))).json()
    assert body["masked"] is False
    assert body["profile"]["phones"] == [ASHA_PHONE]
    assert body["profile"]["emails"] == ["asharao@gmail.com"]  # Gmail ignores dots


async def test_an_absorbed_id_says_where_it_went(world: World) -> None:
    survivor = world.cid_of("evt-5")
    explanation = world.resolver.explain(survivor)
    [absorbed] = explanation.absorbed_ids
    r = await world.client.get(f"/customers/{absorbed}", headers=auth(READ))
    assert r.status == 200
    body = await r.json()
    assert body == {**body, "status": "absorbed", "survivor_id": survivor}
    live = await (await world.client.get(f"/customers/{survivor}", headers=auth(READ))).json()
    assert [a["customer_id"] for a in live["history"]["absorbed"]] == [absorbed]


async def test_customer_history_lists_published_records(world: World) -> None:
    assert world.rt.pipeline is not None
    # Close the window: the batch is published and the journal remembers it.
    for step in world.rt.pipeline.on_tick(100, T0 + 10 * 60_000):
        record_published(world.rt, step.records)
    cid = world.cid_of("evt-1")
    body = await (await world.client.get(f"/customers/{cid}", headers=auth(READ))).json()
    assert body["version"] == 1
    assert [(h["version"], h["change"]) for h in body["history"]["published"]] == [(1, "CREATED")]


async def test_customer_bad_input(world: World) -> None:
    r = await world.client.get("/customers/c_doesnotexist", headers=auth(READ))
    assert r.status == 404
    assert "unknown customer id" in (await r.json())["error"]
    r = await world.client.get("/customers/bad%20id%3B", headers=auth(READ))
    assert r.status == 400
    assert "malformed customer id" in (await r.json())["error"]


# -- lookups ------------------------------------------------------------------------------------------


async def test_lookup_by_phone_email_and_touchpoint(world: World) -> None:
    asha = world.cid_of("evt-1")
    for params in (
        {"phone": "098450 71623"},
        {"email": "Asha.Rao@Gmail.com"},
        {"touchpoint": "web", "source_id": "ck-aaaa1111"},
        {"touchpoint": "WHATSAPP", "source_id": "919845071623"},
    ):
        r = await world.client.get("/lookup", params=params, headers=auth(READ))
        assert r.status == 200, params
        body = await r.json()
        assert body["customer_id"] == asha and body["status"] == "linked"
        _no_raw_pii(await r.text())


async def test_a_crm_record_id_leads_to_its_customer_and_is_masked(world: World) -> None:
    """Contacts brought in by `irl import` (touchpoint CRM) are looked up like any touchpoint record."""
    assert world.rt.pipeline is not None
    contact = _ev(7, "CRM", "003Dn00000RaviK", 6000, phone="+91 98450 12345", name="Ravi Kumar")
    world.rt.pipeline.on_events(len(EVENTS), [contact])
    ravi = world.cid_of("evt-3")
    r = await world.client.get(
        "/lookup", params={"touchpoint": "crm", "source_id": "003Dn00000RaviK"}, headers=auth(READ)
    )
    assert r.status == 200
    body = await r.json()
    assert body["customer_id"] == ravi and body["status"] == "linked"
    assert "003Dn00000RaviK" not in await r.text()
    profile = await (await world.client.get(f"/customers/{ravi}", headers=auth(ADMIN))).json()
    assert {"touchpoint": "CRM", "source_id": "003Dn00000RaviK"} in profile["profile"]["source_ids"]


async def test_lookup_says_why_there_is_no_customer(world: World) -> None:
    r = await world.client.get("/lookup", params={"phone": "12345"}, headers=auth(READ))
    assert r.status == 422
    body = await r.json()
    assert "invalid" in body["error"] and body["lookup"]["status"] == "invalid"
    r = await world.client.get("/lookup", params={"email": "nobody@gmail.com"}, headers=auth(READ))
    assert r.status == 404
    assert (await r.json())["lookup"]["reason"] == "never seen"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "exactly one of"),
        ({"phone": "1", "email": "a@b.c"}, "exactly one of"),
        ({"phone": "  "}, "missing parameter: phone"),
        ({"touchpoint": "WEB"}, "missing parameter: source_id"),
        ({"touchpoint": "FAX", "source_id": "1"}, "touchpoint must be one of"),
        ({"phone": "9" * 2000}, "too long"),
        ({"phone": "98\x0045"}, "control characters"),
        ({"phone": "98450 12345", "source_id": "x"}, "goes with touchpoint"),
    ],
)
async def test_lookup_bad_input(world: World, params: dict[str, str], message: str) -> None:
    r = await world.client.get("/lookup", params=params, headers=auth(READ))
    assert r.status == 400
    assert message in (await r.json())["error"]


async def test_quarantined_identifier_is_explained(world: World) -> None:
    # Seven different people on one kiosk number: the phone becomes a hub and stops linking.
    assert world.rt.pipeline is not None
    hub = [
        _ev(100 + i, "KIOSK", f"kiosk-h{i}", 9000 + i, phone="99004 12871", name=n, email=f"{n.lower()}@gmail.com")
        for i, n in enumerate(["Amit", "Bina", "Chen", "Dev", "Esha", "Farid", "Gita"])
    ]
    world.rt.pipeline.on_events(50, hub)
    r = await world.client.get("/lookup", params={"phone": "99004 12871"}, headers=auth(READ))
    assert r.status == 200
    body = await r.json()
    assert body["status"] == "quarantined" and body["customer_id"] is None
    stats = await (await world.client.get("/stats", headers=auth(READ))).json()
    assert stats["quarantined"]["count"] == 1
    assert "9900412871" not in str(stats["quarantined"])


def _oliver(world: World) -> tuple[str, str]:
    """Oliver's web signup and kiosk visit give his UK mobile; the phone's own WhatsApp chat comes as
    "Olly", another name group: the phone is split per person and the chat is a customer of its own."""
    assert world.rt.pipeline is not None
    world.rt.pipeline.on_events(
        60,
        [
            _ev(201, "WEB", "cookie-uk42", 20_000, phone="+44 7911 123456", name="Mr Oliver Brown"),
            _ev(202, "KIOSK", "kiosk-uk", 21_000, phone="07911 123456", name="Oliver Brown"),
            _ev(203, "WHATSAPP", "447911123456", 22_000, name="Olly"),
        ],
    )
    web_id, chat = world.cid_of("evt-201"), world.cid_of("evt-203")
    assert web_id != chat
    return web_id, chat


async def test_lookup_of_a_whatsapp_account_on_a_split_phone_is_its_chats_customer(world: World) -> None:
    web_id, chat = _oliver(world)
    params = {"touchpoint": "WHATSAPP", "source_id": "447911123456"}
    body = await (await world.client.get("/lookup", params=params, headers=auth(READ))).json()
    assert (body["status"], body["customer_id"]) == ("linked", chat)
    r = await world.client.get("/lookup", params={"phone": "+44 7911 123456"}, headers=auth(READ))
    assert r.status == 200
    body = await r.json()
    assert body["status"] == "split" and body["customer_id"] is None
    assert body["customers"] == sorted([web_id, chat])
    assert body["links"]["customers"] == [f"/customers/{c}" for c in sorted([web_id, chat])]
    assert "7911123456" not in await r.text()
    why = await (
        await world.client.get(
            "/why", params={"a": "WEB:cookie-uk42", "b": "WHATSAPP:447911123456"}, headers=auth(READ)
        )
    ).json()
    assert why["joined"] is False


async def test_why_not_always_says_why_and_masks_the_closest_identifiers(world: World) -> None:
    assert world.rt.pipeline is not None
    world.rt.pipeline.on_events(
        70,
        [
            _ev(301, "WEB", "cookie-us77", 30_000, phone="+1 (646) 829-3417", email="John.Smith+deals@company.com",
                name="John Smith"),
            _ev(302, "KIOSK", "KC-300901", 31_000, phone="(646) 829-3417", email="john.smith@company.com",
                name="JOHN SMITH"),
        ],
    )  # fmt: skip
    r = await world.client.get("/why-not", params={"a": "WEB:cookie-us77", "b": "KIOSK:KC-300901"}, headers=auth(READ))
    body = await r.json()
    assert body["apart"] is True and body["reasons"][0]["reason"] == "they share no identifier"
    assert {item.get("kind") for item in body["reasons"]} >= {"phone", "email"}
    text = (await r.text()).lower()
    assert "8293417" not in text and "john" not in text


class _StandbyModel:
    """The Redis read model as a standby worker reads it: identifier -> its holders (space-separated, as
    ``P:i:*`` holds them), profiles, aliases (absorbed id -> survivor)."""

    def __init__(
        self,
        ids: dict[str, str],
        profiles: dict[str, dict[str, Any]] | None = None,
        aliases: dict[str, str] | None = None,
    ) -> None:
        self.ids = ids
        self.profiles = profiles or {}
        self.aliases = aliases or {}

    async def customers_of(self, identifier: str) -> list[str]:
        return self.ids[identifier].split() if identifier in self.ids else []

    async def customer(self, customer_id: str) -> dict[str, Any] | None:
        return self.profiles.get(customer_id)

    async def survivor_of(self, absorbed_id: str) -> str | None:
        return self.aliases.get(absorbed_id)


async def test_standby_lookup_of_a_whatsapp_account_reads_its_own_source_id_first(world: World) -> None:
    world.rt.pipeline = None
    # The split phone was last written by the web customer's profile; the chat's by its own.
    model = _StandbyModel({"phone:+447911123456": "c_web", "tp:WHATSAPP:447911123456": "c_chat"})
    world.rt.redis = model  # type: ignore[assignment]
    for source in ("447911123456", "+44 7911 123456"):
        params = {"touchpoint": "WHATSAPP", "source_id": source}
        body = await (await world.client.get("/lookup", params=params, headers=auth(READ))).json()
        assert (body["source"], body["customer_id"]) == ("redis", "c_chat"), source
    body = await (await world.client.get("/lookup", params={"phone": "+447911123456"}, headers=auth(READ))).json()
    assert body["customer_id"] == "c_web"
    # An account without messages of its own in the model: its phone answers, as before.
    params = {"touchpoint": "WHATSAPP", "source_id": "447911123457"}
    model.ids["phone:+447911123457"] = "c_other"
    body = await (await world.client.get("/lookup", params=params, headers=auth(READ))).json()
    assert body["customer_id"] == "c_other"


async def test_standby_lookup_of_an_identifier_several_customers_hold_is_split_with_all_of_them(world: World) -> None:
    web_id, chat = _oliver(world)
    params = {"phone": "+44 7911 123456"}
    writer = await (await world.client.get("/lookup", params=params, headers=auth(READ))).json()
    assert writer["status"] == "split"
    world.rt.pipeline = None
    world.rt.redis = _StandbyModel({"phone:+447911123456": " ".join(sorted([web_id, chat]))})  # type: ignore[assignment]
    r = await world.client.get("/lookup", params=params, headers=auth(READ))
    assert r.status == 200
    body = await r.json()
    assert body.pop("source") == "redis"
    assert body == writer  # not "linked" to the smallest id (s33 audit A2)
    assert "7911123456" not in await r.text()


async def test_standby_answers_an_absorbed_id_with_its_last_live_survivor(world: World) -> None:
    world.rt.pipeline = None
    profiles: dict[str, dict[str, Any]] = {"c_c": {"customer_id": "c_c", "phones": [], "emails": []}}
    # c_a was absorbed into c_b, c_b into c_c; c_x into c_e, which was erased (its profile is gone)
    model = _StandbyModel({}, profiles, {"c_a": "c_b", "c_b": "c_c", "c_x": "c_e", "c_l": "c_l"})
    world.rt.redis = model  # type: ignore[assignment]
    for gone in ("c_a", "c_b"):
        r = await world.client.get(f"/customers/{gone}", headers=auth(READ))
        assert r.status == 200, gone
        body = await r.json()
        assert (body["status"], body["survivor_id"], body["source"]) == ("absorbed", "c_c", "redis")
        assert body["links"] == {"survivor": "/customers/c_c"}
    for unknown in ("c_x", "c_e", "c_l", "c_nope"):  # erased survivor, erased, a loop, never seen
        r = await world.client.get(f"/customers/{unknown}", headers=auth(READ))
        assert r.status == 404, unknown


# -- explanations ------------------------------------------------------------------------------------


async def test_explain_json_is_masked_and_complete(world: World) -> None:
    cid = world.cid_of("evt-3")
    r = await world.client.get(f"/customers/{cid}/explain", headers=auth(READ))
    assert r.status == 200
    assert r.content_type == "application/json"
    body = await r.json()
    assert body["customer_id"] == cid and body["found"] is True
    assert {n["kind"] for n in body["nodes"]} == {"phone", "email", "touchpoint"}
    assert [e["first_event_id"] for e in body["evidence"]] == ["evt-3", "evt-4", "evt-5"]
    assert body["events"] == [e["id"] for e in body["evidence"]]
    assert {e["event_id"] for e in body["edges"]} >= {"evt-3", "evt-5"}
    _no_raw_pii(await r.text())
    assert "98450" not in await r.text() and "ravi.k" not in await r.text()


async def test_explain_html_is_a_picture(world: World) -> None:
    cid = world.cid_of("evt-1")
    for kwargs in ({"params": {"format": "html"}}, {"headers": {"Accept": "text/html,application/xhtml+xml"}}):
        headers = {**auth(READ), **kwargs.get("headers", {})}
        r = await world.client.get(f"/customers/{cid}/explain", params=kwargs.get("params"), headers=headers)
        assert r.status == 200
        assert r.content_type == "text/html"
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        page = await r.text()
        assert "<svg" in page and 'class="evidence"' in page
        assert "evt-1" in page and "evt-2" in page
        _no_raw_pii(page)
        assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")


async def test_explain_html_for_operator_shows_values(world: World) -> None:
    cid = world.cid_of("evt-1")
    r = await world.client.get(f"/customers/{cid}/explain", params={"format": "html"}, headers=auth(ADMIN))
    assert ASHA_PHONE in await r.text()


async def test_explain_bad_input(world: World) -> None:
    r = await world.client.get("/customers/c_nope/explain", headers=auth(READ))
    assert r.status == 404
    r = await world.client.get("/customers/c_nope/explain", params={"format": "html"}, headers=auth(READ))
    assert r.status == 404 and "unknown customer id" in await r.text()
    r = await world.client.get(f"/customers/{world.cid_of('evt-1')}/explain?format=pdf", headers=auth(READ))
    assert r.status == 400


async def test_why_and_why_not(world: World) -> None:
    r = await world.client.get("/why", params={"a": "evt-3", "b": "evt-4"}, headers=auth(READ))
    assert r.status == 200
    body = await r.json()
    assert body["joined"] is True and body["path"][0]["event_id"] == "evt-5"
    assert "98450" not in await r.text()
    r = await world.client.get("/why", params={"a": "evt-1", "b": "evt-3"}, headers=auth(READ))
    assert (await r.json())["joined"] is False
    r = await world.client.get("/why-not", params={"a": "evt-1", "b": "evt-3"}, headers=auth(READ))
    assert r.status == 200
    body = await r.json()
    assert body["apart"] is True and body["customer_a"] != body["customer_b"]
    r = await world.client.get("/why-not", params={"a": "nobody@gmail.com", "b": "evt-1"}, headers=auth(READ))
    body = await r.json()
    assert body["reasons"][0] == {"ref": "n***@g***.com", "reason": "never seen"}
    # An unknown (or erased) customer id is said to be one, not "not a linkable identifier" (audit s34 B3).
    r = await world.client.get("/why-not", params={"a": "c_0123456789abcdef0123", "b": "evt-1"}, headers=auth(READ))
    body = await r.json()
    assert body["customer_a"] is None
    assert body["reasons"][0] == {
        "ref": "c_0123456789abcdef0123",
        "reason": "unknown customer id (never seen, or erased)",
    }


async def test_why_bad_input(world: World) -> None:
    r = await world.client.get("/why", params={"a": "evt-1"}, headers=auth(READ))
    assert r.status == 400 and "missing parameter: b" in (await r.json())["error"]
    r = await world.client.get("/why", params={"a": "evt-1", "b": "evt-404"}, headers=auth(READ))
    assert r.status == 404 and "no customer for b" in (await r.json())["error"]
    r = await world.client.get("/why-not", params={"b": "evt-1"}, headers=auth(READ))
    assert r.status == 400


@pytest.mark.parametrize("ref", ["+", "::", "p:", "t:", "@", "(((", "c_", "x" * 1024, "WEB:", "e:@@", "0" * 40])
async def test_strange_refs_never_cause_a_500(world: World, ref: str) -> None:
    for path in ("/why", "/why-not"):
        r = await world.client.get(path, params={"a": ref, "b": "evt-1"}, headers=auth(READ))
        assert r.status in (200, 400, 404), (path, ref, r.status)
    r = await world.client.get("/search", params={"q": ref}, headers=auth(READ), allow_redirects=False)
    assert r.status in (303, 400, 404, 422), (ref, r.status)


async def test_search_redirects_to_the_explanation(world: World) -> None:
    cid = world.cid_of("evt-1")
    r = await world.client.get("/search", params={"q": "98450 71623", "token": READ}, allow_redirects=False)
    assert r.status == 303
    assert r.headers["Location"] == f"/customers/{cid}/explain?format=html"
    r = await world.client.get("/search", params={"q": cid}, headers=auth(READ), allow_redirects=False)
    assert r.headers["Location"] == f"/customers/{cid}/explain?format=html"
    r = await world.client.get("/search", params={"q": "nobody@gmail.com"}, headers=auth(READ))
    assert r.status == 404 and "never seen" in await r.text()


# -- stats, metrics, dashboard -------------------------------------------------------------------------


async def test_stats(world: World) -> None:
    world.rt.stats["dead_letters"] = 2
    r = await world.client.get("/stats", headers=auth(READ))
    assert r.status == 200
    s = await r.json()
    assert s["events"]["applied"] == 6 and s["dead_letters"] == 2
    assert s["resolver"]["customers"] == 3 and s["resolver"]["merges"] == 1
    c = s["customers"]
    assert c["live"] == 3 and c["scanned"] == 3 and c["sampled"] is False
    assert sum(b["count"] for b in c["confidence"]["buckets"]) == 3
    # Zed has one touchpoint record only; Asha and Ravi have three identifiers each.
    assert c["single_identity_rate"] == round(1 / 3, 4)
    assert c["largest_clusters"][0]["customer_id"] == world.cid_of("evt-3")
    lowest = c["lowest_confidence"]
    assert world.cid_of("evt-6") in [x["customer_id"] for x in lowest]
    assert [x["confidence"] for x in lowest] == sorted(x["confidence"] for x in lowest)
    assert s["windows"]["open"][0]["merges"] == 1
    assert s["worker"]["role"] == "writer"
    world.rt.stats["records_published"] = 3  # the ordered stage's
    world.rt.stats["customer_records_published"] = 7  # this worker's per-customer stage's (IRL_CUSTOMER_STAGE=kafka)
    s = await (await world.client.get("/stats", headers=auth(READ))).json()
    assert s["windows"]["records_published"] == 10


async def test_metrics_are_prometheus_text(world: World) -> None:
    r = await world.client.get("/metrics", headers=auth(READ))
    assert r.status == 200
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = await r.text()
    assert "# TYPE irl_events_applied_total counter\nirl_events_applied_total 6\n" in text
    assert "irl_customers 3\n" in text
    assert 'irl_customer_confidence_bucket{le="+Inf"} 3\n' in text
    sample = re.compile(r'^[a-z_:][a-z0-9_:]*(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+-]+$')
    for line in text.splitlines():
        assert line.startswith("# ") or sample.match(line), line


async def test_dashboard_html(world: World) -> None:
    r = await world.client.get("/", params={"token": READ})
    assert r.status == 200 and r.content_type == "text/html"
    page = await r.text()
    assert "Confidence distribution" in page and 'class="histogram"' in page
    assert 'action="/search"' in page
    assert f"/customers/{world.cid_of('evt-3')}/explain?format=html" in page
    _no_raw_pii(page)


HTML = {"Accept": "text/html,application/xhtml+xml"}


async def test_a_browser_token_becomes_a_cookie_and_no_link_carries_it(world: World) -> None:
    """Issue 17 (low): ?token= was carried into every link of the pages (browser history)."""
    r = await world.client.get("/", params={"token": READ, "x": "1"}, headers=HTML, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/?x=1"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith(f"irl_token={READ};") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/" in cookie
    jar = {"Cookie": f"irl_token={READ}"}
    for path in ("/", f"/customers/{world.cid_of('evt-3')}/explain?format=html", "/search?q=nobody@gmail.com"):
        r = await world.client.get(path, headers={**HTML, **jar})
        assert r.status in (200, 404), path
        page = await r.text()
        assert READ not in page and "token" not in page, path
    r = await world.client.get("/search", params={"q": world.cid_of("evt-3")}, headers=jar, allow_redirects=False)
    assert r.status == 303 and "token" not in r.headers["Location"]


async def test_the_cookie_reads_but_never_acts_and_the_api_keeps_its_ways(world: World) -> None:
    cid = world.cid_of("evt-6")
    r = await world.client.post(
        f"/customers/{cid}/erase", json={"reason": "x"}, headers={"Cookie": f"irl_token={ADMIN}"}
    )
    assert r.status == 401 and world.send.actions == []
    assert (await world.client.get("/stats", headers={"Cookie": "irl_token=nope"})).status == 401
    # API clients: the Authorization header, and ?token= answered directly (no redirect, no cookie).
    assert (await world.client.get("/stats", headers=auth(READ))).status == 200
    r = await world.client.get("/stats", params={"token": READ}, allow_redirects=False)
    assert r.status == 200 and "Set-Cookie" not in r.headers


async def test_standby_worker_answers_503_or_falls_back(world: World) -> None:
    world.rt.pipeline = None
    for path in ("/customers/c_x", "/customers/c_x/explain", "/why?a=1&b=2", "/lookup?phone=9845012345"):
        r = await world.client.get(path, headers=auth(READ))
        assert r.status == 503, path
        assert "standby" in (await r.json())["error"]
    s = await (await world.client.get("/stats", headers=auth(READ))).json()
    assert s["worker"]["role"] == "standby" and s["customers"] is None
    r = await world.client.get("/", headers=auth(READ))
    assert r.status == 200 and "standby" in await r.text()
    assert "irl_writer 0" in await (await world.client.get("/metrics", headers=auth(READ))).text()


# -- actions ---------------------------------------------------------------------------------------------


async def test_block_queues_an_action_for_the_single_writer(world: World) -> None:
    r = await world.client.post(
        "/actions/block", json={"identifier": "98450 12345", "reason": "shared shop phone"}, headers=auth(ADMIN)
    )
    assert r.status == 202
    body = await r.json()
    [action] = world.send.actions
    assert body["action_id"] == action["action_id"] and re.fullmatch(r"[0-9a-f]{32}", action["action_id"])
    assert action == {
        **action,
        "action": "block",
        "identifier": "98450 12345",
        "customer_id": None,
        "actor": "operator",
        "reason": "shared shop phone",
    }
    assert isinstance(action["at"], int)
    # The view changed nothing itself: the phone still links.
    assert world.resolver.lookup("98450 12345", "phone").status == "linked"
    [audit] = world.rt.stats["actions"]
    assert audit["identifier"] == "98******45" and audit["status"] == "queued"


async def test_block_bad_input(world: World) -> None:
    cases = [
        ({"reason": "r"}, 400, "missing parameter: identifier"),
        ({"identifier": "98450 12345"}, 400, "missing field: reason"),
        ({"identifier": "12345", "reason": "r"}, 422, "invalid"),
        ({"identifier": "nobody@gmail.com", "reason": "r"}, 404, "never seen"),
        ({"identifier": "justaword", "reason": "r"}, 400, "expected a phone"),
        ({"identifier": "98450 12345", "reason": "r", "actor": "bad actor!"}, 400, "actor"),
    ]
    for body, status, message in cases:
        r = await world.client.post("/actions/block", json=body, headers=auth(ADMIN))
        assert r.status == status, body
        assert message in (await r.json())["error"], body
    r = await world.client.post(
        "/actions/block", data=b"{not json", headers={**auth(ADMIN), "Content-Type": "application/json"}
    )
    assert r.status == 400
    r = await world.client.post("/actions/block", json=["a"], headers=auth(ADMIN))
    assert r.status == 400
    # Nested past the parser's recursion limit: a clear 400, not a 500 (issue 17).
    deep = b"[" * 100_000 + b"]" * 100_000
    r = await world.client.post(
        "/actions/block", data=deep, headers={**auth(ADMIN), "Content-Type": "application/json"}
    )
    assert r.status == 400
    assert "nested too deeply" in (await r.json())["error"]
    r = await world.client.post("/actions/block", data=b"x", headers={**auth(ADMIN), "Content-Type": "text/plain"})
    assert r.status == 415
    assert world.send.actions == []


async def test_no_answer_is_cached(world: World) -> None:
    """Profiles and explanations are customer data: no answer may stay in a browser or proxy cache."""
    cid = world.cid_of("evt-6")
    for path, headers in (
        (f"/customers/{cid}", auth(ADMIN)),
        (f"/customers/{cid}/explain", auth(READ)),
        ("/stats", auth(READ)),
        ("/nowhere", auth(READ)),
        ("/stats", {}),  # refused: the error answer too
        ("/health", {}),
    ):
        r = await world.client.get(path, headers=headers)
        assert r.headers.get("Cache-Control") == "no-store", path
    r = await world.client.post(f"/customers/{cid}/erase", json={"reason": "gdpr", "actor": "ops"}, headers=auth(ADMIN))
    assert r.status == 202 and r.headers.get("Cache-Control") == "no-store"


async def test_split_by_identifier_or_event(world: World) -> None:
    ravi = world.cid_of("evt-3")
    r = await world.client.post(
        f"/customers/{ravi}/split",
        json={"identifier": "WEB:ck-bbbb2222", "reason": "two people", "actor": "asha.ops"},
        headers=auth(ADMIN),
    )
    assert r.status == 202
    r = await world.client.post(
        f"/customers/{ravi}/split", json={"identifier": "evt-5", "reason": "bad link"}, headers=auth(ADMIN)
    )
    assert r.status == 202
    first, second = world.send.actions
    assert (first["action"], first["customer_id"], first["identifier"], first["actor"]) == (
        "split",
        ravi,
        "WEB:ck-bbbb2222",
        "operator:asha.ops",
    )
    assert second["identifier"] == "evt-5"
    r = await world.client.post(
        f"/customers/{ravi}/split", json={"identifier": "evt-1", "reason": "x"}, headers=auth(ADMIN)
    )
    assert r.status == 422
    r = await world.client.post(
        "/customers/c_nope/split", json={"identifier": "evt-1", "reason": "x"}, headers=auth(ADMIN)
    )
    assert r.status == 404
    assert len(world.send.actions) == 2


async def test_erase(world: World) -> None:
    zed = world.cid_of("evt-6")
    r = await world.client.post(f"/customers/{zed}/erase", data={"reason": "right to erasure"}, headers=auth(ADMIN))
    assert r.status == 202
    [action] = world.send.actions
    assert (action["action"], action["customer_id"], action["identifier"]) == ("erase", zed, None)
    r = await world.client.post("/customers/c_nope/erase", json={"reason": "x"}, headers=auth(ADMIN))
    assert r.status == 404
    r = await world.client.post(f"/customers/{zed}/erase", headers=auth(ADMIN))
    assert r.status == 400
    stats = await (await world.client.get("/stats", headers=auth(READ))).json()
    assert [a["action"] for a in stats["actions"]] == ["erase"]


async def test_an_action_that_cannot_be_queued_is_a_503_and_audited(world: World) -> None:
    world.send.fail = True
    zed = world.cid_of("evt-6")
    r = await world.client.post(f"/customers/{zed}/erase", json={"reason": "gdpr"}, headers=auth(ADMIN))
    assert r.status == 503
    assert "could not be queued" in (await r.json())["error"]
    assert world.rt.stats["actions"][-1]["status"] == "failed"


async def test_actions_are_queued_on_a_standby_worker(world: World) -> None:
    world.rt.pipeline = None
    r = await world.client.post("/customers/c_x/erase", json={"reason": "gdpr"}, headers=auth(ADMIN))
    assert r.status == 202
    assert world.send.actions[0]["customer_id"] == "c_x"


async def test_no_raw_pii_in_logs(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    await world.client.post(
        "/actions/block",
        json={"identifier": "+91 98450 71623", "reason": f"reported by {ASHA_EMAIL}"},
        headers=auth(ADMIN),
    )
    assert world.send.actions
    assert "operator action" in caplog.text
    for raw in ("98450 71623", ASHA_EMAIL, ADMIN):
        assert raw not in caplog.text


# -- mounted on Faust ------------------------------------------------------------------------------------


async def test_install_mounts_views_and_auth_on_faust_web_server() -> None:
    app = faust.App("irl-web-test", broker="memory://", web_tables_enabled=False, web_router_enabled=False)
    rt = build_runtime()
    send = Recorder()
    install(app, rt, SETTINGS, send)
    web_app = app.web.web_app  # type: ignore[attr-defined]
    assert isinstance(web_app, web.Application)
    app.web.init_server()  # what the worker does at start: Faust mounts its own index on "/"
    async with TestClient(TestServer(web_app)) as client:
        assert (await client.get("/health")).status == 200
        assert (await client.get("/stats")).status == 401
        assert (await client.get("/")).status == 401
        r = await client.get("/", headers=auth(READ))
        assert r.content_type == "text/html" and "IRL on-call" in await r.text()
        assert (await client.get("/stats", headers=auth(READ))).status == 200
        assert rt.pipeline is not None
        cid = rt.pipeline.resolver.customer_ids()[0]
        r = await client.post(f"/customers/{cid}/erase", json={"reason": "x"}, headers=auth(ADMIN))
        assert r.status == 202 and len(send.actions) == 1


def test_install_refuses_paths_another_page_serves() -> None:
    app = faust.App("irl-web-test-3", broker="memory://", web_tables_enabled=False, web_router_enabled=False)

    @app.page("/ready")
    async def ready(self: Any, request: Any) -> Any:
        return web.json_response({})

    with pytest.raises(ValueError, match="/ready"):
        install(app, build_runtime(), SETTINGS, Recorder())


def test_install_refuses_faust_table_views() -> None:
    app = faust.App("irl-web-test-2", broker="memory://", web_tables_enabled=True, web_router_enabled=False)
    with pytest.raises(ValueError, match="table and router views"):
        install(app, build_runtime(), SETTINGS, Recorder())


async def test_an_over_long_request_line_is_logged_in_one_line_without_the_request(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 17 (low): aiohttp logged a traceback quoting the first 100 bytes of the line (a token, an email)."""
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    host, port = world.client.server.host, world.client.server.port
    reader, writer = await asyncio.open_connection(host, port)
    line = f"GET /lookup?token={ADMIN}&email={ASHA_EMAIL}&pad={'x' * 9000} HTTP/1.1\r\nHost: a\r\n\r\n"
    writer.write(line.encode())
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(200), timeout=10)
    writer.close()
    assert answer.split(b"\r\n")[0].endswith(b" 400 Bad Request")
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert records, "aiohttp logged nothing about the bad request"
    assert caplog.text.count("\n") == len(caplog.records)  # no traceback lines
    for record in records:
        assert record.exc_info is None and record.levelno == logging.WARNING
        text = record.getMessage()
        assert "bad HTTP request from" in text and "LineTooLong" in text and "400" in text
    assert ADMIN not in caplog.text and ASHA_EMAIL not in caplog.text and "lookup" not in caplog.text


async def test_operator_reasons_are_kept_masked_and_hidden_from_read_callers(world: World) -> None:
    """Issue 17 (low): reasons went raw to the links topic and were shown to read-token callers."""
    cid = world.cid_of("evt-6")
    reason = f"erasure asked by Asha Rao, {ASHA_EMAIL}, {ASHA_PHONE}, ticket T-88"
    r = await world.client.post(f"/customers/{cid}/erase", json={"reason": reason}, headers=auth(ADMIN))
    assert r.status == 202, await r.text()
    sent = world.send.actions[-1]["reason"]  # what the links topic gets
    assert ASHA_EMAIL not in sent and "9845071623" not in sent.replace(" ", "") and "T-88" in sent
    read = await (await world.client.get("/stats", headers=auth(READ))).json()
    entry = read["actions"][-1]
    assert entry["reason"] is None and entry["reason_chars"] == len(sent)
    assert "Asha Rao" not in json.dumps(read)
    operator = await (await world.client.get("/stats", headers=auth(ADMIN))).json()
    assert operator["actions"][-1]["reason"] == sent
