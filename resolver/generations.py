"""Generations of one name: ``James Clark Sr.`` and ``James Clark Jr.`` are a father and his son.

A generational marker (``Sr.``, ``Jr.``, ``II``, ``III``, ``IV``) written after a given name and
a surname (`resolver.names.name_key`) is kept in the name key after `MARK`
(``james_clark~jr``); a name without one has the key it always had, so keys stored before
read the same. Two names that differ only by their markers are two people (audit s40,
finding 3: a father and son of one name on a family mailbox and a landline were fused). A name
without a marker fits each of them: beside only one marked form it is that person (``James
Clark`` and ``James Clark Jr.`` on one phone), beside two it says nothing about which and joins
neither, as an initial that fits two people does (`resolver.name_fits.fits_several`).

Degrees after a name (``MD``, ``PhD``, ``Esq``) say nothing of who someone is and stay out of the
key. Pure helpers on keys; `resolver.names` groups with them (`grouped`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

__all__ = [
    "GENERATIONS",
    "MARK",
    "bare",
    "generation_of",
    "grouped",
    "mixed",
    "other_generations",
    "several_generations",
    "written_last",
]

#: Generational markers, folded: written after a given name and a surname, they tell a father from his son.
GENERATIONS = frozenset({"jr", "sr", "ii", "iii", "iv"})
#: Between a name key and its generation (``james_clark~jr``): no letter, no ``_``, ``#``, ``:`` or ``@``.
MARK = "~"


def generation_of(key: str) -> str:
    """The generation a name key carries (``jr``), or ``""``."""
    return key.rpartition(MARK)[2] if MARK in key else ""


def bare(key: str) -> str:
    """A name key without its generation: what `resolver.names` compares."""
    return key.partition(MARK)[0] if MARK in key else key


def other_generations(a: str, b: str) -> bool:
    """True when both keys carry a generation and they differ: two people, whatever the names."""
    return MARK in a and MARK in b and generation_of(a) != generation_of(b)


def several_generations(keys: Collection[str]) -> bool:
    """True when `keys` carry two or more different generations."""
    seen = ""
    for k in keys:  # a loop, not a set: this runs for every grouping, and nearly no key is marked
        if MARK in k:
            found = generation_of(k)
            if seen and found != seen:
                return True
            seen = found
    return False


def written_last(*parts: list[str]) -> str:
    """A generation ending token lists `parts` of two tokens or more, taken off them (the last one's); else ``""``."""
    found = ""
    for part in parts:
        if len(part) > 1 and part[-1] in GENERATIONS:
            found = part.pop()
    return found


def grouped(
    keys: list[str],
    label: dict[str, str],
    weights: Mapping[str, int],
    same: Callable[[str, str], bool],
    transitive: Callable[[list[str], dict[str, str]], dict[str, str]],
) -> dict[str, str]:
    """Sorted `keys` grouped into `label` by `same`, transitively (`transitive`: `resolver.names`, smallest
    key labels), never two generations in one group; returns `label`.

    A name without a marker is `same` as each generation of its name, so `transitive` alone makes
    one group of them. Each such group is grouped again: its marked names by `same`, which never
    joins two generations; a name without a marker with the group of the marked names it is `same`
    as, the heaviest of them (total weight, then label) when it fits two, as a weak name does (its
    evidence then weighs for neither: `resolver.name_fits.fits_several`); a name that fits none of
    them directly with the heaviest group holding a name without a marker it is `same` as, else
    with others like it. Every group is labelled by its smallest key. A function of the keys and weights.
    """
    transitive(keys, label)
    if not several_generations(keys):
        return label
    families: dict[str, list[str]] = {}
    for k in keys:
        families.setdefault(label[k], []).append(k)
    for family in families.values():
        if several_generations(family):
            label.update(_regroup(family, weights, same, transitive))
    return label


def mixed(key: str, group: Collection[str]) -> bool:
    """True when `group` holds a name of another generation than `key`'s (a weak name never joins it)."""
    return MARK in key and any(other_generations(key, k) for k in group)


def _regroup(
    members: list[str],
    weights: Mapping[str, int],
    same: Callable[[str, str], bool],
    transitive: Callable[[list[str], dict[str, str]], dict[str, str]],
) -> dict[str, str]:
    """`grouped`'s labels of one group of sorted `members` that holds two generations."""
    marked = [k for k in members if MARK in k]
    label = transitive(marked, {})
    totals: dict[str, int] = {}
    for k in marked:
        totals[label[k]] = totals.get(label[k], 0) + weights.get(k, 0)
    order = sorted(totals, key=lambda grp: (-totals[grp], grp))
    unplaced: list[str] = []
    for k in members:
        if MARK not in k:
            fit = next((grp for grp in order if any(label[m] == grp and same(k, m) for m in marked)), None)
            if fit is None:
                unplaced.append(k)
            else:
                label[k] = fit
    placed = [k for k in members if MARK not in k and k in label]
    alone: list[str] = []
    for k in unplaced:
        fit = next((grp for grp in order if any(label[p] == grp and same(k, p) for p in placed)), None)
        if fit is None:
            alone.append(k)
        else:
            label[k] = fit
    transitive(alone, label)
    smallest: dict[str, str] = {}
    for k in members:
        grp = label[k]
        if grp not in smallest or k < smallest[grp]:
            smallest[grp] = k
    return {k: smallest[label[k]] for k in members}
