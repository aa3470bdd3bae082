"""Kafka client options from the settings: what aiokafka and Faust are given for each security protocol."""

from __future__ import annotations

import ssl

import faust
import pytest

from streams.kafka_auth import client_options, faust_credentials
from streams.settings import Settings

SASL = {"IRL_KAFKA_SASL_USERNAME": "worker", "IRL_KAFKA_SASL_PASSWORD": "pw"}


def test_plaintext_is_the_default_and_adds_nothing() -> None:
    s = Settings.from_env({})
    assert client_options(s) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(s) is None


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_gives_credentials_and_a_verifying_tls_context(mechanism: str) -> None:
    s = Settings.from_env({"IRL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "IRL_KAFKA_SASL_MECHANISM": mechanism, **SASL})
    opts = client_options(s)
    assert {k: v for k, v in opts.items() if k != "ssl_context"} == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "worker",
        "sasl_plain_password": "pw",
    }
    context = opts["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    creds = faust_credentials(s)
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.protocol.value, creds.mechanism.value, creds.username) == ("SASL_SSL", mechanism, "worker")


def test_sasl_plaintext_has_no_tls_and_ssl_has_no_sasl() -> None:
    plain = client_options(Settings.from_env({"IRL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", **SASL}))
    assert plain["security_protocol"] == "SASL_PLAINTEXT" and "ssl_context" not in plain
    tls = Settings.from_env({"IRL_KAFKA_SECURITY_PROTOCOL": "SSL"})
    assert set(client_options(tls)) == {"security_protocol", "ssl_context"}
    creds = faust_credentials(tls)
    assert isinstance(creds, faust.SSLCredentials) and creds.protocol.value == "SSL"
