"""The VM backend without a VM: protocol messages, VM sizing, the staged share and the guest
config, qemu argv and kernel command line, exit-status mirroring, live status from the state
markers, and the supervisor's switchboard routing frames between a fake agent and clients."""

from __future__ import annotations

import base64
import os
import signal
import socket

import pytest

from runk.errors import RunkError
from runk.state.record import StateRecord
from runk.state.store import StateStore
from runk.vm.host import hostio, qemu, sandbox
from runk.vm.wire import protocol as P
from runk.vm.wire import wire

MB = 1 << 20


# -- protocol ---------------------------------------------------------------------------------


def test_request_and_reply_carry_op_rid_and_stream():
    [f] = wire.decode(P.request(P.EXEC, 7, 3, process={"args": ["true"]}))
    assert (f.type, f.stream) == (wire.REQ, 3)
    assert f.json() == {"op": "ExecProcess", "rid": 7, "process": {"args": ["true"]}}
    [r] = wire.decode(P.reply(7, False, "boom", stream=3))
    assert r.json() == {"rid": 7, "ok": False, "stream": 3, "error": "boom"}
    with pytest.raises(P.ProtocolError):
        P.request("RunAnything", 1)


def test_data_frames_fit_one_virtio_write_and_eof_is_empty():
    data = bytes(range(256)) * 400  # 102400 bytes
    frames = P.data_frames(wire.STDOUT, 2, data)
    assert all(len(f) <= 32768 for f in frames) and len(frames) == 4
    decoded = wire.decode(b"".join(frames))
    assert b"".join(f.payload for f in decoded) == data
    assert {f.stream for f in decoded} == {2}
    [eof] = wire.decode(P.data_frames(wire.STDIN, 0, b"")[0])
    assert eof.eof and eof.type == wire.STDIN


def _wait_status(code: int | None = None, sig: int | None = None) -> int:
    pid = os.fork()
    if pid == 0:
        if sig:
            os.kill(os.getpid(), sig)
        os._exit(code or 0)
    return os.waitpid(pid, 0)[1]


def test_exit_payloads_from_wait_statuses():
    assert P.status_of(_wait_status(code=5)) == {"exit_code": 5}
    assert P.status_of(_wait_status(sig=signal.SIGKILL)) == {"signal": 9}
    assert P.exit_code({"signal": 9}) == 137
    assert P.exit_code({"exit_code": 3}) == 3


@pytest.mark.parametrize(
    "status,expect",
    [
        ({"exit_code": 42}, ("code", 42)),
        ({"signal": signal.SIGTERM}, ("signal", signal.SIGTERM)),
        ({"signal": signal.SIGQUIT}, ("signal", signal.SIGQUIT)),  # no core dump either
        ({"signal": signal.SIGCONT}, ("code", 128 + signal.SIGCONT)),  # would not end us
        ({"signal": signal.SIGTSTP}, ("code", 128 + signal.SIGTSTP)),  # would only stop us
    ],
)
def test_exit_as_mirrors_the_guest_process(status, expect):
    pid = os.fork()
    if pid == 0:
        hostio.exit_as(status)
    _, st = os.waitpid(pid, 0)
    if expect[0] == "signal":
        assert os.WIFSIGNALED(st) and os.WTERMSIG(st) == expect[1] and not os.WCOREDUMP(st)
    else:
        assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == expect[1]


# -- sizing, share, guest config ------------------------------------------------------------------


@pytest.mark.parametrize(
    "res,host,expect",
    [
        (None, 4, (256, 1)),
        ({"memory": {"limit": 64 * MB}}, 4, (256, 1)),  # 64 + 192 overhead
        ({"memory": {"limit": 1 << 30}}, 4, (1216, 1)),
        ({"memory": {"limit": 100 * MB + 1}}, 4, (294, 1)),  # rounded up to 2 MiB
        ({"cpu": {"quota": 150000, "period": 100000}}, 4, (256, 2)),
        ({"cpu": {"quota": 400000, "period": 100000}}, 2, (256, 2)),  # never more than the host
        ({"cpu": {"cpus": "0-2,5"}}, 8, (256, 4)),
        ({"cpu": {"cpus": "0-3", "quota": 50000}}, 8, (256, 1)),
        ({"cpu": {"quota": -1}}, 8, (256, 1)),
    ],
)
def test_vm_size(res, host, expect):
    assert sandbox.vm_size(res, host) == expect


def _config(tmp_path) -> dict:
    (tmp_path / "data").mkdir()
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "hosts").write_text("127.0.0.1 x\n")
    return {
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs", "readonly": True},
        "process": {"args": ["true"], "cwd": "/"},
        "annotations": {"runk.backend": "vm", "runk.vm.rootfs": "block", "keep": "me"},
        "hooks": {"prestart": [{"path": "/bin/true"}]},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/data", "type": "bind", "source": str(tmp_path / "data"), "options": ["rbind", "ro"]},
            {"destination": "/etc/hosts", "source": "hosts", "options": ["bind"]},
            {"destination": "/dev/shm", "type": "bind", "source": "/dev/shm", "options": ["bind"]},
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network", "path": "/run/netns/x"}],
            "cgroupsPath": "/libpod_parent/x",
        },
    }


def test_stage_plan_shares_rootfs_binds_and_the_agents_python(tmp_path):
    cfg = _config(tmp_path)
    stages, sources = sandbox.stage_plan(cfg, str(tmp_path / "bundle"), "/r/rootfs", "virtiofs", ["/opt/runk"])
    got = {s.name: (s.source, s.kind, s.readonly, s.recursive) for s in stages}
    assert got == {
        "usr": ("/usr", "dir", True, False),
        "p0": ("/opt/runk", "dir", True, False),
        "rootfs": ("/r/rootfs", "dir", False, True),
        "m1/data": (str(tmp_path / "data"), "dir", False, True),
        "m2/hosts": (str(tmp_path / "bundle" / "hosts"), "file", False, False),
    }
    assert sources == {1: "/run/runk-share/m1/data", 2: "/run/runk-share/m2/hosts"}
    stages, _ = sandbox.stage_plan(cfg, str(tmp_path / "bundle"), "/r/rootfs", "block", [])
    assert "rootfs" not in {s.name for s in stages}  # the block image carries it


def test_stage_plan_refuses_a_missing_bind_source(tmp_path):
    cfg = _config(tmp_path)
    cfg["mounts"].append({"destination": "/x", "type": "bind", "source": "/no/such/dir"})
    with pytest.raises(RunkError, match="mount /x: stat /no/such/dir: no such file or directory"):
        sandbox.stage_plan(cfg, str(tmp_path / "bundle"), "/r", "virtiofs", [])


def test_guest_config(tmp_path):
    cfg = _config(tmp_path)
    before = repr(cfg)
    g = sandbox.guest_config(cfg, "/run/runk-share/rootfs", {1: "/run/runk-share/m1/data"})
    assert repr(cfg) == before  # the host's config is untouched
    assert g["root"] == {"path": "/run/runk-share/rootfs", "readonly": True}
    assert "hooks" not in g  # prestart hooks run on the host
    cfg["hooks"]["createContainer"] = [{"path": "/usr/bin/true"}]
    cfg["hooks"]["startContainer"] = [{"path": "/bin/true", "args": ["true"]}]
    cfg["hooks"]["poststop"] = [{"path": "/bin/true"}]
    g2 = sandbox.guest_config(cfg, "/run/runk-share/rootfs", {})
    # the container's hooks run where the container is: in the guest
    assert g2["hooks"] == {
        "createContainer": [{"path": "/usr/bin/true"}],
        "startContainer": [{"path": "/bin/true", "args": ["true"]}],
    }
    assert g["annotations"] == {"keep": "me"}  # the guest uses its linux backend
    assert g["linux"]["namespaces"] == [{"type": "pid"}, {"type": "network"}]
    assert g["mounts"][1]["source"] == "/run/runk-share/m1/data"
    assert g["mounts"][1]["options"] == ["rbind", "ro"]
    assert g["mounts"][3] == {  # the guest's pod shm, which a pod's members share
        "destination": "/dev/shm",
        "type": "bind",
        "source": "/run/runk-shm",
        "options": ["rbind", "nosuid", "noexec", "nodev"],
    }
    assert g["linux"]["cgroupsPath"] == "/libpod_parent/x"


def test_rootfs_mode_from_annotation_or_environment():
    assert sandbox.rootfs_mode({}, {}) == "virtiofs"
    assert sandbox.rootfs_mode({}, {"RUNK_VM_ROOTFS": "block"}) == "block"
    assert sandbox.rootfs_mode({"annotations": {"runk.vm.rootfs": "block"}}, {}) == "block"
    with pytest.raises(RunkError, match="expected one of virtiofs, block"):
        sandbox.rootfs_mode({"annotations": {"runk.vm.rootfs": "9p"}}, {})


def _plan(**kw) -> sandbox.VmPlan:
    base = {
        "qemu": "/usr/bin/qemu-system-x86_64",
        "virtiofsd": "/usr/lib/qemu/virtiofsd",
        "virtiofsd_flavour": "c",
        "kernel": "/k/vmlinux",
        "kernel_release": "6.1.0-x",
        "initrd": "/k/initrd.gz",
        "accel": "tcg",
        "accel_reason": "tcg: test",
        "machine": "microvm",
        "mem_mb": 512,
        "cpus": 2,
        "rootfs_mode": "virtiofs",
        "stages": [sandbox.Stage("usr", "/usr", "dir", True, False)],
        "guest_config": {"process": {"args": ["true"]}},
        "cmdline": "console=ttyS0",
        "image_mb": 0,
        "rootfs": "/r",
    }
    base.update(kw)
    return sandbox.VmPlan(**base)


def test_qemu_argv_sizes_the_vm_and_wires_share_agent_and_image():
    argv = sandbox.qemu_argv(_plan())
    joined = " ".join(argv)
    assert argv[argv.index("-m") + 1] == "512M" and argv[argv.index("-smp") + 1] == "2"
    assert "memory-backend-memfd,id=mem,size=512M,share=on" in joined
    assert "-chardev socket,id=fs0,path=vfs.sock -device vhost-user-fs-device,chardev=fs0,tag=runk" in joined
    assert "-chardev socket,id=agent,path=agent.sock" in joined
    assert "-serial file:console.log" in joined and "-drive" not in argv
    block = sandbox.qemu_argv(_plan(rootfs_mode="block", machine="q35"))
    assert "file=rootfs.img,if=none,id=blk0,format=raw,cache=unsafe" in block
    assert "virtio-blk-pci,drive=blk0" in block


def test_qemu_argv_puts_a_virtio_nic_on_each_tap():
    argv = " ".join(sandbox.qemu_argv(_plan(), [("rktap0", "02:00:00:00:00:01"), ("rktap1", "02:00:00:00:00:02")]))
    assert "-netdev tap,id=net0,ifname=rktap0,script=no,downscript=no" in argv
    assert "-device virtio-net-device,netdev=net0,mac=02:00:00:00:00:01" in argv
    assert "-device virtio-net-device,netdev=net1,mac=02:00:00:00:00:02" in argv
    assert "-netdev" not in sandbox.qemu_argv(_plan())
    q35 = " ".join(sandbox.qemu_argv(_plan(machine="q35"), [("rktap0", "02:00:00:00:00:01")]))
    assert "virtio-net-pci,netdev=net0" in q35


def test_the_vm_backend_refuses_the_hosts_network_stack():
    from runk.errors import ConfigError

    sandbox.check_network({"linux": {"namespaces": [{"type": "network"}]}})
    sandbox.check_network({"linux": {"namespaces": [{"type": "network", "path": "/run/netns/x"}]}})
    for cfg in ({}, {"linux": {"namespaces": [{"type": "pid"}]}}):
        with pytest.raises(ConfigError) as e:
            sandbox.check_network(cfg)
        assert str(e.value).startswith("linux.namespaces: the vm backend needs a network namespace")


def test_direct_volumes_are_found_by_type_and_source_or_by_annotation(tmp_path):
    from runk.errors import ConfigError
    from runk.vm.host import volumes

    img = tmp_path / "d.img"
    img.write_bytes(b"\0" * 4096)
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/etc/x", "type": "bind", "source": str(tmp_path), "options": ["rbind"]},
        {"destination": "/data", "type": "ext4", "source": str(img), "options": ["rw", "noatime"]},
        {"destination": "/vol", "type": "bind", "source": str(img), "options": ["rbind", "ro"]},
    ]
    cfg = {"mounts": mounts, "annotations": {"runk.vm.direct-volumes": "/vol:xfs"}}
    vols = volumes.find(cfg, "/b")
    assert [(v.index, v.source, v.fstype, v.serial) for v in vols] == [
        (3, str(img), "ext4", "runkvol0"),
        (4, str(img), "xfs", "runkvol1"),
    ]
    g = sandbox.guest_config({"root": {"path": "r"}, "mounts": mounts}, "/r", {}, vols)
    assert g["mounts"][3] == {
        "destination": "/data",
        "type": "ext4",
        "source": "/dev/runk-volumes/runkvol0",
        "options": ["rw", "noatime"],
    }
    assert g["mounts"][4]["type"] == "xfs" and g["mounts"][4]["options"] == ["ro"]
    stages, _ = sandbox.stage_plan({"mounts": mounts}, "/b", "/r", "virtiofs", [], frozenset({3, 4}))
    assert [s.source for s in stages if s.name.startswith("m")] == [str(tmp_path)]
    argv = " ".join(sandbox.qemu_argv(_plan(volumes=[[str(img), "runkvol0"]])))
    assert f"-drive file={img},if=none,id=vol0,format=raw -device virtio-blk-device,drive=vol0,serial=runkvol0" in argv
    for bad, msg in (
        ({"runk.vm.direct-volumes": "/nowhere"}, "no mount at /nowhere"),
        ({"runk.vm.direct-volumes": "rel"}, "expected an absolute destination"),
    ):
        with pytest.raises(ConfigError, match=msg):
            volumes.find({"mounts": mounts[:4], "annotations": bad}, "/b")
    with pytest.raises(ConfigError, match=r"mounts\[0\]: direct-assigned volume .*: not a block device"):
        volumes.find(
            {
                "mounts": [{"destination": "/v", "type": "bind", "source": str(tmp_path)}],
                "annotations": {"runk.vm.direct-volumes": "/v"},
            },
            "/b",
        )


def test_guest_containers_share_the_guest_network_namespace_when_it_has_nics():
    from runk.vm.guest import netconf

    cfg = {"linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "mount"}]}}
    netconf.share_guest_netns(cfg)
    assert cfg["linux"]["namespaces"] == [{"type": "pid"}, {"type": "mount"}]


def test_kernel_cmdline_starts_the_agent_from_the_share():
    line = sandbox.kernel_cmdline("tcg", 2)
    args = dict(a.split("=", 1) for a in line.split() if a.startswith("runk."))
    assert args["runk.relay"] == "exec"
    assert args["runk.fs"] == "runk:/run/runk-share:rw"
    assert args["runk.bind"] == "/run/runk-share/usr:/usr:ro"
    cmd = base64.b64decode(args["runk.cmd"]).decode()
    assert cmd.startswith("exec /usr/bin/python3 -S -B -c")
    assert "['/run/runk-share/p0', '/run/runk-share/p1']" in cmd and "runk.vm.guest.agent" in cmd
    assert "tsc=reliable" in line and "cgroup_no_v1=all" in line
    assert f"tsc_early_khz={qemu.host_tsc_khz()} " in line  # the same clock as the harness's
    assert "tsc=reliable" not in sandbox.kernel_cmdline("kvm", 1)


def test_python_roots_hold_runk_and_nothing_under_usr():
    import runk

    roots = sandbox.python_roots()
    assert os.path.dirname(os.path.dirname(runk.__file__)) in roots
    assert not [r for r in roots if r.startswith("/usr/")]


def test_plan_round_trips_through_json():
    p = _plan()
    q = sandbox.VmPlan.from_json(p.to_json())
    assert q.to_json() == p.to_json() and q.stages[0].readonly is True


# -- live status from the markers -------------------------------------------------------------


def test_live_status_follows_the_supervisor_markers(tmp_path):
    from runk.backend import vm
    from runk.linux import procfs

    cdir = StateStore(str(tmp_path)).claim("c1")
    rec = StateRecord(
        id="c1",
        pid=os.getpid(),
        pid_starttime=procfs.starttime(os.getpid()),
        status="created",
        backend="vm",
        sandbox={"dir": cdir.path},
    )
    assert vm.VmBackend().live_status(cdir, rec) == "running"
    open(os.path.join(cdir.path, "created"), "w").close()
    assert vm.VmBackend().live_status(cdir, rec) == "created"
    open(os.path.join(cdir.path, "paused"), "w").close()
    assert vm.VmBackend().live_status(cdir, rec) == "paused"
    open(os.path.join(cdir.path, "exit"), "w").close()
    assert vm.VmBackend().live_status(cdir, rec) == "stopped"  # exited, supervisor leaving
    os.unlink(os.path.join(cdir.path, "exit"))
    rec.pid_starttime += 1  # another process with that pid
    assert vm.VmBackend().live_status(cdir, rec) == "stopped"
    cdir.close()


# -- the switchboard --------------------------------------------------------------------------


def _pending_frames(sock) -> list[wire.Frame]:
    """The frames waiting on `sock`, without blocking."""
    sock.setblocking(False)
    try:
        return wire.decode(sock.recv(1 << 16))
    except BlockingIOError:
        return []


class Rig:
    """A supervisor whose agent and one control client are socketpairs, stdout a pipe."""

    def __init__(self, tmp_path, monkeypatch) -> None:
        from runk.vm.host.supervisor import Client, Supervisor

        monkeypatch.chdir(tmp_path)
        self.sup = Supervisor(_plan(), "c1", -1, None, None)
        self.agent, theirs = socket.socketpair()
        self.sup.agent = P.Peer(theirs.fileno())
        self._keep = theirs
        self.client, cl_theirs = socket.socketpair()
        self.cl = Client(cl_theirs)
        self.out_r, out_w = os.pipe()
        self.sup.outs = {wire.STDOUT: out_w}

    def from_client(self, data: bytes) -> None:
        self.client.sendall(data)
        self.sup.clients[self.cl.sock.fileno()] = self.cl
        self.sup.from_client(self.cl.sock.fileno())

    def agent_frames(self) -> list[wire.Frame]:
        return _pending_frames(self.agent)

    def client_frames(self) -> list[wire.Frame]:
        return _pending_frames(self.client)

    def agent_says(self, data: bytes) -> None:
        for f in wire.decode(data):
            self.sup.from_agent(f)


def test_switchboard_start_clears_created_once_the_guest_started(tmp_path, monkeypatch):
    rig = Rig(tmp_path, monkeypatch)
    open("created", "w").close()
    rig.from_client(P.request(P.START, 41))
    [req] = rig.agent_frames()
    assert req.json()["op"] == "StartContainer"
    assert os.path.exists("created")  # not before the guest says so
    rig.agent_says(P.reply(req.json()["rid"], True))
    assert not os.path.exists("created")
    [rep] = rig.client_frames()
    assert rep.json() == {"rid": 41, "ok": True}


def test_switchboard_exec_streams_belong_to_their_client(tmp_path, monkeypatch):
    rig = Rig(tmp_path, monkeypatch)
    rig.from_client(P.request(P.EXEC, 1, process={"args": ["true"]}))
    [req] = rig.agent_frames()
    assert (req.stream, req.json()["op"]) == (1, "ExecProcess")
    rig.agent_says(P.reply(req.json()["rid"], True, pid=9))
    assert rig.client_frames()[0].json() == {"rid": 1, "ok": True, "pid": 9, "stream": 1}
    rig.from_client(wire.encode(wire.STDIN, 1, b"in") + wire.encode(wire.STDIN, 0, b"no"))
    assert [(f.stream, f.payload) for f in rig.agent_frames()] == [(1, b"in")]
    rig.agent_says(wire.encode(wire.STDOUT, 1, b"out") + P.exit_frame(1, {"exit_code": 7}))
    got = rig.client_frames()
    assert [(f.type, f.payload) for f in got] == [(wire.STDOUT, b"out"), (wire.EXIT, b'{"exit_code":7}')]
    assert rig.sup.owners == {}
    rig.from_client(P.request(P.SIGNAL, 2, 1, signal=9))  # that process is gone
    assert rig.agent_frames() == []
    assert rig.client_frames()[0].json()["error"] == "no such process"


def test_switchboard_failed_exec_frees_its_stream(tmp_path, monkeypatch):
    rig = Rig(tmp_path, monkeypatch)
    rig.from_client(P.request(P.EXEC, 1, process={"args": ["nope"]}))
    [req] = rig.agent_frames()
    rig.agent_says(P.reply(req.json()["rid"], False, "exec: nope: not found"))
    assert rig.client_frames()[0].json()["error"] == "exec: nope: not found"
    assert rig.sup.owners == {}


def test_switchboard_pause_marker_and_init_exit(tmp_path, monkeypatch):
    rig = Rig(tmp_path, monkeypatch)
    rig.from_client(P.request(P.PAUSE, 5))
    rig.agent_says(P.reply(rig.agent_frames()[0].json()["rid"], True))
    assert os.path.exists("paused")
    rig.from_client(P.request(P.RESUME, 6))
    rig.agent_says(P.reply(rig.agent_frames()[0].json()["rid"], True))
    assert not os.path.exists("paused")
    rig.agent_says(wire.encode(wire.STDOUT, 0, b"hello\n") + wire.eof(wire.STDOUT, 0))
    assert os.read(rig.out_r, 100) == b"hello\n"
    assert os.read(rig.out_r, 100) == b""  # EOF reached our reader
    rig.agent_says(P.exit_frame(0, {"signal": 9}))
    assert rig.sup.status == {"signal": 9}
    with open("exit") as f:
        assert f.read() == '{"signal":9}'


def test_switchboard_refuses_a_member_before_the_sandbox_exists(tmp_path, monkeypatch):
    rig = Rig(tmp_path, monkeypatch)
    rig.from_client(P.request(P.CREATE, 3, id="x", config={}))
    assert rig.agent_frames() == []
    assert "the sandbox's VM is not running" in rig.client_frames()[0].json()["error"]


# -- selection --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prog,argv,expect",
    [
        ("runk-vm", ["state", "x"], "vm"),  # the fast path, by name
        ("runk", ["state", "x"], "linux"),
        ("runk", ["--backend", "vm", "state", "x"], "vm"),  # the fast path, by flag
        ("runk-vm", ["--backend", "linux", "state", "x"], "linux"),
        ("runk", ["--backend=vm", "exec", "-e", "A=1", "x", "env"], "vm"),  # deferred to click
    ],
)
def test_backend_selection_by_name_and_flag(prog, argv, expect, tmp_path):
    import subprocess
    import sys

    # the verb itself is replaced: what reaches it is the backend a new container would get
    code = (
        "import sys; import runk.cli.commands as c; from runk.backend import default_name; "
        "c.run = lambda verb, g, opts: print(default_name(g.backend), file=sys.stderr) or 0; "
        "from runk.cli.main import main; "
        f"main(['--root', {str(tmp_path)!r}] + {argv!r}, prog={prog!r})"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stderr.splitlines()[-1] == expect, r.stderr


def test_runk_vm_features_describe_the_vm_backend():
    import subprocess

    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    launcher = os.path.join(top, ".venv", "bin", "runk-vm")
    if not os.access(launcher, os.X_OK):
        pytest.skip("needs .venv/bin/runk-vm (scripts/setup)")
    vm = __import__("json").loads(
        subprocess.run([launcher, "features"], capture_output=True, text=True, timeout=60, check=True).stdout
    )
    linux = __import__("json").loads(
        subprocess.run([launcher[:-3], "features"], capture_output=True, text=True, timeout=60, check=True).stdout
    )
    ann = vm["annotations"]
    assert ann["org.runk.backend"] == "vm" and "org.runk.backend" not in linux["annotations"]
    assert ann["org.runk.vm.accelerator"] in ("tcg", "kvm")
    assert ann["org.runk.vm.accelerator.reason"].startswith(ann["org.runk.vm.accelerator"])
    assert "io.kubernetes.cri.sandbox-id" in ann["org.runk.vm.pods"]
    assert vm["linux"]["cgroup"]["v1"] is False and vm["linux"]["cgroup"]["v2"] is True
    assert vm["linux"]["namespaces"] == linux["linux"]["namespaces"]


@pytest.mark.parametrize("argv", [["state", "c1"], ["kill", "c1", "9"], ["start", "c1"], ["list"]], ids=" ".join)
def test_hot_commands_stay_light_for_vm_containers(argv, tmp_path):
    """state/kill/start of a VM container (here one whose supervisor socket is gone) import
    nothing heavy either: kill and start speak to vm.sock with _socket and the frame codec."""
    import subprocess

    from runk.linux import procfs
    from tests.unit.test_import_budget import FORBIDDEN, modules_after

    cdir = tmp_path / "root" / "c1"
    cdir.mkdir(parents=True)
    stand_in = subprocess.Popen(["sleep", "60"])  # the "supervisor"
    rec = StateRecord(
        ociVersion="1.2.0",
        id="c1",
        pid=stand_in.pid,
        status="created",
        pid_starttime=procfs.starttime(stand_in.pid),
        bundle=str(tmp_path),
        backend="vm",
        sandbox={"dir": str(cdir)},
    )
    (cdir / "state.json").write_text(rec.to_json())
    (cdir / "config.json").write_text('{"process": {"args": ["true"]}}')
    (cdir / "created").write_text("")
    try:
        rc, mods = modules_after(["--root", str(tmp_path / "root"), *argv], tmp_path)
    finally:
        stand_in.kill()
        stand_in.wait()
    assert rc in (0, 1)
    assert "runk.vm.host.control" in mods if argv[0] in ("kill", "start") else True
    assert not (FORBIDDEN & mods), sorted(FORBIDDEN & mods)


# -- the netlink helper child -----------------------------------------------------------------


def _import_in_child() -> list[int]:
    import sys
    import wave  # noqa: F401  (anything the parent has not imported)

    return [os.getpid(), len(sys.modules)]


def _fail_in_child() -> None:
    from runk.vm.host import netplug

    raise netplug.PlugError("network: no such interface")


def test_netplug_isolated_keeps_imports_out_of_the_supervisor():
    import sys

    from runk.vm.host import netplug

    assert "wave" not in sys.modules
    pid, _ = netplug.isolated(_import_in_child)
    assert pid != os.getpid() and "wave" not in sys.modules  # it ran in a child, imports and all
    with pytest.raises(netplug.PlugError, match="^network: no such interface$"):
        netplug.isolated(_fail_in_child)
    with pytest.raises(netplug.PlugError, match="^internal error: integer division or modulo by zero$"):
        netplug.isolated(lambda: 1 // 0)
