"""`irl import FILE.csv --map ...`: an existing CRM's contacts export, published as CRM interaction events.

Each row becomes one event of the CRM touchpoint on its topic (`IRL_TOPIC_CRM`), read as
`streams.csvimport` says (mapping, dialect, UTF-8 with or without BOM, event ids from the
row's values: importing a file again sends only duplicates, which change nothing). The
publishing is `irl produce`'s (`streams.commands.produce`): the same validation, rejects file
(``FILE.csv.rejects.jsonl`` by default, as `irl produce` places it, one ``{"file", "line", "reason", "raw"}`` a row),
reports on stderr with personal data masked, progress bar, summary and exit status (0 sent,
1 nothing sent or a send failed, 2 bad usage, mapping or file, 3 broker or topic unavailable).

``occurred_at``: the mapped column, else (no column, an empty cell, a time before 2000) unknown:
`resolver.interaction.UNKNOWN_TIME_MS`, which moves neither ``first_seen`` nor ``last_seen`` of
the customer (an import is no interaction: before s37 it was the file's modification time, and
every dormant contact imported without a date looked active on the import day; audit s36, A11).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from resolver.interaction import UNKNOWN_TIME_MS, Interaction, Limits, to_json
from streams.commands.produce import Progress, Publisher, execute, rejects_path, sending_options
from streams.csvimport import (
    MAPPABLE,
    TOUCHPOINT,
    ColumnMap,
    CsvContacts,
    CsvImportError,
    parse_date_format,
    parse_delimiter,
    parse_timezone,
)
from streams.inputs import clashing_outputs
from streams.producer import DryRunProducer, InteractionProducer
from streams.settings import Settings, SettingsError

__all__ = ["command"]


#: What rows without a time take, as the summary line says it.
_UNKNOWN_IS = "unknown (2000-01-01T00:00:00Z, the contract's mark: moves neither first_seen nor last_seen)"


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--map",
    "mappings",
    multiple=True,
    required=True,
    metavar="FIELD=COLUMN,...",
    help=(
        f"Which column holds each field ({', '.join(MAPPABLE)}; id is required), e.g. "
        '--map phone=Mobile,email=Email,name="Full Name",id=ContactId. A name in two columns: '
        'first_name="First Name",last_name="Last Name" instead of name; the first of several columns that is '
        'not blank: phone="Mobile|Phone". Quote a column name holding a comma or |.'
    ),
)
@click.option(
    "--rejects",
    "rejects_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write rejected rows here (default: FILE.csv.rejects.jsonl next to the input under the working "
    "directory, else in the working directory; said on stderr).",
)
@click.option("--dry-run", is_flag=True, help="Read, validate and report, write the rejects; send nothing.")
@click.option(
    "--events-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write each event sent (in a dry run: each valid one) as JSON Lines, the input of irl replay.",
)
@click.option(
    "--delimiter", default=None, help="The file's delimiter (default: Excel's sep= line, else sniffed among , ; tab |)."
)
@click.option(
    "--encoding",
    default=None,
    help="The file's encoding when not UTF-8, e.g. cp1252 (Excel's CSV on Windows); a UTF-16 or UTF-32 "
    "byte-order mark is read whatever this says.",
)
@click.option(
    "--timezone",
    "zone",
    default=None,
    help="Zone of occurred_at values written without one (Asia/Kolkata, UTC, +05:30); default: rejected.",
)
@click.option(
    "--date-format",
    default=None,
    metavar="FORMAT",
    help="How occurred_at is written when not ISO-8601 or epoch ms: a strptime format, e.g. %d/%m/%Y %H:%M.",
)
@click.option("--topic", default=None, help="Topic for the events (default IRL_TOPIC_CRM).")
@sending_options
def command(
    file: Path,
    mappings: tuple[str, ...],
    rejects_file: Path | None,
    dry_run: bool,
    events_out: Path | None,
    delimiter: str | None,
    encoding: str | None,
    zone: str | None,
    date_format: str | None,
    topic: str | None,
    bootstrap: str | None,
    batch: int,
    timeout_s: float,
) -> None:
    """Import a CRM's contacts export FILE (CSV) as interaction events of the CRM touchpoint."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    clash = clashing_outputs((file,), {"--rejects": rejects_file or rejects_path(file), "--events-out": events_out})
    if clash is not None:
        raise click.UsageError(clash)
    default_ms, default_is = UNKNOWN_TIME_MS, _UNKNOWN_IS
    try:
        contacts = CsvContacts(
            file,
            ColumnMap.parse(",".join(mappings)),
            default_ms=default_ms,
            delimiter=parse_delimiter(delimiter) if delimiter is not None else None,
            timezone=parse_timezone(zone) if zone is not None else None,
            date_format=parse_date_format(date_format) if date_format is not None else None,
            encoding=encoding,
        )
    except CsvImportError as exc:
        raise click.UsageError(str(exc)) from None
    _describe(contacts, default_is)
    topics = {TOUCHPOINT: topic or settings.touchpoint_topics()[TOUCHPOINT]}
    limits = Limits(max_string=settings.max_string)
    producer: Publisher
    if dry_run:
        producer = DryRunProducer(topics, limits)
    else:
        producer = InteractionProducer(
            bootstrap or settings.kafka_bootstrap,
            topics,
            limits,
            connect_timeout_s=timeout_s,
            topic_timeout_s=min(timeout_s, 10.0),
        )
    progress = Progress(file.stat().st_size, "importing")
    try:
        if events_out is None:
            execute(contacts.records(), producer, settings, rejects_file, batch, progress, unit="rows", dry_run=dry_run)
        else:
            _execute_writing(contacts, events_out, producer, settings, rejects_file, batch, progress, dry_run)
    finally:
        if contacts.dated_before_floor:
            click.echo(
                f"{contacts.dated_before_floor} row(s) dated before 2000-01-01 (the contract's oldest time) were "
                f"imported with occurred_at {default_is.split(' (')[0]}; the attribute occurred_at_written keeps "
                "their own time",
                err=True,
            )


def _execute_writing(
    contacts: CsvContacts,
    events_out: Path,
    producer: Publisher,
    settings: Settings,
    rejects_file: Path | None,
    batch: int,
    progress: Progress,
    dry_run: bool,
) -> None:
    """`execute`, writing every event sent to `events_out` as a JSON line."""
    with events_out.open("w", encoding="utf-8", newline="\n") as out:

        def write(event: Interaction) -> None:
            out.write(json.dumps(to_json(event), ensure_ascii=False, separators=(",", ":")) + "\n")

        execute(
            contacts.records(),
            producer,
            settings,
            rejects_file,
            batch,
            progress,
            unit="rows",
            dry_run=dry_run,
            on_sent=write,
        )


def _describe(contacts: CsvContacts, default_is: str) -> None:
    """What will be read, on stderr: column names and the dialect, never a value."""
    delimiter = {"\t": "tab"}.get(contacts.delimiter or ",", contacts.delimiter)
    mapped = ", ".join(f"{f}={contacts.columns.shown(f)}" for f in MAPPABLE if f in contacts.columns.columns)
    encoding = "" if contacts.encoding == "utf-8" else f"encoding {contacts.encoding}, "
    when = f"; occurred_at: {default_is}"
    if "occurred_at" in contacts.columns.columns:
        when = f"; occurred_at, when a cell is empty: {default_is}"
    click.echo(
        f"{contacts.path.name}: {encoding}delimiter {delimiter!r}, {len(contacts.header)} columns; {mapped}{when}",
        err=True,
    )
