"""`irl replay` on every core: parse in N processes, cut the events into shards, resolve each in its own.

1. **Parse.** Each file is cut at line ends into about N pieces of equal bytes; N forked
   workers read, validate and normalise them (`resolver.replay.parse`, with a parser of the
   same configuration) and write, per piece, the valid events' values (``items<p>``) and what
   planning needs (``plan<p>``: each event's id, time and `resolver.shards.link_keys`, and
   the rejects), in marshal'd chunks on disk. A piece is decoded as the whole file is (a cut
   follows a ``\n``, where a UTF-8 decoder and universal newlines hold no state; only a
   file's first piece drops a byte-order mark); a
   reject's line number is made whole by adding the lines of the file's earlier pieces.
2. **Plan** (this process, reading the plan files in log order, each piece as soon as it
   and those before it are parsed, so mostly while later ones are): `resolver.shards.Planner`
   closes the events under shared identifier keys, repeated event ids and near phones, packs
   them into N shards and keeps the log's watermark before each event; rejects are written.
3. **Resolve.** One forked child per shard reads the items files in order and resolves its
   own events (`resolver.replay.ingest_timed`); then, in a second pass, writes its
   assignment rows (event id, event number, customer id) in sorted runs, and its profiles
   (sorted by customer id).
4. **Merge** (this process): no customer id may be held by two shards
   (`resolver.shards.ids_disjoint`; else `resolve_sharded` answers None and the caller
   replays in one process); rows (the first of a repeated id kept, by event number) and
   profiles are merged by key, so the outputs are those of one process byte for byte.

Memory grows with identifiers and the duplicate horizon, not with events: the events wait
on disk, and this process keeps 13 bytes per event (`Planner`). A failure in any child is
raised here as `streams.replay_stage.StageFailed` with its traceback.
"""

from __future__ import annotations

import gc
import heapq
import io
import marshal
import multiprocessing
import time
import traceback
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkProcess
from pathlib import Path
from typing import Any, BinaryIO

from resolver import jsontext
from resolver.config import ResolverConfig
from resolver.engine import Resolver
from resolver.identifiers import IdentifierParser
from resolver.interaction import Limits
from resolver.replay import (
    REUSED_ID,
    Loads,
    Reject,
    ReplayCounts,
    ingest_timed,
    parse,
    profile_records,
)
from resolver.shards import NO_MARK, Planner, ids_disjoint, link_keys
from streams.eventjson import read_fields
from streams.replay_stage import CHUNK, ENCODING, ENCODING_MID, ERRORS, StageFailed, widen

__all__ = [
    "PIECES_PER_WORKER", "RUN_ROWS", "Sharded", "merged_assignments", "merged_profiles", "parse_and_plan", "pieces",
    "records", "resolve_sharded", "spill_run",
]  # fmt: skip

#: A file smaller than this is one piece: cutting it saves less than a worker costs.
SMALL = 1 << 20
#: Pieces per worker of a file: more pieces end sooner, so planning keeps closer to parsing.
#: The workers end their last pieces together, and only then can this process plan them: about
#: 2 / (2 * PIECES_PER_WORKER) of the plan pass runs after parsing, alone (16: 0.5 s at 1M
#: events on the shared machine, against 1.9 s with 4; `bench.shard_phases`' ``plan_tail_cpu_s``).
PIECES_PER_WORKER = 16
#: Events a shard resolves (or outputs it writes) between two `gc.freeze` calls: its state lives
#: until the end. A freeze empties the young generation, so with fewer container objects made
#: between two than `streams.gcpolicy.YOUNG` (about 5 per event resolved) no collection runs at
#: all: with 10,000 a shard ran 5 young collections at 101k events, each finding nothing, 0.14-0.15 s
#: of its 3.2 s of CPU.
_FREEZE_EVERY = 2_000

#: One piece of a file: (file index, first byte, end byte; -1: a pipe's end).
Piece = tuple[int, int, int]


def pieces(paths: tuple[Path, ...], parts: int) -> list[Piece]:
    """Each file cut into at most `parts` pieces of about equal bytes, each cut just after a ``\\n``."""
    out: list[Piece] = []
    for index, path in enumerate(paths):
        if not path.is_file():  # a pipe (`<(zcat events.gz)`): one piece, read to its end
            out.append((index, 0, -1))
            continue
        size = path.stat().st_size
        cuts = [0]
        if size >= SMALL and parts > 1:
            with path.open("rb") as handle:
                for k in range(1, parts):
                    target = max(cuts[-1] + 1, size * k // parts)
                    handle.seek(target - 1)
                    at = target - 1 + len(handle.readline())  # just after the first "\n" from target - 1
                    if cuts[-1] < at < size:
                        cuts.append(at)
        cuts.append(size)
        out.extend((index, start, end) for start, end in pairwise(cuts))
    return out


class _Slice(io.RawIOBase):
    """The bytes of an open file from where it stands, `size` of them at most: one piece, read as a stream."""

    def __init__(self, raw: io.RawIOBase, size: int) -> None:
        super().__init__()
        self._raw = raw
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left <= 0:
            return 0
        with memoryview(buffer) as view:
            got = self._raw.readinto(view[: self._left]) or 0
        self._left -= got
        return got


def _piece_lines(path: Path, start: int, end: int) -> Iterator[tuple[str, int, str]]:
    """(file name, line number within the piece from 1, text) as `streams.replay_stage.lines_of` reads them."""
    name = path.name
    with path.open("rb", buffering=0) as raw:
        if end >= 0:
            raw.seek(start)
        source: io.RawIOBase = raw if end < 0 else _Slice(raw, end - start)  # a pipe whole (`pieces`)
        piece = io.BufferedReader(source, 1 << 16)
        encoding = ENCODING if start == 0 else ENCODING_MID  # a byte-order mark only at the file's start
        with io.TextIOWrapper(piece, encoding=encoding, errors=ERRORS) as text:
            yield from ((name, number, line) for number, line in enumerate(text, start=1))


@dataclass
class _Children:
    """Forked children and the pipes they answer on; `close` ends them whatever happened."""

    procs: list[ForkProcess] = field(default_factory=list)
    conns: list[Connection] = field(default_factory=list)

    def start(self, target: Callable[..., None], *args: Any) -> None:
        ctx = multiprocessing.get_context("fork")
        receiver, sender = ctx.Pipe(duplex=False)
        widen(sender)
        proc = ctx.Process(target=_guarded, args=(target, sender, *args), daemon=True)
        proc.start()
        sender.close()
        self.procs.append(proc)
        self.conns.append(receiver)

    def messages(self) -> Iterator[tuple[Any, ...]]:
        """Every message of every child, as each arrives, until each has said ``done``."""
        live = list(self.conns)
        while live:
            for conn in wait(live):
                assert isinstance(conn, Connection)
                try:
                    message = marshal.loads(conn.recv_bytes())
                except EOFError:
                    codes = [p.exitcode for p in self.procs]
                    raise StageFailed(f"a replay child exited before the end (exit codes {codes})") from None
                if message[0] == "error":
                    raise StageFailed(f"a replay child failed:\n{message[1]}")
                if message[0] == "done":
                    live.remove(conn)
                yield message

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        for proc in self.procs:
            if proc.is_alive():
                proc.kill()
            proc.join()


def _guarded(target: Callable[..., None], sender: Connection, *args: Any) -> None:
    try:
        target(sender, *args)
    except BaseException:
        sender.send_bytes(marshal.dumps(("error", traceback.format_exc())))
        raise
    finally:
        sender.close()


def _parse_worker(
    sender: Connection,
    paths: tuple[Path, ...],
    mine: list[tuple[int, Piece]],
    config: ResolverConfig,
    out: Path,
    limits: Limits,
    loads: Loads,
    sizes: bool,
) -> None:
    parser = IdentifierParser(config)
    for number, (index, start, end) in mine:
        batch: list[tuple[str, int, str]] = []
        lines = 0
        with (out / f"items{number}").open("wb") as items, (out / f"plan{number}").open("wb") as plan:
            for line in _piece_lines(paths[index], start, end):
                batch.append(line)
                lines = line[1]
                if len(batch) >= CHUNK:
                    sender.send_bytes(_chunk(batch, parser, limits, loads, sizes, items, plan))
                    batch = []
                    # What outlives a chunk is the parser's caches: out of the collector's way
                    # (`_FREEZE_EVERY`), so that no collection scans them again and again.
                    gc.freeze()
            sender.send_bytes(_chunk(batch, parser, limits, loads, sizes, items, plan))
        sender.send_bytes(marshal.dumps(("end", number, lines)))
    sender.send_bytes(marshal.dumps(("done",)))


def _chunk(
    batch: list[tuple[str, int, str]],
    parser: IdentifierParser,
    limits: Limits,
    loads: Loads,
    sizes: bool,
    items: BinaryIO,
    plan: BinaryIO,
) -> bytes:
    """Parse `batch`, write its values to `items` and `plan`; the progress message for the parent."""
    valid: list[Any] = []
    planned: list[tuple[str, int, tuple[str, ...], str, str, int]] = []
    rejects: list[Any] = []
    lines = iter([(source, number) for source, number, text in batch if text[:1] == "{" or text.strip()])
    for item in parse(batch, parser, limits=limits, loads=loads, read=read_fields):  # one item per line not blank
        source, number = next(lines)
        if len(item) == 2:
            fields, found = item
            valid.append(item)
            planned.append((fields[0], fields[2], link_keys(fields[1], fields[3], found[0]), found[3], source, number))
        else:
            rejects.append(item)
    # Each event marshalled alone: a shard decodes only its own (`_own`), not every shard's.
    _write_record(items, [marshal.dumps(item) for item in valid])
    _write_record(plan, (planned, rejects))
    size = sum(len(text.encode("utf-8", errors=ERRORS)) for _, _, text in batch) if sizes else 0
    return marshal.dumps(("chunk", size))


@dataclass
class _Plan:
    """The plan pass over the pieces, in order, as each piece is done (`parse_and_plan`)."""

    out: Path
    plan: list[Piece]
    planner: Planner
    on_reject: Callable[[Reject], object]
    lines: list[int] = field(default_factory=list)
    done: list[bool] = field(default_factory=list)
    planned: int = 0
    rejects: int = 0
    blank: int = 0
    offset: int = 0

    def ended(self, number: int, lines: int) -> None:
        """Piece `number` is parsed: plan it, and the pieces after it that were waiting for it."""
        self.lines[number] = lines
        self.done[number] = True
        while self.planned < len(self.plan) and self.done[self.planned]:
            self._plan_piece(self.planned)
            self.planned += 1

    def _plan_piece(self, number: int) -> None:
        if number and self.plan[number][0] != self.plan[number - 1][0]:
            self.offset = 0  # a reject's line counts from its own file's start
        add = self.planner.add
        read = 0  # lines not blank
        for planned, rejects in records(self.out / f"plan{number}"):
            reused = []
            for event_id, at, keys, content, source, line in planned:
                if add(event_id, at, keys, content):  # its shard's resolver takes nothing of it either
                    reused.append((source, line, REUSED_ID))
            if reused:  # in line order with the chunk's other rejects, as one process writes them
                rejects = sorted([*rejects, *reused], key=lambda r: r[1])
            for source, line, reason in rejects:
                self.on_reject(Reject(source, line + self.offset, reason))
            self.rejects += len(rejects)
            read += len(planned) + len(rejects) - len(reused)  # a reused id is planned and a reject
        self.blank += self.lines[number] - read
        self.offset += self.lines[number]


def parse_and_plan(
    paths: tuple[Path, ...],
    config: ResolverConfig,
    workers: int,
    out: Path,
    planner: Planner,
    on_reject: Callable[[Reject], object],
    *,
    limits: Limits = Limits(),
    loads: Loads = jsontext.loads,
    on_chunk: Callable[[int], None] | None = None,
    sizes: bool | None = None,
) -> tuple[int, int, int]:
    """Parse `paths` in `workers` forked processes into files under `out`; plan each piece as it is done.

    Each file is cut into up to `PIECES_PER_WORKER` pieces per worker, each worker taking
    every `workers`-th in order, so pieces end nearly in order and this process adds their
    events to `planner` (in log order, rejects to `on_reject`) while later ones are parsed.
    Answers (pieces, rejects, blank lines). `on_chunk(size)` is called as chunks are done, with their
    lines' UTF-8 bytes (for a progress bar; 0 without one, or with `sizes` False).
    """
    plan = pieces(paths, workers * PIECES_PER_WORKER)
    state = _Plan(out, plan, planner, on_reject, [0] * len(plan), [False] * len(plan))
    children = _Children()
    try:
        for worker in range(min(workers, len(plan))):
            mine = [(number, plan[number]) for number in range(worker, len(plan), workers)]
            count = on_chunk is not None if sizes is None else sizes
            children.start(_parse_worker, paths, mine, config, out, limits, loads, count)
        for message in children.messages():
            if message[0] == "chunk" and on_chunk is not None:
                on_chunk(message[1])
            elif message[0] == "end":
                state.ended(message[1], message[2])
    finally:
        children.close()
    return len(plan), state.rejects, state.blank


def _write_record(handle: BinaryIO, value: Any) -> None:
    """Append `value` to a file of records (`records`): its marshal'd length, then its bytes."""
    blob = marshal.dumps(value)
    handle.write(len(blob).to_bytes(8, "little"))
    handle.write(blob)


def records(path: Path) -> Iterator[Any]:
    """The records of a file `_write_record` wrote, in order.

    Length-prefixed: `marshal.load` on a file reads it in small steps, about 12x slower than
    `marshal.loads` on a record read whole.
    """
    with path.open("rb") as handle:
        while head := handle.read(8):
            yield marshal.loads(handle.read(int.from_bytes(head, "little")))


@dataclass
class Sharded:
    """What a sharded replay found: counts, the core's stats summed over shards, and when resolving ended.

    `resolve_cpu`: each shard's CPU seconds until its events were resolved (before its
    outputs). `runs`: the shards' sorted runs of assignment rows (`merged_assignments`);
    `profiles`: each shard's profile lines (`merged_profiles`).
    """

    counts: ReplayCounts
    stats: dict[str, int]
    resolved_at: float
    resolve_cpu: list[float]
    runs: list[Path]
    profiles: list[Path]


def _own(out: Path, pieces: int, shard_of: bytearray, shard: int) -> Iterator[tuple[int, Any]]:
    """(event number in the log, (fields, found)) of this shard's events, in log order, from the items files.

    A record of an items file is a chunk's events, each marshalled alone (`_chunk`): the others'
    stay bytes (decoding every event of the log cost each shard 0.10-0.13 s per pass at 101k
    events, its own half 0.035-0.06 s).
    """
    number = 0
    loads = marshal.loads
    for piece in range(pieces):
        for chunk in records(out / f"items{piece}"):
            for blob in chunk:
                if shard_of[number] == shard:
                    yield number, loads(blob)
                number += 1


def _resolve_shard(
    resolver: Resolver, out: Path, pieces: int, shard_of: bytearray, marks: array[int], shard: int
) -> tuple[int, int, int]:
    """Resolve this shard's events; (applied, duplicates, suppressed)."""
    found = [0, 0, 0]
    batch: list[Any] = []
    for number, (fields, keys) in _own(out, pieces, shard_of, shard):
        mark = marks[number]
        batch.append((fields, keys, None if mark == NO_MARK else mark))
        if len(batch) >= _FREEZE_EVERY:
            _ingest(batch, resolver, found)
            batch = []
    _ingest(batch, resolver, found)
    return found[0], found[1], found[2]


def _ingest(batch: list[Any], resolver: Resolver, found: list[int]) -> None:
    done = ingest_timed(batch, resolver)
    found[0] += done.events
    found[1] += done.duplicates
    found[2] += done.suppressed
    gc.freeze()  # the state lives until the end: keep it out of the collector's generations


def _shard(
    sender: Connection,
    shard: int,
    out: Path,
    pieces: int,
    shard_of: bytearray,
    marks: array[int],
    config: ResolverConfig,
    dump: Callable[[Any], str],
) -> None:
    resolver = Resolver(config, track_changes=False)
    found = _resolve_shard(resolver, out, pieces, shard_of, marks, shard)
    resolved_at, resolve_cpu = time.perf_counter(), time.process_time()  # a forked child's starts at 0
    customer_of = resolver.customer_of_found
    runs: list[str] = []
    rows: list[tuple[str, int, str]] = []
    for number, (fields, parsed) in _own(out, pieces, shard_of, shard):
        cid = customer_of(fields, parsed)
        if cid is not None:
            rows.append((fields[0], number, cid))
            if len(rows) % _FREEZE_EVERY == 0:
                gc.freeze()  # the rows live until their run is written: no collection need scan them
            if len(rows) >= _SHARD_RUN_ROWS:
                runs.append(str(spill_run(out / f"run{shard}-{len(runs)}", rows)))
                rows = []
    if rows:
        runs.append(str(spill_run(out / f"run{shard}-{len(runs)}", rows)))
    with (out / f"profiles{shard}").open("w", encoding="utf-8", newline="\n") as handle:
        for written, record in enumerate(profile_records(resolver), 1):
            handle.write(record["customer_id"] + "\t" + dump(record) + "\n")
            if written % _FREEZE_EVERY == 0:
                gc.freeze()  # a profile leaves no cycle: what its building allocated is gone, or is state
    minted = resolver.minted_ids()
    sender.send_bytes(marshal.dumps(("done", shard, found, resolver.stats(), minted, resolved_at, resolve_cpu, runs)))


def resolve_sharded(
    out: Path,
    pieces: int,
    planner: Planner,
    rejects: int,
    config: ResolverConfig,
    shards: int,
    dump: Callable[[Any], str],
    *,
    blank: int = 0,
) -> Sharded | None:
    """Resolve the planned events in `shards` forked processes; None when one process must do it (`ids_disjoint`).

    `out` holds the files of `pieces` pieces and takes the shards'; `planner` has every
    event added (`parse_and_plan`, which answers `pieces`, `rejects` and `blank`); `dump` writes a
    profile record as one line.
    """
    shard_of, marks = planner.shards(shards), planner.marks
    gc.freeze()  # the children inherit this state: no collection should touch (and so copy) it
    done: list[tuple[Any, ...]] = []
    children = _Children()
    try:
        for shard in range(shards):
            children.start(_shard, shard, out, pieces, shard_of, marks, config, dump)
        done = sorted(m for m in children.messages() if m[0] == "done")
    finally:
        children.close()
    if not ids_disjoint(m[4] for m in done):
        return None
    counts = ReplayCounts(rejects=rejects, blank=blank)
    stats: dict[str, int] = {}
    for _, _, (applied, duplicates, suppressed), shard_stats, *_ in done:
        counts.events += applied
        counts.duplicates += duplicates
        counts.suppressed += suppressed
        for key, value in shard_stats.items():
            stats[key] = stats.get(key, 0) + value
    counts.lines = counts.events + counts.duplicates + counts.suppressed + counts.rejects
    runs = [Path(run) for m in done for run in m[7]]
    profiles = [out / f"profiles{shard}" for shard in range(shards)]
    return Sharded(counts, stats, max(m[5] for m in done), [m[6] for m in done], runs, profiles)


#: Assignment rows sorted in memory at a time; more go through sorted runs on disk.
RUN_ROWS = 250_000
#: Rows per record of a run's file (`records`).
_RUN_RECORD = 10_000
#: The same in a shard, which holds a state of its own beside them: smaller runs, so that a
#: long history of the same customers costs little more memory than a short one.
_SHARD_RUN_ROWS = 50_000


def spill_run(path: Path, rows: list[tuple[str, int, str]]) -> Path:
    """Write (event id, event number, customer id) rows to `path`, sorted: one run for `merged_assignments`."""
    rows.sort()
    with path.open("wb") as out:
        for start in range(0, len(rows), _RUN_RECORD):
            _write_record(out, rows[start : start + _RUN_RECORD])
    return path


def _read_run(path: Path) -> Iterator[tuple[str, int, str]]:
    for rows in records(path):
        yield from rows


def merged_assignments(runs: list[Path], rows: list[tuple[str, int, str]] | None = None) -> Iterator[tuple[str, str]]:
    """(event id, customer id) of the runs and `rows` (sorted here) by event id; the first (by number) of an id kept."""
    rows = sorted(rows or ())
    last = None
    for eid, _, cid in heapq.merge(iter(rows), *map(_read_run, runs)):
        if eid != last:
            yield eid, cid
            last = eid


def merged_profiles(paths: list[Path]) -> Iterator[str]:
    """The shards' profile lines merged by customer id (each line ``<id>\\t<record>``: a line sorts by its id)."""
    handles = [path.open("r", encoding="utf-8", newline="\n") for path in paths]
    try:
        for line in heapq.merge(*handles):
            yield line.partition("\t")[2]
    finally:
        for handle in handles:
            handle.close()
