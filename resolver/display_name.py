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

What is not a name gives no display form: digits (a phone typed as the name) and an email
address (``priya.sharma@gmail.com``, or one beside the name) are dropped. A title is dropped
only when more of the name follows it: those of `resolver.names.TITLES` and the other forms
of address Indian and English records carry (`TITLES`: ``Capt``, ``Col``, ``Er.``, ``Adv.``,
``Kum``, ``Mx``, ``Rev``, ``Fr``, ``Sr`` (Sister; after a name it is Senior and stays), and
a firm's ``M/s``, Messrs). Initials are never a title: a token with a dot inside
(``M.S. Dhoni``), and a two-letter title written in capitals in a name that is not
(``MS Dhoni``, ``KM Sharma``); the two-letter titles added here (``Sr``, ``Km``, ``Er``, ...)
are titles only when not written in capitals at all, since ``SR RAO`` is as likely S. R. Rao.
Initials keep their last dot (``A.P.J. Abdul Kalam``).

Pure: a function of the names and their counts, so replay and the stream show the same name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

from resolver.generations import GENERATIONS
from resolver.names import HONORIFICS, INITIAL_LIKE, SUFFIXES, is_title
from resolver.names import TITLES as _NAME_TITLES

__all__ = ["TITLES", "clear_memos", "display_name", "forget", "preferred_name", "typed_name"]

#: Forms of address dropped before a name (folded: lower-case letters only): those the matcher
#: reads (`resolver.names.is_title`, one rule for both), two-letter ones among them titles only
#: when not written in capitals (``Sh.``, ``sr``; never ``SH``, ``SR``: initials).
TITLES: frozenset[str] = _NAME_TITLES | INITIAL_LIKE
#: A firm's ``M/s`` (Messrs) before its name: read as the title it is (``/`` is no name character).
_MESSRS = re.compile(r"^\s*m\s*/\s*s\b\.?", re.IGNORECASE)
#: An email address, or what is left of one, in a name field: no part of a name.
_EMAIL = re.compile(r"[^\s@]*@[^\s@]*")
#: An email address in a typed name (`typed_name`): something on both sides of the ``@``.
_EMAIL_SHAPED = re.compile(r"[^\s@]+@[^\s@]+")

#: A part in brackets says nothing a CRM shows: ``(Mrs)``, ``(home)``, ``[old]``.
_BRACKETS = re.compile(r"\([^)]*\)?|\[[^\]]*\]?|\{[^}]*\}?")
#: Joiners Indic scripts write names with; anything else of category Cf goes.
_JOINERS = frozenset("\u200c\u200d")
#: Direction marks (LRM, RLM, ALM): invisible, written around right-to-left names; dropped, not
#: read as a space (``Lay<RLM>la`` is one word).
_MARKS_GONE = dict.fromkeys(map(ord, "\u200e\u200f\u061c"))
#: Kept inside a word: ``D'Souza``, ``Jean-Luc``, ``K.``.
_INNER = frozenset("'-.")
#: Lower-case particles of a surname, kept lower when a name is re-cased (``João da Silva``).
_PARTICLES = frozenset(
    {"da", "de", "del", "della", "der", "den", "di", "do", "dos", "du", "van", "von", "bin", "binti"}
)
#: Generations written as numerals (`resolver.generations`), kept in capitals when a name is re-cased.
_NUMERALS = frozenset(g for g in GENERATIONS if set(g) <= set("iv"))
_MEMO: dict[str, str | None] = {}
_SCRIPTS: dict[str, str] = {}
_SHAPES: dict[str, tuple[str, int, int]] = {}
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


def clear_memos() -> None:
    """Empty the memos (pure functions of their keys: only later calls cost more; `resolver.compaction`)."""
    _MEMO.clear()
    _SHAPES.clear()
    _SCRIPTS.clear()


def forget(raws: Iterable[str]) -> None:
    """Drop what the memos hold of these typed names and their display forms (an erasure: no copy
    of the person's name stays in the process; another customer of the same name is computed again)."""
    for raw in raws:
        form = _MEMO.pop(raw, None) or ""
        for key in (raw, form, form.casefold()):
            if key:
                _SHAPES.pop(key, None)
                _SCRIPTS.pop(key, None)


def _clean(raw: str) -> str | None:
    tokens = raw.split()
    # Most names are ASCII words of letters alone (``Sanjay Mehta``): no bracket, email, comma,
    # mark or punctuation for the steps below to take out, so their tokens are the words.
    if not (raw.isascii() and all(token.isalpha() for token in tokens)):
        tokens = _tokens(raw)
    if not tokens:
        return None
    cased = [ch for ch in "".join(tokens) if ch.isupper() or ch.islower()]
    shouted = bool(cased) and all(ch.isupper() for ch in cased)
    while len(tokens) > 1 and is_title(tokens[0], shouted):
        tokens.pop(0)
    while len(tokens) > 1 and _folded(tokens[-1]) in HONORIFICS:
        tokens.pop()
    joined = " ".join(tokens)
    cased = [ch for ch in joined if ch.isupper() or ch.islower()]
    if cased and (all(ch.isupper() for ch in cased) or all(ch.islower() for ch in cased)):
        joined = unicodedata.normalize("NFC", " ".join(_recase(token, i) for i, token in enumerate(tokens)))
    return joined


def _tokens(raw: str) -> list[str]:
    """The words of a typed name: brackets, emails, decorations out; ``Sharma, Rohit`` turned round."""
    text = _BRACKETS.sub(" ", unicodedata.normalize("NFC", raw.translate(_MARKS_GONE)).replace("\u2019", "'"))
    text = _MESSRS.sub("Messrs ", _EMAIL.sub(" ", text))
    text = "".join(ch if _kept(ch) else " " for ch in text)
    head, comma, tail = text.partition(",")
    if comma and "," not in tail and _letters(head) and _letters(tail) and _folded(tail.split()[0]) not in SUFFIXES:
        if any(ch.islower() for ch in tail) and not any(ch.islower() for ch in head):
            # ``RAO, Asha K.``: a surname in capitals by the register's convention is Rao
            head = " ".join(_recase(token, 1) for token in head.split())
        words = tail.split()
        if len(words) > 1 and _folded(words[-1]) in GENERATIONS:  # ``Clark, James Jr.`` is James Clark Jr.
            text = " ".join(words[:-1]) + " " + head + " " + words[-1]
        else:
            text = tail + " " + head  # ``Sharma, Rohit`` is Rohit Sharma
    return [t for t in (_trim(token) for token in text.replace(",", " ").split()) if t]


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
    if word and end < len(token) and token[end] == "." and (len(word) <= 3 or _initials(word)):
        return word + "."  # ``K.``, ``Md.``, ``Jr.``, ``A.P.J.``
    return word


def _initials(word: str) -> bool:
    """``A.P.J``, ``K.S``: short parts joined by dots."""
    parts = word.split(".")
    return len(parts) > 1 and all(0 < len(part) <= 3 for part in parts)


def _recase(token: str, index: int) -> str:
    """A word as names are written: capital after a start, ``'``, ``-`` or ``.``; particles lower."""
    if index > 0 and token.lower() in _PARTICLES:
        return token.lower()
    if index > 1 and _folded(token) in _NUMERALS:
        return token.upper()  # ``JAMES CLARK III``: James Clark III
    if len(token) == 2 and _folded(token) in INITIAL_LIKE:
        return token  # ``KM SHARMA``: KM Sharma, not ``Km``, which would read as a title (idempotence)
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


def typed_name(raw: str) -> str | None:
    """A typed name that has no display form, as it may still be shown: as typed, but None when it
    holds an email address (an email is no name, and is shown as the customer's email already)."""
    return None if "@" in raw and _EMAIL_SHAPED.search(raw) else raw


def preferred_name(names: Mapping[str, Sequence[int]]) -> str | None:
    """The display form a customer goes by: a full name (two words written out) before a one-word
    form that starts no longer one, however often that is written (``Sunil Bansal`` before a
    WhatsApp pet name ``Guddu``); then the most interactions; among forms written as often, the
    one in the script most of the customer's names are written in, then Latin (a CRM user reads
    it); then the one with more
    words written out (``Rahul Verma`` before a later ``R. Verma``); then the one with more
    apostrophes and hyphens (``O'Brien`` before ``OBrien``); then the latest; then the
    smallest (code points).

    ``names`` maps each typed name to (interactions, latest epoch ms). Forms equal but for
    case are one (shown as the variant with most interactions, then latest, then smallest);
    a one-word form counts for the one longer form it is the first word of. The script of a
    form is the one most of its letters are in (Latin, Devanagari, Tamil, ...); a script's
    share is the interactions of every form in it. So three Latin spellings written once each
    and one Devanagari form written once show a Latin spelling, whichever came last; a
    Devanagari form written more often than any one spelling shows (a CRM user expects the
    name written most, then the customer's usual script). When no name has a display form,
    the typed name chosen by count, latest and smallest (`typed_name`: never an email).
    Deterministic and independent of the order of ``names``.
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
        return _best({raw: (v[0], v[1]) for raw, v in names.items() if typed_name(raw) is not None})
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
    shape = {k: _shape(k) for k in totals}  # (script, words written out, marks): functions of the form alone
    full = any(words >= 2 for _script_of, words, _m in shape.values())  # some form has a given name and a surname
    share: dict[str, int] = {}
    for key, (count, _) in totals.items():
        share[shape[key][0]] = share.get(shape[key][0], 0) + count
    chosen = min(
        totals,
        key=lambda k: (
            full and " " not in k and k not in longer,  # a pet name (``Guddu``): a full name shows first
            -totals[k][0],
            -share[shape[k][0]],
            shape[k][0] != "LATIN",
            -shape[k][1],
            -shape[k][2],
            -totals[k][1],
            k,
        ),
    )
    return _best({form: (v[0], v[1]) for form, v in variants[chosen].items()})


def _shape(form: str) -> tuple[str, int, int]:
    """(`_script`, `_whole_words`, `_marks`) of a form, memoised: a customer's profile is built again at every
    change to it, with the same forms."""
    found = _SHAPES.get(form)
    if found is None:
        if len(_SHAPES) >= _MEMO_SIZE:
            _SHAPES.clear()
        found = _SHAPES[form] = (_script(form), _whole_words(form), _marks(form))
    return found


def _marks(form: str) -> int:
    """Apostrophes and hyphens inside words: ``O'Brien`` is written more fully than ``OBrien``."""
    return sum(1 for i, ch in enumerate(form) if ch in "'-" and 0 < i < len(form) - 1 and form[i + 1].isalpha())


def _whole_words(form: str) -> int:
    """Words of `form` written out (not an initial): ``Rahul Verma`` 2, ``R. Verma`` 1."""
    return sum(1 for word in form.split() if len(_folded(word)) > 1 and not _initials(word))


def _script(form: str) -> str:
    """The script most letters of `form` are in (the first word of their Unicode names:
    ``LATIN``, ``DEVANAGARI``, ...); ties to the smallest name."""
    found = _SCRIPTS.get(form)
    if found is None:
        counts: dict[str, int] = {}
        for ch in form:
            if ch.isalpha():
                script = unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0]
                counts[script] = counts.get(script, 0) + 1
        found = min(counts, key=lambda k: (-counts[k], k)) if counts else ""
        if len(_SCRIPTS) >= _MEMO_SIZE:
            _SCRIPTS.clear()
        _SCRIPTS[form] = found
    return found


def _best(scores: Mapping[str, tuple[int, int]]) -> str | None:
    return min(scores, key=lambda n: (-scores[n][0], -scores[n][1], n)) if scores else None
