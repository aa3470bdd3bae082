"""Digests of everything the ordered stage's pipeline produces over a file: to prove a speed change changes nothing.

Usage: ``python -m bench.pipeline_digest FILE [--tree DIR] [--window-ms N] [--events N] [--batch N] [--future-ms N]``

Feeds the first N events of FILE to `streams.pipeline.Pipeline` in batches, a tick after
each (at the latest event time plus ``--future-ms``: a large value gives a backlog's shape,
where the ticks are the wall clock and every window is due at once), with operator merges,
splits and erasures now and then, then a final tick, and prints one short digest per part
of the steps (state changes, Avro outputs, changelog records, touched and removed ids,
notes, ids to forget, closed windows), of the final profiles and of the snapshot. With
``--tree`` the `resolver` and `streams` packages come from another source tree (an older
commit: ``git archive <rev> | tar -x -C DIR``), so two trees can be compared line by line.

Run both with the same ``PYTHONHASHSEED``: the snapshot's bytes depend on it when erasures
happen (the other parts do not).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import sys
from typing import Any


def _import(tree: str | None) -> tuple[Any, ...]:
    if tree is not None:
        sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f)]
        sys.path.insert(0, tree)
    from resolver.config import ResolverConfig
    from resolver.interaction import from_json
    from resolver.jsontext import loads
    from streams.pipeline import Pipeline

    if tree is not None:
        import streams.pipeline

        assert streams.pipeline.__file__ and streams.pipeline.__file__.startswith(tree), streams.pipeline.__file__
    return ResolverConfig, from_json, loads, Pipeline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Digests of the ordered stage's pipeline outputs over a file.")
    parser.add_argument("events")
    parser.add_argument("--tree", default=None)
    parser.add_argument("--window-ms", type=int, default=5000)
    parser.add_argument("--events", dest="limit", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=300)
    parser.add_argument("--future-ms", type=int, default=0)
    args = parser.parse_args(argv)
    config_cls, from_json, loads, pipeline_cls = _import(args.tree)
    events = []
    with open(args.events, encoding="utf-8") as handle:
        for i, line in enumerate(handle):
            if i >= args.limit:
                break
            events.append(from_json(loads(line)))
    p = pipeline_cls(config_cls(), args.window_ms, 1000)
    digests: dict[str, Any] = collections.defaultdict(hashlib.sha256)

    def eat(steps: Any) -> None:
        for s in steps:
            parts = {
                "changes": sorted(s.changes.items()),
                "outputs": s.outputs,
                "touched": sorted(s.touched),
                "removed": sorted(s.removed.items()),
                "counts": (s.offset, s.events, s.duplicates),
                "records": s.records,
                "notes": s.notes,
                "forget": s.forget,
                "closed": s.closed,
            }
            for name, value in parts.items():
                digests[name].update(repr(value).encode())

    batch, last = args.batch, 0
    for i in range(0, len(events), batch):
        chunk = events[i : i + batch]
        eat(p.on_events(i, chunk))
        last = max(last, max(e.occurred_at for e in chunk))
        eat(p.on_tick(i, last + args.future_ms))
        if i and i % (10 * batch) == 0:
            _actions(p, i, last, batch, eat)
    eat(p.on_tick(len(events), last + args.future_ms + 10**8))
    digests["profiles"].update(repr(list(p.mirror_records())).encode())
    digests["snapshot"].update(p.snapshot())
    print(" ".join(f"{k}={v.hexdigest()[:12]}" for k, v in sorted(digests.items())))
    return 0


def _actions(p: Any, i: int, last: int, batch: int, eat: Any) -> None:
    """An operator merge and split now and then, and an erasure less often (deterministic choices)."""
    cids = p.resolver.customer_ids()
    if not cids:
        return
    a, b = cids[i % len(cids)], cids[(i * 7) % len(cids)]
    eat(p.on_action(i, {"action": "merge", "customer_id": a, "identifier": b, "action_id": f"m{i}", "at": last}))
    c = cids[(i * 3) % len(cids)]
    profile = p.resolver.profile(c)
    if profile is not None and profile.phones:
        split = {"action": "split", "customer_id": c, "identifier": profile.phones[0], "action_id": f"s{i}", "at": last}
        eat(p.on_action(i, split))
    if i % (30 * batch) == 0:
        eat(
            p.on_action(
                i, {"action": "erase", "customer_id": cids[(i * 5) % len(cids)], "action_id": f"e{i}", "at": last}
            )
        )


if __name__ == "__main__":
    sys.exit(main())
