"""Compile the functional core (`resolver/`) with mypyc: C extensions beside the .py sources.

Run by `make install` (and so by every target that installs: test, demo, bench, chaos, CI) with
``--or-pure``, and by `make core` (docs/architecture.md, "The compiled core"); `make core-clean`
removes the build. The .py files stay the truth: each compiled module is built from them, and
`resolver/__init__.py` (never compiled) imports the compiled modules only while the digest of the
sources recorded here at build time still matches them, the .py sources otherwise
(`resolver._native`).

A build is skipped when the one in place is current: the stamp's digest is the sources' and its
second line (mypy's version, this interpreter's extension suffix, the options) is this build's,
and every compiled module's extension is there. A build that failed is not tried again on the same
sources (``build/core.failed``: the pure core is used, said in one line). ``--force`` builds anyway.

Usage: ``python scripts/build_core.py [--clean] [--force] [--or-pure]``. Exits 0 when the core is
compiled (built now or already current), 3 when it could not be (no C compiler, no Python.h, no
mypyc, a failed build: said on stderr in one line, the pure Python core stays in use), 2 on bad
usage. ``--or-pure`` (make install) exits 0 instead of 3, unless ``IRL_REQUIRE_COMPILED_CORE=1``
is set (CI: a silent fallback must not pass). ``IRL_PURE_PYTHON=1`` skips the build (nothing is
compiled; a build in place stays, kept out at import by the same switch).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.util
import os
import shutil
import sys
import sysconfig
import time
from collections.abc import Iterator
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "resolver"
BUILD = ROOT / "build" / "mypyc"
#: Never compiled: the package's __init__ and _native choose between the compiled and the source modules;
#: batching's change set subclasses `set`, which native classes cannot (and it is not per-event work);
#: interaction's `Interaction` is built from untrusted fields first and validated after (`from_json`,
#: the shell's `validate(Interaction(...))`): a native class would refuse a field of the wrong type
#: with a bare TypeError where the pure one gives the reason ("event_id: must be a string, got float").
PURE = {"__init__.py", "_native.py", "batching.py", "interaction.py"}
#: mypyc's shared library for the whole group (the per-module extensions are shims into it)
GROUP = "resolver.native"
#: The stamp of a build that failed (the sources and build line it failed on): not tried again
FAILED = ROOT / "build" / "core.failed"
#: gcc's -O level for the generated C (mypyc's default)
OPT_LEVEL = "3"


def _source_digest() -> str:
    """`resolver._native.source_digest`, loaded without importing the package (which imports the core)."""
    # its import-time choice is of no use here: the pure switch keeps it quiet about the old build
    os.environ["IRL_PURE_PYTHON"] = "1"
    spec = importlib.util.spec_from_file_location("_irl_native", CORE / "_native.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    digest: str = module.source_digest(str(CORE))
    return digest


def built_files() -> list[Path]:
    """The compiled files of a previous build (extensions and the stamp) in resolver/."""
    suffixes = (".so", ".pyd")
    return sorted(p for p in CORE.iterdir() if p.name.endswith(suffixes) or p.name == "native.stamp")


def clean() -> None:
    for p in built_files():
        p.unlink()
    shutil.rmtree(BUILD, ignore_errors=True)


def _compiler() -> str | None:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(os.environ.get("CC", cc).split()[0])


def sources() -> list[str]:
    """The modules compiled, as paths from the repository's root."""
    return sorted(f"resolver/{p.name}" for p in CORE.glob("*.py") if p.name not in PURE)


def _build_line() -> str:
    """What else a build depends on: mypy's (mypyc's) version, the interpreter's ABI, the options."""
    try:
        from mypy.version import __version__ as mypy_version
    except ImportError:
        mypy_version = "none"
    return f"mypy {mypy_version}, {EXTENSION_SUFFIXES[0]}, opt_level {OPT_LEVEL}, group {GROUP}"


def current() -> bool:
    """Whether the build in place is this one's: stamp (sources and build line) and every extension."""
    try:
        stamp = (CORE / "native.stamp").read_text(encoding="ascii").splitlines()
    except OSError:
        return False
    if stamp != [_source_digest(), _build_line()]:
        return False
    suffix = EXTENSION_SUFFIXES[0]
    wanted = [CORE / (Path(src).stem + suffix) for src in sources()] + [CORE / f"native__mypyc{suffix}"]
    return all(p.exists() for p in wanted)


def _failed_before() -> bool:
    try:
        return FAILED.read_text(encoding="ascii").splitlines() == [_source_digest(), _build_line()]
    except OSError:
        return False


def _pure(reason: str) -> int:
    # One line: what is missing and what it costs. make install goes on with the pure core.
    print(
        f"build_core: {reason}: the core stays pure Python (correct, about 1.5x the CPU per event; "
        "`make core` compiles it once that is fixed)",
        file=sys.stderr,
    )
    return 3


def build() -> int:
    if _compiler() is None:
        return _pure("no C compiler (gcc) found")
    include = sysconfig.get_paths()["include"]
    if not (Path(include) / "Python.h").exists():
        return _pure(f"no Python.h under {include} (Debian: apt-get install python3-dev)")
    try:
        from mypyc.build import mypycify
        from setuptools import setup
    except ImportError as exc:
        return _pure(f"{exc} (make install installs mypy and setuptools)")
    os.chdir(ROOT)
    clean()
    modules = sources()
    # The sources' digest as they were read: a source edited while the build runs leaves the stamp stale
    # (the next make install builds again), never a stamp that claims the edit is compiled.
    stamp = f"{_source_digest()}\n{_build_line()}\n"
    started, cpu0 = time.monotonic(), os.times()
    try:
        extensions = mypycify(modules, opt_level=OPT_LEVEL, group_name=GROUP, target_dir=str(BUILD))
        setup(
            name="irl-core",
            ext_modules=extensions,
            script_args=[
                "-q",
                "build_ext",
                "--inplace",
                "--build-temp",
                str(BUILD / "tmp"),
                "--build-lib",
                str(BUILD / "lib"),
            ],
        )
    except (SystemExit, Exception) as exc:  # setuptools exits on compiler errors
        clean()
        # remembered, so that the next make install does not spend minutes on the same failure
        FAILED.write_text(stamp, encoding="ascii")
        return _pure(f"mypyc failed ({exc!r}; the compiler's output is above)")
    (CORE / "native.stamp").write_text(stamp, encoding="ascii")
    FAILED.unlink(missing_ok=True)
    cpu1 = os.times()
    cpu = (cpu1.children_user + cpu1.children_system + cpu1.user + cpu1.system) - (
        cpu0.children_user + cpu0.children_system + cpu0.user + cpu0.system
    )
    print(
        f"build_core: compiled {len(modules)} modules of resolver/ with mypyc in {time.monotonic() - started:.0f} s "
        f"({cpu:.0f} CPU s)",
        file=sys.stderr,
    )
    return 0


@contextlib.contextmanager
def _lock() -> Iterator[None]:
    """One build at a time in this checkout (an exclusive lock on build/core.lock)."""
    ROOT.joinpath("build").mkdir(exist_ok=True)
    with open(ROOT / "build" / "core.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", action="store_true", help="remove a previous build and compile nothing")
    parser.add_argument("--force", action="store_true", help="build even when the build in place is current")
    parser.add_argument("--or-pure", action="store_true", help="exit 0 when the core cannot be compiled (make install)")
    args = parser.parse_args()
    if args.clean:
        clean()
        return 0
    required = os.environ.get("IRL_REQUIRE_COMPILED_CORE", "") == "1"
    if os.environ.get("IRL_PURE_PYTHON", "") not in ("", "0"):
        if required:
            print("build_core: IRL_PURE_PYTHON and IRL_REQUIRE_COMPILED_CORE are both set", file=sys.stderr)
            return 3
        # nothing to compile; a build in place stays (the switch keeps it out at import)
        print("build_core: IRL_PURE_PYTHON=1: not compiling the core", file=sys.stderr)
        return 0
    with _lock():  # a second make install at the same time waits, then finds the build current
        if not args.force and current():
            return 0
        if not args.force and _failed_before():
            status = _pure("compiling these sources failed before (`make core` tries again)")
        else:
            status = build()
    return 0 if status == 3 and args.or_pure and not required else status


if __name__ == "__main__":
    sys.exit(main())
