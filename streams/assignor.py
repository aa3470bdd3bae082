"""The links log's assignor: its one partition stays with the member that holds the ordered stage's state.

Kafka's built-in assignors order members by member id, so a worker that joins with a
smaller id takes the links log from the member that has its state in memory, and the
ordered stage is restored from its snapshot on the newcomer (seconds at scale) for nothing.
Here each member says in its join metadata whether it holds the state (``b"1"``); the
group leader gives every partition to a member that says so, else to the first member by
id (what the range assignor does with one partition). `choose_owner` is the pure rule.

aiokafka's assignors are classes with class methods, so `keep_owner` makes a class per
consumer, closed over that consumer's own answer to "do I hold the state?".

A consumer must name exactly one assignor: aiokafka (0.14) sends one JoinGroup per assignor
it is given (the send sits inside its loop over them; aio-libs/aiokafka#1168), the second
without the member id the first got, so each static member replaced itself in the group on
every rebalance and three workers starting together could leave the group waiting in
PreparingRebalance until its rebalance timeout. So this assignor speaks the protocol name
``range``: workers of older versions (range alone, or this assignor and range) agree with it
on one protocol, and for the links log's one partition its choice is range's (the first
member by id) whenever no member says it holds the state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata

__all__ = ["HOLDING", "PROTOCOL", "choose_owner", "keep_owner"]

#: The join metadata's user data of a member that holds the state.
HOLDING = b"1"
#: The protocol name members agree on (see the module's docstring: why not a name of its own).
PROTOCOL = "range"


def choose_owner(members: Mapping[str, bytes]) -> str:
    """The member to own every partition: the first (by id) that holds the state, else the first.

    ``members`` maps member id to its join user data. Deterministic: any leader picks the same.
    """
    if not members:
        raise ValueError("no members to choose from")
    holding = [m for m, data in members.items() if data == HOLDING]
    return min(holding) if holding else min(members)


def keep_owner(holds_state: Callable[[], bool]) -> type[AbstractPartitionAssignor]:
    """An assignor class for one consumer; `holds_state` answers for this member when it joins."""

    class KeepOwner(AbstractPartitionAssignor):  # type: ignore[misc]
        name = PROTOCOL
        version = 0

        @classmethod
        def assign(
            cls, cluster: ClusterMetadata, members: Mapping[str, ConsumerProtocolMemberMetadata]
        ) -> dict[str, ConsumerProtocolMemberAssignment]:
            owner = choose_owner({m: bytes(meta.user_data or b"") for m, meta in members.items()})
            topics = sorted({t for meta in members.values() for t in meta.subscription})
            owned = [(t, sorted(cluster.partitions_for_topic(t) or ())) for t in topics]
            owned = [(t, parts) for t, parts in owned if t in members[owner].subscription]
            return {m: ConsumerProtocolMemberAssignment(cls.version, owned if m == owner else [], b"") for m in members}

        @classmethod
        def metadata(cls, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
            return ConsumerProtocolMemberMetadata(cls.version, list(topics), HOLDING if holds_state() else b"")

        @classmethod
        def on_assignment(cls, assignment: ConsumerProtocolMemberAssignment) -> None:
            return None

    return KeepOwner
