"""Keyed digests of identifiers: what the core keeps of a value it must not keep in the clear.

An erasure leaves a digest of each erased identifier and evidence id (so a replay cannot
bring the person back), and every identifier node's state record is named by a digest of
its key (so a deletion leaves no personal data in the state topic). A plain hash of a phone
number is no protection: every Indian mobile number hashes in about an hour on one core. So
each digest is an HMAC-SHA256 under a secret key the shell passes in
(`ResolverConfig.digest_key`, from ``IRL_DIGEST_KEY``); the core never reads settings.

Form: ``<key id>.<32 hex digits>``, where the key id (8 hex digits) is itself an HMAC of a
fixed label under the key, so it names the key without revealing it. Digests written
before keyed digests existed (``sha256("irl-suppress:" + text)``, 32 hex digits, no dot)
are *legacy* digests.

Checking (`Digester.candidates`) accepts a digest under the current key, under any old key
still listed (`ResolverConfig.digest_old_keys`: key rotation), and a legacy digest while
`ResolverConfig.legacy_digests` is on: suppressions recorded under an older key or before
this version keep holding. Writing always uses the current key.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["LEGACY_PREFIX", "Digester", "is_legacy", "key_id"]

#: The prefix of the unkeyed digests written before this version.
LEGACY_PREFIX = "irl-suppress:"
_KEY_ID_LABEL = b"irl-digest-key-id"
_HEX = 32


def key_id(key: bytes) -> str:
    """The public name of a key: 8 hex digits of an HMAC of a fixed label under it."""
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:8]


def is_legacy(value: str) -> bool:
    """True for an unkeyed digest written before keyed digests (no key id)."""
    return "." not in value


def _keyed(key: bytes, kid: str, text: str) -> str:
    return kid + "." + hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:_HEX]


def _legacy(text: str) -> str:
    return hashlib.sha256((LEGACY_PREFIX + text).encode("utf-8")).hexdigest()[:_HEX]


class Digester:
    """Digests under a current key, and the forms still honoured when checking.

    Args:
        key: the current key (non-empty); every new digest is under it.
        old_keys: keys rotated out whose digests are still honoured when checking.
        legacy: also honour the unkeyed digests of earlier versions.
    """

    __slots__ = ("_checks", "_key", "_kid", "legacy")

    def __init__(self, key: bytes, old_keys: tuple[bytes, ...] = (), *, legacy: bool = True) -> None:
        if not key:
            raise ValueError("digest key must not be empty")
        self._key = key
        self._kid = key_id(key)
        self._checks = tuple((k, key_id(k)) for k in old_keys if k and k != key)
        self.legacy = legacy

    @property
    def kid(self) -> str:
        """The current key's id (the part of each new digest before the dot)."""
        return self._kid

    def digest(self, text: str) -> str:
        """The digest of `text` under the current key (what is written)."""
        return _keyed(self._key, self._kid, text)

    def candidates(self, text: str) -> tuple[str, ...]:
        """Every digest of `text` still honoured: current key, old keys, then the legacy form."""
        out = [self.digest(text)]
        out.extend(_keyed(k, kid, text) for k, kid in self._checks)
        if self.legacy:
            out.append(_legacy(text))
        return tuple(out)

    def is_current(self, value: str) -> bool:
        """True when `value` was written under the current key."""
        return value.startswith(self._kid + ".")
