"""Triage: touchpoint records in, validated events out in batches, everything else dead-lettered.

    irl.touchpoint.* (N partitions) ──getmany──▶ Triage.process ──▶ links log: one record per batch of events
                                                       └──────────▶ irl.deadletter: original bytes + reason

Runs on every worker, one member each of the consumer group ``<app id>`` (the group the
touchpoint offsets were always committed under), reading with its own consumer so that the
framework is paid per fetched batch, not per record. A batch's offsets are committed only
after its links records and dead letters are on the broker: at least once. A record
triaged twice (a crash between the send and the commit) reaches the ordered stage twice;
its event id makes the second a no-op there (`resolver.horizon`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from resolver.config import ResolverConfig
from resolver.identifiers import IdentifierParser
from resolver.interaction import Interaction, Limits
from resolver.linking import found_of
from streams.deadletter import DeadLetter, DeadLetterReason, classify, dead_letter
from streams.linkbatch import encode_batches, encode_found_batches, parser_fingerprint
from streams.runtime import Runtime

__all__ = ["Consumed", "Triage", "TriagePorts"]

log = logging.getLogger("irl.worker")


@dataclass(frozen=True, slots=True)
class Consumed:
    """One touchpoint record as consumed."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass
class TriagePorts:
    """Where triage sends (Kafka in the worker, lists in tests); each returns once the broker has the records."""

    #: links records: (value, its ``irl.found`` header or None)
    send_links: Callable[[list[tuple[bytes, bytes | None]]], Awaitable[None]]
    send_dead: Callable[[list[DeadLetter]], Awaitable[None]]
    #: fetch the writer schemas these values need (waits while the registry is away)
    fetch_schemas: Callable[[list[bytes | None]], Awaitable[None]]
    encode_dead_letter: Callable[[Any], bytes]


class Triage:
    """Decodes and validates consumed records; forwards the valid ones in batches, dead-letters the rest."""

    def __init__(
        self,
        rt: Runtime,
        limits: Limits,
        ports: TriagePorts,
        clock: Callable[[], float] = time.time,
        config: ResolverConfig | None = None,
    ) -> None:
        """`config`: the core's configuration, whose parser finds each valid event's identifiers here
        (sent with the batch: `streams.linkbatch.encode_found_batches`); None sends none."""
        self.rt = rt
        self.limits = limits
        self.ports = ports
        self.clock = clock
        self.parser = IdentifierParser(config) if config is not None else None
        self.fingerprint = parser_fingerprint(config) if config is not None else b""

    async def process(self, records: Sequence[Consumed]) -> None:
        """Triage `records` (in consumed order); returns when everything they caused is on the broker."""
        if not records:
            return
        await self.ports.fetch_schemas([r.value for r in records])
        now_ms = int(self.clock() * 1000)
        bounded = dataclasses.replace(self.limits, now_ms=now_ms)
        valid: list[Interaction] = []
        dead: list[DeadLetter] = []
        for rec in records:
            verdict = classify(rec.value, bounded)
            if isinstance(verdict, DeadLetterReason):
                dead.append(
                    dead_letter(
                        rec.topic,
                        rec.partition,
                        rec.offset,
                        rec.key,
                        rec.value,
                        rec.headers,
                        verdict.stage,
                        verdict.reason,
                        now_ms,
                        encode=self.ports.encode_dead_letter,
                        event_id=verdict.event_id,
                    )
                )
                log.warning("dead letter from %s[%s]@%s: %s", rec.topic, rec.partition, rec.offset, verdict.code)
                continue
            valid.append(verdict)
        if dead:
            await self.ports.send_dead(dead)
            self.rt.stats["dead_letters"] += len(dead)
        if valid:
            await self.ports.send_links(self._batches(valid))
            self.rt.stats["events_triaged"] += len(valid)

    def _batches(self, valid: list[Interaction]) -> list[tuple[bytes, bytes | None]]:
        """The links records of `valid` events, with what the parser found of each when there is one."""
        parser = self.parser
        if parser is None:
            return [(value, None) for value in encode_batches(valid)]
        founds = [found_of(parser, e.touchpoint, e.source_id, e.phone, e.email, e.name) for e in valid]
        return list(encode_found_batches(valid, founds, self.fingerprint))
