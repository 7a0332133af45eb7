"""Pods in one VM, the parts without a VM: the sandbox recognition rule (runk.vm.host.pod), a
member's plan, the guest config the agent gives a member, the supervisor's routing of a member's
stream, and the staging's mount listing."""

from __future__ import annotations

import os

import pytest

from runk.errors import ConfigError
from runk.vm.guest import agent
from runk.vm.host import pod, podshare
from runk.vm.wire import protocol as P
from runk.vm.wire import wire

from .test_vm_backend import Rig, _config

NS = {"/proc/10/ns/net": (4, 100), "/proc/10/ns/ipc": (4, 101), "/run/netns/cni-1": (4, 100), "/x": (4, 7)}


def _ns_key(path: str):
    return NS.get(path)


SB = pod.Candidate("sb", "/run/r/sb", {"network": (4, 100), "ipc": (4, 101)})
OTHER = pod.Candidate("other", "/run/r/other", {"network": (4, 200), "ipc": (4, 201)})


def _cfg(annotations=None, **paths) -> dict:
    namespaces = [{"type": t} for t in ("pid", "mount")]
    namespaces += [{"type": t, "path": p} if p else {"type": t} for t, p in paths.items()]
    return {"annotations": annotations or {}, "linux": {"namespaces": namespaces}}


@pytest.mark.parametrize(
    "cfg, expect",
    [
        # podman: the infra's /proc/PID/ns paths, or the pod's netns path (same inode)
        (_cfg(network="/proc/10/ns/net", ipc="/proc/10/ns/ipc", uts="/proc/10/ns/uts"), "sb"),
        (_cfg(network="/run/netns/cni-1"), "sb"),
        (_cfg(network=None, ipc="/proc/10/ns/ipc"), "sb"),  # IPC alone names it too
        # joining a namespace no VM sandbox runs in (a runc container's): a VM of its own
        (_cfg(network="/x"), None),
        (_cfg(network="/no/such/ns"), None),
        (_cfg(network=None, ipc=None), None),
        # containerd's and CRI-O's annotations name the sandbox, whatever the paths
        (_cfg({"io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "other"}), "other"),
        (_cfg({"io.kubernetes.cri-o.ContainerType": "container", "io.kubernetes.cri-o.SandboxID": "sb"}), "sb"),
        # a sandbox is never a member, even in a namespace a VM runs in
        (_cfg({"io.kubernetes.cri.container-type": "sandbox"}, network="/proc/10/ns/net"), None),
        # annotations naming no running VM container: the paths decide
        (
            _cfg(
                {"io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "gone"},
                network="/run/netns/cni-1",
            ),
            "sb",
        ),
        (_cfg({"io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "gone"}), None),
    ],
)
def test_choose_sandbox(cfg, expect):
    got = pod.choose_sandbox(cfg, [OTHER, SB], _ns_key)
    assert (got.id if got else None) == expect


def test_find_sandbox_reads_nothing_without_a_joined_namespace_or_annotation(tmp_path, monkeypatch):
    monkeypatch.setattr(pod, "candidates", lambda *a: pytest.fail("read the other containers"))
    assert pod.find_sandbox(_cfg(network=None), str(tmp_path), "x") is None
    assert pod.find_sandbox(_cfg({"io.kubernetes.cri.container-type": "sandbox"}), str(tmp_path), "x") is None


def test_candidates_are_running_vm_sandboxes(tmp_path):
    """Only vm-backend containers whose supervisor is alive, with no `exit`, not members: here
    the test process stands for a live supervisor."""
    from runk import _json
    from runk.linux import procfs

    me = os.getpid()

    def container(name: str, **rec) -> None:
        d = tmp_path / name
        d.mkdir()
        doc = {"backend": "vm", "pid": me, "pid_starttime": procfs.starttime(me), "sandbox": {"dir": str(d)}}
        doc.update(rec)
        (d / "state.json").write_text(_json.dumps(doc))

    container("sb")
    container("linux", backend="linux")
    container("member", sandbox={"dir": "x", "pod": str(tmp_path / "sb")})
    container("dead", pid=2**22 + 1)
    container("ended")
    (tmp_path / "ended" / "exit").write_text("{}")
    container("self")
    got = pod.candidates(str(tmp_path), "self")
    assert [c.id for c in got] == ["sb"]
    assert got[0].ns["network"] == pod.ns_key(f"/proc/{me}/ns/net")


def test_member_plan_stages_under_its_own_directory(tmp_path):
    cfg = _config(tmp_path)
    (tmp_path / "bundle" / "rootfs").mkdir()
    cfg["linux"]["namespaces"] = [
        {"type": "pid"},
        {"type": "mount"},
        {"type": "network", "path": "/run/netns/x"},
        {"type": "ipc", "path": "/proc/1/ns/ipc"},
        {"type": "uts", "path": "/proc/1/ns/uts"},
    ]
    stages, g, join = pod.member_plan(cfg, str(tmp_path / "bundle"), "m1")
    got = {s.name: s.source for s in stages}
    assert got == {
        "c/m1/rootfs": str(tmp_path / "bundle" / "rootfs"),
        "c/m1/m1/data": str(tmp_path / "data"),
        "c/m1/m2/hosts": str(tmp_path / "bundle" / "hosts"),
    }  # no /usr or runk code: the sandbox's VM has them
    assert g["root"]["path"] == "/run/runk-share/c/m1/rootfs"
    assert g["mounts"][1]["source"] == "/run/runk-share/c/m1/m1/data"
    assert join == ["network", "ipc", "uts"]
    assert g["linux"]["namespaces"] == [{"type": t} for t in ("pid", "mount", "network", "ipc", "uts")]
    assert g["mounts"][3]["source"] == P.POD_SHM  # the pod's shm, with its IPC namespace


def test_member_plan_a_member_without_the_pods_ipc_gets_its_own_shm(tmp_path):
    cfg = _config(tmp_path)
    (tmp_path / "bundle" / "rootfs").mkdir()
    _stages, g, join = pod.member_plan(cfg, str(tmp_path / "bundle"), "m1")
    assert join == ["network"]
    assert g["mounts"][3]["type"] == "tmpfs" and g["mounts"][3]["source"] == "shm"


def test_member_plan_refuses_a_direct_assigned_volume(tmp_path):
    cfg = _config(tmp_path)
    img = tmp_path / "disk.img"
    img.write_bytes(b"\0" * 4096)
    cfg["mounts"].append({"destination": "/vol", "type": "ext4", "source": str(img)})
    with pytest.raises(ConfigError, match=r"mounts\[4\]: a direct-assigned volume needs a VM of its own"):
        pod.member_plan(cfg, str(tmp_path / "bundle"), "m1")


def test_agent_joins_the_sandbox_inits_namespaces():
    cfg = {"linux": {"namespaces": [{"type": t} for t in ("pid", "mount", "network", "ipc", "uts", "cgroup")]}}
    agent.join_sandbox(cfg, 42, ["network", "ipc", "uts"])
    assert cfg["linux"]["namespaces"] == [
        {"type": "pid"},
        {"type": "mount"},
        {"type": "network", "path": "/proc/42/ns/net"},
        {"type": "ipc", "path": "/proc/42/ns/ipc"},
        {"type": "uts", "path": "/proc/42/ns/uts"},
        {"type": "cgroup"},
    ]


# -- the sandbox supervisor's routing of a member ----------------------------------------------


def _created_rig(tmp_path, monkeypatch) -> Rig:
    rig = Rig(tmp_path, monkeypatch)
    rig.sup.created = True
    return rig


def test_switchboard_gives_a_member_its_own_stream(tmp_path, monkeypatch):
    rig = _created_rig(tmp_path, monkeypatch)
    rig.from_client(P.request(P.CREATE, 7, id="m1", config={}, join=["network"]))
    [req] = rig.agent_frames()
    doc = req.json()
    assert doc["op"] == P.CREATE and doc["id"] == "m1" and req.stream not in (P.INIT_STREAM,)
    rig.agent_says(P.reply(doc["rid"], True, pid=5))
    [rep] = rig.client_frames()
    assert rep.json() == {"rid": 7, "ok": True, "pid": 5, "stream": req.stream}
    # its output and exit go to its member supervisor only, never the sandbox's stdout or `exit`
    rig.agent_says(wire.encode(wire.STDOUT, req.stream, b"hi") + P.exit_frame(req.stream, {"exit_code": 3}))
    out, ex = rig.client_frames()
    assert (out.payload, ex.json()) == (b"hi", {"exit_code": 3})
    assert rig.sup.status is None and not os.path.exists("exit")
    assert rig.sup.member_inits == {}


def test_switchboard_kills_a_member_whose_host_process_is_gone(tmp_path, monkeypatch):
    rig = _created_rig(tmp_path, monkeypatch)
    rig.from_client(P.request(P.CREATE, 7, id="m1", config={}))
    [req] = rig.agent_frames()
    rig.agent_says(P.reply(req.json()["rid"], True, pid=5))
    rig.client.close()  # kill -9 of the member supervisor
    rig.sup.from_client(rig.cl.sock.fileno())
    [kill] = rig.agent_frames()
    assert {k: v for k, v in kill.json().items() if k != "rid"} == {
        "op": P.SIGNAL,
        "signal": 9,
        "all": True,
        "container_id": "m1",
    }


def test_switchboard_keeps_the_sandboxs_markers_for_a_members_verbs(tmp_path, monkeypatch):
    rig = _created_rig(tmp_path, monkeypatch)
    open("created", "w").close()
    rig.from_client(P.request(P.START, 1, container_id="m1") + P.request(P.PAUSE, 2, container_id="m1"))
    for req in rig.agent_frames():
        assert req.json()["container_id"] == "m1"
        rig.agent_says(P.reply(req.json()["rid"], True))
    assert os.path.exists("created") and not os.path.exists("paused")
    rig.from_client(P.request(P.START, 3, container_id="c1"))  # the sandbox's own id
    [req] = rig.agent_frames()
    rig.agent_says(P.reply(req.json()["rid"], True))
    assert not os.path.exists("created")


def test_mount_points_under(tmp_path, monkeypatch):
    lines = [
        "20 1 0:5 / /run/s/share rw - tmpfs x rw",
        "21 20 0:6 / /run/s/share/c/m1/rootfs rw - ext4 /dev/vda rw",
        "22 20 0:6 /a /run/s/share/c/m1/m0/with\\040space rw - ext4 /dev/vda rw",
        "23 20 0:6 / /run/s/share/c/m10/rootfs rw - ext4 /dev/vda rw",
    ]
    info = tmp_path / "mountinfo"
    info.write_text("\n".join(lines) + "\n")
    real_open = open
    monkeypatch.setattr(
        "builtins.open", lambda p, *a, **k: real_open(info if p == "/proc/self/mountinfo" else p, *a, **k)
    )
    assert podshare.mount_points_under("/run/s/share/c/m1") == [
        "/run/s/share/c/m1/rootfs",
        "/run/s/share/c/m1/m0/with space",
    ]
