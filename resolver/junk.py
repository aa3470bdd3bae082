"""Junk identifiers: placeholders people type when they do not want to give the real thing.

Junk is recorded on the event (so it can be explained and counted) but never links anything.
Built-in rules cover the usual placeholders; `ResolverConfig.junk_values` and
`junk_patterns` add exact values and regular expressions (full match).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["JunkRules"]

_JUNK_PHONE_DIGITS = frozenset({"1234567890", "0123456789", "1234512345", "1212121212", "1231231231", "9876598765"})
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
        "none.com", "email.com", "mail.com", "abc.com", "xyz.com", "test.in", "domain.com", "invalid",
    }
)  # fmt: skip
_JUNK_LOCAL_PREFIXES = ("noemail", "nomail", "no.email", "no-email", "dummy", "test123")
_JUNK_SOURCE_IDS = frozenset({"", "null", "none", "unknown", "undefined", "na", "n/a", "0", "-", "anonymous"})


class JunkRules:
    """Decides whether a normalised value is a placeholder. Pure and cheap: call per event."""

    __slots__ = ("_patterns", "_values")

    def __init__(self, values: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        self._values = frozenset(v.strip().lower() for v in values)
        self._patterns = tuple(re.compile(p) for p in patterns)

    def _configured(self, *candidates: str) -> bool:
        for value in candidates:
            if value in self._values:
                return True
            for pattern in self._patterns:
                if pattern.fullmatch(value):
                    return True
        return False

    def phone(self, national: str, e164: str) -> bool:
        """True when the national significant number (digits) or E.164 form is a placeholder."""
        if len(set(national)) <= 1 or national in _JUNK_PHONE_DIGITS:
            return True
        # One digit repeated after a single leading digit (9000000000, 9999999990) is typed, not owned.
        if len(set(national[1:])) <= 1 or len(set(national[:-1])) <= 1:
            return True
        return bool(self._values or self._patterns) and self._configured(national, e164, e164[1:])

    def email(self, address: str) -> bool:
        """True when the normalised address (``local@domain``) is a placeholder."""
        local, _, domain = address.partition("@")
        if local in _JUNK_LOCALS or domain in _JUNK_DOMAINS or local.startswith(_JUNK_LOCAL_PREFIXES):
            return True
        if len(set(local.replace(".", ""))) <= 1 and len(local) > 2:
            return True
        return bool(self._values or self._patterns) and self._configured(address)

    def source_id(self, source_id: str) -> bool:
        """True when a touchpoint record id is a placeholder (``null``, ``unknown``...)."""
        value = source_id.strip().lower()
        if value in _JUNK_SOURCE_IDS:
            return True
        return bool(self._values or self._patterns) and self._configured(value)
