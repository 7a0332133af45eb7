"""The CRI path of a Kubernetes node: kubelet's calls (RunPodSandbox, CreateContainer, ...) to
containerd's CRI plugin, whose runc shim runs the binary of the pod's runtime handler. Each
scenario runs with the `runk` handler (the README's snippet) and with `runc` side by side, and
checks what a node would: the sandbox's namespaces shared by the pod's containers, exit codes,
logs, exec, resources applied in the container's cgroup, and nothing left after removal."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import time
import uuid

import grpc
import pytest

from tests.conftest import RUNC, RUNK
from tests.containerd.daemon import IMAGE
from tests.cri.criapi import CONTAINER_STATE, MODE

pytestmark = pytest.mark.slow

HANDLERS = {"runk": RUNK, "runc": RUNC}


def handler_state(node, handler: str, cid: str) -> dict | None:
    """A handler's own view of a container (`BINARY --root ROOT state ID`), or None."""
    r = subprocess.run(
        [HANDLERS[handler], "--root", node.runtime_root(handler), "state", cid],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return json.loads(r.stdout) if r.returncode == 0 else None


class Pod:
    """One pod sandbox on a handler, and the containers created in it."""

    def __init__(self, node, handler: str) -> None:
        self.node, self.handler, self.c = node, handler, node.client
        name = f"{handler}-{uuid.uuid4().hex[:6]}"
        self.log_dir = os.path.join(node.logs, name)
        os.makedirs(self.log_dir)
        self.config = {
            "metadata": {"name": name, "uid": uuid.uuid4().hex, "namespace": "default"},
            "hostname": name,
            "log_directory": self.log_dir,
            "labels": {"app": "runk-cri-test"},
            "annotations": {"runk.test/handler": handler},
            "linux": {
                "cgroup_parent": node.cgroup_parent,
                "security_context": {
                    "namespace_options": {"network": MODE["POD"], "pid": MODE["CONTAINER"], "ipc": MODE["POD"]}
                },
            },
        }
        self.id = self.c.call("RunPodSandbox", config=self.config, runtime_handler=handler).pod_sandbox_id
        self.containers: list[str] = []

    def create(self, name: str, args: list[str], resources: dict | None = None) -> str:
        linux: dict = {
            "security_context": {
                "namespace_options": {"network": MODE["POD"], "pid": MODE["CONTAINER"], "ipc": MODE["POD"]}
            }
        }
        if resources:
            linux["resources"] = resources
        config = {
            "metadata": {"name": name},
            "image": {"image": IMAGE},
            "command": args,
            "log_path": f"{name}.log",
            "linux": linux,
        }
        cid = self.c.call(
            "CreateContainer", pod_sandbox_id=self.id, config=config, sandbox_config=self.config
        ).container_id
        self.containers.append(cid)
        return cid

    def run(self, name: str, args: list[str], resources: dict | None = None) -> str:
        cid = self.create(name, args, resources)
        self.c.call("StartContainer", container_id=cid)
        return cid

    def status(self, cid: str):
        return self.c.call("ContainerStatus", container_id=cid).status

    def wait_exited(self, cid: str, seconds: float = 30) -> object:
        deadline = time.monotonic() + seconds
        while True:
            st = self.status(cid)
            if CONTAINER_STATE[st.state] == "CONTAINER_EXITED":
                return st
            assert time.monotonic() < deadline, f"{cid} still {CONTAINER_STATE[st.state]} after {seconds} s"
            time.sleep(0.2)

    def exec(self, cid: str, *cmd: str, timeout: int = 30):
        return self.c.call("ExecSync", container_id=cid, cmd=list(cmd), timeout=timeout)

    def runtime_state(self, cid: str) -> dict | None:
        return handler_state(self.node, self.handler, cid)

    def remove(self) -> None:
        self.c.call("StopPodSandbox", pod_sandbox_id=self.id)
        self.c.call("RemovePodSandbox", pod_sandbox_id=self.id)


@pytest.fixture(params=list(HANDLERS))
def pod(request, node):
    if not os.access(HANDLERS[request.param], os.X_OK):
        pytest.skip(f"needs {HANDLERS[request.param]}")
    p = Pod(node, request.param)
    yield p
    try:
        p.remove()
    except grpc.RpcError:
        pass


def _ns(pid: int, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def test_runtime_is_ready(node):
    v = node.client.call("Version", version="v1")
    assert v.runtime_name == "containerd" and v.runtime_api_version.startswith("v1")
    conditions = {c.type: c.status for c in node.client.call("Status").status.conditions}
    assert conditions == {"RuntimeReady": True, "NetworkReady": True}, conditions


def test_sandbox_runs_on_its_handler(pod):
    st = pod.c.call("PodSandboxStatus", pod_sandbox_id=pod.id).status
    assert st.state == 0 and st.runtime_handler == pod.handler
    assert st.network.ip.startswith("10.203."), st.network.ip
    state = pod.runtime_state(pod.id)
    assert state is not None and state["status"] == "running", f"{pod.handler} does not know the sandbox"
    other = "runc" if pod.handler == "runk" else "runk"
    assert handler_state(pod.node, other, pod.id) is None
    # the sandbox's own namespaces: a new net, ipc and uts, its hostname
    pid = state["pid"]
    for kind in ("net", "ipc", "uts", "pid"):
        assert _ns(pid, kind) != _ns(os.getpid(), kind), kind
    with open(f"/proc/{pid}/cgroup") as f:
        assert pod.node.cgroup_parent in f.read()


def test_two_containers_share_the_pods_network_and_ipc(pod):
    server = pod.run("server", ["httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/etc"])
    client = pod.run("client", ["sleep", "600"])
    sandbox_pid = pod.runtime_state(pod.id)["pid"]
    pids = {cid: pod.runtime_state(cid)["pid"] for cid in (server, client)}
    for kind in ("net", "ipc"):
        assert {_ns(p, kind) for p in pids.values()} == {_ns(sandbox_pid, kind)}, kind
    # each container has its own pid namespace (CONTAINER) and mount namespace
    assert _ns(pids[server], "pid") != _ns(pids[client], "pid")
    # localhost is the pod's: the client reaches the server's port
    deadline = time.monotonic() + 15
    while True:
        r = pod.exec(client, "wget", "-qO-", "http://127.0.0.1:8080/hostname")
        if r.exit_code == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.decode().strip() == pod.config["hostname"]
    # and the pod's address is on its eth0, seen from a container
    ip = pod.c.call("PodSandboxStatus", pod_sandbox_id=pod.id).status.network.ip
    assert ip in pod.exec(client, "ip", "-4", "addr", "show", "eth0").stdout.decode()


def test_exec_sync_output_and_exit_code(pod):
    cid = pod.run("main", ["sleep", "600"])
    r = pod.exec(cid, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.stdout, r.stderr, r.exit_code) == (b"out\n", b"err\n", 3)
    # a command that is not there: the CRI call itself fails (containerd's answer, for both)
    with pytest.raises(grpc.RpcError) as e:
        pod.exec(cid, "no-such-binary")
    assert "executable file not found in $PATH" in e.value.details()
    r = pod.exec(cid, "id", "-u")
    assert (r.stdout, r.exit_code) == (b"0\n", 0)


def test_container_status_exit_code_and_logs(pod):
    cid = pod.run("job", ["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 7"])
    st = pod.wait_exited(cid)
    assert st.exit_code == 7 and st.reason == "Error"
    assert st.started_at > 0 and st.finished_at > 0  # (a fast exit may be stamped before the start)
    with open(os.path.join(pod.log_dir, "job.log")) as f:
        lines = [line.split(" ", 3)[1:] for line in f.read().splitlines()]
    assert ["stdout", "F", "to-stdout"] in lines and ["stderr", "F", "to-stderr"] in lines
    ok = pod.run("ok", ["true"])
    st = pod.wait_exited(ok)
    assert (st.exit_code, st.reason) == (0, "Completed")


def _memory_limit(pid: int) -> int:
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if "memory" in controllers.split(","):
                with open(f"/sys/fs/cgroup/memory{path}/memory.limit_in_bytes") as g:
                    return int(g.read())
            if controllers == "" and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
                with open(f"/sys/fs/cgroup{path}/memory.max") as g:
                    return int(g.read())
    raise AssertionError("no memory cgroup")


def test_update_container_resources(pod):
    limit = 64 << 20
    cid = pod.run("main", ["sleep", "600"], resources={"memory_limit_in_bytes": limit})
    pid = pod.runtime_state(cid)["pid"]
    assert _memory_limit(pid) == limit
    pod.c.call("UpdateContainerResources", container_id=cid, linux={"memory_limit_in_bytes": 2 * limit})
    assert _memory_limit(pid) == 2 * limit
    # the container still runs and the runtime reports the new limit through its own update path
    assert CONTAINER_STATE[pod.status(cid).state] == "CONTAINER_RUNNING"


def test_stop_and_remove_leave_nothing(node, pod):
    cid = pod.run("main", ["sleep", "600"])
    pid = pod.runtime_state(cid)["pid"]
    sandbox_pid = pod.runtime_state(pod.id)["pid"]
    pod.c.call("StopContainer", container_id=cid, timeout=1)
    st = pod.wait_exited(cid, 15)
    assert st.exit_code == 137  # sleep ignores nothing: TERM ends it, or KILL after the timeout
    pod.remove()
    for p in (pid, sandbox_pid):
        assert not os.path.exists(f"/proc/{p}"), f"process {p} left"
    for i in (cid, pod.id):
        assert pod.runtime_state(i) is None, f"{pod.handler} still knows {i}"
    with pytest.raises(grpc.RpcError) as e:
        pod.c.call("PodSandboxStatus", pod_sandbox_id=pod.id)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    left = [d for d in glob.glob(f"/sys/fs/cgroup/*{node.cgroup_parent}/*") if os.path.isdir(d)]
    assert not [d for d in left if cid in d or pod.id in d], left


def test_handlers_side_by_side(node):
    pods = [Pod(node, h) for h in HANDLERS]
    try:
        for p in pods:
            cid = p.run("main", ["sleep", "600"])
            assert p.runtime_state(cid)["status"] == "running"
        roots = {h: set(os.listdir(node.runtime_root(h))) for h in HANDLERS}
        assert roots["runk"].isdisjoint(roots["runc"])
        assert {pods[0].id, *pods[0].containers} <= roots["runk"]
        assert {pods[1].id, *pods[1].containers} <= roots["runc"]
    finally:
        for p in pods:
            p.remove()
