"""What a read-scope caller sees: profiles, evidence graphs and refs with personal data masked.

Contract: for `Scope.READ` no phone, email, name or touchpoint source id leaves a view
unmasked (`streams.masking` rules; source ids keep two characters at each end); the
operator scope gets the values as the resolver holds them. Ids of customers and events
are not personal data and pass through. Functions return new values; inputs are not changed.
"""

from __future__ import annotations

from typing import Any

from resolver.graph import holder_of, is_person
from streams.masking import mask_email, mask_phone, mask_text
from streams.web.auth import Scope

__all__ = [
    "mask_key",
    "mask_name",
    "mask_ref",
    "mask_source",
    "redact_action",
    "redact_explanation",
    "redact_profile",
    "redact_why",
]


def mask_source(touchpoint: str, source_id: str) -> str:
    """A touchpoint source id, masked (a WhatsApp id is a phone number)."""
    if touchpoint.upper() == "WHATSAPP":
        return mask_phone(source_id)
    s = source_id.strip()
    return f"{s[:2]}***{s[-2:]}" if len(s) >= 8 else "***"


def mask_name(name: str | None) -> str | None:
    return None if name is None else (name.strip()[:1] + "***")


def mask_key(key: str) -> str:
    """A resolver key (``p:``, ``e:``, ``t:TP:``, ``x:``) with its value masked.

    One person's part of a shared identifier (``p:...#<name>``, ``e:...#<name>``,
    ``t:TP#<name>:...``) names that person: the name is masked too (``#***``).
    """
    if is_person(key):
        holder = holder_of(key)
        if key[0] == "t":
            touchpoint, _, source = holder[2:].partition(":")
            return f"t:{touchpoint}#***:{mask_source(touchpoint, source)}"
        return mask_key(holder) + "#***"
    kind, sep, rest = key.partition(":")
    if not sep:
        return mask_text(key)
    if kind == "p":
        return "p:" + mask_phone(rest)
    if kind == "e":
        return "e:" + mask_email(rest)
    if kind == "t":
        touchpoint, _, source = rest.partition(":")
        return f"t:{touchpoint}:{mask_source(touchpoint, source)}"
    if kind == "x":
        return key  # a lone event's pseudo-node: an event id
    # Rejected values arrive already masked by the resolver ("phone:invalid:p:*9*45").
    return mask_text(key)


def mask_ref(ref: str) -> str:
    """Whatever a caller typed to name a record (raw phone, email, key, ``TP:source``), masked."""
    text = ref.strip()
    if text.startswith("c_"):
        return text
    if text[:2] in ("p:", "e:", "t:", "x:"):
        return mask_key(text)
    if "@" in text:
        return mask_email(text)
    if text.lstrip("+(").strip()[:1].isdigit():
        return mask_phone(text)
    touchpoint, sep, source = text.partition(":")
    return f"{touchpoint}:{mask_source(touchpoint, source)}" if sep else mask_source("", text)


def redact_profile(profile: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """A ResolvedCustomer-shaped profile record as `scope` may see it."""
    if scope.sees_pii:
        return dict(profile)
    out = dict(profile)
    out["phones"] = [mask_phone(p) for p in profile.get("phones", ())]
    out["emails"] = [mask_email(e) for e in profile.get("emails", ())]
    out["source_ids"] = [
        {"touchpoint": s["touchpoint"], "source_id": mask_source(s["touchpoint"], s["source_id"])}
        for s in profile.get("source_ids", ())
    ]
    out["name"] = mask_name(profile.get("name"))
    return out


def redact_explanation(explanation: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """An `Explanation.to_dict()` as `scope` may see it."""
    if scope.sees_pii:
        return dict(explanation)
    out = dict(explanation)
    out["nodes"] = [{**n, "id": mask_key(n["id"])} for n in explanation.get("nodes", ())]
    out["edges"] = [_redact_edge(e) for e in explanation.get("edges", ())]
    return out


def _redact_edge(edge: dict[str, Any]) -> dict[str, Any]:
    out = {**edge, "from": mask_key(edge["from"]), "to": mask_key(edge["to"])}
    if "reason" in out and isinstance(out["reason"], str):
        out["reason"] = mask_text(out["reason"])
    return out


def redact_why(result: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """A `Resolver.why` / `why_not` result as `scope` may see it."""
    if scope.sees_pii:
        return dict(result)
    out = dict(result)
    if "path" in result:
        out["path"] = [_redact_edge(step) for step in result["path"]]
    if "reasons" in result:
        reasons = []
        for r in result["reasons"]:
            item = dict(r)
            for field in ("identifier", "near"):  # ``near``: a near phone that did not link
                if isinstance(item.get(field), str):
                    item[field] = mask_key(item[field])
            if "ref" in item:
                item["ref"] = mask_ref(item["ref"])
            if isinstance(item.get("reason"), str):
                item["reason"] = mask_text(item["reason"])
            reasons.append(item)
        out["reasons"] = reasons
    return out


def redact_action(entry: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """An audited operator action (`streams.web.actions`) as `scope` may see it.

    Policy: an operator's reason is free text and may name a person however it is masked,
    so a read-token caller never sees it: ``reason`` is None and ``reason_chars`` says how
    long it was. The operator sees the kept form (emails and phone numbers already masked).
    """
    if scope.sees_pii:
        return dict(entry)
    reason = entry.get("reason")
    return {**entry, "reason": None, "reason_chars": len(reason) if isinstance(reason, str) else 0}
