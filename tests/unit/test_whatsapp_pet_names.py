"""A pet name on a WhatsApp profile (``Guddu``, ``Bunty 😊``) names no one in particular (session 40).

The profile of a phone's own WhatsApp account is a name its owner chose. The phone's own chat
counts twice for its name on the phone (`resolver.households.name_support_of`), so one chat under
``Guddu`` on the number a CRM knows as ``Srinivas Krishnan`` made a second person and split the
phone: the audit of session 39 (`bench.audit`, seed 39) lost 5 people so (Guddu, Chintu, Bunty,
Sweety, Rocky beside the owner's full name). Such a chat now carries no name, as a template
without one does; typed anywhere else a pet name stays a name, and a given name on a profile
(``Reena``, ``Dev``) still tells a new owner of a reassigned number apart.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from resolver.interaction import Interaction
from resolver.junk import JunkRules
from resolver.resolver import Resolver

from .test_households import every_order

T0 = 1_733_000_000_000


def ev(
    eid: str, t: int, tp: str, src: str, *, phone: str | None = None, email: str | None = None, name: str | None = None
) -> Interaction:
    return Interaction(eid, tp, T0 + t * 60_000, src, "message", phone=phone, email=email, name=name)


def test_a_pet_name_on_a_profile_is_no_name_and_other_names_are_kept() -> None:
    junk = JunkRules()
    for text in ["Guddu", "BUNTY", "Chintu 😊", "Sweety ji", "Rocky bhai", "~ Pinky ~", "Jaanu ❤️"]:
        assert junk.profile_name_of(text) is None, text
        assert junk.name_of(text) is not None, text  # typed on an order or at a kiosk: a name
    for text in ["Srinivas Krishnan", "Reena", "Dev 🙏", "Pinky Sharma", "Sonu", "Guddu Sharma", "Asha ji"]:
        assert junk.profile_name_of(text) == junk.name_of(text) == text.strip(), text
    assert junk.profile_name_of("Guest") is None  # still a placeholder


@given(st.text(alphabet="abcdgnuyBGSx 😊-~.", max_size=16))
def test_a_profile_name_is_the_typed_name_or_none(text: str) -> None:
    junk = JunkRules()
    found = junk.profile_name_of(text)
    assert found is None or found == junk.name_of(text)
    if junk.name_of(text) is None:
        assert found is None


def test_the_owners_chat_under_a_pet_name_joins_the_owner_in_every_order() -> None:
    events = [
        ev("c1", 0, "CRM", "hs-1", phone="+91 70835 27257", email="srinivas.k@gmail.com", name="Srinivas Krishnan"),
        ev("w1", 1, "WHATSAPP", "917083527257", name="Guddu"),
        ev("w2", 2, "WHATSAPP", "whatsapp:+917083527257", name="Guddu"),
        ev("w3", 3, "WHATSAPP", "917083527257@c.us", name="Srinivas Krishnan (BLR)"),
    ]
    assert every_order(events) == {frozenset({"c1", "w1", "w2", "w3"})}
    r = Resolver()
    for e in events:
        r.apply(e)
    cid = r.customer_of_event("c1")
    assert cid is not None
    profile = r.profile(cid)
    assert profile is not None and profile.name == "Srinivas Krishnan"
    assert not any("cannot be one person" in reason for reason in profile.confidence_reasons)


def test_a_given_name_on_the_profile_of_a_reassigned_number_stays_apart() -> None:
    # The new owner of a number the CRM knows as Sneha Yadav's: a given name is a person's name.
    events = [
        ev("c1", 0, "CRM", "hs-2", phone="6199377650", email="sneha.yadav@gmail.com", name="Sneha Yadav"),
        ev("w1", 1, "WHATSAPP", "916199377650", name="Sneha Yadav"),
        ev("w2", 50, "WHATSAPP", "916199377650", name="Reena"),
    ]
    assert every_order(events) == {frozenset({"c1", "w1"}), frozenset({"w2"})}


def test_a_pet_name_typed_on_an_order_still_tells_a_person_apart() -> None:
    # An order for Bunty on Rajesh's phone, with Bunty's own email: the phone splits by names.
    events = [
        ev("o1", 0, "WEB", "u-1", phone="98112 00007", email="rajesh.gupta@gmail.com", name="Rajesh Gupta"),
        ev("o2", 1, "WEB", "u-2", phone="98112 00007", email="bunty.g@gmail.com", name="Bunty"),
        ev("o3", 2, "WEB", "u-2", email="bunty.g@gmail.com", name="Bunty"),
    ]
    assert every_order(events) == {frozenset({"o1"}), frozenset({"o2", "o3"})}
