"""The review queue's low-confidence customers: every one of the scan, and a ``complete`` that means it.

An audit found `/review?limit=500` listing 10 of the 40 customers below 0.6 while saying
``"complete": true``: the list was the dashboard's ten lowest, and ``complete`` spoke of the
pairs alone. Now it lists every customer below the threshold that the dashboard's scan read
(up to ``limit``), says what it was drawn from, and is complete only when nothing is left out.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import streams.web.views as views
from resolver.config import ResolverConfig
from resolver.interaction import from_json
from streams.pipeline import Pipeline
from streams.runtime import Runtime
from streams.synthetic import generate
from streams.web import create_web_app
from streams.web.stats import LOW_CONFIDENCE, StatsCollector

from .test_web_views import READ, SETTINGS, Recorder, auth

Client = TestClient[web.Request, web.Application]


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    p = Pipeline(ResolverConfig(), 60_000, 1_000)
    for offset, obj in enumerate(generate(customers=400, seed=5)[0]):
        p.on_events(offset, [from_json(obj)])
    return p


def _low(p: Pipeline) -> list[str]:
    r = p.resolver
    out = []
    for cid in r.customer_ids():
        profile = r.profile(cid)
        assert profile is not None
        if profile.confidence < LOW_CONFIDENCE:
            out.append(cid)
    return sorted(out)


async def _client(p: Pipeline, sample: int) -> Callable[[str], Any]:
    rt = Runtime(SETTINGS)
    rt.pipeline = p
    rt.recovered = rt.owns_links = True
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(views, "StatsCollector", functools.partial(StatsCollector, sample=sample))
        app = create_web_app(rt, SETTINGS, Recorder(), stats_ttl=0.0)
    client: Client = TestClient(TestServer(app))
    await client.start_server()

    async def get(path: str) -> Any:
        r = await client.get(path, headers=auth(READ))
        assert r.status == 200, await r.text()
        return await r.json()

    get.client = client  # type: ignore[attr-defined]
    return get


@pytest.fixture
async def whole(pipeline: Pipeline) -> AsyncIterator[Callable[[str], Any]]:
    get = await _client(pipeline, 5000)
    yield get
    await get.client.close()  # type: ignore[attr-defined]


@pytest.fixture
async def sampled(pipeline: Pipeline) -> AsyncIterator[Callable[[str], Any]]:
    get = await _client(pipeline, 100)
    yield get
    await get.client.close()  # type: ignore[attr-defined]


async def test_every_customer_below_the_threshold_is_listed(pipeline: Pipeline, whole: Callable[[str], Any]) -> None:
    low = _low(pipeline)
    assert len(low) > 10  # more than the dashboard's ten lowest
    body = await whole("/review?limit=500")
    assert sorted(c["customer_id"] for c in body["low_confidence"]) == low
    assert [c["confidence"] for c in body["low_confidence"]] == sorted(c["confidence"] for c in body["low_confidence"])
    assert all(c["confidence_reasons"] and c["links"]["explain"] for c in body["low_confidence"])
    assert body["low_confidence_complete"] is True
    assert body["complete"] is body["pairs_complete"]
    drawn = body["low_confidence_from"]
    assert drawn["sampled"] is False and drawn["found"] == drawn["listed"] == len(low)
    assert drawn["scanned"] == drawn["live"] == len(pipeline.resolver.customer_ids())


async def test_a_limit_below_their_number_lists_that_many_and_is_not_complete(
    pipeline: Pipeline, whole: Callable[[str], Any]
) -> None:
    low = _low(pipeline)
    body = await whole("/review?limit=5")
    assert len(body["low_confidence"]) == 5
    assert body["low_confidence_from"]["found"] == len(low) and body["low_confidence_from"]["listed"] == 5
    assert body["complete"] is False and body["low_confidence_complete"] is False


async def test_a_sampled_scan_is_said_and_never_complete(pipeline: Pipeline, sampled: Callable[[str], Any]) -> None:
    low = _low(pipeline)
    body = await sampled("/review?limit=500")
    drawn = body["low_confidence_from"]
    assert drawn["sampled"] is True and drawn["scanned"] < drawn["live"]
    listed = [c["customer_id"] for c in body["low_confidence"]]
    assert set(listed) <= set(low) and len(listed) == drawn["found"] < len(low)
    assert body["complete"] is False and body["low_confidence_complete"] is False


async def test_the_page_says_what_the_list_is_drawn_from(sampled: Callable[[str], Any]) -> None:
    client: Client = sampled.client  # type: ignore[attr-defined]
    r = await client.get("/review?format=html&limit=500", headers=auth(READ))
    text = await r.text()
    assert r.status == 200 and "found below it in the dashboard's scan of a sample of" in text
