"""The identity graph: identifier nodes, distinct evidence, customers, and the reads every rule shares.

Nodes are identifier keys (see `resolver.identifiers`): ``p:`` phones, ``e:`` emails, ``t:``
touchpoint identities, plus ``x:<evidence id>`` for evidence with nothing linkable,
``p:<phone>#<name class>`` for one person's part of a phone (or email) shared by people with
different names, and ``t:<touchpoint>#<name class>:<source id>`` for one person's part of a
touchpoint identity (`account_part`: a source id may hold ``#``, a touchpoint's name never
does). Each node lists the evidence that carries it; evidence links its *effective* keys
(`effective`) together; a customer is a set of nodes joined by those links (one root of the
union-find), and every piece of evidence belongs to the customer of its anchor.

`Graph` is plain state: the modules that decide (`resolver.linking`,
`resolver.reresolution`, `resolver.households`, `resolver.actions`) read and change it, and
`mark` records which state records changed (`resolver.records`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Container, Mapping, MutableMapping
from itertools import chain
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from resolver.cold import TextTable
from resolver.config import ResolverConfig
from resolver.digests import Digester
from resolver.evidence import ContentIndex, Evidence
from resolver.horizon import RecentEvents
from resolver.identifiers import IdentifierParser
from resolver.names import name_key
from resolver.near import NearIndex
from resolver.unionfind import DisjointSet

if TYPE_CHECKING:
    from resolver.summary import Summary

__all__ = [
    "NO_BARS",
    "OK",
    "PERSON",
    "SHORT_EVIDENCE",
    "AccountNode",
    "Customer",
    "FlatNames",
    "Graph",
    "LineNode",
    "Node",
    "account_part",
    "as_account",
    "as_line",
    "customer_id_for",
    "flat_names",
    "holder_of",
    "is_person",
    "name_added",
    "name_counts",
    "name_keys",
    "name_support",
    "new_node",
    "other_account",
    "set_account_groups",
    "shared_line",
]

#: The status of a node that links.
OK = "ok"
#: Separates a shared phone or email from the name group of one of its people
#: (``p:+91...#kavita``, ``e:rao.family@gmail.com#asha_rao``).
PERSON = "#"
#: The split barriers of a customer without any: one shared, read-only mapping (most have none).
NO_BARS: Mapping[int, int] = MappingProxyType({})
#: A dict's own `get`: a `resolver.cold.TextTable`'s thawed or new value, without a thaw.
_raw_get = dict.get
#: Name caches are cleared when full, so memory stays flat.
_NAME_CACHE = 200_000
#: A node carrying at most this many pieces of evidence lists them in a tuple, more in a list
#: (`Node.add_evidence`; one piece is its id alone): most carry one or two, a bare id saves the
#: 48 bytes of a tuple of one, and a list keeps a hub's appends cheap.
SHORT_EVIDENCE = 8


#: A node's name support kept flat, without a dict per node: name key, count, name key, count...
#: in the order first seen (`flat_names`; read back with `name_counts`, `name_keys`, `name_support`).
FlatNames = tuple[str | int, ...]


def flat_names(counts: Mapping[str, int]) -> FlatNames:
    """`counts` (name key -> distinct evidence) as a node keeps it, in the same order."""
    return tuple(chain.from_iterable(counts.items()))


def name_keys(flat: FlatNames) -> tuple[str, ...]:
    """The name keys of flat name support, in order."""
    return cast("tuple[str, ...]", flat[::2])


def name_support(flat: FlatNames) -> tuple[int, ...]:
    """The counts of flat name support, in the order of `name_keys`."""
    return cast("tuple[int, ...]", flat[1::2])


def name_added(flat: FlatNames | None, cls: str, support: int) -> tuple[FlatNames, int]:
    """`flat` with `support` more for name key `cls` (appended when new), and the new count of `cls`.

    Without a dict: this runs for every new piece of evidence naming a phone or an email.
    """
    if not flat:
        return (cls, support), support
    try:
        at = flat.index(cls)  # counts are ints: only a name key equals `cls`
    except ValueError:
        return (*flat, cls, support), support
    count = cast(int, flat[at + 1]) + support
    return (*flat[: at + 1], count, *flat[at + 2 :]), count


def name_counts(flat: FlatNames | None) -> dict[str, int]:
    """Flat name support as a new dict (name key -> count) in its order; {} for None."""
    if not flat:
        return {}
    return dict(zip(name_keys(flat), name_support(flat), strict=True))


def customer_id_for(event_id: str, salt: int = 0) -> str:
    """The deterministic id of a customer created by `event_id` (``salt`` resolves collisions)."""
    text = event_id if salt == 0 else f"{event_id}#{salt}"
    return "c_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def is_person(key: str) -> bool:
    """True for one person's part of a shared identifier (``<identifier>#<name group>``; `account_part`).

    An email's local part may hold ``#`` itself; a name group never holds ``@``. A touchpoint
    identity's source id may hold anything printable, so its part carries the name group in
    the touchpoint's place (``t:WEB#asha_rao:u1``), which is one of a few fixed words.
    """
    kind = key[0]
    if kind == "p":
        return PERSON in key
    if kind == "e":
        _, sep, tail = key.rpartition(PERSON)
        return bool(sep) and "@" not in tail
    if kind == "t":
        return PERSON in key[: key.find(":", 2)]
    return False


def holder_of(key: str) -> str:
    """The identifier node a key belongs to: itself, or the identifier of a person's part."""
    if not is_person(key):
        return key
    if key[0] == "t":
        head, _, source = key[2:].partition(":")
        return f"t:{head.partition(PERSON)[0]}:{source}"
    return key.rpartition(PERSON)[0]


def other_account(eff: list[str] | tuple[str, ...]) -> bool:
    """True when effective keys `eff` hold a person's part of a touchpoint identity: evidence that
    the account's holder placed for this person (an order for someone else) links it."""
    found = False
    for key in eff:  # a loop, not any(): this runs for every piece of evidence of a profile
        if key[0] == "t" and PERSON in key and is_person(key):
            found = True
            break
    return found


def account_part(key: str, label: str) -> str:
    """The key of person `label`'s part of touchpoint identity `key` (``t:WEB:u1`` -> ``t:WEB#label:u1``)."""
    touchpoint, _, source = key[2:].partition(":")
    return f"t:{touchpoint}{PERSON}{label}:{source}"


def shared_line(key: str, node: Node) -> bool:
    """True when phone or email `key` (its node `node`) is shared with another person: emails of
    people with different names on it, or split between people by their names (the part of any
    of them, the identifier's own key included)."""
    return is_person(key) or node.shared or node.groups is not None


def new_node(key: str) -> Node:
    """A fresh node for `key`: a `LineNode` for a phone or an email (or a person's part of one), else a `Node`."""
    return LineNode(key) if key[0] in "pe" else Node(key)


def as_account(nodes: MutableMapping[str, Node], key: str) -> AccountNode:
    """The node of touchpoint identity `key` as an `AccountNode`, put in `nodes` in its place when it was a `Node`.

    A touchpoint identity's node gains the field only when it is first split between people:
    the others stay plain `Node`s.
    """
    node = nodes[key]
    if isinstance(node, AccountNode):
        return node
    made = _moved(node, AccountNode(node.key))
    nodes[key] = made
    return made


_N = TypeVar("_N", bound="Node")


def _moved(node: Node, into: _N) -> _N:
    """`into` holding `node`'s fields (a `Node` made an `AccountNode` or back)."""
    into.status, into.evidence, into.sig, into.bars = node.status, node.evidence, node.sig, node.bars
    return into


def set_account_groups(nodes: MutableMapping[str, Node], key: str, groups: dict[str, str] | None) -> None:
    """Split touchpoint identity `key` between people as `groups` says (None: not split).

    An identity split becomes an `AccountNode` (`as_account`); one no longer split becomes a
    plain `Node` again, as a snapshot loads it, so a state and its loaded copy hold the same nodes.
    """
    if groups is not None:
        as_account(nodes, key).groups = groups
        return
    node = nodes[key]
    if isinstance(node, AccountNode):
        nodes[key] = _moved(node, Node(node.key))


def as_line(node: Node) -> LineNode:
    """`node` as the `LineNode` it must be: a household field is being set, which only phones and emails hold.

    Raises:
        TypeError: it is another key's node (a rule set a household field where none belongs).
    """
    if not isinstance(node, LineNode):
        raise TypeError("household fields are kept on phone and email nodes only")
    return node


class Node:
    """What is known about one identifier key (status, evidence, hub signals, split barriers).

    Touchpoint identities and lone evidence (``t:``, ``x:``, most nodes) hold only these; the
    household fields, below as class attributes, read as "none" on them and are never set:
    phones and emails are `LineNode`s, which hold them (`new_node` picks the class by key).
    """

    __slots__ = ("bars", "evidence", "key", "sig", "status")

    #: phones and emails (`LineNode`): shared by people (its email links are kept apart)
    shared: bool = False
    #: phones only: (email, name class) pairs seen, for the household rule
    pairs: list[tuple[str, str]] | None = None
    #: phones and emails: distinct evidence per name class (flat: `FlatNames`), and the
    #: per-person split (when shared by names); touchpoint identities (`AccountNode`): the
    #: parts of the people other than the account's own
    names: FlatNames | None = None
    groups: dict[str, str] | None = None
    #: phones only: phone keys one digit away -> whether the near link holds now
    near: dict[str, bool] | None = None

    def __init__(self, key: str = "") -> None:
        #: the node's key, the one string of it the state holds: evidence and hub signals that
        #: name this identifier refer to this object (`resolver.linking`), not copies of it
        self.key = key
        self.status = OK
        #: ids of the evidence carrying this key, in the order added (`add_evidence`): the one id
        #: alone, a tuple of at most `SHORT_EVIDENCE`, else a list. Read them with `vids`.
        self.evidence: str | tuple[str, ...] | list[str] = ()
        #: hub signals seen with this key (``n:<class>`` and co-occurring keys), in order seen; None once
        #: it stops linking. A tuple (the shared empty one until a signal comes): short, and rarely grown
        self.sig: tuple[str, ...] | None = ()
        #: split barriers: (split number, part)
        self.bars: tuple[tuple[int, int], ...] = ()

    def add_evidence(self, vid: str) -> None:
        """Append evidence id `vid` to `evidence` (the id alone, a tuple while short, then a list)."""
        held = self.evidence
        if isinstance(held, tuple):
            if not held:
                self.evidence = vid
            else:
                self.evidence = (*held, vid) if len(held) < SHORT_EVIDENCE else [*held, vid]
        elif isinstance(held, str):
            self.evidence = (held, vid)
        else:
            held.append(vid)

    def vids(self) -> tuple[str, ...] | list[str]:
        """The ids of the evidence carrying this key, in the order added (read only)."""
        held = self.evidence
        return (held,) if isinstance(held, str) else held

    def record(self, key: str, parent: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"k": key}
        if self.status != OK:
            out["s"] = self.status
        if parent is not None:
            out["p"] = parent
        if self.sig:
            out["g"] = list(self.sig)
        if self.pairs:
            out["h"] = [list(p) for p in self.pairs]
        if self.shared:
            out["sh"] = 1
        if self.names:
            out["nm"] = sorted([c, n] for c, n in name_counts(self.names).items())
        if self.bars:
            out["b"] = [list(b) for b in self.bars]
        if self.near:
            out["nr"] = sorted([k, int(v)] for k, v in self.near.items())
        return out


class LineNode(Node):
    """The node of a phone or an email (or a person's part of one): a `Node` with the household fields."""

    __slots__ = ("groups", "names", "near", "pairs", "shared")

    def __init__(self, key: str = "") -> None:
        super().__init__(key)
        self.shared = False
        self.pairs = None
        self.names = None
        self.groups = None
        self.near = None


class AccountNode(Node):
    """The node of a touchpoint identity split between people (`resolver.households.account_split`).

    ``groups`` maps the name keys of each person other than the account's own to that person's
    part (`account_part`); evidence with any other name, or none, links the identity itself.
    A `Node` becomes one only when first split (`as_account`): most accounts are one person's.
    """

    __slots__ = ("groups",)

    def __init__(self, key: str = "") -> None:
        super().__init__(key)
        self.groups = None

    def record(self, key: str, parent: str | None) -> dict[str, Any]:
        out = super().record(key, parent)
        if self.groups:
            out["sp"] = sorted([c, part] for c, part in self.groups.items())
        return out


class Customer:
    """A live customer: its union-find root, earliest time, phone/email counts and split barriers."""

    __slots__ = ("bars", "cid", "constrained", "emails", "first", "phones", "root")

    def __init__(self, cid: str, root: str, first: int) -> None:
        self.cid = cid
        self.root = root
        self.first = first
        self.phones = 0
        self.emails = 0
        #: split number -> this customer's part; `NO_BARS` until `bar` adds one
        self.bars: Mapping[int, int] = NO_BARS
        #: resolved greedily (a limit or barrier refused a link): any new link re-resolves it
        self.constrained = False

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"r": self.root, "f": self.first, "np": self.phones, "ne": self.emails}
        if self.bars:
            out["b"] = sorted([k, v] for k, v in self.bars.items())
        if self.constrained:
            out["k"] = 1
        return out

    def bar(self, split_no: int, part: int) -> None:
        """Record that this customer is part `part` of split `split_no` (a barrier to re-merging)."""
        bars = self.bars
        if isinstance(bars, dict):
            bars[split_no] = part
        else:
            self.bars = {**bars, split_no: part}

    def count_keys(self, keys: list[str] | tuple[str, ...]) -> None:
        for key in keys:
            if key[0] == "p":
                self.phones += 1
            elif key[0] == "e":
                self.emails += 1


class Graph:
    """The whole core state. Pure data plus the reads that every rule shares."""

    def __init__(self, config: ResolverConfig, *, track_changes: bool = True) -> None:
        self.config = config
        self.parser = IdentifierParser(config)
        self.parser.held = self.held_key
        self.evidence: MutableMapping[str, Evidence] = {}
        #: content -> the piece answering for it, derived from `evidence` (which is never replaced)
        self.by_content = ContentIndex(self.evidence)
        self.recent = RecentEvents(config.duplicate_horizon_ms)
        self.nodes: MutableMapping[str, Node] = {}
        self.uf = DisjointSet()
        self.cust: MutableMapping[str, Customer] = {}
        self.by_root: MutableMapping[str, str] = {}
        self.absorbed: dict[str, str] = {}
        self.erased: set[str] = set()
        self.suppressed: set[str] = set()
        self.digests = Digester(config.digest_key, config.digest_old_keys, legacy=config.legacy_digests)
        #: state record names to delete at the next drain (node records named under an older key)
        self.retired: set[str] = set()
        self.split_seq = 0
        self.merges = 0
        #: operator merges (must-links): merge number -> the two pieces of evidence kept in one customer
        self.must: dict[int, tuple[str, str]] = {}
        #: evidence id -> numbers of the operator merges holding it (an index of `must`)
        self.must_of: dict[str, list[int]] = {}
        self.merge_seq = 0
        #: review items an operator dismissed: (customer id, other customer id; the same id for one customer)
        self.dismissed: set[tuple[str, str]] = set()
        self.signals = frozenset(s[0] if s != "touchpoint" else "t" for s in config.hub_signals)
        self.near_on = config.near_phones
        self.household_on = config.household_rule
        self.near_index = NearIndex()
        self.near_memo: dict[tuple[str, str], tuple[tuple[int, int], bool]] = {}
        self.track = track_changes
        #: changed state records (``<kind>/<key>``, `mark`) by kind, each a set of keys: the keys are
        #: the state's own strings, so a record costs a set entry, not a string of its own
        self.dirty: dict[str, set[str]] = {}
        #: phone key -> its new per-person split, between detecting and applying it
        self.regroup: dict[str, dict[str, str] | None] = {}
        #: memoised customer summaries and their profiles (`resolver.summary`), kept up to date
        #: by a repeat or evidence joining a customer, dropped for whatever else a step touches
        self.profiles: dict[str, Summary] = {}
        #: when a set: every customer `forget_profiles` names is added to it, memoised or not
        #: (the ordered stage's effects: `resolver.effects`); None: nobody asks
        self.shown: set[str] | None = None
        self._names: dict[str, str] = {}
        self._classes: dict[str, str | None] = {}
        self._name_values: dict[str, str] = {}

    # ---------------------------------------------------------------- bookkeeping

    def mark(self, kind: str, key: str) -> None:
        """Note that state record ``<kind>/<key>`` changed (`kind`: one letter, `resolver.records`)."""
        if self.track:
            held = self.dirty.get(kind)
            if held is None:
                held = self.dirty[kind] = set()
            held.add(key)

    def suppress(self, text: str) -> None:
        """Keep a digest of `text` (an erased identifier key or ``ev:<evidence id>``) for good."""
        d = self.digests.digest(text)
        self.suppressed.add(d)
        self.mark("s", d)

    def is_suppressed(self, text: str) -> bool:
        """True when `text` was erased, under the current key, an old key or (legacy) no key."""
        return any(d in self.suppressed for d in self.digests.candidates(text))

    def add_must(self, number: int, a: str, b: str) -> None:
        """Record operator merge `number`: evidence `a` and `b` stay in one customer."""
        self.must[number] = (a, b)
        for vid in (a, b):
            self.must_of.setdefault(vid, []).append(number)
        self.mark("l", str(number))

    def drop_must(self, number: int) -> None:
        """Forget operator merge `number` (an erasure took one side, or a split ended it)."""
        pair = self.must.pop(number, None)
        if pair is None:
            return
        for vid in pair:
            held = self.must_of.get(vid)
            if held is not None and number in held:
                held.remove(number)
                if not held:
                    del self.must_of[vid]
        self.mark("l", str(number))

    def must_partners(self, vid: str) -> list[str]:
        """Evidence an operator merge keeps with `vid` (directly), in merge order."""
        out: list[str] = []
        for number in self.must_of.get(vid, ()):
            a, b = self.must[number]
            out.append(b if a == vid else a)
        return out

    def held_key(self, key: str) -> str:
        """`key` as the string its node holds (`Node.key`; a cold node's, unthawed), else `key` itself.

        The parser gives new evidence these (`IdentifierParser.held`): each identifier string is
        then held once, by its node, and not once more per piece of evidence and hub signal.
        """
        # a thawed or new node (a cold one is in no entry: `resolver.cold`)
        node: Any = _raw_get(cast("dict[str, Node]", self.nodes), key)
        if node is None:
            nodes = self.nodes
            row = nodes.row(key) if isinstance(nodes, TextTable) else None
            return key if row is None else cast("TextTable[Node]", nodes).ids.held(row)
        return node.key or key

    def intern(self, value: str) -> str:
        return self._names.setdefault(value, value)

    def forget_name(self, name: str | None) -> None:
        """Drop `name` from the name key cache (`class_of`): an erased person's name is kept nowhere."""
        if name is not None:
            self._classes.pop(name, None)

    def class_of(self, name: str | None) -> str | None:
        """Name key (`resolver.names.name_key`: first and last token), cached: most names repeat."""
        if name is None:
            return None
        cache = self._classes
        if name in cache:
            return cache[name]
        if len(cache) >= _NAME_CACHE:
            cache.clear()
        found = name_key(name)
        value = cache[name] = None if found is None else self.intern(found)
        return value

    def name_signal(self, cls: str) -> str:
        """The hub signal of a name class (``n:<class>``), one string per class."""
        value = self._name_values.get(cls)
        if value is None:
            value = self._name_values[cls] = "n:" + cls
        return value

    # ---------------------------------------------------------------- reads every rule shares

    def effective(self, ev: Evidence) -> list[str]:
        """The keys this evidence links now (non-empty: lone evidence gets its own ``x:`` key).

        Every key returned has status `OK` (an ``x:`` or person key may have no node yet:
        `ensure_pseudo`), so a person's part that an operator cut or blocked links nothing.
        """
        nodes = self.nodes
        keys = ev.keys
        for key in keys:
            node = nodes[key]
            if node.status != OK or node.shared or node.groups is not None:
                break
        else:
            # Every key links plainly (the common case): the rules below keep them all.
            if not keys:
                return ["x:" + ev.vid]
            return [keys[0]] if ev.cut else list(keys)
        out: list[str] = []
        has_email = any(key[0] == "e" and nodes[key].status == OK for key in keys)
        has_phone = any(key[0] == "p" and nodes[key].status == OK for key in keys)
        ambiguous: str | None = None
        for key in keys:
            node = nodes[key]
            groups = node.groups
            # A shared phone keeps its links with evidence carrying an email apart; a shared
            # email (typed at a kiosk for walk-ins: `typed_for_walk_ins`) those with a phone.
            apart = node.shared and (has_email if key[0] == "p" else has_phone)
            if node.status != OK or (apart and groups is None):
                continue
            if groups is not None and key[0] == "t":
                # An account used by another person with a phone or email of their own: that
                # person's evidence links their part; any other (the holder's, a name without
                # details of its own, none) links the account itself, but a weak name that fits
                # two of its people (mapped to the account itself, `households.account_split`)
                # links it only when its evidence has nothing else.
                person = groups.get(self.class_of(ev.name) or "") if ev.name is not None else None
                if person == key:
                    ambiguous = key
                    continue
                if person is not None:
                    part = nodes.get(person)
                    if part is not None and part.status != OK:
                        continue  # an operator cut or blocked this person's part
                    key = person
            elif groups is not None:
                # A phone or email shared by people with different names: each name group links
                # its own key (so an email event of a shared phone joins its own person's part);
                # evidence without a known name links it only when it has nothing else.
                person = groups.get(self.class_of(ev.name) or "") if ev.name is not None else None
                if person is None:
                    if not apart:
                        ambiguous = key
                    continue
                part = nodes.get(person)
                if part is not None and part.status != OK:
                    # An operator cut or blocked this person's part: like any such key, it
                    # links nothing (the components of `resolver.reresolution` stop there).
                    continue
                key = person
            out.append(key)
            if ev.cut:
                break
        if not out:
            out.append(ambiguous or "x:" + ev.vid)
        return out

    def effective_uncut(self, ev: Evidence) -> list[str]:
        """Effective keys ignoring a cut (cut evidence still belongs to its raw component)."""
        if not ev.cut:
            return self.effective(ev)
        ev.cut = False
        try:
            return self.effective(ev)
        finally:
            ev.cut = True

    def ensure_pseudo(self, key: str) -> None:
        """Create the node of lone evidence (``x:``) or of one person on a shared phone (``p:..#``)."""
        if (key[0] == "x" or is_person(key)) and key not in self.nodes:
            node = self.nodes[key] = new_node(key)
            node.sig = None
            if key[0] == "x":
                node.add_evidence(key[2:])
            self.uf.add(key)
            self.mark("n", key)

    def customer_of(self, ev: Evidence) -> str | None:
        if not ev.anchor or ev.anchor not in self.uf:
            return None
        return self.by_root.get(self.uf.find(ev.anchor))

    def forget_profiles(self, keys: list[str]) -> None:
        """Drop the memoised profiles (`resolver.summary`) that read how `keys` link.

        A key's status, sharing, per-person split and near links show on the customer that
        holds it and on every customer holding evidence that carries it: those, and only
        those, are dropped. Call before the change moves anything (the union-find is read).
        """
        memo = self.profiles
        shown = self.shown
        if not memo and shown is None:
            return
        uf, by_root, evidence, nodes = self.uf, self.by_root, self.evidence, self.nodes
        for key in keys:
            if key in uf:
                cid = by_root.get(uf.find(key))
                if cid is not None:
                    memo.pop(cid, None)
                    if shown is not None:
                        shown.add(cid)
            node = nodes.get(key)
            if node is None:
                continue
            for vid in node.vids():
                ev = evidence.get(vid)
                if ev is not None and ev.anchor and ev.anchor in uf:
                    cid = by_root.get(uf.find(ev.anchor))
                    if cid is not None:
                        memo.pop(cid, None)
                        if shown is not None:
                            shown.add(cid)

    def customer_evidence(self, cust: Customer) -> list[Evidence]:
        """The evidence anchored in a customer, in canonical order (earliest first)."""
        out: list[Evidence] = []
        evidence = self.evidence
        for key in self.uf.members(cust.root):
            holder = holder_of(key)
            for vid in self.nodes[holder].vids():
                ev = evidence.get(vid)
                if ev is not None and ev.anchor == key:
                    out.append(ev)
        out.sort(key=lambda ev: (ev.at, ev.eid))
        return out

    def new_id(self, eid: str, reserved: Container[str] = ()) -> str:
        """A fresh customer id from event id `eid`: not live, absorbed, erased or in `reserved`.

        `reserved` holds the ids a re-resolution has taken off `cust` to hand back to their
        parts: a new part must not take one of them first.
        """
        salt = 0
        while True:
            cid = customer_id_for(eid, salt)
            if cid not in self.cust and cid not in self.absorbed and cid not in self.erased and cid not in reserved:
                return cid
            salt += 1

    def current_id(self, customer_id: str) -> str | None:
        """Follow the absorbed-into chain to a live id; None when unknown or erased."""
        seen = 0
        cid: str | None = customer_id
        while cid is not None and cid not in self.cust:
            cid = self.absorbed.get(cid)
            seen += 1
            if seen > 10_000:
                return None
        return cid

    def evidence_of(self, ref: str) -> Evidence | None:
        """The evidence an evidence id or a remembered event id refers to."""
        ev = self.evidence.get(ref)
        if ev is not None:
            return ev
        seen = self.recent.vid_of(ref)
        return None if seen is None else self.evidence.get(seen)
