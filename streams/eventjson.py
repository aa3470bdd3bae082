"""`irl replay`'s usual event line read by a compiled decoder: msgspec, straight into typed values.

`read_fields` decodes a JSON text into the event's fields in C (no dict, no per-field
`get`: about 1 us against 3 us for `json.loads` of a line of the generated data) and applies
the core's rules for a certainly valid event (`resolver.interaction.plain_values`, the
rules `plain_fields` applies to `json.loads`' dict). Anything else, a field of another type
(a phone or source id written as a number, a float time, attributes that are not all
strings), JSON msgspec refuses, or values the rules do not take plainly, answers None: the
core's own path (`resolver.jsontext.loads`, then `plain_fields` or `from_json`) then reads
the line and accepts it or says why, exactly as without this reader.

So the reader may only answer what that path answers (property-tested in
`tests/unit/test_replay_fast_path.py`): msgspec reads JSON as `json.loads` does where it
reads it at all (a repeated key: the last wins; escapes; integers of any size), and types
the values it takes, so `plain_values` sees what it would see in the dict.
"""

from __future__ import annotations

import msgspec

from resolver.interaction import Fields, Limits, plain_values

__all__ = ["read_fields"]


class _Event(msgspec.Struct):
    """The fields the core reads of an interaction, typed as the usual line writes them; others are skipped."""

    event_id: str
    touchpoint: str
    occurred_at: int | str
    source_id: str
    interaction: str
    phone: str | None = None
    email: str | None = None
    name: str | None = None
    attributes: dict[str, str] | None = None


_DECODE = msgspec.json.Decoder(_Event).decode
#: What msgspec raises for a text it does not read as an `_Event` (ValueError: a str it cannot
#: take as UTF-8; RecursionError: nesting deeper than it goes).
_NOT_READ = (msgspec.MsgspecError, ValueError, RecursionError)


def read_fields(text: str, limits: Limits) -> Fields | None:
    """The fields of a certainly valid event line (`resolver.replay.Read`); None: let the core's path read it."""
    try:
        e = _DECODE(text)
    except _NOT_READ:
        return None
    return plain_values(
        e.event_id,
        e.touchpoint,
        e.occurred_at,
        e.source_id,
        e.interaction,
        e.phone,
        e.email,
        e.name,
        e.attributes,
        limits,
    )
