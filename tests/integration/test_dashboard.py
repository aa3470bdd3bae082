"""The dashboard and an explanation page in a real headless Chromium (Debian's package).

The views are served on a real aiohttp server on a free loopback port, over a runtime whose
single-writer pipeline resolved a few events (one customer with a refused link through a
quarantined kiosk phone). Chromium is installed by scripts/chromium.sh when missing; the
test fails, never skips, when it cannot be. Screenshots are saved in the test's tmp dir.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from resolver.config import ResolverConfig
from resolver.interaction import Interaction
from streams.pipeline import Pipeline
from streams.runtime import Runtime
from streams.settings import Settings
from streams.web import create_web_app, record_published

from .browser import headless
from .harness import register

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
READ = "browser-read-token"
T0 = 1_700_000_000_000


def _runtime(settings: Settings) -> Runtime:
    rt = Runtime(settings)
    register({settings.topic_resolved: "resolved_customer"})  # the changelog is encoded as the worker does
    rt.pipeline = Pipeline(ResolverConfig(), 60_000, 1_000, resolved_topic=settings.topic_resolved)

    def ev(i: int, tp: str, src: str, **kw: Any) -> Interaction:
        return Interaction(f"evt-{i}", tp, T0 + i * 1000, src, "visit", **kw)

    people = ["Amit", "Bina", "Chen", "Dev", "Esha", "Farid", "Gita"]
    events = [
        ev(1, "WEB", "ck-aaaa1111", phone="98450 71623", email="asha.rao@gmail.com", name="Asha Rao"),
        ev(2, "WHATSAPP", "919845071623", name="Asha"),
        ev(3, "KIOSK", "kiosk-7", phone="98450 71623", name="Asha R"),
        # A shop's phone typed for everyone at a kiosk: it becomes a quarantined hub.
        *[
            ev(10 + i, "KIOSK", f"kiosk-h{i}", phone="99004 12871", email=f"{n.lower()}@gmail.com", name=n)
            for i, n in enumerate(people)
        ],
        ev(30, "WEB", "ck-aaaa1111", phone="99004 12871", name="Asha Rao"),
        ev(31, "KIOSK", "kiosk-9", phone="12345", name="Zed"),
    ]
    for offset, event in enumerate(events):
        for step in rt.pipeline.on_events(offset, [event]):
            rt.stats["events_applied"] += step.events - step.duplicates
            record_published(rt, step.records)
    for step in rt.pipeline.on_tick(len(events), T0 + 10 * 60_000):
        record_published(rt, step.records)
        rt.stats["records_published"] += len(step.outputs)
        if step.records:
            rt.stats["windows_published"] += 1
            rt.stats["last_window_end"] = step.records[-1]["window_end"]
            rt.stats["last_publish_ms"] = step.records[-1]["window_end"] + 1_500
    rt.recovered = True
    rt.owns_links = True  # this worker is the single writer
    return rt


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Runtime]]:
    settings = Settings(web_token=READ, web_admin_token="browser-admin-token")
    rt = _runtime(settings)

    async def refuse(action: dict[str, Any]) -> None:
        raise AssertionError("the browser must not act")

    runner = web.AppRunner(create_web_app(rt, settings, refuse, stats_ttl=0.0))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", rt
    finally:
        await runner.cleanup()


async def test_dashboard_and_explanation_inheadless(chromium: str, server: tuple[str, Runtime], tmp_path: Path) -> None:
    base, rt = server
    assert rt.pipeline is not None
    asha = rt.pipeline.resolver.customer_of_event("evt-1")
    assert asha is not None

    dom = await headless(chromium, tmp_path / "profile-1", "--dump-dom", f"{base}/?token={READ}")
    for text in ("IRL on-call", "Confidence distribution", "Largest clusters", "Quarantined and blocked", asha):
        assert text in dom, text
    assert "9845071623" not in dom and "asha.rao" not in dom

    explain_url = f"{base}/customers/{asha}/explain?format=html&token={READ}"
    dom = await headless(chromium, tmp_path / "profile-2", "--dump-dom", explain_url)
    for text in (
        "Evidence graph",
        "Linking events",
        "evt-1",
        "evt-30",
        "refused",
        "phone quarantined",
        "+91********23",
    ):
        assert text in dom, text
    assert "9845071623" not in dom

    # The search box leads from a phone number to the same explanation.
    dom = await headless(chromium, tmp_path / "profile-3", "--dump-dom", f"{base}/search?q=98450+71623&token={READ}")
    assert f"<title>Explain {asha}</title>" in dom and "Evidence graph" in dom

    for name, url in (("dashboard.png", f"{base}/?token={READ}"), ("explain.png", explain_url)):
        shot = tmp_path / name
        await headless(chromium, tmp_path / f"profile-{name}", f"--screenshot={shot}", url)
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
