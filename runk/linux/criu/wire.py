"""proto2's wire format, the part CRIU's RPC messages use: varints, length-delimited fields.

Runs in the parent. A message is described by a schema: {field name: (number, kind)} where kind
is "int32", "uint32", "bool", "string" or a nested schema (a dict), and a field name ending in
"[]" is repeated. encode() takes {name: value} (None and absent fields are left out); decode()
gives {number: [raw values]} (ints for varints, bytes for length-delimited fields), which the
caller reads with the helpers below.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    Schema: TypeAlias = dict[str, tuple[int, "str | Schema"]]

VARINT = 0
I64 = 1
LEN = 2
I32 = 5
_MASK64 = (1 << 64) - 1


class WireError(ValueError):
    """Bytes that are not a well-formed message."""


def varint(n: int) -> bytes:
    n &= _MASK64  # a negative int32 is sent as its 64-bit two's complement (ten bytes)
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(number: int, wtype: int) -> bytes:
    return varint(number << 3 | wtype)


def _field(number: int, kind: str | Schema, value: Any) -> bytes:
    if isinstance(kind, dict):
        body = encode(kind, value)
        return _key(number, LEN) + varint(len(body)) + body
    if kind == "string":
        data = value.encode() if isinstance(value, str) else bytes(value)
        return _key(number, LEN) + varint(len(data)) + data
    if kind == "bool":
        return _key(number, VARINT) + varint(1 if value else 0)
    if kind in ("int32", "uint32"):
        return _key(number, VARINT) + varint(int(value))
    raise ValueError(f"unknown field kind {kind!r}")


def encode(schema: Schema, values: dict[str, Any]) -> bytes:
    out = bytearray()
    for name, (number, kind) in schema.items():
        if name.endswith("[]"):
            for item in values.get(name[:-2]) or ():
                out += _field(number, kind, item)
            continue
        value = values.get(name)
        if value is not None:
            out += _field(number, kind, value)
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise WireError("truncated varint")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def decode(data: bytes) -> dict[int, list[int | bytes]]:
    fields: dict[int, list[int | bytes]] = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wtype = key >> 3, key & 7
        value: int | bytes
        if wtype == VARINT:
            value, pos = _read_varint(data, pos)
        elif wtype == LEN:
            size, pos = _read_varint(data, pos)
            if pos + size > len(data):
                raise WireError("truncated field")
            value, pos = data[pos : pos + size], pos + size
        elif wtype in (I64, I32):
            size = 8 if wtype == I64 else 4
            value, pos = int.from_bytes(data[pos : pos + size], "little"), pos + size
        else:
            raise WireError(f"unsupported wire type {wtype}")
        fields.setdefault(number, []).append(value)
    return fields


def get_int(fields: dict[int, list[int | bytes]], number: int, default: int = 0, signed: bool = True) -> int:
    values = fields.get(number)
    if not values or not isinstance(values[-1], int):
        return default
    n = values[-1]
    if signed and n >= 1 << 63:
        n -= 1 << 64
    return n


def get_bytes(fields: dict[int, list[int | bytes]], number: int) -> bytes | None:
    values = fields.get(number)
    if not values or not isinstance(values[-1], bytes):
        return None
    return values[-1]


def get_message(fields: dict[int, list[int | bytes]], number: int) -> dict[int, list[int | bytes]] | None:
    raw = get_bytes(fields, number)
    return decode(raw) if raw is not None else None
