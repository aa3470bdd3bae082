"""Person names, reduced to what is comparable: name keys, a similarity test, and name groups.

Names are weak evidence: people type nicknames, initials and typos, swap the order of given
name and surname, or leave the surname out. They never link anything; they only tell two
people apart (household rules, hub detection, the near-phone rule, confidence). So the tests
err towards "same person": `names_similar` on single tokens, `same_person` on name keys
(first and last token), and `name_groups`, the one grouping every rule uses.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping

from resolver.generations import GENERATIONS, MARK, bare, grouped, mixed, several_generations, written_last
from resolver.nicknames import NICKNAME_TABLE

__all__ = [
    "HONORIFICS", "INITIAL_LIKE", "KEY_JOIN", "SUFFIXES", "TITLES", "clear_memos", "compared", "full_name",
    "is_title", "name_class", "name_groups", "name_key", "name_parts", "name_tier", "names_similar", "one_group",
    "same_person", "script_of", "unread", "weak_key",
]  # fmt: skip

#: Joins the first and last token of a name key (``asha_rao``); tokens are letters only (of any
#: script: ``सुनीता_वर्मा``, ``李颖``), with the vowel signs and marks of scripts other than Latin.
KEY_JOIN = "_"

#: Forms of address written before a name, whatever their case (see `is_title`).
_TITLES = frozenset(
    {"mr", "mrs", "ms", "miss", "dr", "shri", "smt", "sri", "prof", "kumari", "capt", "cdr", "col", "maj", "brig",
     "sgt", "hon", "rev", "engr", "adv", "advocate", "kum", "sushri", "shree", "shrimati", "thiru", "thirumathi",
     "janab", "ustad", "messrs"}
)  # fmt: skip
#: Written after a name, never a surname: generations (kept in the key: `resolver.generations`) and degrees.
_SUFFIXES = GENERATIONS | {"md", "phd", "esq", "mba", "ca"}
#: Said after a name out of respect or by a cashier (``Sharma ji``, ``Rohit bhai``, ``Priya
#: Madam``, ``Rao garu``), never a surname.
_HONORIFICS = frozenset(
    {"ji", "bhai", "bhaiya", "bhaisahab", "madam", "maam", "sir", "uncle", "aunty", "auntie", "sahab", "saab", "saheb",
     "didi", "garu"}
)  # fmt: skip
#: Two-letter forms of address that are as often initials: ``Sh.`` is Shri (North India) but
#: ``SH`` is S. H.; ``Km.`` Kumari, ``Er.`` Engineer, ``Sr.`` Sister, ``Mx``, ``Fr.``, ``Lt.``,
#: ``Pt.`` (Pandit). Titles only when not written in capitals (`is_title`).
INITIAL_LIKE = frozenset({"sr", "km", "ku", "sh", "er", "mx", "fr", "lt", "pt"})
#: Public names of the word lists above, for `resolver.display_name`.
TITLES, SUFFIXES, HONORIFICS = _TITLES, _SUFFIXES, _HONORIFICS


def is_title(word: str, shouted: bool) -> bool:
    """Whether `word`, typed before more of a name, is a form of address and no part of the name.

    The one rule the matcher (`name_key`) and the display (`resolver.display_name`) follow: a
    word of `TITLES` or `INITIAL_LIKE` (letters compared, lower case), but never initials: not
    a word with a dot inside (``M.S.``), not an `INITIAL_LIKE` word written in capitals (``SH
    Rao`` is S. H. Rao, ``Sh. Rao`` and ``Sh Rao`` are Shri Rao), and not a two-letter title in
    capitals in a name that is not all capitals (`shouted`): ``MS Dhoni`` is M. S. Dhoni (the
    matcher reads the last two as titles all the same: a lone surname matches either way).
    """
    core = word.strip(_NOT_CORE)
    folded = core.lower() if core.isalpha() else "".join(ch for ch in core.lower() if ch.isalpha())
    if "." in core or (folded not in _TITLES and folded not in INITIAL_LIKE):
        return False
    if len(folded) == 2 and core[:2].isupper():
        return shouted and folded not in INITIAL_LIKE
    return True


#: What may surround a typed word without being part of it (`is_title`).
_NOT_CORE = " .,;:!?'\"()[]{}~*-_/"
#: Spellings of Mohammed, often written before the name a person goes by (``Md. Imran Khan``).
_MOHAMMED = frozenset({"md", "mohd", "mohamed", "mohammad", "mohammed", "muhammad", "muhammed", "mohamad", "mohmmad"})
#: The given name of a key whose Mohammed has no name after it to pass over for (`_given`).
_MOHAMMED_KEY = "mohammed"
#: The Arabic article before a surname, written joined by a hyphen (``Al-Khalidi``, read ``alkhalidi``)
#: or as a word of its own (``Al Khalidi``: a middle token, left out of the comparison), or not at all.
_ARTICLES = ("al", "el")
#: A part in brackets: ``(Mrs)``, ``(home)``, ``[old]``.
_BRACKETS = re.compile(r"\([^)]*\)?|\[[^\]]*\]?")
#: An email address typed in a name field: no part of the name.
_EMAIL = re.compile(r"[^\s@]*@[^\s@]*")


def name_class(name: str | None) -> str | None:
    """The first real token of a name, folded to lower-case ASCII letters; None when absent."""
    if not name:
        return None
    folded = _fold(name)
    if "@" in folded:
        folded = _EMAIL.sub(" ", folded)
    for token in folded.replace(".", " ").replace(",", " ").split():
        letters = token if token.isalpha() else _letters(token)
        if letters and letters not in _TITLES and not _typed_title(letters, name):
            return letters
    return None


def _fold(name: str) -> str:
    """`name` folded for comparison: Latin letters lower-case ASCII, accents dropped (NFKD);
    letters of other scripts kept, with their vowel signs and marks (NFKC, casefolded).

    A punctuation mark or a space of another script after its letters (``·``, ``・``, an
    ideographic space) separates names; other characters outside ASCII are dropped, as for a
    Latin name (``D\u2019Souza`` is ``dsouza``).
    """
    if name.isascii():
        return name.lower()  # NFKD leaves ASCII as it is
    out: list[str] = []
    other = False  # the last character kept is a letter or mark of a script other than Latin
    for ch in unicodedata.normalize("NFKD", name):
        if ch.isascii():
            out.append(ch)
            other = False
        elif ch.isalpha():
            other = not unicodedata.name(ch, "LATIN").startswith("LATIN")
            if other:
                out.append(ch)
        elif unicodedata.category(ch)[0] == "M":
            if other:
                out.append(ch)  # a vowel sign or a virama: part of the letter (``सु``); on Latin, an accent
        elif other and unicodedata.category(ch)[0] in "PZ":
            out.append(" ")
            other = False
    folded = "".join(out)
    if folded.isascii():
        return folded.lower()
    return unicodedata.normalize("NFKC", folded.casefold())


def _letters(token: str) -> str:
    """The letters of a folded token, with the marks of scripts other than Latin (``सुनीता``)."""
    return "".join(ch for ch in token if ch.isalpha() or (not ch.isascii() and unicodedata.category(ch)[0] == "M"))


#: Scripts whose names are written without a space between surname and given name.
_UNSPACED = frozenset({"CJK", "HANGUL"})
#: Scripts read as one for names (a Japanese name mixes kanji and kana).
_SAME_SCRIPT = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "IDEOGRAPHIC": "CJK"}


def script_of(key: str) -> str:
    """The script a name key is written in: ``""`` for Latin (ASCII), else its first letter's
    (``DEVANAGARI``, ``TAMIL``, ``CJK`` for Han and kana, ``HANGUL``, ``CYRILLIC``...)."""
    if key.isascii():
        return ""
    for ch in key:
        if not ch.isascii() and ch.isalpha():
            word = unicodedata.name(ch, "").partition(" ")[0]
            return _SAME_SCRIPT.get(word, word)
    return ""


def _whole(key: str) -> bool:
    """True for a name written without a space in a script that writes names so (``李颖``: Li
    Ying, surname and given name; ``김민준``): of two characters or more, it is a full name."""
    return not key.isascii() and KEY_JOIN not in key and len(key) >= 2 and script_of(key) in _UNSPACED


def name_parts(name: str | None) -> tuple[str, str | None] | None:
    """(first class, last-token class or None) of a name, folded as in `name_class`; None when absent.

    The last token is what tells two people with one first name apart (``Ravi Kumar`` /
    ``Ravi Shah``); a single-token name has none. As CRMs and forms write names:

    * ``Rao, Asha K.`` (surname, comma, given names) is Asha Rao, not "Rao K.";
    * a part in brackets (``Asha Rao (Mrs)``, ``(home)``) says nothing about who it is;
    * a generational suffix or a degree at the end (``Jr.``, ``III``, ``MD``) is not a surname,
      with or without a comma before it, nor is an honorific (``Sharma ji``, ``Rohit bhai``);
    * ``Md.``, ``Mohd`` and ``Muhammad`` are Mohammed, passed over before a given name
      (``Md. Imran Khan`` is Imran Khan).
    """
    read = _key_tokens(name)
    if read is None:
        return None
    found = read[0]
    return found[0], (found[-1] if len(found) > 1 else None)


def _key_tokens(name: str | None) -> tuple[list[str], str] | None:
    """([given, middle names..., surname], generation or ``""``) of a name as `name_parts` reads it; None when absent.

    Middle names are the tokens of two letters or more between the given name and the surname
    (``Anil Kumar Yadav``: ``kumar``); initials between them say nothing more than the
    surname does and are left out. A generation (``Jr.``) counts only after a given name and a
    surname written out (``Clark, James Jr.`` too), never after one name (``Ramesh Sr``).
    """
    if not name:
        return None
    folded = _fold(name)
    if "(" in folded or "[" in folded:  # the only way a part in brackets starts
        folded = _BRACKETS.sub(" ", folded)
    if "@" in folded:  # ``priya.sharma@gmail.com`` in the name field is no name
        folded = _EMAIL.sub(" ", folded)
    head, comma, tail = folded.partition(",")
    if comma:
        given = _tokens(tail.replace(",", " "), titles=True, raw=name)
        family = _tokens(head, titles=True, raw=name)
        generation = written_last(family, given)  # ``Clark Jr., James``, ``Clark, James Jr.``
        if given and family and (given[0] not in _SUFFIXES or (given[0] in _MOHAMMED and len(given) > 1)):
            first = _given(given, 2)
            rest = given[given.index(first) + 1 :] if first in given else given[1:]
            return [first, *_middle(rest), family[-1]], generation if len(family[-1]) > 1 else ""
    tokens = _tokens(folded.replace(",", " "), titles=True, raw=name)
    generation = ""
    while len(tokens) > 2 and tokens[-1] in _SUFFIXES:
        suffix = tokens.pop()
        if suffix in GENERATIONS:
            generation = suffix  # the one nearest the name: ``James Clark Jr. MD``
    while len(tokens) > 1 and tokens[-1] in _HONORIFICS:
        tokens.pop()
    if not tokens:
        return None
    first = _given(tokens, 3)
    if len(tokens) == 1:
        return [first], ""
    start = 2 if first != tokens[0] else 1  # ``Md. Imran Khan``: the middle starts after Imran
    last = tokens[-1]
    if last in _MOHAMMED and last != "md":  # ``Iqbal Muhammad``: Mohammed written last, one spelling
        last = "mohammed"
    return [first, *_middle(tokens[start:-1]), last], generation if len(last) > 1 else ""


def _middle(tokens: list[str]) -> list[str]:
    """The middle names among `tokens`: not initials, not a title (``Asha Kumari Rao``: Kumari is Miss)."""
    return [t for t in tokens if len(t) > 1 and t not in _TITLES]


def _given(tokens: list[str], enough: int) -> str:
    """The given name of `tokens`: ``Md``/``Mohd``/``Muhammad`` is Mohammed, and is passed over
    for the name after it when at least `enough` tokens are there (``Md. Imran Khan`` is Imran
    Khan; ``Mohd Khan`` is Mohammed Khan)."""
    first = tokens[0]
    if first not in _MOHAMMED:
        return first
    return tokens[1] if len(tokens) >= enough else _MOHAMMED_KEY


def _tokens(text: str, *, titles: bool, raw: str = "") -> list[str]:
    """The letter tokens of folded `text`; with `titles`, a leading title (``Mrs``) is skipped,
    and a leading `INITIAL_LIKE` one when `raw` (the name as typed) writes it as a title
    (`is_title`: ``Sh. Arun``, not ``SH ARUN``)."""
    tokens: list[str] = []
    for token in text.replace(".", " ").split():
        # Most tokens are letters only: the filter is for the others.
        letters = token if token.isalpha() else _letters(token)
        if letters and (tokens or not titles or (letters not in _TITLES and not _typed_title(letters, raw))):
            tokens.append(letters)
    return tokens


def _typed_title(letters: str, raw: str) -> bool:
    """Whether folded `letters` (of `INITIAL_LIKE`) is written as a title somewhere in `raw` (`is_title`)."""
    if letters not in INITIAL_LIKE:
        return False
    for word in raw.replace(",", " ").split():
        core = word.strip(_NOT_CORE)
        if core.lower() == letters and is_title(word, False):
            return True
    return False


def name_key(name: str | None) -> str | None:
    """What a name says about who someone is: ``first``, ``first_last``, ``first_middle_last`` (folded), or None.

    Middle names of two letters or more are kept (``anil_kumar_yadav``): a middle name comes
    and goes, so `same_person` compares the first and last tokens, and reads a name that is
    another's without its surname (``Anil Kumar`` / ``Anil Kumar Yadav``) as one person too; it
    reads ``Rao Asha`` and ``Asha Rao`` as one person. A generation follows `MARK` (``james_clark~jr``:
    `resolver.generations`); without one, the key is as it always was.
    """
    read = _key_tokens(name)
    if read is None:
        return None
    tokens, generation = read
    return KEY_JOIN.join(tokens) + MARK + generation if generation else KEY_JOIN.join(tokens)


def _split(key: str) -> tuple[str, str]:
    """(given name, surname or ``""``) of a name key; middle names and a generation are left out."""
    first, _, rest = key.partition(KEY_JOIN)
    return first, rest.rpartition(KEY_JOIN)[2] if MARK not in rest else bare(rest).rpartition(KEY_JOIN)[2]


def weak_key(key: str) -> bool:
    """True for a key that fits many people: an initial first name, a given name with initials
    only (``suresh_r``), or one token only (not a name written without a space, `_whole`: ``李颖``)."""
    first, last = _split(key)
    return len(first) <= 1 or len(last) == 1 or (not last and not _whole(key))


def full_name(key: str) -> bool:
    """True for a name key with a given name and a surname, not initials (``ramesh_s`` of
    ``Ramesh K. S.`` is a given name and initials, as South Indian names are often written)."""
    if weak_key(key):
        return False
    return _whole(key) or len(_split(key)[1]) > 1


def same_person(a: str, b: str) -> bool:
    """True when two name keys (`name_key`) could be one person (symmetric).

    First names similar (`names_similar`: case, initials, prefixes, one slip) and surnames
    similar where both have one; or the two tokens swapped (``Rao Asha`` / ``Asha Rao``, and
    with an initial on one side, ``A. Rao`` / ``Rao Asha``, but not two initials: ``A. Bose``
    / ``B. Anand`` are not one person); or a given name with initials before it and after it
    (``K. S. Ramesh`` / ``Ramesh K S``, as South Indian names are written); or a pet form of
    the given name (`NICKNAME_TABLE`: ``Bill`` / ``William``) beside one surname; or a given name
    with an initial only beside that given name with a surname (``A. Venkatesh`` / ``Venkatesh
    Shetty``, ``Suresh R`` / ``Suresh Naidu``: the initial is a father's or village name,
    `_initialled`; not ``R. Kumar`` / ``Anil Kumar``); or Mohammed and a
    given name without a surname beside that given name with one (``Md. Imran`` / ``Mohammed
    Imran Khan``, read ``imran_khan``; not ``Mohd Khan`` / ``Salman Khan``); or a one-token name
    that matches either token of the other written out (``Asha`` / ``Rao Asha``; not an initial:
    ``Christopher`` / ``Katherine C``); or, with middle names, a
    surname left off after a middle name (``Anil Kumar`` / ``Anil Kumar Yadav``: `_within`), or an
    initial before the given name and surname a person goes by (``M. Asif Khan`` / ``Mohammed Asif
    Khan``, read ``asif_khan``; ``K. Anil Kumar`` / ``Anil Kumar``): read without the initial.
    Never two generations (``James Clark Sr.`` / ``Jr.``); a name without one is read without it.
    """
    if a == b:
        return True
    if MARK in a or MARK in b:
        if mixed(a, (b,)):
            return False
        a, b = bare(a), bare(b)
    fa, la = _split(a)
    fb, lb = _split(b)
    if names_similar(fa, fb) and (not la or not lb or _same_surname(la, lb)):
        return True
    if la and lb and len(la) > 1 and len(lb) > 1 and _same_surname(la, lb) and _nicknamed(fa, fb):
        return True  # ``Bill Walker`` / ``William Walker``: a pet form, only beside one surname
    if (la or lb) and not (la and lb) and len(fa) > 1 and len(fb) > 1 and _nicknamed(fa, fb):
        return True  # a lone pet form beside the full name it is a form of: ``Bobby`` / ``Robert Moore``
    if fa == _MOHAMMED_KEY and fb != _MOHAMMED_KEY and a.count(KEY_JOIN) == 1 and names_similar(la, fb):
        return True  # ``Md. Imran`` / ``Mohammed Imran Khan`` (``imran_khan``): Mohammed and a given name, no surname
    if fb == _MOHAMMED_KEY and fa != _MOHAMMED_KEY and b.count(KEY_JOIN) == 1 and names_similar(lb, fa):
        return True
    if _initialled(fa, la, lb, fb) or _initialled(fb, lb, la, fa):
        return True
    if la and lb and (a.count(KEY_JOIN) > 1 or b.count(KEY_JOIN) > 1):
        if _within(a, b):  # a middle name as the surname, or a surname written first
            return True  # ``Anil Kumar`` / ``Anil Kumar Yadav``
        # An initial before the name a person goes by: ``M. Asif Khan`` is ``Asif Khan`` (``Mohammed Asif Khan``).
        if len(fa) == 1 and a.count(KEY_JOIN) > 1 and same_person(a.partition(KEY_JOIN)[2], b):
            return True
        if len(fb) == 1 and b.count(KEY_JOIN) > 1 and same_person(a, b.partition(KEY_JOIN)[2]):
            return True
    if la and lb:
        if len(fa) == 1 and len(lb) == 1 and len(la) > 1 and _same_given(la, fb):
            return True  # a given name with initials before or after it: ``K. S. Ramesh`` / ``Ramesh K S``
        if len(fb) == 1 and len(la) == 1 and len(lb) > 1 and _same_given(lb, fa):
            return True
        # Swapped, an initial allowed on one side: ``A. Rao`` / ``RAO, Asha`` (``rao_asha``).
        if len(fa) == 1 or len(la) == 1 or len(fb) == 1 or len(lb) == 1:  # one name to compare: the same name
            return (len(fa) > 1 or len(fb) > 1) and _similar_or_same(fa, lb) and _similar_or_same(la, fb)
        return names_similar(fa, lb) and names_similar(la, fb)
    # A lone name is the other's surname written out, not its initial: ``Christopher`` is not ``Katherine C``.
    if len(la) > 1 and len(fb) > 1:
        return names_similar(fb, la)
    if len(lb) > 1 and len(fa) > 1:
        return names_similar(fa, lb)
    return False


def _same_surname(a: str, b: str) -> bool:
    """`names_similar`, or one surname the other with the Arabic article joined before it:
    ``Al-Khalidi`` (``alkhalidi``) is ``Al Khalidi`` and ``Khalidi`` (``khalidi``), ``El-Sayed`` is
    ``El Sayed``. The rest must be a name of four letters or more (``Alam`` is not ``am``)."""
    if names_similar(a, b):
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= 4 and any(long_ == article + short for article in _ARTICLES)


def _initialled(first: str, last: str, other_last: str, other_first: str) -> bool:
    """True when `first`/`last` is a given name with an initial only (``A. Venkatesh``, ``Suresh R``)
    and the other key a given name with a surname whose given name is similar (``Venkatesh
    Shetty``): in South India the initial is the father's or the village's name, not a surname's."""
    if not other_last or len(other_first) <= 1 or len(other_last) <= 1:
        return False
    if len(first) == 1 and len(last) > 1:
        return _same_given(last, other_first)
    return len(last) == 1 and len(first) > 1 and _same_given(first, other_first)


def _same_given(a: str, b: str) -> bool:
    """One given name, perhaps in another romanisation (`_sound`) or with two letters swapped
    (``Ramseh``), not one letter off: with only an initial beside it to compare, ``Rajesh`` is
    not ``Rakesh`` (two common names; audit 4 found ``K RAJESH`` joined to ``Rakesh C``)."""
    if a == b:
        return True
    if len(a) < 3 or len(b) < 3:
        return False
    return _sound(a) == _sound(b) or (len(a) == len(b) and sorted(a) == sorted(b) and _within_one_edit(a, b))


def _similar_or_same(a: str, b: str) -> bool:
    """An initial against a name (`names_similar`), or two names that are one (`_same_given`)."""
    return names_similar(a, b) if len(a) == 1 or len(b) == 1 else _same_given(a, b)


def _within(a: str, b: str) -> bool:
    """True when the longer key starts with the shorter's given name and its next name, and holds
    its other tokens in order (a surname left off after a middle name: ``Anil Kumar`` / ``Anil
    Kumar Yadav``); similar tokens (`names_similar`) count. Not a name the longer ends with
    (``Kumar Yadav``): that fits every brother of the family, and would join them through it.
    """
    short, long_ = a.split(KEY_JOIN), b.split(KEY_JOIN)
    if len(short) > len(long_):
        short, long_ = long_, short
    if len(short) == len(long_) or len(short[0]) <= 1 or len(short[-1]) <= 1:
        return False
    if not (names_similar(short[0], long_[0]) and names_similar(short[1], long_[1])):
        return False
    at = 2
    for token in short[2:]:
        while at < len(long_) and not names_similar(token, long_[at]):
            at += 1
        if at == len(long_):
            return False
        at += 1
    return True


def name_groups(weights: Mapping[str, int]) -> dict[str, str]:
    """Name key (`resolver.names.name_key`) -> the label of its person; a function of the weighted keys.

    Names are compared within their script only (`script_of`): ``李颖`` and ``王芳`` are two
    people as ``Li Ying`` and ``Wang Fang`` are, but ``सुनीता वर्मा`` beside ``Rahul Verma``
    cannot be read without transliteration, so it is no evidence of a second person. The keys
    of the script `compared` keeps are grouped as below; every other key joins the heaviest
    group (total weight, then smallest label), as a weak key does, and never bridges two.

    Keys with a first name and a surname are grouped by `same_person`, transitively, so a
    swapped order or a typo stays one person; the label is the smallest key of the group.
    A *weak* key (an initial, or one token: `weak_key`) fits many people, so it never
    bridges two groups: one-token names join the heaviest group they fit (total weight, then
    smallest label), then initials (and a given name with initials only, ``Suresh R``) do the
    same, through a name with a surname where one fits
    (`_fit`); weak keys that fit no group are grouped among themselves.
    """
    for k in weights:
        if not k.isascii():
            kept = compared(weights)
            if len(kept) == len(weights):
                break
            label = _groups(kept)
            totals: dict[str, int] = {}
            for k2, grp in label.items():
                totals[grp] = totals.get(grp, 0) + kept[k2]
            heaviest = min(totals, key=lambda grp: (-totals[grp], grp))
            for k2 in weights:
                label.setdefault(k2, heaviest)
            return label
    return _groups(weights)


def compared(weights: Mapping[str, int]) -> Mapping[str, int]:
    """The keys of `weights` whose names can tell people apart: those of one script (`script_of`).

    Two names of one script are compared (``李颖`` / ``王芳``); names of two scripts cannot be
    without transliteration (``सुनीता वर्मा`` / ``Rahul Verma`` may be one person's WhatsApp
    name and form name, or two people), so only one script's names are read: the one whose
    names make the most people (name groups), then the heaviest, then Latin, then by name.
    Returns `weights` itself when all its keys are of one script (nearly always).
    """
    for k in weights:  # nearly always all ASCII, one script (`script_of`): no grouping needed
        if not k.isascii():
            break
    else:
        return weights
    by_script: dict[str, dict[str, int]] = {}
    for k, n in weights.items():
        by_script.setdefault(script_of(k), {})[k] = n
    if len(by_script) < 2:
        return weights

    def rank(script: str) -> tuple[int, int, bool, str]:
        keys = by_script[script]
        return -len(set(_groups(keys).values())), -sum(keys.values()), script != "", script

    return by_script[min(by_script, key=rank)]


def unread(weights: Mapping[str, int]) -> int:
    """The weight of the names `compared` leaves out: names in another script, not compared."""
    if all(k.isascii() for k in weights):
        return 0
    kept = compared(weights)
    return sum(n for k, n in weights.items() if k not in kept)


def _groups(weights: Mapping[str, int]) -> dict[str, str]:
    """`name_groups` of keys of one script."""
    tiers: tuple[list[str], list[str], list[str]] = ([], [], [])
    for k in weights:
        tiers[name_tier(k)].append(k)
    strong, singles, initials = tiers
    strong.sort()
    singles.sort()
    initials.sort()
    label = grouped(strong, {}, weights, same_person, _transitive)  # never two generations: ``Sr.`` / ``Jr.``
    for weak in (singles, initials):
        if not weak:
            continue
        totals: dict[str, int] = {}
        for k, grp in label.items():
            totals[grp] = totals.get(grp, 0) + weights[k]
        order = sorted(totals, key=lambda grp: (-totals[grp], grp))
        members: dict[str, list[str]] = {grp: [] for grp in order}
        for k, grp in label.items():
            members[grp].append(k)
        alone: list[str] = []
        for k in weak:
            fit = _fit(k, order, members)
            if fit is None:
                alone.append(k)
            else:
                label[k] = fit
                if MARK in k:  # a generation placed: another goes elsewhere (`_fit`)
                    members[fit].append(k)
        grouped(alone, label, weights, same_person, _transitive)
    return label


def one_group(keys: Collection[str]) -> bool:
    """A quick, sufficient test that `name_groups` puts all of `keys` in one group (whatever the weights).

    True when one key of the first tier present (names with a surname not an initial, else one-token
    names, else initials) is `same_person` as every other key: that tier groups around it
    transitively and every weaker key fits its only group. False says nothing: the keys may
    still be one group (through a chain of similar names); compute `name_groups` then; so for two generations.
    """
    if several_generations(keys):
        return False
    hub = ""
    hub_tier = 3
    for k in keys:
        tier = name_tier(k)
        if tier < hub_tier:
            hub, hub_tier = k, tier
            if tier == 0:
                break
    for k in keys:  # a loop, not all(): no generator per call
        if k != hub and not same_person(hub, k):
            break
    else:
        return True
    return False


def name_tier(key: str) -> int:
    """How `name_groups` reads a key (`weak_key`): 0 a given name with a surname (or a name written
    without a space, ``李颖``), 1 one token, 2 an initial or a given name with initials only
    (``a_venkatesh``, ``suresh_r``: `_initialled`)."""
    first, _, last = key.partition(KEY_JOIN)
    return 2 if len(first) <= 1 or _initial_last(bare(last)) else 0 if last or _whole(key) else 1


def _initial_last(rest: str) -> bool:
    """True when `rest`, a key after its given name, ends in an initial (``suresh_r``): a given
    name and initials fit many people, so such a key is grouped as initials are (`_groups`)."""
    return bool(rest) and rest[-2:-1] in ("", KEY_JOIN)


def _fit(weak: str, order: list[str], members: Mapping[str, list[str]]) -> str | None:
    """The first group of `order` that weak key `weak` can be one person with; None when none.

    An initial with a surname (``v_verma``) is matched against names with a surname first:
    ``V. Verma`` is Varun Verma, not the ``Vikram`` of the heavier group (``Vikram Saxena``).
    Only when no group has a name with a surname it fits does a first name alone decide; never another generation's.
    """
    order = [grp for grp in order if not mixed(weak, members[grp])] if MARK in weak else order
    if KEY_JOIN in weak:
        for grp in order:
            if any(KEY_JOIN in m and same_person(weak, m) for m in members[grp]):
                return grp
    return next((grp for grp in order if any(same_person(weak, m) for m in members[grp])), None)


def _transitive(keys: list[str], label: dict[str, str]) -> dict[str, str]:
    """Group sorted `keys` by `same_person`, transitively, into `label` (smallest key labels)."""
    own = {k: k for k in keys}
    if len(keys) < 2:
        label.update(own)
        return label
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            if own[a] != own[b] and same_person(a, b):
                old, new = max(own[a], own[b]), min(own[a], own[b])
                for c in keys:
                    if own[c] == old:
                        own[c] = new
    label.update(own)
    return label


#: How one sound of an Indian name is romanised several ways, folded to one spelling (in order).
_ROMANISED = (
    ("ksh", "x"), ("chh", "c"), ("sh", "s"), ("th", "t"), ("dh", "d"), ("bh", "b"), ("ph", "f"), ("kh", "k"),
    ("gh", "g"), ("ch", "c"), ("ee", "i"), ("oo", "u"), ("aa", "a"), ("w", "v"), ("z", "j"), ("q", "k"),
)  # fmt: skip
_DOUBLED = re.compile(r"(.)\1+")
#: Tokens already folded by `_sound`; cleared when full.
_SOUNDS: dict[str, str] = {}


def clear_memos() -> None:
    """Empty `_sound`'s memo (a pure function of its key: only later calls cost more; `resolver.compaction`)."""
    _SOUNDS.clear()


def _sound(token: str) -> str:
    """`token` with its romanisation variants folded: doubled letters single, a final ``y`` an ``i``."""
    found = _SOUNDS.get(token)
    if found is None:
        found = token
        for spelling, sound in _ROMANISED:
            if spelling in found:
                found = found.replace(spelling, sound)
        found = _DOUBLED.sub(r"\1", found)
        if found.endswith("y"):
            found = found[:-1] + "i"
        if len(_SOUNDS) >= 50_000:
            _SOUNDS.clear()
        _SOUNDS[token] = found
    return found


def _pet_forms() -> dict[str, frozenset[str]]:
    """Pet form -> the names it is a form of (`NICKNAME_TABLE`), folded (`_sound`)."""
    found: dict[str, set[str]] = {}
    for full, *pets in NICKNAME_TABLE:
        for pet in pets:
            found.setdefault(pet, set()).add(_sound(full))
    return {pet: frozenset(fulls) for pet, fulls in found.items()}


def _nicknamed(a: str, b: str) -> bool:
    """True when given names `a` and `b` are one name and its pet form, or two pet forms of one
    name (`NICKNAME_TABLE`; ``Bill`` / ``William``, ``Liz`` / ``Beth``); folded as `_sound` does."""
    na, nb = _NICKNAMES.get(a), _NICKNAMES.get(b)
    if na is None and nb is None:
        return False
    return not (na or {_sound(a)}).isdisjoint(nb or {_sound(b)})


_NICKNAMES = _pet_forms()


def names_similar(a: str, b: str) -> bool:
    """True when two name tokens could be the same person's (symmetric).

    Equal; an initial of the other; a prefix of three letters or more; the same name in
    another romanisation (`_sound`: ``Lakshmi`` / ``Laxmi``, ``Deepak`` / ``Dipak``); one edit
    or one transposition apart; or, from five letters, the same letters in another order with
    the same first letter (two transpositions).
    """
    if a == b:
        return True
    if len(a) == 1 or len(b) == 1:
        return a[0] == b[0]
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if long_.startswith(short) and len(short) >= 3:
        return True
    if len(short) >= 3 and _sound(a) == _sound(b):
        return True  # one name in two romanisations: Lakshmi / Laxmi, Pooja / Puja, Sanjay / Sanjai
    if len(long_) - len(short) > 1 or len(short) < 3:
        return False
    if _within_one_edit(short, long_):
        return True
    # Two slips of the fingers in a longer name ("Ajrun" / "Arujn", both "Arjun" mistyped)
    # keep its letters and its first letter.
    return len(a) == len(b) >= 5 and a[0] == b[0] and sorted(a) == sorted(b)


def _within_one_edit(short: str, long_: str) -> bool:
    if len(short) == len(long_):
        n = len(short)
        i = 0
        while i < n and short[i] == long_[i]:  # the first difference
            i += 1
        if i >= n:
            return False  # equal: not one edit
        if short[i + 1 :] == long_[i + 1 :]:
            return True  # one substitution
        # One transposition ("Rvai" / "Ravi") is one slip of the fingers.
        return i + 1 < n and short[i] == long_[i + 1] and short[i + 1] == long_[i] and short[i + 2 :] == long_[i + 2 :]
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
