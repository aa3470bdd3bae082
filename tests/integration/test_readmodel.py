"""The Redis read model on a real Redis: its contracts, and identifiers packed into small hashes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from streams.readmodel import LAYOUT, RedisReadModel, holders, identifiers_of, partition_field

pytestmark = pytest.mark.integration

PREFIX = "irlrmtest"
LONG_EMAIL = "someone." + "x" * 70 + "@example.org"


def profile(i: int) -> dict[str, Any]:
    """A resolver-shaped profile with two to four identifiers."""
    return {
        "customer_id": f"c_{i:020x}",
        "phones": [f"+9198{i:08d}"],
        "emails": [LONG_EMAIL] if i == 7 else [f"p{i}@example.org"] * (i % 2),
        "source_ids": [{"touchpoint": "WEB", "source_id": f"ck-{i}"}, {"touchpoint": "KIOSK", "source_id": f"k-{i}"}][
            : 1 + i % 2
        ],
        "name": f"Person {i}",
        "first_seen": 1_700_000_000_000 + i,
        "last_seen": 1_700_000_000_000 + 2 * i,
        "event_count": 1 + i % 5,
        "touchpoints": ["KIOSK", "WEB"] if i % 2 else ["WEB"],
        "confidence": 0.8,
        "confidence_reasons": [],
    }


PROFILES = {p["customer_id"]: p for p in map(profile, range(600))}
IDENTIFIERS = {ident: cid for cid, p in PROFILES.items() for ident in identifiers_of(p)}


@pytest.fixture
async def model(redis_url: str) -> AsyncIterator[RedisReadModel]:
    m = RedisReadModel.from_url(redis_url, prefix=PREFIX)
    try:
        yield m
    finally:
        await m.close()


async def buckets(model: RedisReadModel) -> dict[str, tuple[int, str]]:
    """Every identifier bucket: key -> (entries, encoding)."""
    out = {}
    async for key in model.r.scan_iter(match=f"{PREFIX}:i:*"):
        out[key.decode()] = (await model.r.hlen(key), (await model.r.object("encoding", key)).decode())
    return out


async def assert_holds(model: RedisReadModel, profiles: dict[str, dict[str, Any]]) -> None:
    assert await model.snapshot() == profiles
    wanted = {ident: cid for cid, p in profiles.items() for ident in identifiers_of(p)}
    for ident, cid in wanted.items():
        assert await model.customer_of(ident) == cid, ident
    held = await buckets(model)
    assert sum(n for n, _ in held.values()) == len(wanted)
    assert {enc for _, enc in held.values()} == {"listpack"}
    assert max(n for n, _ in held.values()) <= 128


async def test_rebuild_packs_identifiers_into_listpack_hashes_that_answer_every_lookup(model: RedisReadModel) -> None:
    assert await model.offset() is None
    assert await model.rebuild(PROFILES.items(), [("c_gone", "c_00000000000000000001")], 5) == len(PROFILES)
    assert await model.offset() == 5
    await assert_holds(model, PROFILES)
    assert len(await buckets(model)) > 16  # it grew past one bucket
    assert await model.customer(f"c_{3:020x}") == PROFILES[f"c_{3:020x}"]
    assert await model.customer("c_nope") is None and await model.customer_of("phone:+000") is None
    meta = await model.r.hgetall(f"{PREFIX}:meta")
    assert int(meta[b"i.count"]) == len(IDENTIFIERS) and int(meta[b"a.count"]) == 1


async def test_steps_from_empty_grow_the_buckets_to_the_same_answers(model: RedisReadModel) -> None:
    await model.rebuild([], [], 0)
    items = list(PROFILES.items())
    for n, start in enumerate(range(0, len(items), 50)):
        assert await model.apply_if_at(n, dict(items[start : start + 50]), {}, n + 1)
    assert await model.offset() == len(items) // 50
    await assert_holds(model, PROFILES)


async def test_a_step_applies_only_at_the_expected_offset_in_this_layout(model: RedisReadModel) -> None:
    a, b, c = (f"c_{i:020x}" for i in (1, 2, 3))
    await model.rebuild([(a, PROFILES[a]), (b, PROFILES[b])], [], 10)
    merged = {**PROFILES[b], **{k: PROFILES[b][k] + PROFILES[a][k] for k in ("phones", "emails", "source_ids")}}
    merged["touchpoints"] = ["KIOSK", "WEB"]
    assert not await model.apply_if_at(9, {b: merged}, {a: b}, 11)  # behind: nothing written
    assert await model.offset() == 10 and await model.customer(a) == PROFILES[a]
    assert await model.apply_if_at(10, {b: merged}, {a: b}, 11)
    assert await model.offset() == 11
    assert await model.customer(a) is None and await model.customer(b) == merged
    assert all([await model.customer_of(i) == b for i in identifiers_of(PROFILES[a])])
    assert await model.survivor_of(a) == b and await model.survivor_of(b) is None  # one alias, read alone
    # an erased customer: its profile, its alias target and its identifiers go
    await model.apply({c: PROFILES[c]}, {}, 12)  # the plain write needs no expected offset
    assert await model.apply_if_at(12, {}, {c: None}, 13, forget=identifiers_of(PROFILES[c]))
    assert await model.customer(c) is None
    assert all([await model.customer_of(i) is None for i in identifiers_of(PROFILES[c])])
    assert int(cast(bytes, await model.r.hget(f"{PREFIX}:meta", "i.count"))) == len(identifiers_of(merged))
    # a model written in another layout reads as empty, and refuses steps, so the worker rebuilds it
    await model.r.hset(f"{PREFIX}:meta", "layout", "1")
    assert await model.offset() is None and not await model.apply_if_at(13, {}, {}, 14)
    await model.r.hset(f"{PREFIX}:meta", "layout", LAYOUT)
    await model.r.delete(f"{PREFIX}:meta")  # FLUSHALL, as far as the worker can tell
    assert not await model.apply_if_at(13, {b: merged}, {}, 14)
    await model.clear()
    assert [k async for k in model.r.scan_iter(match=f"{PREFIX}:*")] == []


def shared(i: int, phones: list[str], sources: list[str]) -> dict[str, Any]:
    """A profile of customer ``c_<i>`` listing the given phones and WEB source ids (shared with others)."""
    p = profile(i)
    p["phones"], p["emails"] = phones, []
    p["source_ids"] = [{"touchpoint": "WEB", "source_id": s} for s in sources]
    p["touchpoints"] = ["WEB"] if sources else []
    return p


async def test_an_identifier_two_customers_list_holds_both_and_answers_the_smaller_id_in_any_write_order(
    redis_url: str,
) -> None:
    """Two partitions write customers sharing a phone and an account, in either order: the same index.

    The field holds every customer whose stored profile lists the identifier (sorted); a lookup
    answers the first. Dropping one holder (its profile moves on, is absorbed, is erased) leaves the other.
    """
    a, b = f"c_{1:020x}", f"c_{2:020x}"
    pa = shared(1, ["+919800000001", "+919811111111"], ["acct-shared", "acct-a"])
    pb = shared(2, ["+919811111111"], ["acct-shared"])
    results = []
    for order in ((a, b), (b, a)):
        m = RedisReadModel.from_url(redis_url, prefix=f"{PREFIX}o{order[0][-1]}")
        try:
            await m.rebuild_partition(0, lambda _c: False, lambda _c: True, [], 0)
            await m.rebuild_partition(1, lambda _c: False, lambda _c: True, [], 0)
            for n, cid in enumerate(order):  # "partition" n writes its customer
                assert await m.apply_if_at(0, {cid: pa if cid == a else pb}, {}, 1, field=f"p.{n}")
            index = await m.index()
            assert index == holders([(a, pa), (b, pb)])
            assert index["phone:+919811111111"] == f"{a} {b}" and index["tp:WEB:acct-shared"] == f"{a} {b}"
            assert await m.customer_of("phone:+919811111111") == a
            assert await m.customer_of("tp:WEB:acct-a") == a
            results.append(index)
            # a's profile moves on without the shared phone: b alone holds it now
            moved = shared(1, ["+919800000001"], ["acct-shared", "acct-a"])
            assert await m.apply_if_at(1, {a: moved}, {}, 2, field=f"p.{order.index(a)}")
            assert await m.customer_of("phone:+919811111111") == b
            # b absorbed into a: its identifiers now a's alone; the alias points at a
            assert await m.apply_if_at(1, {}, {b: a}, 2, field=f"p.{order.index(b)}")
            assert await m.customer_of("phone:+919811111111") is None  # a does not list it
            assert await m.customer_of("tp:WEB:acct-shared") == a
            assert (await m.aliases()) == {b: a}
            # a revived b (a re-resolution handed the id back): a live customer has no alias
            assert await m.apply_if_at(2, {b: pb}, {}, 3, field=f"p.{order.index(b)}")
            assert (await m.aliases()) == {} and await m.customer_of("tp:WEB:acct-shared") == a
            # erasure: a goes; what only a listed leaves the index, the shared account stays b's
            assert await m.apply_if_at(2, {}, {a: None}, 3, field=f"p.{order.index(a)}", forget=["phone:+919800000001"])
            assert await m.index() == holders([(b, pb)])
            assert int(cast(bytes, await m.r.hget(f"{m.p}:meta", "i.count"))) == len(holders([(b, pb)]))
            await m.clear()
        finally:
            await m.close()
    assert results[0] == results[1]


async def test_random_writes_of_partitions_in_any_interleaving_give_the_index_of_the_stored_profiles(
    redis_url: str,
) -> None:
    """Random profiles over a few shared identifiers, written, rewritten, absorbed and deleted by three
    "partitions" in two interleavings: both end with the index `holders` derives from the same profiles."""
    import random

    rng = random.Random(4)
    phones = [f"+9198000000{i:02d}" for i in range(12)]
    sources = [f"s{i}" for i in range(8)]
    cids = [f"c_{i:020x}" for i in range(30)]
    # per customer (one partition each: i % 3), its writes in its own order
    writes: dict[int, list[tuple[str, dict[str, Any] | None]]] = {0: [], 1: [], 2: []}
    final: dict[str, dict[str, Any] | None] = {}
    for _ in range(200):
        i = rng.randrange(len(cids))
        cid = cids[i]
        value = (
            None
            if rng.random() < 0.2
            else shared(i, rng.sample(phones, rng.randint(0, 3)), rng.sample(sources, rng.randint(0, 2)))
        )
        writes[i % 3].append((cid, value))
        final[cid] = value
    expected = [(c, p) for c, p in final.items() if p is not None]
    indexes = []
    for run in range(2):
        m = RedisReadModel.from_url(redis_url, prefix=f"{PREFIX}r{run}")
        try:
            at = {n: 0 for n in range(3)}
            for n in range(3):
                await m.rebuild_partition(n, lambda _c: False, lambda _c: True, [], 0)
            queues = {n: list(w) for n, w in writes.items()}
            order = random.Random(run)
            while any(queues.values()):
                n = order.choice([k for k, q in queues.items() if q])
                k = order.randint(1, 5)
                chunk, queues[n] = queues[n][:k], queues[n][k:]
                profiles = dict(chunk)  # a flush coalesces: the last write of each customer
                assert await m.apply_if_at(at[n], profiles, {}, at[n] + 1, field=f"p.{n}")
                at[n] += 1
            assert {c: p for c, p in (await m.snapshot()).items()} == dict(expected)
            indexes.append(await m.index())
            assert indexes[-1] == holders(expected)
            await m.clear()
        finally:
            await m.close()
    assert indexes[0] == indexes[1]


async def test_a_partition_rebuild_replaces_its_own_customers_only(model: RedisReadModel) -> None:
    """Partition 1 rebuilds (Redis flushed or behind): its stale customers go, partition 0's stay as they are."""
    mine = {f"c_{i:020x}" for i in range(0, 600, 2)}
    await model.rebuild(PROFILES.items(), [], 5)
    assert await model.offset() == 5
    live = {c for c in mine if int(c[2:], 16) % 4 == 0}  # half of partition 1's customers are gone
    written = await model.rebuild_partition(
        1, mine.__contains__, live.__contains__, [(c, PROFILES[c]) for c in sorted(live)], 40
    )
    assert written == len(live)
    assert await model.offset(partition_field(1)) == 40
    assert await model.offset() is None, "the default mode's links offset is dropped: it would rebuild"
    kept = {c: p for c, p in PROFILES.items() if c not in mine or c in live}
    assert await model.snapshot() == kept
    assert await model.index() == holders(kept.items())


async def test_a_partition_rebuild_writes_its_aliases_and_deletes_its_ids_other_aliases(model: RedisReadModel) -> None:
    """Partition 1 rebuilds with the aliases its state holds: they are written; an alias of one of its ids that its
    state lacks (absorbed into a customer erased since, in a Redis restored from an older dump) is deleted; the
    aliases of partition 0's ids stay as they are. Thousands of each: several script calls."""
    mine = {f"g_{i:020x}" for i in range(0, 8000, 2)}
    theirs = {f"g_{i:020x}": "c_theirs" for i in range(1, 8000, 2)}
    stale = {g: "c_erased" for g in sorted(mine)[:3000]}
    await model.rebuild(PROFILES.items(), [*stale.items(), *theirs.items()], 5)
    held = sorted((g, "c_live") for g in sorted(mine)[2000:])
    await model.rebuild_partition(1, lambda c: c in mine or c in PROFILES, PROFILES.__contains__, [], 9, held)
    assert await model.aliases() == {**theirs, **dict(held)}
    assert await model.survivor_of(sorted(mine)[0]) is None


async def test_a_partition_rebuild_over_a_model_in_the_older_layout_prunes_what_no_profile_lists(
    model: RedisReadModel,
) -> None:
    """Layout 2 wrote identifier fields blindly (the last writer's id; stale ones stayed): pruned on the upgrade."""
    await model.rebuild(PROFILES.items(), [], 5)
    c = f"c_{3:020x}"
    await model.r.delete(f"{PREFIX}:c:{c}")  # a field whose holder has no profile any more
    await model.r.hset(f"{PREFIX}:meta", "layout", "2")
    everyone = set(PROFILES)
    await model.rebuild_partition(0, everyone.__contains__, everyone.__contains__, [], 7)
    assert await model.offset(partition_field(0)) == 7
    left = {k: v for k, v in PROFILES.items() if k != c}
    assert await model.index() == holders(left.items())


async def test_holders_are_in_byte_order_whatever_the_servers_collation(model: RedisReadModel) -> None:
    """Ids whose order differs between byte order and a locale's collation (case, punctuation): Python's order."""
    ids = ["c_B", "c_a", "c-b", "c_A", "c.a", "cZ"]
    await model.rebuild([], [], 0)
    for n, cid in enumerate(ids):
        p = shared(0, ["+919822222222"], [])
        p["customer_id"] = cid
        assert await model.apply_if_at(n, {cid: p}, {}, n + 1)
    assert (await model.index())["phone:+919822222222"] == " ".join(sorted(ids))
    assert await model.customers_of("phone:+919822222222") == sorted(ids)  # every holder, in that order
    assert await model.customer_of("phone:+919822222222") == min(ids)
