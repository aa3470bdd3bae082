"""`Batcher.record_event` is `observe_event_time` then `record`: the same windows, clock and records after any
history."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.batching import Batcher

IDS = st.sampled_from([f"c{i}" for i in range(8)])
_EVENT = st.tuples(
    st.integers(0, 60_000),  # event time
    st.lists(IDS, max_size=3).map(tuple),  # touched
    st.lists(IDS, max_size=2).map(tuple),  # created
    st.lists(st.tuples(IDS, IDS), max_size=2).map(tuple),  # absorbed
)
#: a history: events, ticks (``("tick", now)``) and closes of every due window (``("close", 0)``)
_HISTORY = st.lists(
    st.one_of(_EVENT, st.tuples(st.just("tick"), st.integers(0, 80_000)), st.just(("close", 0))), max_size=40
)


def _state(b: Batcher) -> tuple[object, ...]:
    pending = [
        (pw.window, sorted(pw.touched), sorted(pw.created), sorted(pw.absorbed.items()))
        for pw in (b.pending(w.start) for w in b.windows())
        if pw is not None
    ]
    return b.closed_until, b.last_tick, b.watermark, pending


@settings(max_examples=300, deadline=None)
@given(_HISTORY, st.booleans(), st.integers(1_000, 10_000), st.integers(0, 3_000), st.integers(0, 20_000))
def test_record_event_equals_observe_then_record(
    history: list[tuple[object, ...]], tracked: bool, size: int, grace: int, skew: int
) -> None:
    plain = Batcher(size, grace, skew, track_changes=tracked)
    fused = Batcher(size, grace, skew, track_changes=tracked)
    for item in history:
        if item[0] == "tick":
            plain.tick(int(item[1]))  # type: ignore[call-overload]
            fused.tick(int(item[1]))  # type: ignore[call-overload]
        elif item[0] == "close":
            for b in (plain, fused):
                for w in b.due():
                    while not b.take(w, 3).is_empty():
                        pass
                    b.close(w)
        else:
            at, touched, created, absorbed = item
            plain.observe_event_time(at)  # type: ignore[arg-type]
            plain.record(at, touched=touched, created=created, absorbed=absorbed)  # type: ignore[arg-type]
            fused.record_event(at, touched, created, absorbed)  # type: ignore[arg-type]
        assert _state(fused) == _state(plain)
    if tracked:
        assert fused.drain_changes() == plain.drain_changes()
    assert list(fused.records()) == list(plain.records())
