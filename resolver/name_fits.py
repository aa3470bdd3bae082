"""Weak names that fit two people: which name keys a per-person split must leave to neither.

`resolver.names.name_groups` puts a weak key (an initial, one token, a given name with
initials: `resolver.names.weak_key`) in the heaviest group it fits, so that it never makes a
person of its own. Where a group decides what evidence links (`resolver.households.person_split`),
a weak key that fits two groups would glue them: `fits_several` names those keys.
"""

from __future__ import annotations

from collections.abc import Mapping

from resolver.generations import MARK, several_generations
from resolver.names import KEY_JOIN, compared, name_tier, same_person

__all__ = ["fits_several"]


def fits_several(weights: Mapping[str, int], label: Mapping[str, str]) -> frozenset[str]:
    """The weak keys of `weights` that fit two or more of the groups of `label` (`name_groups` of `weights`).

    `name_groups` puts a weak key (an initial, one token, a given name with initials) in the
    heaviest group it fits, so that it never makes a person of its own; but a weak key that fits
    two groups, names that cannot be one person, says nothing about which of them it is
    (``A. Iyer`` beside ``Aishwarya Iyer`` and ``Aditya Iyer`` on a family mailbox). Where a
    group decides what evidence links (`resolver.households.person_split`), such a key must join
    neither, or its evidence fuses the two. A fit is read as `name_groups` reads it (`resolver.names._fit`):
    one-token names against names with a surname (or written without a space), initials against
    those and the one-token names that fit only one group, and an initial with a surname against
    the names with a surname where one fits (``I. Singh`` is Inder Singh's, not the ``Isha`` of
    Isha Fernandes). So does any name without a generation that is `same_person` as names of two
    generations in two groups (``James Clark`` or ``J. Clark`` beside ``James Clark Sr.`` and ``Jr.``:
    `resolver.generations`), a full name too. Only the keys `compared` reads are judged. A
    function of the keys and weights: the same whatever the order they come in.
    """
    kept = compared(weights)
    tiers: tuple[list[str], list[str], list[str]] = ([], [], [])
    for k in kept:
        tiers[name_tier(k)].append(k)
    strong, singles, initials = tiers
    marked = [k for k in kept if MARK in k]
    plain = [k for k in kept if MARK not in k] if several_generations(marked) else []
    if not (singles or initials or plain) or len({label[k] for k in kept}) < 2:
        return frozenset()
    several = {k for k in plain if _groups_fitted(k, marked, label) >= 2}
    strong = [k for k in strong if k not in several]
    several.update(k for k in singles if k not in several and _fits_several(k, strong, label))
    against = strong + [k for k in singles if k not in several]
    several.update(k for k in initials if k not in several and _fits_several(k, against, label))
    return frozenset(several)


def _fits_several(weak: str, keys: list[str], label: Mapping[str, str]) -> bool:
    """Whether `weak` fits two or more groups of `label` as `_fit` reads a fit: an initial with a
    surname (``i_singh``) by the names with a surname among `keys` where one fits (not ``Isha``
    beside ``Isha Fernandes``), else by any of `keys`."""
    if KEY_JOIN in weak:
        found = _groups_fitted(weak, [k for k in keys if KEY_JOIN in k], label)
        if found:
            return found >= 2
    return _groups_fitted(weak, keys, label) >= 2


def _groups_fitted(weak: str, keys: list[str], label: Mapping[str, str]) -> int:
    """How many groups of `label` (0, 1, or 2 for two or more) hold a key of `keys` that `weak` is `same_person` as."""
    found: str | None = None
    for k in keys:
        grp = label[k]
        if grp != found and same_person(weak, k):
            if found is not None:
                return 2
            found = grp
    return 0 if found is None else 1
