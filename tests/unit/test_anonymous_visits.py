"""Anonymous visits on a shared identifier are nobody in particular, and their confidence says so.

A store terminal's id typed for every walk-in is quarantined (three people named in full on it).
Walk-ins who gave nothing else (no name, the store's phone) then make one record of their own:
the same content is the same evidence, so it holds every such walk-in, whoever they were. A
named walk-in's record on the same terminal is one name, thin but not doubtful.
"""

from __future__ import annotations

from resolver.interaction import Interaction
from resolver.resolver import Resolver

T0 = 1_790_000_000_000
REASON = "anonymous visits on a shared identifier, anyone's"


def ev(
    eid: str, minute: int, src: str, *, tp: str = "KIOSK", phone: str | None = None, name: str | None = None
) -> Interaction:
    return Interaction(eid, tp, T0 + minute * 60_000, src, "visit", phone=phone, name=name)


def terminal() -> list[Interaction]:
    named = [("Meera Iyer", "98450 11111"), ("John Das", "97310 22222"), ("Sara Khan", "99000 33333")]
    events = [ev(f"n{i}", i, "KSK-07", phone=phone, name=name) for i, (name, phone) in enumerate(named)]
    # walk-ins who gave nothing: no name, a placeholder number
    events += [ev(f"a{i}", 10 + i, "KSK-07", phone="9999999999") for i in range(4)]
    events.append(ev("w1", 20, "KSK-07", name="Ravi Menon"))  # a name and nothing else
    events.append(ev("web", 21, "cookie-1", tp="WEB"))  # a page view on a cookie of its own
    return events


def resolve(events: list[Interaction]) -> Resolver:
    r = Resolver()
    for e in events:
        r.apply(e)
    return r


def test_anonymous_walk_ins_on_a_quarantined_terminal_score_low_with_the_reason() -> None:
    r = resolve(terminal())
    assert "t:KIOSK:KSK-07" in r.quarantined_keys()
    bucket = r.customer_of_event("a0")
    assert bucket is not None and all(r.customer_of_event(f"a{i}") == bucket for i in range(4))
    profile = r.profile(bucket)
    assert profile is not None and profile.event_count == 4
    assert profile.confidence <= 0.2 and any(REASON in x for x in profile.confidence_reasons)
    assert r.profile(bucket, memo=False) == profile


def test_a_named_walk_in_and_a_lone_cookie_keep_their_thin_but_sound_scores() -> None:
    r = resolve(terminal())
    for eid in ("w1", "web", "n0"):
        profile = r.profile(r.customer_of_event(eid) or "")
        assert profile is not None and not any(REASON in x for x in profile.confidence_reasons), eid
        assert profile.confidence >= 0.6, (eid, profile.confidence_reasons)
