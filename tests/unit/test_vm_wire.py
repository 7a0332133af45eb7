"""runk.vm.wire: frame encoding, the incremental decoder under any chunking, errors."""

from __future__ import annotations

import random
import struct

import pytest

from runk.vm.wire import wire

FRAMES = [
    (wire.REQ, 0, {"verb": "CreateContainer", "id": "c1", "args": ["sh", "-c", "é"]}),
    (wire.EVT, 7, {"event": "started", "uptime": 1.5}),
    (wire.STDIN, 1, b"input\n"),
    (wire.STDOUT, 1, bytes(range(256)) * 300),
    (wire.STDERR, 1, b"\x00\xff\n"),
    (wire.STDOUT, 1, b""),
    (wire.STDERR, 1, b""),
    (wire.EXIT, 1, {"exit_code": 3}),
    (wire.EXIT, 2, {"signal": 9}),
]


def _encode_all() -> bytes:
    out = b""
    for t, s, p in FRAMES:
        out += wire.encode_json(t, s, p) if t in wire.JSON_TYPES else wire.encode(t, s, p)
    return out


def _check(frames: list[wire.Frame]) -> None:
    assert len(frames) == len(FRAMES)
    for f, (t, s, p) in zip(frames, FRAMES):
        assert (f.type, f.stream) == (t, s)
        assert (f.json() if t in wire.JSON_TYPES else f.payload) == p


def test_header_layout():
    data = wire.encode(wire.STDOUT, 0x01020304, b"abc")
    assert data == b"\x04\x01\x02\x03\x04\x00\x00\x00\x03abc"
    assert wire.HEADER_SIZE == 9


def test_roundtrip_whole():
    _check(wire.decode(_encode_all()))


@pytest.mark.parametrize("seed", range(5))
def test_roundtrip_random_chunks(seed):
    data = _encode_all()
    rng = random.Random(seed)
    d = wire.Decoder()
    frames = []
    i = 0
    while i < len(data):
        n = rng.choice((1, 2, 5, 9, 10, 100, 4096, 70000))
        frames += d.feed(data[i : i + n])
        i += n
    assert d.pending == 0
    _check(frames)


def test_byte_at_a_time():
    d = wire.Decoder()
    frames = []
    for b in _encode_all():
        frames += d.feed(bytes([b]))
    _check(frames)


def test_partial_header_and_payload_are_held():
    data = wire.encode(wire.STDERR, 3, b"hello")
    d = wire.Decoder()
    assert d.feed(data[:4]) == []
    assert d.pending == 4
    assert d.feed(data[4:11]) == []
    assert d.pending == 11
    [f] = d.feed(data[11:])
    assert f == wire.Frame(wire.STDERR, 3, b"hello") and d.pending == 0


def test_eof_frames():
    [f] = wire.decode(wire.eof(wire.STDOUT, 2))
    assert f.eof and f.payload == b"" and f.stream == 2
    [g] = wire.decode(wire.encode_json(wire.EXIT, 0, {}))
    assert not g.eof


def test_many_frames_in_one_feed_and_compaction():
    one = wire.encode(wire.STDOUT, 0, b"x" * 1000)
    d = wire.Decoder()
    frames = d.feed(one * 200 + one[:500])
    assert len(frames) == 200 and d.pending == 500
    assert len(d.feed(one[500:])) == 1 and d.pending == 0


def test_decode_rejects_trailing_partial():
    with pytest.raises(wire.ProtocolError, match="incomplete"):
        wire.decode(wire.encode(wire.STDOUT, 0, b"abc")[:-1])


def test_unknown_type_and_oversize_are_errors():
    with pytest.raises(wire.ProtocolError, match="unknown frame type"):
        wire.Decoder().feed(struct.pack(">BII", 99, 0, 0))
    with pytest.raises(wire.ProtocolError, match="exceeds"):
        wire.Decoder().feed(struct.pack(">BII", wire.STDOUT, 0, wire.MAX_PAYLOAD + 1))
    with pytest.raises(wire.ProtocolError):
        wire.encode(42, 0, b"")


def test_json_only_on_json_types():
    with pytest.raises(wire.ProtocolError):
        wire.encode_json(wire.STDOUT, 0, {"a": 1})
    with pytest.raises(wire.ProtocolError):
        wire.Frame(wire.STDOUT, 0, b"{}").json()
    with pytest.raises(wire.ProtocolError, match="bad JSON"):
        wire.Frame(wire.EVT, 0, b"{nope").json()


def test_wire_imports_nothing_heavy():
    """It runs on `python3 -S` in the guest: struct and runk._json only."""
    import subprocess
    import sys

    code = (
        "import sys; sys.path.insert(0, %r); import runk.vm.wire.wire; "
        "print(sorted({'json', 're', 'enum', 'typing', 'socket', 'subprocess'}"
        " & set(sys.modules)))"
    )
    import os

    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code % top], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
