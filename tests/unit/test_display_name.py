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

from resolver.display_name import display_name, preferred_name
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
    ],
)
def test_display_forms(typed: str, shown: str | None) -> None:
    assert display_name(typed) == shown


@settings(max_examples=1000)
@given(st.text(max_size=40) | st.text(alphabet="aAßİ\u0131ǅ ,.'-()~😎\u200d\u0301\u093fरोहनMrjiSHARMA", max_size=30))
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
