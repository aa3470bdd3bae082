"""`irl crm-sync` options and failures that need no broker, and CRM URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli import main
from streams.crm import (
    CrmUnavailable,
    CrmUrlError,
    InMemoryCrmStore,
    PostgresCrmStore,
    SqliteCrmStore,
    apply_batch,
    assignments_from_crm,
    crm_customers,
    crm_duplicates,
    open_store,
    safe_url,
)
from tests.unit.test_crm_world import make_record


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(main, ["crm-sync", "--help"])
    assert result.exit_code == 0
    for option in ("--db", "--topic", "--group", "--until-idle", "--max-records", "sqlite:///crm.db"):
        assert option in result.output


@pytest.mark.parametrize("url", ["crm.db", "mysql://host/db", "sqlite://"])
def test_a_bad_url_is_a_usage_error(url: str) -> None:
    result = CliRunner().invoke(main, ["crm-sync", "--db", url])
    assert result.exit_code == 2 and "URL" in result.output


def test_an_unreachable_database_exits_3_without_showing_the_password() -> None:
    result = CliRunner().invoke(main, ["crm-sync", "--db", "postgresql://irl:s3cret@127.0.0.1:1/irl"])
    assert result.exit_code == 3
    assert "cannot connect to PostgreSQL" in result.output and "s3cret" not in result.output


def test_urls_open_their_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///data/crm.db")
    absolute = open_store(f"sqlite:///{tmp_path / 'abs.db'}")
    try:
        assert isinstance(relative, SqliteCrmStore) and relative.path == Path("data/crm.db")
        assert (tmp_path / "data" / "crm.db").exists() and (tmp_path / "abs.db").exists()
        assert isinstance(absolute, SqliteCrmStore)
    finally:
        relative.close()
        absolute.close()
    assert isinstance(open_store("memory://"), InMemoryCrmStore)
    with pytest.raises(CrmUrlError):
        open_store("redis://127.0.0.1/0")
    with pytest.raises(CrmUnavailable):
        PostgresCrmStore("postgresql://postgres@127.0.0.1:1/irl", connect_timeout_s=2)


def test_safe_url_hides_only_the_password() -> None:
    assert safe_url("postgresql://irl:s3cret@db:5432/irl?sslmode=require") == (
        "postgresql://irl:***@db:5432/irl?sslmode=require"
    )
    assert safe_url("sqlite:///crm.db") == "sqlite:///crm.db"


def test_what_the_crm_holds_reads_back_for_evaluation(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    store = open_store(url)
    try:
        apply_batch(
            store,
            [
                make_record("A", "CREATED", 1, 1_000, [("WEB", "w1"), ("KIOSK", "k1")]),
                make_record("B", "CREATED", 1, 1_000, [("WHATSAPP", "+919845071623")]),
                make_record("B", "ABSORBED", 2, 2_000, survivor_id="C"),
            ],
        )
    finally:
        store.close()
    assert assignments_from_crm(url) == {
        ("WEB", "w1"): "A",
        ("KIOSK", "k1"): "A",
        ("WHATSAPP", "+919845071623"): "C",
    }
    customers = crm_customers(url)
    assert set(customers) == {"A", "C"}
    assert customers["A"]["source_ids"] == [
        {"touchpoint": "KIOSK", "source_id": "k1"},
        {"touchpoint": "WEB", "source_id": "w1"},
    ]
    assert customers["A"]["version"] == 1 and customers["A"]["name"] == "Name A v1"
    assert customers["C"]["version"] == 0  # a placeholder: C's own record has not arrived


def test_the_crm_finds_its_own_duplicates_in_the_source_ids(tmp_path: Path) -> None:
    """Contacts brought in by `irl import` come back as CRM touchpoint records: two on one customer
    are one person the CRM holds twice. Claims follow merges, so an absorbed customer's move too."""
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    store = open_store(url)
    try:
        apply_batch(
            store,
            [
                make_record("A", "CREATED", 1, 1_000, [("CRM", "003-7"), ("WEB", "w1"), ("CRM", "003-2")]),
                make_record("B", "CREATED", 1, 1_000, [("CRM", "003-9"), ("KIOSK", "k1")]),
                make_record("D", "CREATED", 1, 1_000, [("CRM", "003-4"), ("WEB", "w4"), ("WEB", "w5")]),
                make_record("E", "CREATED", 1, 1_000, [("CRM", "003-5")]),
                make_record("E", "ABSORBED", 2, 2_000, survivor_id="D"),
            ],
        )
    finally:
        store.close()
    assert crm_duplicates(url) == {"A": ["003-2", "003-7"], "D": ["003-4", "003-5"]}
