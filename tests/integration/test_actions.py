"""Operator actions on a running worker, followed to the resolved topic and Redis; the dashboard in a browser.

POST /actions/block  ─▶ links topic ─▶ single writer ─▶ irl.customers.resolved + Redis
POST /customers/{id}/split           (same path)
POST /customers/{id}/erase           (same path) ─▶ ERASED; a replay of the input does not bring the person back
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from streams.readmodel import RedisReadModel

from .browser import headless
from .harness import (
    BIN,
    Worker,
    create_project_topics,
    isolated_env,
    partition_by_source,
    resolved_state,
    wait_for,
)
from .test_worker import _events

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _post(worker: Worker, path: str, body: dict[str, Any], token: str) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{worker.port}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


async def _browser(chromium: str, url: str, tmp: Path, shot: str) -> str:
    await headless(chromium, tmp / "chromium-profile", f"--screenshot={tmp / shot}", url)
    return await headless(chromium, tmp / "chromium-profile", "--dump-dom", url)


async def test_block_split_erase_reach_the_crm_and_redis(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path, chromium: str
) -> None:
    env = isolated_env(kafka_bootstrap, redis_url)
    admin, read = env["IRL_WEB_ADMIN_TOKEN"], env["IRL_WEB_TOKEN"]
    settings = await create_project_topics(env)
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(ev) + "\n" for ev in _events()))

    def produce() -> None:
        out = subprocess.run([str(BIN / "irl"), "produce", str(path)], env=env, capture_output=True, timeout=120)
        assert out.returncode == 0, out.stderr.decode()

    produce()
    worker = Worker(env, tmp_path / "worker.log").start()
    model = RedisReadModel.from_url(redis_url, prefix=settings.topic_prefix)
    try:

        async def owners() -> dict[tuple[str, str], str] | None:
            state, _ = await resolved_state(kafka_bootstrap, settings.topic_resolved)
            try:
                return partition_by_source(state)
            except AssertionError:
                return None  # read between two chunks of a batch

        async def settled(check: Any) -> Any:
            got = await owners()
            return got if got is not None and check(got) else None

        start = await wait_for(
            "the story to be published",
            lambda: settled(lambda o: o.get(("WEB", "u-1")) and o.get(("KIOSK", "k-77")) == o.get(("WEB", "u-1"))),
            120,
            worker,
        )
        asha = start[("WEB", "u-1")]

        # -- the dashboard and an explanation, in a real browser, on the running worker ----------------
        dom = await _browser(chromium, f"http://127.0.0.1:{worker.port}/?token={read}", tmp_path, "dashboard.png")
        assert "IRL" in dom and "confidence" in dom.lower(), dom[:500]
        dom = await _browser(
            chromium,
            f"http://127.0.0.1:{worker.port}/customers/{asha}/explain?format=html&token={read}",
            tmp_path,
            "explain.png",
        )
        assert asha in dom and "<svg" in dom, dom[:500]
        assert "9845071623" not in dom  # PII masked for a read token
        assert (tmp_path / "dashboard.png").stat().st_size > 1000 and (tmp_path / "explain.png").stat().st_size > 1000

        # -- block: a read token may not act; the operator's block re-resolves ------------------------
        status, _ = _post(worker, "/actions/block", {"identifier": "+91 98450 71623", "reason": "test"}, read)
        assert status == 403
        status, body = _post(
            worker, "/actions/block", {"identifier": "+91 98450 71623", "reason": "store phone"}, admin
        )
        assert status == 202, body
        after = await wait_for(
            "the block to split the kiosk record off",
            lambda: settled(lambda o: o.get(("KIOSK", "k-77")) not in (None, o.get(("WEB", "u-1")))),
            90,
            worker,
        )

        async def redis_agrees() -> bool:
            kiosk = await model.customer_of("tp:KIOSK:k-77")
            web = await model.customer_of("tp:WEB:u-1")
            return bool(kiosk == after[("KIOSK", "k-77")] and web == after[("WEB", "u-1")])

        await wait_for("Redis to follow the block", redis_agrees, 60, worker)

        # -- split: the UK customer without its WhatsApp record ---------------------------------------
        uk = after[("WEB", "u-2")]
        assert after[("WHATSAPP", "447911123456")] == uk
        status, body = _post(
            worker, f"/customers/{uk}/split", {"identifier": "WHATSAPP:447911123456", "reason": "t"}, admin
        )
        assert status == 202, body
        split = await wait_for(
            "the split to reach the CRM",
            lambda: settled(lambda o: o.get(("WHATSAPP", "447911123456")) not in (None, o.get(("WEB", "u-2")))),
            90,
            worker,
        )
        _, records = await resolved_state(kafka_bootstrap, settings.topic_resolved)
        assert any(r["change"] == "SPLIT" and r["customer_id"] == split[("WEB", "u-2")] for r in records) or any(
            r["change"] == "CREATED" and r["customer_id"] == split[("WHATSAPP", "447911123456")] for r in records
        )

        # -- erase: ERASED for the CRM, gone from Redis, and a replay does not bring the person back ---
        late = split[("WEB", "u-3")]
        status, body = _post(worker, f"/customers/{late}/erase", {"reason": "right to erasure"}, admin)
        assert status == 202, body

        async def erased() -> bool:
            state, records = await resolved_state(kafka_bootstrap, settings.topic_resolved)
            gone = any(r["change"] == "ERASED" and r["customer_id"] == late for r in records)
            in_crm = any(ref["source_id"] == "u-3" for r in state.values() for ref in r["source_ids"])
            in_redis = await model.customer_of("tp:WEB:u-3") or await model.customer_of("email:late@example.org")
            return gone and not in_crm and not in_redis and await model.customer(late) is None

        await wait_for("the erasure to reach the CRM and Redis", erased, 90, worker)
        ready = worker.get("/ready")[1]
        before = ready["events_applied"] + ready["duplicates"]
        produce()  # the full input again
        await wait_for(
            "the replayed input to be processed",
            lambda: (
                worker.get("/ready")[1]["duplicates"] + worker.get("/ready")[1]["events_applied"]
                >= before + len(_events())
            ),
            90,
            worker,
        )
        await wait_for("windows to close after the replay", lambda: worker.get("/ready")[1]["pending_windows"] == 0, 60)
        assert await erased(), "the erased person came back after a replay"
    finally:
        await model.close()
        worker.stop()
