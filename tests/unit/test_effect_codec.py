"""Effects on the wire: any effect comes back equal, one by one or in a partition's batch, cut anywhere.

ordered stage   step effects ──batches(P)──▶ (partition, first position, value) per partition, values cut at a size
partition       unbatch(position, value) ──▶ (position, effect) ... the same effects, ordinals consecutive
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.changelog import Planned
from resolver.effect_codec import (
    BATCH_MAGIC,
    by_partition,
    decode_effect,
    decode_effects,
    encode_effect,
    encode_effects,
)
from resolver.effect_feed import Position, batches, count_by_partition, unbatch
from resolver.effects import (
    CustomerInput,
    Effect,
    Erased,
    Facts,
    Head,
    Patched,
    Removed,
    Replaced,
    Reset,
    Seen,
    Tick,
    patch,
)
from resolver.names import name_key
from resolver.window import Window

_text = st.text(max_size=12)
_ids = st.text(alphabet="abcdef0123456789_", min_size=1, max_size=10)
_keys = st.lists(st.sampled_from(["p:+911", "e:a@b.c", "t:WEB:u1", "x:v1", "p:+912#1", "e:ü@é.in"]), max_size=4)
_names = st.none() | st.sampled_from(["Asha Rao", "Rao Asha", "N. Jain", "", "Zoë  Ümit", "x"]) | _text


@st.composite
def facts(draw: st.DrawFn) -> Facts:
    at = draw(st.integers(0, 2**45))
    name = draw(_names)
    return Facts(
        draw(_ids),
        draw(st.sampled_from(["WEB", "WHATSAPP", "KIOSK", "CRM"])),
        draw(_text),
        name,
        name_key(name),  # the graph's name key of the name, as `facts_of` reads it
        at,
        at + draw(st.integers(0, 2**40)),
        draw(st.integers(1, 10_000)),
        tuple(draw(_keys)),
        tuple(draw(_keys)),
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.booleans()),
    )


_head = st.tuples(
    st.lists(_text, max_size=3).map(tuple),
    st.lists(_text, max_size=3).map(tuple),
    st.integers(0, 9),
    st.booleans(),
    st.integers(0, 9),
    st.none() | _keys.map(tuple),
    st.integers(0, 9),
    st.integers(0, 9),
)


@st.composite
def inputs(draw: st.DrawFn, cid: str | None = None) -> CustomerInput:
    pieces = draw(st.lists(facts(), max_size=4, unique_by=lambda f: f.vid))
    pieces.sort(key=lambda f: (f.at, f.vid))
    head: Head = draw(_head)
    return CustomerInput(cid if cid is not None else draw(_ids), *head, tuple(pieces))


_windows = st.builds(lambda s, n: Window(s, s + n), st.integers(0, 2**44), st.integers(1, 10**9))
_changes = st.sampled_from(["CREATED", "UPDATED", "MERGED", "ABSORBED", "SPLIT", "ERASED", "FUTURE"])

effects_st: st.SearchStrategy[Effect] = st.one_of(
    inputs().map(lambda i: Replaced(i.customer_id, i)),
    st.builds(
        Patched,
        _ids,
        st.none() | _head,
        st.lists(facts(), max_size=3).map(tuple),
        st.lists(_ids, max_size=3).map(tuple),
    ),
    st.builds(Seen, _ids, facts()),
    st.builds(Removed, _ids, _ids),
    st.builds(Erased, _ids),
    st.builds(Tick, st.integers(0, 2**45)),
    st.just(Reset()),
    st.builds(Planned, _ids, _changes, st.integers(1, 999), _windows, st.none() | _ids, st.lists(_ids).map(tuple)),
)


@settings(max_examples=200, deadline=None)
@given(effects=st.lists(effects_st, max_size=12))
def test_any_effects_come_back_equal_one_by_one_and_in_a_batch(effects: list[Effect]) -> None:
    assert [decode_effect(encode_effect(e)) for e in effects] == effects
    value = encode_effects(effects)
    assert value[:1] == BATCH_MAGIC
    assert decode_effects(value) == effects
    if effects:  # a record of the earlier form (one effect, JSON) is still read
        assert decode_effects(encode_effect(effects[0])) == [effects[0]]


@settings(max_examples=100, deadline=None)
@given(
    effects=st.lists(effects_st, min_size=1, max_size=30),
    partitions=st.integers(1, 4),
    limit=st.sampled_from([1, 200, 2000, 1 << 20]),
    start=st.lists(st.integers(0, 50), min_size=4, max_size=4),
)
def test_batches_carry_each_partitions_effects_in_order_with_consecutive_ordinals(
    effects: list[Effect], partitions: int, limit: int, start: list[int]
) -> None:
    """Each partition's values, unbatched, are its effects (`by_partition`: a tick in every one) in order, numbered
    on from where the record's earlier steps left off; a value over the limit is cut (unless one effect)."""
    ordinals = start[:partitions]
    before = list(ordinals)
    sent = batches(41, effects, ordinals, max_bytes=limit)
    counted = list(before)
    count_by_partition(effects, counted)
    assert counted == ordinals, "a quiet step advances the ordinals as a sent one"
    for p, expected in enumerate(by_partition(effects, partitions)):
        got = [placed for q, pos, value in sent if q == p for placed in unbatch(pos, value)]
        assert [e for _pos, e in got] == expected
        assert [pos for pos, _e in got] == [Position(41, before[p] + i) for i in range(len(expected))]
        assert ordinals[p] == before[p] + len(expected)
        values = [value for q, _pos, value in sent if q == p]
        assert all(len(v) <= limit or len(decode_effects(v)) == 1 for v in values)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_patch_between_two_inputs_takes_the_first_to_the_second(data: st.DataObject) -> None:
    """`EffectLog`'s delta of two inputs of one customer, applied to the first (as a partition holds it): the second.

    Pieces may stay, change, come and go; the identifier side may move or not.
    """
    from resolver.effects import _delta

    held = data.draw(inputs(cid="c1"))
    kept = [f for f in held.evidence if data.draw(st.booleans())]
    changed = [
        Facts(f.vid, f.tp, f.src, f.name, f.cls, f.at, f.last + 1, f.count + 1, f.eff, f.tkeys, *f.values()[10:])
        if data.draw(st.booleans())
        else f
        for f in kept
    ]
    new = data.draw(st.lists(facts(), max_size=3, unique_by=lambda f: f.vid))
    pieces = {f.vid: f for f in changed}
    pieces.update((f.vid, f) for f in new)
    moved: Head | None = data.draw(st.none() | _head)
    evidence = tuple(sorted(pieces.values(), key=lambda f: (f.at, f.vid)))
    now = held._replace(evidence=evidence) if moved is None else CustomerInput("c1", *moved, evidence)
    delta = _delta((held[1:9], {f.vid: f for f in held.evidence}), now)
    assert delta.customer_id == "c1"
    got = delta.input if isinstance(delta, Replaced) else patch(held, delta)
    assert got == now
    if isinstance(delta, Patched):
        assert len(delta.facts) <= len(now.evidence)
        again = decode_effects(encode_effects([delta]))[0]
        assert isinstance(again, Patched) and patch(held, again) == now
