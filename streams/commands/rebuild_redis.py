"""`irl rebuild-redis`: rebuild the Redis read model from the worker's table changelog."""

from __future__ import annotations

import asyncio
import time

import click

from streams.settings import Settings, SettingsError
from streams.topics import records_to_end

__all__ = ["command", "read_state"]


async def read_state(bootstrap: str, topic: str, timeout_s: float = 60.0) -> dict[str, str]:
    """Fold a compacted table changelog into its current key -> value state (tombstones delete)."""
    state: dict[str, str] = {}
    try:
        async for rec in records_to_end(bootstrap, topic, timeout_s):
            if rec.key is None:
                continue
            key = rec.key.decode()
            if rec.value is None:
                state.pop(key, None)
            else:
                state[key] = rec.value.decode()
    except LookupError:
        raise click.ClickException(f"topic {topic} does not exist: has the worker ever run?") from None
    except TimeoutError as exc:
        raise click.ClickException(str(exc)) from None
    return state


async def _rebuild(settings: Settings) -> tuple[int, int]:
    from streams.app import resolver_config
    from streams.pipeline import Pipeline
    from streams.readmodel import RedisReadModel
    from streams.state_store import InMemoryStateLog

    topic = f"{settings.app_id}-irl-state-changelog"
    log = InMemoryStateLog(await read_state(settings.kafka_bootstrap, topic))
    wal = log.redo()
    offset = -1 if wal is None else wal.offset
    pipeline = Pipeline(
        resolver_config(settings), settings.window_seconds * 1000, settings.grace_seconds * 1000, log.records()
    )
    model = RedisReadModel.from_url(settings.redis_url, prefix=settings.topic_prefix)
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
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    t0 = time.monotonic()
    n, offset = asyncio.run(_rebuild(settings))
    click.echo(f"rebuilt Redis: {n} customers at links offset {offset} in {time.monotonic() - t0:.1f}s")
