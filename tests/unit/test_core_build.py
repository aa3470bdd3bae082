"""The core compiled by mypyc (`make core`, `scripts/build_core.py`) and the pure Python one agree.

The unit suite runs on whichever core is built (pure Python unless `make core` compiled it;
``IRL_REQUIRE_COMPILED_CORE=1`` makes a core that is not compiled fail here); these tests run
`irl replay` under it and under ``IRL_PURE_PYTHON=1`` (which keeps the compiled modules out,
`resolver._native`) and compare the outputs byte for byte: the same bytes twice without a build.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

import resolver
import resolver.engine
from resolver import _native

ROOT = Path(__file__).resolve().parents[2]
IRL = Path(sys.executable).parent / "irl"
MESSY = ROOT / "tests" / "fixtures" / "malformed" / "lines.jsonl"
T0 = 1_700_000_000_000


def _env(pure: bool) -> dict[str, str]:
    """This process's environment (the core as it runs here), or with the pure switch on."""
    return {**os.environ, _native.PURE_ENV: "1"} if pure else dict(os.environ)


def _events(path: Path, count: int) -> Path:
    """Events that merge, share phones and emails, repeat ids and carry names in several scripts."""
    with path.open("w", encoding="utf-8") as fh:
        for n in range(count):
            event = {
                "event_id": f"e{n % (count - 40)}",  # the last 40 resend earlier ids
                "touchpoint": ("WEB", "WHATSAPP", "STORE", "CALL_CENTER")[n % 4],
                "occurred_at": T0 + 997 * n,
                "source_id": f"src{n % 173}",
                "interaction": "visit",
                "phone": f"98765{n % 211:05d}" if n % 3 else "",
                "email": f"person{n % 149}@example.com" if n % 5 else "",
                "name": ("Asha Rao", "José Müller", "राम शर्मा", "Li Wei", "")[n % 5],
            }
            fh.write(json.dumps(event, ensure_ascii=False) + "\n")
    return path


def _replay(out: Path, events: list[Path], *flags: str, pure: bool) -> dict[str, bytes]:
    out.mkdir()
    paths = {name: out / f"{name}.out" for name in ("assignments", "profiles", "rejects")}
    argv = [str(IRL), "replay", *map(str, events), *(f"--{k}={v}" for k, v in paths.items()), *flags]
    proc = subprocess.run(argv, env=_env(pure), capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = proc.stderr.strip().splitlines()[-1].rpartition(" seconds=")[0]
    assert summary.startswith("events="), proc.stderr[-2000:]
    return {"summary": summary.encode(), **{name: path.read_bytes() for name, path in paths.items()}}


def _version_core(pure: bool) -> str:
    proc = subprocess.run([str(IRL), "version"], env=_env(pure), capture_output=True, text=True, timeout=60, check=True)
    return next(line for line in proc.stdout.splitlines() if line.startswith("core: "))


def test_the_core_says_which_modules_it_runs() -> None:
    compiled = not resolver.engine.__file__.endswith(".py")
    assert resolver.CORE_COMPILED is compiled
    assert resolver.CORE_BUILD.startswith("compiled (mypyc)" if compiled else "pure Python")
    if os.environ.get("IRL_REQUIRE_COMPILED_CORE") == "1":
        assert compiled, f"CI asked for the compiled core, running: {resolver.CORE_BUILD}"


def test_irl_version_names_the_core_and_the_pure_switch_keeps_the_compiled_modules_out() -> None:
    assert _version_core(pure=False) == f"core: {resolver.CORE_BUILD}"
    switched = f"core: pure Python ({_native.PURE_ENV}=1)"  # a build is there, kept out
    assert _version_core(pure=True) in (
        {switched} if resolver.CORE_COMPILED else {switched, "core: pure Python (not compiled)"}
    )


@pytest.mark.parametrize("mode", ["--sequential", "--workers=2"])
def test_replay_gives_the_same_bytes_compiled_and_pure(tmp_path: Path, mode: str) -> None:
    events = [_events(tmp_path / "events.jsonl", 3000), MESSY]
    compiled = _replay(tmp_path / "default", events, mode, pure=False)
    pure = _replay(tmp_path / "pure", events, mode, pure=True)
    assert compiled["assignments"].count(b"\n") > 1000
    assert compiled["rejects"], "the messy fixture has rejects"
    assert compiled == pure


def test_a_stale_build_is_not_imported(tmp_path: Path) -> None:
    """A source edited since the build: the stamp no longer matches and the sources are imported."""
    copy = tmp_path / "resolver"
    copy.mkdir()
    for p in (ROOT / "resolver").glob("*.py"):
        (copy / p.name).write_bytes(p.read_bytes())
    (copy / _native.STAMP).write_text(_native.source_digest(str(copy)) + "\n", encoding="ascii")
    # a stand-in extension: importing it would fail loudly, so a pass means it was kept out
    (copy / f"limits{EXTENSION_SUFFIXES[0]}").write_bytes(b"not an extension")
    probe = "import resolver, resolver.limits; print(resolver.CORE_BUILD, resolver.limits.__file__)"
    env = {**{k: v for k, v in os.environ.items() if k != _native.PURE_ENV}, "PYTHONPATH": str(tmp_path)}
    fresh = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert fresh.returncode != 0  # the stamp matches: the (broken) extension is imported
    with (copy / "limits.py").open("a", encoding="utf-8") as fh:
        fh.write("\n# edited after the build\n")
    stale = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert stale.returncode == 0, stale.stderr
    assert stale.stdout.split() == ["pure", "Python", "(compiled", "build", "is", "stale)", str(copy / "limits.py")]
    assert "make core" in stale.stderr


BUILD_CORE = ROOT / "scripts" / "build_core.py"


def _build_core(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in (_native.PURE_ENV, "IRL_REQUIRE_COMPILED_CORE", "CC")}
    return subprocess.run(
        [sys.executable, str(BUILD_CORE), *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_a_compiler_make_install_goes_on_pure_with_one_line_and_ci_fails() -> None:
    """No gcc: `make install` (--or-pure) exits 0 and says so once; `make core` and CI exit 3."""
    no_cc = {"CC": str(ROOT / "no-such-dir" / "gcc")}
    before = sorted(p.name for p in (ROOT / "resolver").iterdir())
    install = _build_core("--force", "--or-pure", **no_cc)
    assert install.returncode == 0, install.stderr
    assert install.stderr.count("\n") == 1 and "no C compiler" in install.stderr
    assert "the core stays pure Python" in install.stderr
    assert _build_core("--force", **no_cc).returncode == 3
    assert _build_core("--force", "--or-pure", IRL_REQUIRE_COMPILED_CORE="1", **no_cc).returncode == 3
    # a build in place (when there is one) is left alone: the compiler is looked for first
    assert sorted(p.name for p in (ROOT / "resolver").iterdir()) == before


def test_make_install_skips_a_current_build() -> None:
    """A compiled core whose stamp matches these sources is not built again (make test stays fast)."""
    if not resolver.CORE_COMPILED:
        pytest.skip("the core is not compiled here")
    stamp = (ROOT / "resolver" / _native.STAMP).read_text(encoding="ascii").splitlines()
    assert stamp[0] == _native.source_digest() and stamp[1].startswith("mypy ")
    again = _build_core("--or-pure")
    assert again.returncode == 0 and again.stderr == ""  # a build says "compiled ... modules" on stderr
    assert (ROOT / "resolver" / _native.STAMP).read_text(encoding="ascii").splitlines() == stamp
