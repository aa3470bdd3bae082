"""`irl replay`: run the resolver core offline over JSON Lines events and write its results.

Exactly the core the stream uses (`resolver.replay`); this module only does files, the
progress bar and the summary. Three ways, one result byte for byte:

* ``--workers N`` (N >= 2; the default is the cores this process may run on): N processes
  parse, then N shards of the events, closed under everything the core links, resolve in N
  processes (`streams.replay_shards`, `resolver.shards`);
* ``--workers 1``: a forked child reads, validates and normalises the lines while this
  process resolves them (`streams.replay_stage`);
* ``--sequential`` (or one core): all of it in this process.

The options that are also settings of the worker (``--region``, ``--hub-threshold``,
``--duplicate-horizon-days``) default to the same environment variables, read and checked by
`streams.settings` (`IRL_DEFAULT_REGION`, `IRL_HUB_THRESHOLD`, `IRL_DUPLICATE_HORIZON_DAYS`),
so one data set resolves the same offline and in the worker; a flag given wins over its variable.
``IRL_MAX_STRING`` (no flag) bounds every string as it does for the worker's triage.
"""

from __future__ import annotations

import csv
import gc
import json
import os
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import click

from resolver.config import ResolverConfig
from resolver.engine import Resolver
from resolver.interaction import Limits
from resolver.replay import Reject, ReplayCounts, assignment_rows, ingest_parsed, profile_records, replay
from resolver.shards import Planner
from streams.csvimport import CsvImportError, parse_timezone
from streams.eventjson import read_fields
from streams.gcpolicy import paced_for_state
from streams.inputs import clashing_outputs, wide_encoding
from streams.replay_shards import (
    RUN_ROWS,
    merged_assignments,
    merged_profiles,
    parse_and_plan,
    resolve_sharded,
    spill_run,
)
from streams.replay_stage import StageFailed, lines_of, parsed_in_child
from streams.settings import Settings, SettingsError

__all__ = ["command"]


#: Lines between two `gc.freeze` calls (`streams.replay_shards._FREEZE_EVERY`: fewer container objects
#: made between two than a young collection waits for, so none runs).
_FREEZE_EVERY = 2_000

#: The options that are settings of the worker too: option -> the variable it defaults to.
_FROM_ENV = {
    "region": "IRL_DEFAULT_REGION",
    "hub_threshold": "IRL_HUB_THRESHOLD",
    "duplicate_horizon_days": "IRL_DUPLICATE_HORIZON_DAYS",
}


def _env_settings(missing: Iterable[str], environ: Mapping[str, str] | None = None) -> Settings:
    """`Settings` from the variables of the options not given, and from those only.

    Only those: replay needs no broker or Redis, so a bad ``IRL_REDIS_URL`` must not stop it,
    and a flag given makes its variable irrelevant. Raises `click.ClickException` naming the
    variable when one is bad, as the worker stops on it.
    """
    env = os.environ if environ is None else environ
    # IRL_MAX_STRING has no option: the longest string an event may hold, read as the worker,
    # `irl produce` and `irl import` read it, or replay rejects what they take (or takes what
    # they refuse).
    # IRL_PHONE_REGIONS neither: the regions of some touchpoints' numbers, read as the worker reads them.
    # IRL_JUNK_VALUES neither: the values the worker never links nor reads as a name.
    wanted = {_FROM_ENV[name] for name in missing} | {"IRL_MAX_STRING", "IRL_PHONE_REGIONS", "IRL_JUNK_VALUES"}
    try:
        return Settings.from_env({name: value for name, value in env.items() if name in wanted})
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _lines(paths: tuple[Path, ...], bar: Any | None) -> Iterator[tuple[str, int, str]]:
    for name, number, text in lines_of(paths):
        if bar is not None:
            bar.update(len(text.encode("utf-8", errors="surrogateescape")))
        if number % _FREEZE_EVERY == 0:
            # Resolver state lives until the end: move it out of the collector's
            # generations, or every full collection rescans all of it (~10% of CPU).
            gc.freeze()
        yield name, number, text


def _resolve(
    events: tuple[Path, ...],
    resolver: Resolver,
    on_reject: Callable[[Reject], None],
    bar: Any | None,
    *,
    sequential: bool,
    limits: Limits,
) -> ReplayCounts:
    """`replay` of the files into `resolver`: in this process, or with parsing in a child."""
    if sequential or len(os.sched_getaffinity(0)) < 2:
        return replay(_lines(events, bar), resolver, on_reject=on_reject, limits=limits, read=read_fields)
    seen = 0

    def on_chunk(lines: int, size: int) -> None:
        nonlocal seen
        if bar is not None:
            bar.update(size)
        if (seen + lines) // _FREEZE_EVERY != seen // _FREEZE_EVERY:
            gc.freeze()  # as `_lines` does
        seen += lines

    parsed = parsed_in_child(events, resolver.config, limits=limits, on_chunk=on_chunk, sizes=bar is not None)
    try:
        with closing(parsed):  # the child is ended whatever happens here
            counts = ingest_parsed(parsed, resolver, on_reject=on_reject)
    except StageFailed as exc:
        raise click.ClickException(str(exc)) from None
    counts.blank = seen - counts.lines  # the child drops blank lines; every line was in a chunk
    return counts


def _dump(record: Any) -> str:
    return json.dumps(record, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


@click.command("replay")
@click.argument(
    "events", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
)
@click.option(
    "--assignments",
    "assignments_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV output: event_id,customer_id (sorted by event_id).",
)
@click.option(
    "--profiles",
    "profiles_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON Lines output: one ResolvedCustomer-shaped profile per customer.",
)
@click.option(
    "--rejects",
    "rejects_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON Lines output: invalid input lines with line number and reason.",
)
@click.option(
    "--region",
    default=None,
    show_default="IRL_DEFAULT_REGION, else IN",
    help="Default phone region (ISO 3166 alpha-2).",
)
@click.option(
    "--hub-threshold",
    default=None,
    show_default="IRL_HUB_THRESHOLD, else 5",
    type=click.IntRange(2, 1_000_000),  # the range of IRL_HUB_THRESHOLD
    help="Distinct people above which a phone/email is quarantined.",
)
@click.option(
    "--duplicate-horizon-days",
    default=None,
    show_default="IRL_DUPLICATE_HORIZON_DAYS, else 7",
    type=click.IntRange(1, 3650),  # the range of IRL_DUPLICATE_HORIZON_DAYS
    help="A repeated event id within this many days of event time changes nothing.",
)
@click.option(
    "--sequential",
    is_flag=True,
    help="One process: parse and resolve here (overrides --workers).",
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 256),
    show_default="the cores this process may run on",
    help="Processes: N >= 2 parse in N and resolve N shards of the events (the outputs of one process); "
    "1 parses in a child and resolves here.",
)
@click.option(
    "--timezone",
    "zone_name",
    default=None,
    help="Zone of ISO-8601 times written without one (UTC, +05:30, Asia/Kolkata); without it they are rejected.",
)
@paced_for_state()
def command(
    events: tuple[Path, ...],
    assignments_path: Path,
    profiles_path: Path,
    rejects_path: Path,
    region: str | None,
    hub_threshold: int | None,
    duplicate_horizon_days: int | None,
    sequential: bool,
    workers: int | None,
    zone_name: str | None,
) -> None:
    """Resolve EVENTS (JSON Lines files) offline and write assignments, profiles and rejects.

    --region, --hub-threshold and --duplicate-horizon-days default to IRL_DEFAULT_REGION,
    IRL_HUB_THRESHOLD and IRL_DUPLICATE_HORIZON_DAYS, as the worker reads them; the longest
    string an event may hold is IRL_MAX_STRING, as for the worker.
    """
    named = {"--assignments": assignments_path, "--profiles": profiles_path, "--rejects": rejects_path}
    clash = clashing_outputs(events, named)
    if clash is not None:
        raise click.UsageError(clash)
    given = {"region": region, "hub_threshold": hub_threshold, "duplicate_horizon_days": duplicate_horizon_days}
    settings = _env_settings(name for name, value in given.items() if value is None)
    region = (region if region is not None else settings.default_region).strip().upper()
    hub_threshold = hub_threshold if hub_threshold is not None else settings.hub_threshold
    if duplicate_horizon_days is None:
        duplicate_horizon_days = settings.duplicate_horizon_days
    try:
        config = ResolverConfig(
            default_region=region,
            phone_regions=settings.phone_regions,
            hub_threshold=hub_threshold,
            duplicate_horizon_ms=duplicate_horizon_days * 86_400_000,
            junk_values=settings.junk_values,
        )
        resolver = Resolver(config, track_changes=False)
    except ValueError as exc:
        if given["region"] is None:  # the only value the ranges above do not check
            raise click.ClickException(f"{_FROM_ENV['region']}={region!r}: {exc}") from None
        raise click.BadParameter(str(exc), param_hint="--region") from None
    try:
        # A time more than a day ahead of now is invalid, as the worker and `irl produce` judge it:
        # one clock set to 2099 would otherwise move the watermark and end every id's horizon.
        zone = parse_timezone(zone_name) if zone_name is not None else None
        limits = Limits(max_string=settings.max_string, zone=zone, now_ms=int(time.time() * 1000))
    except CsvImportError as exc:
        raise click.BadParameter(str(exc), param_hint="--timezone") from None
    outputs = _Outputs(assignments_path, profiles_path, rejects_path, limits)
    shards = workers if workers is not None else len(os.sched_getaffinity(0))
    with _readable_twice(events) as events:
        for path in events:
            wide = wide_encoding(path)
            if wide is not None:
                raise click.ClickException(wide)
        done = None if sequential or shards < 2 else _replay_sharded(events, config, shards, outputs)
        if done is None:
            done = _replay_here(events, resolver, outputs, sequential=sequential)
    counts, stats, resolve_seconds = done
    rate = counts.lines / resolve_seconds if resolve_seconds > 0 else 0.0
    click.echo(
        f"events={counts.events} duplicates={counts.duplicates} rejects={counts.rejects} blank={counts.blank} "
        f"suppressed={counts.suppressed} evidence={stats['evidence']} customers={stats['customers']} "
        f"merges={stats['merges']} "
        f"quarantined={stats['quarantined']} shared_phones={stats['shared_phones']} "
        f"seconds={resolve_seconds:.2f} events_per_s={rate:.0f} "
        f"region={region} hub_threshold={hub_threshold} duplicate_horizon_days={duplicate_horizon_days}",
        err=True,
    )


@contextmanager
def _readable_twice(events: tuple[Path, ...]) -> Iterator[tuple[Path, ...]]:
    """``events``, each that is not a regular file (``-``: stdin; a pipe, a FIFO) copied to a temporary file.

    Every way reads its input twice (resolving, then the assignments; or a fallback to one
    process): a pipe would give the second pass nothing, and the assignments would be empty.
    """
    if all(str(path) != "-" and stat.S_ISREG(path.stat().st_mode) for path in events):
        yield events
        return
    with tempfile.TemporaryDirectory(prefix="irl-replay-input-") as tmp:
        copies = []
        for number, path in enumerate(events):
            if str(path) != "-" and stat.S_ISREG(path.stat().st_mode):
                copies.append(path)
                continue
            copy = Path(tmp) / str(number) / ("stdin" if str(path) == "-" else path.name)  # rejects name the source
            copy.parent.mkdir()
            with copy.open("wb") as out:
                if str(path) == "-":
                    shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
                else:
                    with path.open("rb") as source:
                        shutil.copyfileobj(source, out, 1 << 20)
            copies.append(copy)
        yield tuple(copies)


@dataclass(frozen=True)
class _Outputs:
    assignments: Path
    profiles: Path
    rejects: Path
    limits: Limits


def _bar(events: tuple[Path, ...]) -> Any:
    """A progress bar over the files' bytes on a terminal; else a context of None."""
    if sys.stderr.isatty():
        return click.progressbar(length=sum(p.stat().st_size for p in events), label="replay", file=sys.stderr)
    return nullcontext(None)


def _replay_here(
    events: tuple[Path, ...], resolver: Resolver, outputs: _Outputs, *, sequential: bool
) -> tuple[ReplayCounts, dict[str, int], float]:
    """Resolve in this process (parsing in a child unless `sequential`) and write the outputs."""
    started = time.perf_counter()
    with outputs.rejects.open("w", encoding="utf-8", newline="\n") as rejects_out:

        def on_reject(reject: Reject) -> None:
            rejects_out.write(_dump(reject.to_record()) + "\n")

        with _bar(events) as bar:
            counts = _resolve(events, resolver, on_reject, bar, sequential=sequential, limits=outputs.limits)
    resolve_seconds = time.perf_counter() - started
    with outputs.assignments.open("w", encoding="utf-8", newline="") as handle:
        rows = assignment_rows(_lines(events, None), resolver, limits=outputs.limits, read=read_fields)
        _write_assignments(handle, rows)
    with outputs.profiles.open("w", encoding="utf-8", newline="\n") as handle:
        for record in profile_records(resolver):
            handle.write(_dump(record) + "\n")
    return counts, resolver.stats(), resolve_seconds


def _replay_sharded(
    events: tuple[Path, ...], config: ResolverConfig, shards: int, outputs: _Outputs
) -> tuple[ReplayCounts, dict[str, int], float] | None:
    """Resolve in `shards` processes (`streams.replay_shards`) and write the outputs; None: do it in one."""
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="irl-shards-") as tmp:
            out = Path(tmp)
            planner = Planner(config.duplicate_horizon_ms)
            with _bar(events) as bar, outputs.rejects.open("w", encoding="utf-8", newline="\n") as handle:
                parsed, rejects, blank = parse_and_plan(
                    events,
                    config,
                    shards,
                    out,
                    planner,
                    lambda r: handle.write(_dump(r.to_record()) + "\n"),
                    on_chunk=None if bar is None else bar.update,
                    limits=outputs.limits,
                )
            done = resolve_sharded(out, parsed, planner, rejects, config, shards, _dump, blank=blank)
            if done is None:  # a customer id in two shards: only one process mints ids exactly
                click.echo("a customer id was minted in two shards: replaying in one process", err=True)
                return None
            with outputs.assignments.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(["event_id", "customer_id"])
                writer.writerows(merged_assignments(done.runs))
            with outputs.profiles.open("w", encoding="utf-8", newline="\n") as handle:
                handle.writelines(merged_profiles(done.profiles))
    except StageFailed as exc:
        raise click.ClickException(str(exc)) from None
    return done.counts, done.stats, done.resolved_at - started


def _write_assignments(handle: IO[str], rows: Iterable[tuple[str, str]]) -> None:
    """Write (event_id, customer_id) rows sorted by event id, the first row of a repeated id kept.

    Sorted in runs of `RUN_ROWS` rows spilled to temporary files and merged, so memory stays
    flat however many events the input holds.
    """
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(["event_id", "customer_id"])
    with tempfile.TemporaryDirectory(prefix="irl-assign-") as tmp:
        runs: list[Path] = []
        chunk: list[tuple[str, int, str]] = []
        for seq, (eid, cid) in enumerate(rows):
            chunk.append((eid, seq, cid))
            if len(chunk) >= RUN_ROWS:
                runs.append(spill_run(Path(tmp) / f"run{len(runs)}.tsv", chunk))
                chunk = []
        writer.writerows(merged_assignments(runs, chunk))
