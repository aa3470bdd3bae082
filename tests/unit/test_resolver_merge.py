"""Operator merge (a must-link kept in the core's state) and the review queue's pairs.

World: two records of one person the evidence keeps apart (no shared identifier)::

    a  WEB    phone 98000 00011, email asha@x.in       "Asha Rao"   ─ customer A
    b  KIOSK  email asha.work@y.in                      "Asha Rao"   ─ customer B (younger)

The operator merges B into A; later evidence, re-resolutions, snapshots, records and a replay
of the same log keep them one customer, until a split or an erasure says otherwise.
"""

from __future__ import annotations

from resolver.config import ResolverConfig
from resolver.interaction import Interaction
from resolver.resolver import Resolver

T0 = 1_700_000_000_000


def ev(
    eid: str,
    t: int = 0,
    tp: str = "WEB",
    src: str | None = None,
    *,
    phone: str | None = None,
    email: str | None = None,
    name: str | None = None,
) -> Interaction:
    return Interaction(eid, tp, T0 + t * 1000, src or f"src-{eid}", "visit", phone=phone, email=email, name=name)


A = ev("a", 1, phone="98000 00011", email="asha@x.in", name="Asha Rao")
B = ev("b", 2, "KIOSK", email="asha.work@y.in", name="Asha Rao")


def world(config: ResolverConfig | None = None) -> tuple[Resolver, str, str]:
    r = Resolver(config)
    r.apply(A)
    r.apply(B)
    a, b = r.customer_of_event("a"), r.customer_of_event("b")
    assert a is not None and b is not None and a != b
    return r, a, b


def test_a_merge_joins_two_customers_and_the_younger_is_absorbed() -> None:
    r, a, b = world()
    out = r.merge(b, a)
    assert out.accepted and out.reason is None and out.customer_id == a
    assert out.outcome.absorbed == ((b, a),)
    assert r.customer_ids() == [a] and r.current_id(b) == a
    assert r.customer_of_event("b") == a
    assert any("operator merge 1" in n for n in out.outcome.notes)


def test_refusals_are_values_with_a_reason() -> None:
    r, a, b = world()
    assert r.merge(a, "c_nobody").reason == "unknown customer c_nobody"
    assert not r.merge(a, a).accepted and "one customer already" in (r.merge(a, a).reason or "")
    # Erased.
    r.apply(ev("z", 3, email="zed@x.in"))
    zed = r.customer_of_event("z") or ""
    r.erase(zed)
    refused = r.merge(a, zed)
    assert not refused.accepted and refused.reason == f"customer {zed} was erased"
    assert refused.outcome.absorbed == () and r.customer_ids() == sorted([a, b])


def test_a_merge_beyond_the_limits_is_refused() -> None:
    r = Resolver(ResolverConfig(max_phones=1))
    r.apply(ev("a", 1, phone="98000 00011"))
    r.apply(ev("b", 2, phone="98000 00022"))
    a, b = r.customer_of_event("a") or "", r.customer_of_event("b") or ""
    out = r.merge(a, b)
    assert not out.accepted and out.reason == "the merged customer would break a rule: more than 1 phones"
    assert r.merge_refusal(a, b) == out.reason
    assert r.customer_of_event("a") != r.customer_of_event("b")


def test_a_merge_across_a_split_ban_is_refused() -> None:
    r = Resolver()
    r.apply(ev("a", 1, phone="98000 00011", email="ravi@x.in"))
    r.apply(ev("b", 2, phone="98000 00022", email="ravi@x.in"))
    r.apply(ev("c", 3, phone="98000 00022", email="other@x.in"))
    cid = r.customer_of_event("a") or ""
    r.split(cid, "98000 00022")
    a, b = r.customer_of_event("a") or "", r.customer_of_event("c") or ""
    assert a != b
    out = r.merge(a, b)
    assert not out.accepted and out.reason == "the merged customer would break a rule: kept apart by split 1"


def test_a_merge_across_a_block_is_refused() -> None:
    r = Resolver()
    r.apply(ev("a", 1, phone="98000 00011", email="a@x.in"))
    r.apply(ev("b", 2, phone="98000 00011", email="b@x.in"))
    r.block("98000 00011")
    a, b = r.customer_of_event("a") or "", r.customer_of_event("b") or ""
    assert a != b
    out = r.merge(a, b)
    assert not out.accepted and out.reason is not None
    assert out.reason.startswith("kept apart by a block on phone") and "98000" not in out.reason


def test_the_merge_is_honoured_by_later_events_and_re_resolutions() -> None:
    r, a, b = world()
    r.merge(b, a)
    # New evidence on each side, and a block that re-resolves A's component from its evidence.
    r.apply(ev("c", 3, "WEB", src="src-b2", email="asha.work@y.in", phone="98000 00033", name="Asha"))
    r.block("98000 00011")
    assert r.customer_ids() == [a]
    assert {r.customer_of_event(e) for e in "abc"} == {a}
    # A repeat that moves B's evidence earliest re-resolves a constrained component: still one.
    r.apply(ev("b-early", 0, "KIOSK", src="src-b", email="asha.work@y.in", name="Asha Rao"))
    assert {r.customer_of_event(e) for e in "abc"} == {a}


def test_the_merge_survives_a_snapshot_records_and_a_replay_of_the_same_log() -> None:
    r, a, b = world()
    r.merge(b, a)
    copy = Resolver.from_snapshot(r.config, r.snapshot())
    later = ev("c", 3, "KIOSK", src="src-b", email="asha.work@y.in", phone="98000 00044", name="Asha Rao")
    assert copy.apply(later) == r.apply(later)
    assert copy.customer_ids() == r.customer_ids() == [a]
    assert copy.snapshot() == r.snapshot()
    # Records (the older state format) keep it too.
    tracked, _, _ = world()
    tracked.merge(b, a)
    restored = Resolver.restore(tracked.config, [(k, v) for k, v in tracked.drain_changes().items() if v])
    assert restored.customer_ids() == [a] and restored._g.must == tracked._g.must
    # The same log (events and actions) gives the same state, byte for byte.
    again, _, _ = world()
    again.merge(b, a)
    again.apply(later)
    assert again.snapshot() == r.snapshot()


def test_a_later_split_that_separates_the_two_ends_the_merge() -> None:
    r, a, b = world()
    r.merge(b, a)
    out = r.split(a, "asha.work@y.in")
    assert any("ends operator merge 1" in n for n in out.notes)
    assert r.customer_of_event("a") != r.customer_of_event("b")
    assert r._g.must == {}
    # A split by an identifier the merged pieces do not carry keeps the merge.
    r2, a2, b2 = world()
    r2.apply(ev("c", 3, "KIOSK", src="src-b", email="asha.work@y.in", phone="98000 00077"))
    r2.merge(b2, a2)
    out = r2.split(a2, "98000 00077")
    assert not any("ends operator merge" in n for n in out.notes)
    assert r2.customer_of_event("a") == r2.customer_of_event("b") and list(r2._g.must) == [1]
    assert r2.lookup("98000 00077", "phone").status == "cut"


def test_an_erasure_ends_the_merge_with_the_evidence() -> None:
    r, a, b = world()
    r.merge(b, a)
    r.erase(a)
    assert r._g.must == {} and r._g.must_of == {} and r.customer_ids() == []
    assert r.apply(A).suppressed and r.apply(B).suppressed


def test_explain_and_why_show_the_operator_link() -> None:
    r, a, b = world()
    r.merge(b, a)
    edges = [e for e in r.explain(a).edges if e["rule"] == "operator-merge"]
    assert len(edges) == 1 and edges[0]["merge"] == 1 and not edges[0]["refused"]
    path = r.why("98000 00011", "asha.work@y.in")["path"]
    assert [hop["rule"] for hop in path] == ["operator-merge"]


def test_the_review_queue_lists_a_household_and_honours_dismissals() -> None:
    """A family phone: two people with different names and emails, each seen twice."""
    r = Resolver()
    r.apply(ev("p1", 1, phone="97318 62045", email="priya@y.in", name="Priya Kumar"))
    r.apply(ev("p2", 2, "KIOSK", phone="97318 62045", name="Priya Kumar"))
    r.apply(ev("n1", 3, phone="97318 62045", email="anil@z.in", name="Anil Shah"))
    r.apply(ev("n2", 4, "KIOSK", phone="97318 62045", name="Anil Shah"))
    priya, anil = r.customer_of_event("p1") or "", r.customer_of_event("n1") or ""
    assert priya != anil
    pairs = [p for chunk in r.review_scan(chunk=3) for p in chunk]
    household = [p for p in pairs if p.rule == "household"]
    assert household and {household[0].a, household[0].b} == {priya, anil}
    assert "91234" not in household[0].reason
    r.dismiss(priya, anil)
    assert r.dismissed() == {tuple(sorted((priya, anil)))}
    copy = Resolver.from_snapshot(r.config, r.snapshot())
    assert copy.dismissed() == r.dismissed()
    # The operator may merge them all the same (a household rule is evidence, not a decision).
    assert r.merge(anil, priya).accepted


def test_the_review_queue_lists_a_refused_limit() -> None:
    r = Resolver(ResolverConfig(max_phones=2))
    r.apply(ev("a", 1, phone="98000 00011", email="one@x.in"))
    r.apply(ev("b", 2, phone="98000 00022", email="one@x.in"))
    r.apply(ev("c", 3, phone="98000 00033", email="one@x.in"))
    pairs = [p for chunk in r.review_scan() for p in chunk if p.rule == "limit"]
    assert pairs and "more than 2 phones" in pairs[0].reason


def test_the_review_queue_lists_near_phones_whose_names_do_not_agree() -> None:
    r = Resolver()
    r.apply(ev("a", 1, phone="98450 71623", name="Ravi Kumar"))
    r.apply(ev("b", 2, phone="98450 71629", name="Meera Iyer"))
    a, b = r.customer_of_event("a") or "", r.customer_of_event("b") or ""
    assert a != b
    near = [p for chunk in r.review_scan() for p in chunk if p.rule == "near-phone"]
    assert [(p.a, p.b) for p in near] == [tuple(sorted((a, b)))]
    assert "names do not agree" in near[0].reason and "71623" not in near[0].reason
