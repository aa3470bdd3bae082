"""The change id's text written directly is json's text, character for character, for any values."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from resolver.changelog import _HASHED, canonical_text, change_id

#: What `change_id` hashed before the direct writer: json's canonical text of every field but change_id.
_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode

TEXT = st.text(max_size=12) | st.sampled_from(['"', "\\", "\n", "\x00", "\u2028", "é", "🙂", "\ud800", "a/b"])
INT = st.integers(min_value=-(2**70), max_value=2**70)
#: values of the usual types, and now and then one that is not (the json encoder's to write)
ODD = st.booleans() | st.floats() | st.none() | INT | TEXT | st.lists(INT, max_size=2)
STRS = st.lists(TEXT, max_size=3) | st.lists(TEXT, max_size=3).map(tuple) | st.lists(ODD, max_size=2)
SOURCE = st.fixed_dictionaries({"touchpoint": TEXT, "source_id": TEXT}) | st.dictionaries(TEXT, TEXT, max_size=3)

record = st.fixed_dictionaries(
    {
        "customer_id": TEXT | ODD,
        "change": st.sampled_from(["CREATED", "UPDATED", "ERASED"]) | ODD,
        "survivor_id": st.none() | TEXT | ODD,
        "merged_from": STRS,
        "phones": STRS,
        "emails": STRS,
        "source_ids": st.lists(SOURCE, max_size=3) | ODD,
        "name": st.none() | TEXT | ODD,
        "first_seen": st.none() | INT | ODD,
        "last_seen": st.none() | INT | ODD,
        "event_count": INT | ODD,
        "touchpoints": STRS,
        "confidence": st.floats() | ODD,
        "confidence_reasons": STRS,
        "version": INT | ODD,
        "change_id": TEXT,
        "window_start": INT | ODD,
        "window_end": INT | ODD,
    }
)


@settings(max_examples=1500)
@given(record)
@example({**{k: [] for k in _HASHED}, "confidence": math.inf, "change_id": ""})
@example({**{k: None for k in _HASHED}, "confidence": -0.0, "event_count": True, "change_id": ""})
def test_direct_text_is_jsons(rec: dict[str, Any]) -> None:
    try:
        expected = _JSON({k: rec[k] for k in _HASHED})
    except (TypeError, ValueError) as exc:  # not JSON at all: the same error as before
        try:
            canonical_text(rec)
        except type(exc):
            return
        raise AssertionError("json refused this record, the direct text did not") from exc
    assert canonical_text(rec) == expected


def test_change_id_is_the_hash_of_jsons_text() -> None:
    import hashlib

    rec: dict[str, Any] = {
        "customer_id": "c_1", "change": "UPDATED", "survivor_id": None, "merged_from": ["c_0"], "phones": ["+91 98"],
        "emails": ["a@b.in"], "source_ids": [{"touchpoint": "WEB", "source_id": "w\"1"}], "name": "Ásha \"R\"",
        "first_seen": 1, "last_seen": 2, "event_count": 3, "touchpoints": ["WEB"], "confidence": 0.7,
        "confidence_reasons": ["+0.10 verified WhatsApp number"], "version": 4, "change_id": "", "window_start": 0,
        "window_end": 900_000,
    }  # fmt: skip
    text = _JSON({k: rec[k] for k in _HASHED})
    assert change_id(rec) == hashlib.sha256(text.encode()).hexdigest()[:32]


PROFILE = st.builds(
    lambda *a: a,
    TEXT,
    st.lists(TEXT, max_size=3).map(tuple) | st.lists(ODD, max_size=2).map(tuple),
    st.lists(TEXT, max_size=3).map(tuple),
    st.lists(st.tuples(TEXT, TEXT | st.none()), max_size=3).map(tuple) | st.lists(ODD, max_size=2).map(tuple),
    st.none() | TEXT | ODD,
    st.none() | INT | ODD,
    st.none() | INT,
    INT | ODD,
    st.lists(TEXT, max_size=3).map(tuple),
    st.floats() | ODD,
    st.lists(TEXT, max_size=3).map(tuple) | st.lists(ODD, max_size=2).map(tuple),
)


@settings(max_examples=800)
@given(PROFILE, st.lists(TEXT, max_size=2), st.sampled_from(["CREATED", "UPDATED"]), INT)
def test_a_live_records_id_is_the_hash_of_its_canonical_text(
    fields: tuple[Any, ...], merged_from: list[str], change: str, start: int
) -> None:
    """`record_of` writes a Profile's text from the profile (memoised parts): the record's text all the same."""
    from resolver.changelog import Planned, record_of
    from resolver.profile import Profile
    from resolver.window import Window

    try:
        profile = Profile(*fields)
    except TypeError:
        # the compiled core (mypyc) checks each field's own type when a Profile is made (no profile
        # of a float name there); the pure one makes it, and the records must agree on it
        import resolver

        assert resolver.CORE_COMPILED
        return

    class _Plain:  # the same profile through to_record(): the generic path, hashing the record's text
        def to_record(self) -> dict[str, Any]:
            return profile.to_record()

    def live(p: Any) -> dict[str, Any] | type[Exception]:
        try:
            return record_of(Planned("c_1", change, 1, Window(start, start + 5), None, tuple(merged_from)), p)
        except (TypeError, ValueError) as exc:
            return type(exc)

    expected = live(_Plain())
    assert live(profile) == expected
    assert live(profile) == expected  # the second time from the memo
