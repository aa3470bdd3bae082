"""One record of an input file, as the publishing commands read it (`irl produce`, `irl import`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from resolver.interaction import Interaction, Limits

__all__ = ["InputRecord"]


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
