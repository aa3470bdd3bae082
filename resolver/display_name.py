"""The name a customer is shown by: one clean form of the names its evidence carries.

Evidence keeps each name as it was typed (`resolver.junk.JunkRules.name_of` only trims it),
because that is what tells people apart. A CRM record wants one name, written the way a
person writes it, so the profile's ``name`` is chosen among *display forms*: a typed name
with its title (``Mr.``), a trailing honorific (``ji``), emoji and decorations (``~Rohit
😎``), a part in brackets (``(office)``) dropped, ``SHARMA, ROHIT`` turned round, and
shouting or lower case written as a name (``Rohit Sharma``). Names in other scripts keep
their script. Forms that differ only in case are one form; a one-word form that is the
first word of exactly one longer form counts for the longer one (``Rohit`` on WhatsApp,
``Rohit Sharma`` at the kiosk: the CRM shows Rohit Sharma).

Pure: a function of the names and their counts, so replay and the stream show the same name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from resolver.names import HONORIFICS, SUFFIXES, TITLES

__all__ = ["display_name", "preferred_name"]

#: A part in brackets says nothing a CRM shows: ``(Mrs)``, ``(home)``, ``[old]``.
_BRACKETS = re.compile(r"\([^)]*\)?|\[[^\]]*\]?|\{[^}]*\}?")
#: Joiners Indic scripts write names with; anything else of category Cf goes.
_JOINERS = frozenset("\u200c\u200d")
#: Kept inside a word: ``D'Souza``, ``Jean-Luc``, ``K.``.
_INNER = frozenset("'-.")
#: Lower-case particles of a surname, kept lower when a name is re-cased (``João da Silva``).
_PARTICLES = frozenset(
    {"da", "de", "del", "della", "der", "den", "di", "do", "dos", "du", "van", "von", "bin", "binti"}
)
_MEMO: dict[str, str | None] = {}
_MEMO_SIZE = 1 << 16


def display_name(raw: str) -> str | None:
    """`raw` as a CRM should show it; None when no letter is left.

    Deterministic and idempotent: ``display_name(display_name(x)) == display_name(x)``.
    """
    found = _MEMO.get(raw, "")
    if found != "":
        return found
    found = _clean(raw)
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.clear()
    _MEMO[raw] = found
    return found


def _clean(raw: str) -> str | None:
    text = _BRACKETS.sub(" ", unicodedata.normalize("NFC", raw).replace("\u2019", "'"))
    text = "".join(ch if _kept(ch) else " " for ch in text)
    head, comma, tail = text.partition(",")
    if comma and "," not in tail and _letters(head) and _letters(tail) and _folded(tail.split()[0]) not in SUFFIXES:
        text = tail + " " + head  # ``Sharma, Rohit`` is Rohit Sharma
    tokens = [t for t in (_trim(token) for token in text.replace(",", " ").split()) if t]
    while len(tokens) > 1 and _folded(tokens[0]) in TITLES:
        tokens.pop(0)
    while len(tokens) > 1 and _folded(tokens[-1]) in HONORIFICS:
        tokens.pop()
    if not tokens:
        return None
    joined = " ".join(tokens)
    cased = [ch for ch in joined if ch.isupper() or ch.islower()]
    if cased and (all(ch.isupper() for ch in cased) or all(ch.islower() for ch in cased)):
        joined = unicodedata.normalize("NFC", " ".join(_recase(token, i) for i, token in enumerate(tokens)))
    return joined


def _kept(ch: str) -> bool:
    """Letters, marks (not emoji variation selectors), Indic joiners, spacing and name punctuation."""
    if ch.isalpha() or ch in _INNER or ch in " ,":
        return True
    category = unicodedata.category(ch)
    if category[0] == "M":
        return not ("\ufe00" <= ch <= "\ufe0f")
    return ch in _JOINERS


def _trim(token: str) -> str:
    """A token without what cannot start or end a name part; a final ``.`` stays after an abbreviation."""
    start = 0
    while start < len(token) and not token[start].isalpha():
        start += 1
    end = len(token)
    while end > start and not (token[end - 1].isalpha() or unicodedata.category(token[end - 1])[0] == "M"):
        end -= 1
    word = token[start:end]
    if word and end < len(token) and token[end] == "." and len(word) <= 3:
        return word + "."  # ``K.``, ``Md.``, ``Jr.``
    return word


def _recase(token: str, index: int) -> str:
    """A word as names are written: capital after a start, ``'``, ``-`` or ``.``; particles lower."""
    if index > 0 and token.lower() in _PARTICLES:
        return token.lower()
    out: list[str] = []
    start = True
    for ch in token:
        changed = ch.upper() if start else ch.lower()
        # Only a letter whose case comes back: ``ß`` has no one-letter capital, dotless i capitalised is I.
        out.append(changed if len(changed) == 1 and changed.swapcase() == ch else ch)
        start = not ch.isalpha() and unicodedata.category(ch)[0] != "M"  # a mark belongs to its letter
    return "".join(out)


def _letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _folded(token: str) -> str:
    return "".join(ch for ch in token.lower() if ch.isalpha())


def preferred_name(names: Mapping[str, Sequence[int]]) -> str | None:
    """The display form a customer goes by: the most interactions, then the latest, then the smallest.

    ``names`` maps each typed name to (interactions, latest epoch ms). Forms equal but for
    case are one (shown as the variant with most interactions, then latest, then smallest);
    a one-word form counts for the one longer form it is the first word of. When no name has
    a display form, the typed name chosen by the same order.
    """
    variants: dict[str, dict[str, list[int]]] = {}
    for raw, (count, last) in names.items():
        form = display_name(raw)
        if form is None:
            continue
        entry = variants.setdefault(form.casefold(), {}).setdefault(form, [0, 0])
        entry[0] += count
        entry[1] = max(entry[1], last)
    if not variants:
        return _best({raw: (v[0], v[1]) for raw, v in names.items()}) if names else None
    totals = {
        key: (sum(v[0] for v in forms.values()), max(v[1] for v in forms.values())) for key, forms in variants.items()
    }
    longer: dict[str, list[str]] = {}
    for key in totals:
        first, space, _ = key.partition(" ")
        if space:
            longer.setdefault(first, []).append(key)
    for key in [k for k in totals if " " not in k]:
        owners = longer.get(key, [])
        if len(owners) == 1:
            count, last = totals.pop(key)
            owner = owners[0]
            totals[owner] = (totals[owner][0] + count, max(totals[owner][1], last))
    chosen = _best(totals)
    assert chosen is not None
    return _best({form: (v[0], v[1]) for form, v in variants[chosen].items()})


def _best(scores: Mapping[str, tuple[int, int]]) -> str | None:
    return min(scores, key=lambda n: (-scores[n][0], -scores[n][1], n)) if scores else None
