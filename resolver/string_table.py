"""The string table of a snapshot being written (`resolver.snapshot`), and the keys it writes as text.

Every string a snapshot holds is written once, where it is first needed, and columns hold its
index (0 is None). Evidence and customer ids are written as one text each with a hash index
instead (`key_text`, read back as `resolver.text_keys.TextKeys`), and columns naming evidence
ids hold the piece's row (`vid_refs`).
"""

from __future__ import annotations

from itertools import repeat
from operator import is_
from typing import Any

from resolver import columns as col
from resolver.text_keys import HexKeys, Keys, StrKeys, hex_form
from resolver.text_keys import index as key_index

__all__ = [
    "StringTable",
    "encoded",
    "key_index_of",
    "key_text",
    "loaded_key_index",
    "loaded_key_text",
    "text_of",
    "vid_refs",
]


class StringTable:
    """The string table of a snapshot being written (index 0 is None)."""

    def __init__(self) -> None:
        self.table: list[str | None] = [None]
        self.index: dict[str | None, int] = {None: 0}

    def run(self, values: list[str], *, referred: bool = True) -> None:
        """Append `values` as they are (repeats included): a run the loader slices whole.

        `referred`: other columns refer to these strings (else they are not indexed, which
        saves a dict entry per string).
        """
        start = len(self.table)
        self.table.extend(values)
        if referred:
            self.index.update(zip(values, range(start, start + len(values)), strict=True))

    def refs(self, values: list[str | None] | list[str]) -> bytes:
        """The packed indices of `values`, adding new strings in order of first use."""
        index = self.index
        refs: list[Any] = list(map(index.get, values))  # None for a new string (None itself is 0)
        packed = _packed(refs)
        if packed is not None:
            return packed
        missing = col.where(map(is_, refs, repeat(None)))
        # New strings in order of first use (dict.fromkeys keeps it), then only their places looked up again.
        news: list[Any] = [values[i] for i in missing]
        self.run(list(dict.fromkeys(news)))
        if 4 * len(missing) > len(refs):  # mostly new: one more pass in C
            return col.pack(list(map(index.__getitem__, values)))
        for i, ref in zip(missing, map(index.__getitem__, news), strict=True):
            refs[i] = ref
        return col.pack(refs)


def encoded(keys: list[str]) -> list[bytes]:
    """Each key's UTF-8 bytes (lone surrogates kept, as `resolver.columns.text`)."""
    return list(map(str.encode, keys, repeat("utf-8"), repeat("surrogatepass")))


def key_text(name: str, keys: list[str], out: dict[str, Any]) -> None:
    """Keys as one text (`name`), its offsets (``.at``) and hash index (``.h``, ``.o``): `resolver.text_keys`.

    Keys that are one prefix and fixed-width hex digits each (`resolver.text_keys.hex_form`) are
    written as the bytes of their digits (`name`) and the prefix (``.hex``), without offsets.
    """
    texts = encoded(keys)
    text_of(name, keys, out, texts)
    key_index_of(name, texts, out)


def loaded_key_text(name: str, ids: Keys | None, out: dict[str, Any]) -> bool:
    """`key_text` of a loaded table's keys that are still its keys (`resolver.cold.TextTable.loaded_keys`),
    copied as they were loaded when they are hex digits (`resolver.text_keys.HexKeys`): True when written.

    The same bytes as `key_text` of the same keys (a function of the keys alone), without reading them.
    Keys loaded as text (`TextKeys`, written by version 7) are written again by `key_text`, which
    may find them hex digits.
    """
    if ids.__class__ is not HexKeys:
        return False
    assert isinstance(ids, HexKeys)
    out[name + ".hex"], out[name] = ids.hex.prefix, ids.hex.data
    out[name + ".h"], out[name + ".o"] = col.pack(ids.hashes), col.pack(ids.order)
    return True


def loaded_key_index(name: str, ids: Keys | None, out: dict[str, Any]) -> bool:
    """`key_index_of` of a loaded table's keys that are still its keys and strings of the table
    (`resolver.text_keys.StrKeys`: the node keys), copied as loaded: True when written."""
    if ids.__class__ is not StrKeys:
        return False
    assert isinstance(ids, StrKeys)
    out[name + ".h"], out[name + ".o"] = col.pack(ids.hashes), col.pack(ids.order)
    return True


def text_of(name: str, values: list[str], out: dict[str, Any], texts: list[bytes] | None = None) -> None:
    """Strings as one text (`name`) and its offsets (``.at``), or their `hex_form` (`name`, ``.hex``)."""
    form = hex_form(values)
    if form is not None:
        out[name + ".hex"], out[name] = form
        return
    texts = encoded(values) if texts is None else texts
    out[name], out[name + ".at"] = b"".join(texts), col.offsets(map(len, texts))


def key_index_of(name: str, texts: list[bytes], out: dict[str, Any]) -> None:
    """The hash index of keys' UTF-8 bytes `texts` (``.h``, ``.o``: `resolver.text_keys.index`)."""
    hashes, order = key_index(texts)
    out[name + ".h"], out[name + ".o"] = col.pack(hashes), col.pack(order)


def vid_refs(values: list[str | None] | list[str], row_of: dict[Any, int], s: StringTable) -> bytes:
    """Packed references to evidence ids: the row of a piece's id (`row_of`), else the number of
    pieces plus the id's index in the string table (an id no piece holds, or None: 0)."""
    rows: list[Any] = list(map(row_of.get, values))
    packed = _packed(rows)
    if packed is not None:
        return packed
    missing = col.where(map(is_, rows, repeat(None)))
    base = len(row_of)
    refs = col.unpack(s.refs([values[i] for i in missing]))
    for i, ref in zip(missing, refs, strict=True):
        rows[i] = base + ref
    return col.pack(rows)


def _packed(refs: list[Any]) -> bytes | None:
    """`resolver.columns.pack` of references, or None when one is None (not found): no pass to look first.

    References are under 2**32, so the first array type tried takes them or stops at a None.
    """
    try:
        return col.pack(refs)
    except TypeError:
        return None
