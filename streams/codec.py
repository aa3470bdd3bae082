"""The Confluent wire format of the project's contracts, with fastavro and a schema registry.

Wire format (what Confluent's serializers in every language write and read)::

    00 | 4-byte big-endian schema id | Avro binary body

The writer's schema is fetched from the registry by id (once per id and process, `SchemaCache`)
and resolved to the reader's schema, the newest version in `schemas/avro/<name>/`: a producer
on a newer compatible version is read, not refused. We write with the newest version, under the
id the registry gave it under the topic's subject (`<topic>-value`), registered beforehand by
`irl topics create`; nothing is registered on the fly. Timestamps are epoch-millisecond ints on
both sides (logical types are not materialised as datetimes).

Migration: records in the previous framing, Avro single-object encoding
(``C3 01 | 8-byte CRC-64-AVRO fingerprint | body``), are still read (`read_single_object`,
setting `IRL_READ_SINGLE_OBJECT`), with the writer's schema found by fingerprint among the
versions kept in the repository. They are never written.

Decoding never raises anything but a `CodecError`, except `RegistryUnavailable` when the
registry must be asked about a new id and does not answer (retry; the worker waits). Each
`CodecError` has a stable `code`::

    CodecError (ValueError)                stage "decode" or "encode"; dead-letter, never retry
    ├── EmptyValue           empty_value          tombstone (None) or zero bytes
    ├── BadMarker            bad_marker           neither the Confluent framing nor single-object Avro
    ├── Truncated            truncated            header incomplete or body ends early
    ├── UnknownSchemaId      unknown_schema_id    the registry knows no schema with this id
    ├── UnknownFingerprint   unknown_fingerprint  single-object: writer schema not in the repository
    ├── SingleObjectRefused  single_object        single-object Avro while IRL_READ_SINGLE_OBJECT=false
    ├── WrongSchema          wrong_schema         a known schema, but of another contract
    ├── IncompatibleSchema   incompatible_schema  this contract, but the reader cannot read that version
    ├── BodyDecodeError      body                 body does not decode with the writer schema
    └── EncodeError          encode               a record does not fit the schema (a bug upstream)

`reason` is `"<code>: <detail>"`, safe to log: it never contains decoded field values.
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from fastavro import schemaless_reader, schemaless_writer

from resolver.interaction import Interaction
from streams.avrowriter import compile_writer
from streams.registry import ContractNotRegistered, RegistryClient, registry_client, subject_of
from streams.schemas import SchemaRepository, SchemaRepositoryError, SchemaVersion, default_repository

if TYPE_CHECKING:
    from streams.settings import Settings

__all__ = [
    "CONFLUENT_HEADER_SIZE",
    "HEADER_SIZE",
    "MAGIC",
    "MARKER",
    "BadMarker",
    "BodyDecodeError",
    "Codec",
    "CodecError",
    "Codecs",
    "EmptyValue",
    "EncodeError",
    "IncompatibleSchema",
    "SchemaCache",
    "SingleObjectRefused",
    "Truncated",
    "UnknownFingerprint",
    "UnknownSchemaId",
    "WrongSchema",
    "codecs",
    "decode_dead_letter",
    "decode_interaction",
    "decode_resolved",
    "encode_dead_letter",
    "encode_interaction",
    "encode_resolved",
    "schema_id_of",
    "use",
]

#: Confluent framing: the magic byte, then the schema id (4 bytes, big-endian).
MAGIC = 0
CONFLUENT_HEADER_SIZE = 5
#: Single-object encoding (read for migration only): marker C3 01, then the 8-byte fingerprint.
MARKER = b"\xc3\x01"
HEADER_SIZE = 10


class CodecError(ValueError):
    """A value cannot be decoded (or a record encoded). `code` is stable; `reason` is `code: detail`."""

    code: ClassVar[str] = "codec"
    stage: ClassVar[str] = "decode"

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        """Stable code and detail, without field values."""
        return f"{self.code}: {self.detail}"


class EmptyValue(CodecError):
    """A tombstone or zero-length value: there is no event to decode."""

    code = "empty_value"


class BadMarker(CodecError):
    """The value starts with neither the Confluent magic byte 00 nor the single-object marker C3 01."""

    code = "bad_marker"


class Truncated(CodecError):
    """The header is incomplete or the body ends before the record does."""

    code = "truncated"


class UnknownSchemaId(CodecError):
    """The registry knows no schema with the id in the header (or it is not Avro that fastavro reads)."""

    code = "unknown_schema_id"


class UnknownFingerprint(CodecError):
    """Single-object: the writer schema's fingerprint is not among the versions kept in the repository."""

    code = "unknown_fingerprint"


class SingleObjectRefused(CodecError):
    """Single-object Avro, no longer read once the migration is over (IRL_READ_SINGLE_OBJECT=false)."""

    code = "single_object"


class WrongSchema(CodecError):
    """The writer schema is known but belongs to another contract."""

    code = "wrong_schema"


class IncompatibleSchema(CodecError):
    """The writer schema is of this contract, but the reader's version cannot read it."""

    code = "incompatible_schema"


class BodyDecodeError(CodecError):
    """The body is not valid Avro binary for its writer schema (bad UTF-8, index out of range, ...)."""

    code = "body"


class EncodeError(CodecError):
    """A record does not fit the writer schema: a programming error upstream, not bad input."""

    code = "encode"
    stage = "encode"


def _describe(exc: BaseException) -> str:
    # Messages from fastavro may quote decoded data; keep only what the failure *is*.
    if isinstance(exc, UnicodeDecodeError):
        return "a string is not valid UTF-8"
    if isinstance(exc, IndexError):
        return "an enum or union index is out of range, or the body is cut short"
    if isinstance(exc, struct.error | OverflowError):
        return "a number is malformed"
    if isinstance(exc, MemoryError):
        return "a length is absurdly large"
    return f"undecodable body ({type(exc).__name__})"


def schema_id_of(data: bytes | None) -> int | None:
    """The schema id in a Confluent-framed value, or None when the value is not framed so."""
    if data and len(data) >= CONFLUENT_HEADER_SIZE and data[0] == MAGIC:
        return int.from_bytes(data[1:CONFLUENT_HEADER_SIZE], "big")
    return None


class SchemaCache:
    """Writer schemas by registry id, fetched once per id and kept for the life of the process.

    An id the registry does not know is remembered as unknown; `stale` offers it for another
    fetch after `unknown_ttl_s` (a schema registered a moment later is then read). Ids never
    change meaning in a registry, so a known id is never fetched again. Thread-safe.
    """

    _MAX_UNKNOWN = 10_000

    def __init__(
        self, client: RegistryClient, *, unknown_ttl_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client = client
        self._unknown_ttl_s = unknown_ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._known: dict[int, SchemaVersion] = {}
        self._unknown: dict[int, float] = {}

    def writer(self, schema_id: int) -> SchemaVersion | None:
        """The schema with this id (fetched when never asked before), or None when the registry has none.

        Raises RegistryUnavailable when it must ask and the registry does not answer.
        """
        with self._lock:
            known = self._known.get(schema_id)
            if known is not None or schema_id in self._unknown:
                return known
        self.fetch([schema_id])
        with self._lock:
            return self._known.get(schema_id)

    def stale(self, ids: Iterable[int]) -> list[int]:
        """The ids among `ids` to fetch: never asked, or unknown for longer than the TTL. Sorted."""
        now = self._clock()
        with self._lock:
            return sorted(
                {
                    i
                    for i in ids
                    if i not in self._known and now - self._unknown.get(i, -float("inf")) >= self._unknown_ttl_s
                }
            )

    def fetch(self, ids: Iterable[int]) -> None:
        """Ask the registry about each id (sync). Raises RegistryUnavailable or RegistryRefused."""
        for schema_id in ids:
            text = self.client.schema(schema_id)
            version: SchemaVersion | None = None
            if text is not None:
                try:
                    version = SchemaVersion.from_source(f"schema {schema_id}", schema_id, json.loads(text))
                except (ValueError, SchemaRepositoryError):
                    version = None  # not Avro that fastavro reads: as good as unknown
            with self._lock:
                if version is None:
                    if len(self._unknown) >= self._MAX_UNKNOWN:
                        self._unknown.clear()
                    self._unknown[schema_id] = self._clock()
                else:
                    self._known[schema_id] = version
                    self._unknown.pop(schema_id, None)

    def put(self, schema_id: int, version: SchemaVersion) -> None:
        """Remember a schema whose id we learnt otherwise (looked up for writing)."""
        with self._lock:
            self._known[schema_id] = version
            self._unknown.pop(schema_id, None)


#: How a codec reads one writer: (writer schema, reader schema or None) or the error to raise.
_Plan = tuple[Any, Any] | CodecError


class Codec:
    """Encoder and decoder of one contract (`schemas/avro/<name>/`), reading into its newest version
    (or `reader_version`) and writing with that same version, in the Confluent wire format.

    Thread-compatible and cheap to share: plans per writer id are built once and kept.
    """

    def __init__(
        self,
        name: str,
        cache: SchemaCache,
        *,
        repository: SchemaRepository | None = None,
        reader_version: int | None = None,
        read_single_object: bool = True,
    ) -> None:
        self.repository = repository if repository is not None else default_repository()
        self.cache = cache
        self.name = name
        self.read_single_object = read_single_object
        versions = self.repository.versions(name)
        # An older reader_version is how a test plays a consumer deployed before a newer writer.
        self.reader: SchemaVersion = versions[-1] if reader_version is None else versions[reader_version - 1]
        self._names = {self.reader.full_name, *self._aliases(self.reader.source)}
        self._ids: dict[str, int] = {}  # topic -> schema id of the reader version under its subject
        self._plans: dict[int, _Plan] = {}
        # single-object fingerprint -> (writer schema, reader schema or None when no resolution is needed)
        self._legacy: dict[bytes, tuple[Any, Any]] = {}
        for v in versions:
            self._legacy.setdefault(v.fingerprint, (v.wire, None if v is self.reader else self.reader.wire))
        self._legacy[self.reader.fingerprint] = (self.reader.wire, None)
        #: fastavro's bytes for the usual record, written faster (`streams.avrowriter`); None: fastavro only
        self._writer = compile_writer(self.reader.wire)
        self._heads: dict[str, bytes] = {}  # topic -> the Confluent header of what we write there

    @staticmethod
    def _aliases(source: Mapping[str, Any]) -> set[str]:
        namespace = source.get("namespace")
        out = set()
        for alias in source.get("aliases", []):
            out.add(alias if "." in alias or not namespace else f"{namespace}.{alias}")
        return out

    def schema_id(self, topic: str) -> int:
        """The registry id of the version we write, under `<topic>-value` (looked up once per topic).

        Raises ContractNotRegistered when it is not registered there, RegistryUnavailable when
        the registry does not answer.
        """
        sid = self._ids.get(topic)
        if sid is None:
            subject = subject_of(topic)
            found = self.cache.client.lookup(subject, self.reader.text)
            if found is None:
                raise ContractNotRegistered(
                    f"{self.reader.label} is not registered under subject {subject} at {self.cache.client.url}: "
                    "run `irl topics create`"
                )
            sid = self._ids[topic] = found
            self.cache.put(sid, self.reader)
            self._plans[sid] = (self.reader.wire, None)
        return sid

    def encode(self, record: Mapping[str, Any], topic: str) -> bytes:
        """Confluent-framed bytes of `record` for `topic`, written with the newest version. Raises EncodeError."""
        head = self._heads.get(topic)
        if head is None:
            head = self._heads[topic] = struct.pack(">bI", MAGIC, self.schema_id(topic))
        writer = self._writer
        if writer is not None:
            buffer = bytearray(head)
            try:
                writer(record, buffer)
            except Exception:  # anything unusual is fastavro's to write, or to refuse
                pass
            else:
                return bytes(buffer)
        out = io.BytesIO()
        out.write(head)
        try:
            schemaless_writer(out, self.reader.wire, record)
        except UnicodeEncodeError as exc:
            raise EncodeError("a string is not valid Unicode (lone surrogate)") from exc
        except Exception as exc:  # fastavro raises ValueError, TypeError, AttributeError, ...
            raise EncodeError(f"record does not fit {self.reader.label} ({type(exc).__name__})") from exc
        return out.getvalue()

    def decode(self, data: bytes | None) -> dict[str, Any]:
        """The record in the reader's (newest) schema. Raises only CodecError subclasses (and
        RegistryUnavailable when a never-seen id must be fetched and the registry does not answer)."""
        if not data:
            raise EmptyValue("tombstone (no value)" if data is None else "zero-length value")
        if data[0] == MAGIC:
            if len(data) < CONFLUENT_HEADER_SIZE:
                raise Truncated(f"{len(data)} bytes, the header alone needs {CONFLUENT_HEADER_SIZE}")
            sid = int.from_bytes(data[1:CONFLUENT_HEADER_SIZE], "big")
            plan = self._plans.get(sid)
            if plan is None:
                plan = self._plan(sid)
            if isinstance(plan, CodecError):
                raise plan
            return self._body(data, CONFLUENT_HEADER_SIZE, *plan)
        if data[:2] == MARKER[: len(data[:2])]:
            return self._decode_single_object(data)
        raise BadMarker(f"starts with {data[:2].hex(' ')}, expected 00 (Confluent wire format){_looks_like(data)}")

    def _plan(self, sid: int) -> _Plan:
        writer = self.cache.writer(sid)
        if writer is None:
            # Not kept: the id may be registered later (SchemaCache decides when to ask again).
            return UnknownSchemaId(f"schema id {sid} is not in the registry")
        plan: _Plan
        if writer.full_name not in self._names and self.reader.full_name not in self._aliases(writer.source):
            plan = WrongSchema(f"schema id {sid} is {writer.full_name}, expected {self.reader.full_name}")
        elif writer.canonical == self.reader.canonical:
            plan = (self.reader.wire, None)
        else:
            problem = _cannot_read(self.reader, writer)
            if problem:
                plan = IncompatibleSchema(f"{self.reader.label} cannot read schema id {sid}: {problem}"[:300])
            else:
                plan = (writer.wire, self.reader.wire)
        self._plans[sid] = plan
        return plan

    def _decode_single_object(self, data: bytes) -> dict[str, Any]:
        if len(data) < HEADER_SIZE:
            raise Truncated(f"{len(data)} bytes, the single-object header alone needs {HEADER_SIZE}")
        if not self.read_single_object:
            raise SingleObjectRefused("single-object Avro is no longer read (IRL_READ_SINGLE_OBJECT=false)")
        fp = bytes(data[2:HEADER_SIZE])
        plan = self._legacy.get(fp)
        if plan is None:
            other = self.repository.by_fingerprint(fp)
            if other is not None:
                raise WrongSchema(f"written with {other.label}, expected {self.name}")
            raise UnknownFingerprint(f"fingerprint {fp.hex()} is not a known {self.name} version")
        return self._body(data, HEADER_SIZE, *plan)

    @staticmethod
    def _body(data: bytes, start: int, writer: Any, reader: Any) -> dict[str, Any]:
        body = io.BytesIO(data)
        body.seek(start)
        try:
            record = schemaless_reader(body, writer, reader)
        except EOFError:
            raise Truncated("body ends before the record does") from None
        except Exception as exc:  # whatever fastavro raises for bad bytes is a bad record
            raise BodyDecodeError(_describe(exc)) from None
        if not isinstance(record, dict):  # only record schemas are contracts; guards the type
            raise BodyDecodeError("not a record")
        if body.tell() != len(data):
            raise BodyDecodeError(f"{len(data) - body.tell()} bytes after the end of the record")
        return record


def _cannot_read(reader: SchemaVersion, writer: SchemaVersion) -> str:
    """Why `reader` cannot read data written with `writer` (the avro package's check); empty when it can."""
    from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
    from avro.schema import parse

    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(parse(json.dumps(reader.source)), parse(json.dumps(writer.source)))
    if result.compatibility is SchemaCompatibilityType.compatible:
        return ""
    return "; ".join(sorted(str(m) for m in result.messages)) or "incompatible"


#: Each contract and the codec field that handles it.
CONTRACTS = ("customer_interaction", "resolved_customer", "dead_letter", "resolved_interaction")


@dataclass(frozen=True, slots=True)
class Codecs:
    """The codecs of one process: one registry, one schema cache, one codec per contract."""

    cache: SchemaCache
    interaction: Codec
    resolved: Codec
    dead_letter: Codec
    resolved_interaction: Codec

    @classmethod
    def build(
        cls, client: RegistryClient, *, read_single_object: bool = True, repository: SchemaRepository | None = None
    ) -> Codecs:
        """Codecs over `client`, reading single-object records too unless `read_single_object` is False."""
        cache = SchemaCache(client)

        def make(name: str) -> Codec:
            return Codec(name, cache, repository=repository, read_single_object=read_single_object)

        return cls(
            cache,
            make("customer_interaction"),
            make("resolved_customer"),
            make("dead_letter"),
            make("resolved_interaction"),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Codecs:
        """Codecs for the registry of `settings`."""
        return cls.build(registry_client(settings), read_single_object=settings.read_single_object)

    def stale_ids(self, values: Iterable[bytes | None]) -> list[int]:
        """Schema ids in these values that the cache would have to ask the registry about."""
        return self.cache.stale(i for i in map(schema_id_of, values) if i is not None)

    async def prefetch(self, values: Iterable[bytes | None]) -> None:
        """Fetch, off the event loop, every writer schema these values need, so decoding them asks nothing.

        Raises RegistryUnavailable (retry) or RegistryRefused (credentials: call an operator).
        """
        ids = self.stale_ids(values)
        if ids:
            await asyncio.to_thread(self.cache.fetch, ids)

    async def prepare(self, topics: Mapping[str, Iterable[str]]) -> None:
        """Look up, off the event loop, the ids we write with: `{contract name: topics}`.

        Raises ContractNotRegistered when a contract is missing from a topic's subject.
        """
        by_name = {c.name: c for c in (self.interaction, self.resolved, self.dead_letter, self.resolved_interaction)}

        def look_up() -> None:
            for name, names in topics.items():
                for topic in names:
                    by_name[name].schema_id(topic)

        await asyncio.to_thread(look_up)


_lock = threading.Lock()
_current: Codecs | None = None


def codecs() -> Codecs:
    """The process's codecs: those installed with `use`, else built once from `Settings.from_env()`."""
    global _current
    with _lock:
        if _current is None:
            from streams.settings import Settings

            _current = Codecs.from_settings(Settings.from_env())
        return _current


def use(new: Codecs | None) -> Codecs | None:
    """Install the process's codecs (None: build from the environment on next use); return the previous."""
    global _current
    with _lock:
        previous, _current = _current, new
        return previous


def encode_interaction(event: Interaction, topic: str) -> bytes:
    """Confluent-framed bytes of an interaction for `topic` (validate it first: encoding only checks types)."""
    return codecs().interaction.encode(event.to_record(), topic)


def decode_interaction(data: bytes | None) -> Interaction:
    """Decode an interaction; it is not validated here. Raises CodecError subclasses only."""
    r = codecs().interaction.decode(data)
    return Interaction(
        event_id=r["event_id"],
        touchpoint=r["touchpoint"],
        occurred_at=r["occurred_at"],
        source_id=r["source_id"],
        interaction=r["interaction"],
        phone=r["phone"],
        email=r["email"],
        name=r["name"],
        attributes=r["attributes"],
    )


def encode_resolved(record: Mapping[str, Any], topic: str) -> bytes:
    """Confluent-framed bytes of a ResolvedCustomer record (a dict in the schema's field names) for `topic`."""
    return codecs().resolved.encode(record, topic)


def decode_resolved(data: bytes | None) -> dict[str, Any]:
    """Decode a ResolvedCustomer record. Raises CodecError subclasses only."""
    return codecs().resolved.decode(data)


def encode_resolved_interaction(record: Mapping[str, Any], topic: str) -> bytes:
    """Confluent-framed bytes of a ResolvedInteraction record for `topic`."""
    return codecs().resolved_interaction.encode(record, topic)


def decode_resolved_interaction(data: bytes | None) -> dict[str, Any]:
    """Decode a ResolvedInteraction record. Raises CodecError subclasses only."""
    return codecs().resolved_interaction.decode(data)


def encode_dead_letter(record: Mapping[str, Any], topic: str) -> bytes:
    """Confluent-framed bytes of a DeadLetter record for `topic`."""
    return codecs().dead_letter.encode(record, topic)


def decode_dead_letter(data: bytes | None) -> dict[str, Any]:
    """Decode a DeadLetter record. Raises CodecError subclasses only."""
    return codecs().dead_letter.decode(data)


def _looks_like(data: bytes) -> str:
    """What a record that is not Avro most likely is, from its first byte only (never its content):
    a producer that sent JSON or text instead of the Confluent serializer's bytes (audit s38)."""
    first = data.lstrip(b" \t\r\n\xef\xbb\xbf")[:1]
    if first in (b"{", b"["):
        return ": a JSON text, not Avro; publish with a Confluent Avro serializer (docs/producing.md)"
    if first.isalnum() or first == b'"':
        return ": text, not Avro; publish with a Confluent Avro serializer (docs/producing.md)"
    return ""
