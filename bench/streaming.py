"""Streaming figures through the real broker and Redis: throughput, memory, recovery, scale out, latency.

Each scenario isolates itself (unique topic prefix and app id, our own Redis database, flushed)
and deletes its topics afterwards. Throughput is measured from the first applied event, so
process start-up and the consumer-group join are excluded; the reference consumers read the
same topics in the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from bench.common import (
    BIN,
    DATA,
    KAFKA,
    Worker,
    bench_env,
    count_lines,
    median,
    new_prefix,
    redis_url,
    rss_bytes,
    workers,
)

__all__ = ["bare_consumers", "faust_noop", "latency", "stream_run"]

_PARTITIONS = "6"


def _r() -> redis.Redis:
    return redis.Redis.from_url(redis_url())


def _irl(env: dict[str, str], *args: str, timeout: float = 900) -> float:
    t0 = time.monotonic()
    proc = subprocess.run([str(BIN / "irl"), *args], env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"irl {args[0]} failed: {proc.stderr[-1500:]}")
    return time.monotonic() - t0


def _topics(prefix: str) -> list[str]:
    return [f"{prefix}.touchpoint.web", f"{prefix}.touchpoint.whatsapp", f"{prefix}.touchpoint.kiosk"]


async def _delete_topics(prefix: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA, request_timeout_ms=15_000)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def cleanup(prefix: str) -> None:
    try:
        asyncio.run(_delete_topics(prefix))
    except Exception as exc:  # the figures stand; say what is left behind
        print(f"  (could not delete topics {prefix}*: {type(exc).__name__})")


def load(events: Path, prefix: str, env: dict[str, str]) -> dict[str, Any]:
    """Create the isolated topics and produce the file into them (before any worker starts)."""
    _irl(env, "topics", "create")
    rejects = DATA / "run" / f"{prefix}.rejects.jsonl"
    rejects.parent.mkdir(parents=True, exist_ok=True)
    seconds = _irl(env, "produce", str(events), "--rejects", str(rejects))
    n = count_lines(events)
    return {"events": n, "produce_seconds": seconds, "produce_events_per_s": n / seconds}


# -- references: a bare aiokafka consumer, with and without Avro decoding ----------------------


async def _links_end(topic: str) -> int:
    """The end offset of the (one-partition) links log."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()


async def _effects_state(app_id: str) -> tuple[dict[int, int], dict[int, int]]:
    """(end offsets, the per-customer stage's committed offsets) of the effects topic, by partition."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    topic = f"{app_id}-effects"
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, group_id=None, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await consumer.start()
    await admin.start()
    try:
        parts = await _partitions(consumer, [topic])
        ends = {tp.partition: int(end) for tp, end in (await consumer.end_offsets(parts)).items()}
        got = await admin.list_consumer_group_offsets(f"{app_id}-customers")
        committed = {tp.partition: om.offset for tp, om in got.items() if tp.topic == topic and om.offset >= 0}
        return ends, committed
    finally:
        await admin.close()
        await consumer.stop()


def _effects_done(app_id: str) -> bool:
    """Every effect the ordered stage sent is applied and its records acknowledged (``IRL_CUSTOMER_STAGE=kafka``):
    the per-customer group's committed offset is the end of every effects partition."""
    ends, committed = asyncio.run(_effects_state(app_id))
    return all(committed.get(p, 0) >= end for p, end in ends.items() if end > 0)


async def _partitions(consumer: Any, topics: list[str]) -> list[Any]:
    from aiokafka import TopicPartition

    deadline = time.monotonic() + 20
    while True:
        cluster = await consumer._client.fetch_all_metadata()
        parts = [TopicPartition(t, p) for t in topics for p in cluster.partitions_for_topic(t) or ()]
        if len(parts) >= len(topics) or time.monotonic() > deadline:
            return parts
        await asyncio.sleep(0.2)


async def _consume(topics: list[str], expected: int, decode: bool, timeout: float) -> float:
    from aiokafka import AIOKafkaConsumer

    from streams.codec import decode_interaction

    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = await _partitions(consumer, topics)
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        seen = 0
        first = 0.0
        deadline = time.monotonic() + timeout
        while seen < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            for records in batches.values():
                if not first and records:
                    first = time.monotonic()
                if decode:
                    for rec in records:
                        decode_interaction(rec.value)
                seen += len(records)
        if seen < expected:
            raise TimeoutError(f"bare consumer saw {seen} of {expected}")
        return (seen - 0) / (time.monotonic() - first)
    finally:
        await consumer.stop()


def _noop_once(prefix: str, expected: int, hops: int, timeout: float) -> float:
    out = DATA / "run" / f"{prefix}.noop{hops}.{uuid.uuid4().hex[:6]}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IRL_", "NOOP_"))}
    datadir = out.with_suffix(".data")  # Faust's data directory: under bench/.data/run, removed below
    env.update(
        NOOP_DATADIR=str(datadir),
        NOOP_APP_ID=f"{prefix}-noop{hops}-{uuid.uuid4().hex[:6]}",
        NOOP_TOPICS=",".join(_topics(prefix)),
        NOOP_EXPECTED=str(expected),
        NOOP_HOPS=str(hops),
        NOOP_OUT=str(out),
        NOOP_BOOTSTRAP=KAFKA,
        NOOP_LOG="info",
    )
    log = open(out.with_suffix(".log"), "wb")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen(
        [str(BIN / "python"), "-m", "bench.faust_noop"],
        env=env,
        cwd=str(DATA.parent.parent),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise TimeoutError(
            f"the no-op Faust app ({hops} hop(s)) did not see {expected} events in {timeout:.0f}s"
        ) from None
    finally:
        log.close()
        shutil.rmtree(datadir, ignore_errors=True)
    if not out.exists():
        raise RuntimeError(f"the no-op Faust app ({hops} hop(s)) exited {proc.returncode} without a result")
    return float(json.loads(out.read_text())["events_per_s"])


def faust_noop(prefix: str, expected: int, runs: int) -> dict[str, float]:
    """Faust's own ceiling on the same topics: one no-op agent, and two no-op hops (the worker's shape)."""
    one = [_noop_once(prefix, expected, 1, 120) for _ in range(runs)]
    two = [_noop_once(prefix, expected, 2, 120) for _ in range(runs)]
    return {"faust_noop_events_per_s": median(one), "faust_noop_two_hops_events_per_s": median(two)}


def bare_consumers(prefix: str, expected: int, runs: int) -> dict[str, float]:
    plain, decoded = [], []
    for _ in range(runs):
        plain.append(asyncio.run(_consume(_topics(prefix), expected, False, 300)))
        decoded.append(asyncio.run(_consume(_topics(prefix), expected, True, 300)))
    return {"bare_events_per_s": median(plain), "bare_decode_events_per_s": median(decoded)}


# -- the worker(s) -----------------------------------------------------------------------------


def _redis_memory(prefix: str) -> dict[str, int]:
    """MEMORY USAGE summed over every key of the prefix, and the identifiers they hold.

    Identifiers are the entries of the bucketed hashes ``<prefix>:i:<bucket>`` (streams/readmodel.py),
    counted with HLEN, independently of the model's own count in ``<prefix>:meta``.
    """
    r = _r()
    buckets = f"{prefix}:i:".encode()
    counts = {"identifiers": 0, "keys": 0, "memory_usage_sum": 0}
    batch: list[bytes] = []

    def flush() -> None:
        pipe = r.pipeline(transaction=False)
        for k in batch:
            pipe.memory_usage(k, samples=0)
        held = [k for k in batch if k.startswith(buckets)]
        for k in held:
            pipe.hlen(k)
        got = [int(x or 0) for x in pipe.execute()]
        counts["memory_usage_sum"] += sum(got[: len(batch)])
        counts["identifiers"] += sum(got[len(batch) :])
        counts["keys"] += len(batch)
        batch.clear()

    for key in r.scan_iter(match=f"{prefix}:*", count=5000):
        batch.append(key)
        if len(batch) >= 2000:
            flush()
    if batch:
        flush()
    # report.py reads identifier_keys: with bucketed hashes it is the number of identifiers
    return {**counts, "identifier_keys": counts["identifiers"]}


def _profile(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes] | None:
    spy = BIN / "py-spy"
    if not spy.exists():
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [str(spy), "record", "--pid", str(pid), "--subprocesses", "--duration", str(seconds), "--rate", "100",
         "--nonblocking", "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def _fill_links(events: Path, topic: str, env: dict[str, str], clock_step_ms: int | None = None) -> int:
    """Write the file into the links log as triage and the clock would: batch records of validated events (with
    triage's findings), a tick (the wall clock) after each.

    ``clock_step_ms``: the ticks' clock starts that many ms per tick before now and moves on by
    as much each tick (the same windows close at the same ticks in every run, whatever the
    fill's speed), instead of the wall clock.
    """
    from aiokafka import AIOKafkaProducer

    from resolver.identifiers import IdentifierParser
    from resolver.interaction import Interaction, Limits, from_json, validate
    from resolver.linking import found_of
    from streams.linkbatch import KIND_HEADER, TICK, encode_found_batches, links_headers, parser_fingerprint
    from streams.settings import Settings, resolver_config

    # With triage's findings, as triage writes batches (its parser of the worker's configuration, `env`).
    config = resolver_config(Settings.from_env(env))
    parser, fingerprint = IdentifierParser(config), parser_fingerprint(config)

    def records(batch: list[Interaction]) -> Iterator[tuple[bytes, bytes]]:
        founds = [found_of(parser, e.touchpoint, e.source_id, e.phone, e.email, e.name) for e in batch]
        return encode_found_batches(batch, founds, fingerprint)

    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, max_request_size=4 * 1024 * 1024, linger_ms=20)
    await producer.start()
    n = 0
    ticks = 0
    start = time.time_ns() // 1_000_000 - (
        0 if clock_step_ms is None else clock_step_ms * (count_lines(events) // 2000 + 2)
    )
    try:
        batch = []
        with events.open(encoding="utf-8") as fh:
            for line in fh:
                ev = from_json(json.loads(line), Limits())
                if validate(ev):
                    continue
                batch.append(ev)
                if len(batch) >= 2000:
                    for value, found in records(batch):
                        await producer.send(topic, value, partition=0, headers=links_headers(found))
                    ticks += 1
                    now = time.time_ns() // 1_000_000 if clock_step_ms is None else start + ticks * clock_step_ms
                    tick = json.dumps({"now": now}).encode()
                    await producer.send(topic, tick, key=TICK, partition=0, headers=[(KIND_HEADER, TICK)])
                    n += len(batch)
                    batch = []
        for value, found in records(batch):
            await producer.send(topic, value, partition=0, headers=links_headers(found))
        n += len(batch)
        await producer.flush()
    finally:
        await producer.stop()
    return n


def ordered_ceiling(
    events: Path,
    timeout: float = 1200,
    extra: dict[str, str] | None = None,
    settle: bool = False,
    clock_step_ms: int | None = None,
) -> dict[str, Any]:
    """The ordered stage alone: the links log filled first (as triage writes it), then one worker applies it.

    ``extra``: more settings of the worker (``IRL_CUSTOMER_STAGE="kafka"``: `bench.customer_stage`).
    ``settle``: also wait until the changelog's records stop coming (`_records_out`).
    ``clock_step_ms``: the filled ticks' clock (`_fill_links`).
    """
    prefix = new_prefix("o")
    env = bench_env(prefix, **(extra or {}))
    r = _r()
    r.flushdb()
    try:
        _irl(env, "topics", "create")
        n = asyncio.run(_fill_links(events, f"{env['IRL_APP_ID']}-links", env, clock_step_ms))
        w = Worker(env, f"{prefix}-w0")
        with workers([w]):
            w.start()
            first: tuple[float, int] | None = None
            cpu0 = 0.0
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                w.check()
                _status, body = w.ready()
                seen = 0 if body is None else int(body.get("events_applied") or 0) + int(body.get("duplicates") or 0)
                now = time.monotonic()
                if seen and first is None:
                    first, cpu0, forks0 = (now, seen), _cpu_s(w), _cpu_s(w, reaped=True)
                if seen >= n and first is not None:
                    got = {"events": n, "ordered_events_per_s": (n - first[1]) / max(1e-6, now - first[0])}
                    # The worker's own process (its children apart): CPU per event, whatever else the machine ran.
                    got["worker_cpu_us_per_event"] = (_cpu_s(w) - cpu0) * 1e6 / max(1, n - first[1])
                    # With the children it forked and reaped meanwhile (the Redis mirror's and the snapshots' writers;
                    # the triage and per-customer children live on, so they are not in it).
                    forks = _cpu_s(w, reaped=True) - forks0
                    got["worker_cpu_with_forks_us_per_event"] = forks * 1e6 / max(1, n - first[1])
                    if settle:
                        got.update(_records_out(w, first[0], deadline))
                    return got
                time.sleep(0.1)
            raise TimeoutError(f"the ordered stage did not apply {n} events within {timeout:.0f}s")
    finally:
        r.flushdb()
        cleanup(prefix)


def _cpu_s(w: Worker, reaped: bool = False) -> float:
    """CPU seconds (user and system) of the worker's own process so far (Linux's /proc); ``reaped``: with
    those of its children that ended and were waited for (cutime, cstime)."""
    assert w.proc is not None
    fields = Path(f"/proc/{w.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def _records_out(w: Worker, start: float, deadline: float, quiet_s: float = 2.0) -> dict[str, Any]:
    """Seconds from ``start`` until the worker's changelog records stopped coming (none for ``quiet_s``), and how many.

    The ordered stage's own count, or the per-customer stage's (``IRL_CUSTOMER_STAGE=kafka``).
    """
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        w.check()
        _status, body = w.ready()
        body = body or {}
        count = int(body.get("records_published") or 0) + int(body.get("customer_records_published") or 0)
        now = time.monotonic()
        if count != last:
            last, since = count, now
        elif now - since >= quiet_s:
            return {"records": last, "records_out_s": since - start}
        time.sleep(0.1)
    raise TimeoutError("the changelog's records did not stop coming")


def stream_run(
    events: Path,
    n_workers: int = 1,
    *,
    bare_runs: int = 0,
    recovery: bool = False,
    profile_s: int = 0,
    timeout: float = 1200,
) -> dict[str, Any]:
    """Load `events`, start `n_workers`, and measure until every event is applied and every window published."""
    prefix = new_prefix(f"s{n_workers}")
    env = bench_env(prefix)
    r = _r()
    r.flushdb()
    kafka = _customer_stage(env) == "kafka"
    out: dict[str, Any] = {
        "workers": n_workers,
        "prefix": prefix,
        "triage_processes": _triage_processes(env),
        "customer_stage": _customer_stage(env),
    }
    try:
        out.update(load(events, prefix, env))
        expected = out["events"]
        if bare_runs:
            out.update(bare_consumers(prefix, expected, bare_runs))
            out.update(faust_noop(prefix, expected, bare_runs))
        used_before = int(r.info("memory")["used_memory"])
        ws = [Worker(env, f"{prefix}-w{i}") for i in range(n_workers)]
        with workers(ws):
            for w in ws:
                w.start()
            out.update(_drive(ws, expected, timeout, profile_s, prefix, kafka))
            writer_pid = out.pop("_writer_pid")
            writer = next(w for w in ws if w.proc is not None and w.proc.pid == writer_pid)
            _wait_redis_level(writer, app_id=env["IRL_APP_ID"] if kafka else None, prefix=prefix)
            mem = _redis_memory(prefix)
            used_after = int(r.info("memory")["used_memory"])
            pid = writer.proc.pid if writer.proc else 0
            out["worker_rss_mb"] = rss_bytes(pid) / 2**20
            out["worker_peak_rss_mb"] = rss_bytes(pid, "VmHWM") / 2**20
            out.update(mem)
            out["redis_used_memory_delta"] = used_after - used_before
            n_ids = max(1, mem["identifier_keys"])
            out["redis_bytes_per_identifier"] = mem["memory_usage_sum"] / n_ids
            out["redis_used_delta_per_identifier"] = (used_after - used_before) / n_ids
            out["worker_bytes_per_identifier"] = (rss_bytes(pid) - out["worker_rss_start"]) / n_ids
            if recovery:
                with events.open(encoding="utf-8") as fh:
                    templates = [json.loads(next(fh)) for _ in range(2000)]
                at = writer.log.stat().st_size if writer.log.exists() else 0
                marks: dict[str, Any] = {}
                out["fresh_after_kill_s"] = asyncio.run(_fresh_after_kill(writer, env, templates, marks))
                out["fresh_after_kill_phases"] = _restart_phases(writer, at, marks)
                out.update(_recover(writer, timeout=300))
                # The same restart after a graceful stop (the member leaves the group at once).
                graceful = _recover(writer, timeout=300, sig=signal.SIGTERM)
                out["recovery_after_sigterm_s"] = graceful["recovery_s"]
    finally:
        r.flushdb()
        cleanup(prefix)
    return out


def _wait_redis_level(writer: Worker, timeout: float = 120.0, app_id: str | None = None, prefix: str = "") -> None:
    """Until the writer's Redis read model holds its applied offset (a backlog's writes are paced: `streams.mirror`).

    ``app_id`` (``IRL_CUSTOMER_STAGE=kafka``): until every effects partition's part holds its last effect
    (``P:meta`` field ``p.<n>`` at the partition's end offset less one), as each partition mirrors its customers.
    """
    deadline = time.monotonic() + timeout
    if app_id is not None:
        r = _r()
        while time.monotonic() < deadline:
            ends, _committed = asyncio.run(_effects_state(app_id))
            parts = r.hmget(f"{prefix}:meta", [f"p.{p}" for p in ends])
            if all(
                end == 0 or (h is not None and int(h) >= end - 1) for end, h in zip(ends.values(), parts, strict=True)
            ):
                return
            time.sleep(0.25)
        raise TimeoutError(f"Redis did not reach every effects partition's end within {timeout:.0f}s")
    while time.monotonic() < deadline:
        _status, body = writer.ready()
        held = None if body is None else body.get("redis_offset")
        if held is not None and body is not None and int(held) >= int(body.get("applied_offset") or -1):
            return
        time.sleep(0.25)
    raise TimeoutError(f"Redis did not reach the writer's applied offset within {timeout:.0f}s")


def _customer_stage(env: dict[str, str]) -> str:
    """The per-customer stage setting of the workers of `env` (its setting, else the default)."""
    from streams.settings import Settings

    return Settings.from_env(env).customer_stage


def _triage_processes(env: dict[str, str]) -> int:
    """How many triage processes each worker of `env` runs (its setting, else the default)."""
    from streams.settings import Settings

    return int(env.get("IRL_TRIAGE_PROCESSES", Settings().triage_processes))


def _drive(
    ws: list[Worker], expected: int, timeout: float, profile_s: int, prefix: str, kafka: bool = False
) -> dict[str, Any]:
    """Poll the workers until every event is applied and every window published; their rates.

    ``kafka`` (``IRL_CUSTOMER_STAGE=kafka``): published means every effect applied by the per-customer stage and its
    records acknowledged (`_effects_done`), not only the ordered stage's windows closed.
    """
    t_start = time.monotonic()
    deadline = t_start + timeout
    first: tuple[float, int] | None = None
    first_triaged: tuple[float, int] | None = None
    t_ready = None
    t_applied = None
    t_triaged = None
    t_ordered = None
    links_end: int | None = None
    rss_start = 0
    cpu_first: dict[str, float] = {}
    spy = None
    writer_pid = 0
    samples: list[tuple[float, int]] = []
    while time.monotonic() < deadline:
        now = time.monotonic()
        triaged = 0
        body: dict[str, Any] | None = None
        for w in ws:
            w.check()
            status, b = w.ready()
            if b is None:
                continue
            triaged += int(b.get("events_triaged") or 0)
            if b.get("role") == "writer":
                body = b
                if w.proc is not None and writer_pid != w.proc.pid:
                    writer_pid = w.proc.pid
                    rss_start = rss_bytes(writer_pid)
                if status == 200 and t_ready is None:
                    t_ready = now - t_start
        if triaged and first_triaged is None:
            first_triaged = (now, triaged)
        if triaged >= expected and t_triaged is None:
            t_triaged = now
            # Every event is on the links log now: its end is where the writer is done. A writer that
            # took the log over mid-run counts only what it applied itself, so its counters fall short.
            links_end = asyncio.run(_links_end(f"{prefix}-app-links"))
        if body is not None:
            seen = int(body.get("events_applied") or 0) + int(body.get("duplicates") or 0)
            seen += int(body.get("dead_letters") or 0)
            if links_end is not None and int(body.get("applied_offset") or -1) >= links_end - 1:
                seen = max(seen, expected)  # everything triaged is applied (a handover mid-run)
            samples.append((now, seen))
            if seen and first is None:
                first = (now, seen)
                cpu_first = _machine_cpu_s(ws)
                if profile_s:
                    spy = _profile(writer_pid, profile_s, DATA / "run" / f"{prefix}.pyspy.txt")
            if seen >= expected and t_applied is None:
                t_applied = now
            if seen >= expected and body.get("pending_windows") == 0:
                if t_ordered is None:
                    t_ordered = now
                if not kafka or _effects_done(f"{prefix}-app"):
                    break
        time.sleep(0.25)
    else:
        raise TimeoutError(f"workers did not finish {expected} events within {timeout:.0f}s")
    done = time.monotonic()
    cpu_done = _machine_cpu_s(ws)
    if spy is not None:
        spy.wait(timeout=profile_s + 60)
    assert first is not None and t_applied is not None
    res: dict[str, Any] = {
        "_writer_pid": writer_pid,
        "worker_rss_start": rss_start,
        "startup_to_first_applied_s": first[0] - t_start,
        "startup_to_ready_s": t_ready,
        "apply_events_per_s": (expected - first[1]) / max(1e-6, t_applied - first[0]),
        "end_to_end_events_per_s": (expected - first[1]) / max(1e-6, done - first[0]),
        "publish_tail_s": done - t_applied,
        # the ordered stage done (every window closed) until every record out: the per-customer stage's tail
        "customer_tail_s": done - (t_ordered or done),
        "total_s": done - t_start,
    }
    res["interval_cpu_s"] = {k: round(cpu_done[k] - cpu_first.get(k, 0.0), 2) for k in cpu_done}
    res["interval_s"] = round(done - first[0], 3)
    res["interval_cpu_budget_s"] = round((done - first[0]) * (os.cpu_count() or 1), 2)
    if first_triaged is not None and t_triaged is not None:
        res["triage_events_per_s"] = (expected - first_triaged[1]) / max(1e-6, t_triaged - first_triaged[0])
    if spy is not None:
        res["profile"] = str(DATA / "run" / f"{prefix}.pyspy.txt")
    writer = next((w for w in ws if w.proc is not None and w.proc.pid == writer_pid), None)
    if writer is not None:
        res["cpu_s"] = _tree_cpu_s(writer)
    return res


def _proc_cpu_s(pid: int) -> float:
    """User and system CPU seconds of one process so far (Linux's /proc); 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _service_pids() -> dict[str, list[int]]:
    """The local broker's and Redis's processes (their command lines name our ports), by service."""
    port = KAFKA.rsplit(":", 1)[-1]
    redis_port = redis_url().rsplit(":", 1)[-1].split("/", 1)[0]
    found: dict[str, list[int]] = {"broker": [], "redis": []}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"kafka.Kafka" in cmd and f"run-{port}".encode() in cmd:
            found["broker"].append(int(entry.name))
        elif cmd.startswith(b"redis-server") and f":{redis_port}".encode() in cmd:
            found["redis"].append(int(entry.name))
    return found


def _machine_cpu_s(ws: list[Worker]) -> dict[str, float]:
    """CPU seconds so far of every worker's tree (its own process, reaped forks and live children) and
    of the local broker and Redis: read at the first applied event and at the end, their difference is
    where the machine's cores went in the measured interval."""
    out: dict[str, float] = {}
    for w in ws:
        if w.proc is None or w.proc.poll() is not None:
            continue
        for kind, value in _tree_cpu_s(w).items():
            if kind != "total":
                out[kind] = out.get(kind, 0.0) + value
    for service, pids in _service_pids().items():
        out[service] = sum(_proc_cpu_s(pid) for pid in pids)
    return out


def _tree_cpu_s(w: Worker) -> dict[str, float]:
    """CPU seconds so far of the worker's own process, the children it reaped (forked snapshot writers), and its
    live children by kind (triage, per-customer, forks), from Linux's /proc; start-up included."""
    assert w.proc is not None
    pid = w.proc.pid
    out = {"worker": _cpu_s(w), "worker_reaped_forks": _cpu_s(w, reaped=True) - _cpu_s(w)}
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    tck = os.sysconf("SC_CLK_TCK")
    for kid in kids:
        try:
            cmd = Path(f"/proc/{kid}/cmdline").read_bytes()
            fields = Path(f"/proc/{kid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kind = "customers" if b"customer_process" in cmd else "triage" if b"triage_process" in cmd else "forks"
        out[kind] = out.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / tck
    out["total"] = sum(out.values())
    return {k: round(v, 2) for k, v in out.items()}


def _recover(writer: Worker, timeout: float, sig: int = signal.SIGKILL) -> dict[str, Any]:
    """Stop the writer (kill -9 by default), start it again with the same settings, time until /ready is 200."""
    assert writer.proc is not None
    writer.kill(sig)
    t0 = time.monotonic()
    writer.start()
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        writer.check()
        status, body = writer.ready()
        if status == 200 and body is not None and body.get("role") == "writer":
            return {
                "recovery_s": time.monotonic() - t0,
                "recovered_customers": body.get("customers"),
                "redis_rebuilds_after_restart": body.get("redis_rebuilds"),
            }
        time.sleep(0.1)
    raise TimeoutError(f"restarted worker not ready within {timeout:.0f}s")


def _restart_phases(writer: Worker, at: int, marks: dict[str, Any]) -> dict[str, Any]:
    """The phases of the restart (`bench.restart_phases`): the worker's log after byte `at` and the bench's marks."""
    from bench.restart_phases import worker_phases

    time.sleep(1.0)  # the children's last lines
    with writer.log.open("rb") as fh:
        fh.seek(at)
        lines = fh.read().decode(errors="replace").splitlines()
    return {**worker_phases(lines, marks["kill_wall"]), **marks}


async def _fresh_after_kill(
    writer: Worker, env: dict[str, str], templates: list[dict[str, Any]], marks: dict[str, Any] | None = None
) -> float:
    """kill -9 the writer, start it again, send fresh events at once; seconds from the kill until all are published.

    The events are web and kiosk templates under new source ids and event ids, timed at the
    kill: they reach the resolved topic when the worker is back, has read them and their
    window (IRL_WINDOW_SECONDS) has closed. ``marks``: filled with the bench's side of the
    restart's phases (`bench.restart_phases`: the kill's wall time, the fresh events in the
    links log, the tick that closes their window, their window's end + grace, the first and last published).
    """
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from bench.restart_phases import LinksWatch
    from resolver.interaction import from_json
    from streams.codec import decode_resolved, encode_interaction
    from streams.linkbatch import kind_of

    prefix = env["IRL_TOPIC_PREFIX"]
    topic_of = {"WEB": f"{prefix}.touchpoint.web", "KIOSK": f"{prefix}.touchpoint.kiosk"}
    links = TopicPartition(f"{env['IRL_APP_ID']}-links", 0)
    marks = {} if marks is None else marks
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, group_id=None, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, linger_ms=5, acks="all")
    await consumer.start()
    await producer.start()
    try:
        parts = await _partitions(consumer, [f"{prefix}.customers.resolved"])
        consumer.assign([*parts, links])
        await consumer.seek_to_end(*parts, links)
        for tp in [*parts, links]:
            await consumer.position(tp)
        assert writer.proc is not None
        writer.kill(signal.SIGKILL)
        t0 = time.monotonic()
        marks["kill_wall"] = time.time()
        writer.start()
        now_ms = time.time_ns() // 1_000_000
        wanted: set[tuple[str, str]] = set()
        fresh_ids: set[str] = set()
        for obj in templates:
            if obj["touchpoint"] not in topic_of:
                continue
            fresh = {**obj, "event_id": "fr-" + uuid.uuid4().hex[:20], "occurred_at": now_ms}
            fresh["source_id"] = "fresh-" + uuid.uuid4().hex[:16]
            ev = from_json(fresh)
            topic = topic_of[ev.touchpoint]
            await producer.send(topic, encode_interaction(ev, topic), key=ev.source_id.encode(), timestamp_ms=now_ms)
            wanted.add((ev.touchpoint, ev.source_id))
            fresh_ids.add(ev.event_id)
            if len(wanted) >= 300:
                break
        await producer.flush()
        window_ms = int(env.get("IRL_WINDOW_SECONDS", "5")) * 1000
        due_ms = now_ms - now_ms % window_ms + window_ms + int(env.get("IRL_GRACE_SECONDS", "1")) * 1000
        marks["window_due"] = round(due_ms / 1000 - marks["kill_wall"], 3)
        watch = LinksWatch(fresh_ids, due_ms, t0, time.monotonic)
        while wanted and time.monotonic() - t0 < 180:
            writer.check()
            batches = await consumer.getmany(timeout_ms=100, max_records=5000)
            for tp, records in batches.items():
                for rec in records:
                    if tp == links:
                        watch.see(kind_of(rec.headers), rec.value)
                        continue
                    for ref in decode_resolved(rec.value)["source_ids"]:
                        wanted.discard((ref["touchpoint"], ref["source_id"]))
        marks.update(watch.marks)
        if wanted:
            raise TimeoutError(f"{len(wanted)} fresh events not published within 180 s of the kill")
        marks["published"] = round(time.monotonic() - t0, 3)
        return time.monotonic() - t0
    finally:
        await producer.stop()
        await consumer.stop()


# -- batch latency on live traffic ------------------------------------------------------------


async def _feed_and_watch(
    env: dict[str, str], templates: list[dict[str, Any]], rate: int, seconds: float, window_ms: int, grace_ms: int
) -> list[tuple[int, int]]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from resolver.interaction import from_json
    from streams.codec import decode_resolved, encode_interaction

    prefix = env["IRL_TOPIC_PREFIX"]
    topic_of = {"WEB": f"{prefix}.touchpoint.web", "WHATSAPP": f"{prefix}.touchpoint.whatsapp",
                "KIOSK": f"{prefix}.touchpoint.kiosk"}  # fmt: skip
    resolved = f"{prefix}.customers.resolved"
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, linger_ms=5, acks=1)
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, group_id=None, enable_auto_commit=False)
    await producer.start()
    await consumer.start()
    seen: list[tuple[int, int]] = []
    stop_at: list[float] = []
    last_window_end = [0]

    async def watch() -> None:
        parts = await _partitions(consumer, [resolved])
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        while not stop_at or time.monotonic() < stop_at[0]:
            batches = await consumer.getmany(timeout_ms=200, max_records=1000)
            for records in batches.values():
                for rec in records:
                    seen.append((int(decode_resolved(rec.value)["window_end"]), int(rec.timestamp)))
            if stop_at and seen and max(end for end, _ in seen) >= last_window_end[0]:
                # The last window fed has records: wait one more poll for its stragglers.
                await asyncio.sleep(1.0)
                batches = await consumer.getmany(timeout_ms=200, max_records=10000)
                for records in batches.values():
                    seen.extend((int(decode_resolved(r.value)["window_end"]), int(r.timestamp)) for r in records)
                return

    watcher = asyncio.create_task(watch())
    try:
        t0 = time.monotonic()
        sent = 0
        i = 0
        while time.monotonic() - t0 < seconds:
            due = int((time.monotonic() - t0) * rate)
            while sent < due:
                obj = dict(templates[i % len(templates)])
                i += 1
                obj["event_id"] = "bl-" + uuid.uuid4().hex[:20]
                obj["occurred_at"] = time.time_ns() // 1_000_000
                ev = from_json(obj)
                await producer.send(
                    topic_of[ev.touchpoint], encode_interaction(ev, topic_of[ev.touchpoint]), key=ev.source_id.encode(),
                    timestamp_ms=ev.occurred_at,
                )  # fmt: skip
                sent += 1
            await asyncio.sleep(0.02)
        await producer.flush()
        last_ms = time.time_ns() // 1_000_000
        last_window_end[0] = (last_ms // window_ms) * window_ms + window_ms
        # Every window fed must close (end + grace) and be published: allow a generous margin.
        stop_at.append(time.monotonic() + (window_ms + grace_ms) / 1000 + 15)
        await watcher
    finally:
        watcher.cancel()
        await producer.stop()
        await consumer.stop()
    return seen


def latency(events: Path, rate: int, seconds: float, window_s: int = 2, grace_s: int = 1) -> dict[str, Any]:
    prefix = new_prefix("lat")
    env = bench_env(prefix, IRL_WINDOW_SECONDS=str(window_s), IRL_GRACE_SECONDS=str(grace_s))
    r = _r()
    r.flushdb()
    templates: list[dict[str, Any]] = []
    with events.open(encoding="utf-8") as fh:
        for line in fh:
            templates.append(json.loads(line))
            if len(templates) >= max(2000, int(rate * seconds)):
                break
    try:
        _irl(env, "topics", "create")
        w = Worker(env, f"{prefix}-w0")
        with workers([w]):
            w.start()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                w.check()
                status, body = w.ready()
                if status == 200 and body and body.get("role") == "writer":
                    break
                time.sleep(0.2)
            else:
                raise TimeoutError("latency worker not ready")
            seen = asyncio.run(_feed_and_watch(env, templates, rate, seconds, window_s * 1000, grace_s * 1000))
    finally:
        r.flushdb()
        cleanup(prefix)
    last: dict[int, int] = {}
    for window_end, ts in seen:
        last[window_end] = max(ts, last.get(window_end, 0))
    lags = sorted((ts - (end + grace_s * 1000)) / 1000 for end, ts in last.items())
    if not lags:
        raise RuntimeError("no resolved records seen")

    def pct(p: float) -> float:
        return lags[min(len(lags) - 1, round(p * (len(lags) - 1)))]

    return {
        "rate": rate,
        "seconds": seconds,
        "window_s": window_s,
        "grace_s": grace_s,
        "windows": len(lags),
        "records": len(seen),
        "p50_s": pct(0.5),
        "p99_s": pct(0.99),
        "max_s": lags[-1],
        "min_s": lags[0],
    }


_CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("profile recomputation (Resolver.profile, to_record)", ("Resolver.profile (", "to_record (resolver/")),
    ("Redis mirror (readmodel, redis-py)", ("(streams/readmodel", "(redis/")),
    ("table write-ahead records (state_store)", ("(streams/state_store",)),
    ("Kafka produce (batches, aiokafka producer)", ("(streams/batches", "(aiokafka/producer", "(aiokafka/record",
                                                    "(aiokafka/partitioner")),
    ("Avro encode/decode (codec, fastavro)", ("(streams/codec", "(fastavro")),
    ("resolver core, other (resolver/)", ("(resolver/",)),
    ("pipeline and batcher (streams/pipeline)", ("(streams/pipeline",)),
    ("Kafka fetch (aiokafka consumer, faust transport)", ("(aiokafka/", "(faust/transport")),
    ("faust, mode, aiohttp, event loop", ("(faust/", "(mode/", "(aiohttp/", "(asyncio/")),
)  # fmt: skip
_INCLUSIVE = {
    "triage agent": "process (streams/triage",
    "resolve agent": "apply (streams/sequencer",
    "mirror() in the resolve agent": "flush (streams/mirror",
}


def _process_of(stack: str) -> str:
    """Which process of the worker a py-spy stack (``--subprocesses``) is from: worker, triage or forked writer."""
    procs = [frame for frame in stack.split(";", 3)[:3] if frame.startswith("process ")]
    if len(procs) < 2:
        return "worker"
    return "triage processes" if "streams.triage_process" in procs[1] else "forked writers (snapshot, Redis)"


def profile_split(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Exclusive split of the worker process's CPU samples (py-spy raw format; first category in order wins).

    With ``--subprocesses`` the samples of the worker's children are counted apart (``by_process``),
    and the split is of the worker's own samples: the ordered stage's process.
    """
    split = dict.fromkeys([name for name, _ in _CATEGORIES] + ["other"], 0)
    by_process: dict[str, int] = {}
    inclusive = dict.fromkeys(_INCLUSIVE, 0)
    own: dict[str, int] = {}
    n = 0
    text = Path(path).read_text(errors="replace") if Path(path).exists() else ""
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        c = int(count)
        who = _process_of(stack)
        by_process[who] = by_process.get(who, 0) + c
        if who != "worker":
            continue
        n += c
        for name, needles in _CATEGORIES:
            if any(nd in stack for nd in needles):
                split[name] += c
                break
        else:
            split["other"] += c
        for name, needle in _INCLUSIVE.items():
            if needle in stack:
                inclusive[name] += c
        frames = [f for f in stack.split(";") if "(resolver/" in f or "(streams/" in f]
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + c
    if not n:
        return {"samples": 0}
    top = sorted(own.items(), key=lambda kv: -kv[1])[:10]
    total = sum(by_process.values())
    return {
        "samples": n,
        "by_process_pct": {k: round(100 * v / total, 1) for k, v in sorted(by_process.items())},
        "split_pct": {k: round(100 * v / n, 1) for k, v in split.items()},
        "inclusive_pct": {k: round(100 * v / n, 1) for k, v in inclusive.items()},
        "top_own_frames_pct": [[k, round(100 * v / n, 1)] for k, v in top],
    }
