"""Phone regions per touchpoint and source id (audit s35's C7): `IRL_PHONE_REGIONS`.

One `IRL_DEFAULT_REGION` read every national-format number of every touchpoint: a Dubai kiosk's
``050 284 6193`` on an Indian deployment was ``+91502846193``, invalid, never linked. A rule
``KIOSK:dxb-=AE`` reads the numbers of kiosk events whose source id starts ``dxb-`` in the UAE,
in the worker's core and in `irl replay` alike (a pure function of the event's fields).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from resolver.config import ResolverConfig
from resolver.identifiers import IdentifierParser
from resolver.interaction import Interaction
from resolver.resolver import Resolver
from streams.commands.replay import command as replay
from streams.pipeline import Pipeline
from streams.settings import Settings, SettingsError

T0 = 1_700_000_000_000
DUBAI = ("KIOSK", "dxb-", "AE")
#: A Dubai kiosk's visitor typing a local mobile number, and the same person's WhatsApp (international).
LINES = [
    {"event_id": "k1", "touchpoint": "KIOSK", "occurred_at": T0, "source_id": "dxb-0042", "interaction": "visit",
     "phone": "050 284 6193", "name": "Fatima Al Mansoori"},
    {"event_id": "w1", "touchpoint": "WHATSAPP", "occurred_at": T0 + 1, "source_id": "971502846193",
     "interaction": "message", "name": "Fatima Al Mansoori"},
    {"event_id": "k2", "touchpoint": "KIOSK", "occurred_at": T0 + 2, "source_id": "blr-0007", "interaction": "visit",
     "phone": "98450 71623", "name": "Asha Rao"},
]  # fmt: skip


def test_a_rule_reads_its_sources_numbers_in_its_region_and_leaves_the_others() -> None:
    parser = IdentifierParser(ResolverConfig(phone_regions=(DUBAI, ("KIOSK", "", "GB"), ("KIOSK", "dxb-9", "SA"))))
    assert parser.extract_fields("KIOSK", " dxb-0042", "050 284 6193", None).keys[0] == "p:+971502846193"
    assert parser.extract_fields("KIOSK", "dxb-9001", "050 284 6193", None).keys[0] == "p:+966502846193"  # longest
    assert parser.extract_fields("KIOSK", "lon-1", "07911 123456", None).keys[0] == "p:+447911123456"  # "" prefix
    assert parser.extract_fields("WEB", "dxb-0042", "98450 71623", None).keys[0] == "p:+919845071623"  # default
    assert parser.extract_fields("KIOSK", "dxb-1", "+91 98450 71623", None).keys[0] == "p:+919845071623"  # has +
    without = IdentifierParser(ResolverConfig())
    assert without.extract_fields("KIOSK", "dxb-0042", "050 284 6193", None).rejected == ("phone:invalid:+91502846193",)


def test_the_worker_core_joins_the_kiosk_visit_to_the_whatsapp_account() -> None:
    events = [Interaction(**{k: v for k, v in line.items()}) for line in LINES]  # type: ignore[arg-type]
    for rules, customers in (((), 3), ((DUBAI,), 2)):
        p = Pipeline(ResolverConfig(phone_regions=rules), 1000, 0)
        p.on_events(0, events)
        assert len(p.resolver.customer_ids()) == customers


@pytest.mark.parametrize("mode", ["--sequential", "--workers=2"])
def test_replay_reads_irl_phone_regions_as_the_worker_does(tmp_path: Path, mode: str) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(line) + "\n" for line in LINES))
    out = ["--assignments", str(tmp_path / "a.csv"), "--profiles", str(tmp_path / "p.jsonl")]
    out += ["--rejects", str(tmp_path / "r.jsonl"), mode]
    for env, customers in (({}, 3), ({"IRL_PHONE_REGIONS": "kiosk:dxb-=ae"}, 2)):
        result = CliRunner().invoke(replay, [str(events), *out], env={"IRL_PHONE_REGIONS": None, **env})
        assert result.exit_code == 0, result.output
        assert f"customers={customers}" in result.stderr
    profiles = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert sorted(p["phones"] for p in profiles) == [["+919845071623"], ["+971502846193"]]


def test_the_setting_is_checked_at_start() -> None:
    s = Settings.from_env({"IRL_PHONE_REGIONS": " KIOSK:dxb-=ae , kiosk:ruh-=SA,WEB=gb "})
    assert s.phone_regions == (("KIOSK", "dxb-", "AE"), ("KIOSK", "ruh-", "SA"), ("WEB", "", "GB"))
    assert Settings.from_env({}).phone_regions == ()
    for bad in ("KIOSK:dxb-", "SHOP:x=AE", "KIOSK:x=ZZ", "KIOSK:x=UAE", "KIOSK:x=AE,KIOSK:x=SA"):
        with pytest.raises(SettingsError, match="IRL_PHONE_REGIONS"):
            Settings.from_env({"IRL_PHONE_REGIONS": bad})


def test_the_worker_hands_the_rules_to_its_core() -> None:
    from streams.app import resolver_config

    config = resolver_config(Settings.from_env({"IRL_PHONE_REGIONS": "KIOSK:dxb-=AE", "IRL_DEV_MODE": "true"}))
    assert config.phone_regions == (DUBAI,)


def test_a_number_invalid_where_read_is_the_mobile_it_is_in_one_other_named_region() -> None:
    # s40: the audit's Dubai customers type ``055 389 7720`` on the Indian site (invalid as an Indian
    # number) beside their WhatsApp ``971553897720``: 7 people split, 111 event pairs.
    parser = IdentifierParser(ResolverConfig(phone_regions=(DUBAI,)))
    assert parser.extract_fields("WEB", "u1", "055 389 7720", None).keys[0] == "p:+971553897720"
    assert parser.extract_fields("CRM", "hs-1", "0553897720", None).keys[0] == "p:+971553897720"
    # without a rule naming another region, as before: invalid, refused
    plain = IdentifierParser(ResolverConfig())
    assert plain.extract_fields("WEB", "u1", "055 389 7720", None) == (("t:WEB:u1",), ("phone:invalid:+91553897720",))
    # a number valid where it was read is never read again (a UK 07... is an Indian mobile too)
    assert parser.extract_fields("WEB", "u1", "07464 962482", None).keys == ("p:+917464962482", "t:WEB:u1")
    # a landline elsewhere is not taken (a local number typed without its city code), nor a mobile
    # of two named regions (the UAE's and Saudi Arabia's 05x numbers)
    assert parser.extract_fields("WEB", "u1", "02 345 6789", None).keys == ("t:WEB:u1",)
    both = IdentifierParser(ResolverConfig(phone_regions=(DUBAI, ("KIOSK", "ruh-", "SA"))))
    assert both.extract_fields("WEB", "u1", "0555143972", None).keys == ("t:WEB:u1",)
    assert both.extract_fields("KIOSK", "dxb-1", "0555143972", None).keys == ("p:+971555143972", "t:KIOSK:dxb-1")
    # the default region is one of the others for a rule's own numbers
    assert parser.extract_fields("KIOSK", "dxb-1", "98450 71623", None).keys[0] == "p:+919845071623"


def test_the_web_order_with_a_local_dubai_number_joins_the_whatsapp_chat() -> None:
    events = [
        Interaction("o1", "WEB", T0, "u9", "order", phone="055 389 7720", email="huda@x.ae", name="Huda Rahman"),
        Interaction("w1", "WHATSAPP", T0 + 1, "971553897720", "message", name="Huda Rahman"),
    ]
    for order in (events, events[::-1]):
        r = Resolver(ResolverConfig(phone_regions=(DUBAI,)))
        for e in order:
            r.apply(e)
        assert r.customer_of_event("o1") == r.customer_of_event("w1") is not None
