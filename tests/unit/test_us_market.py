"""A US retailer's data (audit s40, `bench/audit/make_data_us.py`): what it found, pinned.

* NANP fictional numbers (``555-0100`` to ``555-0199``, and ``555-1212``) are valid by the numbering
  plan's metadata but no one's: four walk-ins who gave ``(415) 555-0100`` were one customer (0.01).
* A refusal typed as an email's local part (``declined@declined.com``) fused three walk-ins at 0.85.
* ``0044 7911 123456`` (00, the international prefix of most of the world) on a US deployment, whose
  prefix is 011, was invalid and never linked: a UK customer's orders stayed apart from their chat.
* US pet forms that are no prefix of the name (``Tom`` / ``Thomas``, ``Sasha`` / ``Alexandra``) read as
  a second person on one phone and split it.
"""

from __future__ import annotations

import itertools

import pytest

from resolver.config import ResolverConfig
from resolver.interaction import Interaction
from resolver.junk import JunkRules, fictional_nanp
from resolver.names import name_key, same_person
from resolver.phones import PhoneNormaliser
from resolver.resolver import Resolver

T0 = 1_791_000_000_000
US = ResolverConfig(default_region="US")


@pytest.mark.parametrize(
    "raw", ["(415) 555-0100", "212-555-0123", "+1 646 555 0199", "1-312-555-0150", "(206) 555-1212"]
)
def test_fictional_north_american_numbers_are_junk(raw: str) -> None:
    assert PhoneNormaliser("US").normalise(raw).status == "junk"


@pytest.mark.parametrize(
    "raw", ["(415) 555-0200", "(415) 555-0099", "(415) 867-2291", "(212) 736-5000", "(415) 555-1213"]
)
def test_neighbouring_north_american_numbers_stay_numbers(raw: str) -> None:
    assert PhoneNormaliser("US").normalise(raw).status == "valid"


def test_fictional_is_only_north_american() -> None:
    assert not fictional_nanp("+445550100123") and not fictional_nanp("+9155501001")
    assert PhoneNormaliser("IN").normalise("+1 415 555 0100").status == "junk"


def test_strangers_on_a_fictional_number_stay_apart() -> None:
    r = Resolver(US)
    people = ["Emily Patel", "Matthew Patel", "Grace Kim", "Kevin Brown"]
    for i, name in enumerate(people):
        r.apply(Interaction(f"a{i}", "KIOSK", T0 + i, f"RW-{i}", "visit", phone="(415) 555-0100"))
        own = f"415-867-22{10 + i}"
        r.apply(Interaction(f"b{i}", "KIOSK", T0 + 100 + i, f"RW-{i}", "purchase", phone=own, name=name))
    assert len({r.customer_of_event(f"a{i}") for i in range(len(people))}) == len(people)


@pytest.mark.parametrize("address", ["declined@declined.com", "refused@gmail.com", "Opt.Out@store.com"])
def test_a_refusal_typed_as_an_address_is_junk(address: str) -> None:
    assert JunkRules().email(address.lower())


@pytest.mark.parametrize("address", ["declan@gmail.com", "refusedhope@yahoo.com", "optician@clinic.com"])
def test_addresses_near_a_refusal_stay_addresses(address: str) -> None:
    assert not JunkRules().email(address)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [("0044 7911 123456", "+447911123456"), ("00447911123456", "+447911123456"), ("001 415 867 2291", "+14158672291")],
)
def test_the_00_prefix_is_international_where_the_region_uses_another(raw: str, e164: str) -> None:
    found = PhoneNormaliser("US").normalise(raw)
    assert (found.e164, found.status) == (e164, "valid")


def test_the_00_prefix_still_reads_as_before_where_it_is_the_regions() -> None:
    assert PhoneNormaliser("IN").normalise("0044 7911 123456").e164 == "+447911123456"
    assert PhoneNormaliser("GB").normalise("001 415 867 2291").e164 == "+14158672291"


def test_a_uk_customers_00_number_joins_their_whatsapp_chat_on_a_us_deployment() -> None:
    r = Resolver(US)
    r.apply(Interaction("w1", "WEB", T0, "acct-1", "order", phone="0044 7911 123456", name="Isla Roberts"))
    r.apply(Interaction("c1", "WHATSAPP", T0 + 1, "447911123456", "message", name="Isla Roberts"))
    assert r.customer_of_event("w1") == r.customer_of_event("c1")


@pytest.mark.parametrize(
    ("pet", "full"),
    [("Tom Kim", "Thomas Kim"), ("Sasha Moore", "Alexandra Moore"), ("Ted Davis", "Theodore Davis"),
     ("Hank Ross", "Henry Ross"), ("Patty Ross", "Patricia Ross"), ("Larry King", "Lawrence King"),
     ("Betsy Scott", "Elizabeth Scott"), ("Danny Cole", "Daniel Cole"), ("Debbie Hill", "Deborah Hill")],
)  # fmt: skip
def test_us_pet_forms_are_the_person_beside_one_surname(pet: str, full: str) -> None:
    pk, fk = name_key(pet), name_key(full)
    assert pk is not None and fk is not None and same_person(pk, fk)
    alone = name_key(pet.split()[0])
    assert alone is not None and not same_person(alone, name_key(full.split()[0]) or "")  # never alone


@pytest.mark.parametrize(
    ("a", "b"), [("Tom Kim", "Thomas Lee"), ("Sasha Moore", "Alexandra Kim"), ("Thomas Kim", "Theodore Kim")]
)
def test_pet_forms_join_no_one_else(a: str, b: str) -> None:
    ka, kb = name_key(a), name_key(b)
    assert ka is not None and kb is not None and not same_person(ka, kb)


def test_a_pet_form_on_the_kiosk_keeps_one_customer_in_any_order() -> None:
    events = [
        Interaction(
            "w1", "WEB", T0, "acct-tk", "order", phone="(312) 796-4963", email="tk89@gmail.com", name="Thomas Kim"
        ),
        Interaction("k1", "KIOSK", T0 + 60_000, "RW-tk", "visit", phone="1-312-796-4963", name="Tom Kim"),
        Interaction("c1", "WHATSAPP", T0 + 120_000, "13127964963", "message", name="Tommy Kim"),
    ]  # fmt: skip
    for order in itertools.permutations(events):
        r = Resolver(US)
        for e in order:
            r.apply(e)
        assert len({r.customer_of_event(e.event_id) for e in events}) == 1


def test_a_lone_pet_form_beside_the_full_name_is_that_person_not_a_second_one() -> None:
    """Audit s40: ``Bobby`` at a kiosk beside ``Robert Moore`` on his own phone and email was "names that
    cannot be one person" (-0.65): a pure customer at 0.01, the lowest of the review queue."""
    assert same_person(name_key("Bobby") or "", name_key("Robert Moore") or "")
    assert not same_person(name_key("Bobby") or "", name_key("Richard Moore") or "")
    r = Resolver(US)
    r.apply(
        Interaction("k1", "KIOSK", T0, "RW-rm", "visit", phone="872-893-8713", email="rmoore5@yahoo.com", name="Bobby")
    )
    r.apply(Interaction("k2", "KIOSK", T0 + 1, "RW-rm", "visit", phone="+1 872 893 8713", name="Robert Moore"))
    r.apply(Interaction("w1", "WEB", T0 + 2, "acct-rm", "order", phone="8728938713", name="Robert Moore"))
    cid = r.customer_of_event("k1")
    assert cid is not None and {r.customer_of_event("k2"), r.customer_of_event("w1")} == {cid}
    profile = r.profile(cid)
    assert profile is not None
    assert profile.confidence >= 0.6, profile.confidence_reasons
    assert not any("cannot be one person" in reason for reason in profile.confidence_reasons)
