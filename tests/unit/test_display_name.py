"""The name a customer is shown by (`resolver.display_name`): clean, stable, one per person.

Real touchpoints write one person's name as ``Mr. Rohit Sharma`` at the counter, ``SHARMA,
ROHIT`` in a CRM export, ``rohit sharma`` on the web and ``~Rohit 😎`` on WhatsApp; the
CRM record should say Rohit Sharma whichever came last.
"""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.display_name import TITLES, display_name, preferred_name, typed_name
from resolver.interaction import Interaction
from resolver.resolver import Resolver

T0 = 1_733_000_000_000


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("Mr. Rohit Sharma", "Rohit Sharma"),
        ("SHARMA, ROHIT", "Rohit Sharma"),
        ("rohit sharma", "Rohit Sharma"),
        ("Rohit 😎", "Rohit"),
        ("~Rohit", "Rohit"),
        ("Sharma ji", "Sharma"),
        ("Priya Madam", "Priya"),
        ("Rao, Asha K.", "Asha K. Rao"),
        ("Rohit Sharma, Jr.", "Rohit Sharma Jr."),
        ("d'souza, anil", "Anil D'Souza"),
        ("JEAN-LUC PICARD", "Jean-Luc Picard"),
        ("JOÃO DA SILVA", "João da Silva"),
        ("Asha Rao (Mrs)", "Asha Rao"),
        ("Dr. PRIYA NAIR", "Priya Nair"),
        ("RK Sharma", "RK Sharma"),  # mixed case is kept as typed
        ("McDonald, Ronald", "Ronald McDonald"),
        ("Rohit  K.  Sharma.", "Rohit K. Sharma"),
        ("Rohit Sharma 9845071623", "Rohit Sharma"),
        ("🙏🏻 Jai Mata Di 🙏🏻", "Jai Mata Di"),
        ("रोहन वर्मा", "रोहन वर्मा"),  # another script keeps its script and its marks
        ("Anil\u200d", "Anil"),
        ("(Mrs)", None),
        ("😎", None),
        # The audit's names, and their neighbours.
        ("M/s Sharma Traders", "Sharma Traders"),
        ("M/S. SHARMA TRADERS", "Sharma Traders"),
        ("m/s sharma traders", "Sharma Traders"),
        ("Messrs Sharma & Sons", "Sharma Sons"),
        ("priya.sharma@gmail.com", None),
        ("Priya Sharma <priya.sharma@gmail.com>", "Priya Sharma"),
        ("PRIYA SHARMA priya.sharma@gmail.com", "Priya Sharma"),
        ("Dr. A.P.J. Abdul Kalam", "A.P.J. Abdul Kalam"),
        ("A.P.J Abdul Kalam", "A.P.J Abdul Kalam"),  # no dot typed, none added
        ("k.s. ramesh", "K.S. Ramesh"),
        ("M.S. Dhoni", "M.S. Dhoni"),  # initials, not Ms
        ("MS Dhoni", "MS Dhoni"),
        ("Ms Priya Nair", "Priya Nair"),
        ("DR PRIYA NAIR", "Priya Nair"),  # a title shouted with the name
        ("KM SHARMA", "KM Sharma"),  # K. M., or Kumari: kept
        ("SR RAO", "SR Rao"),
        ("Sr. Mary Joseph", "Mary Joseph"),  # Sister
        ("Rohit Sharma Sr.", "Rohit Sharma Sr."),  # Senior
        ("Capt Vikram Batra", "Vikram Batra"),
        ("Col. Sophia Qureshi", "Sophia Qureshi"),
        ("Er. Rohit Jain", "Rohit Jain"),
        ("Adv. Meena Rao", "Meena Rao"),
        ("Kum Asha Rao", "Asha Rao"),
        ("Mx Sam Rao", "Sam Rao"),
        ("Rev. Thomas Kurian", "Thomas Kurian"),
        ("Fr Joseph Mathew", "Joseph Mathew"),
        ("Smt. Sushma Swaraj", "Sushma Swaraj"),
        ("Shri Ram Nath", "Ram Nath"),
        ("Capt", "Capt"),  # a title alone is what was typed
    ],
)
def test_display_forms(typed: str, shown: str | None) -> None:
    assert display_name(typed) == shown


@settings(max_examples=1000)
@given(
    st.text(max_size=40)
    | st.text(alphabet="aAßİ\u0131ǅ ,.'-()~😎\u200d\u0301\u093fरोहनMrjiSHARMA", max_size=30)
    | st.text(alphabet="SrKmMs/@.x ,ColEAPJ", max_size=30)
)
def test_display_name_is_clean_and_idempotent(typed: str) -> None:
    shown = display_name(typed)
    if shown is None:
        return
    assert any(ch.isalpha() for ch in shown)
    assert shown == shown.strip() and "  " not in shown
    assert display_name(shown) == shown


def test_one_person_is_shown_by_the_form_written_most() -> None:
    names = {"Mr. Rohit Sharma": (1, 5), "SHARMA, ROHIT": (1, 6), "Rohit 😎": (1, 7), "rohit sharma": (1, 4)}
    assert preferred_name(names) == "Rohit Sharma"


def test_a_first_name_counts_for_the_one_full_name_it_starts() -> None:
    assert preferred_name({"Rohit": (5, 9), "Rohit Sharma": (1, 5)}) == "Rohit Sharma"
    # Two full names it could be: the first name stands alone (it was written most).
    assert preferred_name({"Rohit": (5, 9), "Rohit Sharma": (1, 5), "Rohit Verma": (1, 6)}) == "Rohit"


def test_among_forms_written_as_often_the_written_out_one_shows() -> None:
    """A later ``R. Verma`` does not replace ``Rahul Verma`` (found by audit s30)."""
    assert preferred_name({"Rahul Verma": (1, 5), "R. Verma": (1, 9)}) == "Rahul Verma"
    assert preferred_name({"Rahul Verma": (1, 5), "R. Verma": (2, 9)}) == "R. Verma"  # written more


def test_a_register_surname_in_capitals_is_cased() -> None:
    assert display_name("RAO, Asha K.") == "Asha K. Rao"
    assert display_name("RAO, ASHA") == "Asha Rao"
    assert display_name("Rao, Asha") == "Asha Rao"


def test_forms_equal_but_for_case_are_one() -> None:
    assert preferred_name({"Rohit sharma": (2, 9), "Rohit Sharma": (1, 5), "Anil Rao": (2, 9)}) == "Rohit sharma"


@given(
    st.dictionaries(
        st.sampled_from(["Rohit", "Rohit Sharma", "ROHIT SHARMA", "Mr. Rohit Sharma", "Rohit Verma", "Asha", "(x)"]),
        st.tuples(st.integers(1, 5), st.integers(0, 9)),
        min_size=1,
    ),
    st.randoms(use_true_random=False),
)
def test_preferred_name_ignores_order(names: dict[str, tuple[int, int]], rnd: random.Random) -> None:
    items = list(names.items())
    rnd.shuffle(items)
    assert preferred_name(dict(items)) == preferred_name(names)


def test_the_profile_shows_one_clean_name_in_every_arrival_order() -> None:
    typed = ["Mr. Rohit Sharma", "SHARMA, ROHIT", "Rohit 😎", "rohit sharma"]
    for order in itertools.permutations(range(4)):
        resolver = Resolver()
        for i in order:
            outcome = resolver.apply(
                Interaction(
                    event_id=f"e{i}", touchpoint="KIOSK", occurred_at=T0 + i * 1000, source_id=f"k{i}",
                    interaction="visit", phone="+91 98450 71623", name=typed[i],
                )
            )  # fmt: skip
        assert outcome.customer_id is not None
        profile = resolver.profile(outcome.customer_id)
        assert profile is not None and profile.name == "Rohit Sharma"


@pytest.mark.parametrize("title", sorted(TITLES))
def test_every_title_goes_only_before_more_of_the_name(title: str) -> None:
    written = title.capitalize()
    assert display_name(f"{written} Asha Rao") == "Asha Rao"
    assert display_name(f"{written}. Asha Rao") == "Asha Rao"
    assert display_name(written) is not None  # nothing follows: it stays


@given(st.sampled_from(sorted(TITLES)), st.sampled_from(["Asha Rao", "A.P.J. Abdul Kalam", "Rohit Sharma Sr."]))
def test_a_title_before_a_name_changes_nothing_else(title: str, name: str) -> None:
    assert display_name(f"{title.capitalize()} {name}") == display_name(name)


def test_an_email_is_no_name_in_a_profile() -> None:
    assert typed_name("priya.sharma@gmail.com") is None and typed_name("(Mrs)") == "(Mrs)"
    assert preferred_name({"priya.sharma@gmail.com": (3, 9), "PRIYA@GMAIL.COM": (1, 2)}) is None
    assert preferred_name({"priya.sharma@gmail.com": (3, 9), "Priya Sharma": (1, 2)}) == "Priya Sharma"
    for names in (["priya.sharma@gmail.com"], ["priya.sharma@gmail.com", "Priya Sharma"]):
        resolver = Resolver()
        for i, name in enumerate(names):
            outcome = resolver.apply(
                Interaction(f"e{i}", "WEB", T0 + i, f"ck{i}", "signup", email="priya.sharma@gmail.com", name=name)
            )
        assert outcome.customer_id is not None
        profile = resolver.profile(outcome.customer_id)
        assert profile is not None and profile.name == (None if len(names) == 1 else "Priya Sharma")


def test_forms_written_as_often_go_to_the_script_most_names_are_in() -> None:
    latin = {"Rohan Verma": (1, 1), "Rohan Varma": (1, 2), "Rohun Verma": (1, 3)}
    assert preferred_name({**latin, "रोहन वर्मा": (1, 4)}) == "Rohun Verma"  # the latest Latin spelling
    assert preferred_name({**latin, "रोहन वर्मा": (2, 0)}) == "रोहन वर्मा"  # written most
    tamil = {"ரோஹன் வர்மா": (1, 5), "ரோகன் வர்மா": (1, 6)}
    assert preferred_name({"Rohan Verma": (1, 9), **tamil}) == "ரோகன் வர்மா"  # two of three names are Tamil


@given(
    st.dictionaries(
        st.sampled_from(["Rohan Verma", "ROHAN VARMA", "Rohun Verma", "रोहन वर्मा", "रोहन", "ரோஹன் வர்மா", "Rohan",
                         "priya@x.in", "M/s Verma Traders", "(x)"]),
        st.tuples(st.integers(1, 3), st.integers(0, 3)),
        min_size=1,
    ),
    st.randoms(use_true_random=False),
)  # fmt: skip
def test_the_script_rule_ignores_order(names: dict[str, tuple[int, int]], rnd: random.Random) -> None:
    items = list(names.items())
    rnd.shuffle(items)
    assert preferred_name(dict(items)) == preferred_name(names)
    assert preferred_name(names) != "priya@x.in"


def test_a_pet_name_written_most_does_not_hide_a_full_name() -> None:
    # Audit 4: ``Guddu`` shown for Sunil Bansal (his WhatsApp chat is most of his interactions).
    assert preferred_name({"Guddu": (40, 9), "Sunil Bansal": (3, 5)}) == "Sunil Bansal"
    assert preferred_name({"Guddu": (40, 9), "S. Bansal": (3, 5)}) == "Guddu"  # no full name to show


def test_ties_prefer_the_apostrophe_and_latin_script() -> None:
    assert preferred_name({"Sean OBrien": (1, 9), "Sean O'Brien": (1, 5)}) == "Sean O'Brien"
    assert preferred_name({"राहुल शर्मा": (1, 9), "Rahul Sharma": (1, 5)}) == "Rahul Sharma"
    assert preferred_name({"राहुल शर्मा": (2, 9), "Rahul Sharma": (1, 5)}) == "राहुल शर्मा"  # written more
