"""`irl crm-sync`: keep a CRM database in step with the resolved-customer changelog and interactions.

Runs until SIGINT/SIGTERM (finishing and committing the batch in hand), or with
`--until-idle S` until S seconds pass without a record, or until `--max-records N`.
`--timeline CUSTOMER_ID` instead prints that customer's interactions from the database and exits
(source ids and attribute values masked). Exit codes: 0 done, 2 bad usage or URL, 3 the database
or Kafka is unavailable, 4 `--timeline` of an id that leads to no customer.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import click

from resolver.interaction import UNKNOWN_TIME_MS
from streams.crm import (
    BATCH_RECORDS,
    DEFAULT_CRM_URL,
    CrmError,
    CrmSourceUnavailable,
    CrmUnavailable,
    CrmUrlError,
    SyncReport,
    Timeline,
    crm_timeline,
    open_store,
    safe_url,
    sync_crm,
)
from streams.masking import mask_text
from streams.settings import Settings, SettingsError
from streams.web.redact import mask_source

__all__ = ["command"]

_PROGRESS_EVERY_S = 2.0


async def _run(
    url: str,
    bootstrap: str,
    topic: str,
    interactions_topic: str | None,
    group: str,
    until_idle: float | None,
    max_records: int | None,
    batch_records: int = BATCH_RECORDS,
) -> SyncReport:
    store = open_store(url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    last = [time.monotonic()]

    def progress(report: SyncReport) -> None:
        now = time.monotonic()
        if now - last[0] >= _PROGRESS_EVERY_S:
            last[0] = now
            click.echo(f"crm-sync: {report.summary()}", err=True)

    try:
        return await sync_crm(
            store,
            bootstrap=bootstrap,
            topic=topic,
            group=group,
            interactions_topic=interactions_topic,
            until_idle_s=until_idle,
            max_records=max_records,
            batch_records=batch_records,
            stop=stop,
            on_batch=progress,
        )
    finally:
        store.close()


@click.command("crm-sync")
@click.option(
    "--db", "url", default=DEFAULT_CRM_URL, show_default=True, help="CRM database: sqlite:///FILE or postgresql://..."
)
@click.option("--topic", default=None, help="Resolved topic (default IRL_TOPIC_RESOLVED).")
@click.option(
    "--interactions-topic", default=None, help="Resolved interactions topic (default IRL_TOPIC_INTERACTIONS)."
)
@click.option(
    "--no-interactions", is_flag=True, help="Consume the changelog only (the interactions table is left as it is)."
)
@click.option("--group", default=None, help="Consumer group (default <IRL_APP_ID>-crm).")
@click.option("--bootstrap", default=None, help="Kafka bootstrap servers (default IRL_KAFKA_BOOTSTRAP).")
@click.option(
    "--until-idle",
    type=click.FloatRange(0.1, 86400),
    default=None,
    help="Exit after this many seconds without a record.",
)
@click.option("--max-records", type=click.IntRange(1), default=None, help="Exit after this many records.")
@click.option(
    "--batch-records",
    type=click.IntRange(1),
    default=BATCH_RECORDS,
    show_default=True,
    help="Records (of both topics) per database transaction at most.",
)
@click.option(
    "--timeline",
    "timeline_id",
    default=None,
    metavar="CUSTOMER_ID",
    help="Print this customer's interactions across touchpoints from the database, then exit.",
)
def command(
    url: str,
    topic: str | None,
    interactions_topic: str | None,
    no_interactions: bool,
    group: str | None,
    bootstrap: str | None,
    until_idle: float | None,
    max_records: int | None,
    batch_records: int,
    timeline_id: str | None,
) -> None:
    """Apply the resolved-customer changelog and the resolved interactions to a CRM database
    (idempotent; offsets after the DB commit)."""
    if timeline_id is not None:
        _show_timeline(url, timeline_id)
        return
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    if no_interactions and interactions_topic is not None:
        raise click.UsageError("--no-interactions and --interactions-topic exclude each other")
    name = topic or settings.topic_resolved
    interactions = None if no_interactions else interactions_topic or settings.topic_interactions
    group_id = group or f"{settings.app_id}-crm"
    server = bootstrap or settings.kafka_bootstrap
    sources = name if interactions is None else f"{name} + {interactions}"
    click.echo(f"crm-sync: {sources} -> {safe_url(url)} (group {group_id})", err=True)
    try:
        report = asyncio.run(_run(url, server, name, interactions, group_id, until_idle, max_records, batch_records))
    except CrmUrlError as exc:
        raise click.UsageError(str(exc)) from None
    except (CrmUnavailable, CrmSourceUnavailable) as exc:
        click.echo(f"error: {exc}", err=True)
        raise click.exceptions.Exit(3) from None
    except CrmError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"crm-sync: stopped ({report.stopped_by}): {report.summary()}")


def _show_timeline(url: str, customer_id: str) -> None:
    try:
        found = crm_timeline(url, customer_id)
    except CrmUrlError as exc:
        raise click.UsageError(str(exc)) from None
    except CrmUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        raise click.exceptions.Exit(3) from None
    if found.customer_id is None:
        click.echo(f"no customer {customer_id} in {safe_url(url)} (unknown, or erased)", err=True)
        raise click.exceptions.Exit(4)
    click.echo("\n".join(render_timeline(found)))


def render_timeline(found: Timeline, limit: int | None = None) -> list[str]:
    """The timeline as lines for a terminal: time (UTC), touchpoint, source id and attribute values masked."""
    import datetime

    head = f"customer {found.customer_id}"
    if found.customer_id != found.asked:
        head += f" ({found.asked} was absorbed into it)"
    rows = found.interactions if limit is None else found.interactions[-limit:]
    lines = [
        f"{head}: {len(found.interactions)} interactions across {', '.join(found.touchpoints()) or 'no touchpoint'}"
        + (f" (the last {len(rows)})" if len(rows) < len(found.interactions) else "")
    ]
    for r in rows:
        when = (
            "time unknown".ljust(19)  # an import without a date (`UNKNOWN_TIME_MS`)
            if r.occurred_at == UNKNOWN_TIME_MS
            else datetime.datetime.fromtimestamp(r.occurred_at / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        )
        attributes = " ".join(f"{k}={mask_text(v)}" for k, v in r.attributes)
        lines.append(
            f"  {when}  {r.ref.touchpoint:<9} {mask_source(r.ref.touchpoint, r.ref.source_id):<16} "
            f"{r.interaction:<16} {attributes}".rstrip()
        )
    return lines
