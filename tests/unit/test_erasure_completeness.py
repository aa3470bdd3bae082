"""An erasure reaches what the person's evidence carried without linking: a blocked identifier, a cut touchpoint.

Found by an audit of the running worker: after a block (or a split) and an erasure, the state's
snapshot still held the blocked email and the name in clear text, and Redis still answered the
blocked email with the erased customer's id.
"""

from __future__ import annotations

import pytest

from resolver.config import ResolverConfig
from resolver.interaction import Interaction
from resolver.resolver import Resolver
from resolver.snapshot import dump
from streams.pipeline import Pipeline
from streams.readmodel import identifier_of_key

T0 = 1_700_000_000_000
SECRETS = (b"meerapillai", b"meera.pillai", b"pillai", b"9447012345", b"KV-5001", b"u-3001")


def _meera(r: Resolver) -> str:
    r.apply(
        Interaction(
            "web-3001", "WEB", T0, "u-3001", "signup", "+91 94470 12345", "meera.pillai@gmail.com", "Meera Pillai"
        )
    )
    r.apply(Interaction("kiosk-5001", "KIOSK", T0 + 1000, "KV-5001", "visit", "94470 12345", None, "Meera Pillai"))
    r.apply(Interaction("other-1", "WEB", T0 + 2000, "u-9", "signup", "98450 33121", "zed@x.in", "Zed Khan"))
    cid = r.customer_of_event("web-3001")
    assert cid is not None
    return cid


@pytest.mark.parametrize("before", [[], ["block"], ["split"], ["block", "split"]])
def test_an_erasure_after_a_block_or_a_split_leaves_nothing_of_the_person_in_the_state(before: list[str]) -> None:
    r = Resolver(ResolverConfig(digest_key=b"k" * 32))
    cid = _meera(r)
    for action in before:
        if action == "block":
            r.block("meera.pillai@gmail.com")
        else:
            r.split(r.current_id(cid) or cid, "KIOSK:KV-5001")
    r.erase(r.customer_of_event("web-3001") or r.current_id(cid) or cid)
    blob = dump(r._g)
    assert [s for s in SECRETS if s in blob] == []
    assert sorted(r._g.nodes) == ["e:zed@x.in", "p:+919845033121", "t:WEB:u-9"]  # the other person stays
    again = r.apply(Interaction("web-3002", "WEB", T0 + 9000, "u-new", "order", None, "meera.pillai@gmail.com", "M"))
    assert again.suppressed  # the blocked email is the erased person's: it is suppressed too


def test_the_read_model_forgets_a_blocked_identifier_and_everything_an_erasure_reaches() -> None:
    p = Pipeline(ResolverConfig(digest_key=b"k" * 32), 1000, 0)
    cid = _meera(p.resolver)
    (block,) = [s for s in p.on_action(5, {"action": "block", "identifier": "meera.pillai@gmail.com"}) if s.forget]
    assert block.forget == ["email:meerapillai@gmail.com"]
    split = [s for s in p.on_action(6, {"action": "split", "customer_id": cid, "identifier": "KIOSK:KV-5001"})]
    assert split[0].forget == ["tp:KIOSK:KV-5001"]
    erase = list(p.on_action(7, {"action": "erase", "customer_id": cid}))
    assert set(erase[0].forget) >= {"email:meerapillai@gmail.com", "phone:+919447012345", "tp:WEB:u-3001"}


def test_read_model_identifiers_of_keys() -> None:
    assert identifier_of_key("p:+919447012345") == "phone:+919447012345"
    assert identifier_of_key("p:+919447012345#meera_pillai") == "phone:+919447012345"
    assert identifier_of_key("e:a@x.in") == "email:a@x.in"
    assert identifier_of_key("t:WEB:u-1#x") == "tp:WEB:u-1#x"
    assert identifier_of_key("x:v123") is None
