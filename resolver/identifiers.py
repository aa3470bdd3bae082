"""The identifiers of an event: normalised phone, email and touchpoint identity, as string keys.

Keys are prefixed by kind so that one dictionary holds them all and their order is the
merge priority (phone ``p:`` < email ``e:`` < touchpoint identity ``t:``):

* ``p:+919845071623``: a valid phone in E.164 (also a WhatsApp ``source_id``);
* ``e:johnsmith@gmail.com``: a valid, provider-normalised email;
* ``t:WEB:cookie-123``: a touchpoint identity (touchpoint, source_id).

Values that cannot link (invalid, junk) are kept on the event as `Rejected` entries, so they
can be explained and counted, but never become keys of the identity graph.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from resolver.config import ResolverConfig
from resolver.emails import EmailNormaliser
from resolver.interaction import Interaction
from resolver.junk import JunkRules
from resolver.phones import Phone, PhoneNormaliser

__all__ = ["KINDS", "Extracted", "IdentifierParser", "kind_of", "mask", "touchpoint_key"]

#: key prefix -> kind name, in merge priority order.
KINDS: dict[str, str] = {"p": "phone", "e": "email", "t": "touchpoint"}


def kind_of(key: str) -> str:
    """The kind of an identifier key ("phone", "email", "touchpoint", or "event" for a lone event)."""
    return KINDS.get(key[:1], "event")


def touchpoint_key(touchpoint: str, source_id: str) -> str:
    return f"t:{touchpoint}:{source_id.strip()}"


def mask(key: str) -> str:
    """A log-safe form of a key or value: kind, length and the last two characters only."""
    kind = key[:1] if key[1:2] == ":" else "?"
    value = key[2:] if kind != "?" else key
    return f"{kind}:*{len(value)}*{value[-2:]}" if value else f"{kind}:"


class Extracted(NamedTuple):
    """What one event says: linkable keys in priority order, and what was refused with why.

    A named tuple, not a dataclass: one is built per event, and a tuple is built in C.
    """

    keys: tuple[str, ...]
    rejected: tuple[str, ...]  # "phone:invalid:<value>", "email:junk:<value>", ...


#: `IdentifierParser.extract_fields` results memoised at most (cleared when full: memory stays flat).
_MEMO = 1 << 17

#: Builds an `Extracted` in C: the named tuple's own `__new__` is a Python function (made by
#: `collections.namedtuple`), a frame per memo miss even when the core is compiled.
_new_extracted = tuple.__new__


class IdentifierParser:
    """Builds `Extracted` from an `Interaction` with the configured normalisers (cached)."""

    __slots__ = ("_elsewhere", "_memo", "_regional", "emails", "held", "junk", "phones")

    def __init__(self, config: ResolverConfig) -> None:
        self.junk = JunkRules(config.junk_values, config.junk_patterns)
        self.phones = PhoneNormaliser(config.default_region, self.junk, config.phone_cache_size)
        #: touchpoint -> (source id prefix, normaliser of its region), longest prefix first
        #: (`ResolverConfig.phone_regions`); a region's normaliser is shared by its rules
        by_region = {config.default_region: self.phones}
        regional: dict[str, list[tuple[str, PhoneNormaliser]]] = {}
        for touchpoint, prefix, region in config.phone_regions:
            region = region.upper()
            if region not in by_region:
                by_region[region] = PhoneNormaliser(region, self.junk, config.phone_cache_size)
            regional.setdefault(touchpoint.upper(), []).append((prefix, by_region[region]))
        self._regional = {tp: sorted(rules, key=lambda r: -len(r[0])) for tp, rules in regional.items()}
        #: every region the configuration names, for a number invalid where it was read (`_mobile_elsewhere`)
        self._elsewhere = tuple(by_region[r] for r in sorted(by_region))
        self.emails = EmailNormaliser(config.email_rules, self.junk, domain_fixes=config.email_domain_fixes)
        self._memo: dict[tuple[str, str, str | None, str | None], Extracted] = {}
        #: a key -> the equal string the state holds already (`resolver.graph.Graph.held_key`), or
        #: None: a new combination of raw values makes new key strings, and evidence keeps them
        self.held: Callable[[str], str] | None = None

    def clear_caches(self) -> None:
        """Empty every cache of the parser and its normalisers (pure functions of their inputs:
        only later calls cost more; `resolver.compaction`)."""
        self._memo.clear()
        self.phones.clear_cache()
        for rules in self._regional.values():
            for _, phones in rules:
                phones.clear_cache()
        self.emails.clear_cache()
        self.junk.clear_cache()

    def phones_for(self, touchpoint: str, source_id: str) -> PhoneNormaliser:
        """The normaliser of an event's ``phone`` field: its touchpoint's and source id's region
        (`ResolverConfig.phone_regions`), else the default region's (`phones`)."""
        rules = self._regional.get(touchpoint)
        if rules:
            source = source_id.strip()
            for prefix, phones in rules:
                if source.startswith(prefix):
                    return phones
        return self.phones

    def _mobile_elsewhere(self, phone: str, read: PhoneNormaliser) -> Phone | None:
        """A number invalid in the region it was read in (`read`), as the mobile number it is in
        exactly one other region the configuration names (`ResolverConfig.phone_regions`); else None.

        A Dubai customer types ``055 389 7720`` on the Indian site: invalid as an Indian number, the
        mobile ``+971553897720`` their WhatsApp and the Dubai kiosk know. Mobiles only: a local
        landline typed without its city code (``2345 6789``) is some other region's landline, and a
        number valid where it was read (a UK ``07...`` is an Indian mobile too) is never read again.
        """
        found: Phone | None = None
        for phones in self._elsewhere:
            if phones is read:
                continue
            mobile = phones.mobile(phone)
            if mobile is not None:
                if found is not None:
                    return None  # a mobile of two regions: which one is not known
                found = mobile
        return found

    def source_of(self, touchpoint: str, source_id: str) -> str:
        """The source id evidence keeps of an event: as written, trimmed, except a WhatsApp account
        that is a person's number, kept as its wa_id (the number's international digits).

        One account is written many ways by the integrations that send it (``919845071623``,
        ``+91 98450 71623``, ``whatsapp:+919845071623``, ``919845071623@c.us``,
        ``919845071623:3@s.whatsapp.net``): each spelling was a touchpoint record of its own in
        the customer's ``source_ids`` and the CRM before s38 (audit A2); now all are
        ``919845071623``. A group's, a linked id's (``@lid``) or any other source id is kept as written.
        """
        source = source_id.strip()
        if touchpoint == "WHATSAPP" and source:
            wa = self.phones.international(source)
            if wa.status == "valid":
                return wa.e164[1:]
        return source

    def extract(self, event: Interaction) -> Extracted:
        return self.extract_fields(event.touchpoint, event.source_id, event.phone, event.email)

    def extract_fields(self, touchpoint: str, source_id: str, phone: str | None, email: str | None) -> Extracted:
        """`extract` from the event's fields (the replay fast path has no `Interaction`).

        Memoised on the four values as given: a pure function of them (and of the
        configuration), and a returning customer sends the same ones again (a chat, a
        repeat order), so a repeat costs one lookup instead of its normalisation.
        """
        memo = self._memo
        raw = (touchpoint, source_id, phone, email)
        hit = memo.get(raw)
        if hit is None:
            hit = self._extract(touchpoint, source_id, phone, email)
            if self.held is not None and hit.keys:
                hit = _new_extracted(Extracted, (tuple(map(self.held, hit.keys)), hit.rejected))
            if len(memo) >= _MEMO:
                memo.clear()
            memo[raw] = hit
        return hit

    def _extract(self, touchpoint: str, source_id: str, phone: str | None, email: str | None) -> Extracted:
        keys: list[str] = []
        rejected: list[str] = []
        source = source_id.strip()
        tp_key: str | None = None
        if touchpoint == "WHATSAPP" and source:
            wa = self.phones.international(source)
            if wa.status == "valid":
                keys.append("p:" + wa.e164)
            else:
                rejected.append(f"whatsapp:{wa.status}:{wa.e164}")
        elif self.junk.source_id(source):
            rejected.append(f"touchpoint:junk:{source}")
        else:
            tp_key = touchpoint_key(touchpoint, source)
        if phone and phone.strip():
            phones = self.phones if not self._regional else self.phones_for(touchpoint, source)
            normal = phones.normalise(phone)
            if normal.status == "invalid" and len(self._elsewhere) > 1:
                normal = self._mobile_elsewhere(phone, phones) or normal
            key = "p:" + normal.e164
            if normal.status != "valid":
                rejected.append(f"phone:{normal.status}:{normal.e164}")
            elif key not in keys:
                keys.append(key)
        if email and email.strip():
            address = self.emails.normalise(email)
            if address.status == "valid":
                keys.append("e:" + address.address)
            else:
                rejected.append(f"email:{address.status}:{address.address}")
        if tp_key is not None:
            keys.append(tp_key)
        # Built phones, email, touchpoint: already in priority order but for two phones.
        if len(keys) > 1 and keys[1][0] == "p" and keys[1] < keys[0]:
            keys[0], keys[1] = keys[1], keys[0]
        return _new_extracted(Extracted, (tuple(keys), tuple(rejected)))
