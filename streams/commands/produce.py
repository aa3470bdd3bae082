"""`irl produce FILE.jsonl ...`: publish interaction events from JSON Lines files.

Each line is one event in the contract's JSON form (`occurred_at` as ISO-8601 with a zone or
epoch milliseconds, `touchpoint` in any case). Valid lines are published to their
touchpoint's topic; invalid ones are not sent: each is reported on stderr (line number and
reason, personal data masked) and written to the rejects file as
`{"file", "line", "reason", "raw"}`. Blank lines are skipped and counted.

Exit status: 0 when every valid line was acknowledged and at least one was sent;
1 when nothing was sent or a send failed; 3 when the broker or a topic is unavailable.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import click

from resolver.interaction import Interaction, InvalidInteraction, Limits, from_json
from streams.codec import CodecError
from streams.masking import mask_text
from streams.producer import (
    BrokerUnavailable,
    DeliveryFailed,
    InteractionProducer,
    ProducerError,
    RegistryUnreachable,
    TopicMissing,
)
from streams.settings import Settings, SettingsError

__all__ = ["ProduceSummary", "command", "parse_line", "rejects_path"]

_MAX_STDERR_REPORTS = 1000
_EXIT_NOTHING_SENT = 1
_EXIT_UNAVAILABLE = 3


def parse_line(raw: bytes, limits: Limits) -> Interaction:
    """One JSON Lines line to a valid Interaction. Raises InvalidInteraction with a PII-free reason."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInteraction(f"line: not UTF-8 (byte {exc.start})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInteraction(f"line: not JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise InvalidInteraction("line: JSON nested too deeply") from None
    try:
        return from_json(obj, limits)
    except InvalidInteraction:
        raise
    except Exception as exc:  # from_json should only raise InvalidInteraction; never crash on input
        raise InvalidInteraction(f"event: unreadable ({type(exc).__name__})") from None


def rejects_path(source: Path) -> Path:
    """Default rejects file of an input: `events.jsonl` -> `events.rejects.jsonl`."""
    if source.suffix == ".jsonl":
        return source.with_suffix(".rejects.jsonl")
    return source.with_name(source.name + ".rejects.jsonl")


@dataclass
class ProduceSummary:
    """Counts of one run."""

    lines: int = 0
    blank: int = 0
    sent: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    failed: int = 0
    reject_files: set[Path] = field(default_factory=set)
    seconds: float = 0.0

    @property
    def total_sent(self) -> int:
        """Events acknowledged by the broker."""
        return sum(self.sent.values())


class _Rejects:
    """Writes rejected lines to the rejects file(s), opening each only when it is first needed."""

    def __init__(self, fixed: Path | None, summary: ProduceSummary) -> None:
        self._fixed = fixed
        self._summary = summary
        self._open: dict[Path, IO[str]] = {}
        self._reported = 0

    def add(self, source: Path, line: int, reason: str, raw: bytes, *, kind: str = "rejected") -> None:
        path = self._fixed or rejects_path(source)
        fh = self._open.get(path)
        if fh is None:
            fh = self._open[path] = path.open("w", encoding="utf-8")
            self._summary.reject_files.add(path)
        text = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
        record = {"file": str(source), "line": line, "reason": reason, "raw": text}
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._reported += 1
        if self._reported <= _MAX_STDERR_REPORTS:
            click.echo(f"{source}:{line}: {kind}: {mask_text(reason)}", err=True)
        elif self._reported == _MAX_STDERR_REPORTS + 1:
            click.echo(f"... more reported in {path} only", err=True)

    def close(self) -> None:
        for fh in self._open.values():
            fh.close()


class _Progress:
    """A progress bar over input bytes, on a terminal only (stderr)."""

    def __init__(self, total: int) -> None:
        self._bar: Any = None
        if sys.stderr.isatty():
            self._bar = click.progressbar(length=total, label="producing", file=sys.stderr)
            self._bar.__enter__()

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


async def _run(
    files: list[Path],
    producer: InteractionProducer,
    limits_at: Callable[[], Limits],
    rejects: _Rejects,
    summary: ProduceSummary,
    batch: int,
) -> None:
    topic_names = {topic: tp.lower() for tp, topic in producer.topics.items()}
    async with producer:
        missing = await producer.missing_topics()
        if missing:
            raise TopicMissing(
                f"topics {', '.join(missing)} do not exist on {producer.bootstrap}: run `irl topics create`"
            )
        pending: list[tuple[asyncio.Future[Any], Path, int, bytes]] = []

        async def drain() -> None:
            results = await asyncio.gather(*(p[0] for p in pending), return_exceptions=True)
            for (_, source, line, raw), result in zip(pending, results, strict=True):
                if isinstance(result, BaseException):
                    summary.failed += 1
                    rejects.add(source, line, f"not delivered: {type(result).__name__}", raw, kind="failed")
                else:
                    summary.sent[topic_names.get(result.topic, result.topic)] += 1
            pending.clear()

        progress = _Progress(sum(f.stat().st_size for f in files))
        try:
            for source in files:
                with source.open("rb") as fh:
                    for line, raw in enumerate(fh, 1):
                        summary.lines += 1
                        progress.update(len(raw))
                        if not raw.strip():
                            summary.blank += 1
                            continue
                        try:
                            event = parse_line(raw, limits_at())
                            future = await producer.enqueue(event)
                        except (InvalidInteraction, CodecError) as exc:
                            summary.rejected += 1
                            rejects.add(source, line, getattr(exc, "reason", str(exc)), raw)
                            continue
                        except DeliveryFailed as exc:  # e.g. a record larger than the broker accepts
                            summary.failed += 1
                            rejects.add(source, line, str(exc), raw, kind="failed")
                            continue
                        pending.append((future, source, line, raw))
                        if len(pending) >= batch:
                            await drain()
            await drain()
        finally:
            progress.close()


@click.command("produce")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--rejects",
    "rejects_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write rejected lines here (default: FILE.rejects.jsonl next to each input).",
)
@click.option("--topic-web", default=None, help="Topic for WEB events (default IRL_TOPIC_WEB).")
@click.option("--topic-whatsapp", default=None, help="Topic for WHATSAPP events (default IRL_TOPIC_WHATSAPP).")
@click.option("--topic-kiosk", default=None, help="Topic for KIOSK events (default IRL_TOPIC_KIOSK).")
@click.option("--bootstrap", default=None, help="Kafka bootstrap servers (default IRL_KAFKA_BOOTSTRAP).")
@click.option(
    "--batch",
    default=5000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Sends in flight before waiting for their acknowledgements.",
)
@click.option(
    "--timeout",
    "timeout_s",
    default=15.0,
    show_default=True,
    type=click.FloatRange(0.5, 600),
    help="Seconds to wait for the broker before giving up.",
)
def command(
    files: tuple[Path, ...],
    rejects_file: Path | None,
    topic_web: str | None,
    topic_whatsapp: str | None,
    topic_kiosk: str | None,
    bootstrap: str | None,
    batch: int,
    timeout_s: float,
) -> None:
    """Publish the interaction events of JSON Lines FILES to their touchpoint topics."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    topics = settings.touchpoint_topics()
    for tp, override in (("WEB", topic_web), ("WHATSAPP", topic_whatsapp), ("KIOSK", topic_kiosk)):
        if override:
            topics[tp] = override
    server = bootstrap or settings.kafka_bootstrap
    base = Limits(max_string=settings.max_string)

    def limits_at() -> Limits:
        return Limits(max_string=base.max_string, now_ms=time.time_ns() // 1_000_000)

    producer = InteractionProducer(
        server, topics, base, connect_timeout_s=timeout_s, topic_timeout_s=min(timeout_s, 10.0)
    )
    summary = ProduceSummary()
    rejects = _Rejects(rejects_file, summary)
    started = time.perf_counter()
    try:
        asyncio.run(_run(list(files), producer, limits_at, rejects, summary, batch))
    except (BrokerUnavailable, RegistryUnreachable, TopicMissing) as exc:
        click.echo(f"error: {exc}", err=True)
        raise click.exceptions.Exit(_EXIT_UNAVAILABLE) from None
    except ProducerError as exc:
        click.echo(f"error: {exc}", err=True)
        raise click.exceptions.Exit(_EXIT_NOTHING_SENT) from None
    finally:
        rejects.close()
        summary.seconds = time.perf_counter() - started
    _report(summary)
    if summary.total_sent == 0:
        click.echo("error: nothing could be sent", err=True)
        raise click.exceptions.Exit(_EXIT_NOTHING_SENT)
    if summary.failed:
        raise click.exceptions.Exit(_EXIT_NOTHING_SENT)


def _report(s: ProduceSummary) -> None:
    per_topic = ", ".join(f"{name} {n}" for name, n in sorted(s.sent.items())) or "none"
    rate = s.total_sent / s.seconds if s.seconds > 0 else 0.0
    where = f" (see {', '.join(str(p) for p in sorted(s.reject_files))})" if s.reject_files else ""
    click.echo(
        f"sent {s.total_sent} ({per_topic}); rejected {s.rejected}; failed {s.failed}; "
        f"blank {s.blank}; {s.lines} lines in {s.seconds:.2f}s, {rate:,.0f} events/s{where}"
    )
