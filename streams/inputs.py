"""One record of an input file, as the publishing commands read it (`irl produce`, `irl import`),
the check that a file of lines is not in an encoding other than UTF-8, and the check that no output
of a command is one of its inputs or another of its outputs (`irl produce`, `irl import`, `irl replay`)."""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from resolver.interaction import Interaction, Limits

__all__ = ["InputRecord", "clashing_outputs", "wide_encoding"]

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


def _same(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name one file: the same inode when both exist (a hard link, a symbolic
    link, another spelling), else the same resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def clashing_outputs(inputs: Iterable[Path], outputs: Mapping[str, Path | None]) -> str | None:
    """Why the `outputs` (option name to path; None: not written) cannot be written, else None.

    An output that is an input would be truncated before it is read (the run then finds no
    events and succeeds); two outputs on one path would leave one of them. ``-`` (stdin) is
    no file and clashes with nothing.
    """
    sources = [path for path in inputs if str(path) != "-"]
    named = [(option, path) for option, path in outputs.items() if path is not None]
    for index, (option, path) in enumerate(named):
        for source in sources:
            if _same(path, source):
                return f"{option} {path} is the input {source}: it would be overwritten; write the outputs elsewhere"
        for other, other_path in named[:index]:
            if _same(path, other_path):
                return f"{other} and {option} are one file ({path}): give each output its own path"
    return None
