"""Compile the functional core (`resolver/`) with mypyc: C extensions beside the .py sources.

Run by `make core` (experimental, opt-in: docs/architecture.md, "The compiled core"); `make
core-clean` removes the build. The .py
files stay the truth: each compiled module is built from them, and `resolver/__init__.py`
(never compiled) imports the compiled modules only while the digest of the sources recorded
here at build time still matches them, the .py sources otherwise (`resolver.core_build`).

Usage: ``python scripts/build_core.py [--clean]``. Exits 0 when the core was compiled, 3 when
it could not be (no C compiler, no mypyc, a failed build: said on stderr, the pure Python core
stays in use), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import sysconfig
import time
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


def build() -> int:
    if _compiler() is None:
        print("build_core: no C compiler found: the core stays pure Python (slower)", file=sys.stderr)
        return 3
    include = sysconfig.get_paths()["include"]
    if not (Path(include) / "Python.h").exists():
        print(f"build_core: no Python.h under {include}: the core stays pure Python (slower)", file=sys.stderr)
        return 3
    try:
        from mypyc.build import mypycify
        from setuptools import setup
    except ImportError as exc:
        print(f"build_core: {exc}: the core stays pure Python (slower)", file=sys.stderr)
        return 3
    os.chdir(ROOT)
    clean()
    sources = sorted(f"resolver/{p.name}" for p in CORE.glob("*.py") if p.name not in PURE)
    started, cpu0 = time.monotonic(), os.times()
    try:
        extensions = mypycify(sources, opt_level="3", group_name=GROUP, target_dir=str(BUILD))
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
        print(f"build_core: mypyc failed ({exc!r}): the core stays pure Python (slower)", file=sys.stderr)
        return 3
    (CORE / "native.stamp").write_text(_source_digest() + "\n", encoding="ascii")
    cpu1 = os.times()
    cpu = (cpu1.children_user + cpu1.children_system + cpu1.user + cpu1.system) - (
        cpu0.children_user + cpu0.children_system + cpu0.user + cpu0.system
    )
    print(
        f"build_core: compiled {len(sources)} modules of resolver/ with mypyc in {time.monotonic() - started:.0f} s "
        f"({cpu:.0f} CPU s)",
        file=sys.stderr,
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", action="store_true", help="remove a previous build and compile nothing")
    args = parser.parse_args()
    if args.clean:
        clean()
        return 0
    return build()


if __name__ == "__main__":
    sys.exit(main())
