"""Errors of the web views, and the middleware that turns every failure into a JSON answer.

    ApiError (status, message)      raised by views and auth for a known 4xx/503 answer
    web.HTTPException (aiohttp)     404 unknown route, 405 wrong method: answered as JSON
    anything else                   a bug: logged (masked, no traceback text with PII), 500 JSON

Bad input must never reach the last branch: views validate before they touch the resolver.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from streams.masking import mask_text

__all__ = ["ApiError", "error_middleware", "json_error"]

log = logging.getLogger("irl.web")


class ApiError(Exception):
    """A known failure answered as ``{"error": message, "status": status}`` (message has no PII)."""

    def __init__(self, status: int, message: str, *, headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.extra = extra


def json_error(status: int, message: str, headers: Mapping[str, str] | None = None, **extra: Any) -> web.Response:
    """The one shape of every error answer."""
    body = {"error": message, "status": status, **extra}
    return web.json_response(body, status=status, headers=dict(headers or {}))


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Outermost middleware: no view failure escapes as aiohttp's HTML error page, nothing is cached.

    Every answer may hold customer data (profiles, explanations, an operator's unmasked view):
    ``Cache-Control: no-store`` unless a view set its own.
    """
    return _no_store(await _answer(request, handler))


def _no_store(response: web.StreamResponse) -> web.StreamResponse:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def _answer(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ApiError as exc:
        return json_error(exc.status, exc.message, exc.headers, **exc.extra)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects are answers, not errors
        return json_error(exc.status, exc.reason or "error", _allow(exc))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        # The message may quote input: mask it; no traceback, which would repeat it unmasked.
        log.error(
            "web view %s %s failed: %s: %s",
            request.method,
            mask_text(request.path),
            type(exc).__name__,
            mask_text(str(exc))[:300],
        )
        return json_error(500, "internal error: the worker logged it")


def _allow(exc: web.HTTPException) -> dict[str, str]:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else {}
