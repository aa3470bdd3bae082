"""CRC-64-AVRO fingerprints: the specification's algorithm, checked against its published vectors,
the `avro` package and fastavro."""

from __future__ import annotations

import json

import avro.schema
import fastavro.schema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.schemas import crc64_avro, default_repository, fingerprint

# From apache/avro share/test/data/schema-tests.txt (cross-checked there by Java's reference code).
SPEC_VECTORS = [
    ('"null"', 7195948357588979594),
    ('"boolean"', -6970731678124411036),
    ('"int"', 8247732601305521295),
    ('"long"', -3434872931120570953),
    ('"string"', -8142146995180207161),
    ('{"name":"foo","type":"record","fields":[]}', -4824392279771201922),
    ('{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}', -4448647247586288245),
    ('{"type":"map","values":"string"}', -8732877298790414990),
    (
        '{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}',
        -1759257747318642341,
    ),
]


@pytest.mark.parametrize(("canonical", "expected"), SPEC_VECTORS)
def test_matches_the_specification_vectors(canonical: str, expected: int) -> None:
    assert crc64_avro(canonical.encode()) == expected % 2**64
    assert fingerprint(canonical) == expected.to_bytes(8, "little", signed=True)


@given(st.binary(max_size=300))
def test_matches_the_avro_package_on_any_bytes(data: bytes) -> None:
    assert crc64_avro(data).to_bytes(8, "little") == avro.schema._crc_64_fingerprint(data)


@pytest.mark.parametrize("name", default_repository().names())
def test_contract_fingerprints_agree_with_avro_and_fastavro(name: str) -> None:
    for version in default_repository().versions(name):
        assert version.canonical == fastavro.schema.to_parsing_canonical_form(version.source)
        assert version.fingerprint.hex() == fastavro.schema.fingerprint(version.canonical, "CRC-64-AVRO")
        # The avro package keeps `{"type":"long"}` for logical-type longs in its canonical form
        # (Java and fastavro write "long"); on the canonical form itself it must agree.
        assert avro.schema.parse(version.canonical).fingerprint("CRC-64-AVRO") == version.fingerprint


def test_canonical_form_drops_docs_and_logical_types() -> None:
    canonical = json.loads(default_repository().versions("customer_interaction")[0].canonical)
    occurred_at = next(f for f in canonical["fields"] if f["name"] == "occurred_at")
    assert occurred_at == {"name": "occurred_at", "type": "long"}
    assert "doc" not in json.dumps(canonical)
