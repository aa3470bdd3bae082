"""Running real workers as subprocesses, and reading what they published.

Every test gets its own app id and topic prefix, so topics, consumer groups and table
changelogs never collide between tests or runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from streams.codec import codecs, decode_resolved
from streams.contracts import Registration, register_contracts
from streams.settings import Settings
from streams.topics import create_project_topics as streams_create_project_topics
from streams.topics import records_to_end, register_project_contracts

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: The registry every test and worker uses (scripts/registry.sh; CI may point elsewhere).
#: The worker setting the whole suite runs against: IRL_TEST_CUSTOMER_STAGE, else the default (`Settings`).
CUSTOMER_STAGE = os.environ.get("IRL_TEST_CUSTOMER_STAGE") or Settings().customer_stage
REGISTRY_URL = os.environ.get("IRL_SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081/apis/ccompat/v7")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def isolated_env(kafka_bootstrap: str, redis_url: str, **extra: str) -> dict[str, str]:
    """Environment for one test's worker: unique app id and topics, short windows."""
    tag = f"t{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRL_")}
    env.update(
        IRL_KAFKA_BOOTSTRAP=kafka_bootstrap,
        IRL_REDIS_URL=redis_url,
        IRL_SCHEMA_REGISTRY_URL=REGISTRY_URL,
        IRL_APP_ID=tag,
        IRL_TOPIC_PREFIX=tag,
        IRL_WINDOW_SECONDS="2",
        IRL_GRACE_SECONDS="1",
        IRL_TICK_SECONDS="0.5",
        IRL_TOUCHPOINT_PARTITIONS="3",
        IRL_WEB_PORT=str(free_port()),
        IRL_WEB_TOKEN="test-read-token",
        IRL_WEB_ADMIN_TOKEN="test-admin-token",
        IRL_DATA_DIR=f"/tmp/irl-test-data/{tag}",
        IRL_DIGEST_KEY=secrets.token_hex(32),
        PYTHONUNBUFFERED="1",
    )
    # The whole suite against a worker setting, always written out so that a test can read the mode from `env`:
    # the default (over Kafka), or IRL_TEST_CUSTOMER_STAGE=off (the ordered stage builds the records), =3 (the
    # per-customer stage in process).
    env["IRL_CUSTOMER_STAGE"] = CUSTOMER_STAGE
    env.update(extra)
    return env


def visit(event_id: str, touchpoint: str, source_id: str, at_ms: int, **fields: Any) -> dict[str, Any]:
    """An interaction event as JSON (a "visit"), with its optional fields (phone, email, name, attributes)."""
    return {
        "event_id": event_id,
        "touchpoint": touchpoint,
        "occurred_at": at_ms,
        "source_id": source_id,
        "interaction": "visit",
        **fields,
    }


async def create_project_topics(env: dict[str, str]) -> Settings:
    """What `irl topics create` does for this environment: the topics, then their contracts in the registry."""
    settings = Settings.from_env(env)
    await streams_create_project_topics(settings)
    await register_project_contracts(settings)
    return settings


def register(topics: Mapping[str, str]) -> list[Registration]:
    """Register `{topic: contract}` in the registry this test process writes with (the real one)."""
    return register_contracts(codecs().cache.client, topics)


class Worker:
    """An `irl worker` subprocess with its log in a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(BIN / "irl"), "worker", "-l", "info"],
            env=self.env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def port(self) -> int:
        return int(self.env["IRL_WEB_PORT"])

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        token = self.env.get("IRL_WEB_TOKEN")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()
        self.proc = None


async def wait_for(
    what: str, check: Callable[[], Any], timeout: float, worker: Worker | None = None, interval: float = 0.25
) -> Any:
    """Poll `check` (sync or async) every `interval` seconds until it returns a truthy value, or fail with context."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if worker is not None and not worker.alive():
            raise AssertionError(f"worker died while waiting for {what}:\n{worker.log_tail()}")
        await asyncio.sleep(interval)
    tail = worker.log_tail() if worker is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r:.300})\n{tail}")


async def read_topic(bootstrap: str, topic: str, security: Mapping[str, Any] | None = None) -> list[Any]:
    """Every record currently in `topic`, in partition then offset order ([] when it does not exist)."""
    try:
        return [rec async for rec in records_to_end(bootstrap, topic, security=security)]
    except LookupError:
        return []


async def resolved_state(
    bootstrap: str, topic: str, security: Mapping[str, Any] | None = None
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Fold the resolved changelog into current CRM state: live customer id -> latest record.

    Returns the state and every record read (for duplicate and version checks).
    """
    records = [decode_resolved(m.value) for m in await read_topic(bootstrap, topic, security)]
    latest: dict[str, dict[str, Any]] = {}
    for rec in records:
        have = latest.get(rec["customer_id"])
        if have is None or rec["version"] > have["version"]:
            latest[rec["customer_id"]] = rec
    live = {cid: r for cid, r in latest.items() if r["change"] not in ("ABSORBED", "ERASED")}
    return live, records


def partition_by_source(state: dict[str, dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(touchpoint, source_id) -> customer id, from folded CRM state."""
    out: dict[tuple[str, str], str] = {}
    for cid, rec in state.items():
        for ref in rec["source_ids"]:
            key = (ref["touchpoint"], ref["source_id"])
            assert key not in out, f"{key} belongs to two customers: {out[key]} and {cid}"
            out[key] = cid
    return out


async def describe_groups(bootstrap: str, groups: list[str]) -> str:
    """The broker's view of consumer groups (state, members), for a failure message: a stalled rebalance shows here."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        lines = []
        for wanted in groups:  # one per request: aiokafka 0.14 misreads the groups after the first of a response
            resp = (await admin.describe_consumer_groups([wanted]))[0]
            _error, group_id, state, _ptype, protocol, members = resp.groups[0][:6]
            names = [" ".join(str(x) for x in m[:2]) for m in members]
            lines.append(f"group {group_id}: {state} ({protocol}), members: {names}")
        return "\n".join(lines)
    except Exception as exc:  # a failure message must not fail for this
        return f"groups not described: {exc!r}"
    finally:
        await admin.close()


async def stall_report(bootstrap: str, env: Mapping[str, str], workers: list[Worker], lines: int = 120) -> str:
    """What a timed-out wait on several workers shows: the broker's view of their groups, then their logs."""
    app = env["IRL_APP_ID"]
    groups = await describe_groups(bootstrap, [app, f"{app}-sequencer", f"{app}-host", f"{app}-customers"])
    tails = "\n".join(f"--- worker {i}:\n{w.log_tail(lines)}" for i, w in enumerate(workers))
    return f"{groups}\n{tails}"
