"""`irl produce FILE.jsonl ...`: publish interaction events from JSON Lines files.

Each line is one event in the contract's JSON form (`occurred_at` as ISO-8601 with a zone or
epoch milliseconds, `touchpoint` in any case). Valid lines are published to their
touchpoint's topic; invalid ones are not sent: each is reported on stderr (line number and
reason, personal data masked) and written to the rejects file as
`{"file", "line", "reason", "raw"}`. Blank lines are skipped and counted. Lines are UTF-8 (a
byte-order mark at a file's start is skipped); a line that is not is rejected, saying at which
column, and a file in UTF-16 or UTF-32 (a byte-order mark saying so) is refused before anything
is sent.

`--dry-run` validates and encodes every line as it would be sent, writes the rejects and
reports, and sends nothing (no broker, no registry).

Exit status: 0 when every valid line was acknowledged and at least one was sent (in a dry
run: at least one is valid); 1 when nothing was sent or a send failed; 3 when the broker or a
topic is unavailable.

The pieces are shared with `irl import` (CSV): an input is a stream of `InputRecord`s (where a
record is, its raw bytes, how to read it into an event), which `execute` publishes with the
same validation, rejects file, progress bar, summary and exit status.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import datetime as _dt
import functools
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol

import click

from resolver.config import ResolverConfig
from resolver.identifiers import IdentifierParser
from resolver.interaction import Interaction, InvalidInteraction, Limits, from_json
from resolver.linking import found_of
from resolver.replay import REUSED_ID, IdWatch
from streams.codec import CodecError
from streams.csvimport import CsvImportError, parse_timezone
from streams.inputs import InputRecord, clashing_outputs, wide_encoding
from streams.masking import mask_text
from streams.producer import (
    BrokerUnavailable,
    DeliveryFailed,
    DryRunProducer,
    InteractionProducer,
    ProducerError,
    RegistryUnreachable,
    TopicMissing,
)
from streams.settings import Settings, SettingsError

__all__ = [
    "InputRecord",
    "ProduceSummary",
    "Progress",
    "Publisher",
    "Rejects",
    "command",
    "execute",
    "jsonl_records",
    "parse_line",
    "publish",
    "rejects_path",
    "reused_ids",
    "would_send",
]

_MAX_STDERR_REPORTS = 1000
_EXIT_NOTHING_SENT = 1
_EXIT_UNAVAILABLE = 3


def parse_line(raw: bytes, limits: Limits) -> Interaction:
    """One JSON Lines line to a valid Interaction. Raises InvalidInteraction with a PII-free reason."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The column as `irl replay` gives it: characters before the byte, from 1.
        column = len(raw[: exc.start].decode("utf-8")) + 1
        raise InvalidInteraction(f"line: not UTF-8: invalid byte at column {column}") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        if "\x00" in text:  # UTF-16 without a byte-order mark: every other byte is NUL
            raise InvalidInteraction("line: not JSON: NUL bytes (UTF-16 text without a byte-order mark?)") from None
        what = exc.msg.removesuffix(" at")  # json's "Invalid control character at"
        raise InvalidInteraction(f"line: not JSON ({what} at column {exc.colno})") from None
    except RecursionError:
        raise InvalidInteraction("line: JSON nested too deeply") from None
    try:
        return from_json(obj, limits)
    except InvalidInteraction:
        raise
    except Exception as exc:  # from_json should only raise InvalidInteraction; never crash on input
        raise InvalidInteraction(f"event: unreadable ({type(exc).__name__})") from None


def reused_ids(config: ResolverConfig) -> Callable[[Interaction], bool]:
    """A watch over one run's records in order: True for an event reusing an earlier one's id with other content.

    The core's own rule (`resolver.replay.IdWatch`, the evidence id of `resolver.linking.found_of`
    with the worker's configuration): the worker would take nothing of such an event, and
    `irl replay` of the same file rejects the same line. Rejecting it here, in the file's order,
    means the worker sees only the first, whatever order the touchpoint topics interleave in.
    """
    parser = IdentifierParser(config)
    watch = IdWatch(config.duplicate_horizon_ms)

    def reused(event: Interaction) -> bool:
        found = found_of(parser, event.touchpoint, event.source_id, event.phone, event.email, event.name)
        return watch.reused(event.event_id, event.occurred_at, found[3])

    return reused


def rejects_path(source: Path, cwd: Path | None = None) -> Path:
    """Default rejects file of an input: `events.jsonl` -> `events.rejects.jsonl`, next to the input
    when it lies under the working directory (`cwd`, default the process's), else in the working
    directory: a file elsewhere (`/etc/hosts`, `../shared/events.jsonl`) is never written beside."""
    name = source.name.removesuffix(".jsonl") + ".rejects.jsonl"
    here = (cwd if cwd is not None else Path.cwd()).resolve()
    if source.resolve().parent.is_relative_to(here):
        return source.with_name(name)
    return here / name


@dataclass
class ProduceSummary:
    """Counts of one run."""

    lines: int = 0
    blank: int = 0
    sent: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    failed: int = 0
    #: among `rejected`: events reusing an id of an earlier record of this run with other content
    reused: int = 0
    reject_files: set[Path] = field(default_factory=set)
    seconds: float = 0.0

    @property
    def total_sent(self) -> int:
        """Events acknowledged by the broker."""
        return sum(self.sent.values())


def jsonl_records(files: Iterable[Path]) -> Iterator[InputRecord]:
    """The lines of JSON Lines files, each read with `parse_line`."""
    for source in files:
        with source.open("rb") as fh:
            for line, raw in enumerate(fh, 1):
                if line == 1 and raw.startswith(codecs.BOM_UTF8):  # Excel's and Windows' exports write one
                    raw = raw[len(codecs.BOM_UTF8) :]
                yield InputRecord(source, line, raw, functools.partial(parse_line, raw) if raw.strip() else None)


class Publisher(Protocol):
    """What `publish` needs of a producer: `InteractionProducer`, or `DryRunProducer` for a dry run."""

    bootstrap: str
    topics: dict[str, str]

    async def __aenter__(self) -> Any: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def missing_topics(self) -> list[str]: ...

    async def enqueue(self, event: Interaction) -> asyncio.Future[Any]: ...


class Rejects:
    """Writes rejected records to the rejects file(s), opening each only when it is first needed.

    One JSON object a line: `{"file", "line", "reason", "raw"}`, `raw` the record as read (bytes
    that are not UTF-8 as backslash escapes). The reason is reported on stderr too, masked.
    """

    def __init__(self, fixed: Path | None, summary: ProduceSummary) -> None:
        self._fixed = fixed
        self._summary = summary
        self._open: dict[Path, IO[str] | None] = {}
        self._reported = 0

    def add(self, source: Path, line: int, reason: str, raw: bytes, *, kind: str = "rejected") -> None:
        """Write one rejected (or failed) record and report it.

        A rejects file that cannot be written (a read-only directory, a full disk) is said once on
        stderr and the run goes on: the records are still reported there (line and reason).
        """
        path = self._fixed or rejects_path(source)
        if path in self._open:
            fh = self._open[path]
        else:
            fh = self._open[path] = self._create(path, source)
        if fh is not None:
            text = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
            record = {"file": str(source), "line": line, "reason": reason, "raw": text}
            try:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            except OSError as exc:
                self._unwritable(path, exc)
                self._summary.reject_files.discard(path)
                self._open[path] = None
                with contextlib.suppress(OSError):
                    fh.close()
        self._reported += 1
        if self._reported <= _MAX_STDERR_REPORTS:
            click.echo(f"{source}:{line}: {kind}: {mask_text(reason)}", err=True)
        elif self._reported == _MAX_STDERR_REPORTS + 1:
            more = (
                f"in {path} only" if self._open.get(path) is not None else "nowhere (the rejects file is not written)"
            )
            click.echo(f"... more reported {more}", err=True)

    def _create(self, path: Path, source: Path) -> IO[str] | None:
        """Open a rejects file (said on stderr), or None when it cannot be (said too)."""
        try:
            # The rejected lines as read, personal data and all (to fix and send again): the
            # owner's alone, as the input they came from should be (docs/privacy.md).
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            self._unwritable(path, exc)
            return None
        try:
            os.fchmod(fd, 0o600)  # a file that was there keeps its mode through os.open
        except OSError:
            pass  # not the owner of a file it may write: it keeps its mode
        self._summary.reject_files.add(path)
        click.echo(f"rejects of {source} are written to {path}", err=True)
        return os.fdopen(fd, "w", encoding="utf-8")

    @staticmethod
    def _unwritable(path: Path, exc: OSError) -> None:
        why = exc.strerror or type(exc).__name__
        click.echo(
            f"warning: cannot write the rejects file {path} ({why}): rejected records are reported on stderr only; "
            "give --rejects a writable path",
            err=True,
        )

    def close(self) -> None:
        """Close every rejects file opened."""
        for fh in self._open.values():
            if fh is not None:
                with contextlib.suppress(OSError):
                    fh.close()


class Progress:
    """A progress bar over input bytes, on a terminal only (stderr)."""

    def __init__(self, total: int, label: str = "producing", *, show: bool = True) -> None:
        self._bar: Any = None
        if show and sys.stderr.isatty():
            self._bar = click.progressbar(length=total, label=label, file=sys.stderr)
            self._bar.__enter__()

    def update(self, n: int) -> None:
        """Advance by `n` bytes read."""
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        """End the bar (a no-op off a terminal)."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


async def publish(
    records: Iterable[InputRecord],
    producer: Publisher,
    limits_at: Callable[[], Limits],
    rejects: Rejects,
    summary: ProduceSummary,
    batch: int,
    progress: Progress,
    on_sent: Callable[[Interaction], None] | None = None,
    reused: Callable[[Interaction], bool] | None = None,
) -> None:
    """Read, validate and send every record; reject the invalid ones; count everything in `summary`.

    `reused` (`reused_ids`): True for a valid event whose id an earlier record of this run used
    with other content within the duplicate horizon; it is rejected (`REUSED_ID`), not sent.

    At most `batch` sends are in flight before their acknowledgements are awaited. `on_sent` is
    called with each event once the broker has acknowledged it (in a dry run: once it is valid).
    Raises TopicMissing before anything is sent when a topic does not exist, and the other
    ProducerErrors as the producer raises them.
    """
    topic_names = {topic: tp.lower() for tp, topic in producer.topics.items()}
    async with producer:
        missing = await producer.missing_topics()
        if missing:
            raise TopicMissing(
                f"topics {', '.join(missing)} do not exist on {producer.bootstrap}: run `irl topics create`"
            )
        pending: list[tuple[asyncio.Future[Any], InputRecord, Interaction]] = []
        watch = reused if reused is not None else (lambda _event: False)

        async def drain() -> None:
            results = await asyncio.gather(*(p[0] for p in pending), return_exceptions=True)
            for (_, record, event), result in zip(pending, results, strict=True):
                if isinstance(result, BaseException):
                    summary.failed += 1
                    rejects.add(
                        record.source, record.line, f"not delivered: {type(result).__name__}", record.raw, kind="failed"
                    )
                else:
                    summary.sent[topic_names.get(result.topic, result.topic)] += 1
                    if on_sent is not None:
                        on_sent(event)
            pending.clear()

        for record in records:
            summary.lines += 1
            progress.update(len(record.raw))
            if record.read is None:
                summary.blank += 1
                continue
            try:
                event = record.read(limits_at())
                if watch(event):  # the worker would take nothing of it: not sent, said here (README)
                    summary.rejected += 1
                    summary.reused += 1
                    rejects.add(record.source, record.line, REUSED_ID, record.raw)
                    continue
                future = await producer.enqueue(event)
            except (InvalidInteraction, CodecError) as exc:
                summary.rejected += 1
                rejects.add(record.source, record.line, getattr(exc, "reason", str(exc)), record.raw)
                continue
            except DeliveryFailed as exc:  # e.g. a record larger than the broker accepts
                summary.failed += 1
                rejects.add(record.source, record.line, str(exc), record.raw, kind="failed")
                continue
            pending.append((future, record, event))
            if len(pending) >= batch:
                await drain()
        await drain()


def execute(
    records: Iterable[InputRecord],
    producer: Publisher,
    settings: Settings,
    rejects_file: Path | None,
    batch: int,
    progress: Progress,
    *,
    unit: str = "lines",
    dry_run: bool = False,
    on_sent: Callable[[Interaction], None] | None = None,
    zone: _dt.tzinfo | None = None,
) -> ProduceSummary:
    """Run `publish` to the end, print the summary and exit as the module docstring says.

    Raises click's Exit with the status of a failed run; returns the summary of a good one.
    """

    limits_at = _limits_at(settings, zone, _wall_ms)
    summary = ProduceSummary()
    rejects = Rejects(rejects_file, summary)
    started = time.perf_counter()
    try:
        asyncio.run(
            publish(
                records, producer, limits_at, rejects, summary, batch, progress, on_sent, reused_ids(_config(settings))
            )
        )
    except (BrokerUnavailable, RegistryUnreachable, TopicMissing) as exc:
        click.echo(f"error: {exc}", err=True)
        raise click.exceptions.Exit(_EXIT_UNAVAILABLE) from None
    except ProducerError as exc:
        click.echo(f"error: {exc}", err=True)
        raise click.exceptions.Exit(_EXIT_NOTHING_SENT) from None
    finally:
        progress.close()
        rejects.close()
        summary.seconds = time.perf_counter() - started
    _report(summary, unit, dry_run)
    if summary.total_sent == 0:
        click.echo("error: nothing is valid" if dry_run else "error: nothing could be sent", err=True)
        raise click.exceptions.Exit(_EXIT_NOTHING_SENT)
    if summary.failed:
        raise click.exceptions.Exit(_EXIT_NOTHING_SENT)
    return summary


def sending_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of a command that sends events: --bootstrap, --batch, --timeout (as `timeout_s`)."""
    for option in reversed(
        (
            click.option("--bootstrap", default=None, help="Kafka bootstrap servers (default IRL_KAFKA_BOOTSTRAP)."),
            click.option(
                "--batch",
                default=5000,
                show_default=True,
                type=click.IntRange(1, 1_000_000),
                help="Sends in flight before waiting for their acknowledgements.",
            ),
            click.option(
                "--timeout",
                "timeout_s",
                default=15.0,
                show_default=True,
                type=click.FloatRange(0.5, 600),
                help="Seconds to wait for the broker before giving up.",
            ),
        )
    ):
        command = option(command)
    return command


@click.command("produce")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--rejects",
    "rejects_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write rejected lines here (default: FILE.rejects.jsonl next to each input under the working "
    "directory, else in the working directory; said on stderr).",
)
@click.option("--topic-web", default=None, help="Topic for WEB events (default IRL_TOPIC_WEB).")
@click.option("--topic-whatsapp", default=None, help="Topic for WHATSAPP events (default IRL_TOPIC_WHATSAPP).")
@click.option("--topic-kiosk", default=None, help="Topic for KIOSK events (default IRL_TOPIC_KIOSK).")
@click.option("--topic-crm", default=None, help="Topic for CRM events (default IRL_TOPIC_CRM).")
@sending_options
@click.option("--dry-run", is_flag=True, help="Validate and report, write the rejects; send nothing.")
@click.option(
    "--timezone",
    "zone_name",
    default=None,
    help="Zone of ISO-8601 times written without one (UTC, +05:30, Asia/Kolkata); without it they are rejected.",
)
def command(
    files: tuple[Path, ...],
    rejects_file: Path | None,
    topic_web: str | None,
    topic_whatsapp: str | None,
    topic_kiosk: str | None,
    topic_crm: str | None,
    bootstrap: str | None,
    batch: int,
    timeout_s: float,
    dry_run: bool,
    zone_name: str | None,
) -> None:
    """Publish the interaction events of JSON Lines FILES to their touchpoint topics."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    topics = settings.touchpoint_topics()
    overrides = {"WEB": topic_web, "WHATSAPP": topic_whatsapp, "KIOSK": topic_kiosk, "CRM": topic_crm}
    topics.update({tp: topic for tp, topic in overrides.items() if topic})
    try:
        zone = parse_timezone(zone_name) if zone_name is not None else None
    except CsvImportError as exc:
        raise click.BadParameter(str(exc), param_hint="--timezone") from None
    given = (
        [{"--rejects": rejects_file}]
        if rejects_file is not None
        else [{"--rejects (default)": rejects_path(f)} for f in files]
    )
    for outputs in given:
        clash = clashing_outputs(files, outputs)
        if clash is not None:
            raise click.UsageError(clash)
    for path in files:
        wide = wide_encoding(path)
        if wide is not None:
            raise click.ClickException(wide)
    limits = Limits(max_string=settings.max_string, zone=zone)
    producer: Publisher
    if dry_run:
        producer = DryRunProducer(topics, limits)
    else:
        server = bootstrap or settings.kafka_bootstrap
        producer = InteractionProducer(
            server, topics, limits, connect_timeout_s=timeout_s, topic_timeout_s=min(timeout_s, 10.0)
        )
    progress = Progress(sum(f.stat().st_size for f in files), "producing")
    execute(jsonl_records(files), producer, settings, rejects_file, batch, progress, dry_run=dry_run, zone=zone)


def _report(s: ProduceSummary, unit: str, dry_run: bool) -> None:
    per_topic = ", ".join(f"{name} {n}" for name, n in sorted(s.sent.items())) or "none"
    rate = s.total_sent / s.seconds if s.seconds > 0 else 0.0
    where = f" (see {', '.join(str(p) for p in sorted(s.reject_files))})" if s.reject_files else ""
    sent = "dry run, nothing sent: would send" if dry_run else "sent"
    click.echo(
        f"{sent} {s.total_sent} ({per_topic}); rejected {s.rejected}"
        f"{f' ({s.reused} reusing an event id with other content)' if s.reused else ''}; failed {s.failed}; "
        f"blank {s.blank}; {s.lines} {unit} in {s.seconds:.2f}s, {rate:,.0f} events/s{where}"
    )


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def _limits_at(settings: Settings, zone: _dt.tzinfo | None, clock: Callable[[], int]) -> Callable[[], Limits]:
    """The limits each line is read with: the settings', ``occurred_at`` bounded by `clock` then."""

    def limits_at() -> Limits:
        return Limits(max_string=settings.max_string, now_ms=clock(), zone=zone)

    return limits_at


def _config(settings: Settings) -> ResolverConfig:
    """The worker's reading of identifiers (region, horizon): an id reused with other content is
    found as the worker and `irl replay` find it (its digest key plays no part in evidence ids)."""
    return ResolverConfig(
        default_region=settings.default_region,
        phone_regions=settings.phone_regions,
        duplicate_horizon_ms=settings.duplicate_horizon_days * 86_400_000,
        junk_values=settings.junk_values,
    )


class _Unwritten(Rejects):
    """Rejects counted by `publish` (in its summary) and neither written nor said."""

    def add(self, source: Path, line: int, reason: str, raw: bytes, *, kind: str = "rejected") -> None:
        return None

    def close(self) -> None:
        return None


def would_send(
    files: Iterable[Path],
    settings: Settings,
    *,
    zone: _dt.tzinfo | None = None,
    clock: Callable[[], int] = _wall_ms,
) -> ProduceSummary:
    """What ``irl produce --dry-run FILES`` counts (`ProduceSummary.total_sent`: the events a run
    sends), by the very same `publish`, without writing rejects, reporting or exiting.

    One definition of a valid line for `make demo`'s waiter (`streams.demo`) and the producer: a
    time more than a day after `clock`, an id reused with other content, a line that does not
    encode, each is refused by both.
    """
    summary = ProduceSummary()
    limits = Limits(max_string=settings.max_string, zone=zone)
    producer = DryRunProducer(settings.touchpoint_topics(), limits, clock=clock)
    asyncio.run(
        publish(
            jsonl_records(files),
            producer,
            _limits_at(settings, zone, clock),
            _Unwritten(None, summary),
            summary,
            1000,
            Progress(0, show=False),
            reused=reused_ids(_config(settings)),
        )
    )
    return summary
