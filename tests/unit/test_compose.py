"""docker-compose.yml parses and matches the ports and settings the local scripts use."""

from __future__ import annotations

from pathlib import Path

import yaml

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_compose_names_services_ports_and_settings() -> None:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = doc["services"]
    assert {"kafka", "redis", "worker"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    defaults = Settings.from_env({})
    kafka_port = defaults.kafka_bootstrap.rsplit(":", 1)[1]
    assert f"127.0.0.1:{kafka_port}:9092" in services["kafka"]["ports"]
    assert "127.0.0.1:6379:6379" in services["redis"]["ports"]
    # the registry: the image scripts/registry.sh runs from Maven Central, on the default URL's port
    registry = services["registry"]
    assert registry["image"] == "apicurio/apicurio-registry:3.0.9"
    registry_port = defaults.schema_registry_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]
    assert f"127.0.0.1:{registry_port}:8080" in registry["ports"]
    assert "registry" in services["worker"]["depends_on"] and "registry" in services["topics"]["depends_on"]
    env = services["worker"]["environment"]
    assert env["IRL_KAFKA_BOOTSTRAP"].endswith(":19092")
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["IRL_SCHEMA_REGISTRY_URL"] == "http://registry:8080/apis/ccompat/v7"
    for name in ("IRL_REDIS_URL", "IRL_WINDOW_SECONDS", "IRL_DEFAULT_REGION", "IRL_WEB_PORT", "IRL_WEB_TOKEN"):
        assert name in env, name
    # every IRL_ name in compose is a real setting (a typo would be silently ignored otherwise)
    known = set(defaults.describe())
    assert set(env) <= known, set(env) - known
    assert f"127.0.0.1:{defaults.web_port}:{env['IRL_WEB_PORT']}" in services["worker"]["ports"]
