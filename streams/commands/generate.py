"""`irl generate`: write a realistic labelled data set (events.jsonl + truth.csv), see `streams.synthetic`.

With ``--crm`` also the CRM export of the same people (crm_contacts.csv, for `irl import` with
``--map`` `streams.synthetic.CRM_MAP`, and crm_truth.csv); the events are the same bytes either way.

With ``--copies N`` the files hold N copies of the same customers' events, copy-major, each
``--copy-gap-days`` later under new event ids (see `streams.copies`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from resolver.interaction import InvalidInteraction, parse_time
from streams.copies import write_copies, write_truth_copies
from streams.synthetic import CRM_MAP, DEFAULT_DAYS, DEFAULT_START_MS, generate_to

__all__ = ["command"]


@click.command("generate")
@click.option("--customers", required=True, type=click.IntRange(0, 10_000_000), help="Number of real people.")
@click.option("--seed", required=True, type=int, help="Random seed: the same seed gives byte-identical files.")
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output directory."
)
@click.option("--start", default=None, help="First day, ISO-8601 with a zone (default 2024-01-01T00:00:00Z).")
@click.option("--days", default=DEFAULT_DAYS, show_default=True, type=click.IntRange(1, 3650), help="Time span.")
@click.option(
    "--copies",
    default=1,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Write the same events this many times, copy k with event ids ID~k (copy 0 keeps its ids).",
)
@click.option(
    "--copy-gap-days",
    "gap_days",
    default=30,
    show_default=True,
    type=click.IntRange(0, 3650),
    help="Copy k happens k times this many days after copy 0.",
)
@click.option(
    "--crm",
    is_flag=True,
    help=f"Also write OUT/crm_contacts.csv, the same people as a CRM holds them (irl import --map '{CRM_MAP}'), "
    "and OUT/crm_truth.csv (event_id,contact_id,true_customer: irl evaluate --truth reads it).",
)
def command(
    customers: int, seed: int, out_dir: Path, start: str | None, days: int, copies: int, gap_days: int, crm: bool
) -> None:
    """Write OUT/events.jsonl (about 5 events per customer) and OUT/truth.csv (event_id,true_customer)."""
    start_ms = DEFAULT_START_MS
    if start is not None:
        try:
            start_ms = parse_time(start)
        except InvalidInteraction as exc:
            raise click.BadParameter(exc.reason, param_hint="--start") from None
    if copies == 1:
        click.echo(generate_to(out_dir, customers, seed, start_ms=start_ms, days=days, crm=crm), err=True)
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".copies-") as tmp:
        one = Path(tmp)
        line = generate_to(one, customers, seed, start_ms=start_ms, days=days, crm=crm)
        for name in ("crm_contacts.csv", "crm_truth.csv") if crm else ():
            (one / name).replace(out_dir / name)  # the CRM holds each contact once, whatever the copies
        events = write_copies(one / "events.jsonl", out_dir / "events.jsonl", copies, gap_days)
        truth = write_truth_copies(one / "truth.csv", out_dir / "truth.csv", copies)
    click.echo(
        f"{line} (one copy); copies={copies} copy_gap_days={gap_days} events={events} truth_rows={truth}", err=True
    )
