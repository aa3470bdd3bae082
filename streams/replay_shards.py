"""`irl replay` on every core: parse in N processes, cut the events into shards, resolve each in its own.

1. **Parse.** Each file is cut at line ends into about N pieces of equal bytes; N forked
   workers read, validate and normalise them (`resolver.replay.parse`, with a parser of the
   same configuration) and send their values in marshal'd chunks. A piece is decoded as the
   whole file is (a cut follows a ``\\n``, where a UTF-8 decoder and universal newlines hold no
   state), and a reject's line number is made whole by adding the lines of the file's
   earlier pieces.
2. **Plan** (this process): `resolver.shards.partition` closes the events under shared
   identifier keys, shared event ids and near phones, and packs them into N shards;
   `resolver.shards.watermarks` gives the log's watermark before each event.
3. **Resolve.** One forked child per shard inherits the parsed events and resolves its own
   in log order (`resolver.replay.ingest_timed`), then writes its assignment rows (sorted by
   event id, the first of a repeated id kept: one id is in one shard) and its profiles
   (sorted by customer id) to files.
4. **Merge** (this process): no customer id may be held by two shards
   (`resolver.shards.ids_disjoint`; else `resolve_sharded` answers None and the caller
   replays in one process); rows and profiles are merged by key, so the outputs are those of
   one process byte for byte.

A failure in any child is raised here as `streams.replay_stage.StageFailed` with its traceback.
"""

from __future__ import annotations

import gc
import heapq
import io
import marshal
import multiprocessing
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkProcess
from pathlib import Path
from typing import Any

from resolver import jsontext
from resolver.config import ResolverConfig
from resolver.engine import Resolver
from resolver.identifiers import IdentifierParser
from resolver.interaction import Limits
from resolver.replay import Loads, Parsed, ReplayCounts, ingest_timed, parse, profile_records
from resolver.shards import ids_disjoint, link_keys, partition, watermarks
from streams.replay_stage import CHUNK, StageFailed, widen

__all__ = ["Sharded", "parse_in_workers", "pieces", "resolve_sharded"]

#: A file smaller than this is one piece: cutting it saves less than a worker costs.
SMALL = 1 << 20
#: Events a shard resolves between two `gc.freeze` calls (its state lives until the end).
_FREEZE_EVERY = 10_000

#: One piece of a file: (file index, first byte, end byte).
Piece = tuple[int, int, int]


def pieces(paths: tuple[Path, ...], parts: int) -> list[Piece]:
    """Each file cut into at most `parts` pieces of about equal bytes, each cut just after a ``\\n``."""
    out: list[Piece] = []
    for index, path in enumerate(paths):
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


def _piece_lines(path: Path, start: int, end: int) -> Iterator[tuple[str, int, str]]:
    """(file name, line number within the piece from 1, text) as `streams.replay_stage.lines_of` reads them."""
    with path.open("rb") as handle:
        handle.seek(start)
        data = handle.read(end - start)
    name = path.name
    with io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace") as text:
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
    limits: Limits,
    loads: Loads,
    sizes: bool,
) -> None:
    parser = IdentifierParser(config)
    for number, (index, start, end) in mine:
        batch: list[tuple[str, int, str]] = []
        lines = 0
        for line in _piece_lines(paths[index], start, end):
            batch.append(line)
            lines = line[1]
            if len(batch) >= CHUNK:
                sender.send_bytes(_chunk(number, batch, parser, limits, loads, sizes))
                batch = []
        sender.send_bytes(_chunk(number, batch, parser, limits, loads, sizes))
        sender.send_bytes(marshal.dumps(("end", number, lines)))
    sender.send_bytes(marshal.dumps(("done",)))


def _chunk(
    number: int, batch: list[tuple[str, int, str]], parser: IdentifierParser, limits: Limits, loads: Loads, sizes: bool
) -> bytes:
    size = sum(len(text.encode("utf-8", errors="replace")) for _, _, text in batch) if sizes else 0
    return marshal.dumps(("chunk", number, size, list(parse(batch, parser, limits=limits, loads=loads))))


def parse_in_workers(
    paths: tuple[Path, ...],
    config: ResolverConfig,
    workers: int,
    *,
    limits: Limits = Limits(),
    loads: Loads = jsontext.loads,
    on_chunk: Callable[[int], None] | None = None,
) -> list[Parsed]:
    """`list(parse(lines_of(paths), IdentifierParser(config)))`, computed by `workers` forked processes.

    `on_chunk(size)` is called as values arrive, with their lines' UTF-8 bytes (for a
    progress bar; 0 without one).
    """
    plan = pieces(paths, workers)
    got: list[list[list[Parsed]]] = [[] for _ in plan]
    lines = [0] * len(plan)
    children = _Children()
    try:
        for worker in range(min(workers, len(plan))):
            mine = [(number, plan[number]) for number in range(worker, len(plan), workers)]
            children.start(_parse_worker, paths, mine, config, limits, loads, on_chunk is not None)
        for message in children.messages():
            if message[0] == "chunk":
                got[message[1]].append(message[3])
                if on_chunk is not None:
                    on_chunk(message[2])
            elif message[0] == "end":
                lines[message[1]] = message[2]
    finally:
        children.close()
    return _in_order(plan, got, lines)


def _in_order(plan: list[Piece], got: list[list[list[Parsed]]], lines: list[int]) -> list[Parsed]:
    """The pieces' values in order, each reject's line number counted from its file's start."""
    out: list[Parsed] = []
    offset, current = 0, -1
    for number, (index, _, _) in enumerate(plan):
        if index != current:
            offset, current = 0, index
        for chunk in got[number]:
            if offset:
                out.extend(item if len(item) == 2 else (item[0], item[1] + offset, item[2]) for item in chunk)
            else:
                out.extend(chunk)
        offset += lines[number]
    return out


@dataclass
class Sharded:
    """What a sharded replay found: counts, the core's stats summed over shards, and when resolving ended."""

    counts: ReplayCounts
    stats: dict[str, int]
    resolved_at: float
    assignments: list[tuple[str, str]]
    profiles: list[Path]


#: A valid event as `parse` gives it: (fields, (keys, rejected)).
_Event = tuple[Any, tuple[tuple[str, ...], tuple[str, ...]]]


def _shard(
    sender: Connection,
    shard: int,
    events: list[_Event],
    shard_of: list[int],
    marks: list[int | None],
    config: ResolverConfig,
    out: Path,
    dump: Callable[[Any], str],
) -> None:
    resolver = Resolver(config, track_changes=False)
    mine = [i for i, s in enumerate(shard_of) if s == shard]
    counts = ReplayCounts()
    for start in range(0, len(mine), _FREEZE_EVERY):
        part = ingest_timed(
            ((events[i][0], events[i][1], marks[i]) for i in mine[start : start + _FREEZE_EVERY]), resolver
        )
        counts.events += part.events
        counts.duplicates += part.duplicates
        counts.suppressed += part.suppressed
        gc.freeze()  # the state lives until the end: keep it out of the collector's generations
    resolved_at = time.perf_counter()
    customer_of = resolver.customer_of_fields
    rows: list[tuple[str, int, str]] = []
    for i in mine:
        fields = events[i][0]
        cid = customer_of(fields)
        if cid is not None:
            rows.append((fields[0], i, cid))
    rows.sort()
    kept: list[tuple[str, str]] = []
    last = None
    for eid, _, cid in rows:
        if eid != last:
            kept.append((eid, cid))
            last = eid
    (out / f"a{shard}").write_bytes(marshal.dumps(kept))
    with (out / f"p{shard}").open("w", encoding="utf-8", newline="\n") as handle:
        for record in profile_records(resolver):
            handle.write(record["customer_id"] + "\t" + dump(record) + "\n")
    found = (counts.events, counts.duplicates, counts.suppressed)
    sender.send_bytes(marshal.dumps(("done", shard, found, resolver.stats(), resolver.minted_ids(), resolved_at)))


def resolve_sharded(
    items: list[Parsed], config: ResolverConfig, shards: int, out: Path, dump: Callable[[Any], str]
) -> Sharded | None:
    """Resolve `parse`'s values in `shards` forked processes; None when one process must do it (`ids_disjoint`).

    `out` is a directory for the shards' files; `dump` writes a profile record as one line.
    """
    events: list[_Event] = [item for item in items if len(item) == 2]
    shard_of = partition(((f[0], link_keys(f[1], f[3], found[0])) for f, found in events), shards)
    marks = watermarks(((f[0], f[2]) for f, _ in events), config.duplicate_horizon_ms)
    gc.freeze()  # the children inherit these values: no collection should touch (and so copy) them
    done: list[tuple[Any, ...]] = []
    children = _Children()
    try:
        for shard in range(shards):
            children.start(_shard, shard, events, shard_of, marks, config, out, dump)
        done = [m for m in children.messages() if m[0] == "done"]
    finally:
        children.close()
    if not ids_disjoint(m[4] for m in done):
        return None
    counts = ReplayCounts(rejects=len(items) - len(events))
    stats: dict[str, int] = {}
    for _, _, (applied, duplicates, suppressed), shard_stats, _, _ in done:
        counts.events += applied
        counts.duplicates += duplicates
        counts.suppressed += suppressed
        for key, value in shard_stats.items():
            stats[key] = stats.get(key, 0) + value
    counts.lines = counts.events + counts.duplicates + counts.suppressed + counts.rejects
    rows = [row for shard in range(shards) for row in marshal.loads((out / f"a{shard}").read_bytes())]
    rows.sort()  # each shard's rows are one sorted run: a merge of runs
    return Sharded(counts, stats, max(m[5] for m in done), rows, [out / f"p{s}" for s in range(shards)])


def merged_profiles(paths: list[Path]) -> Iterator[str]:
    """The shards' profile lines merged by customer id (each line ``<id>\\t<record>``: a line sorts by its id)."""
    handles = [path.open("r", encoding="utf-8", newline="\n") for path in paths]
    try:
        for line in heapq.merge(*handles):
            yield line.partition("\t")[2]
    finally:
        for handle in handles:
            handle.close()
