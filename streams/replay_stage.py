"""`irl replay`'s first stage in a forked child: read, validate and normalise the lines there.

The parent keeps the core (`resolver.replay.ingest_parsed`); the child runs
`resolver.replay.parse` over the same lines with a parser of the same configuration and sends
its values in chunks of `CHUNK` lines, serialised with `marshal` (plain tuples, strings and
ints: the cheapest to load). On two cores the stages overlap; the values, and so the state,
the counts and the rejects in their order, are those of the sequential `resolver.replay.replay`.

A failure in the child (an unreadable file, a bug) is raised in the parent as `StageFailed`
with the child's traceback; a child that dies without a word is one too. The child is killed
when the parent stops reading early.
"""

from __future__ import annotations

import contextlib
import fcntl
import marshal
import multiprocessing
import traceback
from collections.abc import Callable, Generator, Iterator
from multiprocessing.connection import Connection
from pathlib import Path

from resolver import jsontext
from resolver.config import ResolverConfig
from resolver.identifiers import IdentifierParser
from resolver.interaction import Limits
from resolver.replay import IdWatch, Loads, Parsed, parse
from streams.eventjson import read_fields

__all__ = ["CHUNK", "ENCODING", "ENCODING_MID", "ERRORS", "StageFailed", "lines_of", "parsed_in_child", "widen"]

#: Lines per message: large enough that a message's cost is spread thin, small enough that the
#: parent starts early.
CHUNK = 1000
#: The pipe's capacity asked for, about eight chunks: how far the child may run ahead.
PIPE_BYTES = 1 << 20


class StageFailed(RuntimeError):
    """The parsing child failed or died; the message holds its traceback when it could send one."""


#: How `irl replay` decodes its input: UTF-8, a byte-order mark at a file's start dropped (Excel's
#: and Windows' exports write one), and each byte that is not UTF-8 kept as a lone surrogate
#: (U+DC80 to U+DCFF), so that the core rejects the line holding it (`resolver.replay`) instead
#: of reading a replaced character into a name. Later pieces of a file (`streams.replay_shards`)
#: start mid-file: `ENCODING_MID` there.
ENCODING, ENCODING_MID, ERRORS = "utf-8-sig", "utf-8", "surrogateescape"


def lines_of(paths: tuple[Path, ...]) -> Iterator[tuple[str, int, str]]:
    """(file name, line number from 1, text) of every line, as `irl replay` reads them (`ENCODING`)."""
    for path in paths:
        name = path.name  # once per file: `Path.name` is computed on every access
        with path.open("r", encoding=ENCODING, errors=ERRORS) as handle:
            for number, text in enumerate(handle, start=1):
                yield name, number, text


def parsed_in_child(
    paths: tuple[Path, ...],
    config: ResolverConfig,
    *,
    limits: Limits = Limits(),
    loads: Loads = jsontext.loads,
    on_chunk: Callable[[int, int], None] | None = None,
    sizes: bool = False,
) -> Generator[Parsed, None, None]:
    """`parse(lines_of(paths), IdentifierParser(config), ...)`, computed in a forked child.

    `on_chunk(lines, size)` is called in the parent before each chunk's values are given:
    the number of lines the chunk covers and, with `sizes` (for a progress bar), of their
    bytes (UTF-8, as read; else 0). Closing the generator ends the child.
    """
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    widen(sender)
    child = ctx.Process(target=_child, args=(sender, paths, config, limits, loads, sizes), daemon=True)
    child.start()
    sender.close()
    try:
        while True:
            try:
                blob = receiver.recv_bytes()
            except EOFError:
                raise StageFailed(f"the parsing child exited with code {child.exitcode} before the end") from None
            kind, lines, size, items = marshal.loads(blob)
            if kind == "error":
                raise StageFailed(f"the parsing child failed:\n{items}")
            if kind == "end":
                return
            if on_chunk is not None:
                on_chunk(lines, size)
            yield from items
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()


def widen(sender: Connection) -> None:
    """Let the pipe hold several chunks, so that neither stage waits on the other's every pause.

    Linux only (elsewhere, or beyond the system's limit, the pipe keeps its size): 64 KiB is
    half a chunk, and a process of a busy machine is paused for longer than a chunk takes.
    """
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setpipe is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(sender.fileno(), setpipe, PIPE_BYTES)


def _child(
    sender: Connection,
    paths: tuple[Path, ...],
    config: ResolverConfig,
    limits: Limits,
    loads: Loads,
    sizes: bool,
) -> None:
    try:
        _send_parsed(sender, paths, config, limits, loads, sizes)
    except BaseException:
        sender.send_bytes(marshal.dumps(("error", 0, 0, traceback.format_exc())))
        raise
    finally:
        sender.close()


def _send_parsed(
    sender: Connection,
    paths: tuple[Path, ...],
    config: ResolverConfig,
    limits: Limits,
    loads: Loads,
    sizes: bool,
) -> None:
    parser = IdentifierParser(config)
    watch = IdWatch(config.duplicate_horizon_ms)  # the whole log, in order: ids reused with other content
    batch: list[tuple[str, int, str]] = []
    for line in lines_of(paths):
        batch.append(line)
        if len(batch) >= CHUNK:
            sender.send_bytes(
                _message(batch, parse(batch, parser, limits=limits, loads=loads, watch=watch, read=read_fields), sizes)
            )
            batch = []
    sender.send_bytes(
        _message(batch, parse(batch, parser, limits=limits, loads=loads, watch=watch, read=read_fields), sizes)
    )
    sender.send_bytes(marshal.dumps(("end", 0, 0, None)))


def _message(batch: list[tuple[str, int, str]], parsed: Iterator[Parsed], sizes: bool) -> bytes:
    size = sum(len(text.encode("utf-8", errors=ERRORS)) for _, _, text in batch) if sizes else 0
    return marshal.dumps(("chunk", len(batch), size, list(parsed)))
