"""How every Kafka client of the project connects: security protocol, SASL and TLS from the settings.

`client_options(settings)` is the keyword arguments for aiokafka's producers, consumers and admin
clients; `faust_credentials(settings)` the same for the worker's Faust app. `options()` is the
process's, built once from `Settings.from_env()` (the commands, the producers and the worker all
read the same environment), so code that only has a bootstrap address connects as configured.

    PLAINTEXT        nothing (the default)
    SSL              TLS: the broker verified with IRL_KAFKA_SSL_CA_FILE (else the system's CAs),
                     a client certificate when IRL_KAFKA_SSL_CERT_FILE / _KEY_FILE are set
    SASL_PLAINTEXT   SASL (IRL_KAFKA_SASL_MECHANISM: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) without TLS
    SASL_SSL         SASL over TLS: Confluent Cloud, Amazon MSK, Aiven, most managed clusters
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

from streams.settings import Settings

__all__ = ["client_options", "faust_credentials", "options", "ssl_context"]


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context for the broker: verify it (CA file or the system's), present our certificate if set."""
    context = ssl.create_default_context(cafile=settings.kafka_ssl_ca_file or None)
    if settings.kafka_ssl_cert_file:
        context.load_cert_chain(
            settings.kafka_ssl_cert_file,
            settings.kafka_ssl_key_file or None,
            password=settings.kafka_ssl_key_password or None,
        )
    return context


def client_options(settings: Settings) -> dict[str, Any]:
    """aiokafka keyword arguments (security_protocol, sasl_*, ssl_context) for `settings`."""
    protocol = settings.kafka_security_protocol
    out: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        out["ssl_context"] = ssl_context(settings)
    if protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        out["sasl_mechanism"] = settings.kafka_sasl_mechanism
        out["sasl_plain_username"] = settings.kafka_sasl_username
        out["sasl_plain_password"] = settings.kafka_sasl_password
    return out


def faust_credentials(settings: Settings) -> Any:
    """Faust's `broker_credentials` for `settings` (None for PLAINTEXT)."""
    import faust

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(ssl_context(settings))
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password,
        ssl_context=ssl_context(settings) if protocol == "SASL_SSL" else None,
        mechanism=settings.kafka_sasl_mechanism,
    )


@functools.cache
def options() -> dict[str, Any]:
    """The process's client options, from the environment (read once)."""
    return client_options(Settings.from_env())
