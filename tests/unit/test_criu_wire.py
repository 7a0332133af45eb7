"""CRIU's RPC messages as runk encodes them (runk.linux.criu.wire/rpc), against bytes worked out
from proto2's wire format by hand."""

from __future__ import annotations

import pytest

from runk.linux.criu import rpc, wire


def test_varints_and_negative_int32():
    assert wire.varint(1) == b"\x01"
    assert wire.varint(300) == b"\xac\x02"
    assert wire.varint(-1) == b"\xff" * 9 + b"\x01"  # an int32 -1 is ten bytes on the wire
    assert wire.get_int(wire.decode(b"\x08" + wire.varint(-1)), 1) == -1


def test_a_dump_request_encodes_field_by_field():
    data = rpc.request(
        rpc.DUMP,
        {"images_dir_fd": 5, "log_file": "dump.log", "leave_running": True, "ext_mnt": [{"key": "/a", "val": "/a"}]},
    )
    # criu_req: type=1 (field 1), opts (field 2, length-delimited)
    assert data[:2] == b"\x08\x01" and data[2] == 0x12
    opts = wire.decode(wire.get_bytes(wire.decode(data), 2))
    assert opts[1] == [5] and opts[3] == [1] and opts[10] == [b"dump.log"]
    assert wire.decode(opts[23][0]) == {1: [b"/a"], 2: [b"/a"]}
    assert None not in opts  # absent fields are left out


def test_responses_are_read():
    notify = wire.encode({"script": (1, "string"), "pid": (2, "int32")}, {"script": "post-restore", "pid": 4242})
    body = b"\x08\x06\x10\x01" + b"\x2a" + wire.varint(len(notify)) + notify
    r = rpc.Response(body)
    assert (r.type, r.success, r.script, r.pid) == (rpc.NOTIFY, True, "post-restore", 4242)
    version = b"\x08\x03\x10\x11\x20\x01"  # 3.17.1
    r = rpc.Response(b"\x08\x0a\x10\x01\x52" + wire.varint(len(version)) + version)
    assert r.version == 31701
    r = rpc.Response(b"\x08\x01\x10\x00\x38\x02")
    assert not r.success and r.cr_errno == 2


def test_truncated_messages_are_refused():
    with pytest.raises(wire.WireError):
        wire.decode(b"\x12\x05ab")
    with pytest.raises(wire.WireError):
        wire.decode(b"\x08\xff")


@pytest.mark.parametrize(("mode", "value"), [("ignore", 0), ("soft", 3), ("full", 4), ("strict", 5)])
def test_manage_cgroups_mode_is_sent_even_when_zero(mode, value):
    """criu_cg_mode: IGNORE is 0 and must still be on the wire (runc main's
    --manage-cgroups-mode ignore, which its checkpoint.bats uses on cgroup v2)."""
    from runk.linux.criu.options import cgroups_mode

    data = rpc.request(rpc.DUMP, {"manage_cgroups_mode": rpc.CG_MODES[cgroups_mode(mode)]})
    assert wire.decode(wire.get_bytes(wire.decode(data), 2))[34] == [value]
