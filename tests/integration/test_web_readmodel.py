"""The views with a real Redis: readiness, and a standby worker answering from the read model."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from resolver.config import ResolverConfig
from resolver.interaction import Interaction
from streams.mirror import RedisMirror
from streams.pipeline import Pipeline, Step
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


def _ev(i: int, tp: str, src: str, **kw: Any) -> Interaction:
    return Interaction(f"evt-{i}", tp, T0 + i, src, "visit", **kw)


async def _mirror(model: RedisReadModel, pipeline: Pipeline, steps: Iterable[Step]) -> None:
    """Write each step to Redis as the ordered stage's mirror does (`streams.mirror.RedisMirror.step`)."""
    for step in steps:
        removed: dict[str, str | None] = {**step.removed, **dict.fromkeys(step.erased_absorbed)}
        profiles: dict[str, dict[str, Any] | None] = {}
        for cid in sorted(step.touched - set(removed)):
            p = pipeline.resolver.profile(cid)
            profiles[cid] = None if p is None else p.to_record()
        await model.apply(profiles, removed, step.offset, step.forget)


async def test_a_standby_answers_lookups_and_absorbed_ids_as_the_writer_does(
    served: tuple[Runtime, Client], redis_url: str
) -> None:
    """Writer and standby, one state: a shared email, a split phone and its WhatsApp chat, an absorbed id,
    and the ids of an erased customer (s33 audit A2, A3: the standby answered ``linked`` to the smallest
    holder, and 404 for an absorbed id)."""
    rt, client = served
    pipeline, model = rt.pipeline, rt.redis
    assert pipeline is not None and model is not None
    events = [
        # one family mailbox, two people: the email is split, each person holds their part
        _ev(301, "WEB", "ck-fam-1", email="pillai.family@gmail.com", name="Meera Pillai", phone="98111 22233"),
        _ev(302, "KIOSK", "k-fam-2", email="pillai.family@gmail.com", name="Arjun Pillai", phone="98111 44455"),
        # Oliver's phone and its own WhatsApp chat under another name: the phone is split
        _ev(303, "WEB", "cookie-uk42", phone="+44 7911 123456", name="Mr Oliver Brown"),
        _ev(304, "KIOSK", "kiosk-uk", phone="+44 7911 123456", name="Oliver Brown"),
        _ev(305, "WHATSAPP", "447911123456", name="Olly"),
        # Kiran: two customers, then an event with both identifiers joins them (one id absorbed)
        _ev(306, "WEB", "ck-kiran", phone="98222 10001", name="Kiran Das"),
        _ev(307, "KIOSK", "k-kiran", email="kiran.das@gmail.com", name="Kiran Das"),
        _ev(308, "WEB", "ck-kiran-2", phone="98222 10001", email="kiran.das@gmail.com", name="Kiran Das"),
        # Lata: the same, then erased
        _ev(309, "WEB", "ck-lata", phone="98333 20002", name="Lata Iyer"),
        _ev(310, "KIOSK", "k-lata", email="lata.iyer@gmail.com", name="Lata Iyer"),
        _ev(311, "WEB", "ck-lata-2", phone="98333 20002", email="lata.iyer@gmail.com", name="Lata Iyer"),
    ]
    first: dict[str, str | None] = {e.event_id: None for e in events}
    steps: list[Step] = []
    for offset, event in enumerate(events, start=1):
        steps += pipeline.on_events(offset, [event])
        first[event.event_id] = pipeline.resolver.customer_of_event(event.event_id)
    await _mirror(model, pipeline, steps)
    resolver = pipeline.resolver
    kiran_gone = next(c for c in (first["evt-306"], first["evt-307"]) if resolver.current_id(c or "") != c)
    lata = resolver.customer_of_event("evt-311")
    lata_gone = next(c for c in (first["evt-309"], first["evt-310"]) if c != lata)
    assert lata and resolver.current_id(lata_gone or "") == lata
    erase = {"action": "erase", "customer_id": lata, "action_id": "x1", "actor": "t", "reason": "r", "at": T0}
    await _mirror(model, pipeline, pipeline.on_action(20, erase))
    assert await model.survivor_of(kiran_gone or "") is not None
    assert await model.survivor_of(lata_gone or "") is None  # dropped with her

    async def both(path: str, params: dict[str, str], token: str) -> tuple[tuple[int, Any], tuple[int, Any]]:
        answers = []
        for writer in (pipeline, None):
            rt.pipeline = writer
            r = await client.get(path, params=params, headers=auth(token))
            body = await r.json()
            if isinstance(body, dict):
                body.pop("source", None)
                body.pop("version", None)  # the changelog's: the writer's alone
                if isinstance(body.get("lookup"), dict):
                    body["lookup"].pop("source", None)
            answers.append((r.status, body))
        rt.pipeline = pipeline
        return answers[0], answers[1]

    lookups = [
        ({"email": "pillai.family@gmail.com"}, 200, "split"),
        ({"phone": "+44 7911 123456"}, 200, "split"),
        ({"touchpoint": "whatsapp", "source_id": "447911123456"}, 200, "linked"),
        ({"email": "kiran.das@gmail.com"}, 200, "linked"),
        ({"phone": "+91 98450 71623"}, 200, "linked"),
        ({"touchpoint": "WEB", "source_id": "ck-fam-1"}, 200, "linked"),
        ({"phone": "12345"}, 422, "invalid"),
    ]
    for params, status, said in lookups:
        for token in (READ, ADMIN):
            writer, standby = await both("/lookup", params, token)
            assert writer[0] == status and (writer[1].get("lookup") or writer[1])["status"] == said, (params, writer)
            assert standby == writer, params
    # Unknown: both 404, the standby cannot tell "never seen" from erased (its reason says so).
    for params in ({"email": "nobody@gmail.com"}, {"email": "lata.iyer@gmail.com"}):
        writer, standby = await both("/lookup", params, READ)
        assert writer[0] == standby[0] == 404 and standby[1]["lookup"]["status"] == "unknown", params
    split = (await both("/lookup", {"email": "pillai.family@gmail.com"}, READ))[1][1]
    assert len(split["customers"]) == 2 and split["customers"] == sorted(split["customers"])

    # An absorbed id: 200 absorbed with its survivor on both; the erased customer's ids: 404 on both.
    writer, standby = await both(f"/customers/{kiran_gone}", {}, READ)
    assert writer[0] == 200 and writer[1]["status"] == "absorbed", writer
    assert writer[1]["survivor_id"] == resolver.customer_of_event("evt-308")
    # what the CRM was told of it is the writer's alone (its state's changelog; s36): the rest is equal
    # (created and absorbed within its open window: its ABSORBED, version 1, comes at the close; audit s38, B1)
    assert writer[1]["changelog"] == {"announced": False, "absorbed": "pending"}
    assert standby == (writer[0], {k: v for k, v in writer[1].items() if k != "changelog"})
    for gone in (lata, lata_gone):
        writer, standby = await both(f"/customers/{gone}", {}, READ)
        assert writer[0] == standby[0] == 404, (writer, standby)

    # Redis rebuilt from the state, as the worker does (in process, and from a forked child) and
    # `irl rebuild-redis` does: the absorbed id's alias is written again, the erased one's is not.
    settings = replace(Settings(), redis_url=redis_url, topic_prefix="irlwebtest", customer_stage="0")
    for fork_at in (None, 0):
        await model.clear()
        assert await model.survivor_of(kiran_gone or "") is None
        mirror = RedisMirror(rt, settings, fork_at=fork_at)
        await mirror.check(True)
        deadline = time.monotonic() + 60
        while mirror._reap():  # a forked child writes: until it has ended (its result read)
            assert time.monotonic() < deadline, "the forked rebuild did not end"
            await asyncio.sleep(0.05)
        assert rt.redis_offset == rt.applied_offset, fork_at
        writer, standby = await both(f"/customers/{kiran_gone}", {}, READ)
        writer_rest = (writer[0], {k: v for k, v in writer[1].items() if k != "changelog"})  # the writer's alone
        assert standby == writer_rest and standby[1]["status"] == "absorbed", (fork_at, standby)
        assert await model.aliases() == dict(pipeline.mirror_aliases()) and await model.aliases()
        for gone in (lata, lata_gone):
            assert (await both(f"/customers/{gone}", {}, READ))[1][0] == 404, (fork_at, gone)
