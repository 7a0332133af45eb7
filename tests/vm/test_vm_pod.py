"""Pods on runk-vm (runk.vm.host.pod): containers that join a running VM container's namespaces
run in its VM. By hand (a sandbox and members joining its /proc/<pid>/ns paths, as podman's pod
members and CRI containers do) and through `podman pod create`: one qemu for the pod, localhost
and IPC shared, each member with its own pid namespace and verbs; members come and go (stop,
kill -9 of the host process, delete) while the sandbox runs, and the sandbox's delete leaves no
qemu, virtiofsd, mount or directory behind. One VM boot per test."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest

from tests.conftest import Bundle

from .conftest import vm_processes

pytestmark = [pytest.mark.vm, pytest.mark.slow]
BOOT = 120


def _serving(port: int) -> str:
    return f"httpd -p 127.0.0.1:{port} -h /etc && exec sleep 100000"


def _member(tmp_path, bundle: Bundle, name: str, sandbox_pid: int, script: str) -> Bundle:
    d = tmp_path / name
    d.mkdir()
    b = Bundle(str(d), bundle.rootfs)
    b.sh(script)
    files = {"network": "net", "ipc": "ipc", "uts": "uts"}
    for ns in b.config["linux"]["namespaces"]:
        if ns["type"] in files:
            ns["path"] = f"/proc/{sandbox_pid}/ns/{files[ns['type']]}"
    return _shm_bind(b, tmp_path)


def _shm_bind(b: Bundle, tmp_path) -> Bundle:
    """/dev/shm a bind, as podman's pod containers have it (of the pod's shm mount)."""
    shm = tmp_path / "pod-shm"
    shm.mkdir(exist_ok=True)
    b.config["mounts"] = [m for m in b.config["mounts"] if m["destination"] != "/dev/shm"] + [
        {"destination": "/dev/shm", "type": "bind", "source": str(shm), "options": ["rbind", "rw"]}
    ]
    return b


def _run(vmrt, b: Bundle, cid: str) -> int:
    r = vmrt("create", "--bundle", b.write(), cid, timeout=BOOT)
    assert r.rc == 0, r
    assert vmrt("start", cid).rc == 0
    return int(vmrt.state(cid)["pid"])


def _get(vmrt, cid: str, port: int, tries: int = 50) -> str:
    """What the container sees at http://127.0.0.1:PORT/passwd ("" if nothing answers)."""
    script = f"for i in $(seq {tries}); do wget -qO- http://127.0.0.1:{port}/passwd && exit 0; sleep 0.2; done"
    return vmrt("exec", cid, "sh", "-c", script, timeout=90).out


def _ns(vmrt, cid: str) -> dict[str, str]:
    out = vmrt("exec", cid, "sh", "-c", "for n in net ipc uts pid; do echo $n $(readlink /proc/self/ns/$n); done").out
    return dict(line.split(" ", 1) for line in out.splitlines())


def _mounts_naming(text: str, pids: list[int]) -> list[str]:
    """Lines of the host's mount table and of these processes' that contain `text`."""
    found = []
    for where in ["self"] + [str(p) for p in pids]:
        try:
            with open(f"/proc/{where}/mountinfo") as f:
                found += [f"{where}: {line.strip()}" for line in f if text in line]
        except OSError:
            pass
    return found


def _status(vmrt, cid: str) -> str:
    return vmrt.state(cid)["status"]


def _wait_status(vmrt, cid: str, want: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while _status(vmrt, cid) != want:
        assert time.monotonic() < deadline, f"{cid} is {_status(vmrt, cid)}, not {want}"
        time.sleep(0.2)


def test_members_share_the_sandbox_vm_network_and_ipc(vmrt, bundle, tmp_path):
    sb, m1, m2, m3 = (f"vmpod{n}-{uuid.uuid4().hex[:6]}" for n in ("sb", "m1", "m2", "m3"))
    bundle.sh(_serving(8080))
    sb_pid = _run(vmrt, _shm_bind(bundle, tmp_path), sb)
    with open(os.path.join(vmrt.root, sb, "vm.json")) as f:
        info = json.load(f)
    vfs_pid = info["virtiofsd"][0]

    t0 = time.monotonic()
    m1_pid = _run(vmrt, _member(tmp_path, bundle, "m1", sb_pid, _serving(8081)), m1)
    member_seconds = time.monotonic() - t0
    # one VM: the member's pid is its own host process, no qemu or virtiofsd of its own
    assert m1_pid != sb_pid
    assert len(vm_processes(vmrt.root)) == 2, vm_processes(vmrt.root)  # the sandbox's qemu and virtiofsd
    assert not os.path.exists(os.path.join(vmrt.root, m1, "vm-plan.json"))
    assert member_seconds < 30, f"a member took {member_seconds:.1f} s: a VM boot?"
    # localhost both ways
    assert _get(vmrt, m1, 8080).startswith("root:x:0:0"), "the member does not reach the sandbox's server"
    assert _get(vmrt, sb, 8081).startswith("root:x:0:0"), "the sandbox does not reach the member's server"
    # network, IPC and UTS shared; each its own pid namespace; the guest's kernel
    ns_sb, ns_m1 = _ns(vmrt, sb), _ns(vmrt, m1)
    assert [ns_sb[k] == ns_m1[k] for k in ("net", "ipc", "uts", "pid")] == [True, True, True, False], (ns_sb, ns_m1)
    assert vmrt("exec", m1, "uname", "-r").out.strip() != os.uname().release
    # the member's /dev/shm (a bind, as podman's) is the sandbox's
    assert vmrt("exec", sb, "sh", "-c", "echo pod > /dev/shm/hello").rc == 0
    assert vmrt("exec", m1, "cat", "/dev/shm/hello").out.strip() == "pod"
    # the member's files are staged in virtiofsd's namespace only, never on the host
    assert _mounts_naming(f"/c/{m1}/", [vfs_pid]) and not _mounts_naming(f"/c/{m1}/", [])
    # the member's own verbs
    assert [int(p) for p in json.loads(vmrt("ps", "--format", "json", m1).out)] != []
    assert vmrt("pause", m1).rc == 0 and _status(vmrt, m1) == "paused" and _status(vmrt, sb) == "running"
    assert vmrt("resume", m1).rc == 0 and _status(vmrt, m1) == "running"
    stats = json.loads(vmrt("events", "--stats", m1).out)
    assert stats["id"] == m1 and stats["data"]["pids"]["current"] >= 2, stats
    assert vmrt("update", "--pids-limit", "50", m1).rc == 0
    assert vmrt("kill", m1, "KILL").rc == 0
    _wait_status(vmrt, m1, "stopped")
    assert _status(vmrt, sb) == "running"
    assert vmrt("delete", m1).rc == 0
    assert not _mounts_naming(f"/c/{m1}/", [vfs_pid]), "the member's staging mounts outlived it"
    assert _get(vmrt, sb, 8080).startswith("root:x:0:0"), "the sandbox suffered from the member's delete"

    # a member whose host process is killed -9 dies in the guest too
    m2_pid = _run(vmrt, _member(tmp_path, bundle, "m2", sb_pid, _serving(8082)), m2)
    assert _get(vmrt, sb, 8082).startswith("root:x:0:0")
    os.kill(m2_pid, 9)
    _wait_status(vmrt, m2, "stopped")
    assert _get(vmrt, sb, 8082, tries=10) == "", "the member still serves after its host process was killed"
    assert vmrt("delete", m2).rc == 0

    # the sandbox's delete --force ends the VM and its last member, which then deletes cleanly
    _run(vmrt, _member(tmp_path, bundle, "m3", sb_pid, "exec sleep 100000"), m3)
    assert vmrt("delete", "--force", sb).rc == 0
    _wait_status(vmrt, m3, "stopped")
    assert vmrt("delete", m3).rc == 0
    assert vm_processes(vmrt.root) == []
    assert sorted(os.listdir(vmrt.root)) == []
    assert not _mounts_naming(vmrt.root, [])


def test_member_faults_leave_nothing(vmrt, bundle, tmp_path):
    """A member create killed after staging, delete --force of a running member, then the
    sandbox's supervisor killed -9 under a running member: delete --force and delete leave no
    mount, process or directory."""
    sb, m1, m2 = (f"vmpod{n}-{uuid.uuid4().hex[:6]}" for n in ("sb", "m1", "m2"))
    bundle.sh("exec sleep 100000")
    sb_pid = _run(vmrt, bundle, sb)
    with open(os.path.join(vmrt.root, sb, "vm.json")) as f:
        vfs_pid = json.load(f)["virtiofsd"][0]
    env = {**os.environ, "RUNK_TEST_STOP_AFTER": "staged"}
    r = vmrt("create", "--bundle", _member(tmp_path, bundle, "m1", sb_pid, "sleep 1").write(), m1, env=env)
    assert r.rc != 0
    assert _mounts_naming(f"/c/{m1}/", [vfs_pid]), "the fault point was not reached"
    assert vmrt("delete", "--force", m1).rc == 0
    assert not _mounts_naming(f"/c/{m1}/", [vfs_pid])
    # delete --force of a running member
    m3 = f"vmpodm3-{uuid.uuid4().hex[:6]}"
    m3_pid = _run(vmrt, _member(tmp_path, bundle, "m3", sb_pid, "exec sleep 100000"), m3)
    assert vmrt("delete", "--force", m3).rc == 0
    assert not os.path.exists(f"/proc/{m3_pid}/cwd") and not os.path.exists(os.path.join(vmrt.root, m3))
    assert not _mounts_naming(f"/c/{m3}/", [vfs_pid]) and _status(vmrt, sb) == "running"

    m2_pid = _run(vmrt, _member(tmp_path, bundle, "m2", sb_pid, "exec sleep 100000"), m2)
    os.kill(sb_pid, 9)
    _wait_status(vmrt, m2, "stopped")
    _wait_status(vmrt, sb, "stopped")
    deadline = time.monotonic() + 30
    while vm_processes(vmrt.root) or os.path.exists(f"/proc/{m2_pid}"):
        assert time.monotonic() < deadline, (vm_processes(vmrt.root), m2_pid)
        time.sleep(0.2)
    assert vmrt("delete", m2).rc == 0
    assert vmrt("delete", sb).rc == 0
    assert sorted(os.listdir(vmrt.root)) == [] and not _mounts_naming(vmrt.root, [])


def _pid_of(run, name: str) -> int:
    r = run("inspect", "--format", "{{.State.Pid}}", name)
    assert r.returncode == 0, r.stderr
    return int(r.stdout.strip())


def test_podman_pod_runs_in_one_vm(podman, guest):
    run, image = podman
    pod = f"vmpod{uuid.uuid4().hex[:6]}"
    r = run("pod", "create", "--name", pod)
    assert r.returncode == 0, r.stderr
    try:
        r = run("run", "-d", "--pod", pod, "--name", f"{pod}-web", image, "httpd", "-f", "-p", "8080", "-h", "/etc")
        assert r.returncode == 0, r.stderr
        script = "for i in $(seq 50); do wget -qO- http://localhost:8080/passwd && break; sleep 0.2; done"
        r = run("run", "--rm", "--pod", pod, image, "sh", "-c", f"{script}; readlink /proc/self/ns/net")
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert r.stdout.startswith("root:x:0:0"), r.stdout
        r2 = run("exec", f"{pod}-web", "readlink", "/proc/self/ns/net")
        assert r2.stdout.split() == r.stdout.split()[-1:], (r.stdout, r2.stdout)
        # the pod's one VM: the infra container's; the web container's host process is a member's
        infra = run("pod", "inspect", "--format", "{{.InfraContainerID}}", pod).stdout.strip()
        sup = _pid_of(run, infra)
        infra_dir = os.readlink(f"/proc/{sup}/cwd")
        web = os.readlink(f"/proc/{_pid_of(run, pod + '-web')}/cwd")
        assert os.path.dirname(web) == os.path.dirname(infra_dir)
        assert os.path.exists(os.path.join(web, "vm-member.json")) and vm_processes(web) == []
        procs = vm_processes(infra_dir)  # (other tests' podman containers share podman's --root)
        assert len(procs) == 2 and sum("qemu-system" in p for p in procs) == 1, procs
    finally:
        r = _pod_rm(run, pod)
    assert r.returncode == 0, r.stderr
    assert vm_processes(infra_dir) == [] and not os.path.exists(infra_dir)
    assert not _mounts_naming(infra_dir, [])


def _pod_rm(run, pod: str):
    """podman pod rm -f. Here, podman 4.3 also writes a `tasks` file into the pod's directory under
    /sys/fs/cgroup/hugetlb, a plain tmpfs directory on this host (no hugetlb hierarchy), and then
    cannot rmdir it: "removing pod ... conmon cgroup: ... directory not empty", under runc alike.
    That directory is removed and the rm repeated."""
    import shutil

    pod_id = run("pod", "inspect", "--format", "{{.ID}}", pod).stdout.strip()
    r = run("pod", "rm", "-f", "-t", "0", pod)
    fake = f"/sys/fs/cgroup/hugetlb/libpod_parent/{pod_id}"
    if r.returncode and "conmon cgroup" in r.stderr and pod_id and os.path.isdir(fake):
        shutil.rmtree(fake)
        r = run("pod", "rm", "-f", "-t", "0", pod)
    return r


VM_HANDLER = "runk-vm"


@pytest.fixture(scope="module")
def vm_node(guest):
    """tests/cri's node (a private containerd with its CRI plugin and a CNI bridge) with one more
    runtime handler, `runk-vm`: the runc shim with BinaryName = runk-vm."""
    import shutil

    pytest.importorskip("grpc", reason="needs grpcio (the test extras)")
    from tests.cri.conftest import CNI_BIN, CriNode

    if os.geteuid() != 0:
        pytest.skip("needs root")
    missing = [b for b in ("containerd", "ctr", "containerd-shim-runc-v2") if not shutil.which(b)]
    if missing or not os.path.exists(os.path.join(CNI_BIN, "bridge")):
        pytest.skip("needs containerd, its runc shim and the CNI plugins")
    n = CriNode()
    runtime = f'plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{VM_HANDLER}'
    with open(n.ctrd.config, "a") as f:
        f.write(
            f'[{runtime}]\n  runtime_type = "io.containerd.runc.v2"\n[{runtime}.options]\n'
            f'  BinaryName = "{VM_BIN}"\n  Root = "{n.state_dir}/runtime-{VM_HANDLER}"\n'
        )
    try:
        n.start()
    except Exception as e:
        n.stop()
        pytest.fail(f"containerd with its CRI plugin did not start: {e}", pytrace=False)
    yield n
    n.stop()


VM_BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".venv/bin/runk-vm")


def test_cri_pod_runs_in_one_vm(vm_node):
    """kubelet's calls on a runk-vm handler: the sandbox boots the pod's VM, its two containers
    (recognised by containerd's annotations) run in it and talk over localhost; stopping and
    removing the pod leaves nothing."""
    from tests.cri import test_cri

    test_cri.HANDLERS[VM_HANDLER] = VM_BIN
    root = vm_node.runtime_root(VM_HANDLER)
    p = test_cri.Pod(vm_node, VM_HANDLER)
    try:
        server = p.run("server", ["httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/etc"])
        client = p.run("client", ["sleep", "600"])
        for cid in (p.id, server, client):
            assert p.runtime_state(cid)["status"] == "running", cid
        procs = vm_processes(root)
        assert len(procs) == 2 and sum("qemu-system" in x for x in procs) == 1, procs
        assert os.path.exists(os.path.join(root, server, "vm-member.json"))
        deadline = time.monotonic() + 60
        while True:
            r = p.exec(client, "wget", "-qO-", "http://127.0.0.1:8080/passwd", timeout=60)
            if r.exit_code == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert r.exit_code == 0 and r.stdout.decode().startswith("root:x:0:0"), r.stderr
        # the pod's address, on the guest's eth0 that the containers share
        ip = p.c.call("PodSandboxStatus", pod_sandbox_id=p.id).status.network.ip
        assert ip.startswith("10.203.") and ip in p.exec(client, "ip", "-4", "addr", "show", "eth0").stdout.decode()
    finally:
        p.remove()
    assert vm_processes(root) == []
    assert [d for d in os.listdir(root) if d != "@cache"] == [] if os.path.isdir(root) else True
    assert not _mounts_naming(root, [])
