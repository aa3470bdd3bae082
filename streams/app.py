"""The worker: two stages, a clock and the on-call views, hosted by a Faust app.

    touchpoint topics (N partitions)                      <app>-links (1 partition)
    irl.touchpoint.{web,whatsapp,kiosk} ──▶ [triage] ───▶ batches of events ──▶ [sequencer] ──▶ irl.customers.resolved
                                              │            + ticks, actions            │
                                              └─▶ irl.deadletter                       ├─▶ state topic (snapshots)
                           [clock] timer ─▶ tick ─────────┘                            └─▶ Redis read model

* **triage** (`streams.triage`, every worker, consumer group ``<app id>``): decode and
  validate each touchpoint record (Confluent wire format, writer schemas fetched from the
  registry by id); valid events go on in batches, one links record per batch; everything
  else goes to the dead-letter topic with its original bytes and the reason.
* **sequencer** (`streams.sequencer`, the worker holding the links log's only partition):
  owns the union-find (`streams.pipeline.Pipeline`), sends the batch of each closed window,
  mirrors to Redis (`streams.mirror`), and stores a snapshot of its state in the state topic
  now and then (`streams.snapshots`); it recovers from the snapshot and the log's tail.
* **clock**: every worker sends a tick every `IRL_TICK_SECONDS`; windows close on the
  tick's wall-clock time when no events arrive.

Both stages read with their own consumer loops (`streams.loops`): the framework is paid per
fetch, not per record. Faust hosts them (tasks, timers, the producer, the web server, the
lifecycle). Nothing is built at import: `build_app(settings)` builds an app, and the module
attribute ``app`` (what ``faust -A streams.app worker`` and ``irl worker`` use) builds one
from the environment on first use.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import faust
from aiokafka import TopicPartition
from faust.tables import TableManager

from resolver.interaction import Interaction, Limits
from streams.batches import MAX_RECORD_BYTES, BatchSender
from streams.codec import Codecs, use
from streams.customer_loop import run_customers
from streams.customer_process import CustomerProcess
from streams.customers import POSITION_HEADER
from streams.deadletter import reused_id_letter
from streams.kafka_auth import client_options, faust_credentials
from streams.linkbatch import ACTION, KIND_HEADER, TICK
from streams.loops import clock_held, run_sequencer, run_triage, worker_instance
from streams.mentions import ErasedPerson
from streams.mirror import RedisMirror
from streams.purge import purge_dead_letters
from streams.registry import RegistryError
from streams.runtime import Runtime
from streams.sequencer import EffectOut, Ports, Sequencer
from streams.settings import Settings, resolver_config
from streams.snapshots import BackgroundSnapshot, read_stored_state
from streams.stall import LoopWatch, StallWatch, rebalance_overdue, revoke_overdue, task_stacks
from streams.topics import (
    delete_records_before,
    effects_topic_name,
    end_offset,
    erasures_topic_name,
    links_topic_name,
    state_topic_name,
)
from streams.triage import Triage
from streams.triage_process import TriageKafka, TriageProcesses
from streams.web import install as install_web
from streams.web import record_published

__all__ = ["build_app", "build_sequencer", "create_app", "links_topic_name", "resolver_config"]

log = logging.getLogger("irl.worker")

#: Longest a stop may take once begun (then the process exits, see `_App`).
STOP_GRACE_S = 30.0
#: Longest a takeover may spend reading the state topic.
RESTORE_TIMEOUT_S = 900.0
#: How often the ordered stage logs its progress (applied offset, log end).
_PROGRESS_LOG_S = 30.0


class _App(faust.App):
    """Faust's App, with a stop that cannot hang.

    With the broker gone, Faust's stop waits for ever on the consumer's final commit (a
    SIGTERM was seen to leave the worker running for minutes). Once the stop has begun, a
    watchdog ends the process after `STOP_GRACE_S`. Nothing is lost by it: offsets not
    committed are read again, and the ordered stage's steps are written ahead and idempotent.
    """

    async def on_stop(self) -> None:
        _stop_watchdog(STOP_GRACE_S)
        rt: Runtime | None = getattr(self, "irl", None)
        if rt is not None:
            # The stages first: they finish the step in flight while the producer still runs.
            rt.stopping.set()
            waits = [done.wait() for done in rt.stages_done]
            if waits:
                try:
                    await asyncio.wait_for(asyncio.gather(*waits), STOP_GRACE_S / 2)
                except TimeoutError:
                    log.warning("a stage did not stop within %.0fs; stopping the rest anyway", STOP_GRACE_S / 2)
        await super().on_stop()


class _Tables(TableManager):
    """Faust's table manager without its one-second wait at start.

    Faust sleeps a second before its table recovery so that tables declared late register
    first, and the app's tasks (both stages, the clock, the children) start only after that
    recovery. This app declares no table (`build_app` builds everything before the worker
    starts; `test_the_worker_host_is_not_triage_group` checks none), so a restart after
    ``kill -9`` was a second later than it needs to be (docs/reliability.md, "Recovery phases").
    """

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


def _stop_watchdog(seconds: float) -> None:
    def expire() -> None:
        log.error("the worker did not stop within %.0fs (broker unreachable?): exiting now", seconds)
        logging.shutdown()
        os._exit(75)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def _faust_app(settings: Settings) -> faust.App:
    """The host: producer, timers, tasks, web server. Its own consumer group reads nothing."""
    return _App(
        # Not the app id: that is triage's consumer group, and Faust's group speaks another protocol.
        f"{settings.app_id}-host",
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
        topic_allow_declare=True,
        topic_partitions=1,
        producer_max_request_size=MAX_RECORD_BYTES,
        key_serializer="raw",
        value_serializer="raw",
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=max(1, settings.session_timeout_seconds // 5),
        # Static membership here too: a restarted worker's empty group must not wait out its old session.
        consumer_group_instance_id=worker_instance(settings),
        TableManager=_Tables,
    )


class _Kafka:
    """The stages' Kafka and registry ports over the Faust app's producer."""

    def __init__(self, app: faust.App, settings: Settings, rt: Runtime, codecs: Codecs) -> None:
        self.app = app
        self.settings = settings
        self.rt = rt
        self.codecs = codecs
        self.sender = BatchSender(app)
        self.triage = TriageKafka(self.sender, settings, rt, codecs)
        self.fetch_schemas = self.triage.fetch_schemas
        self.links = links_topic_name(settings)
        self.state = state_topic_name(settings)
        self.erasures = erasures_topic_name(settings)
        self.effects = effects_topic_name(settings)

    async def send_state(self, records: list[tuple[bytes, bytes | None]]) -> list[int]:
        """Send state records in order on partition 0, wait until the broker has them; return their offsets."""
        if not records:
            return []
        futures = await self.sender.send(self.state, 0, [(k, v, None, ()) for k, v in records])
        offsets: list[int] = []
        for batch in await asyncio.gather(*futures):  # one future per record batch: its first record's metadata
            offsets.append(batch.offset)
        first = offsets[0]
        return list(range(first, first + len(records)))

    async def truncate(self, links_before: int, state_before: int | None) -> None:
        """Delete the links log before `links_before` and the state topic before `state_before` (DeleteRecords)."""
        before = {TopicPartition(self.links, 0): links_before}
        if state_before is not None:
            before[TopicPartition(self.state, 0)] = state_before
        await delete_records_before(self.settings.kafka_bootstrap, before, security=client_options(self.settings))

    async def dead_letter_reused(self, events: list[tuple[int, Interaction]]) -> None:
        """Dead-letter events that reused an id with other content (`reused_id_letter`); wait for the broker."""
        now = int(time.time() * 1000)
        encode = self.triage.encode_dead_letter
        await self.triage.send_dead([reused_id_letter(e, self.links, at, now, encode=encode) for at, e in events])

    async def purge_dead_letters(self, identifiers: list[str]) -> int:
        """Make the dead letters that mention these identifiers unreadable (`streams.purge`); how many went."""
        s = self.settings

        async def send(partition: int, records: list[Any]) -> None:
            await asyncio.gather(*await self.sender.send(s.topic_deadletter, partition, records))

        result = await purge_dead_letters(
            s.kafka_bootstrap,
            s.topic_deadletter,
            ErasedPerson.from_identifiers(identifiers),
            send,
            prefetch=self.fetch_schemas,
            security=client_options(s),
        )
        return result.purged

    async def record_erasure(self, customer_id: str, receipt: dict[str, Any]) -> None:
        """Store an erasure's receipt (key: the customer id) and wait until the broker has it."""
        value = json.dumps(receipt, sort_keys=True, separators=(",", ":")).encode()
        await asyncio.gather(*await self.sender.send(self.erasures, 0, [(customer_id.encode(), value, None, ())]))

    async def publish(self, outputs: list[tuple[bytes, bytes]]) -> None:
        """Send changelog records for the CRM and wait until the broker has them all."""
        await asyncio.gather(*await self.queue_publish(outputs))

    async def publish_interactions(self, records: list[tuple[bytes, bytes]]) -> None:
        """Send resolved interactions (key customer id) and wait until the broker has them all."""
        await asyncio.gather(*await self.queue_interactions(records))

    async def queue_publish(self, outputs: list[tuple[bytes, bytes]]) -> list[asyncio.Future[Any]]:
        """Queue changelog records for the CRM; the futures are set once the broker has them."""
        return await self.sender.send_keyed(self.settings.topic_resolved, [(k, v, None, ()) for k, v in outputs])

    async def queue_interactions(self, records: list[tuple[bytes, bytes]]) -> list[asyncio.Future[Any]]:
        """Queue resolved interactions (key customer id); the futures are set once the broker has them."""
        return await self.sender.send_keyed(self.settings.topic_interactions, [(k, v, None, ()) for k, v in records])

    async def queue_effects(self, effects: list[EffectOut]) -> list[asyncio.Future[Any]]:
        """Queue records of effects for the per-customer stage, each in its partition with its position header;
        the futures are set once the broker has them."""
        futures: list[asyncio.Future[Any]] = []
        for p, value, position in effects:
            futures.extend(
                await self.sender.send(self.effects, p, [(None, value, None, [(POSITION_HEADER, position)])])
            )
        return futures

    async def flush(self) -> None:
        await self.app.producer.flush()

    async def read_state(self) -> dict[bytes, bytes]:
        s = self.settings
        return await read_stored_state(
            s.kafka_bootstrap, self.state, timeout_s=RESTORE_TIMEOUT_S, security=client_options(s)
        )

    async def state_end(self) -> int:
        return await end_offset(self.settings.kafka_bootstrap, self.state, security=client_options(self.settings))

    async def send_control(self, kind: bytes, value: bytes) -> None:
        """A tick or an operator action on the links log; returns once the broker has it."""
        futures = await self.sender.send(self.links, 0, [(kind, value, None, [(KIND_HEADER, kind)])])
        await asyncio.gather(*futures)


def build_sequencer(rt: Runtime, settings: Settings, ports: Ports) -> Sequencer:
    """The ordered stage of `settings`, doing its I/O through `ports`."""
    return Sequencer(
        rt,
        resolver_config(settings),
        settings.window_seconds * 1000,
        settings.grace_seconds * 1000,
        settings.topic_resolved,
        ports,
        BackgroundSnapshot(Path(settings.data_dir) / "snapshots" / settings.app_id),
        settings.snapshot_seconds,
        interactions_topic=settings.topic_interactions,
        reseal_after_s=settings.resolved_compaction_lag_hours * 3600 + 1.0,
        customer_partitions=settings.customer_partitions,
        effects_topic=effects_topic_name(settings) if settings.customer_stage_kafka else None,
        effect_partitions=settings.touchpoint_partitions,  # the effects topic has the resolved topic's partitions
        snapshot_tail_events=settings.snapshot_tail_events,
        compact_growth=settings.compact_growth,
    )


def _ports(kafka: _Kafka, mirror: RedisMirror) -> Ports:
    """The ordered stage's ports over the worker's Kafka adapter and its Redis mirror."""
    return Ports(
        kafka.read_state,
        kafka.send_state,
        kafka.publish,
        kafka.publish_interactions,
        kafka.flush,
        kafka.fetch_schemas,
        mirror,
        truncate=kafka.truncate,
        purge_dead_letters=kafka.purge_dead_letters,
        record_erasure=kafka.record_erasure,
        state_end=kafka.state_end,
        queue_publish=kafka.queue_publish,
        queue_interactions=kafka.queue_interactions,
        queue_effects=kafka.queue_effects if kafka.settings.customer_stage_kafka else None,
        reused=kafka.dead_letter_reused,
    )


def build_app(settings: Settings) -> faust.App:
    """Build the worker's Faust app: its stages as tasks, the clock, the stall watch and the views."""
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    app = _faust_app(settings)
    rt = Runtime(settings)
    app.irl = rt  # type: ignore[attr-defined]
    codecs = Codecs.from_settings(settings)
    use(codecs)  # decode_interaction and classify read with these
    kafka = _Kafka(app, settings, rt, codecs)
    mirror = RedisMirror(rt, settings)
    rt.on_published = lambda records: record_published(rt, records)
    sequencer = build_sequencer(rt, settings, _ports(kafka, mirror))
    triage = Triage(rt, Limits(max_string=settings.max_string), kafka.triage.ports(), config=resolver_config(settings))

    @app.task  # type: ignore[untyped-decorator]
    async def look_up_schema_ids() -> None:
        """Learn the ids we write with before the first record needs one (`irl worker` checked they exist)."""
        try:
            await codecs.prepare(_written_contracts(settings))
        except RegistryError as exc:  # the first send asks again, and fails there if it must
            log.error("schema registry at %s: %s", settings.schema_registry_url, exc)

    @app.task  # type: ignore[untyped-decorator]
    async def read_model_client() -> None:
        """Every worker answers from the Redis read model, not only one that has been the writer (a standby)."""
        mirror.client()

    loop_watch = LoopWatch(3.0, log)

    @app.task  # type: ignore[untyped-decorator]
    async def watch_loop() -> None:
        loop_watch.start(asyncio.get_running_loop())

    @app.task  # type: ignore[untyped-decorator]
    async def triage_stage() -> None:
        if settings.triage_processes:
            await TriageProcesses(settings, rt, settings.triage_processes).run()
        else:
            await run_triage(settings, rt, triage)

    @app.task  # type: ignore[untyped-decorator]
    async def ordered_stage() -> None:
        await run_sequencer(settings, rt, sequencer, kafka.links)

    @app.task  # type: ignore[untyped-decorator]
    async def customer_stage() -> None:
        # With the stage off, it still runs while the effects topic holds effects it has not applied (a switch
        # back from IRL_CUSTOMER_STAGE=kafka): their records are the partitions' to publish, nobody else's.
        if not settings.customer_stage_kafka and not await effects_waiting(settings):
            return
        if settings.triage_processes:  # a process of its own, as triage (0: everything in this one)
            await CustomerProcess(settings, rt, settings.customer_processes).run()
        else:
            await run_customers(settings, rt, kafka.sender)

    # Every worker ticks (not only the one holding the links log): ticks are idempotent (the
    # clock is a maximum), and windows keep closing while the links log moves between workers.
    started = time.monotonic()

    @app.timer(interval=settings.tick_seconds)  # type: ignore[untyped-decorator]
    async def clock() -> None:
        if clock_held(rt.triage_caught_up, time.monotonic() - started):
            return  # the events that waited while the worker was down go in first (`clock_held`)
        await kafka.send_control(TICK, json.dumps({"now": int(time.time() * 1000)}).encode())

    stall = StallWatch(settings.stall_seconds)

    # Its own timer, awaiting nothing: a stage stuck on a send would hold the clock too.
    @app.timer(interval=min(5.0, settings.stall_seconds / 4))  # type: ignore[untyped-decorator]
    async def watch_stall() -> None:
        _watch_stall(rt, stall)

    async def send_action(action: dict[str, Any]) -> None:
        """Queue an operator action for the ordered stage (applied in log order, audited)."""
        await kafka.send_control(ACTION, json.dumps(action, sort_keys=True).encode())

    install_web(app, rt, settings, send_action)
    return app


def _written_contracts(settings: Settings) -> dict[str, list[str]]:
    """Each contract the worker writes and the topics it writes it to."""
    return {
        "resolved_customer": [settings.topic_resolved],
        "dead_letter": [settings.topic_deadletter],
        "resolved_interaction": [settings.topic_interactions],
    }


async def effects_waiting(settings: Settings) -> int:
    """How many effects of ``<app id>-effects`` the per-customer stage's group has not applied (0: no topic)."""
    from streams.customer_loop import customers_group

    topic = effects_topic_name(settings)
    try:
        return await _effects_waiting(settings, topic, customers_group(settings))
    except Exception as exc:  # the worker starts anyway; said loudly, as the switch back may need the stage
        log.error("could not tell whether the per-customer stage has effects to apply (%s): not started", exc)
        return 0


async def _effects_waiting(settings: Settings, topic: str, group: str) -> int:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        **client_options(settings),
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return 0
        starts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        waiting = 0
        for tp in tps:
            committed = await consumer.committed(tp)
            waiting += max(0, ends[tp] - max(starts[tp], committed if committed is not None else 0))
        if waiting:
            log.warning(
                "the per-customer stage is off, but %d records of effects written over Kafka are not applied: "
                "it runs until they are (their records are its to publish)",
                waiting,
            )
        return waiting
    finally:
        await consumer.stop()


def _watch_stall(rt: Runtime, stall: StallWatch) -> None:
    """Never stall silently: records waiting and nothing applied for `stall_seconds` ends the process."""
    now = time.monotonic()
    if revoke_overdue(rt.revoke_started, now, rt.settings.stall_seconds):
        log.critical(
            "giving the links log back has waited %.0f s for the step in flight (the group waits for this "
            "worker meanwhile); exiting so that a restart reads on from its state. Tasks:\n%s",
            now - (rt.revoke_started or now),
            task_stacks(),
        )
        logging.shutdown()
        os._exit(75)
    started = rt.rebalance_started
    rt.stats["rebalancing_s"] = 0.0 if started is None else round(now - started, 1)
    if rebalance_overdue(started, now, rt.settings.stall_seconds):
        log.critical(
            "the ordered stage's consumer group has been in a rebalance for %.0f s (a member that never "
            "rejoins: no worker applies the links log meanwhile); exiting so that a restart joins again. Tasks:\n%s",
            now - (started or now),
            task_stacks(),
        )
        logging.shutdown()
        os._exit(75)
    end: int | None = None
    if not (rt.owns_links and rt.pipeline is not None):
        stall.observe(now, rt.applied_offset, None)
    else:
        end = rt.links_position()
        if stall.observe(now, rt.applied_offset, end):
            log.critical(
                "the ordered stage applied nothing for %.0f s with records waiting (applied offset %d, "
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
            "ordered stage: applied offset %d, links log end %s, idle with records waiting %.0f s",
            rt.applied_offset,
            end,
            stall.stalled_for(now),
        )


#: Deprecated name of `build_app`.
create_app = build_app

_built: faust.App | None = None


def __getattr__(name: str) -> Any:
    """``streams.app.app``: the worker built from the environment, on first use (nothing at import)."""
    global _built
    if name == "app":
        if _built is None:
            _built = build_app(Settings.from_env())
        return _built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
