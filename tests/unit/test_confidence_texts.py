"""Each confidence reason's text is true of the customer it is on.

The email rules count identifier keys: a family's email split between its people by their names
is one key per person's part. A customer holding two people's parts of one address was told
"more than one email" while its profile listed a single email (an audit's repro, below).
The weights stay as they were weighed; the texts say what the customer holds.
"""

from __future__ import annotations

import json

from resolver.confidence import Features, score
from resolver.interaction import fields_of, from_json
from resolver.profile import profile_from_scratch
from resolver.resolver import Resolver
from streams.synthetic import generate

# The audit's repro: one family mailbox, three names, two phones (two people, `test_name_initials`).
FAMILY = [
    '{"event_id":"f1","touchpoint":"WEB","occurred_at":1793438696548,"source_id":"u1","interaction":"order",'
    '"phone":"7015433781","email":"iyerfamily40@gmail.com","name":"A. Iyer","attributes":{}}',
    '{"event_id":"f2","touchpoint":"WEB","occurred_at":1793610155758,"source_id":"u2","interaction":"order",'
    '"phone":"7015433781","email":"iyerfamily40@gmail.com","name":"Aishwarya Iyer","attributes":{}}',
    '{"event_id":"f3","touchpoint":"WEB","occurred_at":1794117906860,"source_id":"u3","interaction":"order",'
    '"phone":"9184082969","email":"iyerfamily40@gmail.com","name":"Aditya Iyer","attributes":{}}',
    '{"event_id":"f4","touchpoint":"KIOSK","occurred_at":1794660835570,"source_id":"LC1","interaction":"visit",'
    '"email":"iyerfamily40@gmail.com","name":"Aditya Iyer","attributes":{}}',
]


def _resolved(objs: list[dict[str, object]]) -> Resolver:
    r = Resolver()
    for obj in objs:
        r.ingest(*fields_of(from_json(obj)))
    return r


def _untrue(profile_emails: int, profile_phones: int, reasons: tuple[str, ...]) -> list[str]:
    """The reasons whose text the customer's listed phones and emails contradict."""
    out = []
    for reason in reasons:
        text = reason.split(" ", 1)[1]
        if text == "more than one email" and profile_emails < 2:
            out.append(reason)
        if text == "many phones or emails" and profile_phones < 3 and profile_emails < 3:
            out.append(reason)
    return out


def test_one_address_in_two_peoples_parts_is_not_more_than_one_email() -> None:
    r = _resolved([json.loads(line) for line in FAMILY])
    # ``A. Iyer`` no longer fuses the two (tests/unit/test_name_initials.py): an operator's
    # merge makes one customer of two people's parts of the address.
    first, second = sorted(r.customer_ids())
    assert r.merge(first, second).accepted
    (cid,) = r.customer_ids()
    p = r.profile(cid, memo=False)
    assert p is not None
    assert p.emails == ("iyerfamily40@gmail.com",)
    assert _untrue(len(p.emails), len(p.phones), p.confidence_reasons) == []
    assert "-0.10 an email shared with another person" in p.confidence_reasons
    assert p.confidence == 0.01  # the weights are unchanged
    assert profile_from_scratch(r._g, cid, r._g.cust[cid]) == p


def test_the_texts_follow_the_distinct_addresses_the_weights_the_keys() -> None:
    base = dict(
        events=3, name_groups=1, minority_names=0, verified_phone=False, corroborating_events=0, weak_bridges=0,
        near_quarantined=0, refused_merges=0, shared_phone=False, kiosk_only_phone=False,
    )  # fmt: skip
    two = score(Features(phones=1, emails=2, email_addresses=2, phone_numbers=1, **base))  # type: ignore[arg-type]
    split = score(Features(phones=1, emails=2, email_addresses=1, phone_numbers=1, **base))  # type: ignore[arg-type]
    assert two[0] == split[0]
    assert "-0.10 more than one email" in two[1]
    assert "-0.10 more than one email" not in split[1]
    assert "-0.10 an email shared with another person" in split[1]
    # Not given: as many as the keys (the old reading).
    assert score(Features(phones=1, emails=2, **base)) == two  # type: ignore[arg-type]
    many = score(Features(phones=3, emails=1, phone_numbers=3, email_addresses=1, **base))  # type: ignore[arg-type]
    parts = score(Features(phones=3, emails=1, phone_numbers=2, email_addresses=1, **base))  # type: ignore[arg-type]
    assert many[0] == parts[0]
    assert "-0.05 many phones or emails" in many[1]
    assert "-0.05 a phone or email in several people's parts" in parts[1]


def test_no_reason_contradicts_the_profile_on_generated_data() -> None:
    r = _resolved(generate(customers=400, seed=7)[0])
    bad = []
    for cid in r.customer_ids():
        p = r.profile(cid, memo=False)
        assert p is not None
        bad += _untrue(len(p.emails), len(p.phones), p.confidence_reasons)
    assert bad == []
