"""`input_profile` (the per-customer stage's one-pass profile) against `profile_from_input`, its definition.

input ──profile_from_input──▶ profile      (the definition, equal to `Resolver.profile`)
      └─input_profile───────▶ profile      assert equal, field by field, for every input
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.config import ResolverConfig
from resolver.effects import CustomerInput, Facts, profile_from_input
from resolver.interaction import UNKNOWN_TIME_MS, from_json
from resolver.resolver import Resolver
from resolver.stage_profile import input_profile
from streams.synthetic import generate

_KEYS = ("p:+919800000001", "p:+919800000002", "e:asha.rao@x.in", "e:zz9@x.in", "t:WEB:u1", "t:WEB#asha:u1",
         "t:CRM:c7", "x:k1")  # fmt: skip
_NAMES = (None, "", "Asha Rao", "asha rao", "Asha", "R. Verma", "Rahul Verma", "Guddu", "राहुल शर्मा", "a@b.in", "42")
_CLASSES = (None, "asha|rao", "rahul|verma", "asha", "r|verma", "राहुल|शर्मा")
_TPS = ("WEB", "WHATSAPP", "KIOSK", "CRM", "POS")


@st.composite
def _facts(draw: st.DrawFn, vid: str) -> Facts:
    eff = tuple(draw(st.lists(st.sampled_from(_KEYS), min_size=1, max_size=4, unique=True)))
    # negative too: a name's latest time starts at 0 (`Tally`); and a time nobody knows (`UNKNOWN_TIME_MS`)
    at = draw(st.integers(-(10**6), 10**6) | st.just(UNKNOWN_TIME_MS))
    return Facts(
        vid,
        draw(st.sampled_from(_TPS)),
        draw(st.sampled_from(("s1", "s2", "s3"))),
        draw(st.sampled_from(_NAMES)),
        draw(st.sampled_from(_CLASSES)),
        at,
        at + draw(st.integers(0, 10**6)),
        draw(st.integers(1, 5)),
        eff,
        tuple(k for k in eff if k[0] == "t"),
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.booleans()),
    )


@st.composite
def _inputs(draw: st.DrawFn) -> CustomerInput:
    n = draw(st.integers(0, 6))
    evidence = tuple(sorted((draw(_facts(f"v{i}")) for i in range(n)), key=lambda f: (f.at, f.vid)))
    keys = draw(st.none() | st.lists(st.sampled_from(_KEYS), min_size=2, unique=True).map(lambda k: tuple(sorted(k))))
    emails = tuple(sorted(draw(st.sets(st.sampled_from(("asha.rao@x.in", "zz9@x.in", "rahulv@y.in"))))))
    return CustomerInput(
        "c1",
        tuple(sorted(draw(st.sets(st.sampled_from(("+919800000001", "+919800000002")))))),
        emails,
        draw(st.integers(0, 4)),
        draw(st.booleans()),
        draw(st.integers(0, 3)),
        keys,
        draw(st.integers(0, 3)),
        draw(st.integers(0, 3)),
        evidence,
    )


@settings(max_examples=400, deadline=None)
@given(_inputs())
def test_any_input_gives_the_profile_of_its_definition(inp: CustomerInput) -> None:
    assert input_profile(inp) == profile_from_input(inp)


def test_every_customer_of_generated_data_as_it_grows() -> None:
    """Every live customer's input after each chunk of events: the resolver's profile, both ways."""
    r = Resolver(ResolverConfig())
    events = [from_json(obj) for obj in generate(customers=300, seed=7)[0]]
    checked = 0
    for i in range(0, len(events), 300):
        for e in events[i : i + 300]:
            r.apply(e)
        for cid in r.customer_ids():
            inp = r.profile_input(cid)
            assert inp is not None
            profile = input_profile(inp)
            assert profile == profile_from_input(inp) == r.profile(cid), cid
            checked += 1
    assert checked > 1_000
