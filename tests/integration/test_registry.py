"""The registry port, one suite run against the real registry (Apicurio, started by services.sh) and the
in-memory one; the contracts registered as `irl topics create` does; the codec reading by id."""

from __future__ import annotations

import json
import os
import struct
import uuid
from collections.abc import Iterator

import pytest

from resolver.interaction import Interaction
from streams.codec import Codecs, IncompatibleSchema, UnknownSchemaId
from streams.contracts import register_contracts
from streams.registry import (
    COMPATIBILITY,
    HttpRegistryClient,
    InMemoryRegistryClient,
    RegistryClient,
    RegistryRefused,
    RegistryUnavailable,
    subject_of,
)
from streams.schemas import default_repository
from tests.integration.harness import free_port

pytestmark = pytest.mark.integration

REGISTRY_URL = os.environ.get("IRL_SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081/apis/ccompat/v7")
EVENT = Interaction("reg-1", "WEB", 1_714_557_600_000, "cookie-1", "signup", email="asha@example.com")


def _schema(*fields: tuple[str, str, object]) -> str:
    """A record schema `Probe` with the given (name, type, default) fields; default `...` means none."""
    out = []
    for name, kind, default in fields:
        field: dict[str, object] = {"name": name, "type": kind}
        if default is not ...:
            field["default"] = default
        out.append(field)
    return json.dumps({"type": "record", "name": "Probe", "namespace": "test.irl", "fields": out})


V1 = _schema(("a", "string", ...))
V2 = _schema(("a", "string", ...), ("b", "int", 0))  # both ways compatible with V1
BREAKS = _schema(("a", "string", ...), ("c", "int", ...))  # a new field without default: not backward


@pytest.fixture(scope="session")
def http_registry() -> HttpRegistryClient:
    client = HttpRegistryClient(REGISTRY_URL)
    try:
        client.versions("irl-probe-value")
    except RegistryUnavailable as exc:
        pytest.fail(f"no schema registry at {REGISTRY_URL} ({exc}): run `make up` (scripts/registry.sh start)")
    return client


@pytest.fixture(params=["apicurio", "memory"])
def registry(request: pytest.FixtureRequest, http_registry: HttpRegistryClient) -> Iterator[RegistryClient]:
    yield http_registry if request.param == "apicurio" else InMemoryRegistryClient()


@pytest.fixture
def subject() -> str:
    return f"test-registry-{uuid.uuid4().hex[:10]}-value"


def test_register_is_idempotent_and_ids_name_content(registry: RegistryClient, subject: str) -> None:
    assert registry.lookup(subject, V1) is None and registry.versions(subject) == []
    first = registry.register(subject, V1)
    assert registry.register(subject, V1) == first
    assert registry.lookup(subject, V1) == first
    assert registry.versions(subject) == [1]
    # one schema under two subjects has one id, as in Confluent
    assert registry.register(subject.replace("-value", "-other-value"), V1) == first
    text = registry.schema(first)
    assert text is not None and json.loads(text)["fields"] == json.loads(V1)["fields"]
    assert registry.schema(2**31 - 1) is None


def test_full_transitive_refuses_an_incompatible_version(registry: RegistryClient, subject: str) -> None:
    registry.set_compatibility(subject, COMPATIBILITY)  # before the subject exists, as topics create does
    registry.register(subject, V1)
    assert registry.compatibility(subject) == "FULL_TRANSITIVE"
    registry.register(subject, V2)
    assert registry.versions(subject) == [1, 2]
    with pytest.raises(RegistryRefused) as info:
        registry.register(subject, BREAKS)
    assert info.value.status == 409
    assert registry.versions(subject) == [1, 2]


def _without_enum_default(text: str) -> str:
    source = json.loads(text)
    next(f for f in source["fields"] if f["name"] == "touchpoint")["type"].pop("default")
    return json.dumps(source)


def test_the_crm_symbol_passes_full_transitive_because_the_enum_has_a_default(
    registry: RegistryClient, subject: str
) -> None:
    """Contract v2 added the CRM touchpoint: the registry's own check agrees with ours (issue 19)."""
    v1, v2 = (v.text for v in default_repository().versions("customer_interaction")[:2])
    registry.set_compatibility(subject, COMPATIBILITY)
    registry.register(subject, v1)
    registry.register(subject, v2)
    assert registry.versions(subject) == [1, 2]
    bare = subject.replace("-value", "-bare-value")
    registry.set_compatibility(bare, COMPATIBILITY)
    registry.register(bare, _without_enum_default(v1))
    with pytest.raises(RegistryRefused) as info:  # a v1 reader without a default cannot read CRM
        registry.register(bare, _without_enum_default(v2))
    assert info.value.status == 409
    assert registry.versions(bare) == [1]


def test_compatibility_is_none_when_never_set(registry: RegistryClient, subject: str) -> None:
    assert registry.compatibility(subject) is None


def test_a_registry_that_does_not_answer_is_unavailable() -> None:
    client = HttpRegistryClient(f"http://127.0.0.1:{free_port()}/apis/ccompat/v7", timeout_s=2)
    with pytest.raises(RegistryUnavailable):
        client.schema(1)


def test_contracts_are_registered_under_each_topic_with_full_transitive(http_registry: HttpRegistryClient) -> None:
    tag = uuid.uuid4().hex[:10]
    topics = {
        f"t{tag}.web": "customer_interaction",
        f"t{tag}.resolved": "resolved_customer",
        f"t{tag}.dl": "dead_letter",
    }
    first = register_contracts(http_registry, topics)
    assert register_contracts(http_registry, topics) == first  # a second `irl topics create` changes nothing
    repo = default_repository()
    for reg, (topic, contract) in zip(first, topics.items(), strict=True):
        assert (reg.topic, reg.subject, reg.contract) == (topic, subject_of(topic), contract)
        assert reg.compatibility == "FULL_TRANSITIVE" == http_registry.compatibility(reg.subject)
        assert len(reg.ids) == len(repo.versions(contract))
        assert http_registry.versions(reg.subject) == list(range(1, len(reg.ids) + 1))
        assert http_registry.lookup(reg.subject, repo.latest(contract).text) == reg.ids[-1]


def test_the_codec_reads_a_writer_it_learns_by_id_from_the_registry(http_registry: HttpRegistryClient) -> None:
    topic = f"t{uuid.uuid4().hex[:10]}.web"
    register_contracts(http_registry, {topic: "customer_interaction"})
    producer = Codecs.build(http_registry)
    data = producer.interaction.encode(EVENT.to_record(), topic)
    consumer = Codecs.build(HttpRegistryClient(REGISTRY_URL))  # another process: nothing cached
    assert consumer.stale_ids([data]) == [struct.unpack(">I", data[1:5])[0]]
    assert consumer.interaction.decode(data) == EVENT.to_record()
    assert consumer.stale_ids([data]) == []
    with pytest.raises(UnknownSchemaId):
        consumer.interaction.decode(b"\x00" + (2**31 - 7).to_bytes(4, "big") + data[5:])


def test_a_newer_incompatible_writer_is_refused_by_the_codec_not_misread(http_registry: HttpRegistryClient) -> None:
    subject = subject_of(f"t{uuid.uuid4().hex[:10]}.web")
    http_registry.set_compatibility(subject, "NONE")  # someone else's subject, no rule: the codec must notice
    source = json.loads(default_repository().latest("customer_interaction").text)
    source["fields"] = [f for f in source["fields"] if f["name"] != "source_id"] + [{"name": "tenant", "type": "int"}]
    sid = http_registry.register(subject, json.dumps(source))
    consumer = Codecs.build(HttpRegistryClient(REGISTRY_URL))
    with pytest.raises(IncompatibleSchema, match="source_id"):
        consumer.interaction.decode(struct.pack(">bI", 0, sid) + b"\x00" * 8)
