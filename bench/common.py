"""Shared helpers of the benchmarks: the machine, cached data, child processes, isolated workers.

Every figure that matters is a ratio against a reference measured in the same run; absolute
figures are medians. Services (Kafka, Redis) are shared with other users of the machine, so
each run isolates itself: a unique topic prefix and app id, and a Redis database of its own
(``IRL_BENCH_REDIS_DB``, default 12) that it flushes.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "DATA",
    "ROOT",
    "Worker",
    "bench_env",
    "count_lines",
    "cpu_timed",
    "dataset",
    "free_port",
    "irl",
    "machine",
    "median",
    "ready",
    "redis_url",
    "run_measured",
    "spawn_results",
    "synthetic_args",
]

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data"
BIN = Path(sys.executable).parent
KAFKA = os.environ.get("IRL_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
REDIS_DB = int(os.environ.get("IRL_BENCH_REDIS_DB", "12"))

#: Runs ``main()`` of a bench module with another source tree's `resolver` and `streams` (argv: tree, root,
#: then the module's own); the editable install's finder is dropped, and the probe module must come from it.
_TREE_RUN = (
    "import importlib, sys; module, probe, tree, root = sys.argv[1:5]; del sys.argv[1:5]; "
    "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
    "sys.path.insert(0, tree); m = importlib.import_module(probe); "
    "assert m.__file__.startswith(tree), m.__file__; "
    "sys.path.insert(0, root); sys.exit(importlib.import_module(module).main())"
)


def spawn_results(module: str, probe: str, tree: Path | None, argv: list[str]) -> list[dict[str, Any]]:
    """The ``RESULT {json}`` lines of ``python -m module argv`` in a child: this checkout's code, or with
    ``tree``'s `resolver` and `streams` (``probe``, a module of that tree, is checked to come from it)."""
    if tree is None:
        cmd = [str(BIN / "python"), "-m", module, *argv]
    else:
        cmd = [str(BIN / "python"), "-c", _TREE_RUN, module, probe, str(tree), str(ROOT), *argv]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed: {proc.stderr[-3000:]}")
    return [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]


@functools.cache
def _local_redis() -> str:
    """The local Redis's URL without a database, password included (`scripts/redis.sh url`)."""
    done = subprocess.run(["scripts/redis.sh", "url"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True)
    return done.stdout.strip().rsplit("/", 1)[0]


def redis_url() -> str:
    """Our Redis database: IRL_BENCH_REDIS_URL's server if set, else the local one (it requires a password)."""
    base = os.environ.get("IRL_BENCH_REDIS_URL") or _local_redis()
    return f"{base.rstrip('/')}/{REDIS_DB}"


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


_T = TypeVar("_T")


def cpu_timed(fn: Callable[[], _T]) -> tuple[float, _T]:
    """Call ``fn``; the CPU seconds this process spent in it (`time.process_time`) and its result."""
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def synthetic_args(ap: argparse.ArgumentParser) -> None:
    """The options of an in-process benchmark over `streams.synthetic` data: its size, seed, runs and step size."""
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=500)


def irl(*args: str, env: dict[str, str] | None = None, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """Run the `irl` command; raises with its stderr on failure."""
    proc = subprocess.run(
        [str(BIN / "irl"), *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"irl {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc


def dataset(customers: int, seed: int = 1) -> Path:
    """`irl generate --customers N --seed S` cached under bench/.data/ (about 5 events per customer)."""
    out = DATA / f"c{customers}-s{seed}"
    events = out / "events.jsonl"
    if not (out / ".complete").exists():
        out.mkdir(parents=True, exist_ok=True)
        irl("generate", "--customers", str(customers), "--seed", str(seed), "--out", str(out))
        (out / ".complete").write_text("ok\n")
    return events


def count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


#: Runs ``argv[2:]`` as its own forked child and writes that child's ``ru_maxrss`` (KiB) to fd
#: ``argv[1]``. A child of this process cannot be measured directly: `subprocess` starts it with
#: vfork, and Linux carries the high-water RSS of the memory it leaves at exec (this process's)
#: into the child's ``ru_maxrss``, so every child read at least this process's own peak. Forked
#: from a bare ``python -S -I``, the floor is about 5 MB instead.
_PEAK = (
    "import os, sys\n"
    "fd = int(sys.argv[1])\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.close(fd)\n"
    "    try:\n"
    "        os.execvp(sys.argv[2], sys.argv[2:])\n"
    "    except OSError as exc:\n"
    "        os.write(2, f'{sys.argv[2]}: {exc}\\n'.encode())\n"
    "    os._exit(127)\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "os.write(fd, str(usage.ru_maxrss).encode())\n"
    "code = os.waitstatus_to_exitcode(status)\n"
    "sys.exit(128 - code if code < 0 else code)\n"
)


def run_measured(argv: list[str], env: dict[str, str] | None = None) -> tuple[str, str, float, int]:
    """Run argv; return (stdout, stderr, wall seconds, peak RSS bytes of that child, from wait4).

    The child is started through a small trampoline (`_PEAK`) so that its peak RSS is its own,
    not at least this process's; the wall time includes the trampoline's start (about 20 ms).
    """
    import threading

    read_fd, write_fd = os.pipe()
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-S", "-I", "-c", _PEAK, str(write_fd), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=env,
            pass_fds=(write_fd,),
        )
    finally:
        os.close(write_fd)
    chunks: dict[str, list[bytes]] = {"out": [], "err": []}

    def _drain(name: str, stream: Any) -> None:
        for block in iter(lambda: stream.read(65536), b""):
            chunks[name].append(block)

    # Read both pipes without deadlock, then reap the trampoline and read what it measured.
    threads = [
        threading.Thread(target=_drain, args=("out", proc.stdout), daemon=True),
        threading.Thread(target=_drain, args=("err", proc.stderr), daemon=True),
    ]
    for t in threads:
        t.start()
    proc.wait()
    wall = time.perf_counter() - t0
    for t in threads:
        t.join(timeout=10)
    with os.fdopen(read_fd, "rb") as peak:
        kib = peak.read().strip()
    out = b"".join(chunks["out"]).decode(errors="replace")
    err = b"".join(chunks["err"]).decode(errors="replace")
    if proc.returncode != 0 or not kib.isdigit():
        raise RuntimeError(f"{argv[:3]} failed ({proc.returncode}): {err[-2000:]}")
    return out, err, wall, int(kib) * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_env(prefix: str, **extra: str) -> dict[str, str]:
    """An isolated worker environment: unique prefix and app id, our Redis database, short windows."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRL_")}
    env.update(
        {
            "IRL_KAFKA_BOOTSTRAP": KAFKA,
            "IRL_TOPIC_PREFIX": prefix,
            "IRL_APP_ID": f"{prefix}-app",
            "IRL_REDIS_URL": redis_url(),
            "IRL_WINDOW_SECONDS": "5",
            "IRL_GRACE_SECONDS": "1",
            "IRL_TICK_SECONDS": "0.5",
            "IRL_WEB_TOKEN": "bench-" + uuid.uuid4().hex[:12],
            "IRL_DIGEST_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
            "IRL_DATA_DIR": str(DATA / "run" / prefix),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def new_prefix(tag: str) -> str:
    return f"bench{tag}{uuid.uuid4().hex[:6]}"


def ready(port: int, token: str, timeout: float = 3.0) -> tuple[int, dict[str, Any] | None]:
    """GET /ready: (status, body) or (0, None) when nothing answers."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/ready", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(json.loads(resp.read()))
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, dict(json.loads(exc.read()))
        except ValueError:
            return exc.code, None
    except (OSError, ValueError):
        return 0, None


def rss_bytes(pid: int, field_name: str = "VmRSS", children: bool = True) -> int:
    """`field_name` of process `pid` in bytes, plus its triage processes' (`streams.triage_process`).

    Forked children (a snapshot's or a Redis flush's writer) are not added: they share their
    pages with the worker until either writes, so adding their RSS would count those twice.
    """
    total = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                total = int(line.split()[1]) * 1024
    except OSError:
        return 0
    if children:
        total += sum(rss_bytes(child, field_name, children=False) for child in child_pids(pid))
    return total


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def child_pids(pid: int, command: bytes = b"streams.triage_process") -> list[int]:
    """Live child processes of `pid` whose command line holds `command` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            after = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(after[1]) == pid and after[0] != "Z" and command in _cmdline(entry):
            found.append(int(entry.name))
    return found


@dataclass
class Worker:
    """One `irl worker` child with its own web port and log file."""

    env: dict[str, str]
    name: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0

    @property
    def token(self) -> str:
        return self.env["IRL_WEB_TOKEN"]

    @property
    def log(self) -> Path:
        return DATA / "run" / f"{self.name}.log"

    def start(self) -> Worker:
        env = dict(self.env, IRL_WEB_PORT=str(self.port))
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [str(BIN / "irl"), "worker", "-l", os.environ.get("IRL_BENCH_LOG_LEVEL", "warn")],
                env=env,
                cwd=ROOT,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started = time.monotonic()
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> tuple[int, dict[str, Any] | None]:
        return ready(self.port, self.token)

    def check(self) -> None:
        if not self.alive():
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"worker {self.name} exited:\n{tail}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


@contextmanager
def workers(ws: list[Worker]) -> Iterator[list[Worker]]:
    try:
        yield ws
    finally:
        for w in ws:
            w.stop()


def poll_until(check: Callable[[], Any], timeout: float, every: float = 0.2, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"{what} not reached within {timeout:.0f}s")


def _version(pkg: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "-"


def _kafka_version() -> str:
    # scripts/kafka.sh keeps the jars in .cache/kafka/libs-<version>/ (never walk run-*/: Kafka deletes there).
    libs = sorted((ROOT / ".cache" / "kafka").glob("libs-*")) if (ROOT / ".cache" / "kafka").is_dir() else []
    return libs[-1].name.removeprefix("libs-") if libs else "unknown"


def _redis_version() -> str:
    try:
        import redis

        return str(redis.Redis.from_url(redis_url()).info("server").get("redis_version", "?"))
    except Exception:
        return "unknown"


def _core_build() -> str:
    from resolver import CORE_BUILD

    return CORE_BUILD


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model, Python and library versions, the core (compiled or not), Kafka and Redis versions."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem / 2**30, 1),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": platform.python_version(),
        # which core the children run: the mypyc-compiled modules or the .py sources (`resolver._native`)
        "core": _core_build(),
        "kafka": _kafka_version(),
        "redis_server": _redis_version(),
        "packages": {
            p: _version(p) for p in ("faust-streaming", "aiokafka", "fastavro", "redis", "phonenumbers", "py-spy")
        },
    }


def max_rss_self() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
