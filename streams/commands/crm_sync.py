"""`irl crm-sync`: keep a CRM database in step with the resolved-customer changelog.

Runs until SIGINT/SIGTERM (finishing and committing the batch in hand), or with
`--until-idle S` until S seconds pass without a record, or until `--max-records N`.
Exit codes: 0 done, 2 bad usage or URL, 3 the database or Kafka is unavailable.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import click

from streams.crm import (
    DEFAULT_CRM_URL,
    CrmError,
    CrmSourceUnavailable,
    CrmUnavailable,
    CrmUrlError,
    SyncReport,
    open_store,
    safe_url,
    sync_crm,
)
from streams.settings import Settings, SettingsError

__all__ = ["command"]

_PROGRESS_EVERY_S = 2.0


async def _run(
    url: str, bootstrap: str, topic: str, group: str, until_idle: float | None, max_records: int | None
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
            until_idle_s=until_idle,
            max_records=max_records,
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
@click.option("--group", default=None, help="Consumer group (default <IRL_APP_ID>-crm).")
@click.option("--bootstrap", default=None, help="Kafka bootstrap servers (default IRL_KAFKA_BOOTSTRAP).")
@click.option(
    "--until-idle",
    type=click.FloatRange(0.1, 86400),
    default=None,
    help="Exit after this many seconds without a record.",
)
@click.option("--max-records", type=click.IntRange(1), default=None, help="Exit after this many records.")
def command(
    url: str,
    topic: str | None,
    group: str | None,
    bootstrap: str | None,
    until_idle: float | None,
    max_records: int | None,
) -> None:
    """Apply the resolved-customer changelog to a CRM database (idempotent; offsets after the DB commit)."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    name = topic or settings.topic_resolved
    group_id = group or f"{settings.app_id}-crm"
    server = bootstrap or settings.kafka_bootstrap
    click.echo(f"crm-sync: {name} -> {safe_url(url)} (group {group_id})", err=True)
    try:
        report = asyncio.run(_run(url, server, name, group_id, until_idle, max_records))
    except CrmUrlError as exc:
        raise click.UsageError(str(exc)) from None
    except (CrmUnavailable, CrmSourceUnavailable) as exc:
        click.echo(f"error: {exc}", err=True)
        raise click.exceptions.Exit(3) from None
    except CrmError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"crm-sync: stopped ({report.stopped_by}): {report.summary()}")
