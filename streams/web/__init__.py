"""The on-call web views of a worker: look up, explain, act; stats, metrics and a dashboard.

Entry points:

* `install(app, rt, settings, send_action)`: mount every route and the middlewares on the
  Faust app's own aiohttp server (call it from `create_app`, before the worker starts);
* `create_web_app(rt, settings, send_action)`: the same views on a plain aiohttp
  application (tests, tools);
* `record_published(rt, records)`: the single writer reports what it published (history
  and per-window counts on the views).

Modules: `auth` (tokens, scopes), `errors` (JSON errors), `views` (handlers), `stats`,
`metrics` (Prometheus text), `pages` (HTML), `evidence_svg`, `histogram_svg`, `redact`
(PII masking per scope), `refs`, `actions` (queue + audit), `journal`.
"""

from __future__ import annotations

from typing import Any

import faust
from aiohttp import web

from streams.runtime import Runtime
from streams.settings import Settings
from streams.web.actions import SendAction
from streams.web.auth import Scope, auth_middleware
from streams.web.errors import error_middleware
from streams.web.journal import record_published
from streams.web.serverlog import quiet_bad_requests
from streams.web.stats import LagProbe
from streams.web.views import KafkaProbe, Views

__all__ = [
    "Scope",
    "SendAction",
    "build_routes",
    "create_web_app",
    "install",
    "middlewares",
    "record_published",
    "runtime_lag_probe",
]


def middlewares(settings: Settings) -> list[Any]:
    """Error handling (outermost), then authentication."""
    return [error_middleware, auth_middleware(settings)]


def build_routes(
    rt: Runtime,
    settings: Settings,
    send_action: SendAction,
    *,
    kafka_probe: KafkaProbe | None = None,
    lag_probe: LagProbe | None = None,
    stats_ttl: float = 5.0,
) -> list[web.RouteDef]:
    """Every route of the views over ``rt`` (mount together with `middlewares`)."""
    views = Views(rt, settings, send_action, kafka_probe=kafka_probe, lag_probe=lag_probe, stats_ttl=stats_ttl)
    return views.routes()


def create_web_app(
    rt: Runtime,
    settings: Settings,
    send_action: SendAction,
    *,
    kafka_probe: KafkaProbe | None = None,
    lag_probe: LagProbe | None = None,
    stats_ttl: float = 5.0,
) -> web.Application:
    """A plain aiohttp application serving the views (what `install` mounts on Faust's)."""
    quiet_bad_requests()
    app = web.Application(middlewares=middlewares(settings))
    app.router.add_routes(
        build_routes(rt, settings, send_action, kafka_probe=kafka_probe, lag_probe=lag_probe, stats_ttl=stats_ttl)
    )
    return app


def runtime_lag_probe(rt: Runtime) -> LagProbe:
    """Consumer lag per ``topic/partition`` from the stages' own consumers (None when none is known yet)."""

    def probe() -> dict[str, int] | None:
        out: dict[str, int] = {}
        known = False
        for source in rt.lag_sources:
            lag = source()
            if lag is not None:
                known = True
                out.update(lag)
        return out if known else None

    return probe


def install(app: faust.App, rt: Runtime, settings: Settings, send_action: SendAction) -> None:
    """Mount the views and middlewares on the Faust app's aiohttp server (before it starts).

    Faust's own table and router views must be off (``web_tables_enabled=False``,
    ``web_router_enabled=False``): they serve table contents without authentication.
    """
    if app.conf.web_tables_enabled or app.conf.web_router_enabled:
        raise ValueError("turn Faust's table and router views off: they bypass authentication")
    quiet_bad_requests()
    web_app = getattr(app.web, "web_app", None)
    if not isinstance(web_app, web.Application):
        raise TypeError("the views need Faust's aiohttp web driver")
    routes = build_routes(rt, settings, send_action, lag_probe=runtime_lag_probe(rt))
    ours = {route.path for route in routes if isinstance(route, web.RouteDef)}
    # aiohttp serves the first match: an older page on one of our paths would shadow ours,
    # and bypass authentication if it was mounted without it.
    taken = sorted(ours & {r.canonical for r in web_app.router.resources()})
    if taken:
        raise ValueError(f"paths already served by another view: {', '.join(taken)}; remove those pages")
    for middleware in middlewares(settings):
        web_app.middlewares.append(middleware)
    web_app.router.add_routes(routes)
