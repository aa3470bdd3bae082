"""Email addresses: trim, lower-case, syntax check, provider rules (Gmail's by default).

`EmailNormaliser.normalise(raw)` returns an `Email` with the canonical address and a status:
``valid`` (links), ``invalid`` (bad syntax; kept, never linked) or ``junk`` (a placeholder,
a masked address such as ``jam***@domain.com``, or a word such as ``n/a``; see `resolver.junk`).
Text is read as it is shown (`resolver.typed_text.shown`: full-width letters as ASCII, zero-width
and bidi formatting characters dropped), and a domain in Unicode (``müller.de``) as its ASCII
form (``xn--mller-kva.de``), so either spelling is one mailbox; an address whose local part is
not ASCII (``josé@…``) stays ``invalid``.
Provider rules come from `ResolverConfig.email_rules`: with the default, ``John.Smith+shop@
GoogleMail.com`` and ``johnsmith@gmail.com`` are one mailbox. Typed domain slips
(``gmial.com``, ``gmail.con``...) are corrected first, from `ResolverConfig.email_domain_fixes`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from encodings import idna
from typing import NamedTuple, cast

from resolver.config import EmailRule
from resolver.junk import JunkRules
from resolver.typed_text import shown

__all__ = ["Email", "EmailNormaliser"]

_new_email = tuple.__new__

# Deliberately simple: the practical subset of RFC 5322 that real forms accept.
_LOCAL = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


#: ``Asha Rao <asha.rao@gmail.com>``: the address of a display-name form is inside the brackets.
_BRACKETED = re.compile(r"<([^<>]*@[^<>]*)>")
_AROUND_AT = re.compile(r"\s*@\s*")
#: Between addresses listed in one field; never spacing: ``ravi kumar@x.in`` is not ``kumar@x.in``.
_SEPARATORS = re.compile(r"\s*[,;]+\s*")
_DOTS = re.compile(r"\.{2,}")
#: Text with none of what `_address_of` takes apart: brackets, quotes, spacing, separators.
_PLAIN = re.compile(r"[^<>'\"\s,;]*")
#: Characters IDNA 2003 (Python's `encodings.idna`) maps otherwise than IDNA 2008, which mail
#: systems use (``straße`` is ``strasse`` in one, ``xn--strae-oqa`` in the other): not converted.
_IDNA_DEVIATIONS = frozenset("\u00df\u03c2\u200c\u200d")


def _ascii_domain(domain: str) -> str:
    """A domain written in Unicode (``bücher.de``) in its ASCII form (``xn--bcher-kva.de``).

    Returned as it is when it cannot be converted (a deviation character, a label too long),
    for the syntax check to refuse.
    """
    if domain.isascii() or not _IDNA_DEVIATIONS.isdisjoint(domain):
        return domain
    try:
        return ".".join(idna.ToASCII(label).decode("ascii") if label else "" for label in domain.split("."))
    except UnicodeError:
        return domain


def _address_of(text: str) -> str:
    """The address in an email field as exports hold it (trimmed, lower-case text).

    A display-name form (``"Rao, Asha" <asha.rao@gmail.com>``) gives the address in its
    brackets; ``mailto:``, quotes and trailing separators go; spacing around ``@`` closes up;
    a field listing several addresses (``a@x.in; b@y.in``) gives its first. Anything else is
    returned as it is, for the syntax check to judge.
    """
    if _PLAIN.fullmatch(text) is not None:  # nearly every address: nothing to take apart
        return text[7:] if text.startswith("mailto:") else text
    bracketed = _BRACKETED.search(text)
    if bracketed is not None:
        text = bracketed.group(1)
    text = _AROUND_AT.sub("@", text.strip().strip("'\"").strip())
    if text.startswith("mailto:"):
        text = text[7:]
    if _SEPARATORS.search(text) is not None:
        first = next((part for part in _SEPARATORS.split(text) if "@" in part), None)
        if first is not None:
            text = first.strip("'\"")
    return text


class Email(NamedTuple):
    """A normalised address. `address` is canonical when valid, else the trimmed lower-case text.

    A named tuple, not a frozen dataclass: one is built per new address, and a tuple is built in C.
    """

    address: str
    status: str  # "valid" | "invalid" | "junk"

    @property
    def linkable(self) -> bool:
        return self.status == "valid"


class EmailNormaliser:
    """Applies syntax checks and provider rules. Caches on the raw text (bounded)."""

    __slots__ = ("_cache", "_cache_size", "_fixes", "_junk", "_rules")

    def __init__(
        self,
        rules: Iterable[EmailRule] = (),
        junk: JunkRules | None = None,
        cache_size: int = 200_000,
        domain_fixes: Iterable[tuple[str, str]] = (),
    ) -> None:
        self._fixes = {typo.strip().lower(): meant.strip().lower() for typo, meant in domain_fixes}
        self._rules: dict[str, EmailRule] = {}
        for rule in rules:
            for domain in (rule.domain, *rule.aliases):
                self._rules[domain.lower()] = rule
        self._junk = junk or JunkRules()
        #: raw text -> its result; a valid address's as its string alone (no tuple each)
        self._cache: dict[str, Email | str] = {}
        self._cache_size = cache_size

    def clear_cache(self) -> None:
        """Empty the cache (a pure function of its keys: only later calls cost more)."""
        self._cache.clear()

    def normalise(self, raw: str) -> Email:
        held = self._cache.get(raw)
        if held is None:
            hit = self._compute(raw)
            if hit.address == raw:  # already its own normal form (most are): one string, not two
                hit = _new_email(Email, (raw, hit.status))
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[raw] = hit.address if hit.status == "valid" else hit
            return hit
        if held.__class__ is str:
            return _new_email(Email, (held, "valid"))  # built in C: no Python-level __new__
        return cast(Email, held)

    def _compute(self, raw: str) -> Email:
        text = _address_of(shown(raw).strip().lower())
        if self._junk.email_text(text):  # before the syntax check: a mask is not a typo
            return Email(text, "junk")
        local, at, domain = text.rpartition("@")
        domain = _DOTS.sub(".", domain.rstrip("."))
        domain = _ascii_domain(self._fixes.get(domain, domain))
        if not at or len(text) > 254 or not _LOCAL.fullmatch(local) or not _DOMAIN.fullmatch(domain):
            return Email(text, "invalid")
        rule = self._rules.get(domain)
        if rule is not None:
            domain = rule.domain.lower()
            if rule.plus_tags:
                local = local.partition("+")[0]
            if rule.ignore_dots:
                local = local.replace(".", "")
            if not local:
                return Email(text, "invalid")
        address = f"{local}@{domain}"
        return Email(address, "junk" if self._junk.email(address) else "valid")
