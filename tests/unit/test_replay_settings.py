"""`irl replay` reads the settings it shares with the worker from the environment (issue 18).

``--region``, ``--hub-threshold`` and ``--duplicate-horizon-days`` default to
``IRL_DEFAULT_REGION``, ``IRL_HUB_THRESHOLD`` and ``IRL_DUPLICATE_HORIZON_DAYS``, checked by
`streams.settings` as the worker checks them; a flag given wins; a bad value stops replay with
a message naming the variable; variables replay does not use cannot stop it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from streams.commands.replay import command

T0 = 1_700_000_000_000
DAY = 86_400_000
#: A London number typed without its country code: +44 in GB, an Indian mobile in IN.
UK_NATIONAL = "07911 123456"
#: Three different people on one phone: quarantined above a hub threshold of 2, not of 5.
SHARED = [("Ravi Kumar", "ravi@x.in"), ("Meena Iyer", "meena@y.in"), ("Joseph Dsouza", "joseph@z.in")]


def _event(eid: str, at: int, source: str, **fields: str) -> dict[str, object]:
    return {
        "event_id": eid,
        "touchpoint": "WEB",
        "occurred_at": at,
        "source_id": source,
        "interaction": "visit",
        **fields,
    }


def _write(tmp_path: Path) -> Path:
    lines = [_event("uk", T0, "ck-uk", phone=UK_NATIONAL, name="Oliver Bennett")]
    lines += [
        _event(f"s{i}", T0 + i, f"ck-s{i}", phone="+91 98111 22334", name=name, email=email)
        for i, (name, email) in enumerate(SHARED)
    ]
    # An event id sent again after three days of event time: a duplicate within 7 days, not within 1.
    lines.append(_event("again", T0, "ck-again", name="Uma"))
    lines.append(_event("later", T0 + 3 * DAY, "ck-later", name="Vijay"))
    lines.append(_event("again", T0, "ck-again", name="Uma"))
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def _replay(tmp_path: Path, env: dict[str, str], *flags: str) -> Result:
    events = _write(tmp_path)
    out = [
        *("--assignments", str(tmp_path / "a.csv")),
        *("--profiles", str(tmp_path / "p.jsonl")),
        *("--rejects", str(tmp_path / "r.jsonl")),
    ]
    unset = {name: None for name in ("IRL_DEFAULT_REGION", "IRL_HUB_THRESHOLD", "IRL_DUPLICATE_HORIZON_DAYS")}
    return CliRunner().invoke(command, [str(events), *out, *flags], env={**unset, **env})


def _phones(tmp_path: Path) -> set[str]:
    profiles = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    return {phone for p in profiles for phone in p["phones"]}


def test_defaults_are_the_documented_ones(tmp_path: Path) -> None:
    result = _replay(tmp_path, {})
    assert result.exit_code == 0, result.output
    assert "region=IN hub_threshold=5 duplicate_horizon_days=7" in result.stderr
    assert "+917911123456" in _phones(tmp_path)
    assert "quarantined=0" in result.stderr and "duplicates=1" in result.stderr


def test_irl_default_region_is_honoured(tmp_path: Path) -> None:
    result = _replay(tmp_path, {"IRL_DEFAULT_REGION": "gb"})
    assert result.exit_code == 0, result.output
    assert "region=GB" in result.stderr
    assert "+447911123456" in _phones(tmp_path)


def test_irl_hub_threshold_is_honoured(tmp_path: Path) -> None:
    result = _replay(tmp_path, {"IRL_HUB_THRESHOLD": "2"})
    assert result.exit_code == 0, result.output
    assert "hub_threshold=2" in result.stderr and "quarantined=1" in result.stderr


def test_irl_duplicate_horizon_days_is_honoured(tmp_path: Path) -> None:
    result = _replay(tmp_path, {"IRL_DUPLICATE_HORIZON_DAYS": "1"})
    assert result.exit_code == 0, result.output
    assert "duplicate_horizon_days=1" in result.stderr and "duplicates=0" in result.stderr


def test_a_flag_wins_over_its_variable_and_a_bad_variable_under_a_flag_is_not_read(tmp_path: Path) -> None:
    env = {"IRL_DEFAULT_REGION": "GB", "IRL_HUB_THRESHOLD": "many", "IRL_DUPLICATE_HORIZON_DAYS": "-3"}
    result = _replay(tmp_path, env, "--region", "IN", "--hub-threshold", "2", "--duplicate-horizon-days", "1")
    assert result.exit_code == 0, result.output
    assert "region=IN hub_threshold=2 duplicate_horizon_days=1" in result.stderr
    assert "+917911123456" in _phones(tmp_path)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IRL_DEFAULT_REGION", "India"),
        ("IRL_DEFAULT_REGION", "ZZ"),  # two letters, but no such region
        ("IRL_HUB_THRESHOLD", "five"),
        ("IRL_HUB_THRESHOLD", "1"),  # below the worker's range
        ("IRL_DUPLICATE_HORIZON_DAYS", "0"),
        ("IRL_DUPLICATE_HORIZON_DAYS", "7d"),
    ],
)
def test_a_bad_value_stops_replay_naming_the_variable(tmp_path: Path, name: str, value: str) -> None:
    result = _replay(tmp_path, {name: value})
    assert result.exit_code != 0
    assert name in result.output
    assert not (tmp_path / "a.csv").exists()


def test_settings_replay_does_not_use_cannot_stop_it(tmp_path: Path) -> None:
    result = _replay(tmp_path, {"IRL_REDIS_URL": "ftp://nowhere", "IRL_KAFKA_BOOTSTRAP": "no-port"})
    assert result.exit_code == 0, result.output


def test_the_flags_take_the_ranges_of_the_variables(tmp_path: Path) -> None:
    assert _replay(tmp_path, {}, "--hub-threshold", "1").exit_code == 2
    assert _replay(tmp_path, {}, "--duplicate-horizon-days", "0").exit_code == 2
    bad_region = _replay(tmp_path, {}, "--region", "ZZ")
    assert bad_region.exit_code == 2 and "--region" in bad_region.output


@pytest.mark.parametrize("flags", [("--sequential",), ("--workers", "2")])
def test_irl_max_string_is_honoured_as_the_worker_and_produce_honour_it(tmp_path: Path, flags: tuple[str, ...]) -> None:
    """The worker's triage, `irl produce` and `irl import` take a 5,000-letter name under
    IRL_MAX_STRING=8000 and refuse a 200-letter one under 100: replay judges the same lines alike."""
    long = _event("long", T0, "ck-long", name="Ann " + "L" * 5000, email="ann.l@example.in")
    medium = _event("medium", T0 + 1, "ck-medium", name="Bo " + "M" * 200)
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(x) + "\n" for x in (long, medium)), encoding="utf-8")
    out = [f"--{kind}={tmp_path / kind}" for kind in ("assignments", "profiles", "rejects")]
    for limit, rejected in (("8000", set()), ("100", {"long", "medium"}), (None, {"long"})):
        env = {"IRL_MAX_STRING": limit}
        result = CliRunner().invoke(command, [str(events), *out, *flags], env=env)
        assert result.exit_code == 0, result.output
        rejects = [json.loads(line) for line in (tmp_path / "rejects").read_text().splitlines()]
        assert {("long", "medium")[r["line"] - 1] for r in rejects} == rejected, (limit, rejects)
        assigned = (tmp_path / "assignments").read_text()
        assert all((eid in assigned) != (eid in rejected) for eid in ("long", "medium")), limit


def test_a_bad_irl_max_string_stops_replay_naming_it(tmp_path: Path) -> None:
    result = _replay(tmp_path, {"IRL_MAX_STRING": "lots"})
    assert result.exit_code != 0
    assert "IRL_MAX_STRING" in result.output


def test_junk_values_are_read_as_the_worker_reads_them(tmp_path: Path) -> None:
    """s36 audit A15: the business's own name on the templates it sends is no person on the customer's phone."""
    lines = [
        {"event_id": "t1", "touchpoint": "WHATSAPP", "occurred_at": T0, "source_id": "919731155667",
         "interaction": "template_out", "name": "Acme Retail Support"},
        {"event_id": "t2", "touchpoint": "WHATSAPP", "occurred_at": T0 + 1, "source_id": "919731155667",
         "interaction": "template_out", "name": "Acme Retail Support"},
        {"event_id": "m1", "touchpoint": "WHATSAPP", "occurred_at": T0 + 2, "source_id": "919731155667",
         "interaction": "message_in", "name": "Meena Iyer"},
        {"event_id": "m2", "touchpoint": "WEB", "occurred_at": T0 + 3, "source_id": "u-m", "interaction": "order",
         "phone": "9731155667", "name": "Meena Iyer"},
    ]  # fmt: skip
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in lines))

    def customers(env: dict[str, str]) -> list[dict[str, object]]:
        out = tmp_path / "p.jsonl"
        args = [str(events), "--assignments", str(tmp_path / "a.csv"), "--profiles", str(out), "--sequential"]
        args += ["--rejects", str(tmp_path / "r.jsonl")]
        result = CliRunner().invoke(command, args, env=env)
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in out.read_text().splitlines()]

    assert sorted(str(c["name"]) for c in customers({"IRL_JUNK_VALUES": ""})) == ["Acme Retail Support", "Meena Iyer"]
    (meena,) = customers({"IRL_JUNK_VALUES": "acme retail support, Walkin@Store.com"})
    assert meena["name"] == "Meena Iyer" and meena["event_count"] == 4
    assert not any("shared" in str(r) for r in meena["confidence_reasons"])  # type: ignore[attr-defined]
