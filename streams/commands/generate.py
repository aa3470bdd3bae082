"""`irl generate`: write a realistic labelled data set (events.jsonl + truth.csv), see `streams.synthetic`."""

from __future__ import annotations

from pathlib import Path

import click

from resolver.interaction import InvalidInteraction, parse_time
from streams.synthetic import DEFAULT_DAYS, DEFAULT_START_MS, generate_to

__all__ = ["command"]


@click.command("generate")
@click.option("--customers", required=True, type=click.IntRange(0, 10_000_000), help="Number of real people.")
@click.option("--seed", required=True, type=int, help="Random seed: the same seed gives byte-identical files.")
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output directory."
)
@click.option("--start", default=None, help="First day, ISO-8601 with a zone (default 2024-01-01T00:00:00Z).")
@click.option("--days", default=DEFAULT_DAYS, show_default=True, type=click.IntRange(1, 3650), help="Time span.")
def command(customers: int, seed: int, out_dir: Path, start: str | None, days: int) -> None:
    """Write OUT/events.jsonl (about 5 events per customer) and OUT/truth.csv (event_id,true_customer)."""
    start_ms = DEFAULT_START_MS
    if start is not None:
        try:
            start_ms = parse_time(start)
        except InvalidInteraction as exc:
            raise click.BadParameter(exc.reason, param_hint="--start") from None
    click.echo(generate_to(out_dir, customers, seed, start_ms=start_ms, days=days), err=True)
