"""`irl evaluate`: the quality of a resolution against ground truth, as a table and optionally JSON.

The figures are computed by `resolver.evaluation` (pure). This module reads files and prints.
Where the assignments come from is pluggable: an `AssignmentSource` is any callable returning
event_id -> customer id (`csv_assignments` here; a CRM store reader can be another).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from resolver.evaluation import (
    Before,
    Evaluation,
    Identifiable,
    assignments_via_touchpoints,
    before_crm,
    carries_identifier,
    evaluate,
)

__all__ = [
    "AssignmentSource",
    "EventFacts",
    "Report",
    "command",
    "csv_assignments",
    "read_events",
    "read_profiles",
    "read_truth",
    "render",
    "run",
]

AssignmentSource = Callable[[], Mapping[str, str]]


def read_truth(path: Path, *more: Path) -> dict[str, str]:
    """event_id -> true customer from CSVs with the header ``event_id,true_customer`` (other columns ignored)."""
    out: dict[str, str] = {}
    for each in (path, *more):
        out.update(_read_pairs(each, "true_customer"))
    return out


def csv_assignments(path: Path) -> AssignmentSource:
    """A source reading ``event_id,customer_id`` CSV (the output of `irl replay`)."""
    return lambda: _read_pairs(path, "customer_id")


def _read_pairs(path: Path, column: str) -> dict[str, str]:
    with path.open("r", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "event_id" not in reader.fieldnames or column not in reader.fieldnames:
            raise click.BadParameter(f"{path.name}: expected a header with event_id,{column}")
        return {row["event_id"]: row[column] for row in reader if row["event_id"]}


def read_profiles(path: Path) -> dict[str, float]:
    """customer_id -> confidence from profile JSON Lines (other fields ignored; lines without them skipped)."""
    out: dict[str, float] = {}
    with path.open("r", encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            cid, score = record.get("customer_id"), record.get("confidence")
            if isinstance(cid, str) and isinstance(score, int | float) and not isinstance(score, bool):
                out[cid] = float(score)
    return out


@dataclass(slots=True)
class EventFacts:
    """What evaluation needs from the events file: touchpoint identities, the identified events
    (carrying a personal identifier) and the identifiable ones among them (sharing an identifier
    value with another event: `resolver.evaluation.identifiable_events`)."""

    touchpoints: list[tuple[str, str, str]] = field(default_factory=list)
    identified: set[str] = field(default_factory=set)
    unreadable: int = 0
    identifiable: set[str] = field(default_factory=set)


def read_events(path: Path, *more: Path) -> EventFacts:
    """Read events JSON Lines files; a line that is not a JSON object with string ids is counted, not fatal."""
    facts = EventFacts()
    seen: set[str] = set()
    identifiable = Identifiable()
    for line in (line for each in (path, *more) for line in _lines(each)):
        try:
            record = json.loads(line)
        except ValueError:
            facts.unreadable += 1
            continue
        if not isinstance(record, dict):
            facts.unreadable += 1
            continue
        eid, tp, sid = record.get("event_id"), record.get("touchpoint"), record.get("source_id")
        if not (isinstance(eid, str) and isinstance(tp, str) and isinstance(sid, str)):
            facts.unreadable += 1
            continue
        if eid in seen:  # a duplicate send adds nothing
            continue
        seen.add(eid)
        facts.touchpoints.append((eid, tp, sid))
        if carries_identifier(record):
            facts.identified.add(eid)
        identifiable.add(record)
    facts.identifiable = identifiable.ids()
    return facts


def _lines(path: Path) -> Iterator[str]:
    # As `irl replay` reads its input (`streams.replay_stage`): a byte-order mark is no part of line 1.
    with path.open("r", encoding="utf-8-sig", errors="replace") as handle:
        for line in handle:
            if line.strip():
                yield line


@dataclass(frozen=True, slots=True)
class Report:
    """All figures of one `irl evaluate` run."""

    all_events: Evaluation
    identified: Evaluation | None
    before: Before | None
    identifiable: Evaluation | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "all": self.all_events.to_dict(),
            "identified": self.identified.to_dict() if self.identified else None,
            "identifiable": self.identifiable.to_dict() if self.identifiable else None,
            "before": self.before.to_dict() if self.before else None,
        }


def run(
    truth: Mapping[str, str],
    source: AssignmentSource,
    *,
    confidence: Mapping[str, float] | None = None,
    facts: EventFacts | None = None,
    threshold: float = 0.5,
) -> Report:
    """Evaluate one assignment source: over all events, and over identified and identifiable events
    when `facts` is given."""
    assignments = source()
    # With the events given, "all events" are theirs: a truth file wider than them (the truth of a whole data
    # set beside a part of its events) would count every other row as an unassigned singleton.
    events = {eid for eid, _, _ in facts.touchpoints} if facts is not None else None
    every = evaluate(truth, assignments, confidence=confidence, only=events, threshold=threshold)
    identified = identifiable = before = None
    if facts is not None:
        identified = evaluate(truth, assignments, confidence=confidence, only=facts.identified, threshold=threshold)
        identifiable = evaluate(truth, assignments, confidence=confidence, only=facts.identifiable, threshold=threshold)
        before = before_crm(facts.touchpoints, truth)
    return Report(every, identified, before, identifiable)


def crm_source(url: str, facts: EventFacts) -> tuple[AssignmentSource, dict[str, float]]:
    """Assignments of events to CRM customers, and confidences.

    An event the CRM keeps as an interaction (`irl crm-sync` with the interactions topic) is
    assigned to the customer holding it (`streams.crm.owners`); any other to the customer
    holding its touchpoint record. The interaction says more: a touchpoint record shared by
    several customers (a household's WhatsApp number) is held by one of them in
    `touchpoint_records`, so by touchpoint record alone every event of it goes to that one.
    An interaction the CRM keeps without an owner (`owner` is None: an id the changelog never
    named, on a record several customers list, such as a store kiosk's terminal id) is
    unassigned, as the CRM holds it: before s38 it went to the record's holder, which made
    every walk-in's check-in on a shared terminal one customer's (audit s38, B1).
    """
    from streams.crm import assignments_from_crm, crm_customers, event_assignments_from_crm

    records = assignments_from_crm(url)
    customers = crm_customers(url)
    confidence = {cid: float(row.get("confidence") or 0.0) for cid, row in customers.items()}
    assignments = dict(assignments_via_touchpoints(facts.touchpoints, records))
    events = {eid for eid, _, _ in facts.touchpoints}
    owners = event_assignments_from_crm(url)
    for eid, cid in owners.items():
        if eid in events:
            if cid is None:
                assignments.pop(eid, None)
            else:
                assignments[eid] = cid
    return (lambda: assignments), confidence


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def render(report: Report) -> str:
    """The report as a fixed-width table a sales or ops lead can read."""
    columns = [("all events", report.all_events)]
    if report.identified is not None:
        columns.append(("identified events", report.identified))
    if report.identifiable is not None:
        columns.append(("identifiable events", report.identifiable))
    rows: list[tuple[str, list[str]]] = [
        ("events", [str(e.events) for _, e in columns]),
        ("real customers", [str(e.true_customers) for _, e in columns]),
        ("resolved customers", [str(e.resolved_customers) for _, e in columns]),
        ("single-identity rate (north star)", [_pct(e.single_identity_rate) for _, e in columns]),
        ("pairwise precision", [_pct(e.precision) for _, e in columns]),
        ("pairwise recall", [_pct(e.recall) for _, e in columns]),
        ("pairwise F1", [_pct(e.f1) for _, e in columns]),
        ("purity (customers)", [_pct(e.purity) for _, e in columns]),
        ("purity (events)", [_pct(e.event_purity) for _, e in columns]),
        ("unassigned events", [str(e.unassigned) for _, e in columns]),
        ("confidence AUC (pure vs mixed)", [_pct(e.confidence_auc) for _, e in columns]),
        (
            f"customers below confidence {report.all_events.threshold:g}",
            [f"{e.below_threshold} of {e.scored_customers}" if e.scored_customers else "-" for _, e in columns],
        ),
    ]
    width = max(len(label) for label, _ in rows) + 2
    col = max(20, *(len(name) + 2 for name, _ in columns))
    lines = ["".ljust(width) + "".join(name.rjust(col) for name, _ in columns)]
    lines += [label.ljust(width) + "".join(v.rjust(col) for v in values) for label, values in rows]
    if report.before is not None:
        b = report.before
        lines += [
            "",
            "before (every touchpoint identity its own CRM record):",
            f"  records per real customer {b.records_per_customer:.2f}, "
            f"real customers with exactly one record {_pct(b.single_record_rate)}",
        ]
    lines += ["", "largest resolved customers (events / real customers in them):"]
    lines += [f"  {c.customer_id}  {c.events} / {c.true_customers}" for c in report.all_events.largest]
    return "\n".join(lines)


@click.command("evaluate")
@click.option(
    "--truth",
    "truth_paths",
    required=True,
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="event_id,true_customer CSV; again for more (irl generate --crm's crm_truth.csv).",
)
@click.option(
    "--assignments",
    "assignments_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="event_id,customer_id CSV (from irl replay).",
)
@click.option(
    "--crm", "crm_url", help="Score what a CRM store holds (sqlite:///..., postgresql://...); needs --events."
)
@click.option(
    "--profiles",
    "profiles_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Profiles JSON Lines (from irl replay): adds the confidence figures (AUC, low-confidence share).",
)
@click.option(
    "--events",
    "events_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Events JSON Lines (again for more): adds figures for identified and identifiable events and 'before'.",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the figures here.")
@click.option("--threshold", default=0.5, show_default=True, type=click.FloatRange(0, 1), help="Low confidence.")
def command(
    truth_paths: tuple[Path, ...],
    assignments_path: Path | None,
    crm_url: str | None,
    profiles_path: Path | None,
    events_paths: tuple[Path, ...],
    json_path: Path | None,
    threshold: float,
) -> None:
    """Compare resolved customers (--assignments or --crm) with TRUTH (event_id,true_customer) and report."""
    if (assignments_path is None) == (crm_url is None):
        raise click.UsageError("give exactly one of --assignments and --crm")
    truth = read_truth(*truth_paths)
    confidence = read_profiles(profiles_path) if profiles_path else None
    facts = read_events(*events_paths) if events_paths else None
    source: AssignmentSource
    if crm_url is not None:
        if facts is None:
            raise click.UsageError("--crm needs --events: events are matched to CRM records by touchpoint record")
        source, crm_confidence = crm_source(crm_url, facts)
        confidence = confidence if confidence is not None else crm_confidence
    else:
        assert assignments_path is not None
        source = csv_assignments(assignments_path)
    report = run(truth, source, confidence=confidence, facts=facts, threshold=threshold)
    click.echo(render(report))
    if facts is not None:
        given = {eid for eid, _, _ in facts.touchpoints}
        if outside := sum(1 for eid in truth if eid not in given):
            click.echo(f"{outside} truth rows name events that are not in --events: left out", err=True)
    if facts is not None and facts.unreadable:
        click.echo(f"{facts.unreadable} unreadable event lines skipped", err=True)
    if json_path is not None:
        json_path.write_text(json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    sys.stdout.flush()
