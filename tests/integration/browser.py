"""Headless Chromium for the browser tests: installed by scripts/chromium.sh, run without network noise."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

__all__ = ["chromium", "headless"]


@pytest.fixture(scope="module")
def chromium() -> str:
    """Path of Chromium, installed with scripts/chromium.sh when missing (failure fails the test)."""
    try:
        done = subprocess.run(
            [str(ROOT / "scripts" / "chromium.sh")], capture_output=True, text=True, timeout=900, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail("scripts/chromium.sh did not finish in 15 minutes")
    path = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0 or not os.access(path, os.X_OK):
        pytest.fail(f"chromium could not be installed (rc {done.returncode}): {done.stderr[-2000:]}")
    return path


async def headless(binary: str, profile: Path, *args: str) -> str:
    """Run headless Chromium without blocking the loop that serves the page; returns stdout."""
    proc = await asyncio.create_subprocess_exec(
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1400,1100",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail("chromium did not finish within 120 s")
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode(errors="replace")
