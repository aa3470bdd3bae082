"""`irl deadletters`: list what is in the dead-letter topic, from the beginning to the current end.

Reads without a consumer group (nothing is committed, nothing is consumed for anyone else)
and exits once every partition is read up to the end it had at start. Shows, per dead letter,
when it died, the stage, the reason (personal data masked), where it came from, and the size
of the original bytes; never the bytes themselves. `--limit N` bounds the rows printed (the
newest N); every dead letter is still read, and the closing line counts the reasons of all of
them (``by reason, all N read: ...``), not only of the rows shown.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass

import click
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from streams.deadletter import DeadLetterInfo, describe, original_value
from streams.kafka_auth import options
from streams.registry import RegistryError
from streams.settings import Settings, SettingsError
from streams.topics import describe_topics

__all__ = [
    "DeadLetterListing",
    "DeadLetterRow",
    "DeadLettersUnavailable",
    "command",
    "listing",
    "read_dead_letters",
    "summary",
]


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    """One dead letter as listed: where it sits in the dead-letter topic, and what it says."""

    partition: int
    offset: int
    timestamp_ms: int
    info: DeadLetterInfo


@dataclass(frozen=True, slots=True)
class DeadLetterListing:
    """What `irl deadletters` prints: the newest rows (oldest first) and the reasons of every row read."""

    rows: list[DeadLetterRow]
    #: the number of records the topic held between its beginning and end offsets at start
    total: int
    #: every dead letter read, by reason code (not only the rows shown)
    codes: Counter[str]

    @property
    def read(self) -> int:
        """How many dead letters were read (`total` but for offsets without a record: compaction, markers)."""
        return sum(self.codes.values())


def listing(rows: list[DeadLetterRow], total: int, limit: int | None) -> DeadLetterListing:
    """The newest `limit` of `rows` (all with None), oldest first, and the reason codes of all of `rows`."""
    ordered = sorted(rows, key=lambda row: (row.info.dead_at_ms or row.timestamp_ms, row.partition, row.offset))
    shown = ordered if limit is None else ordered[-limit:] if limit else []
    return DeadLetterListing(shown, total, Counter(row.info.code for row in ordered))


class DeadLettersUnavailable(Exception):
    """The broker or the dead-letter topic cannot be read. Check the address and the topic name."""


async def read_dead_letters(
    bootstrap: str, topic: str, limit: int | None = None, timeout_s: float = 15.0
) -> DeadLetterListing:
    """Read all of `topic` up to its current end; return the last `limit` rows (oldest first) and
    the reason codes of every dead letter read.

    Raises DeadLettersUnavailable when the broker does not answer or the topic does not exist.
    """
    try:
        counts = await asyncio.wait_for(describe_topics(bootstrap, [topic]), timeout_s)
    except (KafkaError, OSError, TimeoutError) as exc:
        raise DeadLettersUnavailable(f"cannot reach Kafka at {bootstrap}: {type(exc).__name__}") from exc
    if topic not in counts:
        raise DeadLettersUnavailable(f"topic {topic} does not exist on {bootstrap}")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        **options(),
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=int(timeout_s * 1000),
    )
    try:
        await asyncio.wait_for(consumer.start(), timeout_s)
    except (KafkaError, OSError, TimeoutError) as exc:
        await consumer.stop()
        raise DeadLettersUnavailable(f"cannot reach Kafka at {bootstrap}: {type(exc).__name__}") from exc
    try:
        parts = [TopicPartition(topic, p) for p in range(counts[topic])]
        consumer.assign(parts)
        begin = await consumer.beginning_offsets(parts)
        end = await consumer.end_offsets(parts)
        total = sum(end[tp] - begin[tp] for tp in parts)
        for tp in parts:
            # Every dead letter is read, whatever the limit: the summary counts the reasons of all.
            consumer.seek(tp, begin[tp])
        rows: list[DeadLetterRow] = []
        todo = {tp for tp in parts if end[tp] > begin[tp]}
        deadline = time.monotonic() + timeout_s + total / 1000
        while todo:
            if time.monotonic() > deadline:
                raise DeadLettersUnavailable(f"timed out reading {topic} ({len(rows)} of {total} read)")
            batches = await consumer.getmany(*todo, timeout_ms=500)
            for tp, records in batches.items():
                for r in records:
                    if r.offset < end[tp]:
                        info = describe(list(r.headers), original_value(r.value))
                        rows.append(DeadLetterRow(tp.partition, r.offset, r.timestamp, info))
            for tp in list(todo):
                if await consumer.position(tp) >= end[tp]:
                    todo.discard(tp)
    finally:
        await consumer.stop()
    return listing(rows, total, limit)


def _iso(ms: int | None) -> str:
    if ms is None:
        return "?"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@click.command("deadletters")
@click.option("--limit", type=click.IntRange(0), default=None, help="Show only the newest N.")
@click.option("--topic", default=None, help="Dead-letter topic (default IRL_TOPIC_DEADLETTER).")
@click.option("--bootstrap", default=None, help="Kafka bootstrap servers (default IRL_KAFKA_BOOTSTRAP).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per dead letter instead of a table.")
@click.option("--timeout", "timeout_s", default=15.0, show_default=True, type=click.FloatRange(0.5, 600))
def command(limit: int | None, topic: str | None, bootstrap: str | None, as_json: bool, timeout_s: float) -> None:
    """List the dead letters: reason, stage, origin, time and size (personal data masked)."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    name = topic or settings.topic_deadletter
    server = bootstrap or settings.kafka_bootstrap
    try:
        found = asyncio.run(read_dead_letters(server, name, limit, timeout_s))
    except (DeadLettersUnavailable, RegistryError) as exc:
        click.echo(f"error: {exc}", err=True)
        raise click.exceptions.Exit(3) from None
    for row in found.rows:
        i = row.info
        if as_json:
            out = asdict(i)
            out.update(partition=row.partition, offset=row.offset, timestamp_ms=row.timestamp_ms)
            click.echo(json.dumps(out, ensure_ascii=False))
        else:
            origin = f"{i.source_topic}[{i.source_partition}]@{i.source_offset}"
            event = f"  event {i.event_id}" if i.event_id else ""
            size = f"{i.size} B" + (" (truncated)" if i.truncated else "")
            click.echo(f"{_iso(i.dead_at_ms or row.timestamp_ms)}  {i.stage:<8} {origin}  {size}{event}  {i.error}")
    click.echo(summary(name, found), err=as_json)


def summary(topic: str, found: DeadLetterListing) -> str:
    """The closing line: how many dead letters, how many shown, and the reasons of all read."""
    by_code = ", ".join(f"{code} {n}" for code, n in found.codes.most_common()) or "none"
    shown = f"shown {len(found.rows)} (by reason, all {found.read} read: {by_code})"
    return f"{found.total} dead letters in {topic}; {shown}"
