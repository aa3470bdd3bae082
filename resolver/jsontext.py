"""One JSON text to its value, as `json.loads` does, without its per-call overhead.

`json.loads` runs two whitespace regexes and builds a decoder call per text; replay parses
one text per event and a restore one per state record. `loads` calls the C scanner
directly and falls back to `json.loads` for anything unusual (leading whitespace, extra
data, invalid JSON), so values and errors are exactly `json.loads`'s.
"""

from __future__ import annotations

import json
import json.scanner
from typing import Any

__all__ = ["loads"]

#: What `json.loads` skips after a value.
_JSON_SPACE = " \t\n\r"
_SCAN = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # the C scanner takes a decoder


def loads(text: str) -> Any:
    """`json.loads(text)`: the same value, or the same error."""
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:
        return json.loads(text)
    # JSON whitespace only: str.isspace() also takes \x1c-\x1f and Unicode spaces, which json.loads refuses.
    if end == len(text) or not text[end:].strip(_JSON_SPACE):
        return value
    return json.loads(text)
