"""Phone numbers to E.164, fast: canonical digits first, a cache on them, the library as fallback.

`PhoneNormaliser.normalise(raw)` returns a `Phone`: the E.164 form and a status:

* ``valid``: a valid number; only these ever link.
* ``invalid``: not a valid number (kept on the event with its status, never linked).
* ``junk``: a valid number that is no person's own (`resolver.junk.JunkRules.phone`: a
  service's number such as toll-free ``1800 22 1234``, a patterned placeholder such as
  ``9876543210`` or ``9898989898``, configured values), a masked number (``98******10``,
  ``+91 98XXXXXX10``) or a placeholder word (``n/a``).

Digits without ``+`` that are no valid number of the default region, 11 to 15 of them and
not starting with a trunk ``0``, are read as an international number when they are one with
a ``+`` in front (``971502846193`` is ``+971502846193``, ``14155550132`` is ``+14155550132``),
as a WhatsApp id is. A number valid in the default region stays that region's
(``6591234567`` is Indian, not Singaporean).

An extension (``+1-215-555-0125 x2291``, ``022 2345 6789 extn 12``, ``;ext=12``) is not part
of the number: it is cut off before the digits are taken, so the result is the main line
(``+12155550125``), never the digits run together (``+121555501252291``). A main line is
linkable like any number; whether several people behind one is a shared line is for the
linking rules to decide, not for normalisation.

Exports: a number a spreadsheet wrote as a decimal (``9845071623.0``) is read without its
``.0``; one it showed in scientific notation (``9.84507162E+09``) lost digits and is junk; a
field holding two numbers (``98450 71623 / 97318 62045``, or ``9845071623 9731862045``:
spaces alone, when the whole is no number and each part is one) gives its first.

Cost model (see FAUST_NOTES): a `phonenumbers` parse with validation is ~30-60 us, while most
raw spellings of one number differ only in punctuation. So we first reduce the raw text to a
canonical key (``+`` and digits, international prefix ``00`` folded into ``+``), cache on that
key, and for the default region's own numbers check validity against the library's metadata
patterns directly (a compiled regex, ~1 us). Anything else falls back to the library.
Invariant: the fast path only answers ``valid`` when the library would (tested), otherwise it
defers to the library, so the result never depends on which path ran.
"""

from __future__ import annotations

import re
from typing import NamedTuple, cast

import phonenumbers

from resolver.junk import JunkRules
from resolver.typed_text import shown

__all__ = ["Phone", "PhoneNormaliser", "canonical_digits", "split_extension"]

_new_phone = tuple.__new__

_NOT_DIGITS = re.compile(r"[^\d+]")
#: Anything but digits, spacing and the punctuation of plain numbers: only such text can hold
#: an extension, a mask or a word, so plain spellings (nearly all) skip those checks.
_SPECIAL = re.compile(r"[^\d\s+().\-/]")
#: An extension marker and its digits, as `phonenumbers` reads them (its _EXTN_PATTERNS_FOR_PARSING):
#: ``;ext=``, ``ext``/``extn``/``extension``/``x`` not inside a word, ``#``, ``~``, dialler pauses.
_EXTENSION = re.compile(
    r"(?:;\s*ext=|(?<![a-z])(?:e?xt(?:ension|n)?|x|int)(?![a-z])|[#~]|,,|;)\s*[:.]?[\s,-]*(\d{1,9})",
    re.IGNORECASE,
)
_SPACING = re.compile(r"[\s().\-/]")
#: Separates two numbers typed into one field.
_LIST = re.compile(r"\s*[/,;|]\s*|\s+or\s+", re.IGNORECASE)
#: Number types that are a service's line, not a person's: junk (`JunkRules.phone`'s ``service``).
_SERVICE_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.UAN,
        phonenumbers.PhoneNumberType.VOICEMAIL,
        phonenumbers.PhoneNumberType.PAGER,
    }
)
#: The metadata descriptions of those types (for the fast path's test of the default region).
_SERVICE_DESCS = ("toll_free", "premium_rate", "shared_cost", "uan", "voicemail", "pager")
#: Digits without "+" read as an international number when they are none of the default region.
_INTERNATIONAL_DIGITS = (11, 15)
#: A person's WhatsApp jid: the number, a linked device's number after a colon, the user server
#: (``919845071623:12@s.whatsapp.net``, whatsapp-web.js's ``919845071623@c.us``).
_PERSON_JID = re.compile(r"\+?(\d+)(?::\d+)?@(?:s\.whatsapp\.net|c\.us)", re.ASCII)
#: Each of two numbers separated by spaces alone has at least this many digits.
_MIN_PART_DIGITS = 7
#: A number a spreadsheet exported as a decimal: ``9845071623.0`` is ``9845071623``.
_FLOAT = re.compile(r"\s*(\+?\d{7,})\.0+\s*")


class Phone(NamedTuple):
    """A normalised phone. `e164` is ``+`` and digits when parseable, else the canonical key.

    A named tuple, not a frozen dataclass: one is built per new number, and a tuple is built in C.
    """

    e164: str
    status: str  # "valid" | "invalid" | "junk"

    @property
    def linkable(self) -> bool:
        return self.status == "valid"


def split_extension(raw: str) -> tuple[str, str]:
    """The number and its extension as typed: ``("+1-215-555-0125 ", "2291")`` for ``... x2291``.

    The first extension marker that follows some digits of the number cuts the text; what
    follows the extension's digits (``(office)``) is dropped. ``("raw", "")`` without one.
    A marker before any digit (``Ph# 98450 71623``) is not an extension.
    """
    return _split_special(raw) if _SPECIAL.search(raw) is not None else (raw, "")


def _split_special(raw: str) -> tuple[str, str]:
    """`split_extension` of a text already known to hold more than digits and punctuation."""
    for match in _EXTENSION.finditer(raw):
        head = raw[: match.start()]
        if any(ch.isdigit() for ch in head):
            return head, match.group(1)
    return raw, ""


def canonical_digits(raw: str, international_prefix: str = "00") -> str:
    """Reduce a typed number to ``+digits`` (international) or ``digits`` (national).

    A ``+`` anywhere before the first digit, e.g. ``(+91) 98...``, marks an international
    number; a leading international prefix (``00`` in India) does too. An extension is cut
    off first (`split_extension`), so its digits never join the number's; letters are
    dropped. This key only decides what to cache on; validity is checked afterwards.
    """
    return _canonical(split_extension(raw)[0], international_prefix)


def _canonical(number: str, international_prefix: str) -> str:
    """`canonical_digits` of a text without an extension."""
    # Digits alone (``\d`` is Unicode category Nd, as `str.isdecimal`) need no substitution.
    text = number if number.isdecimal() else _NOT_DIGITS.sub("", number)
    plus = text.startswith("+")
    digits = text.replace("+", "")
    if not plus and international_prefix and digits.startswith(international_prefix):
        digits = digits[len(international_prefix) :]
        plus = True
    return "+" + digits if plus else digits


class PhoneNormaliser:
    """Caches results per canonical key (bounded; cleared when full, so memory stays flat)."""

    __slots__ = (
        "_cache",
        "_cache_size",
        "_cc",
        "_cc_prefix",
        "_cc_strip",
        "_general",
        "_intl_prefix",
        "_junk",
        "_lengths",
        "_national_prefix",
        "_region",
        "_services",
        "_types",
    )

    def __init__(self, region: str = "IN", junk: JunkRules | None = None, cache_size: int = 500_000) -> None:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper())
        if metadata is None:
            raise ValueError(f"unknown phone region {region!r}")
        self._region = region.upper()
        self._junk = junk or JunkRules()
        #: canonical key -> its result; a valid number's as its E.164 string alone (no tuple each)
        self._cache: dict[str, Phone | str] = {}
        self._cache_size = cache_size
        self._cc = str(metadata.country_code)
        self._cc_prefix = "+" + self._cc
        prefix = metadata.international_prefix or ""
        self._intl_prefix = prefix if prefix.isdigit() else ""
        self._national_prefix = metadata.national_prefix or ""
        # Whether a key like "919845071623" (the country code typed without "+") may take the
        # fast path: only when the library's prefix rules are plain digits we can test exactly.
        for_parsing = metadata.national_prefix_for_parsing or ""
        self._cc_strip = (
            bool(self._intl_prefix)
            and for_parsing in ("", self._national_prefix)
            and (self._national_prefix == "" or self._national_prefix.isdigit())
        )
        general = metadata.general_desc
        assert general is not None, "phonenumbers metadata always has a general description"
        self._general = re.compile(general.national_number_pattern or r"(?!)")
        self._lengths = frozenset(general.possible_length or ())
        self._types = tuple(
            re.compile(desc.national_number_pattern)
            for desc in (metadata.mobile, metadata.fixed_line)
            if desc is not None and desc.national_number_pattern
        )
        services = [
            desc.national_number_pattern
            for desc in (getattr(metadata, name) for name in _SERVICE_DESCS)
            if desc is not None and desc.national_number_pattern
        ]
        self._services = re.compile("|".join(f"(?:{p})" for p in services)) if services else None

    @property
    def region(self) -> str:
        return self._region

    def normalise(self, raw: str) -> Phone:
        """The E.164 form and status of a typed number (default region applies without ``+``).

        A masked number or a placeholder word is ``junk`` with the typed text, spacing and
        punctuation removed, as its value (``98******10``); an extension is cut off. Text that
        is not ASCII is read as shown (`resolver.typed_text.shown`: full-width ``+91`` is ``+91``, bidi
        and zero-width characters go).
        """
        if not raw.isascii():
            raw = shown(raw)
        if ".0" in raw:  # a substring test first: the pattern is for the few that hold one
            spreadsheet = _FLOAT.fullmatch(raw)
            if spreadsheet is not None:
                raw = spreadsheet.group(1)
        if _SPECIAL.search(raw) is not None:  # one search: plain spellings skip what follows
            if self._junk.phone_text(raw):
                return Phone(_SPACING.sub("", raw), "junk")
            raw = _split_special(raw)[0]
        found = self._cached(_canonical(raw, self._intl_prefix))
        if found.status == "invalid" and _LIST.search(raw) is not None:
            # Two numbers in one field ("98450 71623 / 97318 62045"): the first is the number.
            first = self.normalise(_LIST.split(raw, 1)[0])
            if first.status != "invalid":
                return first
        if found.status == "invalid":
            return self._spaced(raw) or found
        return found

    def mobile(self, raw: str) -> Phone | None:
        """`normalise` of `raw` when it is a valid mobile number of this region (not a landline, nor a
        number that may be either); else None."""
        found = self.normalise(raw)
        if found.status != "valid":
            return None
        kind = phonenumbers.number_type(phonenumbers.parse(found.e164))
        return found if kind == phonenumbers.PhoneNumberType.MOBILE else None

    def _spaced(self, raw: str) -> Phone | None:
        """The first of two or more numbers separated by spaces alone (``9845071623 9731862045``).

        Only when every part is a number of its own (valid or a placeholder) of at least seven
        digits, so a number written in groups (``98450 71623``) is never split. None otherwise.
        """
        parts = raw.split()
        if len(parts) < 2 or any(sum(ch.isdigit() for ch in part) < _MIN_PART_DIGITS for part in parts):
            return None
        found = [self.normalise(part) for part in parts]
        return found[0] if all(phone.status != "invalid" for phone in found) else None

    def international(self, digits: str) -> Phone:
        """A number given in international digits without ``+`` (a WhatsApp id).

        Digits that are no valid international number but a valid number of the default
        region (``9845071623``, ``09845071623``: some WhatsApp providers send national
        numbers) are that number; a placeholder stays a placeholder. A jid is its number when
        it is a person's (``919845071623@c.us``, ``919845071623:12@s.whatsapp.net``, a linked
        device's), and invalid otherwise (a group, a linked id ``@lid``, a broadcast list).
        """
        text = digits.strip().lstrip("+")
        if not text.isdigit() or not text.isascii():
            if "@" in text:
                # A jid: a person's is their number; a group's (@g.us), a linked id (@lid: an
                # opaque number), a broadcast list or a channel is nobody's phone, whatever its digits.
                jid = _PERSON_JID.fullmatch(text.lower())
                return self.international(jid.group(1)) if jid else Phone("+" + text, "invalid")
            return self.normalise("+" + text)
        # Plain digits are already their canonical key ("+" and digits): skip the reduction.
        found = self._cached("+" + text)
        if found.status == "invalid":
            national = self.normalise(text)
            if national.status == "valid":
                return national
        return found

    def clear_cache(self) -> None:
        """Empty the cache (a pure function of its keys: only later calls cost more)."""
        self._cache.clear()

    def _cached(self, key: str) -> Phone:
        """The result for a canonical key, computed once (the cache is bounded: cleared when full)."""
        held = self._cache.get(key)
        if held is None:
            hit = self._compute(key)
            if hit.e164 == key:
                # Most keys are their own E.164 form (a WhatsApp id, a number with its code): one
                # string for both, not two (about 27 bytes per identifier at 100k identifiers).
                hit = _new_phone(Phone, (key, hit.status))
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            # A valid number (nearly all) is kept as its string: the cache holds one per phone.
            self._cache[key] = hit.e164 if hit.status == "valid" else hit
            return hit
        if held.__class__ is str:
            return _new_phone(Phone, (held, "valid"))  # built in C: no Python-level __new__
        return cast(Phone, held)

    def _compute(self, key: str) -> Phone:
        found = self._compute_key(key)
        if (
            found.status == "invalid"
            and _INTERNATIONAL_DIGITS[0] <= len(key) <= _INTERNATIONAL_DIGITS[1]
            and key.isdigit()
            and key[0] != "0"
        ):
            # International digits typed without "+" (971502846193): no number of the default
            # region, but one with "+" in front, as a WhatsApp id is read.
            international = self._compute_key("+" + key)
            if international.status != "invalid":
                return international
        if (
            found.status == "invalid"
            and key.startswith("00")
            and self._intl_prefix != "00"
            and key.isdigit()
            and _INTERNATIONAL_DIGITS[0] <= len(key) - 2 <= _INTERNATIONAL_DIGITS[1]
        ):
            # ``0044 7911 123456`` in a region whose international prefix is not 00 (the US's is 011):
            # no number of the region, but 00 is the international prefix of most of the world
            # (audit s40: a UK customer's number on a US site was invalid, never linked).
            international = self._compute_key("+" + key[2:])
            if international.status != "invalid":
                return international
        return found

    def _compute_key(self, key: str) -> Phone:
        """The result for a canonical key as written: without ``+``, a number of the default region."""
        digits = key.lstrip("+")
        if len(digits) < 5 or len(digits) > 17:
            return Phone(key, "invalid")
        if not key.isascii():  # other scripts' digits (٩, ९): the library maps them to ASCII
            return self._slow(key)
        national = self._fast_national(key)
        if national is not None and self._fast_valid(national):
            return self._judge(national, self._cc_prefix + national)
        national = self._fast_code_stripped(key)
        if national is not None:
            return self._judge(national, self._cc_prefix + national)
        return self._slow(key)

    def _fast_national(self, key: str) -> str | None:
        if key.startswith(self._cc_prefix):
            return key[len(self._cc_prefix) :]
        if key.startswith("+"):
            return None
        if self._national_prefix and key.startswith(self._national_prefix):
            return key[len(self._national_prefix) :]
        return key

    def _fast_code_stripped(self, key: str) -> str | None:
        """The national number of a key that starts with the country code but has no ``+``, when valid.

        As the library does (`_maybe_extract_country_code`): when the whole key is not a national
        number of the region but the rest after the code is, the code is stripped. None: ask
        the library.
        """
        if not self._cc_strip or key[:1] == "+" or not key.startswith(self._cc) or not key.isascii():
            return None
        rest = key[len(self._cc) :]
        if self._general.fullmatch(key) or (self._national_prefix and rest.startswith(self._national_prefix)):
            return None
        return rest if self._fast_valid(rest) else None

    def _fast_valid(self, national: str) -> bool:
        """True when a national number is the region's valid mobile or fixed line (False: ask the library)."""
        if len(national) not in self._lengths or not self._general.fullmatch(national):
            return False
        for pattern in self._types:  # a loop, not any(): no generator per number
            if pattern.fullmatch(national):
                break
        else:
            return False
        # A service's number (toll-free...) may match a fixed line's pattern too: its type, which
        # the library tests first, is for the library to tell.
        return self._services is None or self._services.fullmatch(national) is None

    def _slow(self, key: str) -> Phone:
        try:
            number = phonenumbers.parse(key, self._region)
        except phonenumbers.NumberParseException:
            return Phone(key, "invalid")
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if not phonenumbers.is_valid_number(number):
            return Phone(e164, "invalid")
        service = phonenumbers.number_type(number) in _SERVICE_TYPES
        return self._judge(str(number.national_number), e164, service)

    def _judge(self, national: str, e164: str, service: bool = False) -> Phone:
        return Phone(e164, "junk" if self._junk.phone(national, e164, service) else "valid")
