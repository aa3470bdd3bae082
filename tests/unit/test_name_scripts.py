"""Names written in other scripts than Latin are names (the s30 audit's families).

Names used to be folded to ASCII, so a name in Devanagari, Tamil or Han letters was no name
at all: 李颖 and 王芳 on one email were one customer, where Li Ying and Wang Fang are two.
Now a name of any script is a name, two names of one script are compared as Latin ones are,
and a name in one script beside a name in another cannot be compared (no transliteration):
it is no evidence of a second person, so it splits nothing, and the customer's confidence
says that a name was not compared.
"""

from __future__ import annotations

from resolver.interaction import Interaction
from resolver.names import full_name, name_groups, name_key, same_person, script_of, unread, weak_key
from resolver.resolver import Resolver

from .test_households import every_order, partition

T0 = 1_733_000_000_000


def ev(
    eid: str, t: int, tp: str, src: str, *, phone: str | None = None, email: str | None = None, name: str | None = None
) -> Interaction:
    return Interaction(eid, tp, T0 + t * 60_000, src, "visit", phone=phone, email=email, name=name)


def key(name: str) -> str:
    found = name_key(name)
    assert found is not None, name
    return found


def test_names_of_every_script_have_keys_and_latin_keys_do_not_change() -> None:
    assert key("सुनीता वर्मा") == "सुनीता_वर्मा"  # vowel signs kept: सुनीता is not सनत
    assert key("श्रीमती सुनीता वर्मा").endswith("वर्मा")
    assert script_of(key("கார்த்திக் சுப்பிரமணியன்")) == "TAMIL"
    assert script_of(key("李颖")) == script_of(key("ジョン・スミス")) == "CJK"
    assert key("ジョン・スミス") == "ジョン_スミス"  # a middle dot separates names
    assert key("\uff21\uff33\uff28\uff21\u3000\uff32\uff21\uff2f") == "asha_rao"  # full-width forms (NFKC)
    assert key("José Núñez") == "jose_nunez" and key("D\u2019Souza") == "dsouza" and key("Zoë O'Brien") == "zoe_obrien"
    assert script_of("asha_rao") == ""
    # Han (and Hangul) names are written without a space: surname and given name in one token.
    assert full_name(key("李颖")) and not weak_key(key("李颖")) and full_name(key("김민준"))
    assert not full_name(key("Asha")) and weak_key(key("Asha"))


def test_names_of_one_script_are_compared_as_latin_ones_are() -> None:
    assert not same_person(key("李颖"), key("王芳"))
    assert same_person(key("李颖"), key("李颖"))
    assert not same_person(key("सुनीता वर्मा"), key("राहुल वर्मा"))
    assert same_person(key("वर्मा सुनीता"), key("सुनीता वर्मा"))  # swapped order
    assert same_person(key("सुनीता"), key("सुनीता वर्मा"))  # surname left off
    groups = name_groups({key("李颖"): 1, key("王芳"): 1})
    assert len(set(groups.values())) == 2


def test_a_name_in_another_script_joins_the_heaviest_group_and_bridges_nothing() -> None:
    latin = {"rahul_verma": 2, "sunita_verma": 1}
    deva = {key("सुनीता वर्मा"): 3}
    groups = name_groups(latin | deva)
    assert groups["rahul_verma"] != groups["sunita_verma"]  # the Latin names still tell two people apart
    assert groups[key("सुनीता वर्मा")] == groups["rahul_verma"]
    assert unread(latin | deva) == 3 and unread(latin) == 0
    # The script whose names make more people is the one read: two Han names, one Latin.
    groups = name_groups({key("李颖"): 1, key("王芳"): 1, "wang_fang": 1})
    assert groups[key("李颖")] != groups[key("王芳")]


def test_two_people_with_han_names_on_one_email_are_two_customers() -> None:
    """The audit's case: 李颖 and 王芳 on one email were one customer, shown as 王芳."""
    events = [
        ev("ly", 0, "WEB", "cookie-ly", email="li.ying@163.com", name="李颖"),
        ev("wf", 1, "WEB", "cookie-wf", email="li.ying@163.com", name="王芳"),
    ]
    assert every_order(events) == {frozenset({"ly"}), frozenset({"wf"})}
    latin = [
        ev("ly", 0, "WEB", "cookie-ly", email="li.ying@163.com", name="Li Ying"),
        ev("wf", 1, "WEB", "cookie-wf", email="li.ying@163.com", name="Wang Fang"),
    ]
    assert partition(latin) == partition(events)


def test_a_family_in_devanagari_on_one_phone_is_split_as_the_same_family_in_latin() -> None:
    def family(rahul: str, sunita: str) -> list[Interaction]:
        return [
            ev("r1", 0, "WEB", "cookie-rv", phone="9004127365", email="rahul.v@gmail.com", name=rahul),
            ev("r2", 1, "KIOSK", "KC-1", phone="9004127365", name=rahul),
            ev("s1", 2, "WHATSAPP", "919004127365", name=sunita),
            ev("s2", 3, "KIOSK", "KC-2", phone="9004127365", email="sunita.v@gmail.com", name=sunita),
        ]

    devanagari = every_order(family("राहुल वर्मा", "सुनीता वर्मा"))
    assert devanagari == partition(family("Rahul Verma", "Sunita Verma"))
    assert len(devanagari) == 2


def test_a_persons_whatsapp_name_in_devanagari_stays_with_her_latin_records_and_says_so() -> None:
    """Very common in India: the chat's name in Devanagari, the web and kiosk forms in Latin.

    The two cannot be compared, so nothing is split (a split would make two customers of one
    person); the customer's confidence says a name was not compared, and an email made of the
    Latin name is not "an email that matches none of the names".
    """
    events = [
        ev("wa", 0, "WHATSAPP", "919810012345", name="सुनीता वर्मा"),
        ev("web", 1, "WEB", "cookie-sv", phone="98100 12345", email="sunita.verma@gmail.com", name="Sunita Verma"),
        ev("k1", 2, "KIOSK", "KC-7", phone="9810012345", name="Sunita Verma"),
    ]
    assert every_order(events) == {frozenset({"wa", "web", "k1"})}
    r = Resolver()
    for e in events:
        r.apply(e)
    profile = r.profile(r.customer_of_event("wa") or "")
    assert profile is not None
    assert "-0.10 a name in another script, not compared" in profile.confidence_reasons
    reasons = profile.confidence_reasons
    assert not any("cannot be one person" in reason or "email that matches" in reason for reason in reasons)


def test_a_name_in_another_script_does_not_change_how_a_latin_household_is_split() -> None:
    latin = [
        ev("r1", 0, "WEB", "cookie-rv", phone="9004127365", email="rahul.v@gmail.com", name="Rahul Verma"),
        ev("s1", 1, "KIOSK", "KC-2", phone="9004127365", email="sunita.v@gmail.com", name="Sunita Verma"),
    ]
    chat = ev("wa", 2, "WHATSAPP", "919004127365", name="सुनीता वर्मा")
    before = partition(latin)
    after = every_order([*latin, chat])
    assert {g - {"wa"} for g in after} - {frozenset()} == before


def test_only_a_name_in_devanagari_with_a_latin_email_is_not_an_unmatched_email() -> None:
    r = Resolver()
    r.apply(ev("a", 0, "WEB", "cookie-a", email="anil.yadav@gmail.com", name="अनिल यादव"))
    profile = r.profile(r.customer_of_event("a") or "")
    assert profile is not None and profile.name == "अनिल यादव"
    assert not any("email that matches" in reason for reason in profile.confidence_reasons)


def test_a_name_in_another_script_does_not_stop_the_near_phone_rule() -> None:
    """Found on a copy of the realistic data with 30% of WhatsApp names in Devanagari letters:
    the chat's name was in the phone's main name group, and compared with the typo phone's."""
    events = [
        ev("web", 0, "WEB", "cookie-sv", phone="9810012345", email="sunita.verma@gmail.com", name="Sunita Verma"),
        ev("k1", 1, "KIOSK", "KC-1", phone="9810012345", name="Sunita Verma"),
        ev("wa", 2, "WHATSAPP", "919810012345", name="सुनीता वर्मा"),
        ev("k2", 3, "KIOSK", "KC-2", phone="9810012354", name="Sunita Verma"),
    ]
    latin = [*events[:2], ev("wa", 2, "WHATSAPP", "919810012345", name="Sunita Verma"), events[3]]
    assert partition(latin) == {frozenset({"web", "k1", "wa", "k2"})}
    assert every_order(events) == partition(latin)
