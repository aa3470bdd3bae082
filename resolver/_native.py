"""Which core runs: the modules compiled by mypyc (`scripts/build_core.py`) or the .py sources.

Never compiled itself. `make install` (or `make core`) compiles the core's modules into C extensions beside the
sources and records the digest of the sources in ``native.stamp`` (its first line); an extension shadows its .py
file on import. Imported first by the package, this module keeps the compiled modules out (the
sources are imported instead) when they are not the sources' own: no stamp, a stamp of other
sources (a .py edited since the build: a note on stderr says to run `make core` again), or
``IRL_PURE_PYTHON=1`` in the environment (a switch of the build, read once at import, which
the core's logic never sees).
"""

from __future__ import annotations

import hashlib
import os
import sys
from importlib.machinery import (
    BYTECODE_SUFFIXES,
    EXTENSION_SUFFIXES,
    SOURCE_SUFFIXES,
    FileFinder,
    SourceFileLoader,
    SourcelessFileLoader,
)

__all__ = ["COMPILED", "PURE_ENV", "STAMP", "build", "source_digest"]

#: The environment variable that keeps the compiled modules out (any value but "" and "0").
PURE_ENV = "IRL_PURE_PYTHON"
#: The file beside the sources that records the digest the compiled modules were built from.
STAMP = "native.stamp"

_HERE = os.path.dirname(os.path.abspath(__file__))


def source_digest(directory: str = _HERE) -> str:
    """SHA-256 over the names and bytes of the package's .py files, in name order."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(directory)):
        if name.endswith(".py"):
            h.update(name.encode("utf-8") + b"\0")
            with open(os.path.join(directory, name), "rb") as handle:
                h.update(handle.read())
            h.update(b"\0")
    return h.hexdigest()


def _has_extensions(directory: str) -> bool:
    return any(name.endswith(tuple(EXTENSION_SUFFIXES)) for name in os.listdir(directory))


def _sources_only(directory: str) -> None:
    """Import the package's submodules from `directory`'s .py files, never its extensions."""
    sys.path_importer_cache[directory] = FileFinder(
        directory, (SourceFileLoader, SOURCE_SUFFIXES), (SourcelessFileLoader, BYTECODE_SUFFIXES)
    )


def _choose(directory: str) -> tuple[bool, str]:
    if not _has_extensions(directory):
        return False, "pure Python (not compiled)"
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        _sources_only(directory)
        return False, f"pure Python ({PURE_ENV}=1)"
    try:
        with open(os.path.join(directory, STAMP), encoding="ascii") as handle:
            stamp = handle.readline().strip()  # the digest; the build's line follows
    except OSError:
        stamp = ""
    if stamp != source_digest(directory):
        _sources_only(directory)
        # Not a warning: pytest turns warnings into errors, and the sources are the truth anyway.
        print(
            "resolver/: the compiled modules were not built from these sources (edited since `make core`?): "
            "running the pure Python core; `make core` compiles it again",
            file=sys.stderr,
        )
        return False, "pure Python (compiled build is stale)"
    return True, "compiled (mypyc)"


#: Whether the compiled modules are the ones imported, and which core runs, in words.
COMPILED, build = _choose(_HERE)
