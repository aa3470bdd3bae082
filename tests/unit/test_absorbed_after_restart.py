"""`/customers/<absorbed id>` after a restart (audit s35): what the CRM was told of the id, from the state.

The view's ``history.published`` is this process's memory of what it published: empty after a
restart. ``changelog`` is read from the state (snapshot and log), so a restarted worker says the
same as the one that published: whom the id went to, and whether its `ABSORBED` was published,
is pending in an open window (since s38 a customer created and absorbed within one window is
announced too when it closes: interactions were published under its id)::

    window 1 [T0, T0+60 s)           window 2 [T0+60 s, T0+120 s)
    a1 WEB u-1 phone P, "Asha Rao"   a3 WEB u-2 phone P (joins u-2's customer into u-1's: ABSORBED)
    a2 WEB u-2 email E, "Asha Rao"
                                     t1 WEB u-3 email F, "Ravi K" (u-3's customer: created and absorbed in window 2)
                                     t2 WEB u-4 email G, "Ravi K"
                                     t3 WEB u-4 email F
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from resolver.config import ResolverConfig
from resolver.interaction import Interaction
from streams.pipeline import Pipeline
from streams.runtime import Runtime
from streams.settings import Settings
from streams.web import create_web_app, record_published

READ = "read-token-123"
T0 = 1_700_000_000_000 - 1_700_000_000_000 % 60_000
SETTINGS = Settings(web_token=READ, kafka_bootstrap="127.0.0.1:1")
W1 = [
    Interaction("a1", "WEB", T0, "u-1", "visit", phone="+91 98450 71623", name="Asha Rao"),
    Interaction("a2", "WEB", T0 + 1_000, "u-2", "visit", email="asha.rao@gmail.com", name="Asha Rao"),
]
W2 = [
    Interaction("a3", "WEB", T0 + 61_000, "u-2", "visit", phone="+91 98450 71623"),
    Interaction("t1", "WEB", T0 + 62_000, "u-3", "visit", email="ravi.k@yahoo.co.in", name="Ravi K"),
    Interaction("t2", "WEB", T0 + 63_000, "u-4", "visit", email="ravi.k@outlook.com", name="Ravi K"),
    Interaction("t3", "WEB", T0 + 64_000, "u-4", "visit", email="ravi.k@yahoo.co.in"),
]


def _runtime(pipeline: Pipeline) -> Runtime:
    rt = Runtime(SETTINGS)
    rt.pipeline = pipeline
    rt.recovered = rt.owns_links = True
    return rt


def _steps(rt: Runtime, steps: Iterator[Any] | list[Any]) -> None:
    for step in steps:
        record_published(rt, step.records)


async def _absorbed(rt: Runtime, cid: str) -> dict[str, Any]:
    app = create_web_app(rt, SETTINGS, lambda _action: None, stats_ttl=0.0)  # type: ignore[arg-type,return-value]
    async with TestClient(TestServer(app)) as client:
        r = await client.get(f"/customers/{cid}", headers={"Authorization": f"Bearer {READ}"})
        assert r.status == 200
        body: dict[str, Any] = await r.json()
        return body


async def test_a_restarted_worker_says_what_the_crm_was_told_of_an_absorbed_id() -> None:
    p = Pipeline(ResolverConfig(), 60_000, 1_000)
    rt = _runtime(p)
    _steps(rt, p.on_events(0, W1))
    _steps(rt, p.on_tick(1, T0 + 62_000))  # window 1 closes: both customers CREATED
    _steps(rt, p.on_events(2, W2))
    r = p.resolver
    asha, ravi = r.customer_of_event("a1"), r.customer_of_event("t2")
    assert asha is not None and ravi is not None and r.customer_of_event("a2") == asha  # a3 joined them
    [absorbed] = r.explain(asha).absorbed_ids
    [transient] = r.explain(ravi).absorbed_ids
    before = await _absorbed(rt, absorbed)
    assert before["changelog"] == {"announced": True, "absorbed": "pending"}  # window 2 is open
    unseen = await _absorbed(rt, transient)
    assert unseen["changelog"] == {"announced": False, "absorbed": "pending"}  # its ABSORBED comes at the close
    _steps(rt, p.on_tick(3, T0 + 122_000))  # window 2 closes: the ABSORBED is published
    published = await _absorbed(rt, absorbed)
    assert [(h["change"], h["survivor_id"]) for h in published["history"]["published"]][-1] == ("ABSORBED", asha)
    # A restart: the state from a snapshot, nothing in this process's journal.
    again = _runtime(Pipeline.from_snapshot(ResolverConfig(), 60_000, 1_000, p.snapshot()))
    after = await _absorbed(again, absorbed)
    assert after["history"]["published"] == []
    assert (after["status"], after["survivor_id"], after["version"]) == ("absorbed", asha, published["version"])
    assert after["changelog"] == {"announced": True, "absorbed": "published"}
    # An id created and absorbed within window 2: announced too since s38 (its ABSORBED, version 1).
    told = await _absorbed(again, transient)
    assert (told["survivor_id"], told["version"]) == (ravi, 1)
    assert told["changelog"] == {"announced": True, "absorbed": "published"}
