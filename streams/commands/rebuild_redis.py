"""`irl rebuild-redis`: rebuild the Redis read model from the worker's table changelog."""

from __future__ import annotations

import asyncio
import time

import click

from streams.settings import Settings, SettingsError
from streams.state_store import read_state
from streams.topics import state_topic_name

__all__ = ["command"]


async def _read(bootstrap: str, topic: str) -> dict[str, str]:
    try:
        return await read_state(bootstrap, topic, timeout_s=600.0)
    except LookupError:
        raise click.ClickException(f"topic {topic} does not exist: has the worker ever run?") from None
    except TimeoutError as exc:
        raise click.ClickException(str(exc)) from None


async def _rebuild(settings: Settings) -> tuple[int, int]:
    from streams.app import resolver_config
    from streams.pipeline import Pipeline
    from streams.readmodel import RedisReadModel
    from streams.state_store import InMemoryStateLog

    topic = state_topic_name(settings)
    log = InMemoryStateLog(await _read(settings.kafka_bootstrap, topic))
    wal = log.redo()
    offset = -1 if wal is None else wal.offset
    pipeline = Pipeline(
        resolver_config(settings), settings.window_seconds * 1000, settings.grace_seconds * 1000, log.records()
    )
    model = RedisReadModel.from_url(settings.redis_url, settings.topic_prefix, settings.redis_ca_file)
    try:
        n = await model.rebuild(pipeline.mirror_records(), (), offset)
    finally:
        await model.close()
    return n, offset


@click.command("rebuild-redis")
def command() -> None:
    """Replace the Redis read model with the state in the worker's Faust table."""
    try:
        settings = Settings.from_env()
        settings.require_digest_key()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    t0 = time.monotonic()
    n, offset = asyncio.run(_rebuild(settings))
    click.echo(f"rebuilt Redis: {n} customers at links offset {offset} in {time.monotonic() - t0:.1f}s")
