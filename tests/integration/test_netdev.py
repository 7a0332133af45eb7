"""linux.netDevices and the loopback of a new network namespace."""

from __future__ import annotations

import subprocess
import uuid

import pytest


@pytest.fixture
def veth():
    a, b = "rk" + uuid.uuid4().hex[:8], "rk" + uuid.uuid4().hex[:8]
    r = subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot create a veth pair: {r.stderr.decode().strip()}")
    yield a, b
    subprocess.run(["ip", "link", "del", a], capture_output=True)
    subprocess.run(["ip", "link", "del", b], capture_output=True)


def test_new_netns_has_loopback_up(runk, bundle, cid, leak_audit):
    caps = bundle.config["process"]["capabilities"]
    for s in ("bounding", "effective", "permitted"):
        caps[s].append("CAP_NET_RAW")  # ping needs a raw socket
    bundle.sh("ip -o link show lo; ping -c1 -W1 127.0.0.1 >/dev/null && echo ping-ok").write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == 0, r
    assert "UP" in r.out.split("\n")[0] and "ping-ok" in r.out


def test_net_device_moved_and_renamed(runk, bundle, cid, veth, leak_audit):
    host_end, peer = veth
    bundle.config["linux"]["netDevices"] = {host_end: {"name": "eth7"}}
    bundle.sh("ip -o link show eth7 && echo moved").write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == 0, r
    assert "eth7" in r.out and "moved" in r.out
    # the device left the host while the container had it; the namespace took the veth with it
    assert subprocess.run(["ip", "link", "show", host_end], capture_output=True).returncode != 0


def test_missing_net_device_fails_create_cleanly(runk, bundle, cid, leak_audit):
    bundle.config["linux"]["netDevices"] = {"rk-no-such-dev": {}}
    bundle.args("true").write()
    r = runk("create", "--bundle", bundle.path, cid)
    assert r.rc == 1
    assert "network device 'rk-no-such-dev' not found" in r.err
    assert runk("state", cid).rc == 1
