"""The contracts in schemas/avro: every version loads, and versions are full-transitive compatible."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from resolver.interaction import TOUCHPOINTS
from streams.schemas import (
    SchemaRepository,
    SchemaRepositoryError,
    SchemaVersion,
    compatibility_problems,
    default_repository,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "schemas"


def test_both_contracts_are_kept_from_version_one() -> None:
    registry = default_repository()
    assert {"customer_interaction", "resolved_customer"} <= set(registry.names())
    for name in registry.names():
        assert registry.versions(name)[0].version == 1


def test_interaction_fields_are_the_contract() -> None:
    source = default_repository().versions("customer_interaction")[0].source
    fields = {f["name"]: f for f in source["fields"]}
    assert list(fields) == [
        "event_id", "touchpoint", "occurred_at", "source_id", "interaction",
        "phone", "email", "name", "attributes",
    ]  # fmt: skip
    touchpoint = fields["touchpoint"]["type"]
    assert set(touchpoint["symbols"]) >= {"WEB", "WHATSAPP", "KIOSK"}
    assert touchpoint["default"] in touchpoint["symbols"]
    assert fields["occurred_at"]["type"] == {"type": "long", "logicalType": "timestamp-millis"}
    for optional in ("phone", "email", "name"):
        assert fields[optional]["type"] == ["null", "string"] and fields[optional]["default"] is None
    assert fields["attributes"]["default"] == {}


def test_resolved_customer_fields_are_the_contract() -> None:
    source = default_repository().latest("resolved_customer").source
    names = {f["name"] for f in source["fields"]}
    assert names >= {
        "customer_id", "change", "survivor_id", "merged_from", "phones", "emails", "source_ids", "name",
        "first_seen", "last_seen", "event_count", "touchpoints", "confidence", "confidence_reasons",
        "version", "change_id", "window_start", "window_end",
    }  # fmt: skip
    change = next(f for f in source["fields"] if f["name"] == "change")["type"]
    assert change["symbols"] == ["CREATED", "UPDATED", "MERGED", "ABSORBED", "SPLIT", "ERASED"]


def test_fingerprints_identify_one_version_each() -> None:
    registry = default_repository()
    all_versions = [v for n in registry.names() for v in registry.versions(n)]
    assert len({v.fingerprint for v in all_versions}) == len(all_versions)
    for v in all_versions:
        assert registry.by_fingerprint(v.fingerprint) is v


@pytest.mark.parametrize("name", default_repository().names())
def test_every_contract_is_full_transitive_compatible(name: str) -> None:
    """Runs over whatever versions exist: each compatible both ways with every earlier one."""
    assert compatibility_problems(default_repository().versions(name)) == []


def test_the_check_fails_on_an_incompatible_version() -> None:
    registry = SchemaRepository.load(FIXTURES / "incompatible")
    problems = compatibility_problems(registry.versions("customer_interaction"))
    assert problems == ["customer_interaction v2 cannot read customer_interaction v1: tenant"]


def test_the_check_accepts_a_compatible_evolution() -> None:
    registry = SchemaRepository.load(FIXTURES / "evolved")
    assert compatibility_problems(registry.versions("customer_interaction")) == []


def test_the_check_is_transitive_not_just_pairwise() -> None:
    versions = SchemaRepository.load(FIXTURES / "nontransitive").versions("sample")
    assert compatibility_problems(versions[0:2]) == []
    assert compatibility_problems(versions[1:3]) == []
    problems = compatibility_problems(versions)
    assert len(problems) == 2 and all("v3" in p and "v1" in p for p in problems)


def _write(root: Path, name: str, version: int, text: str) -> None:
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / f"v{version}.avsc").write_text(text)


def test_a_gap_in_versions_is_refused(tmp_path: Path) -> None:
    record = json.dumps({"type": "record", "name": "R", "fields": []})
    _write(tmp_path, "r", 1, record)
    _write(tmp_path, "r", 3, record)
    with pytest.raises(SchemaRepositoryError, match="without gaps"):
        SchemaRepository.load(tmp_path)


@pytest.mark.parametrize("text", ["{not json", json.dumps({"type": "record", "name": "R", "fields": [{}]})])
def test_a_malformed_schema_is_refused(tmp_path: Path, text: str) -> None:
    _write(tmp_path, "r", 1, text)
    with pytest.raises(SchemaRepositoryError):
        SchemaRepository.load(tmp_path)


# -- v2: the CRM touchpoint (issue 19) ----------------------------------------------------------


def _touchpoint_enum(version: SchemaVersion) -> dict[str, Any]:
    field = next(f for f in version.source["fields"] if f["name"] == "touchpoint")
    enum: dict[str, Any] = field["type"]
    return enum


def test_v2_adds_the_crm_touchpoint_and_changes_nothing_else() -> None:
    v1, v2 = default_repository().versions("customer_interaction")[:2]
    assert _touchpoint_enum(v2)["symbols"] == [*_touchpoint_enum(v1)["symbols"], "CRM"]  # appended, none moved
    assert _touchpoint_enum(v1)["default"] == _touchpoint_enum(v2)["default"] == "UNKNOWN"
    without_touchpoint = [[f for f in json.loads(v.canonical)["fields"] if f["name"] != "touchpoint"] for v in (v1, v2)]
    assert without_touchpoint[0] == without_touchpoint[1]


def test_the_core_knows_exactly_the_newest_symbols() -> None:
    newest = default_repository().latest("customer_interaction")
    assert list(TOUCHPOINTS) == _touchpoint_enum(newest)["symbols"]


def _without_enum_default(version: SchemaVersion) -> SchemaVersion:
    source = copy.deepcopy(version.source)
    next(f for f in source["fields"] if f["name"] == "touchpoint")["type"].pop("default")
    return SchemaVersion.from_source(version.name, version.version, source)


def test_a_new_symbol_is_forward_compatible_only_because_the_enum_has_a_default() -> None:
    """v1 readers read CRM as UNKNOWN, the enum's default; without one, v1 could not read v2 at all."""
    versions = default_repository().versions("customer_interaction")
    assert compatibility_problems(versions) == []
    problems = compatibility_problems([_without_enum_default(v) for v in versions])
    assert problems == ["customer_interaction v1 cannot read customer_interaction v2: {'CRM'}"]
