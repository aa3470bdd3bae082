"""Print the figures table of docs/reliability.md from the last chaos run's results.

.venv/bin/python -m tests.chaos.report      (reads irl-data/chaos/*.json, or IRL_CHAOS_RESULTS)
"""

from __future__ import annotations

import json
from typing import Any

from tests.chaos.helpers import RESULTS


def _recovery(body: dict[str, Any]) -> str:
    parts = [f"{r['when']}: {r['recovery_s']} s" for r in body["restarts"]]
    parts += [f"{k}: {v} s" for k, v in body["extra"].items() if k.endswith("_s")]
    return "; ".join(parts) or "n/a (no restart)"


def table() -> str:
    """The markdown table, one row per scenario file, in scenario order."""
    rows = [
        "| scenario | events sent | faults injected | events lost | records (raw) | duplicates raw / after dedup "
        "| recovery | size | per-customer stage |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted(RESULTS.glob("*.json")):
        b = json.loads(path.read_text())
        rows.append(
            f"| {b['scenario']} | {b['events']} | {b['faults']} | {b['lost']} | {b['raw_records']} "
            f"| {b['duplicates_raw']} / {b['duplicates_after_dedup']} | {_recovery(b)} "
            f"| {'full' if b['full'] else 'reduced'} | {b.get('customer_stage', 'off')} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
