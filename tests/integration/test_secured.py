"""A secured cluster: the worker, `irl topics create` and `irl produce` on a SASL_SSL listener (PLAIN over
TLS, client certificate required, certificates made here), with a Redis over TLS that requires a password.

    openssl: CA ─▶ server certificate (127.0.0.1) + client certificate
    private broker: PLAINTEXT (readiness only) + SASL_SSL ◀── irl topics create / produce / worker / reads
    private redis: TLS only, --requirepass ◀── worker's read model (rediss://:password@..., IRL_REDIS_CA_FILE)
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from resolver.interaction import from_json
from streams.kafka_auth import client_options
from streams.settings import Settings
from streams.topics import project_topics
from tests.conftest import _reachable

from .harness import BIN, ROOT, Worker, free_port, isolated_env, read_topic, resolved_state, wait_for
from .test_worker import _events, _replay_partition, _stream_partition

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: the private broker's PLAINTEXT port (its controller is the next one, SASL_SSL the one after)
PORT = int(os.environ.get("IRL_SECURE_KAFKA_PORT", "19392"))
USER, PASSWORD = "irl", "irl-sasl-secret"
REDIS_PASSWORD = "irl-redis-secret"


@dataclass(frozen=True)
class Certs:
    ca: Path
    client_cert: Path
    client_key: Path
    broker_pem: Path  # key and certificate, Kafka's PEM keystore


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()[-1000:]


def make_certs(where: Path) -> Certs:
    """A throw-away CA, a broker certificate for 127.0.0.1 and a client certificate, valid for a day."""
    where.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "1", "-subj", "/CN=irl-test-ca", cwd=where)  # fmt: skip
    for name, subject, ext in (
        ("broker", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ("client", "/CN=irl-worker", "extendedKeyUsage=clientAuth"),
    ):
        (where / f"{name}.ext").write_text(ext + "\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", subject, cwd=where)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "1", "-extfile", f"{name}.ext", cwd=where)  # fmt: skip
    broker_pem = where / "broker.pem"
    broker_pem.write_text((where / "broker.key").read_text() + (where / "broker.crt").read_text())
    return Certs(where / "ca.pem", where / "client.crt", where / "client.key", broker_pem)


def _kafka(action: str, extra: Path | None = None) -> None:
    env = {**os.environ, "IRL_KAFKA_PORT": str(PORT), "IRL_KAFKA_CONTROLLER_PORT": str(PORT + 1)}
    if extra is not None:
        env["IRL_KAFKA_EXTRA_CONFIG"] = str(extra)
    done = subprocess.run(["scripts/kafka.sh", action], cwd=ROOT, env=env, capture_output=True, timeout=150)
    assert done.returncode == 0, f"kafka.sh {action}: {done.stderr.decode()[-2000:]}"


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    return make_certs(tmp_path / "certs")


@pytest.fixture
def sasl_ssl_broker(certs: Certs, tmp_path: Path) -> Iterator[str]:
    """A private broker whose clients must speak SASL_SSL (PLAIN) and present a certificate of our CA."""
    sasl = PORT + 2
    extra = tmp_path / "sasl-ssl.properties"
    extra.write_text(
        "\n".join(
            [
                f"listeners=PLAINTEXT://127.0.0.1:{PORT},CONTROLLER://127.0.0.1:{PORT + 1},SASL_SSL://127.0.0.1:{sasl}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{PORT},SASL_SSL://127.0.0.1:{sasl}",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL",
                "listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN",
                "listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule"
                f' required user_{USER}="{PASSWORD}";',
                "listener.name.sasl_ssl.ssl.keystore.type=PEM",
                f"listener.name.sasl_ssl.ssl.keystore.location={certs.broker_pem}",
                "listener.name.sasl_ssl.ssl.truststore.type=PEM",
                f"listener.name.sasl_ssl.ssl.truststore.location={certs.ca}",
                "listener.name.sasl_ssl.ssl.client.auth=required",
                "",
            ]
        )
    )
    for port in (PORT, PORT + 1, sasl):
        if _reachable(f"127.0.0.1:{port}"):
            pytest.fail(f"port {port} is taken: set IRL_SECURE_KAFKA_PORT to a free range of three")
    _kafka("clean")
    _kafka("start", extra)
    try:
        yield f"127.0.0.1:{sasl}"
    finally:
        _kafka("clean")


@pytest.fixture
def redis_with_password(certs: Certs, tmp_path: Path) -> Iterator[str]:
    """A private Redis speaking TLS only and refusing commands without the password; the URL carries it."""
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(certs.broker_pem.with_suffix(".crt")),
         "--tls-key-file", str(certs.broker_pem.with_suffix(".key")),
         "--tls-ca-cert-file", str(certs.ca), "--tls-auth-clients", "no", "--requirepass", REDIS_PASSWORD,
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    tls: dict[str, Any] = {"ssl": True, "ssl_ca_certs": str(certs.ca), "socket_timeout": 2}
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if redis.Redis(port=port, password=REDIS_PASSWORD, **tls).ping():
                    break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the private Redis did not answer within 20 s"
                assert proc.poll() is None, "the private Redis exited"
                time.sleep(0.1)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, **tls).ping()  # really closed without the password
        with pytest.raises(redis.ConnectionError):
            redis.Redis(port=port, socket_timeout=2).ping()  # and without TLS
        yield f"rediss://:{REDIS_PASSWORD}@127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def _irl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(BIN / "irl"), *args], env=env, capture_output=True, timeout=120)


async def test_worker_resolves_on_a_sasl_ssl_cluster_with_a_password_redis(
    sasl_ssl_broker: str, redis_with_password: str, certs: Certs, tmp_path: Path
) -> None:
    env = isolated_env(
        sasl_ssl_broker,
        redis_with_password,
        IRL_KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        IRL_KAFKA_SASL_MECHANISM="PLAIN",
        IRL_KAFKA_SASL_USERNAME=USER,
        IRL_KAFKA_SASL_PASSWORD=PASSWORD,
        IRL_KAFKA_SSL_CA_FILE=str(certs.ca),
        IRL_KAFKA_SSL_CERT_FILE=str(certs.client_cert),
        IRL_KAFKA_SSL_KEY_FILE=str(certs.client_key),
        IRL_REDIS_CA_FILE=str(certs.ca),
    )
    settings = Settings.from_env(env)
    assert PASSWORD not in repr(settings.describe()) and REDIS_PASSWORD not in repr(settings.describe())

    # Without the client settings the listener admits nobody: the command fails, naming the address.
    plain = {k: v for k, v in env.items() if not k.startswith("IRL_KAFKA_S")}
    refused = _irl(plain, "topics", "create")
    assert refused.returncode != 0 and sasl_ssl_broker in refused.stderr.decode(), refused.stderr.decode()[-500:]

    created = _irl(env, "topics", "create")
    assert created.returncode == 0, created.stderr.decode()[-2000:]
    lines = created.stdout.decode().splitlines()
    topics = len(project_topics(Settings.from_env(env)))  # the refused attempt created nothing
    assert sum(" created " in line for line in lines) == topics, lines
    events = _events()
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(ev) + "\n" for ev in events))
    produced = _irl(env, "produce", str(path))
    assert produced.returncode == 0, produced.stderr.decode()[-2000:]

    expected = _replay_partition(events)
    parsed = [from_json(obj) for obj in events]
    security = client_options(settings)
    worker = Worker(env, tmp_path / "worker.log").start()
    try:

        async def converged() -> object:
            state, _ = await resolved_state(sasl_ssl_broker, settings.topic_resolved, security=security)
            try:
                return state if _stream_partition(parsed, state) == expected else None
            except AssertionError:
                return None

        state = await wait_for("the resolved topic over SASL_SSL to match replay", converged, 180, worker)

        client = redis.Redis.from_url(redis_with_password, ssl_ca_certs=str(certs.ca))
        try:
            await wait_for(
                "the read model in the password Redis",
                lambda: all(client.exists(f"{settings.topic_prefix}:c:{cid}") for cid in state),
                60,
                worker,
            )
        finally:
            client.close()
        assert await read_topic(sasl_ssl_broker, settings.topic_deadletter, security=security) == []
    finally:
        worker.stop()
