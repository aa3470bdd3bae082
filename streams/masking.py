"""Masking of personal data for logs, CLI output and dead-letter reasons.

Contract: a masked value never contains more than the last two digits of a phone number,
nor more than the first character of an email's local part and of its domain. The masks
keep just enough to tell two values apart when debugging. They are for humans, not for
matching: never store or compare a masked value.
"""

from __future__ import annotations

import re

__all__ = ["mask_email", "mask_phone", "mask_reason", "mask_text"]

_STARS = "***"
#: An email-like token inside free text.
_EMAIL_RE = re.compile(r"[^\s@\"'<>(),;:]+@[^\s@\"'<>(),;:]+")
#: A phone-like run inside free text: seven or more digits, possibly split by spaces, dots or dashes.
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PHONE_RE = re.compile(r"\+?\d(?:[\s().-]{0,2}\d){6,}")


def mask_phone(raw: str) -> str:
    """Mask a phone number as captured, in any format: `+91 98450 71623` -> `+91********23`.

    Keeps a leading `+`, the first two digits when there are at least ten (usually the
    country code) and the last two digits; anything shorter than five digits is fully masked.
    """
    digits = [c for c in raw if c.isdigit()]
    plus = "+" if raw.lstrip().startswith("+") else ""
    n = len(digits)
    if n < 5:
        return plus + _STARS
    head = "".join(digits[:2]) if n >= 10 else ""
    tail = "".join(digits[-2:])
    return f"{plus}{head}{'*' * (n - len(head) - 2)}{tail}"


def mask_email(raw: str) -> str:
    """Mask an email address: `asha.rao@example.com` -> `a***@e***.com`.

    The top-level domain is kept (it says little about the person); a value without `@`
    is masked as opaque text.
    """
    text = raw.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local:
        return (text[:1] + _STARS) if text else _STARS
    host, dot, tld = domain.rpartition(".")
    if not dot or not host:
        return f"{local[0]}{_STARS}@{domain[:1]}{_STARS}"
    return f"{local[0]}{_STARS}@{host[0]}{_STARS}.{tld}"


def mask_text(text: str) -> str:
    """Mask every email-like token and phone-like digit run inside free text (error messages, lines)."""
    text = _EMAIL_RE.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE_RE.sub(_mask_phone_run, text)


#: A number of ours in a reason's template: a plain digit run (no ``+``, no separators, fewer digits
#: than a mobile's) that a word of the template labels, before it (``schema id 1000018``,
#: ``fingerprint 0123...``) or after it (``2700000 bytes``, ``characters (1200000)``).
_OURS_RE = re.compile(
    r"(?:(?<=schema id )|(?<=fingerprint )|(?<=limit )|(?<=max\.message\.bytes )|(?<=characters \())"
    r"\d{1,9}(?!\d)(?![\s().-]{0,2}\d)"
    r"|(?<![\d+])(?<!\d[\s().-])(?<!\d[\s().-]{2})\d{1,9}(?= (?:bytes|characters|entries|fields)\b)"
)
#: A fingerprint is 16 hex digits: kept whole after its label (it names a schema, never a person).
_FINGERPRINT_RE = re.compile(r"(?<=fingerprint )[0-9a-f]{16}\b")


def mask_reason(text: str) -> str:
    """Mask a reason (dead letter, rejects file) as `mask_text` does, but keep the numbers of its template.

    A reason's template quotes numbers that are ours: schema ids, byte lengths, limits, field
    counts. `mask_text` would show ``schema id 1000018`` as ``schema id *****18``. Here a plain
    digit run of at most nine digits that a word of the template labels (``schema id N``,
    ``fingerprint N``, ``limit N``, ``N bytes``, ``N characters``, ``N entries``, ``N fields``,
    ``characters (N)``) is kept; everything else is masked as `mask_text` masks it, so a phone
    or an email that a careless reason quotes is still hidden, and a number as long as a mobile's
    (ten digits) is masked wherever it stands.
    """
    kept: list[str] = []

    def _hold(match: re.Match[str]) -> str:
        kept.append(match.group(0))
        return f"\x00{len(kept) - 1}\x00"

    held = _OURS_RE.sub(_hold, _FINGERPRINT_RE.sub(_hold, text.replace("\x00", "")))
    masked = mask_text(held)
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], masked)


def _mask_phone_run(match: re.Match[str]) -> str:
    token = match.group(0)
    # Dates such as 2000-01-01 look like digit runs but say nothing about a person.
    if _DATE_RE.fullmatch(token):
        return token
    if _reference(match.string, match.start(), token):
        return token
    return mask_phone(token)


#: What joins a ticket's letters to its number (``DSR-2026-881``, ``INC#0012345``, ``JIRA_1234567``).
_JOINERS = "-_#/"


def _reference(text: str, start: int, token: str) -> bool:
    """True for the number of a reference written after letters (a ticket id), shorter than a mobile number.

    ``DSR-2026-881`` and ``INC0012345`` are kept; ``Mob-9845071623`` (ten digits) is masked: a
    number as long as a mobile's is masked wherever it stands.
    """
    if sum(c.isdigit() for c in token) >= 10 or token.startswith("+"):
        return False
    before = text[start - 1 : start] if start else ""
    if before in _JOINERS and start >= 2:
        before = text[start - 2]
    return before.isalpha()
