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

It also keeps the aliases of its absorbed ids: a `Removed` (id, survivor) goes to the absorbed
id's partition (`resolver.effect_codec.by_partition` routes by the effect's customer id, and the
survivor's partition is sent only the survivor's input, never the ids merged into it), so the
partition of each absorbed id remembers the id it was absorbed into, one hop, as the
incremental mirror writes it. An erasure sends `Erased` to every id absorbed into the person (at
any depth, `Resolver.absorbed_into`), which drops it here; an id live again is sent its input
(`Replaced`), which drops it too. So the partitions' aliases together equal `Resolver.aliases`,
and a partition's Redis rebuild writes its own (`streams.mirror.PartitionMirror`).

Pure: no I/O, no clock; state is the inputs and the aliases (profiles are derived, memoised until replaced).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from resolver.changelog import LIVE_CHANGES, Planned, record_of
from resolver.display_name import forget as forget_names
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
)
from resolver.profile import Profile
from resolver.stage_profile import input_profile

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
        #: ids of this partition absorbed into another customer -> the id each was absorbed into (one hop,
        #: as its `Removed` named it), until erased with its survivor or live again: a rebuild's aliases
        self._aliases: dict[str, str] = {}

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
                self._aliases.pop(cid, None)  # live again: a live customer has no alias
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
                gone = self._inputs.pop(cid, None)
                if isinstance(effect, Erased) and gone is not None:  # no copy of her names in the memos
                    forget_names(f.name for f in gone.evidence if f.name)
                self._profiles.pop(cid, None)
                self._touched.discard(cid)
                if isinstance(effect, Removed):
                    self._removed[cid] = self._aliases[cid] = effect.survivor_id
                else:  # erased, or absorbed into an erased customer: no alias (`Resolver.aliases`)
                    self._removed[cid] = None
                    self._aliases.pop(cid, None)
            elif isinstance(effect, Tick) and (self.now is None or effect.now > self.now):
                self.now = effect.now
            elif isinstance(effect, Reset):  # a switch-over: every live customer is sent whole after it
                for cid in self._inputs:
                    self._removed[cid] = None
                self._inputs.clear()
                self._profiles.clear()
                self._touched.clear()
                self._aliases.clear()  # the ordered stage sends the aliases it holds after it (`EffectLog.note_all`)
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
            profile = self._profiles[customer_id] = input_profile(inp)
        return profile

    def input(self, customer_id: str) -> CustomerInput | None:
        """The profile input the partition holds for a customer (None: not one of its live customers)."""
        return self._inputs.get(customer_id)

    def customer_ids(self) -> list[str]:
        """The partition's live customers, sorted."""
        return sorted(self._inputs)

    def aliases(self) -> list[tuple[str, str]]:
        """This partition's absorbed ids whose chain ends at a live customer, each with the id it was absorbed
        into (one hop), sorted: the aliases its Redis rebuild writes (together, `Resolver.aliases`)."""
        return sorted(self._aliases.items())

    def take_changes(self) -> tuple[set[str], dict[str, str | None]]:
        """(live customers whose input moved, ids that left) since the last call: what to mirror."""
        touched, removed = self._touched, self._removed
        self._touched, self._removed = set(), {}
        return touched, removed

    # -- persistence --------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The partition's state as bytes: the latest tick, the inputs (a `Replaced` line each, sorted), then
        the aliases (a `Removed` line each, sorted; since s34); `from_snapshot` reads it."""
        lines = [json.dumps(self.now).encode()]
        lines.extend(encode_effect(Replaced(cid, self._inputs[cid])) for cid in sorted(self._inputs))
        lines.extend(encode_effect(Removed(gone, into)) for gone, into in sorted(self._aliases.items()))
        return b"\n".join(lines)

    @classmethod
    def from_snapshot(cls, data: bytes) -> CustomerStage:
        """The stage `snapshot` wrote. A snapshot written before s34 has no `Removed` lines: it loads with no
        aliases: the partition's rebuilds write none of the ids absorbed before that snapshot (Redis
        keeps those the mirror wrote until it loses data; `irl rebuild-redis` writes them all)."""
        head, *rest = data.split(b"\n")
        self = cls()
        self.now = json.loads(head)
        for line in rest:
            effect = decode_effect(line)
            if isinstance(effect, Replaced):
                self._inputs[effect.customer_id] = effect.input
            elif isinstance(effect, Removed):
                self._aliases[effect.customer_id] = effect.survivor_id
            else:
                raise StageError("not a customer stage snapshot")
        return self
