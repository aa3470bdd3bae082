"""The framework's own ceiling: Faust agents that do nothing, on the same topics as the worker.

Run as a child process by `bench.streaming.faust_noop` (never by users)::

    NOOP_APP_ID=... NOOP_TOPICS=a,b,c NOOP_EXPECTED=N NOOP_HOPS=1|2 NOOP_OUT=F python -m bench.faust_noop

With one hop, one agent reads the touchpoint topics (`take_events(500, within=0.05)`, the
worker's own settings) and counts. With two hops it has the worker's shape without its work:
the first agent forwards every value to a one-partition topic through the same `BatchSender`
(one record per event), the second counts them. When the count reaches N it writes
``{"events": N, "seconds": S, "events_per_s": R}`` (from the first record seen) to NOOP_OUT and exits.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

import faust

from streams.batches import BatchSender

APP_ID = os.environ.get("NOOP_APP_ID", "bench-noop")
TOPICS = [t for t in os.environ.get("NOOP_TOPICS", "").split(",") if t]
EXPECTED = int(os.environ.get("NOOP_EXPECTED", "0"))
HOPS = int(os.environ.get("NOOP_HOPS", "1"))
OUT = os.environ.get("NOOP_OUT", "")
DATADIR = os.environ.get("NOOP_DATADIR") or f"{OUT or APP_ID}.data"  # never the working directory

app = faust.App(
    APP_ID,
    broker=f"kafka://{os.environ.get('NOOP_BOOTSTRAP', '127.0.0.1:9092')}",
    store="memory://",
    datadir=DATADIR,
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    topic_allow_declare=True,
    topic_partitions=1,
    broker_commit_every=2000,
    broker_commit_interval=1.0,
    key_serializer="raw",
    value_serializer="raw",
)
source = app.topic(*TOPICS, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
inner = app.topic(f"{APP_ID}-links", partitions=1, key_type=bytes, value_type=bytes, value_serializer="raw")
sender = BatchSender(app)
_seen = {"n": 0, "first": 0.0}


def _count(n: int) -> None:
    if not _seen["first"]:
        _seen["first"] = time.monotonic()
    _seen["n"] += n
    if _seen["n"] >= EXPECTED:
        seconds = time.monotonic() - _seen["first"]
        result = {"events": _seen["n"], "seconds": seconds, "events_per_s": _seen["n"] / max(seconds, 1e-9)}
        with open(OUT, "w", encoding="utf-8") as handle:
            json.dump(result, handle)
        sys.stdout.flush()
        os._exit(0)


@app.agent(source, concurrency=1)
async def first(stream: Any) -> None:
    async for events in stream.take_events(500, within=0.05):
        if HOPS == 1:
            _count(len(events))
        else:
            await sender.send(inner.get_topic_name(), 0, [(e.message.key, e.message.value, None, ()) for e in events])


@app.agent(inner, concurrency=1)
async def second(stream: Any) -> None:
    async for events in stream.take_events(200, within=0.05):
        _count(len(events))


async def _create_inner() -> None:
    """Pre-create the one-partition topic, as `irl topics create` does for the worker's."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=os.environ.get("NOOP_BOOTSTRAP", "127.0.0.1:9092"))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(inner.get_topic_name(), num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


if __name__ == "__main__":
    if HOPS == 2:
        asyncio.run(_create_inner())
    sys.argv = ["bench-noop", "worker", "-l", os.environ.get("NOOP_LOG", "warn"), "--without-web"]
    app.main()
