"""The Faust application: two stages and a clock.

    touchpoint topics (N partitions)                       irl-resolver-links (1 partition)
    irl.touchpoint.{web,whatsapp,kiosk} ──▶ [triage] ───▶  events + ticks ──▶ [resolve] ──▶ irl.customers.resolved
                                              │                                   │
                                              └─▶ irl.deadletter                  ├─▶ table irl-state (changelog)
                           [clock] leader timer ─▶ tick ─────┘                    └─▶ Redis read model

* **triage** (parallel, one per touchpoint partition): decode + validate the raw bytes
  (Confluent wire format, writer schemas fetched from the registry by id, see streams.codec);
  valid events go on, byte for byte, to the one-partition links topic; everything else
  goes to the dead-letter topic with its original bytes and the reason.
* **resolve** (single writer, the links topic's only partition): owns the union-find
  (`streams.pipeline.Pipeline`), writes each step ahead into the `irl-state` table, sends
  the batch of each closed window, mirrors to Redis.
* **clock**: the leader sends a tick every `IRL_TICK_SECONDS`; windows close on the
  tick's wall-clock time when no events arrive.

Run with ``irl worker`` or ``faust -A streams.app worker``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import faust
from faust.types import TP

from resolver.config import ResolverConfig
from resolver.interaction import Limits
from streams.batches import BatchSender, OutRecord
from streams.codec import Codecs, decode_interaction, use
from streams.deadletter import DeadLetterReason, classify, dead_letter
from streams.kafka_auth import client_options, faust_credentials
from streams.pipeline import Pipeline, Step
from streams.readmodel import RedisReadModel
from streams.registry import RegistryError
from streams.runtime import Runtime
from streams.settings import Settings
from streams.stall import StallWatch, task_stacks
from streams.state_store import TableStateLog, read_state
from streams.topics import STATE_CONFIG, state_topic_name, table_topic_name
from streams.web import install as install_web
from streams.web import record_published

__all__ = ["app", "create_app"]

log = logging.getLogger("irl.worker")

KIND_HEADER = "irl.kind"
TRIAGE_BATCH = 500
RESOLVE_BATCH = 200
#: Longest a stop may take once begun (then the process exits, see `_App`).
STOP_GRACE_S = 30.0
#: Largest state record (a step's write-ahead record) the table's changelog accepts.
MAX_RECORD_BYTES = 16 * 1024 * 1024
#: Longest a takeover may spend reading the state topic.
RESTORE_TIMEOUT_S = 900.0


def resolver_config(settings: Settings) -> ResolverConfig:
    """The core's configuration from the shell's settings (the core never reads settings)."""
    return ResolverConfig(
        default_region=settings.default_region,
        hub_threshold=settings.hub_threshold,
        duplicate_horizon_ms=settings.duplicate_horizon_days * 86_400_000,
        **settings.digest_keys(),
    )


class _App(faust.App):
    """Faust's App, with a stop that cannot hang.

    With the broker gone, Faust's stop waits for ever on the consumer's final commit (a
    SIGTERM was seen to leave the worker running for minutes). Once the stop has begun, a
    watchdog ends the process after `STOP_GRACE_S`. Nothing is lost by it: offsets not
    committed are read again by the next owner, and the single writer's steps are written
    ahead and idempotent.
    """

    async def on_stop(self) -> None:
        _stop_watchdog(STOP_GRACE_S)
        await super().on_stop()


def _stop_watchdog(seconds: float) -> None:
    def expire() -> None:
        log.error("the worker did not stop within %.0fs (broker unreachable?): exiting now", seconds)
        logging.shutdown()
        os._exit(75)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def create_app(settings: Settings) -> faust.App:
    """Build the Faust app, its topics, agents, timer and health views."""
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    app = _App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=faust_credentials(settings),
        store=settings.store,
        datadir=settings.data_dir,
        web_enabled=True,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        web_host=settings.web_host,
        web_tables_enabled=False,
        web_router_enabled=False,
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=True,
        topic_partitions=1,
        table_standby_replicas=0,
        stream_wait_empty=False,
        producer_max_request_size=MAX_RECORD_BYTES,
        broker_commit_every=2000,
        broker_commit_interval=1.0,
        key_serializer="raw",
        value_serializer="raw",
        # A killed worker's partitions move after this long (Faust's 60 s default would stall
        # the single writer for a minute after every crash).
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=max(1, settings.session_timeout_seconds // 5),
    )
    rt = Runtime(settings)
    app.irl = rt  # type: ignore[attr-defined]
    security = client_options(settings)
    window_ms = settings.window_seconds * 1000
    grace_ms = settings.grace_seconds * 1000
    config = resolver_config(settings)
    limits = Limits(max_string=settings.max_string)
    codecs = Codecs.from_settings(settings)
    use(codecs)  # decode_interaction and classify read with these

    def encode_dead_letter(record: Any) -> bytes:
        return codecs.dead_letter.encode(record, settings.topic_deadletter)

    async def fetch_schemas(values: list[Any]) -> None:
        """Have every writer schema these values need (asking the registry off the loop); wait while it is away.

        A record must not be dead-lettered because the registry did not answer: nothing goes on
        until it does (the records stay uncommitted; the stall watch catches a writer kept waiting).
        """
        delay = 0.5
        while True:
            try:
                await codecs.prefetch(values)
                return
            except RegistryError as exc:
                rt.stats["registry_errors"] += 1
                log.warning("schema registry: %s; trying again in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    touchpoints = app.topic(
        settings.topic_web,
        settings.topic_whatsapp,
        settings.topic_kiosk,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        acks=True,
    )
    links = app.topic(
        f"{settings.app_id}-links",
        partitions=1,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    deadletters = app.topic(settings.topic_deadletter, partitions=1, key_serializer="raw", value_serializer="raw")
    state_name = state_topic_name(settings)
    state_table = app.Table(
        "irl-state",
        default=None,
        partitions=1,
        # The writer fills the table itself and keeps it durable in its own write-ahead log
        # (`state_name`), which it reads back once at takeover (streams.state_store). Faust's
        # own changelog for the table is never written, so Faust's recovery of it is empty:
        # it replayed the log record by record (75 s at 70k identifiers, BENCHMARKS.md) and
        # once restored a wrong state (docs/reliability.md, bug 4).
        changelog_topic=app.topic(
            table_topic_name(settings),
            partitions=1,
            key_type=bytes,
            value_type=bytes,
            config=dict(STATE_CONFIG),
        ),
        key_type=bytes,
        value_type=bytes,
    )

    sender = BatchSender(app)
    links_name = links.get_topic_name()
    links_tp = TP(links_name, 0)
    stall = StallWatch(settings.stall_seconds)

    async def flush_state() -> None:
        """Send the state records queued by the state log, in order, on partition 0."""
        assert rt.state is not None
        records = rt.state.take_outgoing()
        if records:
            await sender.send(rt.state.changelog_topic, 0, [(k, v, None, ()) for k, v in records])

    async def publish(outputs: list[tuple[bytes, bytes]]) -> None:
        """Send changelog records for the CRM and wait until the broker has them all."""
        futures = await sender.send_keyed(settings.topic_resolved, [(k, v, None, ()) for k, v in outputs])
        await asyncio.gather(*futures)

    @app.task  # type: ignore[untyped-decorator]
    async def look_up_schema_ids() -> None:
        """Learn the ids we write with before the first record needs one (`irl worker` checked they exist)."""
        try:
            await codecs.prepare(
                {"resolved_customer": [settings.topic_resolved], "dead_letter": [settings.topic_deadletter]}
            )
        except RegistryError as exc:  # the first send asks again, and fails there if it must
            log.error("schema registry at %s: %s", settings.schema_registry_url, exc)

    # -- stage 1: triage ----------------------------------------------------------------------

    @app.agent(touchpoints, concurrency=1)
    async def triage(stream: Any) -> None:
        async for events in stream.take_events(TRIAGE_BATCH, within=0.05):
            await fetch_schemas([event.message.value for event in events])
            now_ms = int(time.time() * 1000)
            bounded = dataclasses.replace(limits, now_ms=now_ms)
            forward: list[OutRecord] = []
            for event in events:
                msg = event.message
                value = msg.value
                verdict = classify(value, bounded)
                headers = _headers(msg.headers)
                if isinstance(verdict, DeadLetterReason):
                    dl = dead_letter(
                        msg.topic,
                        msg.partition,
                        msg.offset,
                        msg.key,
                        value,
                        headers,
                        verdict.stage,
                        verdict.reason,
                        now_ms,
                        encode=encode_dead_letter,
                    )
                    await deadletters.send(key=dl.key, value=dl.value, headers=dl.headers)
                    rt.stats["dead_letters"] += 1
                    log.warning("dead letter from %s[%s]@%s: %s", msg.topic, msg.partition, msg.offset, verdict.code)
                    continue
                forward.append(
                    (
                        msg.key,
                        value,
                        None,  # append time: the event time is in the payload, and retention must not see 2019
                        [(KIND_HEADER, b"event"), ("irl.source", f"{msg.topic}/{msg.partition}/{msg.offset}".encode())],
                    )
                )
            if forward:
                await sender.send(links_name, 0, forward)
                rt.stats["events_triaged"] += len(forward)

    # -- stage 2: resolve (single writer) -------------------------------------------------------

    async def table_recovered() -> None:
        """Wait until Faust has finished rebalancing and recovering the table from its changelog."""
        recovery = app.tables.recovery  # type: ignore[attr-defined]
        while app.rebalancing or recovery.in_recovery or not recovery.completed.is_set():
            await asyncio.sleep(0.05)

    async def ensure_pipeline() -> Pipeline | None:
        """The single writer's pipeline, restored from its state topic; None if the links partition moved away.

        The writer folds its write-ahead state topic to its end itself (one read, batched) and
        makes the table hold exactly that (see streams.state_store). The previous owner cannot
        write any more: it was fenced and flushed before the group gave us the partition
        (`on_revoked`), or it is dead.
        """
        if rt.pipeline is None:
            await table_recovered()
            epoch = rt.writer_epoch
            if not rt.owns_links:
                return None
            t0 = time.monotonic()
            data = await read_state(
                settings.kafka_bootstrap, state_name, timeout_s=RESTORE_TIMEOUT_S, security=security
            )
            if epoch != rt.writer_epoch or not rt.owns_links:
                return None
            state = TableStateLog(state_table, state_name)
            state.replace(data)
            wal = state.redo()
            rt.state = state
            await flush_state()
            rt.pipeline = Pipeline(config, window_ms, grace_ms, state.records(), resolved_topic=settings.topic_resolved)
            rt.applied_offset = -1 if wal is None else wal.offset
            if wal is not None and wal.outputs:
                # The last step may have been cut short after its write-ahead record: send its
                # outputs again (byte-identical; connectors deduplicate by change_id).
                await publish(wal.outputs)
            log.info(
                "resolver state restored: %d customers, applied offset %d, in %.2fs (%d state records)",
                len(rt.pipeline.resolver.customer_ids()),
                rt.applied_offset,
                time.monotonic() - t0,
                len(data),
            )
            await check_redis(force=False)
            rt.recovered = True
        return rt.pipeline

    async def read_again_from(expected: int) -> None:
        """Move the links consumer back to `expected`, the next offset to apply (at most once a second).

        Records buffered across a rebalance can be dropped by Faust or come out of order; the
        group's committed offset is not trusted to bring them back. If retention already
        deleted `expected` from the log nobody can apply it: say so and go on from the start.
        """
        now = time.monotonic()
        if rt.gap == expected and now - rt.gap_sought_at < 1.0:
            return
        earliest = (await app.consumer.earliest_offsets(links_tp)).get(links_tp, 0)
        if earliest > expected:
            log.error("links log starts at %d, after unapplied offset %d: lost to retention", earliest, expected)
            rt.applied_offset = earliest - 1
            rt.gap = None
            return
        if rt.gap != expected:
            log.warning("links offset %d was not delivered in order: reading the log again from it", expected)
        rt.gap, rt.gap_sought_at = expected, now
        await app.consumer.seek_wait({links_tp: expected})
        _allow_reread(app.consumer, links_tp, expected)

    async def read_again_safely(expected: int) -> None:
        try:
            await read_again_from(expected)
        except Exception as exc:  # a rebalance in progress, the broker away: the clock retries
            log.warning("could not read the links log again from %d (%s); will retry", expected, exc)

    async def write_step(step: Step, epoch: int) -> None:
        """Make one step durable, publish it, mirror it; never for a writer whose partition moved."""
        assert rt.state is not None
        if epoch != rt.writer_epoch:
            raise _Fenced
        rt.state.write(step)
        await flush_state()
        if step.outputs:
            await publish(step.outputs)
            rt.stats["records_published"] += len(step.outputs)
            rt.stats["last_publish_ms"] = int(time.time() * 1000)
            rt.stats["last_window_end"] = step.records[-1]["window_end"] if step.records else None
            record_published(rt, step.records)
        if step.closed:
            rt.stats["windows_published"] += len(step.closed)
            rt.stats["last_window_end"] = step.closed[-1].end
        await mirror(step)

    async def mirror(step: Step) -> None:
        if rt.redis is None or rt.pipeline is None:
            return
        if not step.touched and not step.removed and not step.forget:
            return
        resolver = rt.pipeline.resolver
        profiles: dict[str, dict[str, Any] | None] = {}
        for cid in sorted(step.touched):
            p = resolver.profile(cid)
            profiles[cid] = None if p is None else p.to_record()
        if rt.redis_offset is None:
            return  # Redis is behind or unreachable: check_redis rebuilds it on the next tick
        try:
            # Only on top of the offset we last wrote: after a FLUSHALL or a restart of Redis a
            # plain write would set meta.offset on a partial model and hide the loss from check_redis.
            if await rt.redis.apply_if_at(rt.redis_offset, profiles, step.removed, step.offset, step.forget):
                rt.redis_offset = step.offset
            else:
                log.warning("redis read model not at offset %d (flushed, restarted): rebuild", rt.redis_offset)
                rt.redis_offset = None
        except Exception as exc:  # Redis is a read model: the tables stay right, rebuild later
            log.warning("redis mirror failed (%s); will rebuild", type(exc).__name__)
            rt.redis_offset = None

    async def check_redis(force: bool) -> None:
        """Rebuild Redis from the tables when it is empty, flushed, behind or ahead; else mark it current.

        ``P:meta.offset`` says which links offset Redis reflects. While we mirror every step,
        it stays what we last wrote (`rt.redis_offset`); anything else (a FLUSHALL, a Redis
        restart, a worker restarted with Redis at another offset) means rebuild.
        """
        if rt.pipeline is None:
            return
        if rt.redis is None:
            rt.redis = RedisReadModel.from_url(settings.redis_url, settings.topic_prefix, settings.redis_ca_file)
        try:
            have = await rt.redis.offset()
            in_sync = have is not None and have in (rt.redis_offset, rt.applied_offset)
            if not force and in_sync:
                if have != rt.applied_offset:
                    await rt.redis.mark(rt.applied_offset)  # steps without visible changes
                rt.redis_offset = rt.applied_offset
                return
            t0 = time.monotonic()
            n = await rt.redis.rebuild(rt.pipeline.mirror_records(), (), rt.applied_offset)
            rt.redis_offset = rt.applied_offset
            rt.stats["redis_rebuilds"] += 1
            log.info(
                "redis read model rebuilt from the tables: %d customers (offset %d) in %.2fs",
                n,
                rt.applied_offset,
                time.monotonic() - t0,
            )
        except Exception as exc:
            log.warning("redis unavailable (%s); the tables remain the source of truth", type(exc).__name__)
            rt.redis_offset = None

    @app.agent(links, concurrency=1)
    async def resolve(stream: Any) -> None:
        async for events in stream.take_events(RESOLVE_BATCH, within=0.05):
            if not rt.owns_links:
                # Buffered before a revocation: never commit them; the next owner reads them again.
                _never_commit(events)
                continue
            try:
                pipeline = await ensure_pipeline()
                if pipeline is None:
                    _never_commit(events)
                    continue
                epoch = rt.writer_epoch
                await fetch_schemas([event.message.value for event in events])
                async with rt.writer_lock:
                    gap = await apply_batch(pipeline, events, epoch)
                if gap is not None:
                    await read_again_safely(gap)
                elif rt.gap is not None and rt.applied_offset >= rt.gap:
                    rt.gap = None
            except _Fenced:
                _never_commit(events)
                log.info("links partition revoked mid-batch: the rest is left to the next owner")
            except Exception:
                # A bug in the single writer must neither skip nor lose events: stop the process
                # before these events are acknowledged; a restart resumes from the last commit.
                log.critical(
                    "the resolver failed; exiting so that a restart replays from the last commit", exc_info=True
                )
                logging.shutdown()
                os._exit(70)

    async def apply_batch(pipeline: Pipeline, events: list[Any], epoch: int) -> int | None:
        """Apply links records strictly in offset order from `rt.applied_offset + 1`.

        A record already applied is skipped. A record past the next offset (records buffered
        across a rebalance arrive late or early) is not applied and, like every record this
        writer did not apply, never committed. Returns the next offset when it stopped at such
        a gap (the caller reads the log again from there).
        """
        if epoch != rt.writer_epoch:
            raise _Fenced
        batch: list[Any] = []
        last_offset = rt.applied_offset
        for i, event in enumerate(events):
            msg = event.message
            if msg.offset <= last_offset:
                continue  # already applied (before a restart, or delivered twice)
            if msg.offset != last_offset + 1:
                _never_commit(events[i:])
                if batch:
                    await run_events(pipeline, last_offset, batch, epoch)
                return last_offset + 1
            kind = _header(msg.headers, KIND_HEADER)
            if kind == b"tick":
                if batch:
                    await run_events(pipeline, last_offset, batch, epoch)
                    batch = []
                now_ms = json.loads(msg.value)["now"]
                for step in pipeline.on_tick(msg.offset, now_ms):
                    await write_step(step, epoch)
                rt.applied_offset = msg.offset
                await check_redis(force=False)
            elif kind == b"action":
                if batch:
                    await run_events(pipeline, last_offset, batch, epoch)
                    batch = []
                action = json.loads(msg.value)
                for step in pipeline.on_action(msg.offset, action):
                    for note in step.notes:
                        log.info("action %s by %s: %s", action.get("action_id"), action.get("actor"), note)
                    await write_step(step, epoch)
                rt.applied_offset = msg.offset
            else:
                batch.append(decode_interaction(msg.value))
            last_offset = msg.offset
        if batch:
            await run_events(pipeline, last_offset, batch, epoch)
        return None

    async def run_events(pipeline: Pipeline, offset: int, batch: list[Any], epoch: int) -> None:
        for step in pipeline.on_events(offset, batch):
            await write_step(step, epoch)
            rt.stats["events_applied"] += step.events - step.duplicates
            rt.stats["duplicates"] += step.duplicates
        rt.applied_offset = offset

    # Every worker ticks (not only the leader): ticks are idempotent (the clock is a maximum),
    # and windows keep closing while leadership moves between workers.
    @app.timer(interval=settings.tick_seconds)  # type: ignore[untyped-decorator]
    async def clock() -> None:
        now_ms = int(time.time() * 1000)
        await links.send(key=b"tick", value=json.dumps({"now": now_ms}).encode(), headers=[(KIND_HEADER, b"tick")])
        if rt.gap is not None and rt.owns_links and rt.pipeline is not None:
            # The records after the gap may all have come already: nothing else would seek again.
            await read_again_safely(rt.gap)

    # Its own timer, awaiting nothing: a writer stuck on a send would hold the clock too.
    @app.timer(interval=min(5.0, settings.stall_seconds / 4))  # type: ignore[untyped-decorator]
    async def watch_stall() -> None:
        """Never stall silently: records waiting and nothing applied for `stall_seconds` ends the process."""
        now = time.monotonic()
        end: int | None = None
        if not (rt.owns_links and rt.pipeline is not None):
            stall.observe(now, rt.applied_offset, None)
        else:
            try:
                got = app.consumer.highwater(links_tp)
            except Exception:  # no fetch yet: unknown, not waiting
                got = None
            end = got if isinstance(got, int) and got >= 0 else None
            if stall.observe(now, rt.applied_offset, end):
                log.critical(
                    "the single writer applied nothing for %.0f s with records waiting (applied offset %d, "
                    "log end %s); exiting so that a restart reads on from its state. Tasks:\n%s",
                    stall.stalled_for(now),
                    rt.applied_offset,
                    end,
                    task_stacks(),
                )
                logging.shutdown()
                os._exit(75)
        rt.stats["stalled_s"] = round(stall.stalled_for(now), 1)
        if rt.owns_links and now - rt.progress_logged_at >= _PROGRESS_LOG_S:
            rt.progress_logged_at = now
            log.info(
                "writer: applied offset %d, links log end %s, idle with records waiting %.0f s",
                rt.applied_offset,
                end,
                stall.stalled_for(now),
            )

    async def send_action(action: dict[str, Any]) -> None:
        """Queue an operator action for the single writer (applied in log order, audited)."""
        fut = await links.send(
            key=b"action", value=json.dumps(action, sort_keys=True).encode(), headers=[(KIND_HEADER, b"action")]
        )
        await fut

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(app: faust.App, revoked: Any, **kwargs: Any) -> None:
        # Another worker may own the links partition next. Fence this writer (no step of the old
        # epoch is written from now on) and wait for the step in flight to finish its sends, so
        # that the next owner, which can only be assigned after this returns, reads every record
        # this one wrote. Rebuild from the table when the partition comes back.
        if any(tp.topic == links_name for tp in revoked):
            rt.owns_links = False
            rt.writer_epoch += 1
            rt.gap = None
            async with rt.writer_lock:
                rt.pipeline = None
                rt.state = None
                rt.recovered = False
            await app.producer.flush()  # every state record of the last step is in the topic

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(app: faust.App, assigned: Any, **kwargs: Any) -> None:
        rt.owns_links = any(tp.topic == links_name for tp in assigned)
        rt.assigned = True

    # -- on-call web views (auth, lookups, explanations, stats, actions) -----------------------

    install_web(app, rt, settings, send_action)

    return app


def _allow_reread(consumer: Any, tp: TP, offset: int) -> None:
    """Let Faust deliver `tp` again from `offset` after a `seek_wait`.

    Faust drops every fetched record below its read offset ("DROPPED MESSAGE ROFF" in
    `Consumer._drain_messages`), and `seek_wait` moves the fetch position without lowering
    that read offset (only `Consumer.seek` does): without this, records re-read at a gap
    are dropped for as long as the read offset is past them, and the writer waits for ever.
    """
    read = getattr(consumer, "_read_offset", None)
    if read is None:
        log.error("this Faust has no consumer read offset: a re-read at a gap may be dropped")
        return
    read[tp] = offset if offset else None


#: How often the writer logs its progress (applied offset, log end).
_PROGRESS_LOG_S = 30.0


def _never_commit(events: Any) -> None:
    """Keep these records out of the group's committed offset: they were not applied.

    Faust commits every acknowledged record and `take_events` acknowledges the whole batch
    it yielded; a message already marked acked is skipped by `Message.ack` (faust-streaming
    0.15), so it is never counted as done. The group reads it again after a rebalance.
    """
    for event in events:
        event.message.acked = True


class _Fenced(Exception):
    """The links partition was revoked: this writer's steps must not be written any more."""


def _headers(raw: Any) -> list[tuple[str, bytes]]:
    if not raw:
        return []
    items = raw.items() if isinstance(raw, dict) else raw
    return [(str(k), bytes(v) if v is not None else b"") for k, v in items]


def _header(raw: Any, name: str) -> bytes | None:
    for k, v in _headers(raw):
        if k == name:
            return v
    return None


app = create_app(Settings.from_env())
