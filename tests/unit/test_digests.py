"""Keyed digests (issue 17): erasure suppressions and node record names are HMACs, never plain hashes."""

from __future__ import annotations

import hashlib
import json

import pytest

from resolver.config import ResolverConfig
from resolver.digests import Digester, is_legacy, key_id
from resolver.engine import Resolver
from resolver.interaction import Interaction

T0 = 1_700_000_000_000
KEY_A = b"key-a-0123456789abcdef0123456789"
KEY_B = b"key-b-0123456789abcdef0123456789"
PHONE_KEY = "p:+919800000011"


def ev(
    eid: str, t: int = 0, *, phone: str | None = None, email: str | None = None, name: str | None = None
) -> Interaction:
    return Interaction(eid, "WEB", T0 + t * 1000, f"src-{eid}", "visit", phone=phone, email=email, name=name)


def plain(text: str) -> str:
    """The unkeyed digest of earlier versions (what a brute force over all phone numbers finds)."""
    return hashlib.sha256(("irl-suppress:" + text).encode()).hexdigest()[:32]


def erased_state(config: ResolverConfig) -> tuple[Resolver, list[tuple[str, str]]]:
    """A resolver whose one person (phone, email, name) was erased, and all its state records."""
    r = Resolver(config)
    state: dict[str, str | None] = {}
    r.apply(ev("a", 1, phone="98000 00011", email="a@x.in", name="Asha"))
    r.apply(ev("other", 2, email="z@x.in", name="Zed"))
    state.update(r.drain_changes())
    r.erase(r.customer_of_event("a") or "")
    state.update(r.drain_changes())
    return r, [(k, v) for k, v in state.items() if v is not None]


def test_a_digest_depends_on_the_key_and_is_not_the_plain_hash() -> None:
    a, b = Digester(KEY_A), Digester(KEY_B)
    assert a.digest(PHONE_KEY) != b.digest(PHONE_KEY)
    assert a.digest(PHONE_KEY).partition(".")[2] != plain(PHONE_KEY)
    assert a.digest(PHONE_KEY).startswith(key_id(KEY_A) + ".") and not is_legacy(a.digest(PHONE_KEY))
    assert is_legacy(plain(PHONE_KEY))
    with pytest.raises(ValueError):
        Digester(b"")


def test_the_key_is_not_in_the_config_repr() -> None:
    assert "key-a" not in repr(ResolverConfig(digest_key=KEY_A, digest_old_keys=(KEY_B,)))


def test_erasure_keeps_only_keyed_digests_no_plain_hash_of_the_phone() -> None:
    _, records = erased_state(ResolverConfig(digest_key=KEY_A))
    dump = json.dumps(records)
    assert "9800000011" not in dump and "a@x.in" not in dump
    for text in (PHONE_KEY, "e:a@x.in"):
        assert plain(text) not in dump
        assert Digester(KEY_A).digest(text) in dump  # suppressed under the key
    assert Digester(KEY_A).digest("e:z@x.in") in dump  # the kept node's record is named under the key


def test_an_erased_person_stays_erased_after_a_restart_with_the_same_key() -> None:
    _, records = erased_state(ResolverConfig(digest_key=KEY_A))
    again = Resolver.restore(ResolverConfig(digest_key=KEY_A), records)
    assert again.apply(ev("c", 5, phone="+91 98000 00011")).suppressed


def test_rotation_old_keys_still_hold_and_dropping_them_forgets() -> None:
    _, records = erased_state(ResolverConfig(digest_key=KEY_A))
    rotated = Resolver.restore(ResolverConfig(digest_key=KEY_B, digest_old_keys=(KEY_A,)), records)
    assert rotated.apply(ev("c", 5, phone="+91 98000 00011")).suppressed
    dropped = Resolver.restore(ResolverConfig(digest_key=KEY_B, legacy_digests=False), records)
    assert not dropped.apply(ev("c", 5, phone="+91 98000 00011")).suppressed


def test_legacy_unkeyed_suppressions_are_still_honoured() -> None:
    """State written before keyed digests: its `s/` records are plain hashes, still honoured."""
    _, records = erased_state(ResolverConfig(digest_key=KEY_A))
    kid = key_id(KEY_A) + "."
    legacy = [(k.replace(kid, ""), v) for k, v in records if not k.startswith("s/")]
    legacy += [("s/" + plain(t), "1") for t in (PHONE_KEY, "e:a@x.in")]
    old = Resolver.restore(ResolverConfig(digest_key=KEY_B), legacy)
    assert old.apply(ev("c", 5, phone="+91 98000 00011")).suppressed
    off = Resolver.restore(ResolverConfig(digest_key=KEY_B, legacy_digests=False), legacy)
    assert not off.apply(ev("c", 5, phone="+91 98000 00011")).suppressed


def test_node_records_named_under_another_key_are_renamed_on_restore() -> None:
    r = Resolver(ResolverConfig(digest_key=KEY_A))
    r.apply(ev("a", 1, email="z@x.in", name="Zed"))
    records = [(k, v) for k, v in r.drain_changes().items() if v is not None]
    old_name = "n/" + Digester(KEY_A).digest("e:z@x.in")
    assert old_name in dict(records)
    moved = Resolver.restore(ResolverConfig(digest_key=KEY_B, digest_old_keys=(KEY_A,)), records)
    changes = moved.drain_changes()
    new_name = "n/" + Digester(KEY_B).digest("e:z@x.in")
    assert changes[old_name] is None and json.loads(changes[new_name] or "{}")["k"] == "e:z@x.in"
    # Both names in the log (the old not yet compacted away): the one under the current key wins.
    both = [*records, *((k, v) for k, v in changes.items() if v is not None)]
    again = Resolver.restore(ResolverConfig(digest_key=KEY_B), list(reversed(both)))
    old_nodes = {k for k, _ in records if k.startswith("n/")}
    assert again.drain_changes() == dict.fromkeys(old_nodes)
    assert again.customer_of_event("a") == moved.customer_of_event("a")
