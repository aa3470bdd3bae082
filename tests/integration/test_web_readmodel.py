"""The views with a real Redis: readiness, and a standby worker answering from the read model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from resolver.config import ResolverConfig
from resolver.interaction import Interaction
from streams.pipeline import Pipeline
from streams.readmodel import RedisReadModel
from streams.runtime import Runtime
from streams.settings import Settings
from streams.web import create_web_app

pytestmark = pytest.mark.integration

Client = TestClient[web.Request, web.Application]

READ, ADMIN = "r-token", "a-token"
T0 = 1_700_000_000_000


async def _noop(action: dict[str, object]) -> None:
    raise AssertionError("no action expected")


@pytest.fixture
async def served(redis_url: str) -> AsyncIterator[tuple[Runtime, Client]]:
    """A writer's runtime mirrored to a real Redis, its views, and a fake broker port that accepts TCP."""
    broker = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = broker.sockets[0].getsockname()[1]
    settings = replace(
        Settings(web_token=READ, web_admin_token=ADMIN), redis_url=redis_url, kafka_bootstrap=f"127.0.0.1:{port}"
    )
    rt = Runtime(settings)
    rt.pipeline = Pipeline(ResolverConfig(), 60_000, 1_000)
    events = [
        Interaction("evt-1", "WEB", T0, "ck-aaaa1111", "visit", phone="98450 71623", email="asha.rao@gmail.com"),
        Interaction("evt-2", "KIOSK", T0 + 1, "kiosk-7", "visit", phone="98450 12345", name="Ravi"),
    ]
    rt.pipeline.on_events(0, events)
    rt.redis = RedisReadModel.from_url(redis_url, prefix="irlwebtest")
    await rt.redis.rebuild(rt.pipeline.mirror_records(), (), 0)
    rt.redis_offset = 0
    rt.applied_offset = 0
    rt.recovered = True
    rt.owns_links = True  # this worker is the single writer
    app = create_web_app(rt, settings, _noop, stats_ttl=0.0)
    try:
        async with TestClient(TestServer(app)) as client:
            yield rt, client
    finally:
        await rt.redis.close()
        broker.close()
        await broker.wait_closed()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_ready_when_kafka_and_redis_answer_and_tables_recovered(served: tuple[Runtime, Client]) -> None:
    rt, client = served
    r = await client.get("/ready", headers=auth(READ))
    body = await r.json()
    assert r.status == 200, body
    assert body == {**body, "ready": True, "kafka": True, "redis": True, "role": "writer"}
    rt.recovered = False
    assert (await client.get("/ready", headers=auth(READ))).status == 503


async def test_standby_worker_answers_lookups_from_redis(served: tuple[Runtime, Client]) -> None:
    rt, client = served
    assert rt.pipeline is not None
    asha = rt.pipeline.resolver.customer_of_event("evt-1")
    rt.pipeline = None  # this worker lost the single-writer partition
    r = await client.get("/lookup", params={"phone": "+91 98450 71623"}, headers=auth(READ))
    assert r.status == 200
    body = await r.json()
    assert body["source"] == "redis" and body["customer_id"] == asha
    assert body["profile"]["phones"] == ["+91********23"]
    r = await client.get("/lookup", params={"touchpoint": "web", "source_id": "ck-aaaa1111"}, headers=auth(ADMIN))
    assert (await r.json())["profile"]["phones"] == ["+919845071623"]
    r = await client.get("/lookup", params={"email": "nobody@gmail.com"}, headers=auth(READ))
    assert r.status == 404
    r = await client.get("/lookup", params={"phone": "12345"}, headers=auth(READ))
    assert r.status == 422
    r = await client.get(f"/customers/{asha}", headers=auth(READ))
    assert r.status == 200
    body = await r.json()
    assert body["source"] == "redis" and "asharao" not in await r.text()
    assert (await client.get("/customers/c_nope", headers=auth(READ))).status == 404
