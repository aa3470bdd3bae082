"""`irl topics create|list`: the project's topics, with fixed partition counts, and their contracts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import click
from aiokafka.errors import KafkaError

from streams.kafka_auth import client_options
from streams.registry import RegistryError, RegistryUnavailable
from streams.settings import Settings
from streams.topics import describe_topics, ensure_project_topics, project_topics, register_project_contracts

__all__ = ["command"]

#: The exit status of `irl topics list` when Kafka does not answer (as `irl deadletters`, `produce`).
EXIT_UNAVAILABLE = 3
#: Seconds `irl topics create` keeps asking a registry that does not answer (a cold JVM's first requests).
REGISTER_WAIT_S = 60.0


@click.group("topics")
def command() -> None:
    """Create or list the project's Kafka topics."""


@command.command("create")
def create() -> None:
    """Create every topic the project uses (existing ones keep their partitions and get this version's
    settings: retention, compaction, timestamp type) and register the
    contracts under their subjects (`<topic>-value`, FULL_TRANSITIVE) in the schema registry."""
    settings = Settings.from_env()
    specs = project_topics(settings)
    try:
        outcome = asyncio.run(ensure_project_topics(settings))
    except Exception as exc:  # the operator needs the cause, not a traceback
        raise click.ClickException(f"cannot create topics on {settings.kafka_bootstrap}: {exc}") from exc
    for spec in specs:
        state = "created" if spec.name in outcome.created else "updated" if spec.name in outcome.updated else "exists"
        click.echo(f"{spec.name:<36} {spec.partitions:>3} partitions  {state:<8} {spec.purpose}")
    registered = _register(settings)
    for reg in registered:
        ids = ", ".join(f"v{n} id {i}" for n, i in enumerate(reg.ids, 1))
        click.echo(f"{reg.subject:<42} {reg.contract:<22} {ids}  {reg.compatibility}")


def _register(settings: Settings) -> list[Any]:
    """Register the contracts; a registry that does not answer yet (a cold start) is asked again for a while."""
    deadline = time.monotonic() + REGISTER_WAIT_S
    while True:
        try:
            return asyncio.run(register_project_contracts(settings))
        except RegistryUnavailable as exc:
            if time.monotonic() >= deadline:
                raise click.ClickException(
                    f"cannot register the contracts in {settings.schema_registry_url}: {exc}"
                ) from exc
            click.echo(f"schema registry not answering yet ({exc}); trying again", err=True)
            time.sleep(2.0)
        except RegistryError as exc:  # refused: asking again changes nothing
            raise click.ClickException(
                f"cannot register the contracts in {settings.schema_registry_url}: {exc}"
            ) from exc


@command.command("list")
def list_() -> None:
    """Show the project's topics and their partition counts on the broker."""
    settings = Settings.from_env()
    specs = project_topics(settings)
    try:
        counts = asyncio.run(
            describe_topics(settings.kafka_bootstrap, [s.name for s in specs], security=client_options(settings))
        )
    except (KafkaError, OSError, TimeoutError) as exc:  # the operator needs the cause, not a traceback
        click.echo(f"error: cannot reach Kafka at {settings.kafka_bootstrap}: {type(exc).__name__}", err=True)
        raise click.exceptions.Exit(EXIT_UNAVAILABLE) from None
    for spec in specs:
        have = counts.get(spec.name)
        click.echo(f"{spec.name:<36} {have if have is not None else 'missing':>7}  (expected {spec.partitions})")
