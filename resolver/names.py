"""Person names, reduced to what is comparable: a lower-case first-name class and a similarity test.

Names are weak evidence: people type nicknames, initials and typos. They never link anything;
they only tell two people apart (household rule, hub detection, confidence). So the test
errs towards "similar": equal after folding, an initial of the other, a prefix of the other
(``Rav`` / ``Ravi``), or one edit apart.
"""

from __future__ import annotations

import unicodedata

__all__ = ["name_class", "name_parts", "names_similar"]

_TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "shri", "smt", "sri", "prof", "kumari"})


def name_class(name: str | None) -> str | None:
    """The first real token of a name, folded to lower-case ASCII letters; None when absent."""
    if not name:
        return None
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    for token in folded.replace(".", " ").replace(",", " ").split():
        letters = "".join(ch for ch in token if ch.isalpha())
        if letters and letters not in _TITLES:
            return letters
    return None


def name_parts(name: str | None) -> tuple[str, str | None] | None:
    """(first class, last-token class or None) of a name, folded as in `name_class`; None when absent.

    The last token is what tells two people with one first name apart (``Ravi Kumar`` /
    ``Ravi Shah``); a single-token name has none.
    """
    if not name:
        return None
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    tokens: list[str] = []
    for token in folded.replace(".", " ").replace(",", " ").split():
        letters = "".join(ch for ch in token if ch.isalpha())
        if letters and (tokens or letters not in _TITLES):
            tokens.append(letters)
    if not tokens:
        return None
    return tokens[0], (tokens[-1] if len(tokens) > 1 else None)


def names_similar(a: str, b: str) -> bool:
    """True when two name classes could be the same person (symmetric)."""
    if a == b:
        return True
    if len(a) == 1 or len(b) == 1:
        return a[0] == b[0]
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if long_.startswith(short) and len(short) >= 3:
        return True
    if len(long_) - len(short) > 1 or len(short) < 3:
        return False
    return _within_one_edit(short, long_)


def _within_one_edit(short: str, long_: str) -> bool:
    if len(short) == len(long_):
        diffs = [i for i, (x, y) in enumerate(zip(short, long_, strict=True)) if x != y]
        if len(diffs) == 1:
            return True
        # One transposition ("Rvai" / "Ravi") is one slip of the fingers.
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and short[diffs[0]] == long_[diffs[1]]
            and (short[diffs[1]] == long_[diffs[0]])
        )
    i = j = edits = 0
    while i < len(short) and j < len(long_):
        if short[i] != long_[j]:
            edits += 1
            if edits > 1:
                return False
            j += 1
            continue
        i += 1
        j += 1
    return True
