"""Schema registry clients: the Confluent REST API over urllib, and an in-memory registry with the same port.

The port (`RegistryClient`) is the handful of calls the project makes: fetch a schema by id,
look a schema up under a subject, register one, read and set a subject's compatibility.
Subjects follow Confluent's default TopicNameStrategy, ``<topic>-value`` (`subject_of`).
A schema id names content: one schema under two subjects has one id.

Errors (not found is a value, ``None``, never an exception)::

    RegistryError (Exception)
    ├── RegistryUnavailable   no answer, a timeout or a 5xx: retry later (the worker waits)
    └── RegistryRefused       a 4xx: bad credentials (401/403), an incompatible schema (409),
        │                     an invalid one (422): call an operator; retrying will not help
        └── ContractNotRegistered   a schema we write is not under its topic's subject:
                                    run `irl topics create`
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from fastavro.schema import to_parsing_canonical_form

if TYPE_CHECKING:
    from streams.settings import Settings

__all__ = [
    "COMPATIBILITY",
    "ContractNotRegistered",
    "HttpRegistryClient",
    "InMemoryRegistryClient",
    "RegistryClient",
    "RegistryError",
    "RegistryRefused",
    "RegistryUnavailable",
    "registry_client",
    "subject_of",
]

#: The compatibility we set on every subject we own: the contracts' own rule.
COMPATIBILITY = "FULL_TRANSITIVE"
_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryError(Exception):
    """The registry could not do what was asked. The subclass says whether to retry."""


class RegistryUnavailable(RegistryError):
    """No answer, a timeout or a server error: retry later."""


class RegistryRefused(RegistryError):
    """The registry refused the request (credentials, an incompatible or invalid schema): call an operator."""

    def __init__(self, message: str, status: int = 0, error_code: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code


class ContractNotRegistered(RegistryRefused):
    """A schema we write is not registered under the topic's subject: run `irl topics create` (or `make up`)."""


def subject_of(topic: str) -> str:
    """The value subject of `topic` under Confluent's default TopicNameStrategy."""
    return f"{topic}-value"


class RegistryClient(Protocol):
    """What the project asks of a schema registry. Implementations are thread-safe."""

    @property
    def url(self) -> str:
        """Where it is, for messages (never with credentials)."""
        ...

    def schema(self, schema_id: int) -> str | None:
        """The schema text with this id, or None when the registry knows no such id."""
        ...

    def lookup(self, subject: str, schema: str) -> int | None:
        """The id of `schema` registered under `subject`, or None when it is not registered there."""
        ...

    def register(self, subject: str, schema: str) -> int:
        """Register `schema` under `subject` (idempotent) and return its id. RegistryRefused if incompatible."""
        ...

    def compatibility(self, subject: str) -> str | None:
        """The compatibility level set on `subject`, or None when none is set."""
        ...

    def set_compatibility(self, subject: str, level: str) -> None:
        """Set `subject`'s compatibility level (the subject need not exist yet)."""
        ...

    def versions(self, subject: str) -> list[int]:
        """The version numbers under `subject`, [] when it does not exist."""
        ...


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: Any


class HttpRegistryClient:
    """The Confluent schema registry REST API (Confluent, Apicurio's ccompat/v7, Karapace, Redpanda).

    `user`/`password` are sent as HTTP basic authentication (Confluent Cloud's API key and
    secret). `ca_file` verifies an https registry against that CA instead of the system's.
    """

    def __init__(
        self,
        url: str,
        user: str = "",
        password: str = "",
        *,
        timeout_s: float = 10.0,
        ca_file: str = "",
    ) -> None:
        self._base = url.rstrip("/")
        self._timeout_s = timeout_s
        self._headers = {"Accept": _CONTENT_TYPE, "Content-Type": _CONTENT_TYPE}
        if user or password:
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"
        self._context = ssl.create_default_context(cafile=ca_file) if ca_file else None

    @property
    def url(self) -> str:
        return self._base

    def schema(self, schema_id: int) -> str | None:
        answer = self._call("GET", f"/schemas/ids/{int(schema_id)}")
        return None if answer.status == 404 else str(answer.body["schema"])

    def lookup(self, subject: str, schema: str) -> int | None:
        # normalize: match a schema written with other whitespace or key order (Apicurio compares text otherwise)
        answer = self._call("POST", f"/subjects/{_quote(subject)}?normalize=true", {"schema": schema})
        return None if answer.status == 404 else int(answer.body["id"])

    def register(self, subject: str, schema: str) -> int:
        answer = self._call("POST", f"/subjects/{_quote(subject)}/versions?normalize=true", {"schema": schema})
        if answer.status == 404:
            raise RegistryRefused(f"{self._base}: cannot register under {subject} (404)", 404)
        return int(answer.body["id"])

    def compatibility(self, subject: str) -> str | None:
        answer = self._call("GET", f"/config/{_quote(subject)}")
        if answer.status == 404:
            return None
        body = answer.body
        level = body.get("compatibilityLevel") or body.get("compatibility")
        return None if level is None else str(level)

    def set_compatibility(self, subject: str, level: str) -> None:
        """Set the subject's compatibility rule; idempotent.

        Apicurio with Kafka storage answers 409 ("a rule named 'COMPATIBILITY' already exists")
        while it is still reading its journal after a start: the rule then shows up on a
        read. So a 409 is polled (30 s) until the rule reads back as `level` or the PUT passes.
        """
        deadline = time.monotonic() + 30.0
        while True:
            try:
                self._call("PUT", f"/config/{_quote(subject)}", {"compatibility": level})
                return
            except RegistryRefused as exc:
                if exc.status != 409 or time.monotonic() > deadline:
                    raise
                if self.compatibility(subject) == level:
                    return
            time.sleep(0.5)

    def versions(self, subject: str) -> list[int]:
        answer = self._call("GET", f"/subjects/{_quote(subject)}/versions")
        return [] if answer.status == 404 else sorted(int(v) for v in answer.body)

    def _call(self, method: str, path: str, payload: Any = None) -> _Answer:
        """One request. A 404 is returned (the caller decides what it means); other errors raise."""
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self._base + path, data=data, method=method, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s, context=self._context) as response:
                return _Answer(response.status, json.loads(response.read() or b"null"))
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                body = json.loads(exc.read() or b"{}")
            except ValueError:
                body = {}
            if status == 404:
                return _Answer(404, body)
            message = str(body.get("message", ""))[:300] if isinstance(body, dict) else ""
            code = int(body.get("error_code", 0)) if isinstance(body, dict) else 0
            where = f"{method} {self._base}{path}"
            if status >= 500:
                raise RegistryUnavailable(f"{where}: {status} {message}") from None
            raise RegistryRefused(f"{where}: {status} {message}", status, code) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            # URLError wraps refused connections, DNS failures and TLS errors; ValueError a bad JSON answer.
            reason = getattr(exc, "reason", exc)
            raise RegistryUnavailable(f"{method} {self._base}{path}: {type(exc).__name__}: {reason}") from None


def registry_client(settings: Settings) -> HttpRegistryClient:
    """The client of the registry named by `settings`."""
    return HttpRegistryClient(
        settings.schema_registry_url,
        settings.schema_registry_user,
        settings.schema_registry_password,
        ca_file=settings.schema_registry_ca_file,
    )


def _quote(subject: str) -> str:
    return urllib.parse.quote(subject, safe="")


def _canonical(schema: str) -> str:
    """What identifies a schema here: its JSON with keys sorted and no whitespace.

    Not Avro's Parsing Canonical Form: that drops defaults, and defaults decide compatibility
    (an enum's default is what lets an older reader read a newer symbol), so two schemas that
    differ only there must not share an id, or the check would compare against the wrong text.
    """
    try:
        source = json.loads(schema)
        to_parsing_canonical_form(source)  # refuses what is not an Avro schema
    except Exception as exc:  # fastavro and json raise several types for a bad schema
        raise RegistryRefused(f"invalid schema: {type(exc).__name__}", 422, 42201) from None
    return json.dumps(source, sort_keys=True, separators=(",", ":"))


class InMemoryRegistryClient:
    """A registry in this process: ids per content, subjects with versions, compatibility enforced.

    Levels NONE, BACKWARD, FORWARD, FULL and their _TRANSITIVE forms are checked with the
    `avro` package (as `streams.schemas.compatibility_problems` does). `auto_register=True`
    makes `lookup` register what it does not find, like a serializer with auto-registration:
    for unit tests that encode for arbitrary topics.
    """

    def __init__(self, *, auto_register: bool = False, default_level: str = "BACKWARD") -> None:
        self._lock = threading.Lock()
        self._auto_register = auto_register
        self._default_level = default_level
        self._texts: dict[int, str] = {}
        self._ids: dict[str, int] = {}  # content (`_canonical`) -> id
        self._subjects: dict[str, list[int]] = {}  # subject -> schema id per version
        self._levels: dict[str, str] = {}

    @property
    def url(self) -> str:
        return "memory://"

    def schema(self, schema_id: int) -> str | None:
        with self._lock:
            return self._texts.get(schema_id)

    def lookup(self, subject: str, schema: str) -> int | None:
        canonical = _canonical(schema)
        with self._lock:
            sid = self._ids.get(canonical)
            if sid is not None and sid in self._subjects.get(subject, []):
                return sid
        return self.register(subject, schema) if self._auto_register else None

    def register(self, subject: str, schema: str) -> int:
        canonical = _canonical(schema)
        with self._lock:
            sid = self._ids.get(canonical)
            versions = self._subjects.get(subject, [])
            if sid is not None and sid in versions:
                return sid
            level = self._levels.get(subject, self._default_level)
            problem = _incompatible(schema, [self._texts[v] for v in versions], level)
            if problem:
                raise RegistryRefused(f"memory://: incompatible with {subject}: {problem}", 409, 409)
            if sid is None:
                sid = len(self._texts) + 1
                self._texts[sid] = schema
                self._ids[canonical] = sid
            self._subjects.setdefault(subject, []).append(sid)
            return sid

    def compatibility(self, subject: str) -> str | None:
        with self._lock:
            return self._levels.get(subject)

    def set_compatibility(self, subject: str, level: str) -> None:
        if level.removesuffix("_TRANSITIVE") not in ("NONE", "BACKWARD", "FORWARD", "FULL"):
            raise RegistryRefused(f"memory://: unknown compatibility {level!r}", 422, 42203)
        with self._lock:
            self._levels[subject] = level

    def versions(self, subject: str) -> list[int]:
        with self._lock:
            return list(range(1, len(self._subjects.get(subject, [])) + 1))


def _incompatible(new: str, existing: list[str], level: str) -> str:
    """Why `new` cannot join `existing` (oldest first) under `level`; empty when it can."""
    base = level.removesuffix("_TRANSITIVE")
    if base == "NONE" or not existing:
        return ""
    from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
    from avro.schema import parse

    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    new_schema = parse(new)
    against = existing if level.endswith("_TRANSITIVE") else existing[-1:]
    for old in against:
        old_schema = parse(old)
        pairs = []
        if base in ("BACKWARD", "FULL"):
            pairs.append((new_schema, old_schema))
        if base in ("FORWARD", "FULL"):
            pairs.append((old_schema, new_schema))
        for reader, writer in pairs:
            result = checker.get_compatibility(reader, writer)
            if result.compatibility is not SchemaCompatibilityType.compatible:
                return "; ".join(sorted(str(m) for m in result.messages)) or "incompatible"
    return ""
