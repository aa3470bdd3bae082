"""`irl rebuild-redis`: rebuild the Redis read model from the ordered stage's snapshot and the links log after it."""

from __future__ import annotations

import asyncio
import time

import click
from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from streams.settings import Settings, SettingsError

__all__ = ["EXIT_UNAVAILABLE", "command"]

#: The exit status when Kafka or Redis does not answer (as `irl deadletters`, `produce`, `crm-sync`).
EXIT_UNAVAILABLE = 3


class _Quiet:
    """A mirror that writes nothing (the rebuild writes Redis once, at the end)."""

    async def step(self, step: object) -> None:
        return None

    async def resume(self, applied: int) -> None:
        return None

    async def check(self, force: bool) -> None:
        return None


async def _nothing(*_args: object) -> None:
    return None


async def _sent(*_args: object) -> list[asyncio.Future[None]]:
    """A queued send that sends nothing (the effects of ``IRL_CUSTOMER_STAGE=kafka`` are on their topic already)."""
    return []


async def _rebuild(settings: Settings) -> tuple[int, int]:
    """The state the ordered stage would have at the links log's end, written to Redis; (customers, offset)."""
    from streams.app import build_sequencer, links_topic_name
    from streams.codec import Codecs, use
    from streams.kafka_auth import client_options
    from streams.linkbatch import kind_of
    from streams.readmodel import RedisReadModel
    from streams.runtime import Runtime
    from streams.sequencer import LinkRecord, Ports
    from streams.snapshots import read_stored_state
    from streams.topics import records_to_end, state_topic_name

    security = client_options(settings)
    codecs = Codecs.from_settings(settings)
    use(codecs)  # links records written before batches are touchpoint bytes

    async def fetch_schemas(values: list[bytes]) -> None:
        await codecs.prefetch(values)

    async def read_state() -> dict[bytes, bytes]:
        return await read_stored_state(settings.kafka_bootstrap, state_topic_name(settings), 600.0, security=security)

    rt = Runtime(settings)
    rt.owns_links = True
    # Nothing is published or written: the outputs of the tail are on the resolved topic already.
    ports = Ports(read_state, _nothing, _nothing, _nothing, _nothing, fetch_schemas, _Quiet(), queue_effects=_sent)
    sequencer = build_sequencer(rt, settings, ports)
    start = await sequencer.restore()
    batch: list[LinkRecord] = []
    async for rec in records_to_end(
        settings.kafka_bootstrap, links_topic_name(settings), 600.0, security=security, start=start
    ):
        batch.append(LinkRecord(rec.offset, kind_of(rec.headers), rec.value or b""))
        if len(batch) >= 100:
            await sequencer.apply(batch, rt.writer_epoch)
            batch = []
    await sequencer.apply(batch, rt.writer_epoch)
    assert rt.pipeline is not None
    model = RedisReadModel.from_url(settings.redis_url, settings.topic_prefix, settings.redis_ca_file)
    try:
        n = await model.rebuild(rt.pipeline.mirror_records(), rt.pipeline.mirror_aliases(), rt.applied_offset)
    finally:
        await model.close()
    return n, rt.applied_offset


@click.command("rebuild-redis")
def command() -> None:
    """Replace the Redis read model with the ordered stage's state (its snapshot and the links log after it)."""
    try:
        settings = Settings.from_env()
        settings.require_digest_key()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    t0 = time.monotonic()
    try:
        n, offset = asyncio.run(_rebuild(settings))
    except LookupError as exc:
        raise click.ClickException(f"{exc}: has the worker ever run?") from None
    except TimeoutError as exc:
        raise click.ClickException(str(exc)) from None
    except (KafkaError, OSError) as exc:  # the operator needs the cause, not a traceback
        click.echo(f"error: cannot reach Kafka at {settings.kafka_bootstrap}: {type(exc).__name__}", err=True)
        raise click.exceptions.Exit(EXIT_UNAVAILABLE) from None
    except RedisError as exc:
        url = settings.describe()["IRL_REDIS_URL"]  # its password masked
        click.echo(f"error: Redis at IRL_REDIS_URL={url} does not answer or refuses: {type(exc).__name__}", err=True)
        raise click.exceptions.Exit(EXIT_UNAVAILABLE) from None
    click.echo(f"rebuilt Redis: {n} customers at links offset {offset} in {time.monotonic() - t0:.1f}s")
