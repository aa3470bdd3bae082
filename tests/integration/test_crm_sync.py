"""`irl crm-sync` against the real broker, with SQLite and PostgreSQL stores; the store contract on PostgreSQL.

PostgreSQL is started by `make test` (scripts/postgres.sh start); when it does not answer at
IRL_TEST_PG_URL these tests fail, they are not skipped. Each test gets its own schema.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from click.testing import CliRunner, Result

from streams.cli import main
from streams.codec import encode_resolved, encode_resolved_interaction
from streams.crm import CrmStore, PostgresCrmStore, SourceRef, event_owners, open_store
from streams.topics import create_topics
from tests.integration.harness import register, wait_for
from tests.unit.test_crm_contract import CrmStoreContract
from tests.unit.test_crm_world import assert_invariants, crm_state, make_record, simulate

pytestmark = pytest.mark.integration

PG_URL = os.environ.get("IRL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:55432/irl")
IDLE = "1.5"


@pytest.fixture(scope="session")
def _pg_server() -> str:
    import psycopg

    try:
        with psycopg.connect(PG_URL, connect_timeout=5, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL} ({exc}): run scripts/postgres.sh start (make test does)")
    return PG_URL


@pytest.fixture
def pg_url(_pg_server: str) -> Iterator[str]:
    """URL of an empty schema of its own (dropped after the test)."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in _pg_server else "?"
    try:
        yield f"{_pg_server}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(_pg_server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def crm_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crm.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


class TestPostgresCrmStore(CrmStoreContract):
    @pytest.fixture
    def store(self, pg_url: str) -> Iterator[CrmStore]:
        self._url = pg_url
        self._opened: list[CrmStore] = []
        s = PostgresCrmStore(pg_url)
        yield s
        for other in [s, *self._opened]:
            other.close()

    def reopen(self, store: CrmStore) -> CrmStore:
        again = PostgresCrmStore(self._url)
        self._opened.append(again)
        return again


# -- helpers -------------------------------------------------------------------------------------


async def publish(bootstrap: str, topic: str, records: list[dict[str, Any]], partitions: int) -> None:
    """Create `topic` and publish `records` in order, keyed by customer id."""
    await create_topics(bootstrap, {topic: partitions})
    register({topic: "resolved_customer"})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, key=r["customer_id"].encode(), value=encode_resolved(r, topic)) for r in records
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def publish_interactions(bootstrap: str, topic: str, records: list[dict[str, Any]], partitions: int) -> None:
    """Create `topic` and publish resolved interactions, keyed by customer id as the worker does."""
    await create_topics(bootstrap, {topic: partitions})
    register({topic: "resolved_interaction"})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, key=r["customer_id"].encode(), value=encode_resolved_interaction(r, topic))
            for r in records
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def crm_sync(bootstrap: str, *args: str) -> Result:
    """Run `irl crm-sync` in a thread: it calls asyncio.run itself, which cannot nest in the test's loop.

    Without `--interactions-topic`, the changelog only (`--no-interactions`): the default
    interactions topic is shared by everything on the broker.
    """
    if "--interactions-topic" not in args:
        args = (*args, "--no-interactions")
    argv = ["crm-sync", "--bootstrap", bootstrap, *args]
    result = await asyncio.to_thread(CliRunner().invoke, main, argv)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def snapshot(url: str) -> tuple[Any, ...]:
    store = open_store(url)
    try:
        assert_invariants(store)
        return (*crm_state(store), store.applied_changes(), store.customers())
    finally:
        store.close()


# -- a changelog with every case, in a chosen order (one partition) --------------------------------
#
#  window   W1            W2                      W3                  W4                  W5
#  A        CREATED a1 a2 MERGED(B) a1 a2 b1      SPLIT a1 a2
#  B        CREATED b1    ABSORBED->A (after A's MERGED)
#  D        CREATED d1    MERGED(E) d1 e1         .                   ERASED
#  E        CREATED e1    ABSORBED->D (before D's MERGED)             ERASED
#  K, L     CREATED k1    K ABSORBED->L, then L CREATED k1 l1 (the survivor arrives after)
#  C        CREATED c1 c2 .                       SPLIT c1            .                   MERGED(G) c1 c2 j1
#  G                                              CREATED c2          MERGED(J) c2 j1     ABSORBED->C
#  H                                              CREATED b1 (before A's SPLIT)
#  J        CREATED j1    .                       .                   ABSORBED->G, delivered last: lands in C
#
#  plus repeats (A v1, A v2 after v3), an old version with other content (D v1'), and a record
#  replayed after the erasure (D v2).

W1, W2, W3, W4, W5 = 1_000, 2_000, 3_000, 4_000, 5_000


def _r(t: str, s: str) -> tuple[str, str]:
    return (t, s)


a1, a2, b1, c1, c2, d1, e1, j1, k1, l1 = (
    _r("WEB", "a1"),
    _r("WHATSAPP", "a2"),
    _r("WEB", "b1"),
    _r("KIOSK", "c1"),
    _r("KIOSK", "c2"),
    _r("WEB", "d1"),
    _r("WHATSAPP", "e1"),
    _r("WEB", "j1"),
    _r("KIOSK", "k1"),
    _r("WEB", "l1"),
)
A1 = make_record("A", "CREATED", 1, W1, [a1, a2])
A2 = make_record("A", "MERGED", 2, W2, [a1, a2, b1], merged_from=["B"])
D1 = make_record("D", "CREATED", 1, W1, [d1])
D2 = make_record("D", "MERGED", 2, W2, [d1, e1], merged_from=["E"])
SCENARIO = [
    A1,
    make_record("B", "CREATED", 1, W1, [b1]),
    make_record("C", "CREATED", 1, W1, [c1, c2]),
    D1,
    make_record("E", "CREATED", 1, W1, [e1]),
    make_record("J", "CREATED", 1, W1, [j1]),
    make_record("K", "CREATED", 1, W1, [k1]),
    A1,  # repeat
    A2,
    make_record("B", "ABSORBED", 2, W2, survivor_id="A"),
    make_record("E", "ABSORBED", 2, W2, survivor_id="D"),
    make_record("K", "ABSORBED", 2, W2, survivor_id="L"),
    D2,
    make_record("D", "CREATED", 1, W1, [d1], name="an older run"),  # stale: same version, other content
    make_record("L", "CREATED", 1, W2, [k1, l1]),
    make_record("H", "CREATED", 1, W3, [b1]),
    make_record("A", "SPLIT", 3, W3, [a1, a2]),
    A2,  # repeat after a newer version
    make_record("C", "SPLIT", 2, W3, [c1]),
    make_record("G", "CREATED", 1, W3, [c2]),
    make_record("D", "ERASED", 3, W4),
    make_record("E", "ERASED", 3, W4),
    D2,  # replayed after the erasure
    make_record("G", "MERGED", 2, W4, [c2, j1], merged_from=["J"]),
    make_record("G", "ABSORBED", 3, W5, survivor_id="C"),
    make_record("C", "MERGED", 3, W5, [c1, c2, j1], merged_from=["G"]),
    make_record("J", "ABSORBED", 2, W4, survivor_id="G"),
]
EXPECTED_CUSTOMERS = {
    "A": (3, "Name A v3", (a1, a2)),
    "C": (3, "Name C v3", (c1, c2, j1)),
    "H": (1, "Name H v1", (b1,)),
    "L": (1, "Name L v1", (k1, l1)),
}
EXPECTED_RECORDS = {a1: "A", a2: "A", b1: "H", c1: "C", c2: "C", j1: "C", k1: "L", l1: "L"}
EXPECTED_REDIRECTS = {"B": "A", "G": "C", "J": "C", "K": "L"}


async def test_crm_sync_applies_merges_repeats_late_records_splits_and_erasures(
    kafka_bootstrap: str, unique_topic: str, crm_url: str
) -> None:
    await publish(kafka_bootstrap, unique_topic, SCENARIO, partitions=1)
    first = await crm_sync(
        kafka_bootstrap, "--db", crm_url, "--topic", unique_topic, "--group", f"{unique_topic}-1", "--until-idle", IDLE
    )
    assert "stopped (idle): 27 records" in first.output
    assert "applied 23, repeats 2, stale 2, invalid 0, undecodable 0" in first.output
    customers, records, redirects, applied, rows = snapshot(crm_url)
    assert customers == EXPECTED_CUSTOMERS
    assert records == EXPECTED_RECORDS
    assert redirects == EXPECTED_REDIRECTS
    # Erased ids keep only their erasure in the applied log; nothing else of them remains.
    assert [(a.customer_id, a.version, a.change) for a in applied if a.customer_id in "DE"] == [
        ("D", 3, "ERASED"),
        ("E", 3, "ERASED"),
    ]
    by_id = {row.customer_id: row for row in rows}
    assert by_id["A"].change_id == SCENARIO[16]["change_id"] and by_id["A"].updated_window_end == W3
    assert by_id["A"].phones == tuple(SCENARIO[16]["phones"]) and by_id["A"].confidence == 0.75

    # A new consumer group reads the whole topic again: every record is a repeat or stale.
    again = await crm_sync(
        kafka_bootstrap, "--db", crm_url, "--topic", unique_topic, "--group", f"{unique_topic}-2", "--until-idle", IDLE
    )
    assert "applied 0," in again.output
    assert snapshot(crm_url) == (customers, records, redirects, applied, rows)


async def test_each_progress_report_says_how_long_the_sync_has_run(
    kafka_bootstrap: str, unique_topic: str, tmp_path: Path
) -> None:
    """Audit s34 B6: every progress line said ``0.0s`` (the time was set only at the end)."""
    from streams.crm.sync import sync_crm

    await publish(kafka_bootstrap, unique_topic, SCENARIO, partitions=1)
    seen: list[float] = []
    store = open_store(f"sqlite:///{tmp_path / 'crm.db'}")
    try:
        report = await sync_crm(
            store,
            bootstrap=kafka_bootstrap,
            topic=unique_topic,
            group=f"{unique_topic}-progress",
            interactions_topic=None,
            until_idle_s=float(IDLE),
            max_records=None,
            on_batch=lambda r: seen.append(r.elapsed_s),
        )
    finally:
        store.close()
    assert report.records == len(SCENARIO) and seen
    assert all(t > 0 for t in seen) and seen == sorted(seen) and seen[-1] <= report.elapsed_s


async def published_world(
    bootstrap: str, topic: str, tmp_path: Path, *, seed: int, partitions: int
) -> tuple[Any, str, list[str]]:
    """A simulated world's records on `topic`, a SQLite CRM URL, and crm-sync's options for both."""
    world = simulate(seed, windows=12, ops=5)
    await publish(bootstrap, topic, world.records, partitions=partitions)
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    return world, url, ["--db", url, "--topic", topic, "--group", f"{topic}-g"]


async def test_any_partition_interleaving_ends_in_the_resolvers_view_and_offsets_follow_the_db(
    kafka_bootstrap: str, unique_topic: str, tmp_path: Path
) -> None:
    world, url, common = await published_world(kafka_bootstrap, unique_topic, tmp_path, seed=2024, partitions=6)
    first = await crm_sync(kafka_bootstrap, *common, "--max-records", "10")
    assert "stopped (max-records): 10 records" in first.output
    # The same group continues after the committed offsets: nothing is read twice.
    rest = await crm_sync(kafka_bootstrap, *common, "--until-idle", IDLE)
    assert f"stopped (idle): {len(world.records) - 10} records" in rest.output
    assert "repeats 0, stale 0" in rest.output
    assert snapshot(url)[:3] == world.expected()


async def test_a_backlog_is_applied_in_capped_batches_each_committed(
    kafka_bootstrap: str, unique_topic: str, tmp_path: Path
) -> None:
    """A first sync of a long backlog commits and reports batch by batch (audit s34 B9: one batch of 20k)."""
    world, url, common = await published_world(kafka_bootstrap, unique_topic, tmp_path, seed=7, partitions=3)
    run = await crm_sync(kafka_bootstrap, *common, "--batch-records", "7", "--until-idle", IDLE)
    n = len(world.records)
    assert n > 20, n
    batches = int(re.search(r"stopped \(idle\): \d+ records in (\d+) batches", run.output).group(1))  # type: ignore[union-attr]
    assert batches >= -(-n // 7), (batches, n, run.output)
    assert snapshot(url)[:3] == world.expected()


async def test_sigterm_stops_cleanly_after_committing(kafka_bootstrap: str, unique_topic: str, tmp_path: Path) -> None:
    await publish(kafka_bootstrap, unique_topic, SCENARIO, partitions=1)
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    group = f"{unique_topic}-g"
    irl = Path(sys.executable).with_name("irl")
    proc = subprocess.Popen(
        [
            *[str(irl), "crm-sync", "--bootstrap", kafka_bootstrap, "--db", url, "--topic", unique_topic],
            *["--group", group, "--no-interactions"],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def applied() -> bool:
            assert proc.poll() is None, proc.communicate()
            return (tmp_path / "crm.db").exists() and snapshot(url)[0] == EXPECTED_CUSTOMERS

        await wait_for("the connector to apply the topic", applied, 30, interval=0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped (stop): 27 records" in out
    # Its offsets were committed: the same group finds nothing left to read.
    rest = await crm_sync(kafka_bootstrap, "--db", url, "--topic", unique_topic, "--group", group, "--until-idle", IDLE)
    assert "stopped (idle): 0 records" in rest.output


# -- interactions beside the changelog ------------------------------------------------------------
#
#  Every interaction with the id it was published with, and where it ends (SCENARIO above):
#  i-a1   A  a1   A                      i-b1  B  b1   H (A took b1 with B, then lost it to H)
#  i-e1   E  e1   gone (D and E erased)  i-d1  D  d1   gone, also when it comes after the erasure
#  i-k1   K  k1   L (its survivor)       i-c2  G  c2   C (G absorbed into C)
#  i-j1   J  j1   C (J -> G -> C)        i-a2  X  a2   A (X: an id the changelog never named)
#  i-c1   C  c1   C


def _i(event_id: str, customer_id: str, ref: tuple[str, str], at: int, touchpoint_attr: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "customer_id": customer_id,
        "touchpoint": ref[0],
        "source_id": ref[1],
        "interaction": "visit",
        "occurred_at": at,
        "attributes": {"where": touchpoint_attr},
    }


INTERACTIONS = [
    _i("i-a1", "A", a1, 100, "web"),
    _i("i-b1", "B", b1, 200, "web"),
    _i("i-e1", "E", e1, 300, "chat"),
    _i("i-d1", "D", d1, 400, "web"),
    _i("i-k1", "K", k1, 500, "store"),
    _i("i-c2", "G", c2, 600, "store"),
    _i("i-j1", "J", j1, 700, "web"),
    _i("i-a2", "X", a2, 800, "chat"),
    _i("i-c1", "C", c1, 900, "store"),
    _i("i-a1", "A", a1, 100, "web"),  # a redelivery
]
EXPECTED_OWNERS = {
    "i-a1": "A",
    "i-a2": "A",
    "i-b1": "H",
    "i-c1": "C",
    "i-c2": "C",
    "i-j1": "C",
    "i-k1": "L",
}


async def test_crm_sync_keeps_each_customers_interactions_from_both_topics(
    kafka_bootstrap: str, unique_topic: str, crm_url: str
) -> None:
    interactions_topic = f"{unique_topic}-interactions"
    # The interactions first on the broker, on three partitions: many arrive before their customer's records.
    await publish_interactions(kafka_bootstrap, interactions_topic, INTERACTIONS, partitions=3)
    await publish(kafka_bootstrap, unique_topic, SCENARIO, partitions=1)
    common = ["--db", crm_url, "--topic", unique_topic, "--interactions-topic", interactions_topic]
    first = await crm_sync(kafka_bootstrap, *common, "--group", f"{unique_topic}-1", "--until-idle", IDLE)
    assert "stopped (idle): 27 records" in first.output, first.output
    assert "applied 23, repeats 2, stale 2, invalid 0, undecodable 0; 10 interactions:" in first.output
    store = open_store(crm_url)
    try:
        assert_invariants(store)
        assert event_owners(store) == EXPECTED_OWNERS
        before = (store.interactions(), store.customer_sources(), store.erased_records(), store.erased_events())
        # Nothing of D's and E's interactions is left; of their records only digests.
        assert not {"i-d1", "i-e1"} & {r.event_id for r in before[0]}
        assert before[2] == sorted(SourceRef(*r).digest() for r in (d1, e1))
    finally:
        store.close()

    # A new group reads both topics again: every record a repeat, nothing changes.
    again = await crm_sync(kafka_bootstrap, *common, "--group", f"{unique_topic}-2", "--until-idle", IDLE)
    assert "applied 0," in again.output and "stored 0," in again.output, again.output
    store = open_store(crm_url)
    try:
        assert (store.interactions(), store.customer_sources(), store.erased_records(), store.erased_events()) == before
    finally:
        store.close()

    # One customer's timeline across touchpoints, by its id or by an id absorbed into it.
    shown = await asyncio.to_thread(CliRunner().invoke, main, ["crm-sync", "--db", crm_url, "--timeline", "J"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == "customer C (J was absorbed into it): 3 interactions across KIOSK, WEB"
    assert [line.split()[2] for line in lines[1:]] == ["KIOSK", "WEB", "KIOSK"]  # i-c2, i-j1, i-c1 by time
    gone = await asyncio.to_thread(CliRunner().invoke, main, ["crm-sync", "--db", crm_url, "--timeline", "D"])
    assert gone.exit_code == 4 and "erased" in gone.output


async def test_a_missing_interactions_topic_is_named(kafka_bootstrap: str, unique_topic: str, tmp_path: Path) -> None:
    await publish(kafka_bootstrap, unique_topic, SCENARIO[:1], partitions=1)
    argv = ["crm-sync", "--bootstrap", kafka_bootstrap, "--db", f"sqlite:///{tmp_path / 'crm.db'}"]
    argv += ["--topic", unique_topic, "--interactions-topic", f"{unique_topic}-nowhere", "--until-idle", IDLE]
    result = await asyncio.to_thread(CliRunner().invoke, main, argv)
    assert result.exit_code == 3 and f"topic {unique_topic}-nowhere does not exist" in result.output
