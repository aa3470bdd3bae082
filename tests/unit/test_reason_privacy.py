"""A reason (rejects file, dead letter, log) never carries a raw phone, email or name from the input.

An audit found ``touchpoint: unknown symbol '+91 98450 55555 SECRET.PERSON@GMAIL.COM`` in a
replay rejects file: the touchpoint's value was quoted. Every path that builds a reason from an
input line is driven here with a phone or an email planted in a field, next to whatever makes the
event invalid, and the reason is searched for it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from resolver.config import ResolverConfig
from resolver.identifiers import IdentifierParser
from resolver.interaction import Interaction, InvalidInteraction, Limits, from_json, validate
from resolver.replay import parse
from streams.commands.produce import parse_line
from streams.deadletter import dead_letter

NOW = 1_714_557_600_000
BASE: dict[str, Any] = {
    "event_id": "ev-1", "touchpoint": "WEB", "occurred_at": NOW, "source_id": "cookie-1",
    "interaction": "page_view",
}  # fmt: skip
FIELDS = ("event_id", "touchpoint", "occurred_at", "source_id", "interaction", "phone", "email", "name", "attribute")

_mobiles = st.from_regex(r"[6-9][0-9]{9}", fullmatch=True)
_phones = st.one_of(
    _mobiles.map(lambda d: f"+91 {d[:5]} {d[5:]}"),
    _mobiles,
    _mobiles.map(lambda d: f"0{d[:5]}-{d[5:]}"),
)
#: "zq" first: a local part that is a word of a reason ("than", "longer") would read as a leak
_locals = st.from_regex(r"zq[a-z0-9]{1,7}(\.[a-z]{2,8})?", fullmatch=True)
_emails = st.builds(lambda a, b: f"{a}@{b}.com", _locals, st.sampled_from(["gmail", "yahoo", "rediffmail", "x-y"]))
_pii = st.one_of(_phones, _emails, _emails.map(str.upper))
#: What makes a field invalid around the planted value (or nothing: another field's fault).
_spoilers = st.sampled_from(["", "\x07", "\u202e", "\x00", "x" * 5000, " SECRET PERSON", "\ud800"])


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _leaks(reason: str, pii: str) -> bool:
    folded = reason.casefold()
    if "@" in pii:
        local = pii.partition("@")[0].casefold()
        return pii.casefold() in folded or (len(local) >= 3 and local in folded)
    national = _digits(pii)[-10:]
    return any(national in _digits(token) for token in reason.split())


def _event(field: str, value: str, spoiler: str, other: str) -> dict[str, Any]:
    obj: dict[str, Any] = dict(BASE)
    planted = value + spoiler
    if field == "attribute":
        obj["attributes"] = {"note": planted}
    else:
        obj[field] = planted
    if other != field and other != "attribute":
        obj[other] = obj.get(other, "x") if other != "occurred_at" else "yesterday"  # another field's fault
    return obj


@given(
    field=st.sampled_from(FIELDS),
    pii=_pii,
    spoiler=_spoilers,
    other=st.sampled_from(FIELDS),
)
def test_no_reason_carries_a_planted_phone_or_email(field: str, pii: str, spoiler: str, other: str) -> None:
    obj = _event(field, pii, spoiler, other)
    reasons: list[str] = []
    try:
        from_json(obj, Limits(now_ms=NOW))
    except InvalidInteraction as exc:
        reasons.append(exc.reason)
    line = json.dumps(obj, ensure_ascii=False)
    for item in parse([("f.jsonl", 1, line)], IdentifierParser(ResolverConfig()), limits=Limits(now_ms=NOW)):
        if len(item) == 3:
            reasons.append(item[2])
    try:
        parse_line(line.encode("utf-8", "surrogatepass"), Limits(now_ms=NOW))
    except InvalidInteraction as exc:
        reasons.append(exc.reason)
    for reason in reasons:
        assert not _leaks(reason, pii), reason


_SHOWN = ("event_id", "source_id", "phone", "email", "name", "touchpoint")


@given(field=st.sampled_from(_SHOWN), pii=_pii, spoiler=_spoilers)
def test_validation_and_the_dead_letter_never_carry_a_planted_value(field: str, pii: str, spoiler: str) -> None:
    event = Interaction("ev-1", "WEB", NOW, "cookie-1", "page_view", attributes={})
    values = {f: getattr(event, f) for f in ("event_id", "touchpoint", "source_id", "phone", "email", "name")}
    values[field] = pii + spoiler
    bad = Interaction(values["event_id"], values["touchpoint"], NOW, values["source_id"], "page_view",
                      values["phone"], values["email"], values["name"])  # fmt: skip
    reason = "; ".join(validate(bad, Limits(now_ms=NOW)))
    assert not _leaks(reason, pii), reason
    letter = dead_letter("t", 0, 1, None, b"", None, "validate", f"invalid: {reason}", NOW, encode=lambda r: b"")
    assert not _leaks(letter.record["error"], pii)


def test_the_audit_line_names_the_problem_not_the_value() -> None:
    obj = {**BASE, "touchpoint": "+91 98450 55555 secret.person@gmail.com"}
    try:
        from_json(obj)
    except InvalidInteraction as exc:
        assert exc.reason == "touchpoint: unknown symbol (not shown: 39 characters, not a symbol's letters)"
    else:
        raise AssertionError("accepted")


def test_a_symbol_shaped_touchpoint_is_still_quoted() -> None:
    """What a producer means as a touchpoint (``sms``) is worth showing, and cannot be a phone or email."""
    try:
        from_json({**BASE, "touchpoint": "sms"})
    except InvalidInteraction as exc:
        assert exc.reason == "touchpoint: unknown symbol 'SMS'"
    else:
        raise AssertionError("accepted")
