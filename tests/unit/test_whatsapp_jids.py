"""A WhatsApp id as integrations write it: a jid (s36 audit, finding A14).

whatsapp-web.js writes ``919845071623@c.us``, Baileys ``919845071623@s.whatsapp.net`` and, for a
sender on a linked device, ``919845071623:12@s.whatsapp.net`` (the device after the colon). A
group (``...@g.us``), a linked id (``...@lid``: an opaque number, no phone), a broadcast list or a
channel is nobody's phone: it never links, even when its digits happen to spell a valid number.
"""

from __future__ import annotations

import pytest

from resolver.interaction import Interaction
from resolver.phones import PhoneNormaliser
from resolver.resolver import Resolver

T0 = 1_764_410_400_000


@pytest.mark.parametrize(
    "jid",
    [
        "919845071623@c.us",
        "919845071623@s.whatsapp.net",
        "919845071623:12@s.whatsapp.net",
        "919845071623:3@c.us",
        " 919845071623@S.WHATSAPP.NET ",
        "+919845071623@c.us",
    ],
)
def test_a_persons_jid_is_their_phone(jid: str) -> None:
    found = PhoneNormaliser("IN").international(jid)
    assert (found.e164, found.status) == ("+919845071623", "valid")


@pytest.mark.parametrize(
    "jid",
    [
        "4915123456789@lid",  # a linked id whose digits spell a valid German mobile
        "919845071623@lid",
        "120363025246125486@g.us",
        "919845071623-1608000000@g.us",  # an old-style group id: its creator's number and a time
        "status@broadcast",
        "1234567890@broadcast",
        "120363171234567890@newsletter",
    ],
)
def test_a_group_linked_id_or_broadcast_is_nobodys_phone(jid: str) -> None:
    assert PhoneNormaliser("IN").international(jid).status == "invalid"


def test_plain_ids_read_as_before() -> None:
    phones = PhoneNormaliser("IN")
    assert phones.international("919845071623") == ("+919845071623", "valid")
    assert phones.international("whatsapp:+919845071623") == ("+919845071623", "valid")
    assert phones.international("9845071623") == ("+919845071623", "valid")


def ev(eid: str, t: int, tp: str, src: str, *, phone: str | None = None, name: str | None = None) -> Interaction:
    return Interaction(eid, tp, T0 + t * 60_000, src, "message_in", phone=phone, name=name)


def test_a_chat_from_a_linked_device_joins_the_persons_records_and_a_linked_id_joins_no_one() -> None:
    r = Resolver()
    for e in (
        ev("web-1", 0, "WEB", "u-arun", phone="98450 71623", name="Arun Prakash"),
        ev("wa-1", 1, "WHATSAPP", "919845071623@s.whatsapp.net", name="Arun Prakash"),
        ev("wa-2", 2, "WHATSAPP", "919845071623:12@s.whatsapp.net", name="Arun Prakash"),
        ev("web-2", 3, "WEB", "u-hans", phone="+49 151 23456789", name="Hans Weber"),
        ev("wa-3", 4, "WHATSAPP", "4915123456789@lid", name="Lena Vogel"),
    ):
        r.apply(e)
    arun = r.customer_of_event("web-1")
    assert arun is not None and r.customer_of_event("wa-1") == arun and r.customer_of_event("wa-2") == arun
    assert r.customer_of_event("wa-3") not in (None, r.customer_of_event("web-2"))


def test_one_account_written_five_ways_is_one_touchpoint_record_and_a_group_stays_as_written() -> None:
    # s38 audit A2: each spelling was a record of its own in source_ids, so the CRM held 5 for one chat.
    r = Resolver()
    spellings = [
        "919845071623",
        "+91 98450 71623",
        "whatsapp:+919845071623",
        "919845071623@c.us",
        "919845071623:3@s.whatsapp.net",
    ]
    for k, src in enumerate(spellings):
        r.apply(ev(f"wa-{k}", k, "WHATSAPP", src, name="Arun Prakash"))
    r.apply(ev("grp-1", 9, "WHATSAPP", "120363025246125486@g.us", name="Arun Prakash"))
    arun = r.customer_of_event("wa-0")
    assert arun is not None and all(r.customer_of_event(f"wa-{k}") == arun for k in range(5))
    profile = r.profile(arun)
    assert profile is not None and profile.source_ids == (("WHATSAPP", "919845071623"),)
    assert profile.event_count == 5
    group = r.customer_of_event("grp-1")
    assert group is not None and group != arun
    held = r.profile(group)
    assert held is not None and held.source_ids == (("WHATSAPP", "120363025246125486@g.us"),)
    # The record an interaction is published under is the one its customer lists.
    assert {r.source_of("WHATSAPP", s) for s in spellings} == {"919845071623"}
    assert r.source_of("WEB", " u-arun ") == "u-arun"
