"""`irl erasure-status CUSTOMER_ID`: has an erasure reached every copy of the person's data?

Reads, without a consumer group: the erasure's receipt (`<app id>-erasures`, written by the
worker once the dead letters are purged and the links log and state topic before the
erasure are deleted), the log start offsets of the links log and the state topic, the
customer's records in the resolved and interactions topics (the partition its key hashes
to), the partitions of the effects and per-customer state topics that held effects of the
customer or of an id absorbed into it (the receipt's ``absorbed_ids``: the first readable
record of each, and its links offset), and Redis. Prints one line per copy (docs/privacy.md):
done, or pending and until when.
Exit status: 0 every copy done; 2 something pending; 3 Kafka could not be read; 4 no erasure
of the id is known (no receipt, no ``ERASED`` record: never erased, mistyped, or requested a
moment ago), nothing else printed but why.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from streams.erasure_status import ErasureFacts, Horizons, PartitionFacts, erasure_report, none_known
from streams.kafka_auth import client_options
from streams.settings import Settings, SettingsError

__all__ = ["command", "gather_facts", "horizons_of"]

_HOUR_MS = 3_600_000


def horizons_of(settings: Settings) -> Horizons:
    return Horizons(
        int(settings.touchpoint_retention_hours * _HOUR_MS),
        int(settings.interactions_retention_hours * _HOUR_MS),
        int(settings.resolved_compaction_lag_hours * _HOUR_MS),
    )


async def gather_facts(settings: Settings, customer_id: str, timeout_s: float = 60.0) -> ErasureFacts:
    """Read what `streams.erasure_status.erasure_report` decides on. Raises KafkaError, TimeoutError."""
    from streams.app import links_topic_name
    from streams.codec import decode_resolved
    from streams.topics import (
        customers_state_topic_name,
        effects_topic_name,
        erasures_topic_name,
        records_to_end,
        state_topic_name,
    )

    security = client_options(settings)
    key = customer_id.encode()
    receipt: dict[str, Any] | None = None
    async for rec in records_to_end(
        settings.kafka_bootstrap, erasures_topic_name(settings), timeout_s, security=security
    ):
        if rec.key == key:
            receipt = None if rec.value is None else json.loads(rec.value)
    starts = await _log_starts(settings, [links_topic_name(settings), state_topic_name(settings)])
    # Her id and the ids absorbed into her before the erasure (the receipt's): their older records and
    # effects hold her data too, each in the partition its id hashes to.
    ids = [customer_id] if receipt is None else [str(receipt.get("customer_id") or customer_id)]
    ids += [] if receipt is None else [str(a) for a in receipt.get("absorbed_ids") or ()]
    resolved = [
        (decode_resolved(r.value)["change"], r.timestamp)
        for r in await _records_of_keys(settings, settings.topic_resolved, ids, timeout_s)
    ]
    interactions = [r.timestamp for r in await _records_of_keys(settings, settings.topic_interactions, ids, timeout_s)]
    effects = await _partition_facts(settings, effects_topic_name(settings), ids, _first_position, timeout_s)
    state = await _partition_facts(settings, customers_state_topic_name(settings), ids, _oldest_snapshot, timeout_s)
    return ErasureFacts(
        receipt,
        starts.get(links_topic_name(settings)),
        starts.get(state_topic_name(settings)),
        await _in_redis(settings, customer_id),
        resolved,
        interactions,
        _snapshot_files(settings),
        effects=effects,
        customers_state=state,
    )


#: What `_partition_facts` reads of one partition: (links offset of its oldest data or None, known)
_Reader = Callable[[AIOKafkaConsumer, TopicPartition, int, float], Awaitable[tuple[int | None, bool]]]


async def _partition_facts(
    settings: Settings, topic: str, ids: list[str], read: _Reader, timeout_s: float
) -> list[PartitionFacts] | None:
    """For each partition these ids hash to: its log start and end, and what ``read`` finds there. None: no topic."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, **client_options(settings)
    )
    await consumer.start()
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))
        if not partitions:
            return None
        held = sorted({DefaultPartitioner()(i.encode(), partitions, partitions) for i in ids})
        tps = [TopicPartition(topic, p) for p in held]
        consumer.assign(tps)
        starts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        out: list[PartitionFacts] = []
        for tp in tps:
            first, known = None, True
            if starts[tp] < ends[tp]:
                first, known = await read(consumer, tp, ends[tp], timeout_s)
            out.append(PartitionFacts(tp.partition, starts[tp], ends[tp], first, known))
        return out
    finally:
        await consumer.stop()


async def _records_from_start(
    consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, timeout_s: float, batch: int = 500
) -> AsyncIterator[Any]:
    """The partition's records from its log start to ``end``, in order (``tp`` assigned to ``consumer``)."""
    await consumer.seek_to_beginning(tp)
    deadline = time.monotonic() + timeout_s
    while await consumer.position(tp) < end:
        if time.monotonic() > deadline:
            raise TimeoutError(f"reading {tp.topic} did not finish within {timeout_s:.0f}s")
        got = await consumer.getmany(tp, timeout_ms=1000, max_records=batch)
        for r in got.get(tp, []):
            if r.offset < end:
                yield r


async def _first_position(
    consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, timeout_s: float
) -> tuple[int | None, bool]:
    """The links offset of the effects partition's first readable record (its ``irl.position`` header)."""
    from resolver.effect_feed import decode_position
    from streams.customers import POSITION_HEADER

    async for r in _records_from_start(consumer, tp, end, timeout_s):
        header = dict(r.headers or ()).get(POSITION_HEADER)
        try:
            return (None, False) if header is None else (decode_position(header).offset, True)
        except ValueError:
            return None, False
    return None, True


async def _oldest_snapshot(
    consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, timeout_s: float
) -> tuple[int | None, bool]:
    """The last links offset of the oldest snapshot readable in a per-customer state partition.

    Snapshots follow each other in the partition (`streams.customer_state`): the first chunk
    readable names the oldest; a later chunk of a snapshot whose first is gone cannot be dated.
    """
    async for r in _records_from_start(consumer, tp, end, timeout_s):
        parts = (r.key or b"").split(b"/")
        if r.value is None or len(parts) != 3:
            continue  # a tombstone or a manifest: no customer's data
        if int(parts[2]) != 0:
            return None, False
        last = json.loads(r.value.partition(b"\n")[0])
        return (None if last is None else int(last[0])), True
    return None, True


async def _log_starts(settings: Settings, topics: list[str]) -> dict[str, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, **client_options(settings))
    await consumer.start()
    try:
        tps = [TopicPartition(t, 0) for t in topics]
        return {tp.topic: offset for tp, offset in (await consumer.beginning_offsets(tps)).items()}
    finally:
        await consumer.stop()


async def _records_of_keys(settings: Settings, topic: str, ids: list[str], timeout_s: float) -> list[Any]:
    """The records of these keys, each in the partition it hashes to (murmur2, as the worker sends them)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, **client_options(settings)
    )
    await consumer.start()
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))
        if not partitions:
            return []
        keys = {i.encode() for i in ids}
        held = sorted({DefaultPartitioner()(k, partitions, partitions) for k in keys})
        tps = [TopicPartition(topic, p) for p in held]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        out: list[Any] = []
        for tp in tps:
            out.extend(
                [r async for r in _records_from_start(consumer, tp, ends[tp], timeout_s, 10_000) if r.key in keys]
            )
        return out
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


async def _in_redis(settings: Settings, customer_id: str) -> bool | None:
    from streams.readmodel import RedisReadModel

    model = RedisReadModel.from_url(settings.redis_url, settings.topic_prefix, settings.redis_ca_file)
    try:
        return await model.customer(customer_id) is not None
    except Exception:
        return None
    finally:
        await model.close()


def _snapshot_files(settings: Settings) -> int:
    """Snapshot files of this app on this host (a worker removes each once stored)."""
    folder = Path(settings.data_dir) / "snapshots" / settings.app_id
    return len(list(folder.glob("snapshot-*"))) if folder.is_dir() else 0


def _iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@click.command("erasure-status")
@click.argument("customer_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per copy instead of a table.")
@click.option("--timeout", "timeout_s", default=60.0, show_default=True, type=click.FloatRange(1, 3600))
def command(customer_id: str, as_json: bool, timeout_s: float) -> None:
    """Say, copy by copy, whether the erasure of CUSTOMER_ID is done or pending, and until when."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        facts = asyncio.run(gather_facts(settings, customer_id, timeout_s))
    except (KafkaError, OSError, TimeoutError, LookupError) as exc:
        click.echo(f"error: cannot read Kafka at {settings.kafka_bootstrap}: {type(exc).__name__}: {exc}", err=True)
        raise click.exceptions.Exit(3) from None
    unknown = none_known(facts)
    if unknown is not None:
        if as_json:
            click.echo(json.dumps({"copy": "erasure", "state": "none known", "until_ms": None, "detail": unknown}))
        click.echo(
            f"no erasure of {customer_id} is known (no receipt from the worker, no ERASED record): {unknown}."
            " A request made in the last seconds may still be applying: run again.",
            err=as_json,
        )
        raise click.exceptions.Exit(4)
    rows = erasure_report(facts, horizons_of(settings), int(time.time() * 1000))
    for row in rows:
        if as_json:
            click.echo(json.dumps(asdict(row)))
        else:
            until = f" until {_iso(row.until_ms)}" if row.until_ms else ""
            click.echo(f"{row.copy:<20} {row.state:<8}{until}  {row.detail}")
    pending = [row for row in rows if row.state != "done"]
    if pending:
        latest = max((row.until_ms for row in pending if row.until_ms), default=None)
        by = f" (the last by {_iso(latest)})" if latest else ""
        click.echo(f"erasure of {customer_id}: {len(pending)} of {len(rows)} copies pending{by}", err=as_json)
        raise click.exceptions.Exit(2)
    click.echo(f"erasure of {customer_id}: complete", err=as_json)
