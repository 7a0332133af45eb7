"""Frames on the host <-> guest channel (virtio-serial today, vsock later; DESIGN 3.15).

A frame is ``type:u8 | stream:u32 | len:u32 | payload`` in network byte order. REQ, EVT and EXIT
carry one JSON document; STDIN, STDOUT and STDERR carry raw bytes, and a zero-length one means
EOF on that stream (virtio-serial has no half-close). FD frames carry the bytes of a preserved
descriptor (`--preserve-fds`): ``fd:u32 | bytes``, where fd is its number in the process (3..);
no bytes after the number is that descriptor's EOF. ``stream`` names the process a frame is
about (0 = the first/only one); requests and events may use it as a correlation id.

This module imports only struct and runk._json: it also runs inside the guest, on `python3 -S`.
"""

from __future__ import annotations

import struct

from runk import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

REQ = 1
EVT = 2
STDIN = 3
STDOUT = 4
STDERR = 5
EXIT = 6
FD = 7

NAMES = {REQ: "REQ", EVT: "EVT", STDIN: "STDIN", STDOUT: "STDOUT", STDERR: "STDERR", EXIT: "EXIT", FD: "FD"}
JSON_TYPES = frozenset((REQ, EVT, EXIT))
HEADER = struct.Struct(">BII")
HEADER_SIZE = HEADER.size  # 9
MAX_PAYLOAD = 64 << 20  # a frame larger than this is a protocol error, not a buffer to allocate


class ProtocolError(ValueError):
    """The byte stream is not a sequence of valid frames."""


class Frame:
    __slots__ = ("payload", "stream", "type")

    def __init__(self, type: int, stream: int, payload: bytes) -> None:
        self.type = type
        self.stream = stream
        self.payload = payload

    @property
    def eof(self) -> bool:
        """A zero-length data frame: the end of that stream."""
        return not self.payload and self.type in (STDIN, STDOUT, STDERR)

    def json(self) -> Any:
        """The parsed JSON document of a REQ, EVT or EXIT frame (an object, as sent)."""
        if self.type not in JSON_TYPES:
            raise ProtocolError(f"{NAMES.get(self.type, self.type)} frames carry bytes, not JSON")
        try:
            return _json.loads(self.payload)
        except ValueError as e:
            raise ProtocolError(f"bad JSON in {NAMES[self.type]} frame: {e}") from None

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Frame)
            and self.type == other.type
            and self.stream == other.stream
            and self.payload == other.payload
        )

    def __repr__(self) -> str:
        name = NAMES.get(self.type, str(self.type))
        body = self.payload if len(self.payload) <= 60 else self.payload[:57] + b"..."
        return f"Frame({name}, {self.stream}, {body!r})"


def encode(type: int, stream: int, payload: bytes = b"") -> bytes:
    if type not in NAMES:
        raise ProtocolError(f"unknown frame type {type}")
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return HEADER.pack(type, stream, len(payload)) + payload


def encode_json(type: int, stream: int, obj: object) -> bytes:
    if type not in JSON_TYPES:
        raise ProtocolError(f"{NAMES.get(type, type)} frames carry bytes, not JSON")
    return encode(type, stream, _json.dumps(obj).encode())


def eof(type: int, stream: int = 0) -> bytes:
    """The EOF marker of a data stream (a zero-length frame)."""
    return encode(type, stream, b"")


def decode(data: bytes) -> list[Frame]:
    """All frames of a complete byte string; trailing partial data is an error."""
    d = Decoder()
    frames = d.feed(data)
    if d.pending:
        raise ProtocolError(f"{d.pending} bytes of an incomplete frame at the end")
    return frames


class Decoder:
    """Incremental decoder: feed() any chunking of the stream, get the complete frames."""

    __slots__ = ("_buf", "_pos")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0

    @property
    def pending(self) -> int:
        """Bytes held that do not yet make a complete frame."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> list[Frame]:
        buf = self._buf
        buf += data
        out = []
        pos = self._pos
        end = len(buf)
        while end - pos >= HEADER_SIZE:
            type, stream, length = HEADER.unpack_from(buf, pos)
            if type not in NAMES:
                raise ProtocolError(f"unknown frame type {type} at offset {pos}")
            if length > MAX_PAYLOAD:
                raise ProtocolError(f"frame length {length} exceeds {MAX_PAYLOAD}")
            if end - pos - HEADER_SIZE < length:
                break
            start = pos + HEADER_SIZE
            out.append(Frame(type, stream, bytes(buf[start : start + length])))
            pos = start + length
        # compact once the consumed prefix is large, not per frame (a naive relay is O(n^2))
        if pos == end:
            buf.clear()
            pos = 0
        elif pos > 65536:
            del buf[:pos]
            pos = 0
        self._pos = pos
        return out
