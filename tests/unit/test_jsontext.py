"""`resolver.jsontext.loads` is `json.loads`: the same value, or an error where it raises one."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resolver.jsontext import loads

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@given(_JSON, st.sampled_from(["", " ", "\n", " \t\n"]), st.sampled_from(["", " ", "\n"]))
def test_values_equal_json_loads(value: object, before: str, after: str) -> None:
    text = before + json.dumps(value, separators=(",", ":")) + after
    assert loads(text) == json.loads(text)


@given(st.text(max_size=30))
def test_any_text_parses_or_fails_like_json_loads(text: str) -> None:
    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            loads(text)
    else:
        assert repr(loads(text)) == repr(expected)  # repr: NaN equals itself


# After a value, only JSON's four whitespace characters: not the others str.isspace() takes.
@pytest.mark.parametrize("text", ['{"a":1} x', "1 2", "", "\ufeff{}", "{", "[1,]", "0\x1f", "1 \u2003", "[]\x0b"])
def test_invalid_texts_raise(text: str) -> None:
    with pytest.raises(ValueError):
        loads(text)
