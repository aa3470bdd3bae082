"""Avro binary encoding of the records we write most, compiled from the schema: fastavro's bytes, faster.

`compile_writer(schema)` turns a fastavro-parsed schema into a function that appends the
Avro binary encoding of a record to a `bytearray`: one closure per schema node, built once,
and for a record schema one generated function doing what those closures do inline, so a
record costs one call and no schema walk. It writes exactly what fastavro's
`schemaless_writer` writes (arrays and maps in one block followed by an empty one, a union
as its branch index then the value, zig-zag variable-length longs, little-endian doubles),
and it only handles values whose Python type is the one a field plainly takes (`str` for a
string, `int` for a long, `float` for a double, `None` for null, `list` or `tuple` for an
array, `dict` for a record or a map): for anything else, and for any value fastavro might
treat specially (a missing field, a `bool` for a long, a long out of range), it raises
`Unhandled` and the caller writes the record with fastavro instead, which then succeeds or
fails exactly as before. Property-tested against fastavro (tests/unit/test_avrowriter.py).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Unhandled", "Writer", "compile_writer"]

#: Appends the encoding of one value to the buffer, or raises `Unhandled`.
Writer = Callable[[Any, bytearray], None]

_MIN_LONG, _MAX_LONG = -(2**63), 2**63 - 1
_DOUBLE = struct.Struct("<d").pack
#: The zig-zag varint of 0..63, one byte each (lengths, counts, small numbers).
_SMALL = [bytes([n << 1]) for n in range(64)]


class Unhandled(Exception):
    """A value (or schema) this writer leaves to fastavro."""


def _long(value: int, out: bytearray) -> None:
    if 0 <= value < 64:
        out += _SMALL[value]
        return
    if value < _MIN_LONG or value > _MAX_LONG:
        raise Unhandled
    n = (value << 1) ^ (value >> 63)
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


#: Encodings of longs of 64 and more (and negative ones) seen lately: the times a record carries
#: (window bounds, first seen) repeat from one record to the next. Cleared when full.
_LONGS: dict[int, bytes] = {}
_LONGS_MAX = 1 << 16


def _long_bytes(value: int) -> bytes:
    """The zig-zag varint of an int (`_long`'s bytes), memoised in `_LONGS`; `Unhandled` out of range."""
    out = bytearray()
    _long(value, out)
    data = bytes(out)
    if len(_LONGS) >= _LONGS_MAX:
        _LONGS.clear()
    _LONGS[value] = data
    return data


def _write_long(value: Any, out: bytearray) -> None:
    if type(value) is not int:
        raise Unhandled
    _long(value, out)


def _write_string(value: Any, out: bytearray) -> None:
    if type(value) is not str:
        raise Unhandled
    data = value.encode()
    _long(len(data), out)
    out += data


def _write_double(value: Any, out: bytearray) -> None:
    if type(value) is not float:
        raise Unhandled
    out += _DOUBLE(value)


def _write_boolean(value: Any, out: bytearray) -> None:
    if type(value) is not bool:
        raise Unhandled
    out.append(1 if value else 0)


def _write_null(value: Any, out: bytearray) -> None:
    if value is not None:
        raise Unhandled


_PRIMITIVES: dict[str, Writer] = {
    "string": _write_string,
    "long": _write_long,
    "double": _write_double,
    "boolean": _write_boolean,
    "null": _write_null,
}


def _int32(value: Any, out: bytearray) -> None:
    if type(value) is not int or not -(2**31) <= value < 2**31:
        raise Unhandled
    _long(value, out)


def _enum(symbols: list[str]) -> Writer:
    index = {s: i for i, s in enumerate(symbols)}

    def write(value: Any, out: bytearray) -> None:
        i = index.get(value) if type(value) is str else None
        if i is None:
            raise Unhandled
        _long(i, out)

    return write


def _array(item: Writer) -> Writer:
    def write(value: Any, out: bytearray) -> None:
        kind = type(value)
        if kind is not list and kind is not tuple:
            raise Unhandled
        if value:
            _long(len(value), out)
            for x in value:
                item(x, out)
        out.append(0)

    return write


def _map(values: Writer) -> Writer:
    def write(value: Any, out: bytearray) -> None:
        if type(value) is not dict:
            raise Unhandled
        if value:
            _long(len(value), out)
            for k, v in value.items():
                _write_string(k, out)
                values(v, out)
        out.append(0)

    return write


def _optional(branch: Writer) -> Writer:
    """A union of null and one other type, null first (``["null", X]``)."""

    def write(value: Any, out: bytearray) -> None:
        if value is None:
            out.append(0)
        else:
            out.append(2)  # the varint of branch index 1
            branch(value, out)

    return write


def _record(fields: list[tuple[str, Writer]]) -> Writer:
    small = _SMALL
    string = _write_string

    def write(value: Any, out: bytearray) -> None:
        if type(value) is not dict:
            raise Unhandled
        try:
            for name, field in fields:
                v = value[name]
                if field is string and type(v) is str:
                    # Most fields are short strings: written here, without a call.
                    data = v.encode()
                    if len(data) < 64:
                        out += small[len(data)]
                    else:
                        _long(len(data), out)
                    out += data
                else:
                    field(v, out)
        except KeyError:
            raise Unhandled from None

    return write


def _compile(node: Any, named: dict[str, Writer]) -> Writer:
    if isinstance(node, str):
        if node == "int":
            return _int32
        if node in _PRIMITIVES:
            return _PRIMITIVES[node]
        if node in named:
            return named[node]
        raise Unhandled(f"unknown type {node!r}")
    if isinstance(node, list):
        if len(node) == 2 and node[0] == "null" and node[1] != "null":
            return _optional(_compile(node[1], named))
        raise Unhandled("a union other than [null, X]")
    if not isinstance(node, Mapping):
        raise Unhandled(f"unknown schema node {type(node).__name__}")
    kind = node.get("type")
    if kind == "record":
        fields: list[tuple[str, Writer]] = []
        out = _record(fields)
        named[node["name"]] = out  # a recursive reference sees the record being built
        fields.extend((f["name"], _compile(f["type"], named)) for f in node["fields"])
        return out
    if kind == "enum":
        out = _enum(list(node["symbols"]))
        named[node["name"]] = out
        return out
    if kind == "array":
        return _array(_compile(node["items"], named))
    if kind == "map":
        return _map(_compile(node["values"], named))
    if isinstance(kind, str) and set(node) <= {"type", "logicalType", "doc"}:
        return _compile(kind, named)
    raise Unhandled(f"schema type {kind!r}")


def compile_writer(schema: Any) -> Writer | None:
    """The writer of a fastavro-parsed schema, or None when it uses a type this module leaves to fastavro.

    A record schema gets one generated function (`_generate`: the same bytes and the same
    `Unhandled` cases as the closures, without a call per field); anything else, the closures.
    """
    try:
        closures = _compile(schema, {})
    except Unhandled:
        return None
    if isinstance(schema, Mapping) and schema.get("type") == "record":
        return _generate(schema)
    return closures


# -- generated writers ------------------------------------------------------------------------
#
# `_generate` writes the closures' logic out as the straight-line source of one function per
# top-level record, so a record costs one call instead of one per field and item. Named types
# referenced again by name (and recursive ones) call the closure writer of their definition.


class _Source:
    """The lines of a generated function and the globals they use."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.env: dict[str, Any] = {
            "Unhandled": Unhandled,
            "_long": _long,
            "_long_bytes": _long_bytes,
            "LONGS": _LONGS,
            "SMALL": _SMALL,
            "DOUBLE": _DOUBLE,
        }
        self.named: dict[str, Writer] = {}
        self._n = 0

    def var(self, stem: str) -> str:
        self._n += 1
        return f"{stem}{self._n}"

    def const(self, stem: str, value: Any) -> str:
        name = self.var(stem)
        self.env[name] = value
        return name

    def emit(self, depth: int, *lines: str) -> None:
        self.lines.extend("    " * depth + line for line in lines)


def _gen_length(src: _Source, depth: int, n: str) -> None:
    """Append the varint of the non-negative int in ``n`` (a length or count)."""
    src.emit(depth, f"if {n} < 64:", f"    out += SMALL[{n}]", "else:", f"    _long({n}, out)")


def _gen_string(src: _Source, depth: int, v: str) -> None:
    d = src.var("d")
    src.emit(depth, f"if type({v}) is not str:", "    raise Unhandled", f"{d} = {v}.encode()", f"n = len({d})")
    _gen_length(src, depth, "n")
    src.emit(depth, f"out += {d}")


def _gen(src: _Source, node: Any, depth: int, v: str) -> None:
    """Emit the code writing the value held in variable ``v`` as ``node`` (as `_compile`'s closures do)."""
    if isinstance(node, str):
        if node == "string":
            _gen_string(src, depth, v)
        elif node == "long":
            src.emit(depth, f"if type({v}) is not int:", "    raise Unhandled", f"if 0 <= {v} < 64:")
            src.emit(depth, f"    out += SMALL[{v}]", "else:", f"    out += LONGS.get({v}) or _long_bytes({v})")
        elif node == "double":
            src.emit(depth, f"if type({v}) is not float:", "    raise Unhandled", f"out += DOUBLE({v})")
        elif node == "null":
            src.emit(depth, f"if {v} is not None:", "    raise Unhandled")
        else:  # int, boolean, a named type referenced again: the closure
            writer = _PRIMITIVES.get(node) or (_int32 if node == "int" else src.named[node])
            src.emit(depth, f"{src.const('w', writer)}({v}, out)")
        return
    if isinstance(node, list):  # [null, X] (`_compile` refused any other union)
        src.emit(depth, f"if {v} is None:", "    out.append(0)", "else:", "    out.append(2)")
        _gen(src, node[1], depth + 1, v)
        return
    kind = node.get("type")
    if kind == "record":
        src.named[node["name"]] = _compile(node, src.named)
        src.emit(depth, f"if type({v}) is not dict:", "    raise Unhandled")
        for f in node["fields"]:
            x = src.var("f")
            src.emit(depth, f"{x} = {v}[{f['name']!r}]")
            _gen(src, f["type"], depth, x)
    elif kind == "enum":
        src.named[node["name"]] = _compile(node, src.named)
        index = src.const("symbols", {s: i for i, s in enumerate(node["symbols"])})
        i = src.var("i")
        src.emit(
            depth, f"{i} = {index}.get({v}) if type({v}) is str else None", f"if {i} is None:", "    raise Unhandled"
        )
        _gen_length(src, depth, i)
    elif kind in ("array", "map"):
        if kind == "array":  # a tuple is an array too
            src.emit(depth, f"if type({v}) is not list and type({v}) is not tuple:", "    raise Unhandled")
        else:
            src.emit(depth, f"if type({v}) is not dict:", "    raise Unhandled")
        src.emit(depth, f"if {v}:", f"    n = len({v})")
        _gen_length(src, depth + 1, "n")
        if kind == "array":
            x = src.var("x")
            src.emit(depth + 1, f"for {x} in {v}:")
            _gen(src, node["items"], depth + 2, x)
        else:
            k, x = src.var("k"), src.var("x")
            src.emit(depth + 1, f"for {k}, {x} in {v}.items():")
            _gen_string(src, depth + 2, k)
            _gen(src, node["values"], depth + 2, x)
        src.emit(depth, "out.append(0)")
    else:  # a primitive spelled as a mapping (`_compile` refused anything else)
        _gen(src, kind, depth, v)


def _generate(schema: Mapping[str, Any]) -> Writer:
    """One function writing records of ``schema``; a missing field raises `Unhandled` as the closures do."""
    src = _Source()
    _gen(src, schema, 2, "record")
    body = "\n".join(src.lines)
    code = f"def write(record, out):\n    try:\n{body}\n    except KeyError:\n        raise Unhandled from None\n"
    exec(compile(code, f"<avro writer {schema.get('name')}>", "exec"), src.env)  # our own source, from the schema
    writer: Writer = src.env["write"]
    return writer
