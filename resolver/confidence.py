"""Data confidence of one resolved customer: a score in [0, 1] and the reasons behind it.

The score is a transparent additive model over evidence features (no learning, no clock),
recomputed whenever a profile is built, so it always reflects the current evidence:

* supports: a WhatsApp-verified number, several independent events linking the same
  identifiers;
* weakens: names that cannot be one person (the strongest sign of a wrong merge), a part of
  the customer joined by a single event only (a bridge), a quarantined or household-shared
  identifier nearby, refused merges, a phone typed at a kiosk only, a phone joined only as a
  one-digit typo of another (near-phone rule), unusually many phones or emails, evidence
  placed on another person's account, a name in another script that no name was compared with.

Reasons are ``"+0.15 verified WhatsApp number"`` style strings, sorted by impact, never PII.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Features", "score"]


@dataclass(frozen=True, slots=True)
class Features:
    """Evidence summary of one customer (counts only, no PII)."""

    events: int
    phones: int
    emails: int
    name_groups: int  # clusters of mutually dissimilar first names
    minority_names: int  # events whose name is outside the largest cluster
    verified_phone: bool
    corroborating_events: int  # events that link two or more identifiers
    weak_bridges: int  # single-event links whose removal separates phones/emails
    near_quarantined: int
    refused_merges: int
    shared_phone: bool
    kiosk_only_phone: bool
    near_phones: int = 0  # near-phone links (one digit apart, same name) holding the customer together
    accounts: int = 0  # most recurring accounts of one touchpoint (ids seen on two or more pieces of evidence)
    unnamed_emails: int = 0  # emails whose address contains none of the customer's names
    other_account: bool = False  # evidence linking a person's part of another person's account
    lone_parts: int = 0  # phones/emails seen on one single-event link only (`resolver.profile.weak_bridges`)
    unread_names: int = 0  # evidence whose name is in another script than the names compared
    lone_evidence: bool = False  # none of its evidence links an identifier (each its own ``x:`` key)
    # ``phones`` and ``emails`` count identifier keys: a phone or email split between people by
    # their names is one key per person's part. These count the distinct numbers and addresses
    # (what the profile lists); -1: not given, as many as the keys.
    phone_numbers: int = -1
    email_addresses: int = -1


def score(f: Features) -> tuple[float, tuple[str, ...]]:
    """The confidence and its reasons. Monotone: more conflict never raises the score."""
    parts: list[tuple[float, str]] = []
    # Weights were chosen on labelled generated data (20,000 customers) so that customers
    # mixing two people score below pure ones: supports stay small, because wrong merges
    # also gather links and activity; conflicts weigh most.
    if f.verified_phone:
        parts.append((0.1, "verified WhatsApp number"))
    if f.corroborating_events >= 2 and not f.weak_bridges:
        parts.append((0.05 if f.corroborating_events >= 3 else 0.03, "several independent links"))
    if f.phones + f.emails == 0:
        # A lone touchpoint record cannot mix two people; it is only thin, not doubtful.
        parts.append((-0.05, "no personal identifier (touchpoint identity only)"))
        if f.lone_evidence and f.near_quarantined and not f.name_groups:
            # No name, and nothing but a shared identifier (a store terminal's id, its phone):
            # the walk-ins who gave nothing, together. Whoever they are, they are not one person.
            parts.append((-0.5, "anonymous visits on a shared identifier, anyone's"))
    if f.name_groups >= 2:
        # The strongest sign of a wrong merge: it must outweigh every support together.
        parts.append((-0.65, "names that cannot be one person"))
        if f.name_groups >= 3 or f.minority_names >= 2:
            parts.append((-0.15, "several conflicting names"))
    if f.minority_names >= 1:
        parts.append((-0.2, "a name that matches no other on this customer"))
    if f.weak_bridges:
        parts.append((-0.3 if f.weak_bridges == 1 else -0.4, "joined by a single event only"))
    elif f.lone_parts:
        # A signup's email seen once beside the phone: one person typed both (most often), or a
        # stray event put a stranger's email on them (how many wrong merges look): a milder doubt.
        parts.append((-0.2, "a phone or email seen on one event only"))
    if f.near_quarantined:
        parts.append((-0.1, "a quarantined shared identifier was seen"))
    if f.refused_merges:
        parts.append((-0.1, "merges with others were refused"))
    if f.shared_phone:
        parts.append((-0.1, "phone shared with another person"))
    if f.near_phones:
        parts.append((-0.05, "a phone linked by a one-digit typo and the name"))
    if f.kiosk_only_phone:
        parts.append((-0.1, "phone typed at a kiosk only"))
    if f.accounts >= 2:
        # One person rarely keeps two accounts at one touchpoint; two people merged often do.
        parts.append((-0.15, "two accounts at one touchpoint"))
    if f.other_account:
        # Evidence on an account another person uses too (an order placed for this person, a
        # family's shared computer): its event may be the other person's as much as this one's.
        parts.append((-0.2, "evidence on another person's account too"))
    if f.unread_names:
        # ``सुनीता वर्मा`` beside ``Rahul Verma``: most often one person's WhatsApp name and form
        # name, so nothing is split; but no name check vouches for it, which the score says.
        parts.append((-0.1, "a name in another script, not compared"))
    if f.unnamed_emails:
        parts.append((-0.15, "an email that matches none of the names"))
    # The two rules below count keys (a person's part of a split phone or email on its own), as
    # they were weighed; their texts say what the customer holds: one address in two people's
    # parts is not "more than one email".
    numbers = f.phones if f.phone_numbers < 0 else f.phone_numbers
    addresses = f.emails if f.email_addresses < 0 else f.email_addresses
    if f.emails >= 2:
        parts.append((-0.1, "more than one email" if addresses >= 2 else "an email shared with another person"))
    extra = max(0, f.phones - 2) + max(0, f.emails - 2)
    if extra:
        many = max(0, numbers - 2) + max(0, addresses - 2)
        text = "many phones or emails" if many else "a phone or email in several people's parts"
        parts.append((-0.05 * min(extra, 4), text))
    # A customer with no evidence either way starts at 0.8: most are single, clean records.
    value = 0.8 + sum(delta for delta, _ in parts)
    value = round(min(0.99, max(0.01, value)), 3)
    parts.sort(key=lambda p: (-abs(p[0]), p[1]))
    return value, tuple(f"{delta:+.2f} {text}" for delta, text in parts)
