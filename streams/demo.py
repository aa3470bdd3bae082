"""Helpers of `make demo`: wait for the worker, then report before and after.

    python -m streams.demo wait   --events E.jsonl --port 6066 --token T [--timeout S]
    python -m streams.demo report --events E.jsonl --truth T.csv --crm URL --html R.html [--json R.json]
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from resolver.interaction import InvalidInteraction, from_json

__all__ = ["main"]


def _valid_lines(path: Path) -> int:
    n = 0
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                from_json(json.loads(line))
            except (InvalidInteraction, ValueError, TypeError, KeyError):
                continue
            n += 1
    return n


def _ready(port: int, token: str) -> dict[str, Any] | None:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/ready", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return dict(json.loads(resp.read()))
    except urllib.error.HTTPError as exc:
        try:
            return dict(json.loads(exc.read()))
        except ValueError:
            return None
    except (OSError, ValueError):
        return None


@click.group()
def main() -> None:
    """Demo helpers."""


@main.command()
@click.option("--events", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--port", type=int, required=True)
@click.option("--token", default="")
@click.option("--timeout", type=float, default=900.0)
def wait(events: Path, port: int, token: str, timeout: float) -> None:
    """Wait until the worker has applied every valid event and published every window."""
    expected = _valid_lines(events)
    deadline = time.monotonic() + timeout
    last = ""
    t0 = time.monotonic()
    while time.monotonic() < deadline:
        body = _ready(port, token)
        if body is not None and body.get("role") == "resolver":
            seen = int(body.get("events_applied", 0)) + int(body.get("duplicates", 0))
            pending = body.get("pending_windows")
            line = (
                f"\r  events applied {seen:>7}/{expected}  customers {body.get('customers') or 0:>6}  "
                f"dead letters {body.get('dead_letters', 0)}  records published {body.get('records_published', 0):>6}  "
                f"pending windows {pending}  ({time.monotonic() - t0:.0f}s)"
            )
            if line != last:
                sys.stderr.write(line)
                sys.stderr.flush()
                last = line
            if seen >= expected and pending == 0:
                sys.stderr.write("\n")
                return
        time.sleep(0.5)
    raise click.ClickException(f"the worker did not finish within {timeout:.0f}s (see the worker log)")


if __name__ == "__main__":
    main()
