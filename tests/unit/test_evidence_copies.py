"""State per evidence: repeated events change counts, never who is who (issue 14, "Done when").

    copy 0   |ev ev ev ... ev|                         one copy of 1,500 customers' events
    copy 1                     |ev~1 ev~1 ... |         the same events, new ids, 30 days later
    ...                                                 ... sixteen copies in all
    -> the same customers (ids, identifiers, names, first seen, confidence); event counts x16

and within the duplicate horizon a repeated event id changes nothing at all.
"""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolver.config import ResolverConfig
from resolver.engine import Resolver
from resolver.horizon import DAY_MS, RecentEvents
from resolver.interaction import Interaction, fields_of, from_json
from streams.copies import copy_event
from streams.synthetic import generate

from .test_resolver_properties import events

CUSTOMERS = 1_500
COPIES = 16
GAP_DAYS = 30


def _customers(resolver: Resolver) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for cid in resolver.customer_ids():
        p = resolver.profile(cid)
        assert p is not None
        out[cid] = (p.phones, p.emails, p.source_ids, p.name, p.first_seen, p.touchpoints, p.confidence)
    return out


def test_sixteen_copies_give_the_same_customers_as_one() -> None:
    events, _ = generate(CUSTOMERS, 7)
    one = Resolver(ResolverConfig(), track_changes=False)
    for obj in events:
        one.apply(from_json(obj))
    many = Resolver(ResolverConfig(), track_changes=False)
    for k in range(COPIES):
        for obj in events:
            many.apply(from_json(copy_event(obj, k, GAP_DAYS)))
    assert _customers(many) == _customers(one)
    assert many.stats()["evidence"] == one.stats()["evidence"]
    assert many.stats()["identifiers"] == one.stats()["identifiers"]
    counts_one = {c: one.profile(c).event_count for c in one.customer_ids()}  # type: ignore[union-attr]
    counts_many = {c: many.profile(c).event_count for c in many.customer_ids()}  # type: ignore[union-attr]
    assert counts_many == {c: n * COPIES for c, n in counts_one.items()}
    # The duplicate horizon holds one horizon of event ids, not every copy's.
    assert len(many.event_ids()) < len(events)


def _ev(eid: str, at: int, **kw: str) -> Interaction:
    return Interaction(eid, "WEB", at, kw.pop("src", "ck-1"), "visit", **kw)  # type: ignore[arg-type]


def test_a_duplicate_within_the_horizon_changes_nothing() -> None:
    t0 = 1_700_000_000_000
    r = Resolver(ResolverConfig())
    first = r.apply(_ev("e1", t0, phone="98450 71623", name="Asha Rao"))
    r.drain_changes()
    again = r.apply(_ev("e1", t0 + 3 * DAY_MS, phone="97318 62045", name="Somebody Else"))
    assert again.duplicate and again.conflict and again.customer_id is None  # another event under the id
    resent = r.apply(_ev("e1", t0 + 4 * DAY_MS, phone="98450 71623", name="Asha Rao"))
    assert resent.duplicate and not resent.conflict and resent.customer_id == first.customer_id
    assert r.drain_changes() == {}
    profile = r.profile(first.customer_id or "")
    assert profile is not None and profile.event_count == 1 and profile.phones == ("+919845071623",)


def test_a_copy_older_than_the_horizon_only_counts() -> None:
    t0 = 1_700_000_000_000
    r = Resolver(ResolverConfig(duplicate_horizon_ms=7 * DAY_MS))
    cid = r.apply(_ev("e1", t0, phone="98450 71623", name="Asha Rao")).customer_id
    r.apply(_ev("e2", t0 + 20 * DAY_MS, src="ck-2", email="asha@x.in"))
    assert "e1" not in r.event_ids()  # forgotten: 20 days of event time later
    late = r.apply(_ev("e1", t0, phone="98450 71623", name="Asha Rao"))
    assert not late.duplicate and late.customer_id == cid
    profile = r.profile(cid or "")
    assert profile is not None and profile.event_count == 2 and profile.first_seen == t0


def test_recent_events_forget_by_day_of_event_time() -> None:
    recent = RecentEvents(2 * DAY_MS)
    assert recent.remember("a", 0, "v1") == []
    assert recent.remember("b", DAY_MS, "v2") == []
    assert recent.remember("c", 3 * DAY_MS + 1, "v3") == ["a"]  # day 0 ends before 3d+1 - 2d
    assert "a" not in recent and "b" in recent and recent.get("c") == (3 * DAY_MS + 1, "v3")
    # A late event is stamped with the watermark: remembered for a whole horizon after it arrives.
    assert recent.remember("late", 0, "v1") == []
    assert recent.get("late") == (3 * DAY_MS + 1, "v1")
    assert recent.remember("d", 5 * DAY_MS + 2, "v4") == ["b"]
    assert "late" in recent
    assert sorted(recent.remember("e", 6 * DAY_MS, "v5")) == ["c", "late"]
    restored = RecentEvents.restore(2 * DAY_MS, recent.watermark, recent.items())
    assert restored.items() == recent.items() and restored.watermark == recent.watermark


def test_an_explanation_shows_the_evidence_with_its_counts() -> None:
    t0 = 1_700_000_000_000
    r = Resolver(ResolverConfig())
    cid = r.apply(_ev("m1", t0, phone="98450 71623", name="Asha Rao")).customer_id
    for i in range(2, 6):  # a conversation: the same phone and name, again and again
        assert r.apply(_ev(f"m{i}", t0 + i * 60_000, phone="98450 71623", name="Asha Rao")).customer_id == cid
    r.apply(_ev("w1", t0 + 9 * 60_000, src="ck-9", phone="98450 71623", email="asha@x.in"))
    explanation = r.explain(cid or "")
    rows = [(e["first_event_id"], e["count"], e["first_seen"], e["last_seen"]) for e in explanation.evidence]
    assert rows == [("m1", 5, t0, t0 + 5 * 60_000), ("w1", 1, t0 + 9 * 60_000, t0 + 9 * 60_000)]
    assert list(explanation.events) == [e["id"] for e in explanation.evidence]
    assert r.stats()["evidence"] == 2 and r.stats()["events"] == 6
    # Any event id remembered within the horizon leads to its evidence's customer.
    assert r.customer_of_event("m3") == cid


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events(), st.data())
def test_later_copies_never_change_who_is_who(evs: list[Interaction], data: st.DataObject) -> None:
    config = ResolverConfig(hub_threshold=3, max_phones=2, max_emails=2)
    once = Resolver(config)
    for ev in evs:
        once.apply(ev)
    again = Resolver(config)
    stream = list(evs)
    for i, ev in enumerate(evs):  # copies under new ids, at the same time or later, anywhere after
        if data.draw(st.booleans()):
            later = dataclasses.replace(
                ev, event_id=f"{ev.event_id}~", occurred_at=ev.occurred_at + data.draw(st.integers(0, 10**9))
            )
            stream.insert(data.draw(st.integers(i + 1, len(stream))), later)
    for ev in stream:
        again.apply(ev)
    assert {frozenset(e for e in group) for group in _groups(once, evs)} == {
        frozenset(e for e in group) for group in _groups(again, evs)
    }


def _groups(r: Resolver, evs: list[Interaction]) -> list[set[str]]:
    out: dict[str, set[str]] = {}
    for ev in evs:
        cid = r.customer_of_fields(fields_of(ev))  # by content: the id may be past the horizon
        assert cid is not None
        out.setdefault(cid, set()).add(ev.event_id)
    return list(out.values())
