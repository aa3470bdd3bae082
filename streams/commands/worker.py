"""`irl worker`: run the resolving worker (the same as `faust -A streams.app worker`)."""

from __future__ import annotations

import asyncio
import logging
import sys

import click

from streams import gcpolicy
from streams.settings import Settings, SettingsError

__all__ = ["command"]


@click.command(
    "worker",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.option("--loglevel", "-l", default="info", show_default=True, help="Log level of the worker.")
@click.pass_context
def command(ctx: click.Context, loglevel: str) -> None:
    """Consume the touchpoint topics, resolve identities and publish the changelog.

    Extra arguments are passed to Faust's worker (for example --without-web).
    """
    try:
        settings = Settings.from_env()
        settings.require_digest_key()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    if not settings.digest_key:
        click.echo(
            "irl worker: IRL_DEV_MODE without IRL_DIGEST_KEY: digests use a PUBLIC key (not for production)", err=True
        )
    click.echo(
        f"irl worker: {settings.app_id} on {settings.kafka_bootstrap}, window {settings.window_seconds}s", err=True
    )
    _check_kafka(settings, settings.kafka_connect_timeout_seconds)
    _check_redis(settings)
    _check_contracts(settings)
    _warn_topic_settings(settings)
    from streams.app import app  # imported here: building the app reads the settings

    if loglevel != "debug":
        # Their debug lines cost a record per message sent even when not shown.
        for name in ("aiokafka", "faust", "mode"):
            logging.getLogger(name).setLevel(logging.INFO)
    sys.argv = ["irl-worker", "worker", "-l", loglevel, *ctx.args]
    gcpolicy.for_state()
    app.main()


def _warn_topic_settings(settings: Settings) -> None:
    """Say at start which topics lack this version's settings (created by an earlier one): run `irl topics create`."""
    from streams.topics import topic_settings_drift

    try:
        drift = asyncio.run(topic_settings_drift(settings))
    except Exception as exc:  # a broker that refuses DescribeConfigs: not a reason to stop
        click.echo(f"irl worker: could not check the topics' settings ({type(exc).__name__})", err=True)
        return
    for name, keys in sorted(drift.items()):
        click.echo(
            f"irl worker: WARNING topic {name} lacks this version's {', '.join(keys)}: run `irl topics create` "
            "(erasures and retention depend on them, docs/privacy.md)",
            err=True,
        )


def _check_contracts(settings: Settings) -> None:
    """Fail at start, naming the cause, when the registry is away or a contract we write is not registered."""
    from streams.codec import codecs
    from streams.registry import RegistryError

    try:
        from streams.app import _written_contracts

        asyncio.run(codecs().prepare(_written_contracts(settings)))
    except RegistryError as exc:
        raise click.ClickException(f"schema registry {settings.schema_registry_url}: {exc}") from exc


def _check_redis(settings: Settings) -> None:
    """Fail at start, naming IRL_REDIS_URL (password masked), when Redis refuses our credentials.

    A Redis that does not answer is only reported: the read model catches up when it is back
    (docs/reliability.md), so it does not stop the worker. Wrong or missing credentials never
    heal by themselves, so they do.
    """
    reason, fatal = asyncio.run(_redis_answers(settings))
    if reason is None:
        return
    shown = settings.describe()["IRL_REDIS_URL"]
    if fatal:
        raise click.ClickException(f"IRL_REDIS_URL={shown}: {reason}")
    click.echo(f"irl worker: IRL_REDIS_URL={shown}: {reason}; the read model catches up when it answers", err=True)


async def _redis_answers(settings: Settings) -> tuple[str | None, bool]:
    """(None, False) when Redis answered PING; else why not (one line) and whether it is a credentials error."""
    from redis.exceptions import AuthenticationError, RedisError, ResponseError

    from streams.readmodel import RedisReadModel

    model = RedisReadModel.from_url(settings.redis_url, ca_file=settings.redis_ca_file)
    try:
        await model.r.ping()
    except AuthenticationError as exc:
        return _auth_reason(str(exc)), True
    except ResponseError as exc:  # NOAUTH on PING: a password is required and none was given
        if "NOAUTH" in str(exc) or "auth" in str(exc).lower():
            return _auth_reason(str(exc)), True
        return f"Redis answered {type(exc).__name__}: {str(exc)[:120]}", False
    except (RedisError, OSError) as exc:
        return f"Redis does not answer ({type(exc).__name__})", False
    finally:
        await model.close()
    return None, False


def _auth_reason(detail: str) -> str:
    """The one line for a credentials error (`detail` is Redis's message: it never holds the password)."""
    return (
        f"Redis refused the credentials ({detail.splitlines()[0][:120]}): put its password in the URL, "
        "redis://:PASSWORD@host:port/db (for the local Redis: scripts/redis.sh url)"
    )


def _check_kafka(settings: Settings, timeout_s: float) -> None:
    """Fail at start, in one line naming IRL_KAFKA_BOOTSTRAP, when no broker answers within `timeout_s`.

    Faust itself waits for ever on a port that accepts TCP but never answers, and prints a
    long traceback that names no setting when the port refuses.
    """
    reason = asyncio.run(_kafka_answers(settings, timeout_s))
    if reason is not None:
        raise click.ClickException(f"IRL_KAFKA_BOOTSTRAP={settings.kafka_bootstrap}: {reason}")


async def _kafka_answers(settings: Settings, timeout_s: float) -> str | None:
    """None when a broker answered a metadata request within `timeout_s`, else why not (one line)."""
    from aiokafka import AIOKafkaClient
    from aiokafka.errors import KafkaConnectionError, KafkaError

    from streams.kafka_auth import client_options

    # aiokafka logs each failed attempt on its own: the one line below says it all.
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    client = AIOKafkaClient(
        bootstrap_servers=settings.kafka_bootstrap,
        request_timeout_ms=int(timeout_s * 1000),
        **client_options(settings),
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
    except TimeoutError:
        return f"no Kafka broker answered within {timeout_s:.0f}s (the port accepts connections but says nothing?)"
    except KafkaConnectionError:
        return "cannot reach a Kafka broker (connection refused or closed at every address)"
    except (KafkaError, OSError) as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return f"cannot reach a Kafka broker ({type(exc).__name__}: {detail})"
    finally:
        await client.close()
        quiet.setLevel(level)
    return None
