"""Bearer-token authentication with two scopes: read, and operator (read + act + unmasked PII).

Contract:

* every path but ``/health`` needs a token; the token is ``Authorization: Bearer <token>``
  (the API's way), or, for GET and HEAD only, the ``irl_token`` cookie or a ``?token=``
  query parameter (browsers cannot send headers when following a link; a POST accepts
  neither, so a link or another site cannot trigger an action);
* a browser (``Accept: text/html``) that opens a page with a valid ``?token=`` is answered
  303 to the same URL without it, with the token in a cookie (``HttpOnly``,
  ``SameSite=Strict``, ``Path=/``, ``Secure`` over TLS, 12 hours): the token stays out of
  the browser's history and of every link of the pages, which never carry it;
* one exception for the pages' own buttons (the review queue's merge, split and dismiss): a
  POST sent as an HTML form (``application/x-www-form-urlencoded``) is authenticated by the
  cookie when the form also carries `FORM_FIELD`, a proof derived from the cookie's token
  (an HMAC of it, which does not reveal it) that only a page served to that cookie holds,
  and the browser says the request is same-origin (``Sec-Fetch-Site``, else ``Origin``
  matching the host). A link, another site or a script elsewhere has neither the proof nor,
  with ``SameSite=Strict``, the cookie; JSON bodies never act on the cookie;
* no token: 401; a token that matches neither setting: 401; a read token on an operator
  route: 403 (`require_operator`);
* an empty setting never matches: with neither token configured every view but
  ``/health`` is closed;
* tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import enum
import hmac
from typing import Any

from aiohttp import web

from streams.settings import Settings
from streams.web.errors import ApiError

__all__ = [
    "COOKIE",
    "FORM_FIELD",
    "OPEN_PATHS",
    "Scope",
    "auth_middleware",
    "form_token",
    "require_operator",
    "scope_of",
    "via_form",
]

#: Paths answered without a token (liveness probes cannot carry secrets).
OPEN_PATHS = frozenset({"/health"})

_CHALLENGE = 'Bearer realm="irl"'
#: The cookie a browser keeps the token in (set from ``?token=`` once).
COOKIE = "irl_token"
_COOKIE_SECONDS = 12 * 3600


class Scope(enum.Enum):
    """What a token allows."""

    READ = "read"
    OPERATOR = "operator"

    @property
    def sees_pii(self) -> bool:
        return self is Scope.OPERATOR


_SCOPE_KEY = web.RequestKey("irl.scope", Scope)
#: The form proof of the caller's token (pages put it in their forms), and whether a form acted.
_PROOF_KEY = web.RequestKey("irl.form_proof", str)
_FORM_KEY = web.RequestKey("irl.via_form", bool)
#: The hidden field of a page's form that lets the browser's cookie act.
FORM_FIELD = "irl_form"
_FORM_LABEL = b"irl-form-v1"


def _proof(token: str) -> str:
    return hmac.new(token.encode(), _FORM_LABEL, "sha256").hexdigest()


def _same_origin(request: web.Request) -> bool:
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    return origin.partition("://")[2] == request.host


async def _form_cookie(request: web.Request) -> str | None:
    """The cookie's token when this POST is one of our pages' forms (see the module contract)."""
    token = request.cookies.get(COOKIE) or None
    if token is None or request.content_type != "application/x-www-form-urlencoded" or not _same_origin(request):
        return None
    form = await request.post()
    given = form.get(FORM_FIELD)
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), _proof(token).encode()):
        return None
    return token


def _matches(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def _scope_for(token: str, settings: Settings) -> Scope | None:
    if _matches(token, settings.web_admin_token):
        return Scope.OPERATOR
    if _matches(token, settings.web_token):
        return Scope.READ
    return None


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def auth_middleware(settings: Settings) -> Any:
    """An aiohttp middleware that authenticates every request outside `OPEN_PATHS`."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path in OPEN_PATHS:
            response: web.StreamResponse = await handler(request)
            return response
        token = _bearer(request)
        from_query = False
        if token is None and request.method in ("GET", "HEAD"):
            token = request.query.get("token") or None
            from_query = token is not None
            if token is None:
                token = request.cookies.get(COOKIE) or None
        elif token is None and request.method == "POST":
            token = await _form_cookie(request)
            request[_FORM_KEY] = token is not None
        if token is None:
            if not (settings.web_token or settings.web_admin_token):
                message = "no token is configured (IRL_WEB_TOKEN): these views are closed"
            else:
                message = "missing bearer token: send 'Authorization: Bearer <token>'"
            raise ApiError(401, message, headers={"WWW-Authenticate": _CHALLENGE})
        scope = _scope_for(token, settings)
        if scope is None:
            raise ApiError(401, "invalid token", headers={"WWW-Authenticate": _CHALLENGE + ', error="invalid_token"'})
        request[_SCOPE_KEY] = scope
        request[_PROOF_KEY] = _proof(token)
        if from_query and "text/html" in request.headers.get("Accept", ""):
            raise _to_cookie(request, token)
        response = await handler(request)
        return response

    return authenticate


def scope_of(request: web.Request) -> Scope:
    """The caller's scope (READ when the request was not authenticated, e.g. ``/health``)."""
    scope: Scope = request.get(_SCOPE_KEY, Scope.READ)
    return scope


def form_token(request: web.Request) -> str | None:
    """The `FORM_FIELD` value for the forms of a page answering this request (None: not authenticated)."""
    return request.get(_PROOF_KEY)


def via_form(request: web.Request) -> bool:
    """True when a page's form (the cookie and its proof) authenticated this request."""
    return bool(request.get(_FORM_KEY, False))


def _to_cookie(request: web.Request, token: str) -> web.HTTPSeeOther:
    """303 to the same path and query without ``token``, setting the cookie from it."""
    query = request.rel_url.query.copy()
    query.popall("token")
    redirect = web.HTTPSeeOther(str(request.rel_url.with_query(query)))
    redirect.set_cookie(
        COOKIE, token, max_age=_COOKIE_SECONDS, path="/", httponly=True, samesite="Strict", secure=request.secure
    )
    return redirect


def require_operator(request: web.Request) -> None:
    """Raise 403 unless the caller holds the operator token."""
    if scope_of(request) is not Scope.OPERATOR:
        raise ApiError(
            403,
            "this action needs the operator token (IRL_WEB_ADMIN_TOKEN)",
            headers={"WWW-Authenticate": _CHALLENGE + ', error="insufficient_scope"'},
        )
