"""Typed settings, read once at start-up from `IRL_*` environment variables.

`Settings.from_env()` is the only reader of the environment. A bad value raises
`SettingsError` naming the variable; secrets are masked in `describe()`.
The resolver core never sees these: the shell turns them into core values.
"""

from __future__ import annotations

import os
import socket
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import phonenumbers

from resolver.config import ResolverConfig

__all__ = ["MIN_DIGEST_KEY", "Settings", "SettingsError", "resolver_config"]


class SettingsError(ValueError):
    """A setting has a bad value. The message names the variable; fix the environment and start again."""


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: not an integer") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name}={value}: must be between {lo} and {hi}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: not a number") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name}={value}: must be between {lo} and {hi}")
    return value


def _str(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name)
    return default if raw is None or raw.strip() == "" else raw.strip()


def _retentions(env: Mapping[str, str], d: Settings) -> dict[str, float]:
    """The touchpoint and interactions retentions and the resolved topic's compaction lag, in hours."""
    return {
        "touchpoint_retention_hours": _float(
            env, "IRL_TOUCHPOINT_RETENTION_HOURS", d.touchpoint_retention_hours, 0.001, 87_600.0
        ),
        "interactions_retention_hours": _float(
            env, "IRL_INTERACTIONS_RETENTION_HOURS", d.interactions_retention_hours, 0.001, 87_600.0
        ),
        "resolved_compaction_lag_hours": _float(
            env, "IRL_RESOLVED_COMPACTION_LAG_HOURS", d.resolved_compaction_lag_hours, 0.001, 8_760.0
        ),
    }


def _junk_values(env: Mapping[str, str]) -> tuple[str, ...]:
    """IRL_JUNK_VALUES: comma-separated, each trimmed and lower-cased, empty ones dropped, sorted."""
    values = {" ".join(v.split()).lower() for v in env.get("IRL_JUNK_VALUES", "").split(",")}
    values.discard("")
    if any(len(v) > 200 for v in values) or len(values) > 1000:
        raise SettingsError("IRL_JUNK_VALUES: at most 1000 values of at most 200 characters each")
    return tuple(sorted(values))


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in _TRUE + _FALSE:
        raise SettingsError(f"{name}={raw!r}: expected true or false")
    return value in _TRUE


def _registry_url(env: Mapping[str, str], default: str) -> str:
    url = _str(env, "IRL_SCHEMA_REGISTRY_URL", default).rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"IRL_SCHEMA_REGISTRY_URL: expected http(s)://host:port/path, got {url[:40]!r}")
    if parts.username or parts.password:
        raise SettingsError(
            "IRL_SCHEMA_REGISTRY_URL: put credentials in IRL_SCHEMA_REGISTRY_USER and IRL_SCHEMA_REGISTRY_PASSWORD"
        )
    return url


def _file(env: Mapping[str, str], name: str) -> str:
    path = _str(env, name, "")
    if path and not os.path.isfile(path):
        raise SettingsError(f"{name}={path!r}: no such file")
    return path


_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

#: Settings whose values are secrets: shown as *** by `describe()`.
_SECRETS = ("token", "password", "digest_key", "digest_old_keys")
#: Shortest digest key accepted (characters): 32 hex digits are 128 bits.
MIN_DIGEST_KEY = 32


def _digest_keys(env: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    key = _str(env, "IRL_DIGEST_KEY", "")
    old = tuple(k.strip() for k in _str(env, "IRL_DIGEST_OLD_KEYS", "").split(",") if k.strip())
    given = [("IRL_DIGEST_KEY", key)] if key else []
    given += [("IRL_DIGEST_OLD_KEYS", k) for k in old]
    for name, value in given:
        if len(value) < MIN_DIGEST_KEY:
            # The value is a secret: say how long it is, never what it is.
            raise SettingsError(
                f"{name}: a key of {len(value)} characters is too short (at least {MIN_DIGEST_KEY}; "
                "generate one with: python3 -c 'import secrets; print(secrets.token_hex(32))')"
            )
    if old and not key:
        raise SettingsError("IRL_DIGEST_OLD_KEYS is set without IRL_DIGEST_KEY")
    return key, old


def _default_region(env: Mapping[str, str]) -> str:
    """IRL_DEFAULT_REGION upper-cased: two letters naming a region phone numbers are known for."""
    region = _str(env, "IRL_DEFAULT_REGION", "IN").upper()
    if len(region) != 2 or not region.isalpha():
        raise SettingsError(f"IRL_DEFAULT_REGION={region!r}: must be a two-letter region code such as IN")
    if phonenumbers.PhoneMetadata.metadata_for_region(region) is None:
        raise SettingsError(f"IRL_DEFAULT_REGION={region!r}: not a region phone numbers are known for")
    return region


_PHONE_REGION_TOUCHPOINTS = ("WEB", "WHATSAPP", "KIOSK", "CRM")


def _phone_regions(env: Mapping[str, str]) -> tuple[tuple[str, str, str], ...]:
    """IRL_PHONE_REGIONS: comma-separated ``TOUCHPOINT[:SOURCE_ID_PREFIX]=REGION`` rules
    (`resolver.config.ResolverConfig.phone_regions`), e.g. ``KIOSK:dxb-=AE,KIOSK:ruh-=SA``."""
    raw = _str(env, "IRL_PHONE_REGIONS", "")
    rules: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        where, eq, region = part.rpartition("=")
        touchpoint, _, prefix = where.partition(":")
        touchpoint, region = touchpoint.strip().upper(), region.strip().upper()
        if not eq or touchpoint not in _PHONE_REGION_TOUCHPOINTS:
            raise SettingsError(
                f"IRL_PHONE_REGIONS: {part!r} is not TOUCHPOINT[:SOURCE_ID_PREFIX]=REGION "
                f"(touchpoint one of {', '.join(_PHONE_REGION_TOUCHPOINTS)}; e.g. KIOSK:dxb-=AE)"
            )
        if len(region) != 2 or not region.isalpha() or phonenumbers.PhoneMetadata.metadata_for_region(region) is None:
            raise SettingsError(f"IRL_PHONE_REGIONS: {part!r}: {region!r} is not a region phone numbers are known for")
        if (touchpoint, prefix) in seen:
            raise SettingsError(f"IRL_PHONE_REGIONS: {touchpoint}:{prefix} is given twice")
        seen.add((touchpoint, prefix))
        rules.append((touchpoint, prefix, region))
    return tuple(rules)


def _kafka_bootstrap(env: Mapping[str, str], default: str) -> str:
    """IRL_KAFKA_BOOTSTRAP as given: a comma-separated list of host:port."""
    bootstrap = _str(env, "IRL_KAFKA_BOOTSTRAP", default)
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        if not host or not port.isdigit():
            raise SettingsError(f"IRL_KAFKA_BOOTSTRAP={bootstrap!r}: expected host:port[,host:port]")
    return bootstrap


def _redis_url(env: Mapping[str, str], default: str) -> str:
    """IRL_REDIS_URL: a redis://, rediss:// or unix:// URL (an error quotes its first 10 characters only)."""
    redis_url = _str(env, "IRL_REDIS_URL", default)
    if urllib.parse.urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        raise SettingsError(f"IRL_REDIS_URL: expected redis://host:port/db, got scheme of {redis_url[:10]!r}")
    return redis_url


def _store(env: Mapping[str, str], default: str) -> str:
    """IRL_STORE: the Faust table store URL (memory://, rocksdb:// or aerospike://)."""
    store = _str(env, "IRL_STORE", default)
    if not store.startswith(("memory://", "rocksdb://", "aerospike://")):
        raise SettingsError(f"IRL_STORE={store!r}: expected memory:// or rocksdb://")
    return store


def _one_of(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    """Variable `name` upper-cased, which must be one of `allowed` (a Kafka protocol or SASL mechanism)."""
    value = _str(env, name, default).upper()
    if value not in allowed:
        raise SettingsError(f"{name}={value!r}: expected one of {', '.join(allowed)}")
    return value


def _sasl_credentials(env: Mapping[str, str], protocol: str) -> tuple[str, str]:
    """The Kafka SASL user name and password: both required when `protocol` is a SASL_ one."""
    sasl_user = _str(env, "IRL_KAFKA_SASL_USERNAME", "")
    sasl_password = _str(env, "IRL_KAFKA_SASL_PASSWORD", "")
    if protocol.startswith("SASL_") and not (sasl_user and sasl_password):
        raise SettingsError(
            "IRL_KAFKA_SASL_USERNAME and IRL_KAFKA_SASL_PASSWORD are required with "
            f"IRL_KAFKA_SECURITY_PROTOCOL={protocol}"
        )
    return sasl_user, sasl_password


def _ssl_client_files(env: Mapping[str, str]) -> tuple[str, str]:
    """The Kafka client certificate and key files: each must exist, and a key needs its certificate."""
    cert_file, key_file = _file(env, "IRL_KAFKA_SSL_CERT_FILE"), _file(env, "IRL_KAFKA_SSL_KEY_FILE")
    if key_file and not cert_file:
        raise SettingsError("IRL_KAFKA_SSL_KEY_FILE is set without IRL_KAFKA_SSL_CERT_FILE")
    return cert_file, key_file


@dataclass(frozen=True, slots=True)
class Settings:
    """Every IRL_ setting, validated. Field `x` is variable `IRL_X`."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "PLAIN"
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""
    kafka_ssl_ca_file: str = ""
    kafka_ssl_cert_file: str = ""
    kafka_ssl_key_file: str = ""
    kafka_ssl_key_password: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_ca_file: str = ""
    schema_registry_url: str = "http://127.0.0.1:8081/apis/ccompat/v7"
    schema_registry_user: str = ""
    schema_registry_password: str = ""
    schema_registry_ca_file: str = ""
    read_single_object: bool = True
    window_seconds: int = 900
    grace_seconds: int = 10
    default_region: str = "IN"
    #: (touchpoint, source id prefix, region): IRL_PHONE_REGIONS (`ResolverConfig.phone_regions`)
    phone_regions: tuple[tuple[str, str, str], ...] = ()
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    web_token: str = ""
    web_admin_token: str = ""
    store: str = "memory://"
    data_dir: str = "irl-data"
    topic_prefix: str = "irl"
    topic_web: str = "irl.touchpoint.web"
    topic_whatsapp: str = "irl.touchpoint.whatsapp"
    topic_kiosk: str = "irl.touchpoint.kiosk"
    topic_crm: str = "irl.touchpoint.crm"
    topic_resolved: str = "irl.customers.resolved"
    topic_interactions: str = "irl.interactions.resolved"
    topic_deadletter: str = "irl.deadletter"
    touchpoint_partitions: int = 6
    app_id: str = "irl-resolver"
    max_string: int = 4096
    hub_threshold: int = 5
    duplicate_horizon_days: int = 7
    tick_seconds: float = 1.0
    session_timeout_seconds: int = 10
    stall_seconds: int = 120
    #: triage's own processes (0: triage runs in the worker's process; `streams.triage_process`)
    triage_processes: int = 1
    #: the per-customer stage's own processes over Kafka (each a member of its group, its share of the worker's
    #: effects partitions; used when `triage_processes` > 0, else the stage runs in the worker's process)
    customer_processes: int = 2
    #: at most this often the ordered stage stores a snapshot of its state (when it changed)
    snapshot_seconds: float = 5.0
    #: a snapshot is due once this many events were applied since the last one began (in a backlog, instead
    #: of `snapshot_seconds`: `streams.sequencer.snapshot_due`)
    snapshot_tail_events: int = 50_000
    #: the ordered stage compacts its state when its hot rows reach this many times its cold ones (0: never,
    #: the default: a compaction stops the stage for a whole-state dump and load; `resolver.compaction`)
    compact_growth: float = 0.0
    #: the per-customer stage building the changelog's records from the ordered stage's effects
    #: (docs/architecture.md): "0" off (the ordered stage builds them); "N" (1 to 64) N partitions in the
    #: worker's process; "kafka" (the default) over the effects topic, on every worker (`streams.customers`)
    customer_stage: str = "kafka"
    #: touchpoint records are deleted this long after the broker appended them (docs/privacy.md)
    touchpoint_retention_hours: float = 168.0
    #: resolved interactions are deleted this long after they were published
    interactions_retention_hours: float = 168.0
    #: a resolved customer's records replaced by a later one (an ERASED) are compacted away within this long
    resolved_compaction_lag_hours: float = 24.0
    #: this worker's static consumer-group member name (with the app id); default host name and web port
    worker_id: str = ""
    kafka_connect_timeout_seconds: float = 15.0
    digest_key: str = ""
    digest_old_keys: tuple[str, ...] = ()
    digest_legacy: bool = True
    dev_mode: bool = False
    #: values never linked nor read as a name (`ResolverConfig.junk_values`): the business's own names
    #: on messages it sends, a placeholder address its staff type; lower-case, as the core compares them
    junk_values: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every setting. Raises SettingsError naming the first bad variable."""
        e = os.environ if env is None else env
        d = cls()
        # The order of these reads is the order bad variables are reported in: keep it.
        region = _default_region(e)
        bootstrap = _kafka_bootstrap(e, d.kafka_bootstrap)
        redis_url = _redis_url(e, d.redis_url)
        store = _store(e, d.store)
        prefix = _str(e, "IRL_TOPIC_PREFIX", d.topic_prefix)
        ca_file = _file(e, "IRL_SCHEMA_REGISTRY_CA_FILE")
        protocol = _one_of(e, "IRL_KAFKA_SECURITY_PROTOCOL", d.kafka_security_protocol, _PROTOCOLS)
        mechanism = _one_of(e, "IRL_KAFKA_SASL_MECHANISM", d.kafka_sasl_mechanism, _MECHANISMS)
        sasl_user, sasl_password = _sasl_credentials(e, protocol)
        (cert_file, key_file), (digest_key, digest_old_keys) = _ssl_client_files(e), _digest_keys(e)
        return cls(
            kafka_bootstrap=bootstrap,
            kafka_security_protocol=protocol,
            kafka_sasl_mechanism=mechanism,
            kafka_sasl_username=sasl_user,
            kafka_sasl_password=sasl_password,
            kafka_ssl_ca_file=_file(e, "IRL_KAFKA_SSL_CA_FILE"),
            kafka_ssl_cert_file=cert_file,
            kafka_ssl_key_file=key_file,
            kafka_ssl_key_password=_str(e, "IRL_KAFKA_SSL_KEY_PASSWORD", ""),
            redis_url=redis_url,
            redis_ca_file=_file(e, "IRL_REDIS_CA_FILE"),
            schema_registry_url=_registry_url(e, d.schema_registry_url),
            schema_registry_user=_str(e, "IRL_SCHEMA_REGISTRY_USER", ""),
            schema_registry_password=_str(e, "IRL_SCHEMA_REGISTRY_PASSWORD", ""),
            schema_registry_ca_file=ca_file,
            read_single_object=_bool(e, "IRL_READ_SINGLE_OBJECT", d.read_single_object),
            window_seconds=_int(e, "IRL_WINDOW_SECONDS", 900, 1, 86_400),
            grace_seconds=_int(e, "IRL_GRACE_SECONDS", 10, 0, 86_400),
            default_region=region,
            phone_regions=_phone_regions(e),
            web_host=_str(e, "IRL_WEB_HOST", d.web_host),
            web_port=_int(e, "IRL_WEB_PORT", d.web_port, 1, 65_535),
            web_token=_str(e, "IRL_WEB_TOKEN", ""),
            web_admin_token=_str(e, "IRL_WEB_ADMIN_TOKEN", ""),
            store=store,
            data_dir=_str(e, "IRL_DATA_DIR", d.data_dir),
            topic_prefix=prefix,
            topic_web=_str(e, "IRL_TOPIC_WEB", f"{prefix}.touchpoint.web"),
            topic_whatsapp=_str(e, "IRL_TOPIC_WHATSAPP", f"{prefix}.touchpoint.whatsapp"),
            topic_kiosk=_str(e, "IRL_TOPIC_KIOSK", f"{prefix}.touchpoint.kiosk"),
            topic_crm=_str(e, "IRL_TOPIC_CRM", f"{prefix}.touchpoint.crm"),
            topic_resolved=_str(e, "IRL_TOPIC_RESOLVED", f"{prefix}.customers.resolved"),
            topic_interactions=_str(e, "IRL_TOPIC_INTERACTIONS", f"{prefix}.interactions.resolved"),
            topic_deadletter=_str(e, "IRL_TOPIC_DEADLETTER", f"{prefix}.deadletter"),
            touchpoint_partitions=_int(e, "IRL_TOUCHPOINT_PARTITIONS", d.touchpoint_partitions, 1, 1024),
            app_id=_str(e, "IRL_APP_ID", d.app_id),
            max_string=_int(e, "IRL_MAX_STRING", d.max_string, 16, 1_000_000),
            hub_threshold=_int(e, "IRL_HUB_THRESHOLD", d.hub_threshold, 2, 1_000_000),
            junk_values=_junk_values(e),
            duplicate_horizon_days=_int(e, "IRL_DUPLICATE_HORIZON_DAYS", d.duplicate_horizon_days, 1, 3650),
            tick_seconds=_float(e, "IRL_TICK_SECONDS", d.tick_seconds, 0.05, 3600.0),
            session_timeout_seconds=_int(e, "IRL_SESSION_TIMEOUT_SECONDS", d.session_timeout_seconds, 6, 300),
            stall_seconds=_int(e, "IRL_STALL_SECONDS", d.stall_seconds, 10, 86_400),
            triage_processes=_int(e, "IRL_TRIAGE_PROCESSES", d.triage_processes, 0, 64),
            customer_processes=_int(e, "IRL_CUSTOMER_PROCESSES", d.customer_processes, 1, 64),
            snapshot_seconds=_float(e, "IRL_SNAPSHOT_SECONDS", d.snapshot_seconds, 0.5, 86_400.0),
            snapshot_tail_events=_int(e, "IRL_SNAPSHOT_TAIL_EVENTS", d.snapshot_tail_events, 100, 100_000_000),
            compact_growth=_float(e, "IRL_COMPACT_GROWTH", d.compact_growth, 0.0, 1000.0),
            customer_stage=_customer_stage(e),
            **_retentions(e, d),
            worker_id=_worker_id(e),
            kafka_connect_timeout_seconds=_float(
                e, "IRL_KAFKA_CONNECT_TIMEOUT_SECONDS", d.kafka_connect_timeout_seconds, 0.5, 600.0
            ),
            digest_key=digest_key,
            digest_old_keys=digest_old_keys,
            digest_legacy=_bool(e, "IRL_DIGEST_LEGACY", d.digest_legacy),
            dev_mode=_bool(e, "IRL_DEV_MODE", d.dev_mode),
        )

    def require_digest_key(self) -> None:
        """Raise SettingsError unless a digest key is set or dev mode allows the public one.

        Called by whatever builds the core state (the worker, `irl rebuild-redis`): commands
        that never digest an identifier run without a key.
        """
        if not self.digest_key and not self.dev_mode:
            raise SettingsError(
                "IRL_DIGEST_KEY is required: the secret key of the digests kept of erased identifiers "
                f"(at least {MIN_DIGEST_KEY} characters; generate one with: "
                "python3 -c 'import secrets; print(secrets.token_hex(32))'). "
                "For a local run only, IRL_DEV_MODE=true uses a public key instead"
            )

    def digest_keys(self) -> dict[str, Any]:
        """The core's digest settings (`ResolverConfig` keywords): the keys as bytes.

        Raises SettingsError when no key is set outside dev mode (`require_digest_key`); in
        dev mode without a key the core's public default key is used.
        """
        self.require_digest_key()
        out: dict[str, Any] = {
            "digest_old_keys": tuple(k.encode() for k in self.digest_old_keys),
            "legacy_digests": self.digest_legacy,
        }
        if self.digest_key:
            out["digest_key"] = self.digest_key.encode()
        return out

    @property
    def customer_partitions(self) -> int:
        """Partitions of the per-customer stage in the worker's process (0: none, off or over Kafka)."""
        return 0 if self.customer_stage == KAFKA else int(self.customer_stage)

    @property
    def customer_stage_kafka(self) -> bool:
        """The per-customer stage runs over the effects topic on every worker (``IRL_CUSTOMER_STAGE=kafka``)."""
        return self.customer_stage == KAFKA

    def touchpoint_topics(self) -> dict[str, str]:
        """Touchpoint symbol to the topic its events are published to: every symbol but UNKNOWN
        (which no producer writes). The worker is to consume every topic of this map; CRM carries
        the contacts of an existing CRM brought in by `irl import`.
        """
        return {
            "WEB": self.topic_web,
            "WHATSAPP": self.topic_whatsapp,
            "KIOSK": self.topic_kiosk,
            "CRM": self.topic_crm,
        }

    def describe(self) -> dict[str, str]:
        """Every setting as IRL_ name to value, with tokens, passwords and Redis passwords masked."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = _shown(f.name, getattr(self, f.name))
            if f.name.endswith(_SECRETS) and value:
                value = "***"
            if f.name == "redis_url":
                parts = urllib.parse.urlsplit(value)
                if parts.password:
                    value = value.replace(f":{parts.password}@", ":***@")
            out[f"IRL_{f.name.upper()}"] = value
        return out


def _shown(name: str, raw: object) -> str:
    """A setting's value as its IRL_ variable is written (`Settings.from_env` reads it back the same)."""
    if isinstance(raw, bool):
        return str(raw).lower()
    if name == "phone_regions" and isinstance(raw, tuple):  # (touchpoint, prefix, region) rules
        return ",".join(f"{tp}:{prefix}={region}" if prefix else f"{tp}={region}" for tp, prefix, region in raw)
    if isinstance(raw, tuple):
        return ",".join(str(item) for item in raw)
    return str(raw)


#: ``IRL_CUSTOMER_STAGE`` for the per-customer stage over Kafka.
KAFKA = "kafka"


def _customer_stage(e: Mapping[str, str]) -> str:
    """IRL_CUSTOMER_STAGE: ``kafka`` (the default), ``off`` (as ``0``), or a number of in-process partitions from 0
    (off) to 64."""
    raw = _str(e, "IRL_CUSTOMER_STAGE", KAFKA).lower()
    if raw == KAFKA:
        return KAFKA
    if raw == "off":
        return "0"
    return str(_int({"IRL_CUSTOMER_STAGE": raw}, "IRL_CUSTOMER_STAGE", 0, 0, 64))


def _worker_id(e: Mapping[str, str]) -> str:
    """IRL_WORKER_ID, or this host's name and web port: stable across restarts, distinct between workers."""
    value = _str(e, "IRL_WORKER_ID", "")
    if not value:
        port = e.get("IRL_WEB_PORT", "6066").strip() or "6066"
        value = f"{socket.gethostname()}-{port}"
    if len(value) > 200 or not all(c.isalnum() or c in "._-" for c in value):
        raise SettingsError(f"IRL_WORKER_ID={value[:40]!r}: letters, digits, '.', '_' and '-' only (at most 200)")
    return value


def resolver_config(settings: Settings) -> ResolverConfig:
    """The core's configuration from the shell's settings (the core never reads settings)."""
    return ResolverConfig(
        default_region=settings.default_region,
        phone_regions=settings.phone_regions,
        hub_threshold=settings.hub_threshold,
        duplicate_horizon_ms=settings.duplicate_horizon_days * 86_400_000,
        junk_values=settings.junk_values,
        **settings.digest_keys(),
    )
