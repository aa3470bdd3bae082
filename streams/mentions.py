"""Does a record mention an erased person? Pure: the dead-letter purge of an erasure decides with this.

A dead letter holds the original bytes of a record the worker could not use: often not even
decodable, so its fields cannot be trusted to be where the contract puts them. The test is
therefore on the text of the bytes (decoded leniently), for each of the person's identifiers
as the resolver knew them (`streams.readmodel.identifiers_of`: ``phone:+91...``,
``email:...``, ``tp:WEB:<source id>``):

* a phone matches any written form of it: a run of digits and phone punctuation whose digits
  end with the number's national significant number, with at most a country code, a trunk
  ``0`` or an international prefix before it (``+91 98450-71623``, ``09845071623``,
  ``0091 9845071623``, ``98450 71623``);
* an email matches case-insensitively (``Late@Example.ORG``), and so does any address in the
  text that the resolver's email rules make the same mailbox (``Meera.Iyer+shop@GoogleMail.com``
  for ``meeraiyer@gmail.com``);
* a touchpoint source id matches as a whole token: not inside a longer id (``u-3`` is not
  ``u-30``). A WhatsApp source id is a phone number and also matches as a phone.

Over-matching costs a dead letter about someone else being dropped; under-matching leaves
personal data behind. The rules lean to matching, but never on a fragment of a longer token.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers

from resolver.config import ResolverConfig
from resolver.emails import EmailNormaliser

__all__ = ["ErasedPerson", "mentions"]

#: A written phone number: digits with the punctuation people put between them.
_PHONE_RUN = re.compile(r"\+?\d[\d\s().\-/]{4,}\d")
#: Most digits that may stand before a national number in a written form (``0091``, ``+91``, ``0``).
_MAX_PREFIX = 4
#: An email address as written in free text (the normaliser decides what it is).
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_EMAILS = EmailNormaliser(ResolverConfig().email_rules, domain_fixes=ResolverConfig().email_domain_fixes)
#: Characters that continue a token: a source id found between two of these is part of a longer one.
_TOKEN = re.compile(r"[\w.@+-]")


@dataclass(frozen=True, slots=True)
class ErasedPerson:
    """What a record is searched for: national numbers of phones, emails (lower case), source ids."""

    national_numbers: frozenset[str]
    emails: frozenset[str]
    source_ids: frozenset[str]

    @classmethod
    def from_identifiers(cls, identifiers: Iterable[str]) -> ErasedPerson:
        """From the identifier strings of a profile (``phone:``, ``email:``, ``tp:<TOUCHPOINT>:``)."""
        nationals: set[str] = set()
        emails: set[str] = set()
        sources: set[str] = set()
        for ident in identifiers:
            kind, _, rest = ident.partition(":")
            if kind == "phone":
                nationals.update(_national(rest))
            elif kind == "email" and rest:
                emails.add(rest.casefold())
            elif kind == "tp":
                _touchpoint, _, source = rest.partition(":")
                if source:
                    sources.add(source)
                    if _touchpoint == "WHATSAPP":
                        nationals.update(_national("+" + source.lstrip("+")))
        return cls(frozenset(nationals), frozenset(emails), frozenset(sources))

    def __bool__(self) -> bool:
        return bool(self.national_numbers or self.emails or self.source_ids)


def _national(e164: str) -> set[str]:
    """The national significant number of an E.164 phone (none when it does not parse)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        digits = re.sub(r"\D", "", e164)
        return {digits} if len(digits) >= 6 else set()
    national = phonenumbers.national_significant_number(number)
    return {national} if len(national) >= 6 else set()


def mentions(person: ErasedPerson, blobs: Iterable[bytes | str | None]) -> bool:
    """True when any of `blobs` (a record's key, value, header values) mentions `person`."""
    for blob in blobs:
        if not blob:
            continue
        text = blob if isinstance(blob, str) else blob.decode("utf-8", "replace")
        if _mentions_text(person, text):
            return True
    return False


def _mentions_text(person: ErasedPerson, text: str) -> bool:
    folded = text.casefold()
    if any(email in folded for email in person.emails):
        return True
    if person.emails and "@" in folded:
        for found in _EMAIL.finditer(folded):
            if _EMAILS.normalise(found.group()).address in person.emails:
                return True
    if person.national_numbers:
        for run in _PHONE_RUN.finditer(text):
            digits = re.sub(r"\D", "", run.group())
            for national in person.national_numbers:
                if digits.endswith(national) and len(digits) - len(national) <= _MAX_PREFIX:
                    return True
    return any(_whole_token(text, source) for source in person.source_ids)


def _whole_token(text: str, token: str) -> bool:
    start = text.find(token)
    while start >= 0:
        end = start + len(token)
        before = text[start - 1] if start > 0 else ""
        after = text[end] if end < len(text) else ""
        if not (before and _TOKEN.match(before)) and not (after and _TOKEN.match(after)):
            return True
        start = text.find(token, start + 1)
    return False
