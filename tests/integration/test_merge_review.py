"""Operator merge and the review queue on a running worker; the review page in a browser.

    produce ─▶ touchpoint topics ─▶ worker ─▶ irl.customers.resolved (fold: the CRM's view)
    GET /review            the family phone kept apart by the household rule, with its evidence
    POST /customers/{id}/merge ─▶ links topic ─▶ single writer ─▶ MERGED / ABSORBED
    kill -9, restart       no snapshot since: the links log (events and the merge) is replayed
    a new event, the input again ─▶ the two records stay one customer

World: Priya and Anil share a family phone (each seen twice, with their own emails): kept
apart. Ravi's web record (a phone) and kiosk record (an email) share nothing: two customers
until the operator merges them.
"""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .browser import headless
from .harness import (
    BIN,
    Worker,
    create_project_topics,
    isolated_env,
    partition_by_source,
    resolved_state,
    visit,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = 1_764_410_400_000
FAMILY = "+91 97318 62045"


def _events() -> list[dict[str, Any]]:
    def ev(eid: str, tp: str, sid: str, t: int, **kw: Any) -> dict[str, Any]:
        return visit(eid, tp, sid, NOW + t, **kw)

    return [
        ev("h1", "WEB", "ck-priya-01", 0, phone=FAMILY, email="priya@example.org", name="Priya Kumar"),
        ev("h2", "KIOSK", "kiosk-1", 1000, phone=FAMILY, name="Priya Kumar"),
        ev("h3", "WEB", "ck-anil-001", 2000, phone=FAMILY, email="anil@example.org", name="Anil Shah"),
        ev("h4", "KIOSK", "kiosk-2", 3000, phone=FAMILY, name="Anil Shah"),
        ev("r1", "WEB", "ck-ravi-001", 4000, phone="+91 98450 12345", name="Ravi Kumar"),
        ev("r2", "KIOSK", "kiosk-3", 5000, email="ravi.k@example.org", name="Ravi Kumar"),
    ]


def _ready(worker: Worker) -> bool:
    """True once the worker answers /ready with 200 (False while it does not answer yet)."""
    try:
        return worker.get("/ready")[0] == 200
    except OSError:
        return False


def _call(worker: Worker, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
    req = urllib.request.Request(
        f"http://127.0.0.1:{worker.port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method=method,
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


async def test_a_merge_survives_a_restart_and_the_review_queue_lists_a_household(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path, chromium: str
) -> None:
    # No snapshot after the first: the restart replays the links log, the merge action included.
    env = isolated_env(kafka_bootstrap, redis_url, IRL_SNAPSHOT_SECONDS="86400")
    admin, read = env["IRL_WEB_ADMIN_TOKEN"], env["IRL_WEB_TOKEN"]
    settings = await create_project_topics(env)

    def produce(events: list[dict[str, Any]], name: str) -> None:
        path = tmp_path / name
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        out = subprocess.run([str(BIN / "irl"), "produce", str(path)], env=env, capture_output=True, timeout=120)
        assert out.returncode == 0, out.stderr.decode()

    async def crm(check: Any) -> Any:
        state, _ = await resolved_state(kafka_bootstrap, settings.topic_resolved)
        try:
            owners = partition_by_source(state)
        except AssertionError:
            return None  # read between two chunks of a batch
        return owners if check(owners) else None

    produce(_events(), "events.jsonl")
    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        start = await wait_for(
            "every record to reach the CRM",
            lambda: crm(lambda o: len(o) == 6),
            120,
            worker,
        )
        ravi, again = start[("WEB", "ck-ravi-001")], start[("KIOSK", "kiosk-3")]
        priya, anil = start[("WEB", "ck-priya-01")], start[("WEB", "ck-anil-001")]
        assert ravi != again and priya != anil

        # -- the review queue: the household pair with its evidence, masked for a read token -------------
        status, queue = _call(worker, "GET", "/review", read)
        assert status == 200, queue
        pair = next(p for p in queue["pairs"] if {p["customer_a"], p["customer_b"]} == {priya, anil})
        assert pair["reasons"][0]["rule"] == "household" and pair["why_not"]
        assert "9731862045" not in json.dumps(queue) and "priya@example.org" not in json.dumps(queue)

        # -- the review page in a browser: the pair, masked, no buttons for a read token ---------------
        url = f"http://127.0.0.1:{worker.port}/review?token={read}"
        await headless(chromium, tmp_path / "chromium", f"--screenshot={tmp_path / 'review.png'}", url)
        dom = await headless(chromium, tmp_path / "chromium", "--dump-dom", url)
        assert "Review queue" in dom and "household" in dom and priya in dom and anil in dom, dom[:500]
        assert "9731862045" not in dom and "irl_form" not in dom
        assert (tmp_path / "review.png").stat().st_size > 1000
        url = f"http://127.0.0.1:{worker.port}/review?token={admin}"
        dom = await headless(chromium, tmp_path / "chromium-operator", "--dump-dom", url)
        assert f'action="/customers/{min(priya, anil)}/merge"' in dom and "irl_form" in dom and admin not in dom

        # -- the operator merges Ravi's two records: MERGED / ABSORBED reach the CRM ------------------
        status, body = _call(worker, "POST", f"/customers/{again}/merge", read, {"other": ravi, "reason": "t"})
        assert status == 403
        status, body = _call(worker, "POST", f"/customers/{again}/merge", admin, {"other": ravi, "reason": "T-1"})
        assert status == 202, body
        merged = await wait_for(
            "the merge to reach the CRM",
            lambda: crm(lambda o: o[("WEB", "ck-ravi-001")] == o[("KIOSK", "kiosk-3")]),
            90,
            worker,
        )
        survivor = merged[("WEB", "ck-ravi-001")]
        assert survivor == ravi  # the older customer keeps its id
        _, records = await resolved_state(kafka_bootstrap, settings.topic_resolved)
        assert any(r["change"] == "ABSORBED" and r["customer_id"] == again for r in records)
        assert any(r["change"] == "MERGED" and r["customer_id"] == ravi for r in records)
        status, body = _call(worker, "POST", f"/customers/{ravi}/merge", admin, {"other": again, "reason": "T-1"})
        assert status == 409 and "one customer already" in body["error"]

        # -- kill -9 and restart: the snapshot and the links log after it hold the merge ----------------
        worker.stop(signal.SIGKILL)
        worker = Worker(env, tmp_path / "worker2.log").start()
        await wait_for("the restarted worker to be ready", lambda: _ready(worker), 120, worker)
        assert "resolver state restored" in (tmp_path / "worker2.log").read_text(errors="replace")
        status, found = _call(worker, "GET", "/lookup?touchpoint=KIOSK&source_id=kiosk-3", read)
        assert status == 200 and found["customer_id"] == ravi, found
        status, explained = _call(worker, "GET", f"/customers/{ravi}/explain", read)
        assert [e["merge"] for e in explained["edges"] if e["rule"] == "operator-merge"] == [1]

        # -- new evidence and the whole input again: still one customer, in the worker and the CRM --------
        late = {**_events()[5], "event_id": "r3", "occurred_at": NOW + 9000, "phone": "+91 98450 99999"}
        produce([*_events(), late], "again.jsonl")
        await wait_for(
            "the new event to be applied",
            lambda: _call(worker, "GET", "/lookup?phone=%2B919845099999", read)[1].get("customer_id") == ravi,
            90,
            worker,
        )
        await wait_for("windows to close", lambda: worker.get("/ready")[1]["pending_windows"] == 0, 60, worker)
        final = await crm(lambda o: True)
        assert final is not None and final[("WEB", "ck-ravi-001")] == final[("KIOSK", "kiosk-3")] == ravi
        status, queue = _call(worker, "GET", "/review", read)
        assert any({p["customer_a"], p["customer_b"]} == {priya, anil} for p in queue["pairs"])
    finally:
        worker.stop()
