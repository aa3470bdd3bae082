"""`weak_bridges`: which single-event links the confidence score doubts (found by audit s30)."""

from __future__ import annotations

from resolver.config import ResolverConfig
from resolver.interaction import Interaction
from resolver.profile import weak_bridges
from resolver.resolver import Resolver

T0 = 1_760_000_000_000
P, Q, E, F = "p:+919845071623", "p:+919845033121", "e:neha.k@gmail.com", "e:nk@work.in"


def test_a_signups_email_seen_once_is_a_lone_part_not_a_bridge() -> None:
    # signup (phone, email, cookie), then a kiosk visit with the phone: nothing was joined
    effs = [[P, E, "t:WEB:c1"], [P, "t:KIOSK:k1"]]
    assert weak_bridges({P, E, "t:WEB:c1", "t:KIOSK:k1"}, effs) == (0, 1)


def test_two_records_held_together_by_one_event_are_a_bridge() -> None:
    # the phone's own history, the email's own history, one event with both
    effs = [[P, "t:KIOSK:k1"], [E, "t:WEB:c1"], [P, E]]
    assert weak_bridges({P, E, "t:KIOSK:k1", "t:WEB:c1"}, effs) == (1, 0)
    # seen together twice: no single-event link
    assert weak_bridges({P, E, "t:KIOSK:k1", "t:WEB:c1"}, [*effs, [E, P, "t:WEB:c2"]]) == (0, 0)


def test_parts_an_operator_merged_are_counted_apart() -> None:
    # two customers joined by an operator (no evidence links them): each is clean on its own
    effs = [[P, "t:KIOSK:k1"], [P, "t:WEB:c1"], [Q, F], [Q, "t:KIOSK:k2"]]
    assert weak_bridges({P, Q, F, "t:KIOSK:k1", "t:WEB:c1", "t:KIOSK:k2"}, effs) == (0, 1)
    effs += [[F, "t:WEB:c9"]]  # the email seen again on its own: two records joined by one event
    assert weak_bridges({P, Q, F, "t:KIOSK:k1", "t:WEB:c1", "t:KIOSK:k2", "t:WEB:c9"}, effs) == (1, 0)


def test_giving_an_email_at_signup_costs_less_than_two_records_joined_by_one_event() -> None:
    r = Resolver(ResolverConfig(digest_key=b"k" * 32))
    r.apply(Interaction("w1", "WEB", T0, "cookie-n1", "signup", "98450 71623", "neha.k@gmail.com", "Neha Kulkarni"))
    r.apply(Interaction("k1", "KIOSK", T0 + 86_400_000, "KC-7001", "visit", "9845071623", None, "Neha Kulkarni"))
    r.apply(Interaction("w2", "WEB", T0, "cookie-f1", "signup", "98450 33121", None, "Farah Ali"))
    r.apply(Interaction("k2", "KIOSK", T0 + 86_400_000, "KC-7002", "visit", "9845033121", None, "Farah Ali"))
    neha, farah = (r.profile(r.customer_of_event(e) or "") for e in ("w1", "w2"))
    assert neha is not None and farah is not None
    assert "-0.20 a phone or email seen on one event only" in neha.confidence_reasons
    assert not any("joined by a single event" in reason for reason in neha.confidence_reasons)
    assert neha.confidence >= 0.6 > farah.confidence - 0.3  # out of the review queue (below 0.6)
