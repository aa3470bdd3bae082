"""A customer's profile from its input in one pass: `resolver.effects.profile_from_input`, cheaper.

The per-customer stage builds a profile at every change of a customer's input (about one per
event of a backlog: `resolver.customer_stage.CustomerStage.profile`), so this is its largest
cost. `profile_from_input` stays the readable definition (held equal to `Resolver.profile`);
`input_profile` gives an equal profile for every input (tests/unit/test_stage_profile.py),
with the tally (`resolver.profile.Tally`), the per-piece features and the phone and person
checks in one loop over the evidence, and the pieces' keys handed to `weak_bridges` as they
are, only for a customer with two phones or emails.

Pure: standard library only.
"""

from __future__ import annotations

from resolver.effects import CustomerInput
from resolver.graph import other_account
from resolver.interaction import UNKNOWN_TIME_MS
from resolver.profile import Profile, email_letters, name_of, name_tokens, profile_of, recurring_accounts, weak_bridges
from resolver.summary import grouped_names, scored

__all__ = ["input_profile"]


def input_profile(inp: CustomerInput) -> Profile:
    """`resolver.effects.profile_from_input` of ``inp``: the same profile, equal in every field."""
    count = 0
    first: int | None = None
    last: int | None = None
    names: dict[str, list[int]] = {}
    classes: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    sources: set[tuple[str, str]] = set()
    tps: set[str] = set()
    verified = kiosk_phone = other_phone = placed = False
    corroborating = near_q = refused = 0
    lone = True
    for f in inp.evidence:
        n = f.count
        at = f.at
        end = f.last
        count += n
        if at == UNKNOWN_TIME_MS:  # `Tally.extend`: a time nobody knows moves neither
            at = end
        if at != UNKNOWN_TIME_MS and (first is None or at < first):
            first = at
        if end != UNKNOWN_TIME_MS and (last is None or end > last):
            last = end
        name = f.name
        if name:  # `Tally.extend`
            entry = names.get(name)
            if entry is None:
                names[name] = [n, end if end > 0 else 0]
            else:
                entry[0] += n
                if end > entry[1]:
                    entry[1] = end
        tp = f.tp
        sources.add((tp, f.src))
        tps.add(tp)
        cls = f.cls
        if cls is not None:
            classes[cls] = classes.get(cls, 0) + 1
        for key in f.tkeys:
            seen_ids[key] = seen_ids.get(key, 0) + 1
        if f.quarantined:
            near_q += 1
        if f.phone and tp == "WHATSAPP" and name is not None:
            verified = True
        eff = f.eff
        if len(eff) >= 2:
            corroborating += 1
        if not placed and other_account(eff):
            placed = True
        if f.refused:
            refused += 1
        if lone and eff[0][0] != "x":
            lone = False
        for key in eff:
            if key[0] == "p":
                if tp == "KIOSK":
                    kiosk_phone = True
                else:
                    other_phone = True
                break
    groups, minority, foreign = grouped_names(classes)
    keys = inp.keys
    bridges = (0, 0) if keys is None else weak_bridges(set(keys), [f.eff for f in inp.evidence])
    unnamed = 0
    emails = inp.emails
    if emails and classes:
        tokens = name_tokens(classes)
        if tokens:
            for email in emails:
                letters = email_letters("e:" + email)
                for t in tokens:
                    if t in letters:
                        break
                else:
                    unnamed += 1
    value, reasons = scored(
        (
            count,
            inp.phone_count,
            inp.email_count,
            groups,
            minority,
            verified,
            corroborating,
            bridges[0],
            near_q,
            refused,
            inp.shared,
            kiosk_phone and not other_phone,
            inp.near,
            recurring_accounts(seen_ids),
            unnamed,
            placed,
            bridges[1],
            foreign,
            lone,
            len(inp.phones),
            len(emails),
        )
    )
    return profile_of(
        inp.customer_id,
        inp.phones,
        emails,
        tuple(sorted(sources)),
        name_of(names),
        first,
        last,
        count,
        tuple(sorted(tps)),
        value,
        reasons,
    )
