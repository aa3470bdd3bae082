"""The schema repository: every version of every Avro contract, kept in `schemas/avro/`.

Layout: `schemas/avro/<name>/v<N>.avsc`, N = 1, 2, ... with no gaps. Every published version
stays in the repository forever. They are registered in the schema registry (`streams.contracts`);
the fingerprints still find the writer of a single-object record written before the Confluent framing.

Fingerprint: CRC-64-AVRO (Rabin) of the schema's Parsing Canonical Form, as 8 bytes
little-endian (the Avro specification's single-object encoding header). The canonical form
is fastavro's, which, like Java's `SchemaNormalization`, writes a logical-type primitive as
the bare primitive name (`"long"`); the `avro` package writes `{"type":"long"}` for those, so
its `Schema.fingerprint()` differs on schemas with logical types. Java is the reference.

Errors: `SchemaRepositoryError` (a ValueError): a schema file is missing, malformed or out of
sequence. It is raised at start-up: fix the files; nothing at run time raises it.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import to_parsing_canonical_form

__all__ = [
    "DEFAULT_SCHEMA_DIR",
    "SchemaRepository",
    "SchemaRepositoryError",
    "SchemaVersion",
    "compatibility_problems",
    "crc64_avro",
    "default_repository",
    "fingerprint",
]

#: `schemas/avro` at the root of the repository (the project is installed editable).
DEFAULT_SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas" / "avro"

_EMPTY64 = 0xC15D213AA4D7A795  # the Avro specification's EMPTY fingerprint (also the polynomial)


def _crc_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY64 & -(fp & 1))
        table.append(fp)
    return tuple(table)


_TABLE = _crc_table()


def crc64_avro(data: bytes) -> int:
    """CRC-64-AVRO (Rabin) fingerprint of `data` as an unsigned 64-bit integer (Avro spec algorithm)."""
    fp = _EMPTY64
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp


def fingerprint(canonical_form: str) -> bytes:
    """The 8-byte little-endian CRC-64-AVRO fingerprint of a Parsing Canonical Form."""
    return crc64_avro(canonical_form.encode("utf-8")).to_bytes(8, "little")


class SchemaRepositoryError(ValueError):
    """A schema file is missing, malformed or out of sequence. Fix the files under schemas/avro."""


def _without_logical_types(node: Any) -> Any:
    # Logical types change neither the binary encoding nor the canonical form; dropping them
    # makes fastavro read timestamps as plain epoch-millisecond ints (the project's time type)
    # instead of building datetime objects on every decode.
    if isinstance(node, dict):
        return {k: _without_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_without_logical_types(v) for v in node]
    return node


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """One published version of one contract.

    `wire` is the fastavro-parsed schema used to read and write (logical types dropped);
    `canonical` its Parsing Canonical Form; `fingerprint` 8 bytes little-endian.
    """

    name: str
    version: int
    full_name: str
    source: dict[str, Any] = field(repr=False, compare=False)
    canonical: str = field(repr=False)
    fingerprint: bytes
    wire: Any = field(repr=False, compare=False)

    @classmethod
    def from_source(cls, name: str, version: int, source: Mapping[str, Any]) -> SchemaVersion:
        """Parse one schema document. Raises SchemaRepositoryError when fastavro rejects it."""
        src = copy.deepcopy(dict(source))
        try:
            canonical = to_parsing_canonical_form(src)
            wire = parse_schema(_without_logical_types(src))
        except Exception as exc:  # fastavro raises several types for a bad schema
            raise SchemaRepositoryError(f"{name} v{version}: not a valid Avro schema: {exc}") from exc
        namespace = src.get("namespace")
        base = str(src.get("name", name))
        full = base if "." in base or not namespace else f"{namespace}.{base}"
        return cls(name, version, full, src, canonical, fingerprint(canonical), wire)

    @property
    def text(self) -> str:
        """The schema as it is registered in the schema registry: its source, as compact JSON."""
        return json.dumps(self.source, separators=(",", ":"))

    @property
    def label(self) -> str:
        """`name vN`, for messages."""
        return f"{self.name} v{self.version}"


_VERSION_RE = re.compile(r"^v([1-9][0-9]*)\.avsc$")


class SchemaRepository:
    """Every version of every contract, indexed by name and by fingerprint. Immutable once built."""

    def __init__(self, versions: Iterable[SchemaVersion]) -> None:
        self._by_name: dict[str, list[SchemaVersion]] = {}
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        for v in sorted(versions, key=lambda v: (v.name, v.version)):
            clash = self._by_fingerprint.get(v.fingerprint)
            if clash is not None and clash.name != v.name:
                raise SchemaRepositoryError(f"{v.label} has the same fingerprint as {clash.label}")
            self._by_name.setdefault(v.name, []).append(v)
            # Two versions of one contract may share a canonical form (only docs changed):
            # the earliest wins, which reads the same bytes.
            self._by_fingerprint.setdefault(v.fingerprint, v)
        for name, vs in self._by_name.items():
            numbers = [v.version for v in vs]
            if numbers != list(range(1, len(vs) + 1)):
                raise SchemaRepositoryError(f"{name}: versions {numbers} must be 1..N without gaps")

    @classmethod
    def load(cls, root: Path = DEFAULT_SCHEMA_DIR) -> SchemaRepository:
        """Load `root/<name>/vN.avsc` for every name. Raises SchemaRepositoryError on a bad file."""
        if not root.is_dir():
            raise SchemaRepositoryError(f"schema directory {root} does not exist")
        versions: list[SchemaVersion] = []
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            for path in sorted(folder.iterdir()):
                match = _VERSION_RE.match(path.name)
                if match is None:
                    continue
                try:
                    source = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise SchemaRepositoryError(f"{path}: cannot read JSON: {exc}") from exc
                versions.append(SchemaVersion.from_source(folder.name, int(match.group(1)), source))
        return cls(versions)

    def names(self) -> list[str]:
        """Contract names, sorted."""
        return sorted(self._by_name)

    def versions(self, name: str) -> list[SchemaVersion]:
        """Every version of `name`, oldest first. Raises KeyError for an unknown contract."""
        return list(self._by_name[name])

    def latest(self, name: str) -> SchemaVersion:
        """The newest version of `name`: what writers write and readers read into."""
        return self._by_name[name][-1]

    def by_fingerprint(self, fp: bytes) -> SchemaVersion | None:
        """The version with this fingerprint, of any contract, or None."""
        return self._by_fingerprint.get(fp)


@functools.cache
def default_repository() -> SchemaRepository:
    """The repository's contracts, loaded once per process."""
    return SchemaRepository.load()


def compatibility_problems(versions: Iterable[SchemaVersion]) -> list[str]:
    """Full transitive compatibility of a contract's versions, checked with the `avro` package.

    Every version must read data written by each earlier one (backward) and be readable by
    each earlier one (forward). Returns one message per failing pair; empty means compatible.
    """
    # Imported here: the avro package is slow to import and only needed for this check.
    from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
    from avro.schema import parse

    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    parsed = [(v, parse(json.dumps(v.source))) for v in versions]
    problems: list[str] = []
    for i, (new, new_schema) in enumerate(parsed):
        for old, old_schema in parsed[:i]:
            for reader, writer, rs, ws in (
                (new, old, new_schema, old_schema),
                (old, new, old_schema, new_schema),
            ):
                result = checker.get_compatibility(rs, ws)
                if result.compatibility is not SchemaCompatibilityType.compatible:
                    detail = "; ".join(sorted(str(m) for m in result.messages)) or "incompatible"
                    problems.append(f"{reader.label} cannot read {writer.label}: {detail}")
    return problems
