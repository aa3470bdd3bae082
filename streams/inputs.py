"""One record of an input file, as the publishing commands read it (`irl produce`, `irl import`),
and the check that a file of lines is not in an encoding other than UTF-8 (`irl produce`, `irl replay`)."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from resolver.interaction import Interaction, Limits

__all__ = ["InputRecord", "wide_encoding"]

#: Byte-order marks of the encodings whose lines are not lines of bytes (UTF-32's first, as a
#: UTF-32LE mark starts with UTF-16LE's).
_WIDE_MARKS = (
    (codecs.BOM_UTF32_LE, "UTF-32", "FF FE 00 00"),
    (codecs.BOM_UTF32_BE, "UTF-32", "00 00 FE FF"),
    (codecs.BOM_UTF16_LE, "UTF-16", "FF FE"),
    (codecs.BOM_UTF16_BE, "UTF-16", "FE FF"),
)


def wide_encoding(path: Path) -> str | None:
    """Why the lines of `path` cannot be read as UTF-8 at all (it starts with a UTF-16 or UTF-32
    byte-order mark: Windows' "Unicode" text, PowerShell's `>`), else None.

    Such a file is refused whole: read as bytes, every line of it would be a reject for one
    cause, and a line's end byte belongs to a two-byte character. (A UTF-8 byte-order mark is
    read: the first line starts after it.)
    """
    with path.open("rb") as handle:
        head = handle.read(4)
    for mark, encoding, shown in _WIDE_MARKS:
        if head.startswith(mark):
            return (
                f"{path.name}: {encoding} text (it starts with the byte-order mark {shown}); lines must be UTF-8: "
                f"save it as UTF-8 or convert it (iconv -f {encoding} -t UTF-8)"
            )
    return None


@dataclass(frozen=True, slots=True)
class InputRecord:
    """One record of an input file: where it is, its raw bytes, and how to read it into an event.

    `read` raises InvalidInteraction (PII-free reason) for a record that is not a valid event;
    None means there is nothing to read (a blank line or row): counted as blank, never sent.
    """

    source: Path
    line: int
    raw: bytes
    read: Callable[[Limits], Interaction] | None
