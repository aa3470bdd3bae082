"""A running worker dead-letters an event that reuses an id with other content (audit s35's C5).

    irl produce a.jsonl  ─▶ WEB   r-1 "Sana Mir"   ─┐
    irl produce b.jsonl  ─▶ KIOSK r-1 "Imran Ali"  ─┴▶ worker: the first kept, the second dead-lettered
                                                        (stage resolve, code reused_id), counted in /stats

Two runs of `irl produce` (one run refuses the second itself): the worker is where they meet.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from .harness import BIN, Worker, create_project_topics, isolated_env, visit, wait_for

pytestmark = [pytest.mark.integration]


async def test_the_worker_dead_letters_an_event_reusing_an_id_with_other_content(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    env = isolated_env(kafka_bootstrap, redis_url)
    settings = await create_project_topics(env)
    now = int(time.time() * 1000)
    first = visit("r-1", "WEB", "w-1", now - 60_000, phone="+91 98450 11111", name="Sana Mir")
    other = visit("r-1", "KIOSK", "k-1", now - 50_000, phone="+91 98450 22222", name="Imran Ali")
    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        for name, event in (("a", first), ("b", other)):
            path = tmp_path / f"{name}.jsonl"
            path.write_text(json.dumps(event) + "\n")
            done = subprocess.run([str(BIN / "irl"), "produce", str(path)], env=env, capture_output=True, timeout=120)
            assert done.returncode == 0, done.stderr.decode()

        def reused() -> Any:
            try:
                status, stats = worker.get("/stats")
            except OSError:  # the web server not listening yet (a slow start on CI)
                return False
            return status == 200 and stats.get("events", {}).get("reused_ids") == 1

        await wait_for("the worker to count the reused id", reused, 120, worker)
        listed = subprocess.run(
            [str(BIN / "irl"), "deadletters", "--json", "--topic", settings.topic_deadletter],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert [(r["stage"], r["code"]) for r in rows] == [("resolve", "reused_id")], rows
        assert "event id reused with other content" in rows[0]["error"]
        assert (rows[0]["source_topic"], rows[0]["source_partition"]) == (f"{env['IRL_APP_ID']}-links", 0)
        assert rows[0]["event_id"] == "r-1"
        assert "Imran" not in listed.stdout and "98450" not in listed.stdout  # listed masked
    finally:
        worker.stop()
