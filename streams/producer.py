"""The producer touchpoint services use: validate, encode, publish one interaction or many.

Every record is sent idempotently (acks=all, enable_idempotence) to its touchpoint's topic,
keyed by `source_id` (UTF-8), with the Kafka record timestamp set to `occurred_at` and the
value in Avro single-object encoding (`streams.codec`). An invalid event raises
`resolver.interaction.InvalidInteraction` and nothing is sent; the UNKNOWN touchpoint has no
topic, so it is invalid here (it exists only for readers meeting a newer symbol). Values are in
the Confluent wire format with the schema id registered under `<topic>-value` (`streams.codec`);
`start` looks the ids up, so a missing contract is found before anything is sent.

Errors other than invalid input::

    ProducerError                 the event was valid but could not be published
    ├── BrokerUnavailable         no broker answered at the bootstrap address: check it, retry later
    ├── RegistryUnreachable       the schema registry did not answer or refused us: check it, retry later
    ├── TopicMissing              the touchpoint's topic does not exist, or its contract is not
    │                             registered under its subject: run `irl topics create`
    └── DeliveryFailed            the broker refused or timed out a send: retry the event
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from resolver.interaction import Interaction, InvalidInteraction, Limits, validate
from streams.codec import Codecs, EncodeError, codecs, encode_interaction
from streams.kafka_auth import options
from streams.registry import ContractNotRegistered, InMemoryRegistryClient, RegistryError
from streams.settings import Settings

__all__ = [
    "BrokerUnavailable",
    "DeliveryFailed",
    "DryRunProducer",
    "InteractionProducer",
    "OutgoingRecord",
    "ProducerError",
    "RegistryUnreachable",
    "TopicMissing",
    "prepare",
]


class ProducerError(Exception):
    """A valid event could not be published. The subclass says what to do."""


class BrokerUnavailable(ProducerError):
    """No broker answered at the bootstrap address. Check the address and the broker; retry later."""


class RegistryUnreachable(ProducerError):
    """The schema registry did not answer, or refused our credentials. Check IRL_SCHEMA_REGISTRY_*; retry later."""


class TopicMissing(ProducerError):
    """The touchpoint's topic does not exist (topics are never auto-created): run `irl topics create`."""


class DeliveryFailed(ProducerError):
    """The broker did not acknowledge a send. The event may be retried: its event_id makes it idempotent."""


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    """What goes on the wire for one event."""

    topic: str
    key: bytes
    value: bytes
    timestamp_ms: int


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def prepare(
    event: Interaction,
    topics: Mapping[str, str],
    limits: Limits,
    encode: Callable[[Interaction, str], bytes] = encode_interaction,
) -> OutgoingRecord:
    """Validate `event` and build its record. Raises InvalidInteraction with every problem, TopicMissing
    when its contract is not registered under the topic's subject, RegistryUnreachable.

    Pure once the topic's schema id is known (the first record for a topic looks it up).
    `encode` writes the value (default: the process's codecs, `streams.codec`)."""
    problems = validate(event, limits)
    topic = topics.get(event.touchpoint)
    if topic is None and not problems:
        problems.append(f"touchpoint: {event.touchpoint} has no topic; producers must name one of {', '.join(topics)}")
    if problems:
        raise InvalidInteraction("; ".join(problems))
    assert topic is not None
    try:
        value = encode(event, topic)
    except EncodeError as exc:
        # validate() lets lone surrogates (a JSON "\\ud800" escape) through, but UTF-8 cannot carry them.
        raise InvalidInteraction(f"event: cannot be encoded: {exc.detail}") from None
    except ContractNotRegistered as exc:
        raise TopicMissing(str(exc)) from None
    except RegistryError as exc:
        raise RegistryUnreachable(f"schema registry: {exc}") from None
    return OutgoingRecord(topic, event.source_id.encode("utf-8"), value, event.occurred_at)


class InteractionProducer:
    """Async context manager publishing CustomerInteraction events to the touchpoint topics.

    `topics` maps touchpoint symbols to topics (default: `Settings.from_env().touchpoint_topics()`);
    `limits.now_ms` is ignored: each event is checked against the wall clock (`clock`) when sent.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Mapping[str, str] | None = None,
        limits: Limits | None = None,
        *,
        clock: Callable[[], int] = _wall_ms,
        connect_timeout_s: float = 15.0,
        topic_timeout_s: float = 10.0,
        linger_ms: int = 5,
        max_batch_size: int = 256 * 1024,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topics: dict[str, str] = dict(topics if topics is not None else Settings.from_env().touchpoint_topics())
        self.limits = limits if limits is not None else Limits()
        self._clock = clock
        self._connect_timeout_s = connect_timeout_s
        self._topic_timeout_s = topic_timeout_s
        self._options: dict[str, Any] = {"linger_ms": linger_ms, "max_batch_size": max_batch_size}
        # How to connect (TLS, SASL): the process's settings unless given (`streams.kafka_auth`).
        self._options.update(options() if security is None else security)
        self._producer: AIOKafkaProducer | None = None
        self._known_topics: set[str] = set()

    async def start(self) -> None:
        """Connect, then look up the schema ids. Raises BrokerUnavailable (naming the address) within about
        `connect_timeout_s`, or RegistryUnreachable."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=int(self._connect_timeout_s * 1000),
            **self._options,
        )
        try:
            await asyncio.wait_for(producer.start(), self._connect_timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            await producer.stop()
            raise BrokerUnavailable(f"cannot reach Kafka at {self.bootstrap}: {type(exc).__name__}") from exc
        try:
            await codecs().prepare({"customer_interaction": sorted(set(self.topics.values()))})
        except ContractNotRegistered:
            pass  # like a missing topic: reported by the first send to it (see `prepare`)
        except RegistryError as exc:
            await producer.stop()
            raise RegistryUnreachable(f"schema registry: {exc}") from exc
        self._producer = producer

    async def stop(self) -> None:
        """Flush what is pending and disconnect. Safe to call twice."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def __aenter__(self) -> InteractionProducer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def prepare(self, event: Interaction) -> OutgoingRecord:
        """Validate against the wall clock and build the record. Raises InvalidInteraction."""
        return prepare(event, self.topics, replace(self.limits, now_ms=self._clock()))

    async def missing_topics(self, settle_s: float = 3.0) -> list[str]:
        """The configured topics that do not exist on the broker, sorted.

        A topic created a moment ago can be missing from the first metadata answer, so a
        missing topic is asked about again for up to ``settle_s`` seconds.
        """
        producer = self._started()
        deadline = time.monotonic() + settle_s
        while True:
            try:
                cluster = await producer.client.fetch_all_metadata()
            except KafkaError as exc:
                raise BrokerUnavailable(f"cannot read metadata from {self.bootstrap}: {type(exc).__name__}") from exc
            present = cluster.topics()
            self._known_topics.update(t for t in self.topics.values() if t in present)
            missing = sorted({t for t in self.topics.values() if t not in present})
            if not missing or time.monotonic() >= deadline:
                return missing
            await asyncio.sleep(0.2)

    async def enqueue(self, event: Interaction) -> asyncio.Future[Any]:
        """Validate and hand the event to the batching producer; the returned future resolves on delivery.

        Raises InvalidInteraction (nothing sent), TopicMissing or DeliveryFailed. Await the future, or gather
        many, to know it was acknowledged; failures there are KafkaError.
        """
        return await self._enqueue_record(self.prepare(event))

    async def _enqueue_record(self, record: OutgoingRecord) -> asyncio.Future[Any]:
        producer = self._started()
        if record.topic not in self._known_topics:
            await self._ensure_topic(producer, record.topic)
        try:
            future: asyncio.Future[Any] = await producer.send(
                record.topic, record.value, key=record.key, timestamp_ms=record.timestamp_ms
            )
        except KafkaError as exc:  # refused before sending, e.g. larger than max_request_size
            raise DeliveryFailed(f"event not sent: {type(exc).__name__}") from exc
        return future

    async def send(self, event: Interaction) -> Any:
        """Publish one event and wait for the acknowledgement; returns aiokafka's RecordMetadata."""
        future = await self.enqueue(event)
        try:
            return await future
        except KafkaError as exc:
            raise DeliveryFailed(f"event not acknowledged: {type(exc).__name__}") from exc

    async def send_many(self, events: Iterable[Interaction]) -> list[Any]:
        """Validate every event first (any invalid one raises InvalidInteraction, nothing sent), then
        publish them all in batches and wait for every acknowledgement. Returns the RecordMetadata list."""
        batch: list[OutgoingRecord] = []
        for index, event in enumerate(events):
            try:
                batch.append(self.prepare(event))
            except InvalidInteraction as exc:
                raise InvalidInteraction(f"event {index}: {exc.reason}") from None
        futures = [await self._enqueue_record(record) for record in batch]
        results = await asyncio.gather(*futures, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise DeliveryFailed(f"{len(failed)} of {len(batch)} events not acknowledged: {failed[0]!r:.200}")
        return list(results)

    async def flush(self) -> None:
        """Wait until everything enqueued so far is sent."""
        await self._started().flush()

    def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("InteractionProducer is not started: use `async with` or `await start()`")
        return self._producer

    async def _ensure_topic(self, producer: AIOKafkaProducer, topic: str) -> None:
        try:
            await asyncio.wait_for(producer.partitions_for(topic), self._topic_timeout_s)
        except (KafkaError, TimeoutError) as exc:
            raise TopicMissing(f"topic {topic} does not exist on {self.bootstrap}: run `irl topics create`") from exc
        self._known_topics.add(topic)


class DryRunProducer:
    """`InteractionProducer`'s checks without sending: nothing is sent and no service is asked.

    Each event is validated against the wall clock and encoded with the newest contract exactly
    as it would be sent, by codecs over an in-memory registry; `enqueue` returns a future that is
    already done with the `OutgoingRecord`. For `--dry-run`: what a run would send and reject.
    """

    bootstrap = "(dry run: nothing is sent)"

    def __init__(
        self, topics: Mapping[str, str], limits: Limits | None = None, *, clock: Callable[[], int] = _wall_ms
    ) -> None:
        self.topics: dict[str, str] = dict(topics)
        self.limits = limits if limits is not None else Limits()
        self._clock = clock
        offline = Codecs.build(InMemoryRegistryClient(auto_register=True)).interaction
        self._encode: Callable[[Interaction, str], bytes] = lambda event, topic: offline.encode(
            event.to_record(), topic
        )

    async def __aenter__(self) -> DryRunProducer:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def missing_topics(self) -> list[str]:
        """None: topics are not looked at in a dry run."""
        return []

    def prepare(self, event: Interaction) -> OutgoingRecord:
        """Validate against the wall clock and build the record offline. Raises InvalidInteraction."""
        return prepare(event, self.topics, replace(self.limits, now_ms=self._clock()), self._encode)

    async def enqueue(self, event: Interaction) -> asyncio.Future[Any]:
        """The record, as a done future (what a send's future resolves to is read for its `topic`)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(self.prepare(event))
        return future
