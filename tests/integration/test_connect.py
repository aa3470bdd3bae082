"""Kafka Connect (standalone, Debezium's JDBC sink) beside `irl crm-sync`: the same resolved topic, two schemas.

                                          ┌─▶ irl crm-sync ────────────────▶ schema A: customers, redirects, ...
 events ─▶ worker ─▶ <prefix>.customers.resolved
                                          └─▶ Kafka Connect + JDBC sink ───▶ schema B: resolved_customers

Both are compared once the sink is level with the topic: the live customers field by field, the
latest change of every id, the redirects of absorbed ids, and erasure (no personal data left).

The connector is connect/irl-crm-sink.properties and its table connect/resolved_customers.sql,
rendered with this test's topic and schema, as scripts/connect.sh renders them for `make connect`.
A Connect worker answering on IRL_CONNECT_PORT (8083) is used; otherwise this module starts one
(`scripts/connect.sh start --no-sink`, which fetches from Maven Central once) and stops it after.
When Connect cannot start, the tests fail: they are never skipped.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.codec import decode_resolved
from streams.crm import open_store

from .harness import (
    BIN,
    REGISTRY_URL,
    ROOT,
    Worker,
    create_project_topics,
    isolated_env,
    partition_by_source,
    read_topic,
    resolved_state,
    wait_for,
)
from .test_actions import _post
from .test_crm_sync import SCENARIO, _pg_server, crm_sync, pg_url, publish  # noqa: F401 - fixtures, used by name

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONNECT_PORT = int(os.environ.get("IRL_CONNECT_PORT", "8083"))
CONNECT = f"http://127.0.0.1:{CONNECT_PORT}"
SINK_CLASS = "io.debezium.connector.jdbc.JdbcSinkConnector"
#: Apicurio's converter reads schemas through the registry's own API (v2), beside the ccompat one.
REGISTRY_V2_URL = REGISTRY_URL.replace("/apis/ccompat/v7", "/apis/registry/v2")
GONE = ("ABSORBED", "ERASED")
IDLE = "1.5"


# -- Kafka Connect ---------------------------------------------------------------------------------


def _http(method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{CONNECT}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


def _has_sink_plugin() -> bool:
    try:
        status, plugins = _http("GET", "/connector-plugins")
    except OSError:
        return False
    return status == 200 and any(p.get("class") == SINK_CLASS for p in plugins)


@pytest.fixture(scope="module")
def connect_worker(kafka_bootstrap: str) -> Iterator[str]:
    """A Kafka Connect worker with the JDBC sink plugin: the one answering, or one started here."""
    if _has_sink_plugin():
        yield CONNECT
        return
    script = ROOT / "scripts" / "connect.sh"
    env = {**os.environ, "IRL_CONNECT_PORT": str(CONNECT_PORT), "IRL_CONNECT_KAFKA": kafka_bootstrap}
    started = subprocess.run(
        [str(script), "start", "--no-sink"], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if started.returncode != 0 or not _has_sink_plugin():
        pytest.fail(f"Kafka Connect did not start (scripts/connect.sh start --no-sink):\n{started.stderr[-3000:]}")
    try:
        yield CONNECT
    finally:
        subprocess.run([str(script), "stop"], env=env, capture_output=True, timeout=120, check=False)


def render(template: Path, **values: str) -> str:
    """`template` with each ${NAME} replaced, as scripts/connect.sh renders it; a missing value is an error."""

    def value(m: re.Match[str]) -> str:
        assert m.group(1) in values, f"{template.name}: no value for ${{{m.group(1)}}}"
        return values[m.group(1)]

    return re.sub(r"\$\{([A-Z][A-Z0-9_]*)\}", value, template.read_text())


def properties(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, val = line.partition("=")
            out[key.strip()] = val.strip()
    return out


class Sink:
    """One JDBC sink connector of this test: its own name (so its own consumer group), topic and schema."""

    def __init__(self, pg_server: str, topic: str) -> None:
        tag = uuid.uuid4().hex[:10]
        self.name = f"test-sink-{tag}"
        self.schema = f"c_{tag}"
        self.topic = topic
        self.pg_server = pg_server

    def install(self) -> None:
        import psycopg

        with psycopg.connect(self.pg_server, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {self.schema}")
            conn.execute(
                render(ROOT / "connect" / "resolved_customers.sql", SCHEMA=self.schema, TABLE="resolved_customers")
            )
        config = properties(
            render(
                ROOT / "connect" / "irl-crm-sink.properties",
                NAME=self.name,
                TOPIC=self.topic,
                JDBC_URL="jdbc:postgresql://{}:{}{}".format(*_host_port_path(self.pg_server)),
                DB_USER="postgres",
                DB_PASSWORD="",
                SCHEMA=self.schema,
                TABLE="resolved_customers",
                REGISTRY_V2_URL=REGISTRY_V2_URL,
            )
        )
        status, body = _http("PUT", f"/connectors/{self.name}/config", config)
        assert status in (200, 201), (status, body)

    def failure(self) -> str | None:
        """The trace of a failed connector or task (None while it runs)."""
        status, body = _http("GET", f"/connectors/{self.name}/status")
        if status != 200:
            return None  # not created yet
        for part in [body["connector"], *body.get("tasks", [])]:
            if part["state"] == "FAILED":
                return str(part.get("trace", "FAILED"))
        return None

    def rows(self) -> dict[str, dict[str, Any]]:
        """The sink's table: customer id -> columns, timestamps as epoch ms (as in the contract)."""
        import psycopg
        from psycopg.rows import dict_row

        ms = "(extract(epoch from {0}) * 1000)::bigint AS {0}"
        sql = (
            "SELECT customer_id, change, survivor_id, phones, emails, name, event_count, touchpoints, confidence,"
            f" confidence_reasons, version, change_id, {ms.format('first_seen')}, {ms.format('last_seen')},"
            f" {ms.format('window_end')} FROM {self.schema}.resolved_customers"
        )
        with psycopg.connect(self.pg_server, autocommit=True, row_factory=dict_row) as conn:
            return {r["customer_id"]: r for r in conn.execute(sql).fetchall()}

    def remove(self, bootstrap: str) -> None:
        """Delete the connector, its schema and its consumer group (connect-<name>)."""
        import psycopg
        from confluent_kafka.admin import AdminClient

        _http("DELETE", f"/connectors/{self.name}")
        with psycopg.connect(self.pg_server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        admin = AdminClient({"bootstrap.servers": bootstrap})
        deadline = time.monotonic() + 15
        while True:  # the group is not empty until the deleted task's consumer has left
            try:
                admin.delete_consumer_groups([f"connect-{self.name}"])[f"connect-{self.name}"].result(timeout=10)
                return
            except Exception:
                if time.monotonic() > deadline:
                    return  # a leftover group is harmless: the next sink has another name
                time.sleep(0.5)


def _host_port_path(url: str) -> tuple[str, int, str]:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    assert u.hostname and u.port, url
    return u.hostname, u.port, u.path


@pytest.fixture
def sink(connect_worker: str, kafka_bootstrap: str, _pg_server: str, unique_topic: str) -> Iterator[Sink]:  # noqa: F811 - a fixture
    s = Sink(_pg_server, unique_topic)
    try:
        yield s
    finally:
        s.remove(kafka_bootstrap)


async def level(sink: Sink, bootstrap: str, timeout: float = 60) -> dict[str, dict[str, Any]]:
    """Wait until the sink's table holds, for every customer id of the topic, its newest record; return the rows."""
    latest: dict[str, dict[str, Any]] = {}
    for rec in (decode_resolved(m.value) for m in await read_topic(bootstrap, sink.topic)):
        if rec["customer_id"] not in latest or rec["version"] > latest[rec["customer_id"]]["version"]:
            latest[rec["customer_id"]] = rec
    assert latest, f"nothing on {sink.topic}"
    want = {cid: (r["version"], r["change_id"]) for cid, r in latest.items()}

    def check() -> dict[str, dict[str, Any]] | None:
        trace = sink.failure()
        assert trace is None, f"the JDBC sink failed:\n{trace[:3000]}"
        rows = sink.rows()
        return rows if {cid: (r["version"], r["change_id"]) for cid, r in rows.items()} == want else None

    rows: dict[str, dict[str, Any]] = await wait_for("the JDBC sink to be level with the topic", check, timeout)
    return rows


# -- the comparison ---------------------------------------------------------------------------------


def compare(crm_url: str, rows: dict[str, dict[str, Any]]) -> None:
    """What `irl crm-sync` holds in `crm_url` against the sink's rows, everything the two can both say."""
    store = open_store(crm_url)
    try:
        customers = store.customers()
        redirects = store.redirects()
        latest = {cid: store.latest_change(cid) for cid in rows}
    finally:
        store.close()
    assert customers, "crm-sync holds no customer"
    assert all(c.version > 0 for c in customers), "a placeholder survived the whole topic"

    # Live customers, field by field (crm-sync's updated_window_end is the window of the record applied).
    assert {c.customer_id: c for c in customers}.keys() == {cid for cid, r in rows.items() if r["change"] not in GONE}
    crm_fields = {
        c.customer_id: (
            c.version,
            c.change_id,
            c.name,
            list(c.phones),
            list(c.emails),
            c.confidence,
            list(c.confidence_reasons),
            c.first_seen,
            c.last_seen,
            c.event_count,
            list(c.touchpoints),
            c.updated_window_end,
        )
        for c in customers
    }
    connect_fields = {
        cid: (
            r["version"],
            r["change_id"],
            r["name"],
            r["phones"],
            r["emails"],
            r["confidence"],
            r["confidence_reasons"],
            r["first_seen"],
            r["last_seen"],
            r["event_count"],
            r["touchpoints"],
            r["window_end"],
        )
        for cid, r in rows.items()
        if r["change"] not in GONE
    }
    assert connect_fields == crm_fields

    # Every id, gone ones too: the same latest change, version and change id.
    assert {cid: (r["version"], r["change"], r["change_id"]) for cid, r in rows.items()} == {
        cid: (a.version, a.change, a.change_id) for cid, a in latest.items() if a is not None
    }
    assert all(a is not None for a in latest.values()), [cid for cid, a in latest.items() if a is None]

    # Redirects: crm-sync keeps absorbed id -> live survivor; the sink keeps one hop (survivor_id) per row,
    # which a reader follows to a live row (a chain ending in an erased id means gone).
    def follow(cid: str) -> str | None:
        seen = set()
        while rows[cid]["change"] == "ABSORBED":
            assert cid not in seen, f"redirect cycle through {cid}"
            seen.add(cid)
            cid = rows[cid]["survivor_id"]
            if cid not in rows:
                return None  # a survivor whose own record never came: not a live customer
        return None if rows[cid]["change"] == "ERASED" else cid

    followed = {cid: follow(cid) for cid, r in rows.items() if r["change"] == "ABSORBED"}
    assert {old: new for old, new in followed.items() if new is not None} == redirects

    # Gone ids hold no personal data in the sink's table.
    for cid, r in rows.items():
        if r["change"] in GONE:
            assert (r["name"], r["phones"], r["emails"], r["first_seen"]) == (None, [], [], None), cid


# -- the tests --------------------------------------------------------------------------------------

NOW = 1_764_410_400_000  # fixed event times (2 s windows, aligned): the worker's wall clock closes them


def _event(eid: str, tp: str, sid: str, t: int, **kw: Any) -> dict[str, Any]:
    return {"event_id": eid, "touchpoint": tp, "occurred_at": NOW + t, "source_id": sid, **kw}


#  window      [0, 2 s)                              [4 s, 6 s)
#  Asha        w-asha (email) · k-asha (phone): two   w-asha adds her phone: MERGED + ABSORBED,
#              customers                              then the survivor is erased (operator action)
#  Vikram      w-vik (email, phone)                   his WhatsApp chat: UPDATED
#  Meera       k-meera (phone)                        w-meera (email, same phone): UPDATED
FIRST = [
    _event("a1", "web", "w-asha", 0, interaction="signup", email="asha.rao@example.com", name="Asha Rao"),
    _event("a2", "kiosk", "k-asha", 500, interaction="visit", phone="+91 98450 71623", name="Asha Rao"),
    _event(
        "v1",
        "web",
        "w-vik",
        0,
        interaction="signup",
        email="vikram@example.org",
        phone="+44 7911 123456",
        name="Vikram S",
    ),
    _event("m1", "kiosk", "k-meera", 1000, interaction="visit", phone="+91 99000 11111", name="Meera N"),
]
SECOND = [
    _event(
        "a3",
        "web",
        "w-asha",
        4000,
        interaction="visit",
        email="asha.rao@example.com",
        phone="+919845071623",
        name="Asha Rao",
    ),
    _event("v2", "WHATSAPP", "447911123456", 4500, interaction="message"),
    _event("m2", "web", "w-meera", 5000, interaction="visit", email="meera@example.com", phone="+91 99000 11111"),
]


def _produce(env: dict[str, str], events: list[dict[str, Any]], path: Path) -> None:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    done = subprocess.run([str(BIN / "irl"), "produce", str(path)], env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()


async def test_jdbc_sink_and_crm_sync_agree_on_a_workers_changelog(
    kafka_bootstrap: str,
    redis_url: str,
    pg_url: str,  # noqa: F811 - a fixture
    sink: Sink,
    tmp_path: Path,
) -> None:
    t0 = time.monotonic()
    env = isolated_env(kafka_bootstrap, redis_url)
    settings = await create_project_topics(env)
    sink.topic = settings.topic_resolved
    sink.install()  # before the worker: the sink follows the topic as it is written
    _produce(env, FIRST, tmp_path / "first.jsonl")
    worker = Worker(env, tmp_path / "worker.log").start()
    try:

        async def owners(*refs: tuple[str, str]) -> list[str | None] | None:
            state, _ = await resolved_state(kafka_bootstrap, settings.topic_resolved)
            try:
                by_source = partition_by_source(state)
            except AssertionError:  # a MERGED read before its ABSORBED (docs/crm-connector.md): not yet
                return None
            found = [by_source.get(r) for r in refs]
            return found if all(found) else None

        first = await wait_for(
            "the first window's customers",
            lambda: owners(("WEB", "w-asha"), ("KIOSK", "k-asha"), ("WEB", "w-vik"), ("KIOSK", "k-meera")),
            120,
            worker,
        )
        assert first[0] != first[1], "Asha's email and phone were one customer before the event that links them"
        _produce(env, SECOND, tmp_path / "second.jsonl")

        async def merged() -> str | None:
            found = await owners(
                ("WEB", "w-asha"), ("KIOSK", "k-asha"), ("WHATSAPP", "447911123456"), ("WEB", "w-meera")
            )
            return found[0] if found and found[0] == found[1] else None

        asha = await wait_for("the merge", merged, 90, worker)
        status, body = _post(
            worker, f"/customers/{asha}/erase", {"reason": "right to erasure"}, env["IRL_WEB_ADMIN_TOKEN"]
        )
        assert status == 202, body

        async def erased() -> list[dict[str, Any]] | None:
            _, records = await resolved_state(kafka_bootstrap, settings.topic_resolved)
            return records if any(r["change"] == "ERASED" and r["customer_id"] == asha for r in records) else None

        records = await wait_for("the erasure on the topic", erased, 90, worker)
    finally:
        worker.stop()
    changes = {r["change"] for r in records}
    assert {"CREATED", "UPDATED", "MERGED", "ABSORBED", "ERASED"} <= changes, changes

    rows = await level(sink, kafka_bootstrap)
    await crm_sync(
        kafka_bootstrap,
        "--db",
        pg_url,
        "--topic",
        settings.topic_resolved,
        "--group",
        f"{sink.name}-crm",
        "--until-idle",
        IDLE,
    )
    compare(pg_url, rows)

    # Erasure: the survivor and the id it absorbed are rows without personal data; nothing of Asha is left.
    absorbed = [cid for cid, r in rows.items() if r["change"] == "ABSORBED"]
    assert rows[asha]["change"] == "ERASED" and len(absorbed) == 1 and rows[absorbed[0]]["survivor_id"] == asha
    dump = json.dumps(list(rows.values()), default=str)
    for pii in ("Asha", "asha.rao@example.com", "+919845071623"):
        assert pii not in dump
    assert {r["name"] for r in rows.values() if r["change"] not in GONE} == {"Vikram S", "Meera N"}
    print(f"worker changelog through both connectors in {time.monotonic() - t0:.1f}s")


async def test_jdbc_sink_keeps_the_newest_version_when_old_records_come_late(
    kafka_bootstrap: str,
    pg_url: str,  # noqa: F811 - a fixture
    sink: Sink,
) -> None:
    """test_crm_sync's changelog in a hostile order: repeats, a stale record of a newer id, replays after an
    erasure, survivors before and after the ids they absorbed. The table's version guard keeps the newest."""
    await publish(kafka_bootstrap, sink.topic, SCENARIO, partitions=1)
    sink.install()
    rows = await level(sink, kafka_bootstrap)
    await crm_sync(
        kafka_bootstrap, "--db", pg_url, "--topic", sink.topic, "--group", f"{sink.name}-crm", "--until-idle", IDLE
    )
    compare(pg_url, rows)
    # the records the sink alone would have got wrong: A's v2 after v3, D's v2 after its erasure
    assert (rows["A"]["version"], rows["A"]["change"]) == (3, "SPLIT")
    assert (rows["D"]["version"], rows["D"]["change"], rows["D"]["name"]) == (3, "ERASED", None)


async def test_a_record_the_sink_cannot_write_fails_the_task_loudly(kafka_bootstrap: str, sink: Sink) -> None:
    """errors.tolerance=none: a value that is not a registered Avro record stops the task (FAILED), never skipped."""
    from aiokafka import AIOKafkaProducer

    from streams.topics import create_topics

    await create_topics(kafka_bootstrap, {sink.topic: 1})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(sink.topic, key=b"X", value=b"not avro")
    finally:
        await producer.stop()
    sink.install()

    def failed() -> str | None:
        return sink.failure()

    await wait_for("the sink's task to fail", failed, 60)
    assert sink.rows() == {}
