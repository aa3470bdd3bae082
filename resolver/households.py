"""Hubs and households: when an identifier stops linking, or links per person.

One definition of "the same person by name" (`name_groups` over `resolver.names.name_key`)
serves all its uses: the hub count (how many people a key is seen with), the household
rules, the near-phone rule and the name conflict in confidence (`resolver.profile`).

* Hub: a key seen with more than ``hub_threshold`` distinct people (distinct name groups,
  emails, phones: ``hub_signals``) is *quarantined*: it stops linking.
* Shared phone: two pieces of evidence on one phone carry different emails AND names that
  cannot be one person; the phone then no longer links evidence that carries an email.
* Split by names (phones and emails): two or more *solid* name groups on one identifier (a
  group is solid when one of its names is a full name, given name and surname, or with a
  support of two: two distinct pieces of evidence, or one that also carries the other kind
  of identifier, a person's own email beside a shared phone or a person's own phone beside
  a family mailbox), or three or more groups however often each is seen (a shared line: an
  office switchboard, a family landline); each group other than the largest links
  ``<identifier>#<group>`` instead of the identifier, and evidence without a name links it
  only when it has nothing else.
* Shared touchpoint identity (`shared_account`): a web, kiosk or CRM id used by three or more
  people is quarantined.
* Split account (`account_split`): a touchpoint identity that is not quarantined, on which two
  or more name groups each bring a phone or email of their own (one no other name group on it
  carries: an order for someone else, with the recipient's name and phone), links per person:
  the largest such group keeps the identity (on a tie, none), each other links its part
  (`resolver.graph.account_part`). Two people named in full, each beside a phone or email
  though not each with one of their own (a couple on one kiosk id and one phone), link their
  own parts and none keeps it. A name without a phone or email of its own splits nothing; a
  weak name that fits two of its people (``A. Iyer``) weighs for none and links the identity only
  when its evidence has nothing else.

A name order, an initial or a missing surname never makes a second person (`name_groups`),
nor does a name in another script than the names it is beside (``सुनीता वर्मा`` beside
``Rahul Verma``: `resolver.names.compared`), which cannot be compared without transliteration.
Everything here counts distinct evidence, never interactions: repeating an event cannot tip
a hub, a household or a split.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations

from resolver.evidence import Evidence
from resolver.generations import bare, other_generations
from resolver.graph import (
    OK,
    PERSON,
    Graph,
    LineNode,
    Node,
    account_part,
    as_line,
    flat_names,
    name_added,
    name_counts,
    set_account_groups,
)
from resolver.identifiers import kind_of, mask
from resolver.name_fits import fits_several
from resolver.names import KEY_JOIN, compared, full_name, name_groups, names_similar, one_group, same_person
from resolver.near import phones_near
from resolver.outcome import Step

__all__ = [
    "SHARED_ACCOUNT",
    "SHARED_LINE",
    "WALK_INS",
    "account_split",
    "name_support_of",
    "observe",
    "people",
    "person_split",
    "scrub",
    "set_status",
    "shared_account",
    "typed_for_walk_ins",
]  # fmt: skip

#: What `observe` says of a touchpoint identity `shared_account` finds: it is quarantined.
SHARED_ACCOUNT = "shared-account"
#: A WhatsApp identity is its phone: the phone's household rules apply to it, not `shared_account`.
_WHATSAPP = "t:WHATSAPP:"
#: The hub signal of a name seen on a touchpoint identity beside a phone or email.
_SOLID = "N:"

#: The touchpoint where staff type a phone or email for a walk-in (`typed_for_walk_ins`).
_KIOSK = "KIOSK"

#: This many distinct partners on nameless kiosk records make a phone or email typed for walk-ins.
WALK_INS = 3

#: This many name groups on one phone are different people however rarely each is seen.
SHARED_LINE = 3


def people(sig: Sequence[str]) -> int:
    """The most distinct people any one signal kind shows (names: one per name group)."""
    counts: dict[str, int] = {}
    names: list[str] = []
    for value in sig:
        kind = value[0]
        if kind == "n":
            names.append(value[2:])
        elif kind != "N":  # `shared_account`'s names, already counted as ``n:``
            counts[kind] = counts.get(kind, 0) + 1
    best = max(counts.values(), default=0)
    if len(names) > best:
        groups = 1 if one_group(names) else len(set(name_groups(dict.fromkeys(names, 1)).values()))
        best = max(best, groups)
    return best


def shared_account(key: str, sig: Sequence[str]) -> bool:
    """True when touchpoint identity `key` is used by three or more people: it must stop linking.

    A web user or cookie id, a kiosk id or a CRM record id (not a WhatsApp wa_id: that is the
    phone, whose own household rules apply) is shared when it shows three or more people:

    * the full names (`full_name`) of three or more people (`SHARED_LINE` name groups), on any
      of its evidence: a store terminal's id typed for every walk-in, who may give a name and
      nothing else;
    * or, with two or more phones or emails in all, the names of three or more people, each a
      given name with a surname or its initial (``Karthik R``), on evidence that also carries
      a phone or email (``N:<name key>`` signals, which `observe` adds).

    Linking through it would fuse people who share nothing of their own; their phones and
    emails still link each of them. Two people on one identity are not this rule's: the
    identity links per person (`account_split`), so the one who holds it keeps its anonymous
    visits.
    """
    if key.startswith(_WHATSAPP):
        return False
    names = solids = 0
    for value in sig:  # a first look, by kind only: most identities show one or two names
        if value[0] == "n":
            names += 1
        elif value[0] == "N":
            solids += 1
    if names < SHARED_LINE and solids < SHARED_LINE:
        return False  # neither test below can hold: too few full names, too few solid ones
    solid: list[str] = []
    named: list[str] = []
    lines = 0
    for value in sig:
        kind = value[0]
        if kind == "N":
            if _given_and_more(value[2:]):  # a first name alone (``San``) may be anyone's short form
                solid.append(value[2:])
        elif kind == "n":
            if full_name(value[2:]):
                named.append(value[2:])
        elif kind == "p" or kind == "e":
            lines += 1
    if len(named) >= SHARED_LINE and not one_group(named) and _groups(named) >= SHARED_LINE:
        return True
    if lines < 2 or len(solid) < SHARED_LINE or one_group(solid):
        return False
    return _groups(solid) >= SHARED_LINE


def _two_people(solid: list[str]) -> set[str] | None:
    """The two name groups (`name_groups` of `solid` alone) when `solid` names two people; else None.

    `solid` holds the name keys that came beside a phone or email, each a given name with a
    surname or its initial (`_given_and_more`). Two groups are two people unless some pair of
    their names may be one person written two ways (`_one_person`): two people of one surname
    are two when their given names cannot be one (`names_similar`) and start with different
    letters (``Rajesh Gupta`` / ``Sunita Gupta``); ``Kir Jain`` / ``Kiarn Jain`` may be one
    person's short form beside a typo, and a couple of one initial stays linked (their phones'
    and emails' own rules tell them apart).
    """
    if len(solid) < 2 or one_group(solid):
        return None
    label = name_groups(dict.fromkeys(solid, 1))
    groups = set(label.values())
    if len(groups) != 2:
        return None
    first, second = ({n for n in solid if label[n] == g} for g in groups)
    if any(_one_person(a, b) for a in first for b in second):
        return None
    return groups


def _given_and_more(key: str) -> bool:
    """A given name (not an initial) with a surname or its initial: ``Karthik R``, ``Asha Rao``."""
    first, join, _ = key.partition(KEY_JOIN)
    return (bool(join) and len(first) > 1) or full_name(key)  # or a name written without a space: ``李颖``


def _groups(keys: list[str]) -> int:
    return len(set(name_groups(dict.fromkeys(keys, 1)).values()))


def _one_person(a: str, b: str) -> bool:
    """Whether two full-name keys of different name groups may still be one person written two ways.

    A surname that is not one name makes two families. Under one surname, given names that are
    similar or start with one letter may be a short form beside a typo (``Kir Jain`` / ``Kiarn Jain``).
    Two generations of one name (``James Clark Sr.`` / ``Jr.``: `resolver.generations`) never are.
    """
    if other_generations(a, b):
        return False
    a, b = bare(a), bare(b)
    given_a, surname_a = a.partition(KEY_JOIN)[0], a.rpartition(KEY_JOIN)[2]
    given_b, surname_b = b.partition(KEY_JOIN)[0], b.rpartition(KEY_JOIN)[2]
    if not names_similar(surname_a, surname_b):
        return False
    return given_a[:1] == given_b[:1] or names_similar(given_a, given_b)


def person_split(key: str, names: Mapping[str, int]) -> dict[str, str] | None:
    """How a phone is split between people with different names; None when it is not.

    `names` holds the support of each name key (distinct evidence; twice for evidence with
    an email, see `_observe_name`). Groups with a full name (`full_name`) or a support
    of at least two are solid, and every group is when there are `SHARED_LINE` or more: two
    people who each gave the phone once under their full names are two people, a lone first
    name typed once is not a person of its own. With two or more solid groups the phone is
    split: the largest group (ties: smallest label) keeps the phone key, every other solid
    group links ``key#<label>`` instead. Keys outside the solid groups are not in
    the mapping: their evidence is ambiguous (see `Graph.effective`), as is a weak name that fits
    two groups (`resolver.name_fits.fits_several`: ``A. Iyer`` beside ``Aishwarya Iyer`` and ``Aditya
    Iyer``), which weighs for none of them: it links the phone only when its evidence has nothing
    else, so it never joins two people. So are the names of
    another script than the one `compared` reads (``सुनीता वर्मा`` beside ``Rahul Verma`` and
    ``Sunita Verma``): they cannot be told apart from either, and split nothing.
    """
    if len(names) < 2:
        return None
    names = compared(names)
    if len(names) < 2 or one_group(names):
        return None  # one group (most often: one person's spellings): never split
    label = name_groups(names)
    # A weak name that fits two groups (``A. Iyer`` beside ``Aishwarya Iyer`` and ``Aditya
    # Iyer``) is neither's: it neither weighs for one nor links one, or it would join them.
    several = fits_several(names, label)
    totals: dict[str, int] = {}
    for c, n in names.items():
        if c not in several:
            totals[label[c]] = totals.get(label[c], 0) + n
    least = 1 if len(totals) >= SHARED_LINE else 2
    # A full name (first and last) is solid at once: two people, each with a full name, gave
    # the phone once each (a store's own number for two walk-ins); a lone first name is not.
    full = {label[c] for c in names if full_name(c)}
    solid = sorted((g for g, n in totals.items() if n >= least or g in full), key=lambda g: (-totals[g], g))
    if len(solid) < 2:
        return None
    return {
        c: key if label[c] == solid[0] else f"{key}{PERSON}{label[c]}"
        for c in sorted(names)
        if label[c] in solid and c not in several
    }


def account_split(key: str, seen: Iterable[tuple[str, tuple[str, ...]]]) -> dict[str, str] | None:
    """How touchpoint identity `key` is split between people; None when it is not.

    `seen` holds, per distinct piece of evidence on the identity that carries a name, its name
    key and its phone and email keys. A name group (`name_groups`; support: distinct evidence)
    *brings a phone or email of its own* when one of its pieces carries one that no piece of
    another name group on this identity carries. With two or more such groups the identity is
    split: the largest of them keeps it (on a tie none is known to hold it, and none does),
    and each other links its part (`resolver.graph.account_part`): the mapping gives its name
    keys' part. Other names, and evidence without one, link the identity itself (an account's
    anonymous visits and a name without details of its own are its holder's).

    So an order the account holder places for someone else, under the recipient's name and
    with the recipient's phone, links the recipient's part of the account, and the account no
    longer fuses its holder with the recipient's own records; a partner's order under the
    holder's phone or email, or under a name alone, brings nothing of its own and splits
    nothing. Names are told apart as a phone's are (`name_groups`): a name order, an initial,
    a short form or a missing surname is one person, so one person's second phone is theirs.
    """
    support: dict[str, int] = {}
    carried: dict[str, set[str]] = {}
    for cls, contacts in seen:
        support[cls] = support.get(cls, 0) + 1
        if contacts:
            carried.setdefault(cls, set()).update(contacts)
    if len(carried) < 2 or one_group(support):
        return None  # fewer than two names with a phone or email, or one person: none brings their own
    label = name_groups(support)
    # A weak name that fits two groups (``A. Iyer`` beside ``Aishwarya Iyer`` and ``Aditya Iyer``
    # on a family's loyalty card) says nothing of whose it is: its phone or email counts for no
    # group, it weighs for none, and on a split identity it is mapped to the identity itself,
    # which its evidence then links only when it has nothing else (`Graph.effective`).
    several = fits_several(support, label)
    if several:
        support = {c: n for c, n in support.items() if c not in several}
        carried = {c: held for c, held in carried.items() if c not in several}
        if len(carried) < 2:
            return None
    parts = _account_parts(key, support, carried, label)
    if parts is None or not several:
        return parts
    return {**parts, **dict.fromkeys(sorted(several), key)}


def _account_parts(
    key: str, support: Mapping[str, int], carried: Mapping[str, set[str]], label: Mapping[str, str]
) -> dict[str, str] | None:
    """`account_split`'s parts of `key` for names that fit one group (`support`, `carried`: as it counts them)."""
    holders: dict[str, set[str]] = {}
    for c, held in carried.items():
        for contact in held:
            holders.setdefault(contact, set()).add(label[c])
    own = {next(iter(grps)) for grps in holders.values() if len(grps) == 1}
    if len(own) < 2:
        # Two people named in full, each beside a phone or email, though not each with one of
        # their own (a couple on one kiosk id and one phone, only one of them with an email):
        # none is known to hold the identity, each links their own part.
        solid = sorted(c for c in carried if _given_and_more(c))
        pair = _two_people(solid) if len(holders) >= 2 else None
        if pair is None:
            return None
        solid_label = name_groups(dict.fromkeys(solid, 1))
        both = {label[c] for c in solid if solid_label[c] in pair}
        if len(both) < 2:
            return None
        return {c: account_part(key, label[c]) for c in sorted(support) if label[c] in both}
    totals: dict[str, int] = {}
    for c, n in support.items():
        totals[label[c]] = totals.get(label[c], 0) + n
    ranked = sorted(own, key=lambda grp: (-totals[grp], grp))
    keep = ranked[0] if totals[ranked[0]] > totals[ranked[1]] else None
    parts = {c: account_part(key, label[c]) for c in sorted(support) if label[c] in own and label[c] != keep}
    return parts or None


def observe(g: Graph, key: str, node: Node, ev: Evidence, cls: str | None, values: list[str]) -> str | None:
    """Record what new evidence says about `key`; "quarantined" / `SHARED_ACCOUNT` / "shared" / "regroup" on a change.

    `values` are the evidence's hub signals (``n:<name key>`` and co-occurring keys); `cls`
    is its name key.
    """
    sig = node.sig
    if sig is not None:
        added: list[str] = []
        for value in values:
            if value != key and value not in sig and value not in added:
                added.append(value)
        if key[0] == "t" and cls is not None and g.household_on and not key.startswith(_WHATSAPP):
            # The names that came with a phone or email of their own, for `shared_account`.
            for k in ev.keys:  # a loop, not any(): this runs for most new evidence
                if k[0] == "p" or k[0] == "e":
                    solid = g.intern(_SOLID + cls)
                    if solid not in sig and solid not in added:
                        added.append(solid)
                    break
        if added:
            node.sig = sig = (*sig, *added)
            if g.track:
                g.mark("n", key)
            limit = g.config.hub_threshold
            if len(sig) > limit and people(sig) > limit:
                return "quarantined"
            if key[0] == "t" and g.household_on and shared_account(key, sig):
                return SHARED_ACCOUNT
    kind = key[0]
    if cls is None:
        # A nameless kiosk record: is the identifier typed by staff for walk-ins (`typed_for_walk_ins`)?
        typed = ev.tp == _KIOSK and g.household_on and (kind == "p" or kind == "e") and not node.shared
        return "shared" if typed and _typed_for_walk_ins(g, key, node, ev) else None
    if not g.household_on:
        return None
    if kind == "t":
        return "regroup" if _observe_account(g, key, node) else None
    if kind not in "pe":
        return None
    regroup = _observe_name(g, key, node, cls, ev)
    if kind == "p" and not node.shared:
        email = None
        for k in ev.keys:  # a loop, not next(generator): this runs for most new evidence
            if k[0] == "e":
                email = k
                break
        if email is not None:
            pairs = node.pairs
            if pairs is None:
                pairs = as_line(node).pairs = []
            pair = (email, cls)
            if pair not in pairs:
                conflict = False
                for e, n in pairs:  # a loop, not any(): no generator per visit
                    if e != email and not same_person(n, cls):
                        conflict = True
                        break
                pairs.append(pair)
                if g.track:
                    g.mark("n", key)
                if conflict:
                    return "shared"
    return "regroup" if regroup else None


def _typed_for_walk_ins(g: Graph, key: str, node: Node, ev: Evidence) -> bool:
    """Whether phone or email `key` is typed at a kiosk for walk-ins who are not one person (`typed_for_walk_ins`).

    Read only when `ev`, new on it, is a kiosk record without a name that carries the other kind.
    """
    other = "e" if key[0] == "p" else "p"
    for k in ev.keys:  # a loop, not any(): most nameless kiosk records carry one kind only
        if k[0] == other:
            break
    else:
        return False
    evidence = g.evidence
    partners: set[str] = set()
    for vid in node.vids():
        piece = evidence.get(vid)
        if piece is None or piece.tp != _KIOSK or g.class_of(piece.name) is not None:
            continue
        for k in piece.keys:
            if k[0] == other and PERSON not in k:
                partners.add(k)
    return typed_for_walk_ins(partners)


def typed_for_walk_ins(partners: Iterable[str]) -> bool:
    """True when a phone or email was typed at a kiosk for `WALK_INS` or more people who are not one person.

    `partners` holds the identifiers of the other kind (emails beside a phone, phones beside an
    email) that came with it on kiosk records *without a name*. It is typed for walk-ins when
    three of them are distinct (two phones one digit or one swap apart may be one phone
    mistyped: `resolver.near.phones_near`): a store's landline typed for walk-ins who each give
    their own email, a placeholder address staff type (``walkin@store.com``) for walk-ins who
    each give their own phone. Nothing on such records says the walk-ins are one person.

    Why three and not two: one person's work and private address on their own phone (or their
    old and new phone beside their address), given at a kiosk without a name, shows two, and
    the rule is monotone (more records never undo it, so the result does not depend on their
    order), so a name seen later could not undo it. On the quality test two cost recall (seed
    1: 0.9332 to 0.9326, one person's two addresses at the kiosk) and separated no one; two
    nameless walk-ins on one store phone stay one customer (a known limit, on the review queue).
    Records with a name are told apart by their names (`person_split`) and are not read here.
    """
    seen = sorted(set(partners))
    if len(seen) < WALK_INS:
        return False
    if seen[0][0] != "p":
        return True  # emails: distinct keys are distinct addresses
    return any(not any(phones_near(a, b) for a, b in combinations(trio, 2)) for trio in combinations(seen, WALK_INS))


def _observe_name(g: Graph, key: str, node: Node, cls: str, ev: Evidence) -> bool:
    """Add `ev`'s support for name key `cls` on phone or email `key`; True when the split changes.

    Support counts distinct evidence, and evidence that also carries the other kind (an
    email beside a phone, a phone beside an email) or came through the phone's own WhatsApp
    account counts twice: a person's own email, or the phone's own chat, corroborates them
    as a second sighting would, so one order with a partner's phone and the partner's own
    email is a person of its own (`person_split`).
    """
    support = name_support_of(key, ev)
    line = as_line(node)
    flat, count = name_added(line.names, cls, support)
    line.names = flat
    if g.track:
        g.mark("n", key)
    # Only a new class, a class becoming solid, or a shift of counts on an already split
    # phone can change the grouping; more support for a solid class skips the recomputation.
    if len(flat) < 4 or (count - support >= 2 and node.groups is None):  # fewer than two name keys
        return False
    groups = person_split(key, name_counts(flat))
    if groups == node.groups:
        return False
    g.regroup[key] = groups
    return True


def _observe_account(g: Graph, key: str, node: Node) -> bool:
    """Whether new named evidence on touchpoint identity `key` changes its split (`account_split`).

    Only an identity that shows names of two or more groups can be split (read off its hub
    signals, when names are among them): for the others, most, nothing is read. The split
    is computed again from the identity's evidence, so it is a function of that evidence,
    whatever the order it came in.
    """
    if key.startswith(_WHATSAPP) or node.status != OK:
        return False  # a WhatsApp identity is its phone (its rules split it); a quarantined one links nothing
    if node.groups is None and "n" in g.signals:
        names = [value[2:] for value in node.sig or () if value[0] == "n"]
        if len(names) < 2 or one_group(names):
            return False
    seen: list[tuple[str, tuple[str, ...]]] = []
    evidence = g.evidence
    for vid in node.vids():
        other = evidence.get(vid)
        if other is None or other.name is None:
            continue
        cls = g.class_of(other.name)
        if cls is not None:
            seen.append((cls, tuple(k for k in other.keys if k[0] == "p" or k[0] == "e")))
    groups = account_split(key, seen)
    if groups == node.groups:
        return False
    g.regroup[key] = groups
    return True


def name_support_of(key: str, ev: Evidence) -> int:
    """The support `ev` gives its name on phone or email `key` (`_observe_name`): 2 when it also
    carries the other kind or came through the phone's own WhatsApp account, else 1."""
    other = "e" if key[0] == "p" else "p"
    for k in ev.keys:  # a loop, not any(): no generator per visit
        if k[0] == other:
            return 2
    return 2 if _own_channel(key, ev) else 1


def scrub(g: Graph, keys: Iterable[str], gone: set[str]) -> list[str]:
    """Take what an erased person left on identifiers that stay (`keys`) off them: a household's shared
    phone keeps the other people's evidence, not the erased one's name or email in its hub signals,
    name support, per-person split or (email, name) pairs. Counts are taken again from the evidence
    each identifier still carries, as `observe` took them; statuses stay as decided. `gone` holds
    the erased identifiers (and their parts). Returns the keys whose split changed: their evidence
    must be resolved again."""
    evidence = g.evidence
    regrouped: list[str] = []
    for key in sorted(keys):
        node = g.nodes.get(key)
        if node is None:
            continue
        counts: dict[str, int] = {}
        for vid in node.vids():
            ev = evidence.get(vid)
            cls = None if ev is None else g.class_of(ev.name)
            if ev is not None and cls is not None:
                counts[cls] = counts.get(cls, 0) + (name_support_of(key, ev) if key[0] in "pe" else 1)
        if node.sig:
            node.sig = tuple(
                v for v in node.sig if v not in gone and not (v[:2] in ("n:", "N:") and v[2:] not in counts)
            )
        if node.groups is not None and not isinstance(node, LineNode):  # an account's (`AccountNode`)
            groups = {c: part for c, part in node.groups.items() if c in counts and part not in gone}
            groups_left = groups if any(part != key for part in groups.values()) else None
            if groups_left != node.groups:
                set_account_groups(g.nodes, key, groups_left)
                node = g.nodes[key]
                regrouped.append(key)
        if isinstance(node, LineNode):
            if node.names is not None:
                node.names = flat_names({c: counts[c] for c in name_counts(node.names) if c in counts}) or None
            # A phone's or an email's split is a function of its name support, as `_observe_name`
            # and a restore from records (`resolver.records`) take it: taken again from the support
            # left, not filtered (the holder may change: a tie goes to the smallest label, and a
            # group no longer solid splits nothing).
            groups_now = None if node.names is None else person_split(key, name_counts(node.names))
            if groups_now != node.groups:
                node.groups = groups_now
                regrouped.append(key)
            if node.pairs is not None:
                node.pairs = [(e, c) for e, c in node.pairs if e not in gone and c in counts] or None
            if node.near:
                node.near = {k: held for k, held in node.near.items() if k not in gone} or None
        g.mark("n", key)
    return regrouped


def _own_channel(key: str, ev: Evidence) -> bool:
    """True when `ev` came through the phone's own WhatsApp account: it names the phone's owner."""
    return ev.tp == "WHATSAPP" and key[0] == "p" and key[3:] == ev.src.removeprefix("+")


def set_status(g: Graph, key: str, change: str, step: Step) -> None:
    """Apply a status change found by `observe` (or an operator's block)."""
    # A status shows on the customer holding this key and on every customer holding evidence
    # with it: their profiles are dropped.
    g.forget_profiles([key])
    node = g.nodes[key]
    if key in g.regroup:
        # Whatever else changed, a new per-person split of the identifier applies too.
        groups = g.regroup.pop(key)
        if key[0] == "t":
            set_account_groups(g.nodes, key, groups)
            node = g.nodes[key]
            if groups is not None:
                step.notes.append(
                    f"household: {kind_of(key)} {mask(key)} is used by another person with a phone or email "
                    "of their own; it links per person"
                )
        else:
            as_line(node).groups = groups
            if groups is not None:
                step.notes.append(f"household: {kind_of(key)} {mask(key)} is used by people with different names")
    if change == "regroup":
        pass
    elif change == "shared":  # a phone's or an email's (`observe`)
        line = as_line(node)
        line.shared = True
        line.pairs = None
        if key[0] == "p":
            step.notes.append(f"household: phone {mask(key)} is shared; its email links are kept apart")
        else:  # `typed_for_walk_ins`: an email is shared only so
            step.notes.append(
                f"household: email {mask(key)} is typed for several people; its phone links are kept apart"
            )
    elif change == SHARED_ACCOUNT:  # a touchpoint identity's: no household fields, perhaps a split
        node.status = "quarantined"
        node.sig = None
        set_account_groups(g.nodes, key, None)  # it links nothing now: its parts neither
        step.notes.append(f"quarantined: {kind_of(key)} {mask(key)} is used by several people; it stops linking")
    else:
        node.status = change
        node.sig = None
        if node.pairs is not None:  # only a phone's are ever set
            as_line(node).pairs = None
        if key[0] == "t":
            set_account_groups(g.nodes, key, None)  # as a shared account: its parts link nothing either
        step.notes.append(f"{change}: {kind_of(key)} {mask(key)} stops linking")
    g.mark("n", key)
