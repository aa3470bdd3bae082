"""What one worker process knows about itself: the single writer's state, Redis, counters.

Shared by the agents (which write it) and the web views (which read it); one per app.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from streams.pipeline import Pipeline
from streams.readmodel import RedisReadModel
from streams.settings import Settings

__all__ = ["Runtime", "die_with_parent"]


class Runtime:
    """Mutable worker state kept out of module globals; one per app."""

    #: triage has read every record its partitions held when it took them (`streams.loops.triage_read_up`);
    #: until then, for at most `streams.loops.CLOCK_HOLD_S` after start, the worker's clock sends no tick
    triage_caught_up = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pipeline: Pipeline | None = None
        self.applied_offset = -1
        self.redis: RedisReadModel | None = None
        self.redis_offset: int | None = None
        self.recovered = False
        #: this worker owns the single-writer partition (else it triages and stands by)
        self.owns_links = False
        #: the consumer group has assigned partitions at least once
        self.assigned = False
        #: bumped on every revocation of the links partition: a step of an older epoch is never written
        self.writer_epoch = 0
        #: when (monotonic seconds) the revoke under way began, waiting for the step in flight (None: none)
        self.revoke_started: float | None = None
        #: monotonic time the ordered stage's group began a rebalance not yet ended (`streams.loops`, `streams.stall`)
        self.rebalance_started: float | None = None
        #: held while the single writer applies and writes a batch; a revocation waits for it
        self.writer_lock = asyncio.Lock()
        #: the links log's end offset as the ordered stage's consumer last saw it (None: unknown)
        self.links_position: Callable[[], int | None] = lambda: None
        #: set when the worker stops: the stages finish the step in flight and leave their loops
        self.stopping = asyncio.Event()
        #: one per running stage loop, set when it has left (the app stops its producer after them)
        self.stages_done: list[asyncio.Event] = []
        #: consumer lag per ``topic/partition`` of each stage's consumer (None: not known yet)
        self.lag_sources: list[Callable[[], dict[str, int] | None]] = []
        #: called with the decoded records of every published step (the web layer's journal)
        self.on_published: Callable[[list[dict[str, Any]]], None] | None = None
        #: when the writer last logged its progress (monotonic seconds)
        self.progress_logged_at = 0.0
        self.stats: dict[str, Any] = {
            "events_triaged": 0,
            "dead_letters": 0,
            "events_applied": 0,
            "duplicates": 0,
            #: events that reused a remembered event id with other content (among the duplicates)
            "reused_ids": 0,
            "events_parsed_again": 0,  # events without triage's findings under the ordered stage's fingerprint
            "records_published": 0,
            "interactions_published": 0,
            #: effects sent to the per-customer stage (``IRL_CUSTOMER_STAGE=kafka``), and what that stage
            #: applied and published on this worker (`streams.customers`)
            "effects_published": 0,
            "effects_applied": 0,
            "customer_records_published": 0,
            "windows_published": 0,
            "last_window_end": None,
            "last_publish_ms": None,
            "redis_rebuilds": 0,
            #: flushes of the Redis mirror written by a forked child (a backlog's; `streams.mirror`)
            "redis_child_flushes": 0,
            #: snapshots of the ordered stage stored by this worker, the last one's links offset and size
            "snapshots": 0,
            "snapshot_offset": None,
            "snapshot_bytes": None,
            #: erasures whose follow-up finished (dead letters purged, links and state deleted), and
            #: ERASED records sent again after the compaction lag (`streams.sequencer`)
            "erasures_completed": 0,
            "erased_resent": 0,
            #: steps of a restart's tail applied without publishing them again (their outputs were on
            #: the broker: `streams.sequencer`, quiet catch-up)
            "steps_quiet": 0,
            #: failed attempts to fetch writer schemas from the registry (the worker waited each time)
            "registry_errors": 0,
            #: seconds the single writer has applied nothing while records waited (`streams.stall`)
            "stalled_s": 0.0,
            #: seconds the per-customer stage has applied nothing in a partition while effects waited (the
            #: longest of this worker's partitions; `streams.customer_loop`)
            "customers_stalled_s": 0.0,
            #: seconds the ordered stage's group has been in a rebalance (0: none under way; `streams.stall`)
            "rebalancing_s": 0.0,
            #: triage processes of this worker running (`streams.triage_process`)
            "triage_processes": 0,
            #: per-customer stage processes of this worker running (`streams.customer_process`)
            "customer_processes": 0,
            #: per effects partition held: its applied and Redis (``P:meta.p.<n>``) offsets (`streams.customer_loop`)
            "redis_partitions": {},
            "started_ms": int(time.time() * 1000),
        }


def die_with_parent(parent: int) -> None:
    """Be killed when the worker dies (Linux), and leave at once if it is already gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: a child's own pid checks remain
        pass
    if os.getppid() != parent:
        os._exit(70)
