"""Operator actions as the views queue them: build, audit, hand to the single writer.

A view never changes the resolver: it builds an action record, logs it (masked), keeps it
in ``rt.stats["actions"]`` (the last `KEEP`, masked, for /stats) and awaits ``send_action``,
which writes it to the single writer's topic. The writer applies it in log order and
publishes the resulting changelog records; the caller gets the ``action_id`` to follow it.

Action record: ``{"action": "block"|"split"|"merge"|"erase"|"dismiss", "action_id": <uuid4 hex>,
"customer_id": str|None, "identifier": str|None, "actor": str, "reason": str, "at": epoch ms}``;
for a merge and a dismissal ``identifier`` is the other customer's id (a dismissal of one
customer's low confidence has none).

Reasons (policy): an operator's reason is at most 500 characters of one line (the view
refuses more, and control characters). What is kept of it, anywhere (the action record on
the links topic, the log, the audit trail), has every email and phone-like digit run masked
(`streams.masking.mask_text`): the raw text is never written. Masking cannot find a name in
free text, so read-token callers never see a reason at all (`redact.redact_action`); write
ticket references in reasons, not people.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from streams.masking import mask_text
from streams.runtime import Runtime
from streams.web.errors import ApiError
from streams.web.redact import mask_ref

__all__ = ["ACTIONS", "KEEP", "ActionDesk", "SendAction"]

SendAction = Callable[[dict[str, Any]], Awaitable[None]]
ACTIONS = ("block", "split", "merge", "erase", "dismiss")
KEEP = 50

log = logging.getLogger("irl.web.actions")


class ActionDesk:
    """Queues operator actions through ``send_action`` and keeps the audit trail."""

    def __init__(
        self,
        rt: Runtime,
        send_action: SendAction,
        *,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.rt = rt
        self.send_action = send_action
        self.clock = clock
        self.new_id = new_id

    async def submit(
        self, kind: str, *, customer_id: str | None, identifier: str | None, actor: str, reason: str
    ) -> dict[str, Any]:
        """Queue one action; returns the record sent. Raises ApiError(503) when it cannot be queued."""
        if kind not in ACTIONS:
            raise ValueError(f"unknown action {kind!r}")
        action: dict[str, Any] = {
            "action": kind,
            "action_id": self.new_id(),
            "customer_id": customer_id,
            "identifier": identifier,
            "actor": actor,
            "reason": mask_text(reason),
            "at": int(self.clock() * 1000),
        }
        audit = {**action, "identifier": None if identifier is None else mask_ref(identifier)}
        try:
            await self.send_action(action)
        except Exception as exc:
            self._remember({**audit, "status": "failed"})
            log.error(
                "operator action %s (%s) by %s could not be queued: %s",
                action["action_id"],
                kind,
                actor,
                type(exc).__name__,
            )
            raise ApiError(503, "the action could not be queued for the resolver; nothing was changed") from None
        self._remember({**audit, "status": "queued"})
        log.info(
            "operator action %s queued: %s customer=%s identifier=%s by %s, reason: %s",
            action["action_id"],
            kind,
            customer_id,
            audit["identifier"],
            actor,
            audit["reason"],
        )
        return action

    def _remember(self, entry: dict[str, Any]) -> None:
        trail = self.rt.stats.setdefault("actions", [])
        trail.append(entry)
        del trail[:-KEEP]
