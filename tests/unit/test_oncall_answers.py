"""On-call answers agree with what was published (the s30 audit's two findings).

* A WhatsApp identity is its phone, but a phone split between people by names is held by
  several customers: the WhatsApp account's own messages name its owner, and `lookup`,
  `why` and `why_not` answer with that customer; a phone held by several says so (``split``)
  rather than answering with one of them.
* `why_not` always gives a reason when two customers are apart: at the least that they share
  no identifier, with the closest phones and emails that differ (masked) and how.
"""

from __future__ import annotations

import itertools
import json

from resolver.interaction import Interaction
from resolver.resolver import Resolver

T0 = 1_763_000_000_000


def ev(
    eid: str, t: int, tp: str, src: str, *, phone: str | None = None, email: str | None = None, name: str | None = None
) -> Interaction:
    return Interaction(eid, tp, T0 + t * 60_000, src, "visit", phone=phone, email=email, name=name)


#: Oliver's web signup and kiosk visit give his UK mobile; the phone's own WhatsApp chat
#: comes as "Olly", a name of another group: the phone is split per person, and the chat
#: is the "olly" part's, a customer of its own.
UK = [
    ev("web-1501", 0, "WEB", "cookie-uk42", phone="+44 (0)7911 123456", email="oliver.b@bt.example",
       name="Mr Oliver Brown"),
    ev("kiosk-3501", 1, "KIOSK", "KC-301000", phone="07911 123456", name="Oliver Brown"),
    ev("wa-2501", 2, "WHATSAPP", "447911123456", name="Olly"),
]  # fmt: skip


def resolved(events: list[Interaction]) -> Resolver:
    r = Resolver()
    for e in events:
        r.apply(e)
    return r


def test_whatsapp_lookup_answers_with_the_chats_customer_in_every_order() -> None:
    for order in itertools.permutations(UK):
        r = resolved(list(order))
        chat, web = r.customer_of_event("wa-2501"), r.customer_of_event("web-1501")
        assert chat is not None and web is not None and chat != web  # as published
        found = r.lookup("WHATSAPP:447911123456", "touchpoint")
        assert (found.status, found.customer_id) == ("linked", chat)
        assert found.customers == ()


def test_a_phone_split_between_people_is_held_by_several_customers() -> None:
    r = resolved(UK)
    chat, web = r.customer_of_event("wa-2501"), r.customer_of_event("web-1501")
    assert chat is not None and web is not None
    found = r.lookup("+447911123456", "phone")
    assert found.status == "split" and found.customer_id is None
    assert set(found.customers) == {chat, web}
    assert found.to_dict()["customers"] == sorted({chat, web})


def test_why_and_why_not_take_the_whatsapp_account_as_its_own_evidence() -> None:
    r = resolved(UK)
    chat, web = r.customer_of_event("wa-2501"), r.customer_of_event("web-1501")
    assert chat is not None and web is not None
    joined = r.why("WEB:cookie-uk42", "WHATSAPP:447911123456")
    assert joined["joined"] is False and (joined["customer_a"], joined["customer_b"]) == (web, chat)
    apart = r.why_not("WEB:cookie-uk42", "WHATSAPP:447911123456")
    assert apart["apart"] is True and apart["reasons"]
    assert r.why("wa-2501", "WHATSAPP:447911123456")["joined"] is True
    assert r.why_not("wa-2501", "WHATSAPP:447911123456")["apart"] is False
    # The phone itself: held by both; it joins the web customer, and says it is held by two.
    by_phone = r.why("WEB:cookie-uk42", "+447911123456")
    assert by_phone["joined"] is True and by_phone["customers_b"] == sorted({chat, web})
    assert by_phone["path"] and by_phone["path"][-1]["to"] == "p:+447911123456"


def test_whatsapp_lookup_of_a_phone_not_split_is_the_phones_customer() -> None:
    r = resolved([UK[0], ev("wa-9", 3, "WHATSAPP", "447911123456", name="Oliver")])
    cid = r.customer_of_event("web-1501")
    assert r.customer_of_event("wa-9") == cid
    for raw, kind in (("WHATSAPP:447911123456", "touchpoint"), ("+447911123456", "phone")):
        found = r.lookup(raw, kind)
        assert (found.status, found.customer_id, found.customers) == ("linked", cid, ())


#: One person twice, apart: the kiosk typed the US number without its country code (read in
#: the default region, India) and the email without the +tag, which company.com keeps.
US = [
    ev("web-1401", 0, "WEB", "cookie-us77", phone="+1 (646) 829-3417", email="John.Smith+deals@company.com",
       name="John Smith"),
    ev("kiosk-3401", 1, "KIOSK", "KC-300901", phone="(646) 829-3417", email="john.smith@company.com",
       name="JOHN SMITH"),
]  # fmt: skip


def test_why_not_says_they_share_nothing_and_which_identifiers_come_closest() -> None:
    r = resolved(US)
    result = r.why_not("WEB:cookie-us77", "KIOSK:KC-300901")
    assert result["apart"] is True
    reasons = result["reasons"]
    assert reasons[0] == {"reason": "they share no identifier"}
    by_kind = {item.get("kind"): item for item in reasons[1:]}
    assert "country code" in by_kind["phone"]["reason"]
    assert "+tag" in by_kind["email"]["reason"]
    shown = json.dumps(reasons)
    for raw in ("646", "8293417", "john", "smith", "deals", "company"):
        assert raw not in shown.lower()  # masked


def test_why_not_always_gives_a_reason_for_customers_apart() -> None:
    r = resolved(UK + US + [ev("web-7", 5, "WEB", "cookie-7", email="asha@x.example", name="Asha Rao")])
    ids = r.customer_ids()
    assert len(ids) >= 4
    for a, b in itertools.permutations(ids, 2):
        result = r.why_not(a, b)
        assert result["apart"] is True and result["reasons"], (a, b)


def test_why_reads_a_whatsapp_jid_as_the_account_as_lookup_does() -> None:
    """s36 audit A3: integrations write a WhatsApp id as a jid (`<digits>@c.us`, `<digits>@s.whatsapp.net`);
    `lookup` of ``WHATSAPP:<jid>`` found the account, `why` read the ``@`` as an email's and found no one."""
    r = resolved([UK[0], ev("wa-9", 3, "WHATSAPP", "447911123456@c.us", name="Oliver")])
    cid = r.customer_of_event("web-1501")
    assert cid is not None and r.customer_of_event("wa-9") == cid
    for ref in ("WHATSAPP:447911123456@c.us", "whatsapp:447911123456@s.whatsapp.net", "WHATSAPP:447911123456"):
        assert (r.lookup(ref, "touchpoint").status, r.lookup(ref, "touchpoint").customer_id) == ("linked", cid)
        joined = r.why("WEB:cookie-uk42", ref)
        assert (joined["joined"], joined["customer_b"]) == (True, cid), ref
    assert r.why("WEB:cookie-uk42", "oliver.b@bt.example")["joined"] is True  # an email is still an email


def test_why_not_names_the_kind_of_identifier_a_household_splits() -> None:
    """s36 audit A4: a family mailbox split by names was explained as a "household phone"."""
    events = [
        ev("w-1", 0, "WEB", "u-1", phone="9845071623", email="family.rao@gmail.com", name="Asha Rao"),
        ev("w-2", 1, "WEB", "u-2", phone="9731862045", email="family.rao@gmail.com", name="Vikram Rao"),
    ]
    r = resolved(events)
    a, b = r.customer_of_event("w-1"), r.customer_of_event("w-2")
    assert a is not None and b is not None and a != b
    text = json.dumps(r.why_not(a, b))
    assert "household email used by people with different names" in text and "household phone" not in text
