"""Shards of a replay (`resolver.shards`): the partition is closed, the watermark is the one core's,
and shards resolved apart give every event the customer one resolver gives it.

Event times span days and the duplicate horizon is one day, so ids are forgotten and
repeated after the horizon (a shard that kept its own watermark would decide otherwise);
phones are one digit apart (the near-phone rule), names repeat (households, hubs).
"""

from __future__ import annotations

import marshal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolver.config import ResolverConfig
from resolver.engine import Resolver
from resolver.horizon import DAY_MS, RecentEvents
from resolver.identifiers import IdentifierParser
from resolver.interaction import Fields
from resolver.linking import found_of
from resolver.near import phones_near
from resolver.replay import IdWatch, ingest_parsed, ingest_timed, parse
from resolver.shards import Planner, ids_disjoint, link_keys, plan

T0 = 1_700_000_000_000
#: Valid Indian mobiles, several one substitution or one swap from another.
PHONES = ["9845071623", "9845071624", "9845071632", "9731862040", "9731862045", *(f"9{n}88176655" for n in range(10))]
EMAILS = [f"{name}@example.in" for name in ("ravi", "priya", "family", "shop", "anil", "sunita", "a", "b")]
NAMES = ["Ravi Kumar", "Ravi K", "Priya Sharma", "Priya", "Anil Rao", "Sunita Rao", None]
TOUCH = ["WEB", "KIOSK", "WHATSAPP"]
#: Logs whose shards minted one customer id twice (counted: they must stay the exception).
COLLISIONS: list[int] = []
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def logs(draw: st.DrawFn, max_size: int = 40) -> list[Fields]:
    """Valid events' fields in log order: ids repeat, times move on over six days, some late."""
    out: list[Fields] = []
    size = draw(st.integers(1, max_size))
    for i in range(size):
        touchpoint = draw(st.sampled_from(TOUCH))
        source = (
            "91" + draw(st.sampled_from(PHONES))
            if touchpoint == "WHATSAPP"
            else draw(st.sampled_from(["", " ", f"{touchpoint.lower()}-{draw(st.integers(0, 30))}"]))
        )
        out.append(
            (
                f"ev-{draw(st.integers(0, 25))}",
                touchpoint,
                T0 + (i * 6 * 24 // size + draw(st.integers(-30, 6))) * 3_600_000,  # mostly in order
                source,
                draw(st.sampled_from([None, None, *PHONES])),
                draw(st.sampled_from([None, None, *EMAILS])),
                draw(st.sampled_from(NAMES)),
            )
        )
    return out


def _parsed(log: list[Fields], config: ResolverConfig) -> list[Any]:
    parser = IdentifierParser(config)
    return [(f, found_of(parser, f[1], f[3], f[4], f[5], f[6])) for f in log]


def _planned(parsed: list[Any]) -> list[tuple[str, int, tuple[str, ...]]]:
    return [(f[0], f[2], link_keys(f[1], f[3], found[0])) for f, found in parsed]


@SETTINGS
@given(logs(), st.integers(1, 4), st.integers(1, 3))
def test_the_partition_is_closed_under_keys_ids_and_near_phones(log: list[Fields], shards: int, days: int) -> None:
    """Events sharing a key, phones one edit apart, or an id repeated while it is remembered: one shard."""
    events = _planned(_parsed(log, ResolverConfig()))
    shard, _ = plan(events, shards, days * DAY_MS)
    assert len(shard) == len(log) and all(0 <= s < shards for s in shard)
    assert plan(events, shards, days * DAY_MS)[0] == shard  # a function of its input
    for i, (_, _, a) in enumerate(events):
        for j, (_, _, b) in enumerate(events):
            near = any(phones_near(x, y) for x in a if x[:2] == "p:" for y in b if y[:2] == "p:")
            if set(a) & set(b) or near:
                assert shard[i] == shard[j], (a, b)
    recent, first = RecentEvents(days * DAY_MS), dict[str, int]()
    for i, (eid, at, _) in enumerate(events):
        if eid in recent:
            assert shard[i] == shard[first[eid]]
        else:
            first[eid] = i
            recent.remember(eid, at, "")


def test_closed_sets_are_packed_largest_first_into_the_emptiest_shard() -> None:
    events: list[tuple[str, int, tuple[str, ...]]] = [("1", 0, ("a",)), ("2", 0, ("a",)), ("3", 0, ("a",))]
    events += [("4", 0, ("b",)), ("5", 0, ("b",))]
    events += [("6", 0, ("c",)), ("6", 0, ())]  # the same id, remembered: one set
    assert plan(events, 2, DAY_MS)[0] == [0, 0, 0, 1, 1, 1, 1]
    assert plan([("1", 0, ("a",)), ("2", 0, ()), ("3", 0, ("b",))], 3, DAY_MS)[0] == [0, 1, 2]
    # "1" forgotten by the horizon, taken in again: still its first's shard (one process mints its customer id)
    beyond = [("1", 0, ("a",)), ("2", 9 * DAY_MS, ("b",)), ("1", 9 * DAY_MS, ("c",))]
    assert plan(beyond, 3, DAY_MS)[0] == [0, 1, 0]


@SETTINGS
@given(logs(), st.integers(1, 3))
def test_watermarks_are_the_one_cores(log: list[Fields], horizon_days: int) -> None:
    config = ResolverConfig(duplicate_horizon_ms=horizon_days * DAY_MS)
    resolver = Resolver(config, track_changes=False)
    seen: list[int | None] = []
    for fields in log:
        seen.append(resolver._g.recent.watermark)
        resolver.ingest(*fields)
    assert plan(_planned(_parsed(log, config)), 2, config.duplicate_horizon_ms)[1] == seen


@SETTINGS
@given(logs(), st.integers(1, 3), st.integers(1, 4))
def test_shards_resolved_apart_give_what_one_resolver_gives(log: list[Fields], horizon_days: int, shards: int) -> None:
    config = ResolverConfig(duplicate_horizon_ms=horizon_days * DAY_MS)
    parsed = marshal.loads(marshal.dumps(_parsed(log, config)))  # as between the processes
    one = Resolver(config, track_changes=False)
    counts = ingest_parsed(parsed, one)
    shard, marks = plan(_planned(parsed), shards, config.duplicate_horizon_ms)
    parts = [Resolver(config, track_changes=False) for _ in range(shards)]
    applied = duplicates = 0
    for s, resolver in enumerate(parts):
        mine = [(f, found, mark) for (f, found), mark, at in zip(parsed, marks, shard, strict=True) if at == s]
        done = ingest_timed(mine, resolver)
        applied, duplicates = applied + done.events, duplicates + done.duplicates
    assert (applied, duplicates) == (counts.events, counts.duplicates)
    if not ids_disjoint(r.minted_ids() for r in parts):
        # An id sent again beyond the horizon made customers in two shards: the shell replays
        # such a log in one process (`tests/unit/test_replay_shards.py`).
        COLLISIONS.append(len(log))
        return
    for (f, _), s in zip(parsed, shard, strict=True):
        assert parts[s].customer_of_fields(f) == one.customer_of_fields(f)
    profiles = sorted((p.to_record()["customer_id"], p) for r in parts for c in r.customer_ids() if (p := r.profile(c)))
    assert [p for _, p in profiles] == [one.profile(c) for c in one.customer_ids()]
    for key in ("evidence", "customers", "merges", "quarantined", "shared_phones", "identifiers"):
        assert sum(r.stats()[key] for r in parts) == one.stats()[key]


def test_advancing_the_watermark_then_remembering_is_remembering() -> None:
    horizon = DAY_MS
    one, shard = RecentEvents(horizon), RecentEvents(horizon)
    one.remember("a", T0, "v1")
    shard.remember("a", T0, "v1")
    one.remember("elsewhere", T0 + 3 * DAY_MS, "v2")  # applied in another shard
    shard.advance(T0 + 3 * DAY_MS)
    assert "a" not in one and "a" not in shard
    one.remember("b", T0 + DAY_MS, "v3")  # late: stamped with the watermark
    shard.remember("b", T0 + DAY_MS, "v3")
    assert one.get("b") == shard.get("b") == (T0 + 3 * DAY_MS, "v3")
    assert shard.advance(T0) == [] and shard.watermark == T0 + 3 * DAY_MS


def test_an_id_held_by_two_shards_is_found() -> None:
    assert ids_disjoint([{"c_1", "c_2"}, {"c_3"}, set()])
    assert not ids_disjoint([{"c_1", "c_2"}, {"c_2"}])


def test_an_event_without_identifiers_goes_with_its_touchpoint_identity() -> None:
    assert link_keys("WEB", " junk ", ()) == link_keys("WEB", "junk", ()) != link_keys("KIOSK", "junk", ())
    assert link_keys("WEB", "s", ("t:WEB:s",)) == ("t:WEB:s",)
    config = ResolverConfig()
    lines = [
        (
            "f",
            1,
            '{"event_id":"e","touchpoint":"WEB","occurred_at":1700000000000,"source_id":"null","interaction":"visit"}',
        )
    ]
    (item,) = list(parse(lines, IdentifierParser(config)))
    found = item[1]
    assert isinstance(found, tuple) and found[0] == () and found[1]  # a junk source id: evidence with nothing to link


def test_a_shard_forgets_an_id_when_the_logs_watermark_passes_it() -> None:
    """Another shard's event moves the one watermark on: a repeated id beyond the horizon is new here too.

    ```
    time    t0            t0+5d
    shard 0 a(P1) ......................... a(P1, email) late: id "a" forgotten, so applied
    shard 1 ............. b(P2) (moves the watermark)
    ```
    """
    config = ResolverConfig(duplicate_horizon_ms=DAY_MS)
    log: list[Fields] = [
        ("a", "KIOSK", T0, "k-1", PHONES[0], None, "Ravi Kumar"),
        ("b", "KIOSK", T0 + 5 * DAY_MS, "k-2", PHONES[4], None, "Anil Rao"),
        ("a", "WEB", T0 + 3_600_000, "w-1", PHONES[0], EMAILS[0], "Ravi Kumar"),
    ]
    parsed = _parsed(log, config)
    shard, marks = plan(_planned(parsed), 2, config.duplicate_horizon_ms)
    assert shard[0] == shard[2] != shard[1]
    alone = Resolver(config, track_changes=False)
    counts = ingest_timed(
        [(f, found, mark) for (f, found), mark, s in zip(parsed, marks, shard, strict=True) if s == shard[0]], alone
    )
    assert (counts.events, counts.duplicates) == (2, 0)
    one = Resolver(config, track_changes=False)
    ingest_parsed(parsed, one)
    assert alone.customer_of_fields(log[2]) == one.customer_of_fields(log[2]) is not None


@SETTINGS
@given(logs(), st.integers(1, 3))
def test_an_id_reused_with_other_content_is_told_alike_by_the_core_the_watch_and_the_planner(
    log: list[Fields], horizon_days: int
) -> None:
    """One answer in every mode of `irl replay`: the core's "conflict", `IdWatch`, `Planner.add`."""
    config = ResolverConfig(duplicate_horizon_ms=horizon_days * DAY_MS)
    resolver = Resolver(config, track_changes=False)
    core = [resolver.ingest(*fields) == "conflict" for fields in log]
    watch, planner = IdWatch(config.duplicate_horizon_ms), Planner(config.duplicate_horizon_ms)
    by_watch, by_planner = [], []
    for f, (keys, _, _, content) in _parsed(log, config):
        by_watch.append(watch.reused(f[0], f[2], content))
        by_planner.append(planner.add(f[0], f[2], link_keys(f[1], f[3], keys), content))
    assert by_watch == core and by_planner == core
    # a resend of an event taken in is a duplicate, never a conflict
    again = Resolver(config, track_changes=False)
    for fields in log:
        if again.ingest(*fields) == "applied":
            assert again.ingest(*fields) == "duplicate"
