"""The Redis read model on a real Redis: its contracts, and identifiers packed into small hashes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from streams.readmodel import LAYOUT, RedisReadModel, identifiers_of

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
