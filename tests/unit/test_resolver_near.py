"""Near phones (one mistyped digit, same person by name), email domain typos, per-person household links."""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Callable
from itertools import accumulate

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from resolver.config import ResolverConfig
from resolver.emails import EmailNormaliser
from resolver.engine import Resolver
from resolver.identifiers import IdentifierParser
from resolver.interaction import Interaction
from resolver.near import NEAR_RULE, BucketKeys, NearIndex, near_allowed, phone_neighbours, phones_near
from resolver.text_keys import index as key_index

T0 = 1_700_000_000_000
REAL = "98450 71623"
TYPO = "98450 71629"  # one digit wrong
SWAP = "98450 71632"  # two neighbours swapped


def ev(
    eid: str,
    t: int = 0,
    tp: str = "KIOSK",
    src: str | None = None,
    *,
    phone: str | None = None,
    email: str | None = None,
    name: str | None = None,
) -> Interaction:
    return Interaction(eid, tp, T0 + t * 1000, src or f"src-{eid}", "visit", phone=phone, email=email, name=name)


def run(events: list[Interaction], config: ResolverConfig | None = None) -> Resolver:
    r = Resolver(config)
    for e in events:
        r.apply(e)
    return r


def together(r: Resolver, a: str, b: str) -> bool:
    return r.customer_of_event(a) == r.customer_of_event(b)


def partition(r: Resolver) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for eid in r.event_ids():
        groups.setdefault(r.customer_of_event(eid) or "", set()).add(eid)
    return {frozenset(g) for g in groups.values()}


# ---------------------------------------------------------------------------------------------
# the pure rule


def test_neighbours_are_one_substitution_or_one_adjacent_swap() -> None:
    key = "p:+919845071623"
    near = set(phone_neighbours(key)) - {key}
    assert "p:+919845071629" in near and "p:+919845071632" in near
    assert len(near) == 10 * 9 + 9
    assert all(phones_near(key, other) for other in near)
    assert "p:+819845071623" not in near  # the country code is never corrected
    assert not phones_near(key, "p:+919845071620" + "0")
    assert not phones_near(key, "p:+919845071703")  # two substitutions
    assert not phones_near(key, key)


_DIGITS = st.text("0123456789", min_size=1, max_size=12)


@st.composite
def _phone_keys(draw: st.DrawFn) -> list[str]:
    """Phone keys of a few country codes and lengths, many of them one edit from another."""
    keys = [
        f"p:+{draw(st.sampled_from(['1', '44', '91', '971']))}{draw(_DIGITS)}" for _ in range(draw(st.integers(1, 6)))
    ]
    for key in list(keys):
        others = sorted(set(phone_neighbours(key)))
        keys += draw(st.lists(st.sampled_from(others), max_size=4))
    return keys


@settings(max_examples=200, deadline=None)
@given(_phone_keys(), st.data())
def test_the_near_index_finds_exactly_the_indexed_keys_one_edit_away(keys: list[str], data: st.DataObject) -> None:
    """Oracle: every indexed key `phones_near` the query, after adds, a bulk add and discards in any order."""
    index, held = NearIndex(), set()
    split = data.draw(st.integers(0, len(keys)))
    for key in keys[:split]:
        index.add(key)
        held.add(key)
    index.add_all(keys[split:])
    held.update(keys[split:])
    for key in data.draw(st.lists(st.sampled_from(keys), max_size=len(keys))):
        index.discard(key)
        held.discard(key)
    for key in keys:
        assert index.near(key) == sorted(other for other in held if phones_near(key, other))
    # Its columns (a snapshot's) give back the same index, in the same order.
    again = NearIndex.from_columns(*index.columns())
    assert again.columns() == index.columns() and again._buckets == index._buckets
    # And so does a loaded index kept cold (no bucket names), through more adds and discards.
    cold = _cold(index)
    assert cold.columns() == index.columns()
    for key in data.draw(st.lists(st.sampled_from(keys), max_size=len(keys))):
        if data.draw(st.booleans()):
            index.add(key)
            cold.add(key)
        else:
            index.discard(key)
            cold.discard(key)
        assert cold.near(key) == index.near(key)
        assert cold.columns() == index.columns()
    assert all(cold.near(key) == index.near(key) for key in keys)
    assert cold.columns() == index.columns() and cold._buckets == index._buckets


def _cold(index: NearIndex) -> NearIndex:
    """`index` as a snapshot load keeps it (`resolver.snapshot`: keys as references, names derived)."""
    names, sizes, keys = index.columns()
    strings: list[str | None] = [None, *dict.fromkeys(keys)]
    at = array("I", accumulate((max(n, 1) for n in sizes), initial=0))
    refs = array("I", map(strings.index, keys))
    hashes, order = key_index([name.encode() for name in names])
    first = bytes(name.endswith("<") for name in names)
    return NearIndex.from_cold(BucketKeys(strings, first, at, refs, hashes, order))


def test_near_needs_strong_agreeing_names_and_no_email_conflict() -> None:
    ravi, ravi_k, priya = {"ravi_kumar": 1}, {"ravi_k": 1}, {"priya_kumar": 1}
    assert near_allowed(ravi, ravi_k, set(), set())
    assert near_allowed({"rvai_kumar": 1}, ravi, set(), set())  # a typo of the name
    assert near_allowed({"kumar_ravi": 1}, ravi, set(), set())  # the name order swapped
    assert not near_allowed(ravi, priya, set(), set())
    assert not near_allowed(ravi, {"ravi_shah": 1}, set(), set())
    assert not near_allowed(ravi, {"ravi": 1}, set(), set())  # a first name alone is weak
    assert not near_allowed(ravi, {}, set(), set())
    assert not near_allowed(ravi, {"ravi_kumar": 1, "priya_kumar": 1}, set(), set())  # no main person
    assert not near_allowed(ravi, ravi, {"e:a@x.in"}, {"e:b@x.in"})
    assert near_allowed(ravi, ravi, {"e:a@x.in"}, {"e:a@x.in", "e:b@x.in"})


def test_a_stray_name_does_not_block_the_near_link() -> None:
    # Three records agree on Ravi Kumar; a cashier once typed another name on the same phone.
    assert near_allowed({"ravi_kumar": 3, "sunil": 1}, {"ravi_kumar": 1}, set(), set())
    assert near_allowed({"ravi_kumar": 2, "r_kumar": 1, "meena_shah": 1}, {"ravi_kumar": 2}, set(), set())
    # Half and half is no main person: two people may share that phone.
    assert not near_allowed({"ravi_kumar": 2, "sunil_rao": 2}, {"ravi_kumar": 1}, set(), set())


# ---------------------------------------------------------------------------------------------
# in the resolver, in every arrival order


BASE = [
    ev("w1", 0, "WHATSAPP", src="919845071623", name="Ravi Kumar"),
    ev("w2", 1, "WEB", phone=REAL, email="ravi@x.in", name="Ravi Kumar"),
]


def test_a_typo_phone_joins_when_the_names_agree_in_any_order() -> None:
    for typo in (TYPO, SWAP):
        kiosk = ev("k1", 2, phone=typo, name="RAVI KUMAR")
        for order in itertools.permutations([*BASE, kiosk]):
            r = run(list(order))
            assert together(r, "k1", "w1"), order
        profile = r.profile(r.customer_of_event("k1") or "")
        assert profile is not None
        assert any("one-digit typo" in reason for reason in profile.confidence_reasons)


def test_a_typo_phone_stays_apart_when_the_names_disagree_in_any_order() -> None:
    kiosk = ev("k1", 2, phone=TYPO, name="Priya Kumar")
    for order in itertools.permutations([*BASE, kiosk]):
        r = run(list(order))
        assert not together(r, "k1", "w1"), order
        why_not = r.why_not("k1", "w1")
        assert any(reason.get("rule") == NEAR_RULE for reason in why_not["reasons"])


def test_no_near_link_without_a_name_or_with_a_conflicting_email() -> None:
    for kiosk in (
        ev("k1", 2, phone=TYPO),
        ev("k1", 2, phone=TYPO, name="Ravi"),
        ev("k1", 2, phone=TYPO, name="Ravi Kumar", email="ravi.other@y.in"),
    ):
        for order in itertools.permutations([*BASE, kiosk]):
            assert not together(run(list(order)), "k1", "w1")


def test_a_later_stranger_on_the_typo_phone_undoes_the_near_link_in_any_order() -> None:
    events = [*BASE, ev("k1", 2, phone=TYPO, name="Ravi Kumar"), ev("k2", 3, phone=TYPO, name="Anil Shah")]
    partitions = {frozenset(partition(run(list(order)))) for order in itertools.permutations(events)}
    assert len(partitions) == 1
    (only,) = partitions
    assert not any({"k1", "w1"} <= part for part in only)


def test_near_link_is_disabled_by_configuration() -> None:
    r = run([*BASE, ev("k1", 2, phone=TYPO, name="Ravi Kumar")], ResolverConfig(near_phones=False))
    assert not together(r, "k1", "w1")


def test_explain_and_why_show_the_near_rule() -> None:
    r = run([*BASE, ev("k1", 2, phone=TYPO, name="Ravi Kumar")])
    cid = r.customer_of_event("k1") or ""
    edges = r.explain(cid).to_dict()["edges"]
    near = [e for e in edges if e["rule"] == NEAR_RULE]
    assert near and near[0]["weak"] and not near[0]["refused"]
    assert {near[0]["from"], near[0]["to"]} == {"p:+919845071623", "p:+919845071629"}
    path = r.why("k1", "w2")["path"]
    assert [step["rule"] for step in path].count(NEAR_RULE) == 1


def test_a_near_link_respects_the_phone_limit() -> None:
    config = ResolverConfig(max_phones=1)
    for order in itertools.permutations([*BASE, ev("k1", 2, phone=TYPO, name="Ravi Kumar")]):
        r = run(list(order), config)
        assert not together(r, "k1", "w1")


def test_restore_keeps_near_links() -> None:
    r = Resolver()
    table: dict[str, str | None] = {}
    for e in [*BASE, ev("k1", 2, phone=TYPO, name="Ravi Kumar")]:
        r.apply(e)
        table.update(r.drain_changes())
    restored = Resolver.restore(ResolverConfig(), [(k, v) for k, v in table.items() if v is not None])
    assert partition(restored) == partition(r)
    later = ev("k2", 5, phone=TYPO, name="Anil Shah")
    assert r.apply(later) == restored.apply(later)
    assert partition(restored) == partition(r)
    assert r.drain_changes() == restored.drain_changes()


def test_erase_forgets_near_candidates() -> None:
    r = run([*BASE, ev("k1", 2, phone=TYPO, name="Anil Shah"), ev("o1", 3, phone="97318 62045", name="Zoya")])
    r.erase(r.customer_of_event("k1") or "")
    r.apply(ev("k3", 9, phone=TYPO, name="Ravi Kumar"))
    assert r.customer_of_event("k3") is None  # suppressed: the erased phone cannot come back
    assert together(r, "w1", "w2")


NEAR_PHONES = ["98450 71623", "98450 71629", "98450 71632", "98450 71693", "97318 62045", "97318 62044"]
NAMES = ["Ravi Kumar", "ravi kumar", "R. Kumar", "Ravi", "Priya Kumar", "Anil Shah", None]


@st.composite
def near_events(draw: st.DrawFn) -> list[Interaction]:
    out = []
    for i in range(draw(st.integers(1, 14))):
        tp = draw(st.sampled_from(["WEB", "KIOSK", "WHATSAPP"]))
        phone = draw(st.sampled_from(NEAR_PHONES))
        src = "91" + phone.replace(" ", "") if tp == "WHATSAPP" else f"{tp.lower()}-{draw(st.integers(0, 20))}"
        out.append(
            Interaction(
                f"ev-{i:02d}",
                tp,
                T0 + draw(st.integers(0, 20)) * 1000,
                src,
                "visit",
                phone=None if tp == "WHATSAPP" else phone,
                email=draw(st.none() | st.sampled_from(["ravi@x.in", "priya@x.in"])),
                name=draw(st.sampled_from(NAMES)),
            )
        )
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_events(), st.randoms(use_true_random=False), st.sampled_from([1, 2, 3]))
def test_near_links_are_order_independent(evs: list[Interaction], rnd: object, limit: int) -> None:
    config = ResolverConfig(hub_threshold=3, max_phones=limit + 1, max_emails=limit)
    shuffled = list(evs)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert partition(run(evs, config)) == partition(run(shuffled, config))


def test_restore_records_roots_not_path_compressed_parents() -> None:
    """Regression: restore compressed paths, so a node re-recorded for a new near candidate
    (without any union touching it) was written with a different parent than the original's."""
    config = ResolverConfig(hub_threshold=3, max_phones=2)

    def visit(eid: str, tp: str, src: str, phone: str | None = None, email: str | None = None) -> Interaction:
        return Interaction(eid, tp, T0, src, "visit", phone=phone, email=email, name="Ravi Kumar")

    events = [
        visit("ev-000", "WHATSAPP", "919801043210", phone="9800843218"),
        *(visit(f"ev-00{i}", "WEB", "web-0") for i in (1, 2, 3)),
        visit("ev-004", "KIOSK", "kiosk-0", email="user1@example.in"),
        *(visit(f"ev-00{i}", "WEB", "web-0") for i in (5, 6)),
        visit("ev-007", "KIOSK", "kiosk-0", phone="9800843218"),
    ]
    original = Resolver(config)
    table: dict[str, str | None] = {}
    for i, e in enumerate(events):
        original.apply(e)
        if i % 4 == 0:
            table.update(original.drain_changes())
    table.update(original.drain_changes())
    restored = Resolver.restore(config, [(k, v) for k, v in table.items() if v is not None])
    # A near candidate of the WhatsApp phone: that phone's record is rewritten.
    late = Interaction("late-0", "WEB", T0, "web-0", "visit", phone="9800043210", email="user0@example.in")
    assert original.apply(late) == restored.apply(late)
    assert original.drain_changes() == restored.drain_changes()


@st.composite
def near_steps(draw: st.DrawFn) -> list[tuple[str, object]]:
    """Near-dense events mixed with operator actions and cut points (crash + restore)."""
    steps: list[tuple[str, object]] = [("apply", e) for e in draw(near_events())]
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["block", "split", "erase"]))
        steps.insert(draw(st.integers(0, len(steps))), (op, draw(st.integers(0, 50))))
    for _ in range(draw(st.integers(1, 4))):
        steps.insert(draw(st.integers(0, len(steps))), ("restore", None))
    return steps


def _step(n: str, tp: str, t: int, src: str, phone: str | None, email: str | None, name: str) -> tuple[str, object]:
    return ("apply", Interaction(f"ev-{n}", tp, T0 + t * 1000, src, "visit", phone=phone, email=email, name=name))


#: Regressions hypothesis found: an erasure left a shared phone's per-person split filtered from
#: the split before it (`resolver.households.scrub`) where a restore takes it again from the
#: name support left (`resolver.records`): the holder of the phone's key differed (a tie after the
#: erasure goes to the smallest label), or the split stayed where the support left no longer splits.
ERASE_SPLIT_CASES: list[tuple[list[tuple[str, object]], int]] = [
    (
        [
            ("restore", None),
            ("restore", None),
            ("block", 0),
            _step("00", "WEB", 9, "web-12", "98450 71623", "ravi@x.in", "Anil Shah"),
            _step("01", "KIOSK", 0, "kiosk-11", "98450 71632", None, "Priya Kumar"),
            _step("02", "WEB", 0, "web-0", "98450 71693", None, "Anil Shah"),
            _step("03", "WEB", 0, "web-0", "98450 71632", "ravi@x.in", "Ravi Kumar"),
            ("block", 2),
            _step("04", "WHATSAPP", 0, "919845071623", None, None, "ravi kumar"),
            ("erase", 12),
            ("restore", None),
            _step("05", "WEB", 0, "web-0", "98450 71623", None, "Ravi Kumar"),
            _step("06", "WEB", 0, "web-0", "98450 71623", None, "Ravi Kumar"),
            _step("07", "WEB", 0, "web-0", "98450 71623", None, "Ravi Kumar"),
            _step("08", "WEB", 0, "web-0", "98450 71632", None, "Ravi Kumar"),
            _step("09", "WEB", 0, "web-0", "98450 71623", None, "Ravi Kumar"),
            _step("10", "WEB", 0, "web-0", "98450 71623", None, "Ravi Kumar"),
            ("restore", None),
            _step("11", "WHATSAPP", 0, "919845071623", None, None, "Ravi Kumar"),
        ],
        1,
    ),
    (
        [
            ("restore", None),
            ("block", 0),
            _step("00", "WEB", 1, "web-0", "98450 71623", "ravi@x.in", "Priya Kumar"),
            _step("01", "WEB", 0, "web-1", "98450 71623", None, "R. Kumar"),
            ("block", 2),
            _step("02", "WEB", 0, "web-0", "98450 71632", None, "Anil Shah"),
            _step("03", "WEB", 0, "web-0", "98450 71632", "ravi@x.in", "R. Kumar"),
            _step("04", "WHATSAPP", 0, "919845071623", None, None, "Ravi Kumar"),
            ("erase", 12),
            ("restore", None),
            _step("05", "WEB", 0, "web-0", "98450 71623", None, "Ravi Kumar"),
            _step("06", "WEB", 0, "web-0", "98450 71623", None, "Ravi Kumar"),
            _step("07", "WEB", 0, "web-0", "98450 71623", None, "Ravi Kumar"),
            _step("08", "WEB", 0, "web-0", "98450 71623", None, "Ravi Kumar"),
            _step("09", "WEB", 0, "web-0", "98450 71623", None, "Ravi Kumar"),
            _step("10", "WEB", 0, "web-0", "98450 71623", None, "Ravi Kumar"),
            _step("11", "WHATSAPP", 0, "919845071623", None, None, "Ravi Kumar"),
        ],
        1,
    ),
    (
        [
            ("restore", None),
            _step("00", "WEB", 1, "web-1", "98450 71623", "ravi@x.in", "Priya Kumar"),
            _step("01", "KIOSK", 0, "kiosk-0", "98450 71632", None, "Priya Kumar"),
            _step("02", "WEB", 0, "web-0", "98450 71623", None, "Anil Shah"),
            ("block", 2),
            _step("03", "WEB", 0, "web-0", "98450 71632", "ravi@x.in", "R. Kumar"),
            _step("04", "WHATSAPP", 0, "919845071623", None, None, "Ravi Kumar"),
            _step("05", "WEB", 0, "web-0", "98450 71623", None, "Ravi Kumar"),
            ("erase", 12),
            ("restore", None),
            _step("06", "WEB", 0, "web-0", "98450 71623", None, "Ravi Kumar"),
            _step("07", "WEB", 0, "web-0", "98450 71623", None, "Ravi Kumar"),
            _step("08", "WEB", 0, "web-0", "98450 71623", None, "Ravi Kumar"),
            _step("09", "WEB", 0, "web-0", "98450 71623", None, "Ravi Kumar"),
            _step("10", "WEB", 0, "web-0", "98450 71623", None, "Ravi Kumar"),
            _step("11", "WHATSAPP", 0, "919845071623", None, None, "Ravi Kumar"),
        ],
        1,
    ),
]


def _replay(
    steps: list[tuple[str, object]],
    limit: int,
    come_back: Callable[[ResolverConfig, Resolver, dict[str, str | None]], Resolver],
) -> None:
    """Run `steps` on a resolver that never stops and on a worker that comes back (`come_back`) at each "restore".

    Outcomes, drained records and profiles must be the same: a restore gives the same future.
    """
    config = ResolverConfig(hub_threshold=3, max_phones=limit + 1, max_emails=limit)
    original, worker = Resolver(config), Resolver(config)
    table: dict[str, str | None] = {}
    for op, arg in steps:
        if op == "restore":
            worker = come_back(config, worker, table)
            continue
        outs = []
        for r in (original, worker):
            if op == "apply":
                assert isinstance(arg, Interaction)
                outs.append(r.apply(arg))
            else:
                assert isinstance(arg, int)
                ids = r.customer_ids()
                if not ids:
                    continue
                cid = ids[arg % len(ids)]
                if op == "block":
                    phones = sorted(NEAR_PHONES)
                    outs.append(r.block(phones[arg % len(phones)]))
                elif op == "split":
                    profile = r.profile(cid)
                    assert profile is not None
                    outs.append(r.split(cid, profile.phones[0] if profile.phones else cid))
                else:
                    outs.append(r.erase(cid))
        assert len(set(outs)) <= 1
        drained = worker.drain_changes()
        assert original.drain_changes() == drained
        table.update(drained)
    assert [original.profile(c) for c in original.customer_ids()] == [worker.profile(c) for c in worker.customer_ids()]


def _from_records(config: ResolverConfig, worker: Resolver, table: dict[str, str | None]) -> Resolver:
    # The worker crashes: it comes back from the records it has published so far.
    return Resolver.restore(config, [(k, v) for k, v in table.items() if v is not None])


def _from_snapshot(config: ResolverConfig, worker: Resolver, table: dict[str, str | None]) -> Resolver:
    # The worker comes back from a snapshot of its (drained) state, as a worker loads one (`resolver.snapshot`).
    return Resolver.from_snapshot(config, worker.snapshot())


def _with_cases(test: Callable[..., None]) -> Callable[..., None]:
    for steps, limit in reversed(ERASE_SPLIT_CASES):
        test = example(steps, limit)(test)
    return test


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_steps(), st.sampled_from([1, 2, 3]))
@_with_cases
def test_restore_at_any_point_is_byte_identical_with_near_phones(steps: list[tuple[str, object]], limit: int) -> None:
    _replay(steps, limit, _from_records)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_steps(), st.sampled_from([1, 2, 3]))
@_with_cases
def test_snapshot_load_at_any_point_is_byte_identical_with_near_phones(
    steps: list[tuple[str, object]], limit: int
) -> None:
    _replay(steps, limit, _from_snapshot)


@pytest.mark.parametrize("case", range(len(ERASE_SPLIT_CASES)))
def test_erasure_keeps_a_shared_phone_split_a_function_of_its_name_support(case: int) -> None:
    """The regressions above, without hypothesis: after an erasure a phone's split is what the support
    left gives (`resolver.households.person_split`), so records and a snapshot bring it back alike."""
    steps, limit = ERASE_SPLIT_CASES[case]
    _replay(steps, limit, _from_records)
    _replay(steps, limit, _from_snapshot)


# ---------------------------------------------------------------------------------------------
# email domain typos


def test_email_domain_typos_are_corrected_before_provider_rules() -> None:
    norm = IdentifierParser(ResolverConfig()).emails
    for typed in ("Ravi.K+shop@GMIAL.com", "ravik@gmail.con", "ravi.k@gamil.com", "ravik@googlemail.com"):
        assert norm.normalise(typed).address == "ravik@gmail.com", typed
    assert norm.normalise("a@yahooo.com").address == "a@yahoo.com"
    assert norm.normalise("a@hotmial.com").address == "a@hotmail.com"
    assert norm.normalise("a@gmail.co.in").address == "a@gmail.co.in"  # not in the table: kept


def test_email_domain_fixes_are_configurable() -> None:
    assert EmailNormaliser().normalise("a@gmial.com").address == "a@gmial.com"
    custom = EmailNormaliser(domain_fixes=[("acme.con", "acme.com")])
    assert custom.normalise("A@Acme.con").address == "a@acme.com"
    r = run(
        [ev("a", 0, "WEB", email="ravi@gmial.com", name="Ravi"), ev("b", 1, "WEB", email="ravi@gmail.com")],
    )
    assert together(r, "a", "b")


# ---------------------------------------------------------------------------------------------
# households split by name: each person's email events join their own part


def test_shared_household_phone_links_each_persons_email_events_to_their_own_part() -> None:
    events = [
        ev("r1", 0, "WEB", phone=REAL, email="ravi@x.in", name="Ravi Kumar"),
        ev("r2", 1, "WEB", phone=REAL, email="ravi@x.in", name="Ravi"),
        ev("r3", 2, "KIOSK", phone=REAL, name="Ravi Kumar"),
        ev("s1", 3, "WEB", phone=REAL, email="sunita@y.in", name="Sunita Kumar"),
        ev("s2", 4, "WEB", phone=REAL, email="sunita@y.in", name="Sunita"),
        ev("s3", 5, "KIOSK", phone=REAL, name="Sunita Kumar"),
    ]
    for order in [events, events[::-1], events[3:] + events[:3]]:
        r = run(order)
        assert together(r, "r1", "r3") and together(r, "s1", "s3")
        assert not together(r, "r1", "s1")
