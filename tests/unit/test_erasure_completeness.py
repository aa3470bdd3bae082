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
from streams.pipeline import Pipeline, Step
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
    assert identifier_of_key("t:WEB:u-1#x") == "tp:WEB:u-1#x"  # a source id may hold "#"
    # a person's part of an account (an order for someone else) is the account, never the name
    assert identifier_of_key("t:WEB#meera_pillai:u-1#x") == "tp:WEB:u-1#x"
    assert identifier_of_key("e:a#b@x.in") == "email:a#b@x.in"  # "#" in an email's local part
    assert identifier_of_key("e:a@x.in#meera_pillai") == "email:a@x.in"
    assert identifier_of_key("x:v123") is None


def _published(p: Pipeline, offset: int, events: list[Interaction]) -> None:
    p.on_events(offset, events)
    assert [r for s in p.on_tick(offset + 1, T0 + 600_000) for r in s.records]  # the CRM has them


def _changes(p: Pipeline, steps: list[Step]) -> set[str]:
    out = {r["change"] for s in steps for r in s.records}
    return out | {r["change"] for s in p.on_tick(100, T0 + 3_600_000) for r in s.records}


def test_a_split_that_separates_nothing_is_no_split_for_the_crm() -> None:
    """The kiosk record also carries the phone: cutting its card id parts nothing; the card links nothing more."""
    p = Pipeline(ResolverConfig(), 5000, 0)
    _published(p, 0, [
        Interaction("web-3001", "WEB", T0, "u-3001", "signup", "+91 94470 12345", "meera.pillai@gmail.com", "Meera"),
        Interaction("kiosk-5001", "KIOSK", T0 + 1000, "KV-5001", "visit", "94470 12345", None, "Meera"),
    ])  # fmt: skip
    cid = p.resolver.customer_of_event("web-3001") or ""
    steps = list(p.on_action(2, {"action": "split", "customer_id": cid, "identifier": "KIOSK:KV-5001"}))
    assert any("nothing separated" in n for s in steps for n in s.notes)
    assert "SPLIT" not in _changes(p, steps)
    # a split that parts the customer is one
    q = Pipeline(ResolverConfig(), 5000, 0)
    _published(q, 0, [
        Interaction("w1", "WEB", T0, "u-1", "order", "98450 33121", None, "Zed Khan"),
        Interaction("w2", "WEB", T0 + 1, "u-1", "order", None, "zed@x.in", "Zed Khan"),
    ])  # fmt: skip
    zed = q.resolver.customer_of_event("w1") or ""
    steps = list(q.on_action(2, {"action": "split", "customer_id": zed, "identifier": "WEB:u-1"}))
    assert "SPLIT" in _changes(q, steps), [s.notes for s in steps]


def test_an_erasure_leaves_no_old_content_of_another_persons_evidence_in_the_state() -> None:
    """Ravi's evidence carried Meera's phone (a household's, split by names): it loses the key, and
    the content index keeps no trace of what it carried before (found by helper s30-recipient)."""
    r = Resolver(ResolverConfig(digest_key=b"k" * 32))
    cid = _meera(r)
    r.apply(Interaction("web-4001", "WEB", T0 + 3000, "u-4001", "signup", "94470 12345", "ravi.k@x.in", "Ravi Kumar"))
    ravi_email = "ravi.k@x.in"
    r.apply(Interaction("kiosk-4002", "KIOSK", T0 + 4000, "KV-4002", "visit", "94470 12345", ravi_email, "Ravi Kumar"))
    ravi = r.customer_of_event("web-4001")
    assert ravi is not None and ravi != r.current_id(cid)  # two people on one phone
    r.erase(r.current_id(cid) or cid)
    assert r._g.by_content.odd == {} or all(held is not None for held in r._g.by_content.odd.values())
    blob = dump(r._g)
    # the phone is Ravi's too and stays; nothing else of Meera's does (her name, her email)
    assert [s for s in SECRETS if s in blob] == [b"9447012345"]
    assert b"meera" not in blob
    assert "Meera Pillai" not in r._g._classes
    assert r.customer_of_event("web-4001") is not None  # Ravi stays
    phone = r._g.nodes["p:+919447012345"]
    assert phone.groups is None and phone.sig is not None and all("meera" not in s for s in phone.sig)


def test_an_erasure_leaves_no_old_content_of_evidence_that_carried_the_persons_email() -> None:
    """Ravi ordered under Meera's mailbox: his evidence loses her email, and the content index
    keeps no "no piece answers" entry for what it carried before."""
    r = Resolver(ResolverConfig(digest_key=b"k" * 32))
    cid = _meera(r)
    r.apply(Interaction("web-4001", "WEB", T0 + 3000, "u-4001", "signup", "98450 71623", None, "Ravi Kumar"))
    mailbox = "meera.pillai@gmail.com"
    r.apply(Interaction("web-4002", "WEB", T0 + 4000, "u-4001", "order", "98450 71623", mailbox, "Ravi Kumar"))
    r.erase(r.current_id(cid) or cid)
    assert all(held is not None for held in r._g.by_content.odd.values())
    blob = dump(r._g)
    assert [s for s in SECRETS if s in blob] == []
    assert r.customer_of_event("web-4002") is not None  # Ravi stays, with his phone


def test_an_erasure_leaves_the_person_s_name_in_no_memo_of_the_process() -> None:
    """The display name's memos (typed name -> display form, form -> script and shape) are copies too."""
    from resolver import display_name as dn

    r = Resolver(ResolverConfig(digest_key=b"k" * 32))
    cid = _meera(r)
    for n, name in enumerate(("Meera Quillbrook", "MEERA quillbrook")):  # a surname no other test writes
        r.apply(Interaction(f"kiosk-60{n}", "KIOSK", T0 + 3000 + n, "KV-5001", "visit", "94470 12345", None, name))
    assert r.profile(r.current_id(cid) or cid) is not None  # builds the profile: the memos hold her names
    held = [k for memo in (dn._MEMO, dn._SHAPES, dn._SCRIPTS) for k in memo]
    assert [k for k in held if "quillbrook" in k.casefold()]
    r.erase(r.customer_of_event("web-3001") or r.current_id(cid) or cid)
    held = [k for memo in (dn._MEMO, dn._SHAPES, dn._SCRIPTS) for k in memo]
    held += [v for v in dn._MEMO.values() if v]
    assert [k for k in held if "quillbrook" in k.casefold()] == []
    assert r.profile(r.customer_of_event("other-1") or "") is not None  # another's name is computed again


@pytest.mark.parametrize("by", ["absorbed", "survivor"])
def test_an_erasure_by_either_id_of_a_merged_crm_contact_erases_the_survivor_and_keeps_nothing(by: str) -> None:
    """A CRM contact's event was published under A; A went into B in a later window (the CRM had both
    ids, and an interaction under each); the operator erases by A (the id the CRM showed) or by B.
    B gets the ERASED (A keeps its ABSORBED, no personal data: the CRM deletes every id redirected into
    an erased one, docs/crm-connector.md), nothing of the person stays in the pipeline's snapshot, and
    the event applied again is suppressed, not published under any id."""
    p = Pipeline(ResolverConfig(digest_key=b"k" * 32), 5000, 0)
    older = Interaction("web-3001", "WEB", T0, "u-3001", "signup", None, "meera.pillai@gmail.com", "Meera Pillai")
    crm = Interaction("crm-77", "CRM", T0 + 1000, "KV-5001", "crm_import", "+91 94470 12345", None, "Meera Pillai")
    _published(p, 0, [older, crm])
    b, a = p.resolver.customer_of_event("web-3001"), p.resolver.customer_of_event("crm-77")
    assert a is not None and b is not None and a != b
    join = Interaction("web-3002", "WEB", T0 + 700_000, "u-3001", "order", "94470 12345", None, "Meera Pillai")
    p.on_events(2, [join])
    closed = [r for s in p.on_tick(3, T0 + 1_300_000) for r in s.records]
    assert {(r["customer_id"], r["change"]) for r in closed} >= {(a, "ABSORBED"), (b, "MERGED")}
    steps = list(p.on_action(4, {"action": "erase", "customer_id": a if by == "absorbed" else b}))
    later = [r for s in p.on_tick(5, T0 + 3_600_000) for r in s.records]
    records = [r for s in steps for r in s.records] + later
    assert [(r["customer_id"], r["change"]) for r in records] == [(b, "ERASED")]
    assert {"phone:+919447012345", "tp:CRM:KV-5001", "email:meerapillai@gmail.com"} <= {
        f for s in steps for f in s.forget
    }
    assert [s for s in SECRETS if s in p.snapshot()] == []
    (again,) = p.on_events(6, [crm])  # the same event, as a restart's tail would apply it again
    assert again.interactions == [] and p.resolver.customer_of_event("crm-77") is None
