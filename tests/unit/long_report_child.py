"""A stand-in child for `tests/unit/test_triage_process.py`: one report line longer than asyncio's default
line limit (64 KiB, as a per-customer stage's report with its journal was), then it waits to be stopped."""

from __future__ import annotations

import json
import signal
import sys

if __name__ == "__main__":
    sys.stdout.write(json.dumps({"events_triaged": 3, "journal": "x" * 300_000}) + "\n")
    sys.stdout.flush()
    signal.pause()  # until the worker's side sends SIGTERM
