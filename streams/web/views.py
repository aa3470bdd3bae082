"""The on-call views: read the single writer's state, explain it, queue operator actions.

Every handler validates its input before it touches the resolver (bad input: 4xx JSON with
a message), answers 503 on a standby worker that has no resolver (lookups and profiles fall
back to the Redis read model there), and masks personal data unless the caller holds the
operator token. Actions are only queued (`streams.web.actions`), never applied here.

Routes: see `Views.routes`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from resolver.engine import Resolver
from resolver.explain import split_lookup_reason
from resolver.interaction import TOUCHPOINTS
from streams.pipeline import Pipeline
from streams.runtime import Runtime
from streams.settings import Settings
from streams.web.actions import ActionDesk, SendAction
from streams.web.auth import Scope, form_token, require_operator, scope_of, via_form
from streams.web.errors import ApiError
from streams.web.evidence_svg import evidence_svg
from streams.web.journal import journal_of
from streams.web.metrics import CONTENT_TYPE, render
from streams.web.pages import HTML_HEADERS, dashboard_html, explain_html, href, message_html, review_html
from streams.web.redact import mask_key, mask_ref, redact_explanation, redact_profile, redact_why
from streams.web.refs import ReadModelKeys, ref_kind
from streams.web.stats import LOW_CONFIDENCE, LagProbe, StatsCollector

__all__ = ["KafkaProbe", "Views", "tcp_reachable"]

KafkaProbe = Callable[[], Awaitable[bool]]

_CUSTOMER_ID = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
_ACTOR = re.compile(r"[A-Za-z0-9_.@\-]{1,64}")
_TOUCHPOINTS = tuple(tp for tp in TOUCHPOINTS if tp != "UNKNOWN")  # what a lookup may name
_MAX_REASON = 500
_MAX_LISTED = 500
#: Pairs on the review queue by default, and at most (``?limit=``).
_REVIEW_DEFAULT = 50
_REVIEW_MAX = 500
#: Low-confidence customers explained between two yields to the single writer.
_LOW_CHUNK = 50
#: A WhatsApp lookup's reason when the account's phone is split between people (`resolver.explain.lookup`).
_OWNER = "the WhatsApp account's own messages: its phone is split between people, this is its owner"
#: Aliases a standby follows from an absorbed id to its survivor (each hop: an absorption of the survivor).
_MAX_HOPS = 64
_STANDBY = (
    "this worker is on standby: it does not own the resolver partition; "
    "ask the worker that does, or retry after the rebalance"
)


async def tcp_reachable(bootstrap: str, timeout: float = 1.0) -> bool:
    """True when a TCP connection to any ``host:port`` of ``bootstrap`` opens within ``timeout``."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        except (OSError, ValueError, TimeoutError):
            continue
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
        return True
    return False


def _absorbed_changelog(pipeline: Pipeline, cid: str, version: int) -> dict[str, Any]:
    """What the changelog told, or will tell, the CRM of an absorbed id, from the state alone.

    ``absorbed``: ``published`` (its `ABSORBED`, version `version`, was published: the CRM
    redirects the id), ``pending`` (its window is open: the `ABSORBED` follows when it closes,
    for an id created in that window too, since s38), or ``never announced`` (created and
    absorbed within one window of a state written before s38, when such ids had no record: an
    interaction published under it belongs to the customer holding its touchpoint record,
    docs/crm-connector.md).
    """
    batcher = pipeline.batcher
    pending = False
    for w in batcher.windows():
        pw = batcher.pending(w.start)
        if pw is not None and cid in pw.absorbed:
            pending = True
            break
    absorbed = "pending" if pending else "published" if version > 0 else "never announced"
    return {"announced": version > 0, "absorbed": absorbed}


class HeldProbe:
    """A probe whose yes is held for `hold_s`: readiness polled ten times a second opens one connection a
    second, not ten (each costs the worker and the broker a connect and a close); a no is asked again."""

    def __init__(self, probe: KafkaProbe, hold_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.probe = probe
        self.hold_s = hold_s
        self.clock = clock
        self._yes_until = float("-inf")

    async def __call__(self) -> bool:
        if self.clock() < self._yes_until:
            return True
        ok = await self.probe()
        if ok:
            self._yes_until = self.clock() + self.hold_s
        return ok


class Views:
    """The handlers of one worker, bound to its runtime and settings."""

    def __init__(
        self,
        rt: Runtime,
        settings: Settings,
        send_action: SendAction,
        *,
        kafka_probe: KafkaProbe | None = None,
        lag_probe: LagProbe | None = None,
        stats_ttl: float = 5.0,
    ) -> None:
        self.rt = rt
        self.settings = settings
        self.stats = StatsCollector(rt, ttl=stats_ttl, lag_probe=lag_probe)
        self.desk = ActionDesk(rt, send_action)
        self.keys = ReadModelKeys(settings)
        self.kafka_probe = kafka_probe or HeldProbe(lambda: tcp_reachable(settings.kafka_bootstrap))
        self.max_len = min(settings.max_string, 1024)

    def routes(self) -> list[web.RouteDef]:
        """Every route (GET also answers HEAD)."""
        return [
            web.get("/health", self.health),
            web.get("/ready", self.ready),
            web.get("/", self.dashboard),
            web.get("/stats", self.stats_view),
            web.get("/metrics", self.metrics),
            web.get("/lookup", self.lookup),
            web.get("/search", self.search),
            web.get("/why", self.why),
            web.get("/why-not", self.why_not),
            web.get("/customers/{id}", self.customer),
            web.get("/customers/{id}/explain", self.explain),
            web.post("/actions/block", self.block),
            web.post("/customers/{id}/split", self.split),
            web.post("/customers/{id}/erase", self.erase),
            web.post("/customers/{id}/merge", self.merge),
            web.get("/review", self.review),
            web.post("/review/dismiss", self.dismiss),
        ]

    # -- helpers ------------------------------------------------------------------------------

    def _pipeline(self) -> Pipeline:
        pipeline = self.rt.pipeline
        if pipeline is None:
            raise ApiError(503, _STANDBY)
        return pipeline

    def _resolver(self) -> Resolver:
        return self._pipeline().resolver

    def _text(self, value: Any, name: str, *, limit: int | None = None) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ApiError(400, f"missing parameter: {name}")
        text = value.strip()
        if len(text) > (limit or self.max_len):
            raise ApiError(400, f"{name} is too long (at most {limit or self.max_len} characters)")
        if any(ord(c) < 32 for c in text):
            raise ApiError(400, f"{name} contains control characters")
        return text

    def _param(self, request: web.Request, name: str) -> str:
        return self._text(request.query.get(name), name)

    @staticmethod
    def _customer_id(request: web.Request) -> str:
        cid = request.match_info["id"]
        if not _CUSTOMER_ID.fullmatch(cid):
            raise ApiError(400, "malformed customer id (expected letters, digits, '_', '.', '-')")
        return cid

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if not request.body_exists:
            return {}
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise ApiError(400, "the body is not valid JSON") from None
            except RecursionError:
                raise ApiError(400, "the body is nested too deeply") from None
            if not isinstance(body, dict):
                raise ApiError(400, "the body must be a JSON object")
            return body
        if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            return {k: v for k, v in form.items() if isinstance(v, str)}
        raise ApiError(415, "send the body as application/json")

    def _actor(self, request: web.Request, body: dict[str, Any]) -> str:
        name = body.get("actor")
        if name is None:
            return scope_of(request).value
        if not isinstance(name, str) or not _ACTOR.fullmatch(name):
            raise ApiError(400, "actor must be 1 to 64 letters, digits or '_.@-'")
        return f"{scope_of(request).value}:{name}"

    def _reason(self, body: dict[str, Any]) -> str:
        if body.get("reason") is None:
            raise ApiError(400, "missing field: reason (actions are audited: say why)")
        return self._text(body.get("reason"), "reason", limit=_MAX_REASON)

    def _html(self, text: str, status: int = 200) -> web.Response:
        return web.Response(text=text, status=status, content_type="text/html", headers=HTML_HEADERS)

    async def _redis_ok(self) -> bool:
        redis = self.rt.redis
        if redis is None:
            return False
        try:
            return bool(await asyncio.wait_for(redis.r.ping(), 1.0))
        except Exception:  # down, refused, timed out: not ready, not an error page
            return False

    # -- health -------------------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        """Alive: the process answers (no token needed)."""
        return web.json_response({"status": "alive"})

    async def ready(self, request: web.Request) -> web.Response:
        """Ready: Kafka and Redis reachable and the tables recovered (200), else 503 saying which."""
        rt = self.rt
        kafka, redis = await asyncio.gather(self.kafka_probe(), self._redis_ok())
        # The worker owning the single-writer partition is ready once its state is recovered;
        # the others (triage, standby) once the group has given them partitions.
        recovered = rt.recovered if rt.owns_links else rt.assigned
        # A stage that has applied nothing for half its stall limit while its input waits is not ready: the
        # ordered stage, or a partition of the per-customer stage on this worker.
        idle = max(float(rt.stats.get("stalled_s") or 0.0), float(rt.stats.get("customers_stalled_s") or 0.0))
        stalled = idle >= rt.settings.stall_seconds / 2
        ready = kafka and redis and recovered and not stalled
        pipeline = rt.pipeline
        body = {
            "ready": ready,
            "kafka": kafka,
            "redis": redis,
            "recovered": rt.recovered,
            "stalled": stalled,
            "role": "writer" if rt.owns_links else "standby",
            "applied_offset": rt.applied_offset,
            "redis_offset": rt.redis_offset,
            "pending_windows": None if pipeline is None else pipeline.batcher.pending_count(),
            "customers": None if pipeline is None else pipeline.resolver.customer_count(),
            **{k: v for k, v in rt.stats.items() if isinstance(v, (int, float, str)) or v is None},
        }
        return web.json_response(body, status=200 if ready else 503)

    # -- figures ------------------------------------------------------------------------------

    async def stats_view(self, request: web.Request) -> web.Response:
        return web.json_response(await self.stats.snapshot(scope_of(request)))

    async def metrics(self, request: web.Request) -> web.Response:
        text = render(await self.stats.snapshot(Scope.READ))
        return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})

    async def dashboard(self, request: web.Request) -> web.Response:
        snap = await self.stats.snapshot(scope_of(request))
        return self._html(dashboard_html(snap))

    # -- customers ----------------------------------------------------------------------------

    async def customer(self, request: web.Request) -> web.Response:
        """A customer's profile, confidence and history; an absorbed id says where it went."""
        cid = self._customer_id(request)
        scope = scope_of(request)
        pipeline = self.rt.pipeline
        if pipeline is None:
            return await self._customer_from_redis(cid, scope)
        resolver = pipeline.resolver
        current = resolver.current_id(cid)
        if current is None:
            raise ApiError(404, "unknown customer id (never seen, or erased)", customer_id=cid)
        if current != cid:
            version = pipeline.changelog.version(cid)
            return web.json_response(
                {
                    "customer_id": cid,
                    "status": "absorbed",
                    "survivor_id": current,
                    "version": version,
                    # From the state (snapshots and the links log): the same after a restart.
                    "changelog": _absorbed_changelog(pipeline, cid, version),
                    # This process's memory of what it published (empty after a restart).
                    "history": {"published": journal_of(self.rt).history(cid)},
                    "links": {"survivor": f"/customers/{current}"},
                }
            )
        profile = resolver.profile(cid)
        if profile is None:  # live ids always have a profile; guard against a race with erase
            raise ApiError(404, "unknown customer id (never seen, or erased)", customer_id=cid)
        explanation = redact_explanation(resolver.explain(cid).to_dict(), scope)
        journal = journal_of(self.rt)
        changelog = pipeline.changelog
        evidence = explanation["edges"]
        body = {
            "customer_id": cid,
            "status": "live",
            "masked": not scope.sees_pii,
            "profile": redact_profile(profile.to_record(), scope),
            "confidence": profile.confidence,
            "confidence_reasons": list(profile.confidence_reasons),
            "version": changelog.version(cid),
            "history": {
                "published": journal.history(cid),
                "absorbed": [
                    {"customer_id": a, "version": changelog.version(a), "published": journal.history(a)}
                    for a in explanation["absorbed_ids"]
                ],
                "events": explanation["events"][:_MAX_LISTED],
                "evidence_seen": explanation["evidence"][:_MAX_LISTED],
                "evidence": evidence[:_MAX_LISTED],
                "truncated": len(evidence) > _MAX_LISTED or len(explanation["events"]) > _MAX_LISTED,
            },
            "links": {"explain": f"/customers/{cid}/explain"},
        }
        return web.json_response(body)

    async def _customer_from_redis(self, cid: str, scope: Scope) -> web.Response:
        redis = self.rt.redis
        if redis is None:
            raise ApiError(503, _STANDBY)
        try:
            record = await redis.customer(cid)
            survivor = None if record is not None else await self._survivor_in_redis(cid)
        except Exception:
            raise ApiError(503, _STANDBY + "; the Redis read model is not reachable either") from None
        if survivor is not None:  # as the writer answers, but for the version: the changelog is the writer's
            return web.json_response(
                {
                    "customer_id": cid,
                    "status": "absorbed",
                    "survivor_id": survivor,
                    "source": "redis",
                    "history": {"published": journal_of(self.rt).history(cid)},
                    "links": {"survivor": f"/customers/{survivor}"},
                }
            )
        if record is None:
            raise ApiError(404, "unknown customer id in the Redis read model", customer_id=cid)
        return web.json_response(
            {
                "customer_id": cid,
                "status": "live",
                "source": "redis",
                "masked": not scope.sees_pii,
                "profile": redact_profile(record, scope),
                "confidence": record.get("confidence"),
                "confidence_reasons": record.get("confidence_reasons", []),
            }
        )

    async def _survivor_in_redis(self, cid: str) -> str | None:
        """The live customer ``cid`` was absorbed into, following its aliases (`RedisReadModel.survivor_of`);
        None when it has no alias, or its last survivor has no profile (erased: its aliases are dropped)."""
        redis = self.rt.redis
        assert redis is not None
        seen = {cid}
        current = await redis.survivor_of(cid)
        while current is not None and current not in seen and len(seen) <= _MAX_HOPS:
            if await redis.customer(current) is not None:
                return current
            seen.add(current)
            current = await redis.survivor_of(current)
        return None

    def _lookup_query(self, request: web.Request) -> tuple[str, str]:
        q = request.query
        given = [k for k in ("phone", "email", "touchpoint") if k in q]
        if len(given) != 1:
            raise ApiError(400, "give exactly one of phone=, email=, or touchpoint= with source_id=")
        kind = given[0]
        raw = self._param(request, kind)
        if kind == "touchpoint":
            touchpoint = raw.upper()
            if touchpoint not in _TOUCHPOINTS:
                raise ApiError(400, f"touchpoint must be one of {', '.join(_TOUCHPOINTS)}")
            return kind, f"{touchpoint}:{self._param(request, 'source_id')}"
        if "source_id" in q:
            raise ApiError(400, "source_id= goes with touchpoint=")
        return kind, raw

    async def lookup(self, request: web.Request) -> web.Response:
        """Where an identifier leads: 200 linked (or known but not linking), 404 unknown, 422 invalid/junk."""
        kind, raw = self._lookup_query(request)
        scope = scope_of(request)
        query = {"kind": kind, "value": raw if scope.sees_pii else mask_ref(raw)}
        pipeline = self.rt.pipeline
        if pipeline is None:
            return await self._lookup_in_redis(kind, raw, query, scope)
        resolver = pipeline.resolver
        found = resolver.lookup(raw, kind)
        body: dict[str, Any] = {"query": query, **found.to_dict()}
        if found.status in ("invalid", "junk"):
            raise ApiError(422, f"{kind} is {found.status}: the resolver never links it", lookup=body)
        if found.status == "unknown":
            raise ApiError(404, f"no customer: {found.reason}", lookup=body)
        if found.status == "split":  # held by several customers, one per person: each, none picked
            body["links"] = {"customers": [f"/customers/{cid}" for cid in found.customers]}
        if found.customer_id is not None:
            profile = resolver.profile(found.customer_id)
            body["profile"] = None if profile is None else redact_profile(profile.to_record(), scope)
            body["links"] = {
                "customer": f"/customers/{found.customer_id}",
                "explain": f"/customers/{found.customer_id}/explain",
            }
        return web.json_response(body)

    async def _lookup_in_redis(self, kind: str, raw: str, query: dict[str, str], scope: Scope) -> web.Response:
        """The writer's answer (`lookup`), read from the Redis read model: linked to the one customer holding
        the identifier, ``split`` with every holder (sorted) when several do, 404 when none, 422 when it
        never links. What only the writer's graph knows (a blocked, quarantined or cut identifier, a shared
        household phone without holders) reads here as unknown."""
        redis = self.rt.redis
        if redis is None:
            raise ApiError(503, _STANDBY)
        ident, status = self.keys.identifier(kind, raw)
        body: dict[str, Any] = {
            "query": query,
            "source": "redis",
            "kind": kind,
            "key": self.keys.shown_key(kind, raw),
            "status": status,
            "customer_id": None,
            "customers": [],
            "reason": "",
        }
        if ident is None:
            body["reason"] = f"{kind} is {status}: never linked"
            raise ApiError(422, f"{kind} is {status}: the resolver never links it", lookup=body)
        try:
            holders: list[str] = []
            # A WhatsApp account is answered by the customers its own messages were published on (its
            # source id), before its phone: a phone split between people is theirs too.
            accounts = self.keys.whatsapp_accounts(kind, raw)
            for account in accounts:
                holders = holders or await redis.customers_of(account)
            own = bool(holders)
            phone = await redis.customers_of(ident)
            holders = holders or phone
            record = await redis.customer(holders[0]) if len(holders) == 1 else None
        except Exception:
            raise ApiError(503, _STANDBY + "; the Redis read model is not reachable either") from None
        if not holders:
            body.update(status="unknown", reason="never seen (not in the Redis read model)")
            raise ApiError(404, "no customer in the Redis read model", lookup=body)
        if len(holders) > 1:
            body.update(status="split", customers=holders, reason=split_lookup_reason(ident, own))  # its kind: ident[0]
            body["links"] = {"customers": [f"/customers/{cid}" for cid in holders]}
            return web.json_response(body)
        cid = holders[0]
        owner = own and len(phone) > 1  # the account's phone is split between people: its messages name the owner
        body.update(status="linked", customer_id=cid, reason=_OWNER if owner else "linked")
        body["profile"] = None if record is None else redact_profile(record, scope)
        body["links"] = {"customer": f"/customers/{cid}", "explain": f"/customers/{cid}/explain"}
        return web.json_response(body)

    # -- explanations -------------------------------------------------------------------------

    @staticmethod
    def _wants_html(request: web.Request) -> bool:
        fmt = request.query.get("format")
        if fmt is not None:
            if fmt not in ("html", "json"):
                raise ApiError(400, "format must be html or json")
            return fmt == "html"
        accept = request.headers.get("Accept", "")
        return "text/html" in accept and "application/json" not in accept

    async def explain(self, request: web.Request) -> web.Response:
        """The evidence graph: JSON, or an HTML picture (``Accept: text/html`` or ``?format=html``)."""
        cid = self._customer_id(request)
        html = self._wants_html(request)
        if self.rt.pipeline is None and html:
            return self._html(message_html("Standby", _STANDBY), 503)
        resolver = self._resolver()
        scope = scope_of(request)
        found = resolver.explain(cid)
        if not found.found:
            if html:
                return self._html(message_html("Unknown customer", f"unknown customer id {cid}"), 404)
            raise ApiError(404, "unknown customer id (never seen, or erased)", customer_id=cid)
        explanation = redact_explanation(found.to_dict(), scope)
        profile = resolver.profile(found.customer_id)
        shown = None if profile is None else redact_profile(profile.to_record(), scope)
        if html:
            page = explain_html(
                cid,
                explanation,
                shown,
                evidence_svg(explanation),
                journal_of(self.rt).history(found.customer_id),
            )
            return self._html(page)
        return web.json_response({"requested_id": cid, "masked": not scope.sees_pii, **explanation, "profile": shown})

    async def why(self, request: web.Request) -> web.Response:
        """The chain of linking events between two records of one customer (404 if either is unknown)."""
        a, b = self._param(request, "a"), self._param(request, "b")
        resolver = self._resolver()
        scope = scope_of(request)
        result = redact_why(resolver.why(a, b), scope)
        missing = [n for n, c in (("a", result["customer_a"]), ("b", result["customer_b"])) if c is None]
        if missing:
            raise ApiError(404, f"no customer for {' and '.join(missing)}", **result)
        return web.json_response(result)

    async def why_not(self, request: web.Request) -> web.Response:
        """Why two records are apart: their statuses and the evidence that was refused."""
        a, b = self._param(request, "a"), self._param(request, "b")
        result = redact_why(self._resolver().why_not(a, b), scope_of(request))
        return web.json_response(result)

    async def search(self, request: web.Request) -> web.Response:
        """The dashboard's search box: redirects to the explanation of what ``q`` names."""
        q = self._param(request, "q")
        if self.rt.pipeline is None:
            return self._html(message_html("Standby", _STANDBY), 503)
        resolver = self._resolver()
        if _CUSTOMER_ID.fullmatch(q) and resolver.current_id(q) is not None:
            raise web.HTTPSeeOther(href(f"/customers/{q}/explain", format="html"))
        parsed = ref_kind(q)
        if parsed is None:
            message = "not a customer id, phone, email or TOUCHPOINT:source_id"
            return self._html(message_html("Not found", message), 400)
        kind, raw = parsed
        found = resolver.lookup(raw, kind)
        if found.customer_id is None:
            status = 422 if found.status in ("invalid", "junk") else 404
            message = f"no customer for this {kind}: {found.status} ({found.reason})"
            if found.customers:
                message += ": " + ", ".join(found.customers)
            return self._html(message_html("Not found", message), status)
        raise web.HTTPSeeOther(href(f"/customers/{found.customer_id}/explain", format="html"))

    # -- actions ------------------------------------------------------------------------------

    def _known_identifier(self, identifier: str) -> tuple[str, str]:
        parsed = ref_kind(identifier)
        if parsed is None:
            raise ApiError(400, "identifier: expected a phone, an email or TOUCHPOINT:source_id")
        return parsed

    async def block(self, request: web.Request) -> web.Response:
        """Quarantine an identifier and re-resolve the customers it joined (operator; 202 queued)."""
        require_operator(request)
        body = await self._body(request)
        identifier = self._text(body.get("identifier"), "identifier")
        reason = self._reason(body)
        actor = self._actor(request, body)
        kind, raw = self._known_identifier(identifier)
        pipeline = self.rt.pipeline
        if pipeline is not None:
            found = pipeline.resolver.lookup(raw, kind)
            if found.status in ("invalid", "junk"):
                raise ApiError(422, f"{kind} is {found.status}: it never links, nothing to block")
            if found.status == "unknown" and found.customer_id is None and found.reason == "never seen":
                raise ApiError(404, f"unknown {kind}: never seen")
            if found.status == "blocked":
                raise ApiError(409, f"this {kind} is already blocked")
        action = await self.desk.submit("block", customer_id=None, identifier=identifier, actor=actor, reason=reason)
        return self._accepted(action)

    async def split(self, request: web.Request) -> web.Response:
        """Split a customer without an identifier or an event's links; parts are barred from re-merging."""
        require_operator(request)
        cid = self._customer_id(request)
        body = await self._body(request)
        identifier = self._text(body.get("identifier"), "identifier")
        reason = self._reason(body)
        actor = self._actor(request, body)
        pipeline = self.rt.pipeline
        if pipeline is not None:
            resolver = pipeline.resolver
            current = resolver.current_id(cid)
            if current is None:
                raise ApiError(404, "unknown customer id (never seen, or erased)", customer_id=cid)
            if resolver.customer_of_event(identifier) != current:
                parsed = ref_kind(identifier)
                found = None if parsed is None else resolver.lookup(parsed[1], parsed[0])
                owners = () if found is None else (found.customer_id, *found.customers)
                if current not in owners:
                    raise ApiError(422, "identifier is neither an identifier nor an event of this customer")
        action = await self.desk.submit("split", customer_id=cid, identifier=identifier, actor=actor, reason=reason)
        return self._accepted(action, request)

    async def erase(self, request: web.Request) -> web.Response:
        """Erase a customer (right to erasure): queued for the single writer (operator; 202)."""
        require_operator(request)
        cid = self._customer_id(request)
        body = await self._body(request)
        reason = self._reason(body)
        actor = self._actor(request, body)
        pipeline = self.rt.pipeline
        if pipeline is not None and pipeline.resolver.current_id(cid) is None:
            raise ApiError(404, "unknown customer id (never seen, or erased)", customer_id=cid)
        action = await self.desk.submit("erase", customer_id=cid, identifier=None, actor=actor, reason=reason)
        return self._accepted(action)

    def _other_id(self, body: dict[str, Any], *, required: bool = True) -> str | None:
        value = body.get("other")
        if value is None and not required:
            return None
        other = self._text(value, "other")
        if not _CUSTOMER_ID.fullmatch(other):
            raise ApiError(400, "other: malformed customer id (expected letters, digits, '_', '.', '-')")
        return other

    async def merge(self, request: web.Request) -> web.Response:
        """Join this customer and ``other`` for good (operator; 202 queued, 409 with the reason when refused).

        The refusal is checked here against the current state and again by the single
        writer in log order (an action queued before this one may change the answer; a
        merge refused there changes nothing and says why in the log).
        """
        require_operator(request)
        cid = self._customer_id(request)
        body = await self._body(request)
        other = self._other_id(body)
        reason = self._reason(body)
        actor = self._actor(request, body)
        assert other is not None
        pipeline = self.rt.pipeline
        if pipeline is not None:
            resolver = pipeline.resolver
            refused = resolver.merge_refusal(cid, other)
            if refused is not None:
                gone = resolver.current_id(cid) is None or resolver.current_id(other) is None
                raise ApiError(404 if gone else 409, f"merge refused: {refused}", customer_id=cid, other=other)
        action = await self.desk.submit("merge", customer_id=cid, identifier=other, actor=actor, reason=reason)
        return self._accepted(action, request)

    async def dismiss(self, request: web.Request) -> web.Response:
        """Take an item off the review queue for good: a pair (``customer_id``, ``other``) or one customer."""
        require_operator(request)
        body = await self._body(request)
        cid = self._text(body.get("customer_id"), "customer_id")
        if not _CUSTOMER_ID.fullmatch(cid):
            raise ApiError(400, "customer_id: malformed customer id")
        other = self._other_id(body, required=False)
        reason = self._reason(body)
        actor = self._actor(request, body)
        pipeline = self.rt.pipeline
        if pipeline is not None:
            for given in (cid, other):
                if given is not None and pipeline.resolver.current_id(given) is None:
                    raise ApiError(404, "unknown customer id (never seen, or erased)", customer_id=given)
        action = await self.desk.submit("dismiss", customer_id=cid, identifier=other, actor=actor, reason=reason)
        return self._accepted(action, request)

    async def review(self, request: web.Request) -> web.Response:
        """The review queue: pairs kept apart and customers of low confidence, with their evidence.

        Computed on request from the single writer's state (`Resolver.review_scan`), a chunk
        at a time with the event loop free between chunks, and stopped once ``limit`` pairs
        are found; JSON, or the dashboard's page (``Accept: text/html`` or ``?format=html``).
        """
        html = self._wants_html(request)
        raw_limit = request.query.get("limit", str(_REVIEW_DEFAULT))
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= _REVIEW_MAX:
            raise ApiError(400, f"limit must be a whole number from 1 to {_REVIEW_MAX}")
        if self.rt.pipeline is None and html:
            return self._html(message_html("Standby", _STANDBY), 503)
        resolver = self._resolver()
        scope = scope_of(request)
        body = await self._review_body(resolver, scope, int(raw_limit))
        if html:
            token = form_token(request) if scope.sees_pii else None
            queued = request.query.get("queued")
            shown = None if queued is None else self._text(queued, "queued", limit=100)
            return self._html(review_html(body, token, shown))
        return web.json_response(body)

    async def _review_body(self, resolver: Resolver, scope: Scope, limit: int) -> dict[str, Any]:
        dismissed = resolver.dismissed()
        found: dict[tuple[str, str], list[dict[str, Any]]] = {}
        chunks = 0
        complete = True
        for chunk in resolver.review_scan():
            chunks += 1
            for pair in chunk:
                key = (pair.a, pair.b)
                if key in dismissed:
                    continue
                if key not in found and len(found) >= limit:
                    complete = False
                    continue
                reasons = found.setdefault(key, [])
                item = pair.to_dict()
                if item not in reasons and len(reasons) < 10:
                    reasons.append(item)
            if not complete:
                break
            await asyncio.sleep(0)  # let the single writer run between chunks
        pairs = []
        for (a, b), reasons in found.items():
            if resolver.current_id(a) != a or resolver.current_id(b) != b:
                continue  # merged or erased while we yielded
            shown = [
                {**r, "identifier": r["identifier"] if scope.sees_pii else mask_key(r["identifier"])} for r in reasons
            ]
            pa, pb = resolver.profile(a), resolver.profile(b)
            pairs.append(
                {
                    "customer_a": a,
                    "customer_b": b,
                    "confidence_a": None if pa is None else pa.confidence,
                    "confidence_b": None if pb is None else pb.confidence,
                    "reasons": shown,
                    "why_not": redact_why(resolver.why_not(a, b), scope)["reasons"],
                    "links": {
                        "explain_a": f"/customers/{a}/explain",
                        "explain_b": f"/customers/{b}/explain",
                        "why_not": href("/why-not", a=a, b=b),
                        "merge": f"/customers/{a}/merge",
                        "dismiss": "/review/dismiss",
                    },
                }
            )
        below, scanned = await self.stats.low_confidence(resolver)
        low, low_found = await self._review_low(resolver, scope, limit, below, dismissed)
        # Listed in full: every pair (none left past ``limit``), and every low-confidence customer,
        # which needs the scan to have read every live customer (not a sample) and ``limit`` to hold them.
        low_complete = not scanned["sampled"] and low_found <= limit
        return {
            "masked": not scope.sees_pii,
            "pairs": pairs,
            "low_confidence": low,
            "low_confidence_below": LOW_CONFIDENCE,
            "complete": complete and low_complete,
            "pairs_complete": complete,
            "low_confidence_complete": low_complete,
            # What the low-confidence list is drawn from: the dashboard's scan of customers (cached
            # for a few seconds; an even sample of them when there are many), and how many of the
            # customers it read are below the threshold (``found``; ``listed`` of them, up to ``limit``).
            "low_confidence_from": {
                "source": "dashboard scan",
                **scanned,
                "found": low_found,
                "listed": len(low),
            },
            "limit": limit,
            "dismissed": len(dismissed),
        }

    async def _review_low(
        self,
        resolver: Resolver,
        scope: Scope,
        limit: int,
        below: list[dict[str, Any]],
        dismissed: set[tuple[str, str]],
    ) -> tuple[list[dict[str, Any]], int]:
        """The scan's customers still below `LOW_CONFIDENCE` and not dismissed: up to `limit` of them
        with their reasons and evidence, and how many there are."""
        low: list[dict[str, Any]] = []
        low_found = 0
        for c in below:
            cid = c["customer_id"]
            if (cid, cid) in dismissed:
                continue
            profile = resolver.profile(cid)
            if profile is None or profile.confidence >= LOW_CONFIDENCE:
                continue  # merged, erased or changed since the scan
            low_found += 1
            if len(low) >= limit:
                continue  # counted, not listed
            if low and len(low) % _LOW_CHUNK == 0:
                await asyncio.sleep(0)  # let the single writer run between chunks
            explained = redact_explanation(resolver.explain(cid).to_dict(), scope)
            low.append(
                {
                    **c,
                    "confidence": profile.confidence,
                    "confidence_reasons": list(profile.confidence_reasons),
                    "evidence": explained["edges"][:20],
                    "evidence_seen": explained["evidence"][:20],
                    "links": {
                        "explain": f"/customers/{cid}/explain",
                        "split": f"/customers/{cid}/split",
                        "dismiss": "/review/dismiss",
                    },
                }
            )
        return low, low_found

    @staticmethod
    def _accepted(action: dict[str, Any], request: web.Request | None = None) -> web.Response:
        if request is not None and via_form(request):
            # A button of the review page: back to the page, which says what was queued.
            raise web.HTTPSeeOther(href("/review", queued=f"{action['action']} {action['action_id']}"))
        body = {
            "status": "queued",
            "action": action["action"],
            "action_id": action["action_id"],
            "customer_id": action["customer_id"],
            "note": "the single writer applies it in log order and publishes the changes with the next window",
        }
        return web.json_response(body, status=202)
