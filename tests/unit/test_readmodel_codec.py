"""The read model's compact profile form: decoding gives back the dict that was written, always."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from resolver.profile import profile_of
from streams.readmodel import _decode_profile, _encode_profile, _field, _ops, _stored

TOUCHPOINT = st.sampled_from(["WEB", "WHATSAPP", "KIOSK"]) | st.text(max_size=8)
SOURCES = st.lists(st.fixed_dictionaries({"touchpoint": TOUCHPOINT, "source_id": st.text(max_size=20)}), max_size=4)
MILLIS = st.none() | st.integers(min_value=0, max_value=2**45) | st.floats(allow_nan=False)


@st.composite
def profiles(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    cid = draw(st.sampled_from(["c_000cc9770233146ac897", "c_x"]))
    sources = draw(SOURCES)
    derived = sorted({s["touchpoint"] for s in sources})
    profile = {
        "customer_id": draw(st.sampled_from([cid, cid, "c_other"])),
        "phones": draw(st.lists(st.text(max_size=14), max_size=3)),
        "emails": draw(st.lists(st.text(max_size=30), max_size=3)),
        "source_ids": sources,
        "name": draw(st.none() | st.text(max_size=20)),
        "first_seen": draw(MILLIS),
        "last_seen": draw(MILLIS),
        "event_count": draw(st.integers(min_value=0, max_value=10**6)),
        "touchpoints": draw(st.sampled_from([derived, derived, ["KIOSK"], []])),
        "confidence": draw(st.floats(min_value=0, max_value=1)),
        "confidence_reasons": draw(st.lists(st.text(max_size=40), max_size=3)),
    }
    if draw(st.booleans()) and draw(st.booleans()):
        profile["survivor_id"] = None  # a dict of another shape is stored as it is
    return cid, profile


@given(profiles())
def test_decoding_gives_back_what_was_encoded(case: tuple[str, dict[str, Any]]) -> None:
    cid, profile = case
    assert _decode_profile(cid, _encode_profile(cid, profile).encode()) == profile


def test_a_resolver_profile_is_stored_without_what_can_be_derived() -> None:
    profile: dict[str, Any] = {
        "customer_id": "c_000cc9770233146ac897",
        "phones": ["+918757981918"],
        "emails": ["sanjayiyer3242@gmail.com"],
        "source_ids": [
            {"touchpoint": "WEB", "source_id": "ck-12311-723196230"},
            {"touchpoint": "WHATSAPP", "source_id": "918757981918"},
        ],
        "name": "Sanjay Iyer",
        "first_seen": 1700370044719,
        "last_seen": 1700919294201,
        "event_count": 3,
        "touchpoints": ["WEB", "WHATSAPP"],
        "confidence": 0.7,
        "confidence_reasons": ["+0.10 verified WhatsApp number"],
    }
    stored = _encode_profile(profile["customer_id"], profile)
    assert json.loads(stored) == [
        ["+918757981918"],
        ["sanjayiyer3242@gmail.com"],
        ["WEB:ck-12311-723196230", "WHATSAPP:918757981918"],
        "Sanjay Iyer",
        1700370044719,
        549249482,
        3,
        0.7,
        ["+0.10 verified WhatsApp number"],
    ]
    assert len(stored) < len(json.dumps(profile, separators=(",", ":"))) / 2


def test_long_identifiers_become_digests_that_fit_a_listpack() -> None:
    short = "email:" + "a" * 40 + "@x.org"
    long = "email:" + "a" * 80 + "@x.org"
    assert _field(short) == short
    assert _field(long).startswith("#") and len(_field(long)) <= 64 and _field(long) == _field(long)


@given(profiles(), st.booleans())
def test_a_profile_written_as_it_is_is_stored_as_its_record(case: tuple[str, dict[str, Any]], own: bool) -> None:
    """The per-customer stage writes its `Profile`s without building their records (`_stored`): the same strings."""
    cid, rec = case
    first, last = rec["first_seen"], rec["last_seen"]
    # A profile's times are whole milliseconds: an infinite float (another shape's dict) has none.
    assume(all(not isinstance(t, float) or math.isfinite(t) for t in (first, last)))
    profile = profile_of(
        rec["customer_id"],
        tuple(rec["phones"]),
        tuple(rec["emails"]),
        tuple((s["touchpoint"], s["source_id"]) for s in rec["source_ids"]),
        rec["name"],
        first if isinstance(first, int) or first is None else int(first),
        last if isinstance(last, int) or last is None else int(last),
        rec["event_count"],
        tuple(rec["touchpoints"]),
        rec["confidence"],
        tuple(rec["confidence_reasons"]),
    )
    key = profile.customer_id if own else cid
    assert _ops({key: profile}, {}, ()) == _ops({key: profile.to_record()}, {}, ())
    if ":" not in "".join(tp for tp, _src in profile.source_ids):
        assert _stored(profile) == _encode_profile(profile.customer_id, profile.to_record())


class _Millis(int):
    """An int of another type: written by json as an int, read by `_stored` through json (its unusual path)."""


@given(
    st.sampled_from([None, 5, True, 2.5, _Millis(7)]),
    st.sampled_from([None, 9, 3.0, _Millis(11)]),
    st.sampled_from([0, 3, True]),
    st.sampled_from([0.25, 1.0, math.inf, -0.0, 1e-7]),
    st.none() | st.text(max_size=6),
)
def test_unusual_values_are_stored_as_json_writes_them(
    first: Any, last: Any, count: Any, confidence: float, name: str | None
) -> None:
    """`_stored` writes its row by hand for the usual types; anything else the same as json does."""
    sources = (("WEB", 'a"b'),)
    try:
        profile = profile_of("c_x", ("+1\u2028",), (), sources, name, first, last, count, ("WEB",), confidence, ())
    except TypeError:
        # the compiled core (mypyc) checks each field's own type when a Profile is made (no float
        # first/last seen there); the pure one makes it, and `_stored` must write it as json does
        import resolver

        assert resolver.CORE_COMPILED and (isinstance(first, float) or isinstance(last, float))
        return
    assert _stored(profile) == _encode_profile("c_x", profile.to_record())
