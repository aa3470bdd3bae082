"""Quality of a resolution against ground truth: pure figures over event -> customer maps.

Inputs are plain mappings: ``truth`` (event_id -> true customer) and ``assignments``
(event_id -> resolved customer id), wherever they came from (replay CSV, CRM store).

Contracts:

* Only events in ``truth`` are evaluated (optionally only those in ``only``). An evaluated
  event with no assignment counts as a resolved customer of its own (a singleton), and is
  reported in ``unassigned``: missing output never flatters recall.
* Pairwise figures count pairs of events by cluster-size combinatorics (O(n)): a pair is
  *predicted* when both events share a resolved customer, *true* when they share a true one.
  With no predicted pairs precision is 1.0; with no true pairs recall is 1.0.
* Confidence AUC: resolved customers mixing more than one true customer are *impure*; the
  AUC is the probability that a pure customer scores higher than an impure one (ties 0.5),
  None when either class is empty.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "Before",
    "Cluster",
    "Evaluation",
    "Identifiable",
    "PairCounts",
    "assignments_via_touchpoints",
    "auc",
    "before_crm",
    "carries_identifier",
    "confidences",
    "evaluate",
    "identifiable_events",
    "pair_counts",
]


class _Scored(Protocol):
    """What `confidences` reads: a resolver's live customers and their profiles."""

    def customer_ids(self) -> list[str]: ...

    def profile(self, customer_id: str) -> Any: ...


def confidences(resolver: _Scored) -> dict[str, float]:
    """Each live customer's confidence (what `evaluate` takes); every live customer has a profile."""
    out: dict[str, float] = {}
    for cid in resolver.customer_ids():
        profile = resolver.profile(cid)
        if profile is None:
            raise ValueError(f"live customer {cid} has no profile")
        out[cid] = profile.confidence
    return out


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


@dataclass(frozen=True, slots=True)
class PairCounts:
    """Pairs of events: sharing a true customer, sharing a resolved customer, sharing both."""

    true_pairs: int
    predicted_pairs: int
    common_pairs: int

    @property
    def precision(self) -> float:
        return self.common_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.common_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True, slots=True)
class Cluster:
    """One resolved customer: its events and how many true customers they belong to."""

    customer_id: str
    events: int
    true_customers: int


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every figure of one evaluation. Shares are in [0, 1]; see the module docstring for edge cases."""

    events: int
    unassigned: int
    true_customers: int
    resolved_customers: int
    pairs: PairCounts
    single_identity_rate: float
    purity: float
    event_purity: float
    size_distribution: dict[int, int]
    largest: tuple[Cluster, ...]
    confidence_auc: float | None = None
    scored_customers: int = 0
    below_threshold: int = 0
    threshold: float = 0.5

    @property
    def precision(self) -> float:
        return self.pairs.precision

    @property
    def recall(self) -> float:
        return self.pairs.recall

    @property
    def f1(self) -> float:
        return self.pairs.f1

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (size distribution keys as strings)."""
        return {
            "events": self.events,
            "unassigned": self.unassigned,
            "true_customers": self.true_customers,
            "resolved_customers": self.resolved_customers,
            "true_pairs": self.pairs.true_pairs,
            "predicted_pairs": self.pairs.predicted_pairs,
            "common_pairs": self.pairs.common_pairs,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "single_identity_rate": self.single_identity_rate,
            "purity": self.purity,
            "event_purity": self.event_purity,
            "size_distribution": {str(k): v for k, v in sorted(self.size_distribution.items())},
            "largest": [
                {"customer_id": c.customer_id, "events": c.events, "true_customers": c.true_customers}
                for c in self.largest
            ],
            "confidence_auc": self.confidence_auc,
            "scored_customers": self.scored_customers,
            "below_threshold": self.below_threshold,
            "threshold": self.threshold,
        }


def pair_counts(truth: Mapping[str, str], assignments: Mapping[str, str]) -> PairCounts:
    """Pair counts over the events of `truth`; unassigned events are singletons. O(n)."""
    return _pair_counts(_clusters(truth, assignments, truth.keys())[0], truth)


def _clusters(
    truth: Mapping[str, str], assignments: Mapping[str, str], events: Iterable[str]
) -> tuple[dict[str, list[str]], int]:
    """resolved id -> its evaluated events; unassigned events get a private key. Also the unassigned count."""
    clusters: dict[str, list[str]] = defaultdict(list)
    unassigned = 0
    for eid in events:
        cid = assignments.get(eid)
        if cid is None:
            unassigned += 1
            # "\x00" cannot occur in a customer id, so this key never collides with one.
            clusters["\x00" + eid].append(eid)
        else:
            clusters[cid].append(eid)
    return clusters, unassigned


def _pair_counts(clusters: Mapping[str, list[str]], truth: Mapping[str, str]) -> PairCounts:
    true_sizes: Counter[str] = Counter()
    predicted = common = 0
    for members in clusters.values():
        predicted += _pairs(len(members))
        cell = Counter(truth[eid] for eid in members)
        common += sum(_pairs(n) for n in cell.values())
        true_sizes.update(cell)
    return PairCounts(sum(_pairs(n) for n in true_sizes.values()), predicted, common)


def auc(positive: Sequence[float], negative: Sequence[float]) -> float | None:
    """P(score of a positive > score of a negative), ties 0.5 (Mann-Whitney U). None if a class is empty.

    O((p + n) log(p + n)): average ranks over the pooled, sorted scores.
    """
    if not positive or not negative:
        return None
    pooled = sorted([(s, 1) for s in positive] + [(s, 0) for s in negative])
    rank_sum = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j < len(pooled) and pooled[j][0] == pooled[i][0]:
            j += 1
        mean_rank = (i + 1 + j) / 2  # ranks i+1 .. j share their mean
        rank_sum += mean_rank * sum(label for _, label in pooled[i:j])
        i = j
    p, n = len(positive), len(negative)
    return (rank_sum - p * (p + 1) / 2) / (p * n)


def evaluate(
    truth: Mapping[str, str],
    assignments: Mapping[str, str],
    *,
    confidence: Mapping[str, float] | None = None,
    only: Collection[str] | None = None,
    largest: int = 5,
    threshold: float = 0.5,
) -> Evaluation:
    """Evaluate `assignments` against `truth`, over the events of `truth` (and of `only`, if given).

    `confidence` (resolved customer id -> score in [0, 1]) adds the AUC and the number of
    resolved customers below `threshold`; customers without a score are left out of both.
    """
    events = [eid for eid in truth if eid in only] if only is not None else list(truth)
    clusters, unassigned = _clusters(truth, assignments, events)
    pairs = _pair_counts(clusters, truth)

    homes: dict[str, set[str]] = defaultdict(set)  # true customer -> resolved customers
    mix: dict[str, int] = {}  # resolved customer -> distinct true customers
    majority = 0
    sizes: Counter[int] = Counter()
    for cid, members in clusters.items():
        cell = Counter(truth[eid] for eid in members)
        mix[cid] = len(cell)
        majority += max(cell.values())
        sizes[len(members)] += 1
        for true_id in cell:
            homes[true_id].add(cid)

    n_resolved = len(clusters)
    ranked = sorted(clusters, key=lambda c: (-len(clusters[c]), c))[:largest]
    top = tuple(Cluster(_public_id(c), len(clusters[c]), mix[c]) for c in ranked)

    auc_value: float | None = None
    scored = below = 0
    if confidence is not None:
        pure: list[float] = []
        impure: list[float] = []
        for cid in clusters:
            score = confidence.get(cid)
            if score is None:
                continue
            scored += 1
            below += score < threshold
            (pure if mix[cid] == 1 else impure).append(score)
        auc_value = auc(pure, impure)

    return Evaluation(
        events=len(events),
        unassigned=unassigned,
        true_customers=len(homes),
        resolved_customers=n_resolved,
        pairs=pairs,
        single_identity_rate=_share(sum(len(h) == 1 for h in homes.values()), len(homes)),
        purity=_share(sum(m == 1 for m in mix.values()), n_resolved),
        event_purity=_share(majority, len(events)),
        size_distribution=dict(sizes),
        largest=top,
        confidence_auc=auc_value,
        scored_customers=scored,
        below_threshold=below,
        threshold=threshold,
    )


def _public_id(cluster_key: str) -> str:
    return "(unassigned)" if cluster_key.startswith("\x00") else cluster_key


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def carries_identifier(event: Mapping[str, Any]) -> bool:
    """True when a JSON event carries a personal identifier: a non-blank phone or email, or WhatsApp.

    Judged on the raw values (placeholders included), so it does not depend on the resolver
    being evaluated.
    """
    for name in ("phone", "email"):
        value = event.get(name)
        if isinstance(value, str) and value.strip():
            return True
    touchpoint = event.get("touchpoint")
    return isinstance(touchpoint, str) and touchpoint.strip().upper() == "WHATSAPP"


#: Where a typed phone's own digits end: a letter (``x``, ``ext``), ``#``, ``;`` or ``,``.
_PHONE_END = re.compile(r"[A-Za-z#;,~]")
#: Digits of a phone compared: the last nine (the subscriber number, whatever prefix was typed).
_PHONE_TAIL = 9


def _loose_values(event: Mapping[str, Any]) -> list[str]:
    """The identifier values of a JSON event, loosely normalised (see `identifiable_events`)."""
    out: list[str] = []
    touchpoint = str(event.get("touchpoint") or "").strip().upper()
    source = str(event.get("source_id") or "").strip()
    phones = [event.get("phone")]
    if touchpoint == "WHATSAPP":
        phones.append(source)
    elif source:
        out.append(f"t:{touchpoint}:{source}")
    for phone in phones:
        if isinstance(phone, str):
            digits = "".join(ch for ch in _PHONE_END.split(phone, 1)[0] if ch.isdigit())
            if len(digits) >= 7:
                out.append("p:" + digits[-_PHONE_TAIL:])
    email = event.get("email")
    if isinstance(email, str) and "@" in email:
        local, _, domain = email.strip().lower().rpartition("@")
        domain = "gmail.com" if domain == "googlemail.com" else domain
        out.append("e:" + local.partition("+")[0].replace(".", "") + "@" + domain)
    return out


def identifiable_events(events: Iterable[Mapping[str, Any]]) -> set[str]:
    """Ids of the events that some method could link: they carry a personal identifier
    (`carries_identifier`) and share an identifier value with another event.

    An event whose every identifier value (phone, email, touchpoint record id) appears on no
    other event at all, anyone's, cannot be linked to anything by any method: a one-off
    anonymous visit that typed a number no other event carries. Values are compared loosely,
    more loosely than any resolver, so that no linkable event is left out: a phone by the last
    nine digits typed before an extension marker, and as shared when another phone is one
    digit or one swap of neighbours away from it (a typo some rule may correct); masks leave
    too few digits and compare as nothing; an email lower case with dots and a ``+tag``
    dropped from the local part. Junk and store numbers that many events share count as
    shared: those events stay in. Judged on the events alone (no truth, no resolver).
    Repeated sends of one event id are one event.
    """
    found = Identifiable()
    for event in events:
        found.add(event)
    return found.ids()


class Identifiable:
    """`identifiable_events` one event at a time (for a reader that streams a file): `add`, then `ids`.

    Holds, per identifier value, the first event carrying it (or that it is shared), and the
    values of each identified event: not the events.
    """

    __slots__ = ("_candidates", "_first", "_shared")

    def __init__(self) -> None:
        self._first: dict[str, str] = {}
        self._shared: set[str] = set()
        self._candidates: dict[str, tuple[str, ...]] = {}

    def add(self, event: Mapping[str, Any]) -> None:
        eid = str(event.get("event_id"))
        values = _loose_values(event)
        first = self._first
        for value in values:
            held = first.setdefault(value, eid)
            if held != eid:
                self._shared.add(value)
        # An event without a personal identifier is no candidate, but its values count for others.
        if carries_identifier(event):
            self._candidates[eid] = tuple(values)

    def ids(self) -> set[str]:
        """The identifiable events among those added."""
        shared = set(self._shared)
        # A phone one digit from another phone, or with two neighbouring digits swapped (a typo),
        # may link too: count it as shared.
        near: dict[str, str] = {}
        for value in self._first:
            if not value.startswith("p:"):
                continue
            digits = value[2:]
            for i in range(len(digits)):
                bucket = digits[:i] + "?" + digits[i + 1 :]
                other = near.setdefault(bucket, value)
                if other != value:
                    shared.add(value)
                    shared.add(other)
                swapped = "p:" + digits[:i] + digits[i + 1 : i + 2] + digits[i] + digits[i + 2 :]
                if swapped != value and swapped in self._first:
                    shared.add(value)
        return {eid for eid, values in self._candidates.items() if any(value in shared for value in values)}


@dataclass(frozen=True, slots=True)
class Before:
    """CRM records per real customer if every touchpoint identity were its own record."""

    true_customers: int
    records: int
    records_per_customer: float
    single_record_rate: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "true_customers": self.true_customers,
            "records": self.records,
            "records_per_customer": self.records_per_customer,
            "single_record_rate": self.single_record_rate,
        }


def before_crm(touchpoints: Iterable[tuple[str, str, str]], truth: Mapping[str, str]) -> Before:
    """From (event_id, touchpoint, source_id) triples: records (distinct touchpoint identities) per true customer.

    Events not in `truth` are ignored. A touchpoint identity used by two true customers counts
    once for each (each would see it as one of their records); `records` counts it once.
    """
    per: dict[str, set[tuple[str, str]]] = defaultdict(set)
    records: set[tuple[str, str]] = set()
    for eid, touchpoint, source_id in touchpoints:
        true_id = truth.get(eid)
        if true_id is None:
            continue
        key = (touchpoint.strip().upper(), source_id)
        per[true_id].add(key)
        records.add(key)
    n = len(per)
    total = sum(len(s) for s in per.values())
    return Before(
        true_customers=n,
        records=len(records),
        records_per_customer=total / n if n else 0.0,
        single_record_rate=_share(sum(len(s) == 1 for s in per.values()), n),
    )


def assignments_via_touchpoints(
    touchpoints: Iterable[tuple[str, str, str]], records: Mapping[tuple[str, str], str]
) -> dict[str, str]:
    """event_id -> customer id, through the customer holding each event's touchpoint identity.

    For a store (a CRM) that keeps touchpoint records rather than events; events whose
    identity it does not hold are left out (and so count as unassigned).
    """
    out: dict[str, str] = {}
    for eid, touchpoint, source_id in touchpoints:
        cid = records.get((touchpoint.strip().upper(), source_id))
        if cid is not None:
            out[eid] = cid
    return out
