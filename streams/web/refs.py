"""How the views read what a caller typed: the kind of a reference, and its read-model key.

A reference is a raw phone, an email, ``TOUCHPOINT:source_id``, or a resolver key
(``p:+91...``, ``e:...``, ``t:WEB:...``). `ref_kind` tells which, without normalising;
`ReadModelKeys` normalises as the resolver does, to the identifier strings of the Redis
read model (``phone:+91...``, ``email:...``, ``tp:WEB:...``) for a standby worker.
"""

from __future__ import annotations

from resolver.config import ResolverConfig
from resolver.explain import parsed_key
from resolver.identifiers import IdentifierParser, mask
from streams.settings import Settings

__all__ = ["ReadModelKeys", "ref_kind"]


def ref_kind(ref: str) -> tuple[str, str] | None:
    """``(kind, raw)`` for `Resolver.lookup` (kind: phone, email, touchpoint), or None if unclear."""
    text = ref.strip()
    prefixed = {"p:": "phone", "e:": "email", "t:": "touchpoint"}
    if text[:2] in prefixed:
        return prefixed[text[:2]], text[2:]
    if "@" in text:
        return "email", text
    if text.lstrip("+(").strip()[:1].isdigit():
        return "phone", text
    if ":" in text.strip(":"):
        return "touchpoint", text
    return None


class ReadModelKeys:
    """Normalises raw identifiers to read-model keys with the resolver's own rules."""

    def __init__(self, settings: Settings) -> None:
        config = ResolverConfig(
            default_region=settings.default_region,
            hub_threshold=settings.hub_threshold,
            phone_cache_size=1024,
            junk_values=settings.junk_values,
        )
        self._parser = IdentifierParser(config)

    def identifier(self, kind: str, raw: str) -> tuple[str | None, str]:
        """``(read-model identifier, status)``; the identifier is None unless status is ``ok``."""
        if kind == "phone":
            phone = self._parser.phones.normalise(raw)
            return (f"phone:{phone.e164}", "ok") if phone.linkable else (None, phone.status)
        if kind == "email":
            email = self._parser.emails.normalise(raw)
            return (f"email:{email.address}", "ok") if email.linkable else (None, email.status)
        if kind == "touchpoint":
            touchpoint, _, source = raw.partition(":")
            touchpoint = touchpoint.strip().upper()
            source = source.strip()
            if touchpoint == "WHATSAPP":
                phone = self._parser.phones.international(source)
                if phone.linkable:
                    return f"phone:{phone.e164}", "ok"
            if not source or self._parser.junk.source_id(source):
                return None, "junk"
            return f"tp:{touchpoint}:{source}", "ok"
        raise ValueError(f"unknown identifier kind {kind!r}")

    def shown_key(self, kind: str, raw: str) -> str | None:
        """The masked resolver key the writer's lookup shows for ``raw`` (`resolver.explain.Lookup.key`)."""
        key, _ = parsed_key(self._parser, raw, kind)
        return None if key is None else mask(key)

    def whatsapp_accounts(self, kind: str, raw: str) -> list[str]:
        """The read-model identifiers of a WhatsApp account's own source id (as typed, and as the
        digits of its number), to try before its phone (`identifier`); empty for anything else."""
        touchpoint, _, source = raw.partition(":")
        source = source.strip()
        if kind != "touchpoint" or touchpoint.strip().upper() != "WHATSAPP" or not source:
            return []
        out = [f"tp:WHATSAPP:{source}"]
        phone = self._parser.phones.international(source)
        if phone.linkable and phone.e164[1:] != source:
            out.append(f"tp:WHATSAPP:{phone.e164[1:]}")
        return out
