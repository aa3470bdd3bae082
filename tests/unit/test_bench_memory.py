"""`bench.memory`'s walker reads the core's state whichever core runs (mypyc's native objects too).

A class compiled by mypyc has no ``__dict__`` and no ``__slots__`` (``vars()`` fails on it: the
walker before s37 did, on the compiled core); `bench.memory._fields` reads ``__mypyc_attrs__``.
"""

from __future__ import annotations

import json

import resolver
from bench.memory import breakdown, groups
from resolver.config import ResolverConfig
from resolver.replay import replay
from resolver.resolver import Resolver

T0 = 1_700_000_000_000


def _lines(count: int) -> list[tuple[str, int, str]]:
    out = []
    for n in range(count):
        event = {
            "event_id": f"e{n}",
            "touchpoint": ("WEB", "WHATSAPP", "STORE")[n % 3],
            "occurred_at": T0 + 1000 * n,
            "source_id": f"src{n % 37}",
            "interaction": "visit",
            "phone": f"98765{n % 41:05d}",
            "email": f"person{n % 29}@example.com" if n % 2 else "",
            "name": ("Asha Rao", "Li Wei", "")[n % 3],
        }
        out.append(("mem", n + 1, json.dumps(event)))
    return out


def test_the_walker_reaches_every_part_of_the_state_on_the_core_that_runs() -> None:
    r = Resolver(ResolverConfig(), track_changes=True)
    replay(iter(_lines(300)), r)
    parts = breakdown(r._g)
    by_group = groups(parts)
    for part in ("evidence", "nodes", "customers", "union-find", "near-phone index"):
        assert by_group.get(part, 0) > 0, (resolver.CORE_BUILD, part, by_group)
    # the strings the state holds are reached through the native objects too
    assert any(" str (n=" in label for label in parts), resolver.CORE_BUILD
    # the change set (tracked) and the tables' columns are walked into, not just counted as a shell
    assert by_group.get("change set (tracked only)", 0) > 0, by_group
