"""One partition of the per-customer stage: its customers' profiles and the records of closed windows.

A `CustomerStage` consumes the effects of its partition (`resolver.effects.by_partition`)
in log order and keeps, per live customer of the partition, the profile input the ordered
stage last sent; each `Planned` record of a closed window is filled with the customer's
profile as of that point of the log (`resolver.changelog.record_of`). Because every
customer's input is sent before any window that could publish it closes (`EffectLog.flush`
at every action and every tick that closes a window, before its records are planned), the
records equal what `streams.pipeline.Pipeline` builds in one process, for 1, 2 or 3
partitions alike (tests/unit/test_customer_stage.py proves it).

    ordered stage   events ─ flush ─ events ─ flush ─ tick ─ plan(window) ──────────▶
    partition k     Replaced(c1) ... Replaced(c1) ... Tick   Planned(c1) → record(c1, profile)

Pure: no I/O, no clock; state is the inputs (profiles are derived, memoised until replaced).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from resolver.changelog import LIVE_CHANGES, Planned, record_of
from resolver.effect_codec import decode_effect, encode_effect
from resolver.effects import (
    CustomerInput,
    Effect,
    Erased,
    Patched,
    Removed,
    Replaced,
    Reset,
    Seen,
    Tick,
    patch,
    profile_from_input,
)
from resolver.profile import Profile

__all__ = ["CustomerStage", "StageError"]


class StageError(ValueError):
    """Effects out of order: a record planned for a customer whose input never arrived (a bug upstream)."""


class CustomerStage:
    """The customers of one partition and what the changelog publishes for them. One owner."""

    def __init__(self) -> None:
        self._inputs: dict[str, CustomerInput] = {}
        self._profiles: dict[str, Profile] = {}
        #: the latest tick seen (epoch ms), None before any
        self.now: int | None = None
        #: live customers whose input moved, and ids that left (absorbed -> survivor, erased -> None),
        #: since the last `take_changes`: what a read model mirrors
        self._touched: set[str] = set()
        self._removed: dict[str, str | None] = {}

    def apply(self, effects: Iterable[Effect], *, quiet: bool = False) -> list[dict[str, Any]]:
        """Apply effects in log order; returns the changelog records they publish, in order.

        ``quiet``: the records are on the broker already (a restart's catch-up): the same state,
        but only the ``ERASED`` records are built (cheap, and sent again later), as `Changelog.build`.
        """
        out: list[dict[str, Any]] = []
        for effect in effects:
            if isinstance(effect, Replaced):
                cid = effect.customer_id
                self._inputs[cid] = effect.input
                self._profiles.pop(cid, None)
                self._touched.add(cid)
                self._removed.pop(cid, None)
            elif isinstance(effect, Patched):
                cid = effect.customer_id
                inp = self._inputs.get(cid)
                if inp is None:
                    raise StageError("a patch sent for a customer without input")
                self._inputs[cid] = patch(inp, effect)
                self._profiles.pop(cid, None)
                self._touched.add(cid)
            elif isinstance(effect, Seen):
                cid = effect.customer_id
                inp = self._inputs.get(cid)
                if inp is None:
                    raise StageError("a piece of evidence sent for a customer without input")
                self._inputs[cid] = inp.with_facts(effect.facts)
                self._profiles.pop(cid, None)
                self._touched.add(cid)
            elif isinstance(effect, Planned):
                if not quiet or effect.change == "ERASED":
                    out.append(self._record(effect))
            elif isinstance(effect, Removed | Erased):
                cid = effect.customer_id
                self._inputs.pop(cid, None)
                self._profiles.pop(cid, None)
                self._touched.discard(cid)
                self._removed[cid] = effect.survivor_id if isinstance(effect, Removed) else None
            elif isinstance(effect, Tick) and (self.now is None or effect.now > self.now):
                self.now = effect.now
            elif isinstance(effect, Reset):  # a switch-over: every live customer is sent whole after it
                for cid in self._inputs:
                    self._removed[cid] = None
                self._inputs.clear()
                self._profiles.clear()
                self._touched.clear()
        return out

    def _record(self, planned: Planned) -> dict[str, Any]:
        profile = None
        if planned.change in LIVE_CHANGES:
            profile = self.profile(planned.customer_id)
            if profile is None:
                raise StageError(f"a {planned.change} record planned for a customer without input")
        return record_of(planned, profile)

    def profile(self, customer_id: str) -> Profile | None:
        """A live customer's profile (memoised until its input is replaced); None for any other id."""
        profile = self._profiles.get(customer_id)
        if profile is None:
            inp = self._inputs.get(customer_id)
            if inp is None:
                return None
            profile = self._profiles[customer_id] = profile_from_input(inp)
        return profile

    def input(self, customer_id: str) -> CustomerInput | None:
        """The profile input the partition holds for a customer (None: not one of its live customers)."""
        return self._inputs.get(customer_id)

    def customer_ids(self) -> list[str]:
        """The partition's live customers, sorted."""
        return sorted(self._inputs)

    def take_changes(self) -> tuple[set[str], dict[str, str | None]]:
        """(live customers whose input moved, ids that left) since the last call: what to mirror."""
        touched, removed = self._touched, self._removed
        self._touched, self._removed = set(), {}
        return touched, removed

    # -- persistence --------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The partition's state as bytes (the inputs, sorted, and the latest tick); `from_snapshot` reads it."""
        lines = [json.dumps(self.now).encode()]
        lines.extend(encode_effect(Replaced(cid, self._inputs[cid])) for cid in sorted(self._inputs))
        return b"\n".join(lines)

    @classmethod
    def from_snapshot(cls, data: bytes) -> CustomerStage:
        """The stage `snapshot` wrote."""
        head, *rest = data.split(b"\n")
        self = cls()
        self.now = json.loads(head)
        for line in rest:
            effect = decode_effect(line)
            if not isinstance(effect, Replaced):
                raise StageError("not a customer stage snapshot")
            self._inputs[effect.customer_id] = effect.input
        return self
