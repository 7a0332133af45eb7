"""Pods in one VM (host, runk create): which running VM container a new container belongs to, and
what it takes into that VM.

Runs on the host in `runk create` of the vm backend. A container is a **pod member**, created in
another container's VM instead of its own, when one of these names a **sandbox**, a runk-vm
container in the same --root that runs (its supervisor is alive, no `exit` yet) and is not a
member itself:

1. the CRI annotations: `io.kubernetes.cri.container-type` = `container` with
   `io.kubernetes.cri.sandbox-id` (containerd), or `io.kubernetes.cri-o.ContainerType` =
   `container` with `io.kubernetes.cri-o.SandboxID` (CRI-O), naming the sandbox's id; a
   container whose type is `sandbox` is always a sandbox of its own;
2. else its namespaces joined by path: the network (then the IPC) namespace at the config's
   path is the one the sandbox's supervisor runs in (same st_dev and st_ino of the nsfs file as
   /proc/<supervisor pid>/ns/<type>). That is podman's pod (an infra container, the members
   joining its namespaces by /proc/<pid>/ns/... or the pod's netns path) and CRI without
   annotations.

Anything else, including a container that joins the namespaces of a runc or runk (linux)
container or of a stopped VM container, gets its own VM as before.

In the sandbox's guest, the member joins the sandbox init's namespaces of the types its config
joins by path (network, ipc, uts, pid; `join`), and gets new ones of the others; a /dev/shm bind
(podman binds the pod's shm into the infra and each member) is the guest's pod shm tmpfs for the
members that share IPC, a fresh tmpfs otherwise.
Its rootfs and bind sources are staged into the sandbox's share under c/<id>/
(runk.vm.host.podshare). The VM keeps the sandbox's size: a member's resources become cgroup
limits inside the guest only. Direct-assigned volumes and the block rootfs need a VM of their
own: a member with a direct-assigned volume is refused, a block rootfs annotation is ignored.
"""

from __future__ import annotations

import os

from runk.errors import ConfigError
from runk.vm.host.sandbox import GUEST_SHARE, SHM_OPTIONS, Stage, guest_config, stage_plan
from runk.vm.wire.protocol import POD_SHM

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# (container type, sandbox id) annotation pairs: containerd's CRI plugin, CRI-O
CRI_ANNOTATIONS = (
    ("io.kubernetes.cri.container-type", "io.kubernetes.cri.sandbox-id"),
    ("io.kubernetes.cri-o.ContainerType", "io.kubernetes.cri-o.SandboxID"),
)
MATCHED = ("network", "ipc")  # namespaces compared with the sandbox supervisor's
JOINABLE = ("network", "ipc", "uts", "pid")  # joined in the guest when joined by path on the host
NS_FILES = {"network": "net", "ipc": "ipc", "uts": "uts", "pid": "pid"}
MEMBERS_DIR = "c"  # the members' part of the sandbox's share: c/<id>/

NsKey = tuple[int, int]  # (st_dev, st_ino) of a namespace file


class Candidate:
    """A running VM container that can be a sandbox: its id, directory, and the host namespaces
    its supervisor runs in."""

    __slots__ = ("dir", "id", "ns")

    def __init__(self, cid: str, dirpath: str, ns: dict[str, NsKey]) -> None:
        self.id, self.dir, self.ns = cid, dirpath, ns

    def __repr__(self) -> str:
        return f"Candidate({self.id})"


def cri_role(annotations: dict[str, str]) -> tuple[str | None, str | None]:
    """(container type, sandbox id) from the CRI annotations, (None, None) without them."""
    for kind, sid in CRI_ANNOTATIONS:
        if kind in annotations:
            return annotations.get(kind), annotations.get(sid)
    return None, None


def choose_sandbox(
    cfg: dict[str, Any], candidates: list[Candidate], ns_key: Callable[[str], NsKey | None]
) -> Candidate | None:
    """The sandbox whose VM the container of `cfg` joins (the rule above), or None for a VM of its
    own. ns_key(path): the (st_dev, st_ino) of a namespace path, None if it cannot be read."""
    kind, sid = cri_role(cfg.get("annotations") or {})
    if kind == "sandbox":
        return None
    if kind == "container" and sid:
        for c in candidates:
            if c.id == sid:
                return c
    paths = {ns.get("type"): ns.get("path") for ns in (cfg.get("linux") or {}).get("namespaces") or []}
    for t in MATCHED:
        path = paths.get(t)
        if not path:
            continue
        key = ns_key(path)
        if key is None:
            continue
        for c in candidates:
            if c.ns.get(t) == key:
                return c
    return None


def joined(cfg: dict[str, Any]) -> list[str]:
    """The namespace types a member joins by path: in the guest, it joins the sandbox's."""
    return [
        ns["type"]
        for ns in (cfg.get("linux") or {}).get("namespaces") or []
        if ns.get("type") in JOINABLE and ns.get("path")
    ]


def ns_key(path: str) -> NsKey | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def candidates(root: str, own: str) -> list[Candidate]:
    """The running runk-vm containers of `root` that are sandboxes (not members), but `own`."""
    from runk import _json
    from runk.linux import procfs

    out = []
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    for name in names:
        d = os.path.join(root, name)
        if name == own or os.path.exists(os.path.join(d, "exit")):
            continue
        try:
            with open(os.path.join(d, "state.json"), "rb") as f:
                rec = _json.loads(f.read())
        except (OSError, ValueError):
            continue
        if not isinstance(rec, dict):
            continue
        box = rec.get("sandbox")
        if rec.get("backend") != "vm" or not isinstance(box, dict) or box.get("pod"):
            continue
        pid = int(rec.get("pid") or 0)
        if not pid or not procfs.is_alive(pid, rec.get("pid_starttime")):
            continue
        ns = {t: k for t in MATCHED if (k := ns_key(f"/proc/{pid}/ns/{NS_FILES[t]}")) is not None}
        out.append(Candidate(name, str(box.get("dir") or d), ns))
    return out


def find_sandbox(cfg: dict[str, Any], root: str, own: str) -> Candidate | None:
    """The sandbox of a container being created in `root`, or None (see choose_sandbox)."""
    kind, _sid = cri_role(cfg.get("annotations") or {})
    if kind == "sandbox":
        return None
    if kind is None and not any(
        ns.get("path") and ns.get("type") in MATCHED for ns in (cfg.get("linux") or {}).get("namespaces") or []
    ):
        return None  # nothing to compare: skip reading the other containers
    return choose_sandbox(cfg, candidates(root, own), ns_key)


def member_plan(cfg: dict[str, Any], bundle: str, cid: str) -> tuple[list[Stage], dict[str, Any], list[str]]:
    """(stages under c/<cid>/ of the sandbox's share, the guest config, the namespaces joined)."""
    from runk.oci.config import rootfs_path
    from runk.vm.host import volumes

    vols = volumes.find(cfg, bundle)
    if vols:
        raise ConfigError(
            f"mounts[{vols[0].index}]",
            "a direct-assigned volume needs a VM of its own: a pod member joins its sandbox's running "
            "VM, which cannot take a new disk",
        )
    prefix = f"{MEMBERS_DIR}/{cid}/"
    stages, sources = stage_plan(cfg, bundle, rootfs_path(cfg, bundle), "virtiofs", [])
    own = [s for s in stages if s.name == "rootfs" or s.name.startswith("m")]
    for s in own:
        s.name = prefix + s.name
    moved = {i: src.replace(f"{GUEST_SHARE}/", f"{GUEST_SHARE}/{prefix}", 1) for i, src in sources.items()}
    g = guest_config(cfg, f"{GUEST_SHARE}/{prefix}rootfs", moved)
    join = joined(cfg)
    if "ipc" not in join:  # the pod's shm goes with its IPC namespace
        g["mounts"] = [
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": list(SHM_OPTIONS)}
            if m.get("destination") == "/dev/shm" and m.get("source") == POD_SHM
            else m
            for m in g.get("mounts") or []
        ]
    return own, g, join
