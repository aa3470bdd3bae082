"""Windows and batches: boundaries, idle closing, late events, persistence.

Times below are minutes past 10:00 on one day, in milliseconds; windows are 15 minutes,
grace 10 seconds.

    10:00            10:15            10:30            10:45
      |---- W0 ------|---- W1 ------|---- W2 ------|
           e1 (10:14:59.999)
                     e2 (10:15:00.000)
                                     tick 10:30:10 -> W1 closes (10:30 + grace)
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from resolver.batching import Batcher
from resolver.window import Window, window_of

MIN = 60_000
T10 = 1_764_410_400_000  # 2025-11-29T10:00:00Z, a multiple of 15 minutes
SIZE = 15 * MIN
GRACE = 10_000


def test_boundary_is_half_open() -> None:
    assert window_of(T10 + SIZE - 1, SIZE) == Window(T10, T10 + SIZE)
    assert window_of(T10 + SIZE, SIZE) == Window(T10 + SIZE, T10 + 2 * SIZE)
    assert T10 + SIZE - 1 in window_of(T10, SIZE)
    assert T10 + SIZE not in window_of(T10, SIZE)


@given(st.integers(min_value=-(10**13), max_value=10**13), st.integers(min_value=1, max_value=10**8))
def test_window_contains_its_time_and_is_aligned(ts: int, size: int) -> None:
    w = window_of(ts, size)
    assert w.start <= ts < w.end and w.start % size == 0 and w.size == size


def test_events_either_side_of_the_boundary_go_to_different_batches() -> None:
    b = Batcher(SIZE, GRACE)
    b.tick(T10)
    assert b.record(T10 + SIZE - 1, touched=["c1"]) == Window(T10, T10 + SIZE)
    assert b.record(T10 + SIZE, touched=["c2"]) == Window(T10 + SIZE, T10 + 2 * SIZE)
    b.tick(T10 + SIZE + GRACE - 1)
    assert b.due() == []  # grace not over
    b.tick(T10 + SIZE + GRACE)
    assert b.due() == [Window(T10, T10 + SIZE)]
    chunk = b.take(Window(T10, T10 + SIZE), 100)
    assert chunk.touched == {"c1"}
    b.close(Window(T10, T10 + SIZE))
    assert b.windows() == [Window(T10 + SIZE, T10 + 2 * SIZE)]


def test_idle_window_closes_on_the_wall_clock() -> None:
    b = Batcher(SIZE, GRACE)
    b.tick(T10 + MIN)
    b.record(T10 + MIN, touched=["c1"])
    # no more events: only ticks
    b.tick(T10 + SIZE + GRACE)
    assert b.due() == [Window(T10, T10 + SIZE)]


def test_late_event_lands_in_the_next_batch() -> None:
    b = Batcher(SIZE, GRACE)
    b.tick(T10)
    b.record(T10 + MIN, touched=["c1"])
    b.tick(T10 + SIZE + GRACE)
    (w0,) = b.due()
    b.take(w0, 100)
    b.close(w0)
    late = b.record(T10 + 2 * MIN, touched=["c9"])  # its own window is published already
    assert late == Window(T10 + SIZE, T10 + 2 * SIZE)
    assert b.pending(late.start) is not None and "c9" in b.pending(late.start).touched  # type: ignore[union-attr]


def test_a_far_future_event_cannot_close_tomorrow() -> None:
    b = Batcher(SIZE, GRACE, max_skew_ms=MIN)
    b.tick(T10)
    b.observe_event_time(T10 + 20 * 60 * MIN)  # a clock-skewed producer, 20 h ahead
    assert b.clock == T10 + MIN


def _fold(state: dict[str, str], changes: dict[str, str | None]) -> None:
    for k, v in changes.items():
        if v is None:
            state.pop(k, None)
        else:
            state[k] = v


def test_chunks_put_absorbed_ids_last_and_drain_restores() -> None:
    b = Batcher(SIZE, GRACE)
    b.tick(T10)
    b.record(T10 + 1, touched=["b", "z"], absorbed=[("a", "b")], created=["z"])
    state: dict[str, str] = {}
    _fold(state, b.drain_changes())
    restored = Batcher.restore(SIZE, GRACE, state.items())
    assert restored.windows() == b.windows()
    assert restored.pending(b.windows()[0].start) == b.pending(b.windows()[0].start)
    w = b.windows()[0]
    first = b.take(w, 2)
    assert first.touched == {"b", "z"} and not first.absorbed
    _fold(state, b.drain_changes())
    mid = Batcher.restore(SIZE, GRACE, state.items())
    assert mid.pending(w.start) == b.pending(w.start)  # a crash between chunks resumes here
    second = b.take(w, 2)
    assert second.absorbed == {"a": "b"}
    assert b.take(w, 2).is_empty()
    b.close(w)
    _fold(state, b.drain_changes())
    final = Batcher.restore(SIZE, GRACE, state.items())
    assert final.closed_until == w.end and final.windows() == []
    assert not any(k.startswith(f"b:{w.start}:") for k in state)  # nothing of a closed window is kept


_IDS = st.sampled_from([f"c{i:02d}" for i in range(40)])
_OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("record"),
            st.integers(0, 3),  # minutes past 10:00: all in W0
            st.lists(_IDS, max_size=6),
            st.lists(_IDS, max_size=3),
            st.lists(st.tuples(_IDS, _IDS), max_size=3),
        ),
        st.tuples(st.just("take"), st.integers(1, 12)),
    ),
    max_size=40,
)


@given(_OPS)
def test_take_in_chunks_is_take_from_scratch(ops: list[tuple]) -> None:  # type: ignore[type-arg]
    """A window taken in chunks hands out what `take` computed from its sets every time would.

    `take` keeps the order of a window too big for one chunk between calls (`PendingWindow.order`);
    any record in between starts it again. The chunks and the drained records are the same as a
    batcher that forgets the order before every take.
    """
    kept, fresh = Batcher(SIZE, GRACE), Batcher(SIZE, GRACE)
    w0 = Window(T10, T10 + SIZE)
    for op in ops:
        if op[0] == "record":
            _, minute, touched, created, absorbed = op
            for b in (kept, fresh):
                b.record(T10 + minute * MIN, touched=touched, created=created, absorbed=absorbed)
        else:
            pending = fresh.pending(w0.start)
            if pending is not None:
                pending.order = None
            x, y = kept.take(w0, op[1]), fresh.take(w0, op[1])
            assert (x.touched, x.created, x.absorbed, x.erased, x.split) == (
                y.touched,
                y.created,
                y.absorbed,
                y.erased,
                y.split,
            )
            assert list(x.absorbed) == list(y.absorbed)
        assert kept.drain_changes() == fresh.drain_changes()
