"""Memoised profiles always equal freshly built ones, whatever operations ran in between."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolver.config import ResolverConfig
from resolver.engine import Resolver
from resolver.interaction import Interaction

T0 = 1_700_000_000_000
PHONES = ["98450 71623", "98450 71629", "97318 62045", "98862 71453", "022 2345 6789"]
EMAILS = ["ravi@x.in", "priya@y.in", "anil@z.in", None]
NAMES = ["Ravi Kumar", "Priya Kumar", "Anil Shah", "Ravi", None]


@st.composite
def operations(draw: st.DrawFn) -> list[tuple[str, object]]:
    ops: list[tuple[str, object]] = []
    for i in range(draw(st.integers(1, 30))):
        kind = draw(st.sampled_from(["event"] * 6 + ["split", "block", "erase", "again"]))
        if kind == "event":
            tp = draw(st.sampled_from(["WEB", "KIOSK", "WHATSAPP"]))
            phone = draw(st.none() | st.sampled_from(PHONES))
            src = (
                "91" + (phone or PHONES[0]).replace(" ", "")
                if tp == "WHATSAPP"
                else f"{tp.lower()}-{draw(st.integers(0, 6))}"
            )
            ops.append(
                (
                    "event",
                    Interaction(
                        f"ev-{i:02d}",
                        tp,
                        T0 + draw(st.integers(0, 40)) * 1000,
                        src,
                        "visit",
                        phone=phone,
                        email=draw(st.sampled_from(EMAILS)),
                        name=draw(st.sampled_from(NAMES)),
                    ),
                )
            )
        else:
            ops.append((kind, draw(st.integers(0, 1000))))
    return ops


def assert_memo_is_fresh(r: Resolver) -> None:
    for cid in r.customer_ids():
        memoised = r.profile(cid)
        fresh = r.profile(cid, memo=False)
        assert memoised == fresh, cid


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations())
def test_memoised_profiles_equal_fresh_ones_after_any_operations(ops: list[tuple[str, object]]) -> None:
    r = Resolver(ResolverConfig(hub_threshold=2, max_phones=2, max_emails=2))
    seen: list[Interaction] = []
    for kind, arg in ops:
        customers = r.customer_ids()
        if kind == "event":
            assert isinstance(arg, Interaction)
            r.apply(arg)
            seen.append(arg)
        elif kind == "again" and seen:
            assert isinstance(arg, int)
            r.apply(seen[arg % len(seen)])
        elif customers:
            assert isinstance(arg, int)
            cid = customers[arg % len(customers)]
            explanation = r.explain(cid)
            if kind == "erase":
                r.erase(cid)
            elif kind == "block" and explanation.nodes:
                r.block(explanation.nodes[arg % len(explanation.nodes)]["id"])
            elif kind == "split" and explanation.nodes:
                targets = [n["id"] for n in explanation.nodes] + list(explanation.events)
                r.split(cid, targets[arg % len(targets)])
        assert_memo_is_fresh(r)


def test_a_repeat_visit_refreshes_the_memoised_profile() -> None:
    r = Resolver()
    r.apply(Interaction("a", "WEB", T0, "web-1", "visit", phone="98450 71623", name="Ravi"))
    cid = r.customer_of_event("a") or ""
    before = r.profile(cid)
    assert before is not None and before.event_count == 1
    assert r.profile(cid) is before  # memoised
    r.apply(Interaction("b", "KIOSK", T0 + 5, "k-1", "visit", phone="98450 71623", name="Ravi"))
    after = r.profile(cid)
    assert after is not None and after.event_count == 2 and after.last_seen == T0 + 5
