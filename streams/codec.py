"""Avro single-object encoding of the project's contracts, with fastavro.

Wire format (Avro specification, "Single-object encoding")::

    C3 01 | 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema | Avro binary body

A reader looks the fingerprint up among every version kept in `schemas/avro/<name>/` and
resolves the writer's schema to its own (the newest version). Timestamps are epoch-millisecond
ints on both sides (logical types are not materialised as datetimes).

Decoding never raises anything but a `CodecError`; each subclass has a stable `code`::

    CodecError (ValueError)              stage "decode" or "encode"; dead-letter, never retry
    ├── EmptyValue          empty_value          tombstone (None) or zero bytes
    ├── BadMarker           bad_marker           not single-object Avro (e.g. JSON, other framing)
    ├── Truncated           truncated            header incomplete or body ends early
    ├── UnknownFingerprint  unknown_fingerprint  writer schema not in the repository
    ├── WrongSchema         wrong_schema         a known schema, but of another contract
    ├── BodyDecodeError     body                 body does not decode with the writer schema
    └── EncodeError         encode               a record does not fit the schema (a bug upstream)

`reason` is `"<code>: <detail>"`, safe to log: it never contains decoded field values.
"""

from __future__ import annotations

import functools
import io
import struct
from collections.abc import Mapping
from typing import Any, ClassVar

from fastavro import schemaless_reader, schemaless_writer

from resolver.interaction import Interaction
from streams.schemas import SchemaRegistry, SchemaVersion, default_registry

__all__ = [
    "HEADER_SIZE",
    "MARKER",
    "BadMarker",
    "BodyDecodeError",
    "Codec",
    "CodecError",
    "EmptyValue",
    "EncodeError",
    "Truncated",
    "UnknownFingerprint",
    "WrongSchema",
    "decode_interaction",
    "decode_resolved",
    "encode_interaction",
    "encode_resolved",
    "interaction_codec",
    "resolved_codec",
]

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
    """The value does not start with the single-object marker C3 01."""

    code = "bad_marker"


class Truncated(CodecError):
    """The header is shorter than 10 bytes or the body ends before the record does."""

    code = "truncated"


class UnknownFingerprint(CodecError):
    """The writer schema's fingerprint is not among the versions kept in the repository."""

    code = "unknown_fingerprint"


class WrongSchema(CodecError):
    """The writer schema is known but belongs to another contract."""

    code = "wrong_schema"


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


class Codec:
    """Encoder and decoder of one contract (`schemas/avro/<name>/`), reading into its newest version
    (or `reader_version`) and writing with that same version.

    Thread-compatible and cheap to share: all state is built once in the constructor.
    """

    def __init__(self, name: str, registry: SchemaRegistry | None = None, reader_version: int | None = None) -> None:
        self.registry = registry if registry is not None else default_registry()
        self.name = name
        versions = self.registry.versions(name)
        # An older reader_version is how a test plays a consumer deployed before a newer writer.
        self.reader: SchemaVersion = versions[-1] if reader_version is None else versions[reader_version - 1]
        self._header = MARKER + self.reader.fingerprint
        # fingerprint -> (writer schema, reader schema or None when no resolution is needed)
        self._plans: dict[bytes, tuple[Any, Any]] = {}
        for v in self.registry.versions(name):
            self._plans.setdefault(v.fingerprint, (v.wire, None if v is self.reader else self.reader.wire))
        self._plans[self.reader.fingerprint] = (self.reader.wire, None)

    def encode(self, record: Mapping[str, Any]) -> bytes:
        """Single-object bytes of `record` written with the newest version. Raises EncodeError."""
        out = io.BytesIO()
        out.write(self._header)
        try:
            schemaless_writer(out, self.reader.wire, record)
        except UnicodeEncodeError as exc:
            raise EncodeError("a string is not valid Unicode (lone surrogate)") from exc
        except Exception as exc:  # fastavro raises ValueError, TypeError, AttributeError, ...
            raise EncodeError(f"record does not fit {self.reader.label} ({type(exc).__name__})") from exc
        return out.getvalue()

    def decode(self, data: bytes | None) -> dict[str, Any]:
        """The record in the reader's (newest) schema. Raises only CodecError subclasses."""
        if not data:
            raise EmptyValue("tombstone (no value)" if data is None else "zero-length value")
        if data[:2] != MARKER[: len(data[:2])]:
            raise BadMarker(f"starts with {data[:2].hex(' ')}, expected c3 01")
        if len(data) < HEADER_SIZE:
            raise Truncated(f"{len(data)} bytes, the header alone needs {HEADER_SIZE}")
        fp = bytes(data[2:HEADER_SIZE])
        plan = self._plans.get(fp)
        if plan is None:
            other = self.registry.by_fingerprint(fp)
            if other is not None:
                raise WrongSchema(f"written with {other.label}, expected {self.name}")
            raise UnknownFingerprint(f"fingerprint {fp.hex()} is not a known {self.name} version")
        writer, reader = plan
        body = io.BytesIO(data)
        body.seek(HEADER_SIZE)
        try:
            record = schemaless_reader(body, writer, reader)
        except EOFError:
            raise Truncated("body ends before the record does") from None
        except Exception as exc:  # whatever fastavro raises for bad bytes is a bad record
            raise BodyDecodeError(_describe(exc)) from None
        if not isinstance(record, dict):  # only a record schema is registered; guards the type
            raise BodyDecodeError("not a record")
        if body.tell() != len(data):
            raise BodyDecodeError(f"{len(data) - body.tell()} bytes after the end of the record")
        return record


@functools.cache
def interaction_codec() -> Codec:
    """The shared codec of CustomerInteraction."""
    return Codec("customer_interaction")


@functools.cache
def resolved_codec() -> Codec:
    """The shared codec of ResolvedCustomer."""
    return Codec("resolved_customer")


def encode_interaction(event: Interaction) -> bytes:
    """Single-object bytes of an interaction (validate it first: encoding only checks types)."""
    return interaction_codec().encode(event.to_record())


def decode_interaction(data: bytes | None) -> Interaction:
    """Decode an interaction; it is not validated here. Raises CodecError subclasses only."""
    r = interaction_codec().decode(data)
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


def encode_resolved(record: Mapping[str, Any]) -> bytes:
    """Single-object bytes of a ResolvedCustomer record (a dict in the schema's field names)."""
    return resolved_codec().encode(record)


def decode_resolved(data: bytes | None) -> dict[str, Any]:
    """Decode a ResolvedCustomer record. Raises CodecError subclasses only."""
    return resolved_codec().decode(data)
