"""Helpers of `make demo`: wait for the worker, then report before and after.

python -m streams.demo wait   --events E.jsonl --port 6066 --token T [--timeout S]
python -m streams.demo report --events E.jsonl --truth T.csv --crm URL --html R.html [--json R.json]
                              [--port 6066 --token T]

With `--port`, the report checks that the CRM holds as many customers as the worker counts
(its rows, and the customers its interactions belong to) and exits 1 when they differ.
"""

from __future__ import annotations

import html
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from streams.commands.produce import would_send
from streams.settings import Settings, SettingsError

__all__ = ["main"]


def expected_events(path: Path, settings: Settings) -> int:
    """The events of `path` that ``irl produce`` sends: what `make demo` waits for the worker to apply.

    `streams.commands.produce.would_send`, the producer's own checks (a time more than a day
    ahead, an id reused with other content, ...), so the waiter expects no line it refused.
    """
    return would_send([path], settings).total_sent


def _ready(port: int, token: str, path: str = "/ready") -> dict[str, Any] | None:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"})
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


def settled(body: Mapping[str, Any], effects_lag: Mapping[str, int] | None, expected: int) -> tuple[Any, ...] | None:
    """The counts that must hold still over two polls for the run to be done; None while it is not.

    Every valid event applied and no window pending; with the per-customer stage over Kafka
    (`IRL_CUSTOMER_STAGE=kafka`: the ordered stage sends effects, the stage publishes the
    records), every effects partition known and applied to its end (``effects_lag``, from
    `/stats`), else the CRM could be counted before the last records reach it.
    """
    seen = int(body.get("events_applied", 0)) + int(body.get("duplicates", 0))
    if seen < expected or body.get("pending_windows") != 0:
        return None
    if int(body.get("effects_published") or 0) > 0 and (not effects_lag or any(effects_lag.values())):
        return None
    published = int(body.get("records_published") or 0) + int(body.get("customer_records_published") or 0)
    return (seen, published, body.get("interactions_published"), body.get("customers"), body.get("effects_applied"))


def _effects_lag(port: int, token: str) -> dict[str, int] | None:
    stats = _ready(port, token, "/stats") or {}
    return {k: int(v) for k, v in (stats.get("consumer_lag") or {}).items() if "-effects/" in k and v is not None}


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
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    expected = expected_events(events, settings)
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
            published = int(body.get("records_published") or 0) + int(body.get("customer_records_published") or 0)
            line = (
                f"\r  events applied {seen:>7}/{expected}  customers {body.get('customers') or 0:>6}  "
                f"dead letters {body.get('dead_letters', 0)}  records published {published:>6}  "
                f"pending windows {body.get('pending_windows')}  ({time.monotonic() - t0:.0f}s)"
            )
            if line != last:
                sys.stderr.write(line)
                sys.stderr.flush()
                last = line
            lag = _effects_lag(port, token) if int(body.get("effects_published") or 0) > 0 else None
            counts = settled(body, lag, expected)
            if counts is not None and counts == previous:
                sys.stderr.write("\n")
                return
            previous = counts
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
    from streams.commands.evaluate import crm_source, read_events, read_truth, render, run
    from streams.crm import event_assignments_from_crm

    truth = read_truth(truth_path)
    facts = read_events(events_path)
    source, confidence = crm_source(crm_url, facts)
    result = run(truth, source, confidence=confidence, facts=facts)
    text = render(result)
    click.echo(text)

    records = _RecordFigures.of(truth, facts.touchpoints, source())
    bins = _confidence_histogram(confidence)
    click.echo("")
    click.echo(records.summary())
    click.echo("confidence distribution (0.0-0.1 ... 0.9-1.0): " + " ".join(str(b) for b in bins))

    owners = event_assignments_from_crm(crm_url)
    chosen, timeline_lines = _timeline(crm_url, owners, facts.touchpoints)
    click.echo("")
    click.echo("one customer's timeline across touchpoints, from the CRM (irl crm-sync --timeline ID):")
    click.echo("\n".join(timeline_lines))

    ok, count_line = _customer_counts(crm_url, owners, port, token)
    click.echo("")
    click.echo(count_line)
    figures = {
        "records_per_customer_before": records.per_customer_before,
        "records_per_customer_after": records.per_customer_after,
        "distribution_before": records.before,
        "distribution_after": records.after,
        "confidence_histogram": bins,
        "evaluation": result.to_dict(),
        "timeline_customer": chosen,
        "customer_counts": count_line,
    }
    if json_path is not None:
        json_path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    html_path.write_text(_report_html(records, text, bins, timeline_lines, count_line), encoding="utf-8")
    if port is not None and not ok:
        raise click.ClickException(f"the worker and the CRM do not count the same customers: {count_line}")


@dataclass(frozen=True, slots=True)
class _RecordFigures:
    """Real customers by number of CRM records, before resolution (one record per touchpoint
    record) and after (the CRM's customers now), and the mean records per real customer."""

    before: dict[str, int]
    after: dict[str, int]
    per_customer_before: float
    per_customer_after: float
    customers: int

    @classmethod
    def of(
        cls, truth: Mapping[str, str], touchpoints: Iterable[tuple[str, str, str]], assignments: Mapping[str, str]
    ) -> _RecordFigures:
        """The figures of the events the truth knows: `assignments` maps an event id to its CRM
        customer (an event without one counts as a record of its own, ``missing:<id>``)."""
        before_groups: dict[str, set[str]] = {}
        after_groups: dict[str, set[str]] = {}
        for eid, touchpoint, source_id in touchpoints:
            who = truth.get(eid)
            if who is None:
                continue
            before_groups.setdefault(who, set()).add(f"{touchpoint.upper()}:{source_id}")
            after_groups.setdefault(who, set()).add(assignments.get(eid, f"missing:{eid}"))
        return cls(
            before=_distribution(before_groups),
            after=_distribution(after_groups),
            per_customer_before=_records_per_customer(before_groups),
            per_customer_after=_records_per_customer(after_groups),
            customers=len(before_groups),  # the same real customers in both groupings
        )

    def summary(self) -> str:
        """One line: records per real customer, and real customers with exactly one record."""
        return (
            f"CRM records per real customer: before {self.per_customer_before:.2f}, "
            f"after {self.per_customer_after:.2f}; "
            f"real customers with exactly one record: before {self.before['1']} of {self.customers}, "
            f"after {self.after['1']} of {self.customers}"
        )


def _records_per_customer(groups: Mapping[str, set[str]]) -> float:
    """The mean number of records per real customer (0.0 when there is none)."""
    return sum(len(g) for g in groups.values()) / max(1, len(groups))


def _confidence_histogram(confidence: Mapping[str, float]) -> list[int]:
    """Customers per confidence tenth: bin i counts [i/10, (i+1)/10); the last one also 1.0 and above."""
    bins = [0] * 10
    for value in confidence.values():
        bins[min(9, int(value * 10))] += 1
    return bins


def _timeline(
    crm_url: str, owners: dict[str, str | None], touchpoints: Iterable[tuple[str, str, str]]
) -> tuple[str | None, list[str]]:
    """The customer whose timeline is shown (`pick_timeline_customer`) and its first 15 lines from
    the CRM; no customer and a line saying so when none came through web, WhatsApp and kiosk."""
    from streams.commands.crm_sync import render_timeline
    from streams.crm import crm_timeline

    touchpoint_of = {eid: tp.strip().upper() for eid, tp, _ in touchpoints}
    chosen = pick_timeline_customer(owners, touchpoint_of)
    if chosen is None:
        return None, ["no customer with web, WhatsApp and kiosk interactions in the CRM"]
    return chosen, render_timeline(crm_timeline(crm_url, chosen), limit=15)


def _customer_counts(crm_url: str, owners: Mapping[str, str | None], port: int | None, token: str) -> tuple[bool, str]:
    """`count_check` of the CRM's customer rows and interaction owners against the worker's
    customer count (asked on `port`'s /ready; unknown without a port or an answer)."""
    from streams.crm import crm_customers

    rows = crm_customers(crm_url)
    worker = None
    if port is not None:
        body = _ready(port, token)
        worker = None if body is None else body.get("customers")
    return count_check(
        worker,
        len(rows),
        sum(1 for r in rows.values() if r["version"] == 0),
        len({cid for cid in owners.values() if cid is not None}),
        sum(1 for cid in owners.values() if cid is None),
    )


def _report_html(
    records: _RecordFigures, text: str, bins: list[int], timeline_lines: list[str], count_line: str
) -> str:
    """The report as one self-contained HTML page: the summary, the bar chart, the figures, the
    confidence histogram, the timeline and the customer counts, every text escaped."""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>IRL demo report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}pre{{background:#f4f4f4;padding:1em}}</style></head>
<body><h1>IRL: the CRM before and after identity resolution</h1>
<p>{html.escape(records.summary())}</p>{_bars_svg(records.before, records.after)}
<h2>Figures</h2><pre>{html.escape(text)}</pre>
<h2>Confidence distribution</h2><pre>{html.escape(" ".join(str(b) for b in bins))}</pre>
<h2>One customer's timeline across touchpoints (from the CRM)</h2>
<pre>{html.escape(chr(10).join(timeline_lines))}</pre>
<p>{html.escape(count_line)}</p>
</body></html>"""


if __name__ == "__main__":
    main()
