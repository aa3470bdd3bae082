"""Keys held as text with a hash index, and the table over them: a `TextTable` answers as the plain dict it stands for.

Any sequence of reads, writes and deletes on a table loaded cold (keys as `TextKeys` or
`StrKeys` rows) gives the answers, the length, the order and the values a plain dict gives
after the same calls; a cold value is made once, when first read, and a thaw keeps its place.
"""

from __future__ import annotations

from typing import Any
from zlib import crc32

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.cold import TextTable, merge, peek, split
from resolver.text_keys import HexKeys, HexText, StrKeys, TextKeys, _hex_form_each, hex_form, index

#: Keys with shared prefixes, non-ASCII text and a lone surrogate (as JSON may bring).
KEYS = ["a", "b", "ab", "v0123", "p:+919845071623", "e:é@x.in", "t:WEB:\ud800", "", "x:v1", "c_9"]


class _Rows:
    """Cold values: row r is ("cold", key, r); counts the objects made."""

    def __init__(self) -> None:
        self.made = 0

    def make(self, key: str, row: int) -> Any:
        self.made += 1
        return ["cold", key, row]


def _table(keys: list[str], as_text: bool) -> tuple[TextTable[Any], _Rows]:
    rows = _Rows()
    ids = TextKeys.build(keys) if as_text else StrKeys.build([None, *keys, "tail"], 1, len(keys))
    return TextTable(ids, rows), rows


@pytest.mark.parametrize("as_text", [True, False])
def test_every_key_is_found_by_its_row_and_no_other(as_text: bool) -> None:
    table, _ = _table(KEYS, as_text)
    ids = table.ids
    assert len(ids) == len(KEYS)
    assert [ids.row(k) for k in KEYS] == list(range(len(KEYS)))
    assert ids.keys(range(len(KEYS))) == KEYS and [ids.held(r) for r in range(len(KEYS))] == KEYS
    assert ids.held(3) is ids.held(3)  # one string per row
    for missing in ("c", "ba", "v012", "p:+919845071624", "e:e@x.in", "tail", "\ud801"):
        assert ids.row(missing) is None


def test_keys_that_share_a_hash_are_told_apart() -> None:
    ids = TextKeys.build(["k1", "k2", "k3"])
    # Force every key into one hash: the index scans the run of equal hashes and compares the text.
    ids.hashes[:] = type(ids.hashes)("I", [7, 7, 7])
    assert [ids.row(k) for k in ("k1", "k2", "k3", "k4")] == [None, None, None, None]  # no key hashes to 7
    from zlib import crc32

    h = crc32(b"k2")
    ids.hashes[:] = type(ids.hashes)("I", [h, h, h])
    assert ids.row("k2") == 1 and ids.row("k1") is None  # k1 hashes elsewhere: not found under h


Op = tuple[str, int, int]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(KEYS), unique=True),
    st.lists(
        st.tuples(
            st.sampled_from(["get", "getitem", "in", "set", "del", "pop", "setdefault", "peek", "len", "list"]),
            st.integers(0, len(KEYS) + 1),
            st.integers(0, 99),
        ),
        max_size=40,
    ),
    st.booleans(),
)
def test_a_text_table_answers_as_the_plain_dict_it_stands_for(keys: list[str], ops: list[Op], as_text: bool) -> None:
    table, rows = _table(keys, as_text)
    plain: dict[str, Any] = {k: ["cold", k, r] for r, k in enumerate(keys)}
    pool = [*KEYS, "new-1", "new-2"]
    for op, at, value in ops:
        key = pool[at % len(pool)]
        if op == "get":
            assert table.get(key) == plain.get(key)
        elif op == "getitem":
            if key in plain:
                assert table[key] == plain[key]
                assert table[key] is table[key]  # made once
            else:
                with pytest.raises(KeyError):
                    table[key]
        elif op == "in":
            assert (key in table) == (key in plain)
        elif op == "set":
            table[key] = plain[key] = ["warm", key, value]
        elif op == "del":
            if key in plain:
                del table[key], plain[key]
            else:
                with pytest.raises(KeyError):
                    del table[key]
        elif op == "pop":
            assert table.pop(key, None) == plain.pop(key, None)
        elif op == "setdefault":
            assert table.setdefault(key, ["warm", key, value]) == plain.setdefault(key, ["warm", key, value])
        elif op == "peek":
            made = rows.made
            assert peek(table, key) == plain.get(key)
            assert table.row(key) is None or rows.made == made + 1  # a peek makes a value and keeps nothing
        assert len(table) == len(plain) and bool(table) == bool(plain)
        assert list(table) == list(plain)  # the same order: a thaw keeps a key's place
    # A dump's view: cold rows read off their columns, objects as they are, in the table's order.
    flags, cold, objs = split(table)
    columns = [[["cold", table.ids.held(r), r] for r in cold]]
    assert merge(flags, columns, objs, lambda v: (v,)) == [list(plain.values())]
    assert len(flags) == len(plain) and flags.count(0) == len(cold)
    assert [k for k, _ in table.items()] == list(plain) and table.values() == list(plain.values())
    assert table == plain and dict(table.items()) == plain


@pytest.mark.parametrize(
    ("keys", "form"),
    [
        (["v0a1b", "vffe0", "v0000"], ("v", bytes.fromhex("0a1bffe00000"))),
        (["ev-0a", "ev-1b"], ("ev-", b"\x0a\x1b")),
        (["c_9ef0", "c_9ea1"], ("c_9e", b"\xf0\xa1")),  # a common prefix longer than the ids' own
        (["x1", "x2"], None),  # an odd number of digits after the prefix: "x1" is not hex
        (["a", "b"], None),  # one digit each: no prefix to give one back to
        (["ab", "cd"], ("", b"\xab\xcd")),  # no prefix at all
        (["vAB", "vcd"], None),  # uppercase: would not read back as written
        (["v 1", "v12"], None),  # fromhex skips spaces: refused
        (["v12", "v1234"], None),  # not one width
        (["v12"], None),  # one id: all prefix
        ([], None),
        (["é1", "é2"], None),
    ],
)
def test_hex_form_takes_exactly_ids_that_read_back_the_same(keys: list[str], form: tuple[str, bytes] | None) -> None:
    assert hex_form(keys) == form
    if form is not None:
        text = HexText(*form, len(keys))
        assert text.reads(range(len(keys))) == keys and [text.read(r) for r in range(len(keys))] == keys


@given(
    st.lists(st.binary(min_size=3, max_size=3), min_size=2, max_size=30, unique=True), st.sampled_from(["v", "c_", ""])
)
def test_hex_keys_find_every_key_as_text_keys_do(digests: list[bytes], prefix: str) -> None:
    keys = [prefix + d.hex() for d in digests]
    form = hex_form(keys)
    assert form is not None
    plain = TextKeys.build(keys)
    ids = HexKeys(HexText(*form, len(keys)), plain.hashes, plain.order)
    assert [ids.row(k) for k in keys] == list(range(len(keys))) and ids.keys(range(len(keys))) == keys
    assert ids.row(prefix + "ffffffff") is None and ids.row("") is None and ids.held(0) is ids.held(0) == keys[0]


_HEXISH = st.text(alphabet="0123456789abcdefABv-é ", max_size=6)


@given(st.lists(_HEXISH, max_size=8), st.sampled_from(["", "v", "c_9", "é", "0a"]))
def test_hex_form_of_one_text_answers_as_read_value_by_value(tails: list[str], prefix: str) -> None:
    # The fast path (ASCII, read as one text) and the reading value by value agree on any keys.
    keys = [prefix + t for t in tails]
    assert hex_form(keys) == _hex_form_each(keys)
    same_width = [prefix + t.ljust(4, "0")[:4] for t in tails]
    assert hex_form(same_width) == _hex_form_each(same_width)


@given(st.lists(st.sampled_from(KEYS) | st.text(max_size=4), max_size=40))
def test_the_index_is_the_hashes_sorted_with_ties_by_row(keys: list[str]) -> None:
    encoded = [k.encode("utf-8", "surrogatepass") for k in keys]  # repeats: equal hashes, ordered by row
    hashes, order = index(encoded)
    expected = sorted(range(len(keys)), key=lambda r: (crc32(encoded[r]), r))
    assert list(order) == expected and list(hashes) == [crc32(encoded[r]) for r in expected]


@given(st.lists(st.binary(min_size=2, max_size=2), min_size=1, max_size=20), st.sampled_from(["v", "", "c_", "é"]))
def test_hex_text_reads_most_rows_at_once_as_row_by_row(digests: list[bytes], prefix: str) -> None:
    text = HexText(prefix, b"".join(digests), len(digests))
    rows = list(range(len(digests)))
    expected = [prefix + d.hex() for d in digests]
    assert text.reads(rows) == expected and text.reads(rows[::-1]) == expected[::-1]  # all: at once
    assert text.reads(rows[:1]) == expected[:1] and [text.read(r) for r in rows] == expected
