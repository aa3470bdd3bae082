"""Settings: typed, validated once, a bad value names its variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from resolver.config import ResolverConfig
from streams.settings import Settings, SettingsError


def test_defaults() -> None:
    s = Settings.from_env({})
    assert s.window_seconds == 900
    assert s.default_region == "IN"
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.topic_resolved == "irl.customers.resolved"
    assert s.touchpoint_topics()["WHATSAPP"] == "irl.touchpoint.whatsapp"
    assert s.compact_growth == 0  # the ordered stage never compacts unless told (`resolver.compaction`)


def test_values_are_read_and_typed() -> None:
    s = Settings.from_env({"IRL_WINDOW_SECONDS": "5", "IRL_DEFAULT_REGION": "gb", "IRL_WEB_PORT": "7000"})
    assert (s.window_seconds, s.default_region, s.web_port) == (5, "GB", 7000)
    assert Settings.from_env({"IRL_COMPACT_GROWTH": "0.5"}).compact_growth == 0.5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IRL_WINDOW_SECONDS", "fifteen"),
        ("IRL_WINDOW_SECONDS", "0"),
        ("IRL_WEB_PORT", "70000"),
        ("IRL_DEFAULT_REGION", "India"),
        ("IRL_DEFAULT_REGION", "ZZ"),  # two letters, but no phone numbering plan
        ("IRL_STALL_SECONDS", "5"),
        ("IRL_COMPACT_GROWTH", "-1"),
        ("IRL_COMPACT_GROWTH", "half"),
        ("IRL_DUPLICATE_HORIZON_DAYS", "0"),
        ("IRL_KAFKA_BOOTSTRAP", "localhost"),
        ("IRL_REDIS_URL", "http://x"),
        ("IRL_STORE", "sqlite://"),
        ("IRL_SCHEMA_REGISTRY_URL", "127.0.0.1:8081"),
        ("IRL_SCHEMA_REGISTRY_URL", "ftp://registry/apis/ccompat/v7"),
        ("IRL_SCHEMA_REGISTRY_URL", "https://key:secret@registry.example.com"),
        ("IRL_SCHEMA_REGISTRY_CA_FILE", "/nonexistent/ca.pem"),
        ("IRL_READ_SINGLE_OBJECT", "maybe"),
        ("IRL_KAFKA_SECURITY_PROTOCOL", "TLS"),
        ("IRL_KAFKA_SASL_MECHANISM", "GSSAPI"),
        ("IRL_KAFKA_SSL_CA_FILE", "/nonexistent/ca.pem"),
        ("IRL_KAFKA_SSL_KEY_FILE", __file__),  # a key without its certificate
        ("IRL_REDIS_CA_FILE", "/nonexistent/ca.pem"),
    ],
)
def test_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_describe_masks_secrets() -> None:
    s = Settings.from_env({"IRL_WEB_TOKEN": "s3cret", "IRL_REDIS_URL": "redis://:pw123@127.0.0.1:6379/0"})
    text = repr(s.describe())
    assert "s3cret" not in text and "pw123" not in text
    assert s.describe()["IRL_WEB_TOKEN"] == "***"


def test_describe_writes_every_setting_as_its_variable_reads_back() -> None:
    """Audit s39: with IRL_PHONE_REGIONS set, `describe()` raised TypeError (a rule is a tuple), and the worker
    calls it at start when Redis does not answer, so a restart during a Redis outage crashed. Every setting
    is shown as its IRL_ variable is written: read back, the same settings (secrets aside, masked)."""
    env = {
        "IRL_PHONE_REGIONS": "KIOSK:dxb-=AE,KIOSK:ruh-=SA,WHATSAPP=GB",
        "IRL_JUNK_VALUES": "n/a,none",
        "IRL_REDIS_URL": "redis://:pw123@127.0.0.1:6399/15",
    }
    s = Settings.from_env(env)
    shown = s.describe()
    assert shown["IRL_PHONE_REGIONS"] == "KIOSK:dxb-=AE,KIOSK:ruh-=SA,WHATSAPP=GB"
    assert "pw123" not in repr(shown)
    back = Settings.from_env({**shown, "IRL_REDIS_URL": env["IRL_REDIS_URL"]})
    assert back == s


def test_sasl_needs_its_credentials() -> None:
    with pytest.raises(SettingsError, match="IRL_KAFKA_SASL_USERNAME and IRL_KAFKA_SASL_PASSWORD"):
        Settings.from_env({"IRL_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "IRL_KAFKA_SASL_USERNAME": "u"})


def test_security_settings_are_read_and_their_secrets_masked() -> None:
    s = Settings.from_env(
        {
            "IRL_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
            "IRL_KAFKA_SASL_MECHANISM": "scram-sha-512",
            "IRL_KAFKA_SASL_USERNAME": "worker",
            "IRL_KAFKA_SASL_PASSWORD": "sasl-pw-1",
            "IRL_KAFKA_SSL_CA_FILE": __file__,
            "IRL_KAFKA_SSL_KEY_PASSWORD": "key-pw-2",
            "IRL_REDIS_URL": "rediss://:redis-pw-3@redis.example.com:6380/0",
        }
    )
    assert (s.kafka_security_protocol, s.kafka_sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    shown = s.describe()
    for secret in ("sasl-pw-1", "key-pw-2", "redis-pw-3"):
        assert secret not in repr(shown)
    assert shown["IRL_KAFKA_SASL_PASSWORD"] == shown["IRL_KAFKA_SSL_KEY_PASSWORD"] == "***"
    assert shown["IRL_KAFKA_SASL_USERNAME"] == "worker"
    assert shown["IRL_REDIS_URL"] == "rediss://:***@redis.example.com:6380/0"


def test_registry_settings_default_to_the_local_registry_and_mask_the_password() -> None:
    d = Settings.from_env({})
    assert d.schema_registry_url == "http://127.0.0.1:8081/apis/ccompat/v7"
    assert (d.schema_registry_user, d.schema_registry_password, d.read_single_object) == ("", "", True)
    s = Settings.from_env(
        {
            "IRL_SCHEMA_REGISTRY_URL": "https://psrc-123.europe-west3.gcp.confluent.cloud/",
            "IRL_SCHEMA_REGISTRY_USER": "API-KEY",
            "IRL_SCHEMA_REGISTRY_PASSWORD": "api-secret-xyz",
            "IRL_READ_SINGLE_OBJECT": "false",
        }
    )
    assert s.schema_registry_url == "https://psrc-123.europe-west3.gcp.confluent.cloud"
    assert s.read_single_object is False
    shown = s.describe()
    assert shown["IRL_SCHEMA_REGISTRY_PASSWORD"] == "***" and shown["IRL_SCHEMA_REGISTRY_USER"] == "API-KEY"
    assert "api-secret-xyz" not in repr(shown)
    assert shown["IRL_READ_SINGLE_OBJECT"] == "false"


def test_every_touchpoint_but_unknown_has_a_topic_crm_too() -> None:
    from resolver.interaction import TOUCHPOINTS

    s = Settings.from_env({"IRL_TOPIC_PREFIX": "acme"})
    assert list(s.touchpoint_topics()) == [tp for tp in TOUCHPOINTS if tp != "UNKNOWN"]
    assert s.touchpoint_topics()["CRM"] == s.topic_crm == "acme.touchpoint.crm"
    assert Settings.from_env({"IRL_TOPIC_CRM": " crm.contacts "}).touchpoint_topics()["CRM"] == "crm.contacts"
    assert Settings.from_env({}).describe()["IRL_TOPIC_CRM"] == "irl.touchpoint.crm"


def test_the_crm_topic_is_created_and_registered_with_the_other_touchpoints() -> None:
    from streams.topics import project_contracts, project_topics

    s = Settings.from_env({})
    specs = {spec.name: spec for spec in project_topics(s)}
    assert specs["irl.touchpoint.crm"].partitions == specs["irl.touchpoint.web"].partitions == s.touchpoint_partitions
    assert project_contracts(s)["irl.touchpoint.crm"] == "customer_interaction"


def test_touchpoint_topics_are_kept_a_bounded_time_after_they_were_appended() -> None:
    """Producers stamp records with occurred_at: retention counts from the append time, so a replay of
    last month's events is not deleted on arrival, and nothing is kept for ever (issue 17)."""
    from streams.topics import project_topics

    s = Settings.from_env({"IRL_TOUCHPOINT_RETENTION_HOURS": "48"})
    specs = {spec.name: dict(spec.config) for spec in project_topics(s)}
    for topic in s.touchpoint_topics().values():
        assert specs[topic]["message.timestamp.type"] == "LogAppendTime", topic
        assert specs[topic]["retention.ms"] == str(48 * 3_600_000), topic
        assert specs[topic]["cleanup.policy"] == "delete"
        assert int(specs[topic]["segment.ms"]) <= 24 * 3_600_000
    assert Settings.from_env({}).touchpoint_retention_hours == 168
    assert specs["irl-resolver-links"]["retention.ms"] != "-1"


def test_the_project_topics_bound_every_copy_of_personal_data() -> None:
    """Resolved: compacted with a bounded lag; interactions: bounded retention; state: DeleteRecords allowed."""
    from streams.topics import project_topics

    s = Settings.from_env({"IRL_RESOLVED_COMPACTION_LAG_HOURS": "0.5", "IRL_INTERACTIONS_RETENTION_HOURS": "12"})
    specs = {spec.name: dict(spec.config) for spec in project_topics(s)}
    resolved = specs[s.topic_resolved]
    assert resolved["cleanup.policy"] == "compact" and resolved["max.compaction.lag.ms"] == str(1_800_000)
    assert int(resolved["segment.ms"]) <= 1_800_000
    assert specs[s.topic_interactions]["retention.ms"] == str(12 * 3_600_000)
    assert specs[s.topic_interactions]["message.timestamp.type"] == "LogAppendTime"
    for state in ("irl-resolver-irl-state-changelog", "irl-resolver-irl-state-table-changelog"):
        assert specs[state]["cleanup.policy"] == "compact,delete" and specs[state]["retention.ms"] == "-1"
    assert specs["irl-resolver-erasures"]["cleanup.policy"] == "compact"
    assert specs[s.topic_deadletter]["message.timestamp.type"] == "CreateTime"  # purged copies keep their time


@pytest.mark.parametrize(
    "name", ["IRL_TOUCHPOINT_RETENTION_HOURS", "IRL_INTERACTIONS_RETENTION_HOURS", "IRL_RESOLVED_COMPACTION_LAG_HOURS"]
)
def test_retention_settings_are_validated(name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: "0"})
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: "soon"})


def test_importing_the_app_builds_nothing(tmp_path: Path) -> None:
    """`import streams.app` reads no setting and builds no app; `streams.app.app` builds one on first use."""
    import subprocess
    import sys

    env = {**os.environ, "IRL_DEFAULT_REGION": "ZZ", "IRL_DATA_DIR": str(tmp_path), "IRL_DEV_MODE": "1"}
    code = "import streams.app as m; assert m._built is None; m.build_app; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    env["IRL_DEFAULT_REGION"] = "IN"
    code = "import streams.app as m; a = m.app; assert m._built is a; print(type(a).__name__)"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("_App")


def test_the_worker_host_is_not_triage_group(tmp_path: Path) -> None:
    """Faust's own group speaks another protocol than triage's consumer group (the app id): they must differ."""
    from streams.app import build_app

    settings = Settings.from_env({"IRL_DATA_DIR": str(tmp_path), "IRL_APP_ID": "irl-unit-host", "IRL_DEV_MODE": "1"})
    app = build_app(settings)
    assert app.conf.id != settings.app_id
    assert not app.tables
    # No table: the worker's table manager skips Faust's one-second wait for late tables at start.
    assert type(app.tables).__name__ == "_Tables"


def test_worker_id_defaults_to_host_and_port_and_is_checked() -> None:
    import socket

    assert Settings.from_env({"IRL_WEB_PORT": "6123"}).worker_id == f"{socket.gethostname()}-6123"
    assert Settings.from_env({"IRL_WORKER_ID": "w-1.a"}).worker_id == "w-1.a"
    with pytest.raises(SettingsError, match="IRL_WORKER_ID"):
        Settings.from_env({"IRL_WORKER_ID": "a b"})


KEY = "0123456789abcdef" * 4


def test_the_worker_needs_a_digest_key_unless_in_dev_mode() -> None:
    from streams.app import resolver_config

    with pytest.raises(SettingsError, match="IRL_DIGEST_KEY is required"):
        resolver_config(Settings.from_env({}))
    assert resolver_config(Settings.from_env({"IRL_DIGEST_KEY": KEY})).digest_key == KEY.encode()
    dev = resolver_config(Settings.from_env({"IRL_DEV_MODE": "true"}))
    assert dev.digest_key == ResolverConfig().digest_key  # the public key, for local runs only


def test_digest_keys_are_checked_masked_and_rotated() -> None:
    with pytest.raises(SettingsError, match="IRL_DIGEST_KEY: a key of 5 characters is too short") as short:
        Settings.from_env({"IRL_DIGEST_KEY": "short"})
    assert "short" not in str(short.value).replace("too short", "")
    with pytest.raises(SettingsError, match="IRL_DIGEST_OLD_KEYS"):
        Settings.from_env({"IRL_DIGEST_KEY": KEY, "IRL_DIGEST_OLD_KEYS": "tiny"})
    with pytest.raises(SettingsError, match="without IRL_DIGEST_KEY"):
        Settings.from_env({"IRL_DIGEST_OLD_KEYS": KEY})
    old = "f" * 40
    s = Settings.from_env({"IRL_DIGEST_KEY": KEY, "IRL_DIGEST_OLD_KEYS": f" {old} ,", "IRL_DIGEST_LEGACY": "no"})
    shown = repr(s.describe())
    assert KEY not in shown and old not in shown
    assert s.describe()["IRL_DIGEST_KEY"] == "***" and s.describe()["IRL_DIGEST_OLD_KEYS"] == "***"
    from streams.app import resolver_config

    config = resolver_config(s)
    assert config.digest_old_keys == (old.encode(),) and config.legacy_digests is False


def test_the_topics_triage_writes_take_more_than_a_touchpoint_record() -> None:
    """What triage writes of one touchpoint record can be larger than it (a dead letter carries its
    value, key and headers; a links row is JSON): the topics it writes allow MAX_RECORD_BYTES, so a
    record the broker took on a touchpoint topic never fails the worker's send (a restart loop)."""
    from streams.batches import MAX_RECORD_BYTES
    from streams.topics import effects_topic_name, links_topic_name, project_topics

    s = Settings.from_env({})
    specs = {spec.name: dict(spec.config) for spec in project_topics(s)}
    for topic in (links_topic_name(s), s.topic_deadletter, s.topic_interactions, effects_topic_name(s)):
        assert int(specs[topic]["max.message.bytes"]) == MAX_RECORD_BYTES >= 6 * 1_048_588, topic


def test_junk_values_are_a_trimmed_lower_case_list() -> None:
    """s36 audit A15: IRL_JUNK_VALUES, into `ResolverConfig.junk_values` (worker, replay, read model)."""
    from streams.app import resolver_config

    s = Settings.from_env({"IRL_JUNK_VALUES": " Acme  Retail Support ,walkin@store.com,, Acme Retail Support"})
    assert s.junk_values == ("acme retail support", "walkin@store.com")
    keyed = Settings.from_env({"IRL_JUNK_VALUES": "Walkin@store.com", "IRL_DIGEST_KEY": "k" * 32})
    assert resolver_config(keyed).junk_values == ("walkin@store.com",)
    assert Settings.from_env({}).junk_values == ()
    with pytest.raises(SettingsError, match="IRL_JUNK_VALUES"):
        Settings.from_env({"IRL_JUNK_VALUES": "x" * 201})
