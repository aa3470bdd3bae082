"""Junk identifiers: placeholders people type when they do not want to give the real thing.

Junk is recorded on the event (so it can be explained and counted) but never links anything.
Built-in rules cover the usual placeholders; `ResolverConfig.junk_values` and
`junk_patterns` add exact values and regular expressions (full match).

Two kinds of placeholder are judged on the text as typed, before any normalisation, because
normalising would destroy what gives them away:

* masked values, as CRMs, marketplaces and agent screens show them: ``98******10``,
  ``+91 98XXXXXX10``, ``jam***@domain.com``, ``j.....@x.com``. Dropping the mask would leave a short number
  (or, worse, ``X`` read as a keypad letter) and a syntactically valid address that many
  different people share;
* words typed into a required field: ``n/a``, ``none``, ``not provided``, ``-``.

A phone that is a valid number can still be no one's: `JunkRules.phone` is the one rule for
that (a service's number, a patterned placeholder, a configured value), applied to every
number that would otherwise link.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["JunkRules", "patterned_phone"]

#: Placeholders no pattern below catches: a typed run repeated as two halves.
_JUNK_PHONE_DIGITS = frozenset({"1234512345", "9876598765"})
#: Every ascending and descending run of digits, 9 wrapping to 0, is a substring of one of these
#: (national significant numbers have at most 17 digits).
_ASCENDING = "0123456789" * 3
_DESCENDING = "9876543210" * 3
_RUNS_OF_THREE = frozenset(run[i : i + 3] for run in (_ASCENDING, _DESCENDING) for i in range(10))
#: One digit seven times or more in a row (``9800000000``, ``9811111111``).
_SAME_DIGIT_RUN = re.compile(r"(\d)\1{6}")
_JUNK_LOCALS = frozenset(
    {
        "test", "testing", "tester", "na", "n.a", "n/a", "noemail", "no.email", "no-email", "no_email",
        "nomail", "none", "null", "nil", "no", "nope", "abc", "xyz", "xxx", "xxxx", "asdf", "qwerty",
        "dummy", "unknown", "noreply", "no-reply", "donotreply", "do-not-reply", "email", "mail",
        "guest", "customer", "sample", "fake",
    }
)  # fmt: skip
_JUNK_DOMAINS = frozenset(
    {
        "test.com", "example.com", "example.org", "example.net", "na.com", "noemail.com", "nomail.com",
        "none.com", "abc.com", "xyz.com", "test.in", "domain.com", "invalid",
    }
)  # fmt: skip
_JUNK_LOCAL_PREFIXES = ("noemail", "nomail", "no.email", "no-email", "dummy", "test123")
#: Local parts that, read by letters and digits alone (``not.available``, ``walk-in``), are a
#: refusal or what staff type for a walk-in without one: the placeholder words of a name or a
#: required field (`_PLACEHOLDER_WORDS`, `_PLACEHOLDER_NAME_WORDS`) of more than one word, which
#: no one's own address is. Since s37 (audit A6): a dummy address typed at a kiosk for two walk-ins
#: with their own phones fused them.
_JUNK_LOCAL_WORDS = frozenset(
    {
        "notavailable", "notapplicable", "notprovided", "notgiven", "noemailid", "noemailaddress", "walkin",
        "walkincustomer", "walkinguest", "nocustomeremail", "customerdeclined",
        # a refusal typed as the local part (audit s40: ``declined@declined.com`` fused three walk-ins at 0.85)
        "declined", "refused", "optout", "optedout", "noneprovided", "notgivenbycustomer",
    }
)  # fmt: skip
#: Words typed into a required field, compared with letters and digits only (``N/A`` is ``na``).
_PLACEHOLDER_WORDS = frozenset(
    {
        "na", "none", "nil", "null", "no", "nope", "unknown", "notprovided", "notgiven", "notavailable",
        "notapplicable", "noemail", "nomail", "noemailid", "nophone", "nonumber", "nomobile", "refused",
        "declined", "test", "dummy", "undefined",
    }
)  # fmt: skip
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
#: Words typed for a name by someone who does not know it or will not give it (``Guest``,
#: ``Walk-in Customer``, ``Test User``, ``NA``), and forms of address or kinship a cashier or a
#: contact list uses instead of one (``Sir``, ``Madam``, ``Aunty``, ``Bhaiya``), and the salutations
#: of a letter or a message template (``Dear``, ``Valued Customer``, ``Respected Sir``), compared by
#: letters. A name of these words alone says nothing about who someone is.
_PLACEHOLDER_NAME_WORDS = frozenset(
    {
        "na", "none", "nil", "null", "no", "nope", "unknown", "notprovided", "notgiven", "notavailable",
        "refused", "declined", "test", "testing", "tester", "dummy", "undefined", "sample", "fake",
        "guest", "customer", "cust", "user", "client", "visitor", "walkin", "walk", "in", "new",
        "cash", "default", "anonymous", "anon", "noname", "name", "self", "owner", "xyz", "abc",
        "asdf", "qwerty", "sir", "madam", "maam", "mam", "mr", "mrs", "ms", "miss", "dr",
        "mom", "mum", "mummy", "mother", "dad", "daddy", "papa", "father", "bhai", "bhaiya", "didi",
        "aunty", "auntie", "uncle", "ji",
        "dear", "valued", "respected", "esteemed", "hello", "hi", "friend", "member", "patron", "shopper",
        "buyer", "consumer", "sirji", "madamji", "sahab", "saab", "sahib", "boss", "bro", "brother", "sister",
        # WhatsApp profile words that are no one's name: a blessing or a status (audit 4)
        "waheguru", "alhamdulillah", "subhanallah", "mashallah", "mashaallah", "inshallah", "inshaallah", "bismillah",
        "busy", "available", "blessed", "sleeping", "urgent",
    }
)  # fmt: skip
#: WhatsApp profile phrases that are no one's name, compared by their letters joined
#: (``Jai Shree Krishna``): each word alone may be a name (Krishna, Ram, Sai, Happy).
_PLACEHOLDER_NAME_PHRASES = frozenset(
    {
        "jaimatadi", "jaishreeram", "jaishriram", "jaishreekrishna", "jaishrikrishna", "radheradhe", "radhekrishna",
        "omsairam", "omnamahshivaya", "harharmahadev", "jaihind", "satsriakal", "jaijinendra", "ramram", "jaisiyaram",
        "praisethelord", "godisgreat", "godisgood", "happysoul", "liveandletlive", "keepsmiling", "behappy",
        "heythereiamusingwhatsapp", "atwork", "callsonly", "urgentcallsonly", "nocalls", "whatsapponly",
    }
)  # fmt: skip
#: Pet names (a family's name for a child, kept for life: ``Guddu``, ``Bunty``) and endearments
#: (``Jaanu``) that could be anyone's, none of them the name a person is known by on a record: not
#: a name on a WhatsApp profile (`JunkRules.profile_name_of`). Names that are also given names
#: (Dev, Sonu, Rinku, Dolly, Babu, Khushi, Raja) are not here: they may tell two people apart.
_PET_NAME_WORDS = frozenset(
    {
        "bunty", "bunti", "pinky", "pinki", "guddu", "guddi", "gudiya", "munna", "munni", "chintu", "chintoo",
        "babli", "bablu", "babloo", "bittu", "pappu", "golu", "chhotu", "chotu", "tinku", "pintu", "monu",
        "sweety", "sweetie", "cutie", "jaan", "jaanu", "janu", "shona", "baby", "honey", "rocky",
    }
)  # fmt: skip
#: Names already judged: most names repeat. Cleared when full, so memory stays flat.
_NAME_MEMO = 100_000
_UNSEEN = object()
#: A masked phone: masking symbols (an ellipsis among them), or a run of X or # standing for
#: digits (one ``x`` is an extension).
_PHONE_MASK = re.compile(r"[*\u2217\u2731\u2022\u25cf\u2026]|[xX]{2,}|#{2,}")
#: A masked address: masking symbols anywhere (an ellipsis among them), a run of x standing for
#: letters, or a run of dots before the ``@`` (``j.....@x.com``, ``ja...@gmail.com``: no real
#: address has two dots in a row, so they stand for hidden letters; ``gmail..com`` is a typo).
_EMAIL_MASK = re.compile(r"[*\u2217\u2731\u2022\u25cf\u2026]|x{4,}|\.{2,}(?=[^@]*@)")
#: A number as a spreadsheet shows it in scientific notation: ``9.87654321E+09``.
_SCIENTIFIC = re.compile(r"\s*[+-]?\d(?:\.\d+)?[eE][+-]?\d{1,2}\s*")
_JUNK_SOURCE_IDS = frozenset({"", "null", "none", "unknown", "undefined", "na", "n/a", "0", "-", "anonymous"})


class JunkRules:
    """Decides whether a normalised value is a placeholder. Pure and cheap: call per event."""

    __slots__ = ("_names", "_patterns", "_values")

    def __init__(self, values: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        self._values = frozenset(v.strip().lower() for v in values)
        self._patterns = tuple(re.compile(p) for p in patterns)
        self._names: dict[str, str | None] = {}

    def _configured(self, *candidates: str) -> bool:
        for value in candidates:
            if value in self._values:
                return True
            for pattern in self._patterns:
                if pattern.fullmatch(value):
                    return True
        return False

    def phone(self, national: str, e164: str, service: bool = False) -> bool:
        """True when a valid number is no person's own: the one rule for phones that would link.

        `national` is the national significant number (digits), `e164` the E.164 form, and
        `service` whether the number's type is a service's rather than a subscriber's (toll-free,
        premium-rate, shared-cost, universal access, voicemail or pager: ``1800 22 1234``; the
        phone normaliser reads the type from the numbering plan). Such a number is a company's
        line, typed by people who will not give their own. So is a number whose digits are a
        pattern (`patterned_phone`: ``9876543210``, ``9898989898``), or a configured value.
        """
        if service or national in _JUNK_PHONE_DIGITS or patterned_phone(national) or fictional_nanp(e164):
            return True
        return bool(self._values or self._patterns) and self._configured(national, e164, e164[1:])

    def phone_text(self, raw: str) -> bool:
        """True when a typed phone is a mask or a placeholder word, not a number (``98******10``, ``n/a``).

        Judged on the raw text, before its digits are taken: ``+91 98XXXXXX10`` has the digits
        of no one's number, and neither has ``9.87654321E+09``, a number a spreadsheet showed in
        scientific notation (its last digits rounded away; its digits run together would make
        another, valid number). Text of punctuation alone (``-``, ``...``) is a placeholder too.
        """
        if _PHONE_MASK.search(raw) or _SCIENTIFIC.fullmatch(raw):
            return True
        return _placeholder(raw)

    def email_text(self, text: str) -> bool:
        """True when a typed address (trimmed, lower case) is masked or a placeholder word.

        Judged before the syntax check: ``j***@g***.com`` is not a mistyped address but a hidden
        one, and ``n/a`` is a refusal. Both are junk, not invalid.
        """
        if _EMAIL_MASK.search(text):
            return True
        return "@" not in text and _placeholder(text)

    def email(self, address: str) -> bool:
        """True when the normalised address (``local@domain``) is a placeholder."""
        local, _, domain = address.partition("@")
        if local in _JUNK_LOCALS or domain in _JUNK_DOMAINS or local.startswith(_JUNK_LOCAL_PREFIXES):
            return True
        if _NOT_ALNUM.sub("", local) in _JUNK_LOCAL_WORDS:
            return True
        label = domain.partition(".")[0]
        if len(label) > 2 and _one_char(label):  # xxxx.com, aaa.in: a typed filler, not a provider
            return True
        if local.isascii() and local.isdigit() and patterned_phone(local):  # 1234567890@gmail.com, 123@...
            return True
        if len(local) > 2 and _one_char(local.replace(".", "")):
            return True
        return bool(self._values or self._patterns) and self._configured(address)

    def name(self, name: str) -> bool:
        """True when a name is a placeholder: no letters at all, or only placeholder words.

        ``Guest``, ``Walk-in Customer``, ``Test User``, ``N/A``, ``Sir``, ``xxx``, ``12345``, an
        emoji: none of them tells people apart or names anyone, so the evidence carries no name
        (it never splits a phone, counts as a person for a hub or lowers a confidence). A name
        with one real word (``Guest Ravi``, ``Asha Aunty``) is a name.
        """
        return self.name_of(name) is None

    def clear_cache(self) -> None:
        """Empty `name_of`'s memo (a pure function of its key: only later calls cost more)."""
        self._names.clear()

    def name_of(self, raw: str) -> str | None:
        """The name evidence carries for a typed name: trimmed; None when blank or a placeholder (`name`)."""
        found = self._names.get(raw, _UNSEEN)
        if found is not _UNSEEN:
            return found  # type: ignore[return-value]
        memo = self._names
        text = raw.strip()
        found = None if not text or self._placeholder_name(text) else text
        if len(memo) >= _NAME_MEMO:
            memo.clear()
        memo[raw] = found
        return found

    def profile_name_of(self, raw: str) -> str | None:
        """The name evidence carries for a WhatsApp profile name: `name_of`, and None for a pet name.

        The profile of a phone's own WhatsApp account is a name its owner chose, not one typed for
        them: a pet name there (``Guddu``, ``Bunty 😊``, ``Sweety ji``: its words pet names or
        placeholder words) could be anyone's, so it names no one in particular, and on a phone a
        CRM knows as ``Srinivas Krishnan`` it is no evidence of a second person (the household
        rules split a phone by its names: `resolver.households`). The chat then carries no name,
        as a template without one does. Only WhatsApp's: typed on an order or at a kiosk, a pet
        name is what someone gave for themselves or for another person, and stays a name.
        """
        found = self.name_of(raw)
        if found is None:
            return None
        for token in found.lower().split():
            word = token if token.isalpha() else "".join(ch for ch in token if ch.isalpha())
            if word and word not in _PET_NAME_WORDS and word not in _PLACEHOLDER_NAME_WORDS:
                return found
        return None

    def _placeholder_name(self, name: str) -> bool:
        lower = name.lower()
        filler = True  # so far every word is a placeholder word or a filler
        for token in lower.replace(".", " ").replace("/", " ").split():
            # Its letters: most tokens are letters only, and need no pass over their characters.
            word = token if token.isalpha() else "".join(ch for ch in token if ch.isalpha())
            if not word:
                continue
            # A letter repeated (``xxx``, ``a``) is a filler; a Han or Hangul syllable (``丽丽``) is a name.
            if word not in _PLACEHOLDER_NAME_WORDS and not (_one_char(word) and not _syllabic(word[0])):
                filler = False
                break
        if filler:  # no word at all, or only placeholders and fillers
            return True
        # A phrase or status for a name (``Jai Shree Krishna``, ``Busy``): its letters run together.
        letters = lower if lower.isalpha() else "".join(ch for ch in lower if ch.isalpha())
        if letters in _PLACEHOLDER_NAME_PHRASES:
            return True
        return bool(self._values or self._patterns) and self._configured(lower)

    def source_id(self, source_id: str) -> bool:
        """True when a touchpoint record id is a placeholder (``null``, ``unknown``...)."""
        value = source_id.strip().lower()
        if value in _JUNK_SOURCE_IDS:
            return True
        return bool(self._values or self._patterns) and self._configured(value)


def fictional_nanp(e164: str) -> bool:
    """True for a North American number that is no one's: ``555-0100`` to ``555-0199`` in any area code,
    reserved for fiction (films, examples, forms: ``(415) 555-0100``), and ``555-1212``, directory
    assistance. The numbering plan's metadata calls them valid; people who will not give their own
    number type them (audit s40: four walk-ins on ``(415) 555-0100`` were one customer)."""
    if len(e164) != 12 or not e164.startswith("+1") or e164[5:8] != "555":
        return False
    return e164[8:10] == "01" or e164[8:] == "1212"


def patterned_phone(national: str) -> bool:
    """True when a national significant number's digits are a pattern typed for a placeholder.

    Numbers of seven digits or more; a shorter one only when all its digits are one or a run.
    Any of these (a uniformly drawn valid Indian mobile number meets one about 4 times in a
    million, nearly all of them the last rule; the first four together about 2 in ten million):

    * a run, ascending or descending by one with 9 wrapping to 0, of all its digits or all but
      the first or the last (``9876543210``, ``9012345678``, ``8765432109``, ``9123456789``);
    * a block of one to three digits repeated (``9999999999``, ``9898989898``, ``9090909090``,
      ``1231231231``);
    * pairs of one digit each, the pairs a run (``9988776655``, ``1122334455``);
    * at most two runs of one digit (``9999988888``, ``9000000000``, ``9999999990``);
    * one digit seven times or more in a row (``9800000000``, ``9811111111``).
    """
    size = len(national)
    if size < 7:  # a short number (a few small countries) has too few digits to tell
        return national in _ASCENDING or national in _DESCENDING or _one_char(national)
    # Each test starts with a comparison of a few digits that every number it catches passes, so
    # most numbers are cleared in a few hundred nanoseconds (this runs once per new number).
    if national[1:4] in _RUNS_OF_THREE:  # digits 1 to 3 lie inside each of the runs tested
        for digits in (national, national[1:], national[:-1]):
            if digits in _ASCENDING or digits in _DESCENDING:
                return True
    last = national[-1]
    for block in (1, 2, 3):
        if last == national[-1 - block] and national[block:] == national[:-block]:
            return True
    first = national[0]
    if first == national[1]:
        pairs = national[::2]
        if size % 2 == 0 and pairs == national[1::2] and (pairs in _ASCENDING or pairs in _DESCENDING):
            return True
    if (first == national[1] or last == national[-2]) and _one_char(national.lstrip(first)):
        return True
    if size <= 12 and national[size // 2 - 1] != national[size // 2]:
        return False  # up to 12 digits, a run of seven covers these two
    return _SAME_DIGIT_RUN.search(national) is not None


def _syllabic(ch: str) -> bool:
    """True for a character that is a syllable or a word of its own (Han, kana, Hangul): ``李 颖``
    and ``丽丽`` are names, where ``a b`` and ``xxx`` are not."""
    return not ch.isascii() and unicodedata.name(ch, "").startswith(("CJK", "HANGUL", "HIRAGANA", "KATAKANA"))


def _one_char(text: str) -> bool:
    """True when `text` repeats one character (or is empty): ``len(set(text)) <= 1`` without the set."""
    return not text or text.count(text[0]) == len(text)


def _placeholder(text: str) -> bool:
    """A word typed instead of a value (``N/A``, ``none``), or punctuation alone (``-``)."""
    if not text or text.isspace():
        return False
    word = _NOT_ALNUM.sub("", text.lower())
    return word == "" or word in _PLACEHOLDER_WORDS
