"""The replay fast paths give exactly what the general paths give.

`plain_fields` (one pass over the JSON dict) against `from_json`; `Resolver.ingest` against
`Resolver.apply`; replay in two stages (`parse`, `ingest_parsed`) against `replay`; the fast
`Outcome` against the dataclass one; the phone key typed with the country code but no ``+``
against the library; ISO times in milliseconds without a division.
"""

from __future__ import annotations

import json
import marshal
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from resolver.engine import Outcome, Resolver
from resolver.identifiers import IdentifierParser
from resolver.interaction import InvalidInteraction, Limits, fields_of, from_json, parse_time, plain_fields
from resolver.outcome import touched_one as _touched_one
from resolver.phones import PhoneNormaliser
from resolver.replay import IdWatch, Reject, ingest_parsed, parse, replay
from streams.eventjson import read_fields

from .test_resolver_properties import events

# Per field: values from_json accepts (some need folding), and every kind of wrong one.
_ODD = st.none() | st.integers() | st.booleans() | st.floats(allow_nan=False) | st.lists(st.integers(), max_size=2)
_BAD_TEXT = st.sampled_from(["", " ", "a\x00b", "\ud800", "x" * 5000])
_TEXT = st.text(min_size=1, max_size=8).filter(str.strip) | st.sampled_from([" a ", "é", "Zoë"])
_FIELDS: dict[str, tuple[Any, Any]] = {
    "event_id": (st.sampled_from(["ev-1", " ev-2 "]) | _TEXT, _BAD_TEXT | _ODD | st.just("e" * 200)),
    "touchpoint": (
        st.sampled_from(["WEB", "web", " Kiosk ", "WHATSAPP", "UNKNOWN", "k\u0131osk"]),
        st.sampled_from(["EMAIL", ""]) | _ODD,
    ),
    "occurred_at": (
        st.integers(946_684_800_000, 1_900_000_000_000)
        | st.sampled_from(["2024-01-01T05:30:09.506+05:30", "2024-01-01T00:00:00Z", " 1704067244500 "]),
        st.integers(-5, 946_684_799_999)
        | st.sampled_from(["2024-01-01T00:00:00", "١٧٠٤٠٦٧٢٤٤٥٠٠", "yesterday", "1999-12-31T23:59:59Z"])
        | st.integers(1_900_000_000_001, 3_000_000_000_000)
        | _ODD,
    ),
    "source_id": (st.sampled_from(["u1", "919845071623", " s ", "null"]) | _TEXT, _BAD_TEXT | _ODD),
    "interaction": (st.sampled_from(["visit", "order"]) | _TEXT, _BAD_TEXT | _ODD),
    "phone": (st.none() | st.sampled_from(["98450 71623", "+91-98450-71623", ""]) | _TEXT, _BAD_TEXT | _ODD),
    "email": (st.none() | st.sampled_from(["a@b.in", " A.B@Gmail.com "]) | _TEXT, _BAD_TEXT | _ODD),
    "name": (st.none() | st.sampled_from(["Ravi Kumar", "  Priya ", ""]) | _TEXT, _BAD_TEXT | _ODD),
    "attributes": (
        st.none() | st.dictionaries(_TEXT, _TEXT, max_size=3),
        st.dictionaries(_TEXT | _BAD_TEXT, _BAD_TEXT | _ODD, min_size=1, max_size=2) | _ODD,
    ),
}


@st.composite
def json_events(draw: st.DrawFn) -> object:
    """A JSON event with, now and then, a field missing or wrong (or not an object at all)."""
    obj: dict[str, Any] = {}
    for name, (good, bad) in _FIELDS.items():
        roll = draw(st.integers(0, 24))
        if roll > 1:
            obj[name] = draw(good)
        elif roll == 1:
            obj[name] = draw(bad)
    if draw(st.booleans()):
        obj["extra"] = draw(_TEXT)
    return obj if draw(st.integers(0, 40)) > 0 else draw(_ODD)


_GOOD = {
    "event_id": "ev-1",
    "touchpoint": "whatsapp",
    "occurred_at": "2024-01-01T05:30:09.506+05:30",
    "source_id": "919845071623",
    "interaction": "message_in",
    "phone": None,
    "email": None,
    "name": "Anil",
    "attributes": {"wa_profile": "personal"},
}


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_events(), st.sampled_from([Limits(), Limits(max_event_id=3, max_attributes=1, now_ms=1_704_067_200_000)]))
@example(_GOOD, Limits())
def test_plain_fields_agree_with_from_json(obj: object, limits: Limits) -> None:
    fields = plain_fields(obj, limits)
    try:
        event = from_json(obj, limits)
    except (InvalidInteraction, ValueError, TypeError, KeyError):
        assert fields is None
        return
    if fields is not None:
        assert fields == fields_of(event)


#: JSON texts a compiled reader might read otherwise than `json.loads`: repeated keys, escaped
#: keys and values, lone surrogates, whitespace around, trailing data, numbers of every shape.
_ODD_TEXTS = st.sampled_from(
    [
        '{"event_id":"a","event_id":"b",%s}',
        '{"event\\u005fid":"a",%s}',
        '{"event_id":"\\ud800",%s}',
        '{"event_id":"\\u00e9\\u200e",%s}',
        ' {"event_id":"a",%s} \n',
        '{"event_id":"a",%s}x',
        '{"event_id":"a",%s,"occurred_at":1704067209506.0}',
        '{"event_id":"a",%s,"occurred_at":1.704067209506e12}',
        '{"event_id":"a",%s,"occurred_at":170406720950600000000000000}',
        '{"event_id":"a",%s,"phone":9845071623}',
        '{"event_id":"a",%s,"attributes":{"k":"1","k":2}}',
        '{"event_id":"a",%s,"attributes":{"k":[1,{"x":null}]}}',
        '{"event_id":"a",%s,"name":"Ravi\\u0000"}',
        '{"event_id":"a",%s,"extra":[[[[[[[[[[[[]]]]]]]]]]]]}',
        '[{"event_id":"a",%s}]',
    ]
)
_REST = '"touchpoint":"web","occurred_at":1704067209506,"source_id":"s","interaction":"visit"'


def _core_fields(text: str, limits: Limits) -> object:
    """What the core's own path reads of a line: fields, None (look closer) or the exception's type."""
    try:
        return plain_fields(json.loads(text), limits)
    except ValueError as exc:
        return type(exc)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    json_events() | _ODD_TEXTS.map(lambda t: t % _REST),
    st.sampled_from([Limits(), Limits(max_event_id=3, max_attributes=1, now_ms=1_704_067_200_000)]),
)
@example(_GOOD, Limits())
def test_the_compiled_reader_answers_only_what_the_core_reads(obj: object, limits: Limits) -> None:
    """`streams.eventjson.read_fields` gives fields only where `plain_fields` of `json.loads` gives the same."""
    text = obj if isinstance(obj, str) else json.dumps(obj)
    fields = read_fields(text, limits)
    if fields is not None:
        assert _core_fields(text, limits) == fields
    if obj is _GOOD:
        assert fields is not None


def test_plain_fields_take_the_usual_event() -> None:
    assert plain_fields(_GOOD) == ("ev-1", "WHATSAPP", 1_704_067_209_506, "919845071623", None, None, "Anil")
    assert plain_fields({**_GOOD, "attributes": None, "occurred_at": 1_704_067_209_506}) is not None


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events(max_size=40))
def test_ingest_changes_the_state_exactly_as_apply(evs: list[Any]) -> None:
    by_apply, by_ingest = Resolver(), Resolver()
    for ev in [*evs, *evs[:3]]:  # the repeats are duplicates
        outcome = by_apply.apply(ev)
        done = by_ingest.ingest(ev.event_id, ev.touchpoint, ev.occurred_at, ev.source_id, ev.phone, ev.email, ev.name)
        assert done == ("duplicate" if outcome.duplicate else "suppressed" if outcome.suppressed else "applied")
        assert by_ingest.drain_changes() == by_apply.drain_changes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events(max_size=30))
def test_replay_equals_applying_each_parsed_event(evs: list[Any]) -> None:
    lines = [json.dumps(ev.to_record()) for ev in evs] + ["", "{", json.dumps({**_GOOD, "touchpoint": "EMAIL"})]
    by_replay, by_apply = Resolver(), Resolver()
    counts = replay([("f", n, text + "\n") for n, text in enumerate(lines, 1)], by_replay)
    for text in lines:
        try:
            by_apply.apply(from_json(json.loads(text)))
        except (InvalidInteraction, ValueError):
            pass
    assert counts.rejects == 2
    assert by_replay.drain_changes() == by_apply.drain_changes()


def test_the_fast_created_outcome_equals_the_dataclass_one() -> None:
    fast = _touched_one("e1", "c_1", ("c_1",))
    slow = Outcome("e1", customer_id="c_1", touched=("c_1",), created=("c_1",))
    assert fast == slow
    assert repr(fast) == repr(slow)
    assert hash(fast) == hash(slow)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789", min_size=6, max_size=13), st.sampled_from(["", "6", "7", "8", "9", "0", "1"]))
def test_a_country_code_without_plus_is_stripped_as_the_library_does(digits: str, lead: str) -> None:
    key = "91" + lead + digits
    assert PhoneNormaliser("IN").normalise(key) == PhoneNormaliser("IN")._slow(key)


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    st.integers(-23 * 60, 23 * 60),
)
def test_iso_times_are_floored_to_milliseconds_exactly(moment: datetime, offset_minutes: int) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    expected = (aware - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert parse_time(aware.isoformat()) == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events(max_size=30), st.lists(json_events(), max_size=6))
def test_the_two_stages_equal_replay(evs: list[Any], odd: list[object]) -> None:
    """`parse` then `ingest_parsed`, through marshal as between the processes, is `replay`."""
    lines = [json.dumps(ev.to_record()) for ev in evs] + [json.dumps(x) for x in odd] + ["", "{", "[]"]
    numbered = [("f", n, text + "\n") for n, text in enumerate([*lines, *lines[:3]], 1)]
    by_replay, by_stages = Resolver(), Resolver()
    seen: dict[str, list[Reject]] = {"replay": [], "stages": []}
    counts = replay(numbered, by_replay, on_reject=seen["replay"].append)
    watch = IdWatch(by_stages.config.duplicate_horizon_ms)  # as the shell's child: ids reused with other content
    parsed = marshal.loads(marshal.dumps(list(parse(numbered, IdentifierParser(by_stages.config), watch=watch))))
    staged = ingest_parsed(parsed, by_stages, on_reject=seen["stages"].append)
    staged.blank = len(numbered) - staged.lines  # `parse` drops blank lines: the shell counts them so
    assert staged == counts
    assert seen["stages"] == seen["replay"]
    assert by_stages.drain_changes() == by_replay.drain_changes()
