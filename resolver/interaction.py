"""The canonical customer interaction event, and the rules that make one valid.

`Interaction` mirrors the newest `schemas/avro/customer_interaction/vN.avsc` field for field
(v2 added the touchpoint symbol CRM: contacts of an existing CRM brought in by `irl import`).
`validate` is the single set of rules used by the producers and again by the consumer;
`from_json` reads the contract's JSON form (JSON Lines input of `irl produce` / `irl replay`).

A phone or email that cannot be normalised is *not* invalid: it is data, judged later.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "RULES",
    "TOUCHPOINTS",
    "UNKNOWN_TIME_MS",
    "Fields",
    "Interaction",
    "InvalidInteraction",
    "Limits",
    "fields_of",
    "from_json",
    "parse_time",
    "plain_fields",
    "plain_values",
    "to_json",
    "validate",
]

#: Touchpoint symbols of the newest schema, in its order (a test holds them equal). UNKNOWN is the
#: enum's default: what a reader sees for a symbol newer than its schema; no topic carries it.
TOUCHPOINTS: tuple[str, ...] = ("UNKNOWN", "WEB", "WHATSAPP", "KIOSK", "CRM")

_MIN_TIME_MS = 946_684_800_000  # 2000-01-01T00:00:00Z

#: An `occurred_at` of exactly the contract's floor, 2000-01-01T00:00:00Z, says the producer does not
#: know when the event happened (`irl import` of a contact without a date): the event counts
#: (``event_count``, identity) but moves neither ``first_seen`` nor ``last_seen`` of its customer
#: (`resolver.profile.Tally`). A time the contract accepts, so every reader and every state format
#: carries it as it is.
UNKNOWN_TIME_MS = _MIN_TIME_MS
_DAY_MS = 86_400_000
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


@dataclass(frozen=True, slots=True)
class Interaction:
    """One interaction of a person with a touchpoint (schema CustomerInteraction, newest version)."""

    event_id: str
    touchpoint: str
    occurred_at: int
    source_id: str
    interaction: str
    phone: str | None = None
    email: str | None = None
    name: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """The Avro record form (a plain dict in schema field order)."""
        return {
            "event_id": self.event_id,
            "touchpoint": self.touchpoint,
            "occurred_at": self.occurred_at,
            "source_id": self.source_id,
            "interaction": self.interaction,
            "phone": self.phone,
            "email": self.email,
            "name": self.name,
            "attributes": dict(self.attributes),
        }


@dataclass(frozen=True, slots=True)
class Limits:
    """Validation limits. `now_ms` bounds `occurred_at` (at most a day ahead); None skips that check."""

    max_event_id: int = 128
    max_source_id: int = 256
    max_string: int = 4096
    max_attributes: int = 64
    now_ms: int | None = None
    #: the zone of an ISO-8601 time written without one (JSON input); None: such a time is invalid
    zone: _dt.tzinfo | None = None


class InvalidInteraction(ValueError):
    """The input is not a valid CustomerInteraction; `reason` says why (safe to log: no raw PII)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: The symbols an event may carry: UNKNOWN is what this reader sees for a touchpoint newer than
#: its contract, whose source ids it cannot tell apart from another newer touchpoint's; such an
#: event is invalid (dead-lettered with its reason, kept), never resolved into a shared namespace.
_TOUCHPOINT_SET = frozenset(tp for tp in TOUCHPOINTS if tp != "UNKNOWN")
_REQUIRED = ("event_id", "touchpoint", "occurred_at", "source_id", "interaction")
_REQUIRED_SET = frozenset(_REQUIRED)

#: Characters no identifier or name may hold: C0 controls and DEL, C1 controls, and the
#: Unicode bidirectional formatting characters (embeddings, overrides such as U+202E,
#: isolates, marks) and line/paragraph separators. They are invisible or reorder what is
#: shown: U+202E turned "evil" into "live" on the explain page. ZWJ and ZWNJ (U+200D,
#: U+200C) are allowed: Indic scripts write names with them.
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
#: What a phone or email may not hold: controls other than tab and line breaks, the overrides
#: that reorder what follows them (U+202D, U+202E) and line and paragraph separators. The
#: invisible characters real forms and exports carry there (iOS wraps a copied number in
#: U+202A ... U+202C; isolates, marks, a zero-width space, a BOM, a trailing tab) are allowed:
#: the normalisers read them away (`resolver.typed_text.shown`), and a phone or email is only
#: ever kept, shown or explained in its normalised form (s35 audit C1: such events were
#: dead-lettered whole).
_UNREADABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202d\u202e]")
#: What a name may not hold: `_UNSHOWABLE` but the direction marks (LRM U+200E, RLM U+200F, ALM
#: U+061C), which reorder no letters, are how right-to-left names are written beside others, and
#: which the display name drops (s35 audit C1b: such events were dead-lettered whole).
_UNSHOWABLE_IN_NAMES = re.compile("[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069]")
#: Free text may hold tabs and line breaks; never NUL (Kafka tools and C consumers stop at it).
_NUL = re.compile("\x00")


@dataclass(frozen=True, slots=True)
class _Rule:
    """How one string field is validated (see `RULES`)."""

    required: bool
    #: the `Limits` attribute holding its longest length
    limit: str
    #: characters it must not hold, and what to call them in a reason
    forbidden: re.Pattern[str]
    what: str


_IDENT = "a control or bidirectional formatting character"
#: The validation rules of every string field, in one table. A field breaking one makes the
#: event invalid (dead-lettered with the reason, which names the field and the code point,
#: never the value); nothing is stripped silently, so what is stored is what was sent.
RULES: dict[str, _Rule] = {
    "event_id": _Rule(True, "max_event_id", _UNSHOWABLE, _IDENT),
    "source_id": _Rule(True, "max_source_id", _UNSHOWABLE, _IDENT),
    "interaction": _Rule(True, "max_string", _NUL, "a NUL character"),
    "phone": _Rule(False, "max_string", _UNREADABLE, _IDENT),
    "email": _Rule(False, "max_string", _UNREADABLE, _IDENT),
    "name": _Rule(False, "max_string", _UNSHOWABLE_IN_NAMES, _IDENT),
}
#: Attribute keys and values are free text: the rule of ``interaction``.
_ATTRIBUTE_RULE = RULES["interaction"]


def _plainly_valid(event: Interaction, limits: Limits) -> bool:
    """True when `event` certainly passes every rule of `validate` (the common case, checked fast).

    False means "look closer", not "invalid": `validate` then runs every rule and says why.
    """
    eid, src, what = event.event_id, event.source_id, event.interaction
    if type(eid) is not str or type(src) is not str or type(what) is not str:
        return False
    if len(eid) > limits.max_event_id or len(src) > limits.max_source_id or len(what) > limits.max_string:
        return False
    if not eid.strip() or not src.strip() or not what.strip():
        return False
    texts = [eid, src, what]
    shown = [eid, src]
    for value in (event.phone, event.email, event.name):
        if value is not None:
            if type(value) is not str or len(value) > limits.max_string:
                return False
            texts.append(value)
            shown.append(value)
    if _UNSHOWABLE.search("".join(shown)):
        return False
    if type(event.touchpoint) is not str or event.touchpoint not in _TOUCHPOINT_SET:
        return False
    at = event.occurred_at
    if type(at) is not int or at < _MIN_TIME_MS or (limits.now_ms is not None and at > limits.now_ms + _DAY_MS):
        return False
    attributes = event.attributes
    if type(attributes) is not dict or len(attributes) > limits.max_attributes:
        return False
    for key, value in attributes.items():
        if type(key) is not str or type(value) is not str:
            return False
        if len(key) > limits.max_string or len(value) > limits.max_string:
            return False
        texts.append(key)
        texts.append(value)
    joined = "".join(texts)
    return "\x00" not in joined and (joined.isascii() or not _has_surrogate(joined))


def validate(event: Interaction, limits: Limits = Limits()) -> list[str]:
    """Return the problems with `event` (empty when valid). Never raises for bad data."""
    if _plainly_valid(event, limits):
        return []
    problems: list[str] = []

    def _string(name: str, value: object, rule: _Rule) -> None:
        max_len: int = getattr(limits, rule.limit)
        if value is None:
            if rule.required:
                problems.append(f"{name}: required")
            return
        if not isinstance(value, str):
            problems.append(f"{name}: must be a string, got {type(value).__name__}")
            return
        if rule.required and not value.strip():
            problems.append(f"{name}: must not be empty")
        if len(value) > max_len:
            problems.append(f"{name}: longer than {max_len} characters ({len(value)})")
        bad = rule.forbidden.search(value)
        if bad:
            what = "a NUL character" if bad.group() == "\x00" else rule.what
            problems.append(f"{name}: contains {what} (U+{ord(bad.group()):04X})")
        if _has_surrogate(value):
            problems.append(f"{name}: not valid Unicode (lone surrogate)")

    for name, rule in RULES.items():
        _string(name, getattr(event, name), rule)
    if event.touchpoint == "UNKNOWN":
        named = ", ".join(sorted(_TOUCHPOINT_SET, key=TOUCHPOINTS.index))
        problems.append(
            f"touchpoint: UNKNOWN names no touchpoint (what a reader reads for a symbol newer than "
            f"its contract); name one of {named}, and upgrade a reader that meets a newer one"
        )
    elif event.touchpoint not in TOUCHPOINTS:
        problems.append(f"touchpoint: unknown symbol {_shown_symbol(event.touchpoint)}")
    if isinstance(event.occurred_at, bool) or not isinstance(event.occurred_at, int):
        problems.append("occurred_at: must be an integer of epoch milliseconds")
    else:
        if _MIN_TIME_MS // 1000 <= event.occurred_at < _MIN_TIME_MS // 10:
            # 2000-01-01 onwards read as seconds: a producer writing seconds is common; say so.
            problems.append("occurred_at: looks like epoch seconds; epoch milliseconds expected")
        elif event.occurred_at < _MIN_TIME_MS:
            problems.append("occurred_at: before 2000-01-01")
        if limits.now_ms is not None and event.occurred_at > limits.now_ms + _DAY_MS:
            problems.append("occurred_at: more than a day in the future")
    if not isinstance(event.attributes, Mapping):
        problems.append("attributes: must be a map of strings")
    else:
        if len(event.attributes) > limits.max_attributes:
            problems.append(f"attributes: more than {limits.max_attributes} entries")
        for key, value in event.attributes.items():
            if not isinstance(key, str) or not isinstance(value, str):
                problems.append("attributes: keys and values must be strings")
                break
            if len(key) > limits.max_string or len(value) > limits.max_string:
                problems.append(f"attributes: an entry is longer than {limits.max_string} characters")
                break
            if _ATTRIBUTE_RULE.forbidden.search(key) or _ATTRIBUTE_RULE.forbidden.search(value):
                problems.append(f"attributes: contains {_ATTRIBUTE_RULE.what}")
                break
            if _has_surrogate(key) or _has_surrogate(value):
                problems.append("attributes: not valid Unicode (lone surrogate)")
                break
    return problems


#: What a touchpoint a reason may quote looks like: an enum symbol's letters and ``_``, short
#: (``SMS``, ``MOBILE_APP``). Anything else (digits, ``@``, spaces, a long text: a phone, an
#: email or a full name in the wrong column) is not quoted, only measured.
_SYMBOL_SHAPE = re.compile(r"[A-Z_]{1,16}")


def _shown_symbol(value: object) -> str:
    """An unknown touchpoint as a reason may show it: quoted when symbol-shaped, else only its length.

    A reason goes to rejects files, dead letters and logs, so it never carries a value that may be
    personal data. A one-word given name in the touchpoint field is symbol-shaped and is quoted:
    a lone given name identifies no one.
    """
    if not isinstance(value, str):
        return f"(a {type(value).__name__})"
    if _SYMBOL_SHAPE.fullmatch(value):
        return f"'{value}'"
    return f"(not shown: {len(value)} characters, not a symbol's letters)"


def _has_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_time(value: object, zone: _dt.tzinfo | None = None) -> int:
    """Epoch milliseconds from an int (ms) or an ISO-8601 string with a zone (or without one, read
    in `zone` when given). Raises InvalidInteraction."""
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise InvalidInteraction("occurred_at: must be ISO-8601 with a zone or epoch milliseconds")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        if "Z" in text or "z" in text:
            text = text.replace("Z", "+00:00").replace("z", "+00:00")
        try:
            parsed = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInteraction("occurred_at: not ISO-8601 nor epoch milliseconds") from None
        if parsed.tzinfo is None:
            if zone is None:
                raise InvalidInteraction("occurred_at: ISO-8601 time without a zone")
            parsed = parsed.replace(tzinfo=zone)
        # Equal to `(parsed - _EPOCH) // timedelta(milliseconds=1)` (floor, exact), without the
        # costly timedelta division: days and seconds are whole milliseconds.
        since = parsed - _EPOCH
        return since.days * _DAY_MS + since.seconds * 1000 + since.microseconds // 1000
    raise InvalidInteraction("occurred_at: must be ISO-8601 with a zone or epoch milliseconds")


def from_json(obj: object, limits: Limits = Limits()) -> Interaction:
    """Build and validate an Interaction from its JSON form. Raises InvalidInteraction with every problem."""
    if not isinstance(obj, dict):
        raise InvalidInteraction("event: must be a JSON object")
    if not obj.keys() >= _REQUIRED_SET:
        missing = [f for f in _REQUIRED if f not in obj]
        raise InvalidInteraction("; ".join(f"{f}: required" for f in missing))
    touchpoint = obj["touchpoint"]
    if not isinstance(touchpoint, str):
        raise InvalidInteraction("touchpoint: must be a string")
    attributes = obj.get("attributes")
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict):
        raise InvalidInteraction("attributes: must be a map of strings")
    event = Interaction(
        event_id=_digits_as_text(obj["event_id"]),
        touchpoint=touchpoint.strip().upper(),
        occurred_at=parse_time(obj["occurred_at"], limits.zone),
        source_id=_digits_as_text(obj["source_id"]),
        interaction=obj["interaction"],
        phone=_digits_as_text(obj.get("phone"), whole_floats=True),
        email=obj.get("email"),
        name=obj.get("name"),
        attributes=_attributes_as_text(attributes),
    )
    problems = validate(event, limits)
    if problems:
        raise InvalidInteraction("; ".join(problems))
    return event


def _digits_as_text(value: Any, *, whole_floats: bool = False) -> Any:
    """A JSON integer as its decimal text (``"source_id": 919876543210``, ``"phone": 9876543210``,
    as JSON exports write ids and numbers); with `whole_floats`, a whole float too (a
    spreadsheet's ``9876543210.0``). Anything else as it is, for `validate` to judge."""
    if type(value) is int:
        return str(value)
    if whole_floats and type(value) is float and value.is_integer():
        return str(int(value))
    return value


def _attributes_as_text(attributes: dict[Any, Any]) -> dict[Any, Any]:
    """Attributes with JSON values as text: numbers and booleans as JSON writes them
    (``1299.5``, ``true``), lists and objects as compact JSON; a null is no entry. The
    contract's map holds strings ("anything else, as strings"); an Avro producer cannot send
    other values, a JSON file can. Strings, and keys, are as they are."""
    if all(type(v) is str for v in attributes.values()):
        return attributes
    out: dict[Any, Any] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        if type(value) is str:
            out[key] = value
        elif type(value) is float and not math.isfinite(value):
            out[key] = value  # not JSON: `validate` says so
        else:
            out[key] = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return out


#: What the resolver reads of an event: (event_id, touchpoint, occurred_at, source_id, phone, email, name).
Fields = tuple[str, str, int, str, str | None, str | None, str | None]


def fields_of(event: Interaction) -> Fields:
    """The resolver's fields of a built event (what `plain_fields` reads without building it)."""
    return (event.event_id, event.touchpoint, event.occurred_at, event.source_id, event.phone, event.email, event.name)


def plain_fields(obj: object, limits: Limits = Limits()) -> Fields | None:
    """The resolver's fields of a JSON event that is certainly valid, read without building it.

    The fast path of `irl replay`: one pass over the dict instead of `from_json` (build, then
    `validate`). None means "look closer", not "invalid": call `from_json`, which then
    accepts or says why. Contract (property-tested): when this returns fields, `from_json(obj,
    limits)` returns an event with exactly these values; it never raises where `from_json`
    would not.
    """
    if type(obj) is not dict:
        return None
    get = obj.get
    return plain_values(
        get("event_id"),
        get("touchpoint"),
        get("occurred_at"),
        get("source_id"),
        get("interaction"),
        get("phone"),
        get("email"),
        get("name"),
        get("attributes"),
        limits,
    )


def plain_values(
    eid: object,
    tp: object,
    at: object,
    src: object,
    what: object,
    phone: object,
    email: object,
    name: object,
    attributes: object,
    limits: Limits,
) -> Fields | None:
    """`plain_fields` of a JSON event's values however they were read (a field absent is None).

    One set of rules for the dict `json.loads` gives and for the values a compiled decoder of
    the shell reads straight from the text (`streams.eventjson`): the same answer for the same
    values.
    """
    if type(eid) is not str or type(tp) is not str or type(src) is not str or type(what) is not str:
        return None
    longest = limits.max_string
    if len(eid) > limits.max_event_id or len(src) > limits.max_source_id or len(what) > longest:
        return None
    if not eid.strip() or not src.strip() or not what.strip():
        return None
    if tp not in _TOUCHPOINT_SET:
        tp = tp.strip().upper()
        if tp not in _TOUCHPOINT_SET:
            return None
    # Two strings, not lists joined: this runs once per event. `shown` is what a person reads
    # (no unshowable character, `_UNSHOWABLE`, which holds NUL), `free` the rest (no NUL).
    shown = eid + src
    free = what
    if phone is not None:
        if type(phone) is not str or len(phone) > longest:
            return None
        shown += phone
    if email is not None:
        if type(email) is not str or len(email) > longest:
            return None
        shown += email
    if name is not None:
        if type(name) is not str or len(name) > longest:
            return None
        shown += name
    if attributes is not None:
        if type(attributes) is not dict or len(attributes) > limits.max_attributes:
            return None
        for key, value in attributes.items():
            if type(key) is not str or type(value) is not str:
                return None
            if len(key) > longest or len(value) > longest:
                return None
            free += key + value
    if _UNSHOWABLE.search(shown) or "\x00" in free:
        return None
    if not (shown.isascii() and free.isascii()) and (_has_surrogate(shown) or _has_surrogate(free)):
        return None
    if type(at) is not int:
        if type(at) is not str:
            return None
        try:
            at = parse_time(at, limits.zone)
        except ValueError:  # InvalidInteraction, or int() of a non-ASCII digit: from_json says why
            return None
    if at < _MIN_TIME_MS or (limits.now_ms is not None and at > limits.now_ms + _DAY_MS):
        return None
    return eid, tp, at, src, phone, email, name


def to_json(event: Interaction) -> dict[str, Any]:
    """The contract's JSON form (occurred_at as epoch milliseconds)."""
    return event.to_record()
