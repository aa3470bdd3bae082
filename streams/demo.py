"""Helpers of `make demo`: wait for the worker, then report before and after.

python -m streams.demo wait   --events E.jsonl --port 6066 --token T [--timeout S]
python -m streams.demo report --events E.jsonl --truth T.csv --crm URL --html R.html [--json R.json]
                              [--port 6066 --token T]

With `--port`, the report checks that the CRM holds as many customers as the worker counts
(its rows, and the customers its interactions belong to) and exits 1 when they differ.
"""

from __future__ import annotations

import json
import os
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


@click.group()
def main() -> None:
    """Demo helpers."""


@main.command()
@click.option("--events", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--port", type=int, required=True)
@click.option("--token", default="")
@click.option("--timeout", type=float, default=900.0)
@click.option("--pid", type=int, help="The worker's process id: stop waiting when it dies.")
@click.option("--log", "log_path", type=click.Path(path_type=Path), help="The worker's log, shown when it dies.")
def wait(events: Path, port: int, token: str, timeout: float, pid: int | None, log_path: Path | None) -> None:
    """Wait until the worker has applied every valid event and published every window."""
    expected = _valid_lines(events)
    deadline = time.monotonic() + timeout
    last = ""
    t0 = time.monotonic()
    # The ready view can show no pending window while the step that closed the last one is still
    # sending its records: done means the same counts on two polls in a row.
    previous: tuple[Any, ...] | None = None
    while time.monotonic() < deadline:
        if pid is not None and not _alive(pid):
            tail = ""
            if log_path is not None and log_path.exists():
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
            raise click.ClickException(f"the worker (pid {pid}) exited:\n{tail}")
        body = _ready(port, token)
        if body is not None and body.get("role") == "writer":
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
            counts = (seen, body.get("records_published"), body.get("interactions_published"), body.get("customers"))
            if seen >= expected and pending == 0 and counts == previous:
                sys.stderr.write("\n")
                return
            previous = counts if seen >= expected and pending == 0 else None
        time.sleep(0.5)
    raise click.ClickException(f"the worker did not finish within {timeout:.0f}s (see the worker log)")


def _distribution(groups: dict[str, set[str]]) -> dict[str, int]:
    """How many real customers have 1, 2, 3 and 4+ records."""
    out = {"1": 0, "2": 0, "3": 0, "4+": 0}
    for records in groups.values():
        n = len(records)
        out["4+" if n >= 4 else str(n)] += 1
    return out


def _bars_svg(before: dict[str, int], after: dict[str, int]) -> str:
    """A grouped bar chart (inline SVG, no external assets): real customers by number of CRM records."""
    keys = list(before)
    top = max([*before.values(), *after.values(), 1])
    w, h, pad = 620, 260, 40
    slot = (w - 2 * pad) / len(keys)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
        'aria-label="real customers by number of CRM records">'
    ]
    for i, key in enumerate(keys):
        for j, (series, colour) in enumerate(((before, "#c0504d"), (after, "#4f81bd"))):
            value = series[key]
            bh = (h - 2 * pad) * value / top
            x = pad + i * slot + 8 + j * (slot / 2 - 8)
            y = h - pad - bh
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot / 2 - 12:.1f}" height="{bh:.1f}" fill="{colour}"/>'
            )
            parts.append(
                f'<text x="{x + (slot / 2 - 12) / 2:.1f}" y="{y - 4:.1f}" font-size="11" '
                f'text-anchor="middle">{value}</text>'
            )
        parts.append(
            f'<text x="{pad + i * slot + slot / 2:.1f}" y="{h - pad + 16}" font-size="12" '
            f'text-anchor="middle">{key} record{"" if key == "1" else "s"}</text>'
        )
    parts.append(f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#333"/>')
    parts.append(
        f'<rect x="{w - 200}" y="10" width="12" height="12" fill="#c0504d"/><text x="{w - 182}" y="21" '
        'font-size="12">before (one per touchpoint)</text>'
    )
    parts.append(
        f'<rect x="{w - 200}" y="28" width="12" height="12" fill="#4f81bd"/><text x="{w - 182}" y="39" '
        'font-size="12">after (CRM now)</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def pick_timeline_customer(owners: dict[str, str | None], touchpoint_of: dict[str, str]) -> str | None:
    """A customer whose interactions came through web, WhatsApp and kiosk: the one with the most
    (then the smallest id), so that a run on the same data shows the same customer."""
    seen: dict[str, set[str]] = {}
    count: dict[str, int] = {}
    for eid, cid in owners.items():
        if cid is None or eid not in touchpoint_of:
            continue
        seen.setdefault(cid, set()).add(touchpoint_of[eid])
        count[cid] = count.get(cid, 0) + 1
    every = [cid for cid, tps in seen.items() if {"WEB", "WHATSAPP", "KIOSK"} <= tps]
    return min(every, key=lambda cid: (-count[cid], cid), default=None)


def count_check(worker: int | None, rows: int, placeholders: int, holding: int, unowned: int) -> tuple[bool, str]:
    """Whether the CRM holds the customers the worker counts, and the lines that say so.

    The check: the worker's count equals the CRM's customer rows, none of them a placeholder,
    and every interaction the CRM keeps has its customer. `holding` (customers holding at least
    one interaction) is shown, not checked: a household re-resolution can move a customer's
    only events after they were published, and the interactions topic does not say so
    (docs/crm-connector.md, "What the changelog cannot tell").
    """
    line = (
        f"customers: worker {worker if worker is not None else '?'}, CRM {rows - placeholders}"
        f" ({placeholders} placeholders); CRM customers holding interactions {holding},"
        f" interactions without a customer {unowned}"
    )
    ok = worker is not None and worker == rows and placeholders == 0 and unowned == 0
    return ok, line


@main.command()
@click.option("--events", "events_path", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--truth", "truth_path", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--crm", "crm_url", required=True)
@click.option("--html", "html_path", type=click.Path(path_type=Path), required=True)
@click.option("--json", "json_path", type=click.Path(path_type=Path))
@click.option("--port", type=int, help="The worker's web port: check its customer count against the CRM's.")
@click.option("--token", default="")
def report(
    events_path: Path,
    truth_path: Path,
    crm_url: str,
    html_path: Path,
    json_path: Path | None,
    port: int | None,
    token: str,
) -> None:
    """Print the before/after report and write it as HTML (with a plot) and JSON."""
    import html as _html

    from streams.commands.crm_sync import render_timeline
    from streams.commands.evaluate import crm_source, read_events, read_truth, render, run
    from streams.crm import crm_customers, crm_timeline, event_assignments_from_crm

    truth = read_truth(truth_path)
    facts = read_events(events_path)
    source, confidence = crm_source(crm_url, facts)
    result = run(truth, source, confidence=confidence, facts=facts)
    text = render(result)
    click.echo(text)

    before_groups: dict[str, set[str]] = {}
    after_groups: dict[str, set[str]] = {}
    assignments = source()
    for eid, touchpoint, source_id in facts.touchpoints:
        who = truth.get(eid)
        if who is None:
            continue
        before_groups.setdefault(who, set()).add(f"{touchpoint.upper()}:{source_id}")
        after_groups.setdefault(who, set()).add(assignments.get(eid, f"missing:{eid}"))
    before, after = _distribution(before_groups), _distribution(after_groups)
    per_before = sum(len(g) for g in before_groups.values()) / max(1, len(before_groups))
    per_after = sum(len(g) for g in after_groups.values()) / max(1, len(after_groups))
    bins = [0] * 10
    for value in confidence.values():
        bins[min(9, int(value * 10))] += 1
    summary = (
        f"CRM records per real customer: before {per_before:.2f}, after {per_after:.2f}; "
        f"real customers with exactly one record: before {before['1']} of {len(before_groups)}, "
        f"after {after['1']} of {len(after_groups)}"
    )
    click.echo("")
    click.echo(summary)
    click.echo("confidence distribution (0.0-0.1 ... 0.9-1.0): " + " ".join(str(b) for b in bins))

    owners = event_assignments_from_crm(crm_url)
    touchpoint_of = {eid: tp.strip().upper() for eid, tp, _ in facts.touchpoints}
    chosen = pick_timeline_customer(owners, touchpoint_of)
    timeline_lines = ["no customer with web, WhatsApp and kiosk interactions in the CRM"]
    if chosen is not None:
        timeline_lines = render_timeline(crm_timeline(crm_url, chosen), limit=15)
    click.echo("")
    click.echo("one customer's timeline across touchpoints, from the CRM (irl crm-sync --timeline ID):")
    click.echo("\n".join(timeline_lines))

    rows = crm_customers(crm_url)
    worker = None
    if port is not None:
        body = _ready(port, token)
        worker = None if body is None else body.get("customers")
    ok, count_line = count_check(
        worker,
        len(rows),
        sum(1 for r in rows.values() if r["version"] == 0),
        len({cid for cid in owners.values() if cid is not None}),
        sum(1 for cid in owners.values() if cid is None),
    )
    click.echo("")
    click.echo(count_line)
    figures = {
        "records_per_customer_before": per_before,
        "records_per_customer_after": per_after,
        "distribution_before": before,
        "distribution_after": after,
        "confidence_histogram": bins,
        "evaluation": result.to_dict(),
        "timeline_customer": chosen,
        "customer_counts": count_line,
    }
    if json_path is not None:
        json_path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>IRL demo report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}pre{{background:#f4f4f4;padding:1em}}</style></head>
<body><h1>IRL: the CRM before and after identity resolution</h1>
<p>{_html.escape(summary)}</p>{_bars_svg(before, after)}
<h2>Figures</h2><pre>{_html.escape(text)}</pre>
<h2>Confidence distribution</h2><pre>{_html.escape(" ".join(str(b) for b in bins))}</pre>
<h2>One customer's timeline across touchpoints (from the CRM)</h2>
<pre>{_html.escape(chr(10).join(timeline_lines))}</pre>
<p>{_html.escape(count_line)}</p>
</body></html>"""
    html_path.write_text(page, encoding="utf-8")
    if port is not None and not ok:
        raise click.ClickException(f"the worker and the CRM do not count the same customers: {count_line}")


if __name__ == "__main__":
    main()
