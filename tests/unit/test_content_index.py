"""The content index answers exactly as the dict it replaces, under the calls the core makes.

A model dict takes the same calls as a `ContentIndex`; between calls the evidence dict
changes as the core changes it (a piece added under its id just before it is indexed,
removed before it is un-indexed, its keys shortened by an erasure between an un-indexing and
a re-indexing), plus what tests do to it (a piece under an id of no content, never indexed;
``del`` of a content). After every call both must give the same piece for every content.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.evidence import Content, ContentIndex, Evidence, evidence_id

KEYS = ("p:+911", "p:+912", "e:a@x.in")
CONTENTS: list[Content] = [
    (tp, src, name, keys, ())
    for tp in ("WEB", "KIOSK")
    for src in ("s1", "s2")
    for name in ("Ravi", None)
    for keys in ((), ("p:+911",), ("p:+911", "e:a@x.in"), ("p:+912", "e:a@x.in"))
]
# Every content a piece can come to have (an erasure shortens keys).
KEPT: list[set[str]] = [set(KEYS), {"p:+911"}, {"e:a@x.in"}, {"p:+912"}, set()]
UNIVERSE = {
    (tp, src, name, tuple(k for k in keys if k in kept), rej) for tp, src, name, keys, rej in CONTENTS for kept in KEPT
}
KINDS = ["new", "erase", "rekey", "del", "twin", "again"]
ops = st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 10_000)), max_size=60)


def _piece(vid: str, content: Content) -> Evidence:
    tp, src, name, keys, rejected = content
    return Evidence(vid, "e-" + vid, 0, tp, src, name, keys, rejected)


def _check(index: ContentIndex, model: dict[Content, Evidence]) -> None:
    for content in UNIVERSE:
        assert index.get(content) is model.get(content), content
    assert {c: id(ev) for c, ev in index.items()} == {c: id(ev) for c, ev in model.items()}
    assert all(held is None or held.content() == c for c, held in index.odd.items())


@settings(max_examples=300, deadline=None)
@given(ops)
def test_the_index_answers_as_a_dict_would(steps: list[tuple[str, int]]) -> None:
    evidence: dict[str, Evidence] = {}
    index = ContentIndex(evidence)
    model: dict[Content, Evidence] = {}
    twins = 0
    for kind, n in steps:
        pieces = list(evidence.values())
        if kind in ("new", "again"):
            content = CONTENTS[n % len(CONTENTS)]
            vid = evidence_id(content)
            if index.get(content, vid) is not None or vid in evidence:
                continue  # the core sees a repeat (or, for an erased person, a suppressed event)
            ev = evidence[vid] = _piece(vid, content)
            index.set(content, ev, vid if kind == "new" else None)
            model[content] = ev
        elif kind == "twin":
            # A piece under an id that is no content's digest, not indexed (as a test builds one).
            content = CONTENTS[n % len(CONTENTS)]
            twins += 1
            evidence[f"v{twins:020d}"] = _piece(f"v{twins:020d}", content)
        elif kind == "del":
            held = [c for c in UNIVERSE if c in model]
            if held:
                content = sorted(held, key=repr)[n % len(held)]
                del index[content]
                del model[content]
        elif pieces:
            ev = pieces[n % len(pieces)]
            content = ev.content()
            if kind == "erase":
                del evidence[ev.vid]
            index.discard(content, ev)
            if model.get(content) is ev:
                del model[content]
            if kind == "rekey":
                ev.keys = tuple(k for k in ev.keys if k != KEYS[n % 3])
                assert index.setdefault(ev.content(), ev) is model.setdefault(ev.content(), ev)
        _check(index, model)


def test_lookups_derive_from_the_evidence_without_exceptions() -> None:
    evidence: dict[str, Evidence] = {}
    index = ContentIndex(evidence)
    for content in CONTENTS:
        vid = evidence_id(content)
        index.set(content, evidence.setdefault(vid, _piece(vid, content)), vid)
    assert index.odd == {} and all(index[c].vid == evidence_id(c) for c in CONTENTS)
