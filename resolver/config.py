"""Every tunable of the resolver core, as one frozen value.

The shell builds a `ResolverConfig` once at start-up (from settings or flags) and hands it to
`Resolver`; the core never reads the environment. Defaults are the documented behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PUBLIC_DIGEST_KEY", "EmailRule", "ResolverConfig", "domain_typos", "gmail_rules", "provider_rules"]

#: The default digest key: public, so only for tests and offline runs. The worker always
#: passes its secret ``IRL_DIGEST_KEY`` (see `resolver.digests`).
PUBLIC_DIGEST_KEY = b"irl-public-digest-key: not a secret"


@dataclass(frozen=True, slots=True)
class EmailRule:
    """How one provider treats the local part of its addresses.

    `domain` is the canonical domain; `aliases` are other domains of the same mailbox space
    (``googlemail.com`` for Gmail). `ignore_dots` drops ``.`` from the local part; `plus_tags`
    drops everything from the first ``+``.
    """

    domain: str
    aliases: tuple[str, ...] = ()
    ignore_dots: bool = False
    plus_tags: bool = False


def gmail_rules() -> tuple[EmailRule, ...]:
    """Gmail's rule: it ignores dots and +tags, and googlemail.com is gmail.com."""
    return (EmailRule("gmail.com", aliases=("googlemail.com",), ignore_dots=True, plus_tags=True),)


#: Providers that deliver ``name+tag@`` to ``name@`` (and keep dots): Microsoft's consumer
#: domains, Apple's, Proton's, Fastmail. Each domain is its own mailbox space (``asha@outlook.com``
#: and ``asha@hotmail.com`` are two accounts), so none is an alias of another.
_PLUS_TAG_DOMAINS = (
    "outlook.com", "hotmail.com", "live.com", "msn.com", "outlook.in", "hotmail.co.uk", "icloud.com", "me.com",
    "mac.com", "protonmail.com", "proton.me", "pm.me", "fastmail.com",
)  # fmt: skip


def provider_rules() -> tuple[EmailRule, ...]:
    """The default provider rules: `gmail_rules`, and +tags dropped where the provider ignores them."""
    return (*gmail_rules(), *(EmailRule(domain, plus_tags=True) for domain in _PLUS_TAG_DOMAINS))


def domain_typos() -> tuple[tuple[str, str], ...]:
    """The default email domain corrections: (typed domain, meant domain).

    Only slips that no real mail provider owns: a typed domain is corrected before the
    provider rules apply, so ``ravi@gmial.com`` and ``ravi@gmail.com`` are one mailbox.
    """
    fixes = {
        "gmail.com": (
            "gmial.com", "gamil.com", "gmai.com", "gmal.com", "gmil.com", "gmaill.com", "gmaiil.com",
            "gnail.com", "gmail.con", "gmail.cm", "gmail.co", "gmail.om", "gmail.cmo", "gmail.comm",
            "gmail.vom", "gmail.xom", "gmail.coom", "gmailcom", "gmaul.com", "gmsil.com", "gmali.com",
        ),
        "yahoo.com": (
            "yahooo.com", "yaho.com", "yhoo.com", "yahho.com", "yaoo.com", "yahoo.con", "yahoo.cm",
            "yahoo.om", "yahoo.comm", "tahoo.com", "uahoo.com",
        ),
        "yahoo.co.in": ("yahooo.co.in", "yaho.co.in", "yahoo.co.inn", "yahoo.coin", "yhoo.co.in"),
        "hotmail.com": (
            "hotmial.com", "hotmal.com", "hotmai.com", "hotmil.com", "hotamil.com", "hotmaill.com",
            "hotmail.con", "hotmail.cm", "hotmail.om", "homail.com", "hotmali.com",
        ),
        "outlook.com": ("outlok.com", "outloo.com", "outlook.con", "outllook.com", "outlook.cm", "otlook.com"),
        "rediffmail.com": ("redifmail.com", "rediffmai.com", "rediffmail.con", "rediffmial.com", "rediffmal.com"),
        "icloud.com": ("iclod.com", "icloud.con", "icoud.com", "icluod.com", "iclould.com"),
    }  # fmt: skip
    return tuple((typo, meant) for meant, typos in fixes.items() for typo in typos)


@dataclass(frozen=True, slots=True)
class ResolverConfig:
    """Tunables of the core. Everything here is input; changing it may change the partition.

    Attributes:
        default_region: region for numbers written without a country code (ISO 3166 alpha-2).
        phone_regions: (touchpoint, source id prefix, region) rules that read the ``phone`` field of
            some events in another region than `default_region`: an event of that touchpoint whose
            trimmed source id starts with the prefix ("" for every source id; the longest prefix
            that fits wins) reads a number without a country code in that region (a Dubai store's
            kiosk ids ``dxb-...`` on an Indian deployment: ``("KIOSK", "dxb-", "AE")``). A pure
            function of the event's fields, so the worker and replay read it alike. A number invalid
            where it is read is the mobile it is in exactly one other region named here or by
            `default_region` (`resolver.identifiers.IdentifierParser`).
        hub_threshold: an identifier seen with MORE than this many distinct people (by any
            signal in `hub_signals`) is quarantined: it stops linking and merges through it
            are undone.
        hub_signals: which co-occurring values count as distinct people: "name", "email",
            "phone" (for emails and touchpoint identities), "touchpoint".
        max_phones, max_emails: per-customer limits; a merge exceeding one is refused.
        household_rule: refuse phone links between people with different emails AND names.
        junk_values: extra exact values (phones as digits, emails and names lower-case)
            never linked (a junk name is no name: it tells no one apart).
        junk_patterns: extra regular expressions (full match on the trimmed lower-case raw
            value, or on the phone's digits) never linked, nor read as a name.
        email_rules: provider rules for email local parts.
        email_domain_fixes: (typed domain, meant domain) corrections applied before the
            provider rules (``gmial.com`` -> ``gmail.com``); `domain_typos` by default.
        near_phones: link a phone one digit away from another (substituted or swapped) when
            the names on both agree strongly and no email conflicts (`resolver.near`), as a
            weaker, explained rule.
        phone_cache_size: bound of the phone normalisation cache (entries).
        duplicate_horizon_ms: a repeated event id within this much event time of the latest
            event applied changes nothing (`resolver.horizon`); older copies only count.
        digest_key: the secret key of every digest the core keeps of an identifier (erasure
            suppressions, identifier record names; `resolver.digests`). The default is public.
        digest_old_keys: keys rotated out, whose digests are still honoured when checking.
        legacy_digests: still honour the unkeyed digests written before keyed digests.
    """

    default_region: str = "IN"
    phone_regions: tuple[tuple[str, str, str], ...] = ()
    hub_threshold: int = 5
    hub_signals: tuple[str, ...] = ("name", "email", "phone")
    max_phones: int = 3
    max_emails: int = 3
    household_rule: bool = True
    junk_values: tuple[str, ...] = ()
    junk_patterns: tuple[str, ...] = ()
    email_rules: tuple[EmailRule, ...] = field(default_factory=provider_rules)
    email_domain_fixes: tuple[tuple[str, str], ...] = field(default_factory=domain_typos)
    near_phones: bool = True
    phone_cache_size: int = 500_000
    duplicate_horizon_ms: int = 7 * 86_400_000
    digest_key: bytes = field(default=PUBLIC_DIGEST_KEY, repr=False)
    digest_old_keys: tuple[bytes, ...] = field(default=(), repr=False)
    legacy_digests: bool = True

    def __post_init__(self) -> None:
        if self.hub_threshold < 1:
            raise ValueError("hub_threshold must be at least 1")
        if self.max_phones < 1 or self.max_emails < 1:
            raise ValueError("max_phones and max_emails must be at least 1")
        if not self.digest_key:
            raise ValueError("digest_key must not be empty")
        if self.duplicate_horizon_ms < 0:
            raise ValueError("duplicate_horizon_ms must be >= 0")
        for rule in self.phone_regions:
            if len(rule) != 3 or not all(isinstance(part, str) for part in rule) or not rule[0] or not rule[2]:
                raise ValueError(f"phone_regions: {rule!r} is not (touchpoint, source id prefix, region)")
        unknown = set(self.hub_signals) - {"name", "email", "phone", "touchpoint"}
        if unknown:
            raise ValueError(f"hub_signals: unknown {sorted(unknown)}")
