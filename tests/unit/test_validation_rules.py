"""Issue 17 (low): control and bidi formatting characters in ids and names are refused, with a reason.

U+202E (right-to-left override) turned "evil" into "live" on the explain page; a C0 control
in a source id can rewrite a terminal line. One table (`resolver.interaction.RULES`) says
which characters each field may hold; the consumer dead-letters what breaks it.
"""

from __future__ import annotations

import dataclasses
import zoneinfo

import pytest

from resolver.interaction import Interaction, InvalidInteraction, Limits, from_json, plain_fields, validate
from streams.codec import encode_interaction
from streams.deadletter import DeadLetterReason, classify

NOW = 1_714_557_600_000
GOOD = Interaction("ev-1", "WEB", NOW, "cookie-1", "page_view", phone="+91 98450 71623", email="asha@x.in", name="Asha")
SPOOFS = ["\u202e", "\u202d", "\u2066", "\u2069", "\u200f", "\u061c", "\x1b", "\x07", "\r", "\n", "\t", "\x7f", "\x85"]
SHOWN = ("event_id", "source_id", "phone", "email", "name")
#: What a phone or email may hold since the s35 audit (C1): the invisible characters forms and
#: exports carry, which the normalisers read away (`tests/unit/test_typed_text.py`).
READ_AWAY = {"\u2066", "\u2069", "\u200f", "\u061c", "\r", "\n", "\t"}
#: ... and the direction marks a name may hold (C1b): right-to-left names are written with them.
NAME_MARKS = {"\u200f", "\u061c"}
REFUSED = [
    (field, char)
    for field in SHOWN
    for char in SPOOFS
    if not (field in ("phone", "email") and char in READ_AWAY) and not (field == "name" and char in NAME_MARKS)
]


@pytest.mark.parametrize(("field", "char"), REFUSED)
def test_ids_and_names_refuse_control_and_bidi_characters(field: str, char: str) -> None:
    value = "ev" + char + "il" if field != "email" else "ev" + char + "il@x.in"
    event = dataclasses.replace(GOOD, **{field: value})  # type: ignore[arg-type]
    problems = validate(event)
    assert problems == [f"{field}: contains a control or bidirectional formatting character (U+{ord(char):04X})"]
    obj = {**event.to_record(), "occurred_at": NOW}
    assert plain_fields(obj) is None  # the replay fast path agrees
    with pytest.raises(InvalidInteraction, match=f"U\\+{ord(char):04X}") as raised:
        from_json(obj)
    assert value not in str(raised.value)


def test_the_table_covers_every_string_field_shown_to_a_person() -> None:
    from resolver.interaction import RULES

    assert set(SHOWN) <= set(RULES)
    assert all(RULES[f].forbidden.search("\u202e") for f in SHOWN)


def test_what_real_names_and_free_text_need_is_still_accepted() -> None:
    devanagari = "\u0915\u094d\u200d\u0937\u093e"  # a conjunct written with ZWJ
    ok = dataclasses.replace(GOOD, name=devanagari, interaction="note\twith\nlines", attributes={"msg": "a\tb\nc"})
    assert validate(ok) == []
    assert (
        dataclasses.replace(GOOD, name="Zoë Ångström-Nair").name
        and validate(dataclasses.replace(GOOD, name="Zoë")) == []
    )
    assert validate(dataclasses.replace(GOOD, interaction="a\x00b")) == [
        "interaction: contains a NUL character (U+0000)"
    ]


def test_the_consumer_dead_letters_a_spoofed_name_with_a_clear_reason() -> None:
    spoofed = dataclasses.replace(GOOD, name="Asha \u202elive")
    reason = classify(encode_interaction(spoofed, "irl.touchpoint.web"), Limits(now_ms=NOW))
    assert isinstance(reason, DeadLetterReason)
    assert (reason.stage, reason.code) == ("validate", "invalid")
    assert reason.detail == "name: contains a control or bidirectional formatting character (U+202E)"


@pytest.mark.parametrize("value", [NOW // 1000, 946_684_800, "1714557600"])
def test_epoch_seconds_are_refused_with_a_reason_that_says_so(value: int | str) -> None:
    obj = {**GOOD.to_record(), "occurred_at": value}
    with pytest.raises(InvalidInteraction, match="looks like epoch seconds; epoch milliseconds expected"):
        from_json(obj)
    assert plain_fields(obj) is None  # the replay fast path agrees


def test_times_before_2000_in_milliseconds_keep_their_reason() -> None:
    event = dataclasses.replace(GOOD, occurred_at=946_684_799_999)
    assert validate(event) == ["occurred_at: before 2000-01-01"]


BASE = {"event_id": "e1", "touchpoint": "WEB", "occurred_at": 1_733_000_000_000, "source_id": "u1", "interaction": "x"}


def test_json_numbers_for_ids_and_phones_are_their_digits() -> None:
    event = from_json({**BASE, "event_id": 8, "source_id": 919845071623, "phone": 9845071623})
    assert (event.event_id, event.source_id, event.phone) == ("8", "919845071623", "9845071623")
    assert from_json({**BASE, "phone": 9845071623.0}).phone == "9845071623"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"event_id": 8.5}, "event_id: must be a string, got float"),
        ({"source_id": True}, "source_id: must be a string, got bool"),
        ({"phone": 98765.5}, "phone: must be a string, got float"),
        ({"email": 12345}, "email: must be a string, got int"),
        ({"name": 7}, "name: must be a string, got int"),
    ],
)
def test_other_json_values_for_identity_fields_keep_their_reason(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidInteraction, match=reason):
        from_json({**BASE, **changes})


def test_json_attribute_values_are_kept_as_text() -> None:
    attributes = {"store": 12, "amount": 1299.5, "member": True, "items": ["a", "é"], "cart": {"n": 1}, "coupon": None}
    event = from_json({**BASE, "attributes": attributes})
    assert dict(event.attributes) == {
        "store": "12", "amount": "1299.5", "member": "true", "items": '["a","é"]', "cart": '{"n":1}',
    }  # fmt: skip
    assert plain_fields({**BASE, "attributes": attributes}) is None  # the fast path leaves them to from_json
    assert from_json({**BASE, "attributes": {"page": "/cart"}}).attributes == {"page": "/cart"}


def test_a_time_without_a_zone_is_read_in_the_zone_given() -> None:
    kolkata = zoneinfo.ZoneInfo("Asia/Kolkata")
    obj = {**BASE, "occurred_at": "2024-12-01T10:00:00"}
    with pytest.raises(InvalidInteraction, match="without a zone"):
        from_json(obj)
    assert plain_fields(obj) is None
    expected = 1_733_027_400_000  # 2024-12-01T04:30:00Z
    assert from_json(obj, Limits(zone=kolkata)).occurred_at == expected
    fields = plain_fields(obj, Limits(zone=kolkata))
    assert fields is not None and fields[2] == expected
    assert from_json({**BASE, "occurred_at": "2024-12-01T10:00:00Z"}, Limits(zone=kolkata)).occurred_at == (
        expected + 19_800_000
    )  # a time with its zone keeps it


def test_an_unknown_touchpoint_is_refused_with_a_reason_everywhere() -> None:
    """UNKNOWN is what a reader sees for a touchpoint newer than its contract (a future `SMS`, an
    `APP`): their source ids share no namespace this reader can tell apart, so resolving them
    would link two touchpoints' equal ids. The worker dead-letters such an event (kept, with its
    reason), replay rejects it, as `irl produce` refuses it (s33 audit A5: it was resolved)."""
    event = dataclasses.replace(GOOD, touchpoint="UNKNOWN")
    (problem,) = validate(event)
    assert problem.startswith("touchpoint: UNKNOWN names no touchpoint") and "upgrade" in problem
    obj = {**event.to_record(), "occurred_at": NOW}
    assert plain_fields(obj) is None
    with pytest.raises(InvalidInteraction, match="touchpoint: UNKNOWN"):
        from_json(obj)
    with pytest.raises(InvalidInteraction, match="touchpoint: UNKNOWN"):
        from_json({**obj, "touchpoint": " unknown "})
    verdict = classify(encode_interaction(event, "irl.touchpoint.web"), Limits(now_ms=NOW))
    assert isinstance(verdict, DeadLetterReason) and "touchpoint: UNKNOWN" in verdict.detail
    assert not validate(GOOD) and plain_fields({**GOOD.to_record(), "occurred_at": NOW}) is not None
