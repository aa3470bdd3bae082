"""The oracle for fast profiles: whatever happened, every profile equals one built from scratch.

`Resolver.profile` serves profiles from per-customer summaries (`resolver.summary`) that are
built in one pass and then updated in place by repeats and by evidence joining a customer.
`resolver.profile.profile_from_scratch` is the plain definition. After any sequence of
events (new, repeated under new ids, duplicated), merges through shared identifiers, hub and
household status changes, near phones, splits, blocks, erasures and snapshot loads, every
customer's profile, read through the memo or without it, equals the definition in every
field, confidence and reasons included. And `name_groups`, which both use, equals its plain
first form.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolver.config import ResolverConfig
from resolver.interaction import Interaction, fields_of, from_json
from resolver.names import name_groups, same_person, weak_key
from resolver.profile import profile_from_scratch
from resolver.resolver import Resolver
from streams.synthetic import generate

T0 = 1_700_000_000_000
# People, each with a phone, an email and ways of writing the name. Ravi and Priya share a
# family phone (a household), Anil's phone has a one-digit typo (near phones), Asha's email is
# a family mailbox that holds none of her names; the landline and the store phone go to hubs.
PEOPLE = [
    ("98450 71623", "ravi.kumar@x.in", ["Ravi Kumar", "Kumar Ravi", "R Kumar", "Ravi"]),
    ("98450 71623", "priya@y.in", ["Priya Kumar", "Priya"]),
    ("97318 62045", "anil.shah@z.in", ["Anil Shah", "Anil"]),
    ("98862 71453", "family@home.in", ["Asha Rao", "A Rao"]),
]
OTHER_PHONES = ["97318 62054", "022 2345 6789", "98450 71629"]
OTHER_EMAILS = ["zz99@q.in", "priya@y.in"]
OTHER_NAMES = ["Vikram Singh", "Asha"]
TOUCHPOINTS = ["WEB", "KIOSK", "WHATSAPP", "APP"]
CONFIGS = [
    ResolverConfig(hub_threshold=2, max_phones=2, max_emails=2),
    ResolverConfig(hub_threshold=3),
    ResolverConfig(near_phones=False, household_rule=False, hub_signals=("name", "email", "phone", "touchpoint")),
]

Op = tuple[str, Any]
KINDS = ["event"] * 8 + ["variant"] * 4 + ["repeat"] * 2 + ["check"] * 3
KINDS += ["dup", "split", "block", "erase", "load", "merge", "merge", "dismiss"]


@st.composite
def operations(draw: st.DrawFn) -> tuple[ResolverConfig, list[Op]]:
    config = draw(st.sampled_from(CONFIGS))
    ops: list[Op] = []
    for i in range(draw(st.integers(1, 50))):
        kind = draw(st.sampled_from(KINDS))
        if kind != "event":
            ops.append((kind, draw(st.integers(0, 1000))))
            continue
        own, email, names = draw(st.sampled_from(PEOPLE))
        tp = draw(st.sampled_from(TOUCHPOINTS))
        phone: str | None = draw(st.sampled_from([own, own, None, *OTHER_PHONES]))
        if tp == "WHATSAPP":
            # The chat's own number, or a source id that is not a phone (no key of its own).
            src = draw(st.sampled_from(["91" + (phone or OTHER_PHONES[0]).replace(" ", ""), "wa-1"]))
        else:
            src = f"{tp.lower()}-{draw(st.integers(0, 1))}"
        event = Interaction(
            f"ev-{i:02d}",
            tp,
            T0 + draw(st.integers(0, 50)) * 60_000,
            src,
            "visit",
            phone=phone,
            email=draw(st.sampled_from([email, email, None, *OTHER_EMAILS])),
            name=draw(st.sampled_from([*names, None, *OTHER_NAMES])),
        )
        ops.append(("ingest" if draw(st.booleans()) else "event", event))
    return config, ops


def assert_profiles_are_the_definition(r: Resolver) -> None:
    g = r._g
    for cid in r.customer_ids():
        want = profile_from_scratch(g, cid, g.cust[cid])
        assert r.profile(cid) == want, cid
        assert r.profile(cid, memo=False) == want, cid


def step(r: Resolver, kind: str, arg: Any, seen: list[Interaction]) -> Resolver:
    """Apply one operation; returns the resolver to go on with (a loaded copy after "load")."""
    if kind == "event":
        r.apply(arg)
        seen.append(arg)
    elif kind == "ingest":
        r.ingest(*fields_of(arg))
        seen.append(arg)
    elif kind == "dup" and seen:
        r.apply(seen[arg % len(seen)])
    elif kind == "repeat" and seen:
        # The same content under a new id, earlier or later: counters move, and an earlier
        # copy may move the evidence in the canonical order.
        old = seen[arg % len(seen)]
        r.apply(replace(old, event_id=f"again-{len(seen)}-{arg}", occurred_at=old.occurred_at + (arg % 7 - 3) * 60_000))
    elif kind == "variant" and seen:
        # New evidence on known identifiers (another spelling, no name, one identifier left
        # out): most of it joins its customer as it is, the summary's in-place path.
        old = seen[arg % len(seen)]
        names = [n for _, _, ns in PEOPLE for n in ns]
        change = arg % 4
        event = replace(
            old,
            event_id=f"variant-{len(seen)}-{arg}",
            name=names[arg % len(names)] if change == 0 else None if change == 1 else old.name,
            phone=None if change == 2 and old.email else old.phone,
            email=None if change == 3 and old.phone else old.email,
            interaction="purchase",
        )
        if event.name == old.name and event.phone == old.phone and event.email == old.email:
            event = replace(event, source_id=old.source_id + "x") if old.touchpoint != "WHATSAPP" else event
        r.apply(event)
        seen.append(event)
    elif kind == "check":
        assert_profiles_are_the_definition(r)
    elif kind == "load":
        r.drain_changes()
        return Resolver.from_snapshot(r.config, r.snapshot())
    elif r.customer_ids():
        customers = r.customer_ids()
        cid = customers[arg % len(customers)]
        explanation = r.explain(cid)
        if kind == "erase":
            r.erase(cid)
        elif kind == "block" and explanation.nodes:
            r.block(explanation.nodes[arg % len(explanation.nodes)]["id"])
        elif kind == "split" and explanation.nodes:
            targets = [n["id"] for n in explanation.nodes] + list(explanation.events)
            r.split(cid, targets[arg % len(targets)])
        elif kind in ("merge", "dismiss") and len(customers) >= 2:
            other = customers[(arg // len(customers) + 1 + customers.index(cid)) % len(customers)]
            if kind == "merge":
                r.merge(cid, other)  # accepted or refused: the profiles must agree either way
            else:
                r.dismiss(cid, other)
    return r


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations())
def test_fast_profiles_equal_the_definition_after_any_operations(case: tuple[ResolverConfig, list[Op]]) -> None:
    config, ops = case
    r = Resolver(config)
    seen: list[Interaction] = []
    for kind, arg in ops:
        r = step(r, kind, arg, seen)
    assert_profiles_are_the_definition(r)


def test_profiles_read_as_the_worker_reads_them_equal_the_definition() -> None:
    """Generated data, as the ordered stage sees it: a chunk of events, then every customer it touched."""
    events, _ = generate(1_500, 7)
    r = Resolver(ResolverConfig())
    g = r._g
    parsed = [from_json(obj) for obj in events]
    for start in range(0, len(parsed), 250):
        touched: set[str] = set()
        for event in parsed[start : start + 250]:
            outcome = r.apply(event)
            touched.update(outcome.touched, outcome.created)
        for cid in sorted(touched):
            if cid in g.cust:
                assert r.profile(cid) == profile_from_scratch(g, cid, g.cust[cid]), cid
    assert_profiles_are_the_definition(r)


def plain_name_groups(weights: dict[str, int]) -> dict[str, str]:
    """`resolver.names.name_groups` as first written (each key classified three times), the oracle."""
    strong = sorted(k for k in weights if not weak_key(k))
    label = plain_transitive(strong, {})
    singles = sorted(k for k in weights if weak_key(k) and len(k.partition("_")[0]) > 1)
    initials = sorted(k for k in weights if weak_key(k) and len(k.partition("_")[0]) <= 1)
    for weak in (singles, initials):
        if not weak:
            continue
        totals: dict[str, int] = {}
        for k, grp in label.items():
            totals[grp] = totals.get(grp, 0) + weights[k]
        order = sorted(totals, key=lambda grp: (-totals[grp], grp))
        members: dict[str, list[str]] = {grp: [] for grp in order}
        for k, grp in label.items():
            members[grp].append(k)
        alone: list[str] = []
        for k in weak:
            # An initial with a surname goes by the names with a surname first (`_fit`).
            with_surname = [g for g in order if any("_" in m and same_person(k, m) for m in members[g])]
            anywhere = [g for g in order if any(same_person(k, m) for m in members[g])]
            candidates: list[str | None] = [*(with_surname if "_" in k and with_surname else anywhere)] or [None]
            fit = candidates[0]
            if fit is None:
                alone.append(k)
            else:
                label[k] = fit
        plain_transitive(alone, label)
    return label


def plain_transitive(keys: list[str], label: dict[str, str]) -> dict[str, str]:
    own = {k: k for k in keys}
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            if own[a] != own[b] and same_person(a, b):
                old, new = max(own[a], own[b]), min(own[a], own[b])
                for c in keys:
                    if own[c] == old:
                        own[c] = new
    label.update(own)
    return label


FIRSTS = ["a", "r", "p", "ra", "ravi", "rvai", "ravii", "asha", "aasha", "anil", "priya", "kumar"]
LASTS = ["", "kumar", "kumr", "rao", "shah", "ravi"]


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.tuples(st.sampled_from(FIRSTS), st.sampled_from(LASTS)), st.integers(1, 4), max_size=7))
def test_name_groups_equals_its_plain_form(drawn: dict[tuple[str, str], int]) -> None:
    weights = {f"{first}_{last}" if last else first: n for (first, last), n in drawn.items()}
    got = name_groups(weights)
    want = plain_name_groups(weights)
    assert got == want
    assert list(got.items()) == list(want.items())  # the same order too
