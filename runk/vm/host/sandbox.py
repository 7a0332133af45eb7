"""Plan of one container's micro-VM (host, runk create; qemu argv also in the supervisor).

Runs on the host, in `runk create` (plan_vm, which looks up kernel, initramfs, qemu and the
accelerator) and in the supervisor (qemu_argv). Everything else is a pure function over explicit
inputs so the unit tests check it without a VM:
  - the VM's size: runk.vm.host.sizing (resources and CRI/Kata annotations);
  - stage_plan: what the one virtio-fs share holds: the bundle rootfs, every bind mount source
    of config.mounts, the host /usr and runk's own code for the agent's python3 (read-only);
  - guest_config: config.json as the agent gets it (rootfs and bind sources at their guest
    paths, namespace paths dropped: every namespace is new inside the guest; createContainer
    and startContainer hooks run in the guest, the others on the host; a bind on /dev/shm, such
    as podman's, becomes a bind of the guest's pod shm tmpfs, shared by a pod's members);
  - kernel command line for the guest /init (runk.vm.image.guest_init) and the qemu argv.
"""

from __future__ import annotations

import copy
import os

from runk import _json
from runk.errors import ConfigError, RunkError
from runk.vm.host import sizing, volumes
from runk.vm.host.sizing import vm_size
from runk.vm.wire.protocol import POD_SHM

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

SHARE_TAG = "runk"
GUEST_SHARE = "/run/runk-share"  # the share in the guest
GUEST_BLOCK_ROOT = "/run/runk-rootfs"
MB = 1 << 20
ROOTFS_MODES = ("virtiofs", "block")
GUEST_HOOKS = ("createContainer", "startContainer")
ANN_ROOTFS = "runk.vm.rootfs"
SHM_OPTIONS = ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]
POD_SHM_BIND = ["rbind", "nosuid", "noexec", "nodev"]
# files of the workdir (the container dir) that qemu and virtiofsd use, relative to it
AGENT_SOCK, VFS_SOCK, CONSOLE_LOG, IMAGE, SHARE_DIR = ("agent.sock", "vfs.sock", "console.log", "rootfs.img", "share")


class Stage:
    """One entry of the share: `source` (host) appears as <share>/<name>."""

    __slots__ = ("kind", "name", "readonly", "recursive", "source")

    def __init__(self, name: str, source: str, kind: str, readonly: bool = False, recursive: bool = True) -> None:
        self.name, self.source, self.kind = name, source, kind
        self.readonly, self.recursive = readonly, recursive

    def to_list(self) -> list[str | bool]:
        return [self.name, self.source, self.kind, self.readonly, self.recursive]

    def __repr__(self) -> str:
        return f"Stage({self.name}: {self.source} {self.kind}{' ro' if self.readonly else ''})"


def is_bind(m: dict[str, Any]) -> bool:
    return m.get("type") == "bind" or any(o in ("bind", "rbind") for o in m.get("options") or [])


def stage_plan(
    cfg: dict[str, Any],
    bundle: str,
    rootfs: str,
    mode: str,
    python_roots: list[str],
    skip: frozenset[int] = frozenset(),
) -> tuple[list[Stage], dict[int, str]]:
    """(stages, {index in config.mounts: guest source}) for the share; `skip`: mounts that are
    not shared (direct-assigned volumes)."""
    stages = [Stage("usr", "/usr", "dir", readonly=True, recursive=False)]
    stages += [Stage(f"p{i}", p, "dir", readonly=True, recursive=False) for i, p in enumerate(python_roots)]
    if mode == "virtiofs":
        stages.append(Stage("rootfs", rootfs, "dir"))
    sources: dict[int, str] = {}
    for i, m in enumerate(cfg.get("mounts") or []):
        if not is_bind(m) or m.get("destination") == "/dev/shm" or i in skip:
            continue
        src = m.get("source") or ""
        if not os.path.isabs(src):
            src = os.path.join(bundle, src)
        try:
            kind = "dir" if os.path.isdir(src) else "file"
            os.stat(src)
        except OSError as e:
            raise RunkError(f"mount {m.get('destination')}: stat {src}: {os.strerror(e.errno or 0).lower()}") from None
        opts = m.get("options") or []
        # keep the source's base name: the guest mountinfo root then ends like the host's
        # (runtime-tools compares the base names)
        name = f"m{i}/{os.path.basename(os.path.normpath(src)) or 'root'}"
        stages.append(Stage(name, src, kind, recursive="rbind" in opts))
        sources[i] = f"{GUEST_SHARE}/{name}"
    return stages, sources


def guest_config(
    cfg: dict[str, Any], root_path: str, sources: dict[int, str], vols: list[volumes.Volume] | None = None
) -> dict[str, Any]:
    g = copy.deepcopy(cfg)
    by_index = {v.index: v for v in vols or []}
    g["root"] = {"path": root_path, "readonly": bool((cfg.get("root") or {}).get("readonly"))}
    # createContainer and startContainer hooks run in the guest, where the container is (its
    # runk core runs them as on a host); the others run on the host (runk.container)
    hooks = {k: v for k, v in (g.pop("hooks", None) or {}).items() if k in GUEST_HOOKS and v}
    if hooks:
        g["hooks"] = hooks
    ann = dict(g.get("annotations") or {})
    for k in [k for k in ann if k == "runk.backend" or k.startswith("runk.vm.")]:
        del ann[k]
    g["annotations"] = ann
    linux = g.get("linux")
    if linux is not None and linux.get("namespaces") is not None:
        linux["namespaces"] = [{"type": ns["type"]} for ns in linux["namespaces"]]
    mounts = []
    for i, m in enumerate(g.get("mounts") or []):
        if i in by_index:
            m = volumes.guest_mount(m, by_index[i])
        elif m.get("destination") == "/dev/shm" and is_bind(m):
            m = {"destination": "/dev/shm", "type": "bind", "source": POD_SHM, "options": list(POD_SHM_BIND)}
        elif i in sources:
            m["source"] = sources[i]
        mounts.append(m)
    if "mounts" in g:
        g["mounts"] = mounts
    return g


def agent_command(guest_paths: list[str]) -> str:
    code = f"import sys; sys.path[:0] = {guest_paths!r}; from runk.vm.guest.agent import main; main()"
    return f'exec /usr/bin/python3 -S -B -c "{code}"\n'


def kernel_cmdline(accel: str, n_python_roots: int, extra: str = "") -> str:
    import base64

    from runk.vm.host import qemu

    paths = [f"{GUEST_SHARE}/p{i}" for i in range(n_python_roots)]
    cmd = base64.b64encode(agent_command(paths).encode()).decode()
    return qemu.kernel_cmdline(
        accel,
        "cgroup_no_v1=all",
        "runk.relay=exec",
        f"runk.fs={SHARE_TAG}:{GUEST_SHARE}:rw",
        f"runk.bind={GUEST_SHARE}/usr:/usr:ro",
        f"runk.cmd={cmd}",
        extra,
    )


_PLAN_FIELDS = (
    "qemu",
    "virtiofsd",
    "virtiofsd_flavour",
    "kernel",
    "kernel_release",
    "initrd",
    "accel",
    "accel_reason",
    "machine",
    "mem_mb",
    "cpus",
    "rootfs_mode",
    "stages",
    "guest_config",
    "cmdline",
    "image_mb",
    "rootfs",
    "volumes",
)


class VmPlan:
    """Everything the supervisor needs to boot the VM (vm-plan.json in the container dir)."""

    __slots__ = _PLAN_FIELDS

    qemu: str  # the qemu-system binary
    virtiofsd: str
    virtiofsd_flavour: str  # qemu.virtiofsd_flavour(): its command-line dialect
    kernel: str  # the guest kernel's boot image
    kernel_release: str
    initrd: str
    accel: str  # "kvm" or "tcg"
    accel_reason: str
    machine: str  # "microvm" or "q35"
    mem_mb: int
    cpus: int
    rootfs_mode: str  # one of ROOTFS_MODES
    stages: list[Stage]  # what the virtio-fs share holds
    guest_config: dict[str, Any]  # config.json as the agent gets it
    cmdline: str  # the guest kernel's command line
    image_mb: int  # the block image's size (0 over virtiofs)
    rootfs: str  # the bundle's rootfs on the host
    volumes: list[list[str]]  # direct-assigned volumes: [host path, serial] (runk.vm.host.volumes)

    def __init__(
        self,
        *,
        qemu: str,
        virtiofsd: str,
        virtiofsd_flavour: str,
        kernel: str,
        kernel_release: str,
        initrd: str,
        accel: str,
        accel_reason: str,
        machine: str,
        mem_mb: int,
        cpus: int,
        rootfs_mode: str,
        stages: list[Stage],
        guest_config: dict[str, Any],
        cmdline: str,
        image_mb: int,
        rootfs: str,
        volumes: list[list[str]] | None = None,
    ) -> None:
        self.qemu = qemu
        self.virtiofsd = virtiofsd
        self.virtiofsd_flavour = virtiofsd_flavour
        self.kernel = kernel
        self.kernel_release = kernel_release
        self.initrd = initrd
        self.accel = accel
        self.accel_reason = accel_reason
        self.machine = machine
        self.mem_mb = mem_mb
        self.cpus = cpus
        self.rootfs_mode = rootfs_mode
        self.stages = stages
        self.guest_config = guest_config
        self.cmdline = cmdline
        self.image_mb = image_mb
        self.rootfs = rootfs
        self.volumes = volumes or []

    def to_json(self) -> str:
        d: dict[str, Any] = {k: getattr(self, k) for k in _PLAN_FIELDS}
        d["stages"] = [s.to_list() for s in self.stages]
        return _json.dumps(d)

    @classmethod
    def from_json(cls, raw: bytes | str) -> VmPlan:
        """The plan of a vm-plan.json (written by to_json); unknown keys are ignored."""
        d = _json.loads(raw)
        if not isinstance(d, dict):
            raise ValueError("vm-plan.json: not a JSON object")
        d["stages"] = [Stage(*s) for s in d["stages"]]
        kw: dict[str, Any] = {k: d.get(k) for k in _PLAN_FIELDS}
        return cls(**kw)


def qemu_argv(plan: VmPlan, nics: list[tuple[str, str]] | None = None) -> list[str]:
    """qemu's argv, with paths relative to the workdir (qemu's cwd); `nics`: (tap, MAC) pairs."""
    from runk.vm.host import qemu

    return qemu.build_argv(
        kernel=plan.kernel,
        initrd=plan.initrd,
        append=plan.cmdline,
        agent_socket=AGENT_SOCK,
        shares=[(SHARE_TAG, VFS_SOCK)],
        machine=plan.machine,
        accel=plan.accel,
        mem=f"{plan.mem_mb}M",
        smp=plan.cpus,
        console=CONSOLE_LOG,
        qemu=plan.qemu,
        drives=[IMAGE] if plan.rootfs_mode == "block" else [],
        volumes=[(path, serial) for path, serial in plan.volumes],
        nics=nics or [],
    )


def python_roots() -> list[str]:
    """Where the guest's python3 finds runk and its compiled dependencies (the import roots of
    runk, _cffi_backend and prctl), outside /usr, which the guest gets anyway."""
    import importlib.util

    roots: list[str] = []
    for name in ("runk", "_cffi_backend", "prctl", "_prctl"):
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            continue
        depth = name.count(".") + (2 if spec.submodule_search_locations else 1)
        root = spec.origin
        for _ in range(depth):
            root = os.path.dirname(root)
        if root not in roots and not (root + "/").startswith("/usr/"):
            roots.append(root)
    return roots


def check_network(cfg: dict[str, Any]) -> None:
    """A VM has a network stack of its own: it can have a network namespace's interfaces (new or
    joined by path), never the host's stack itself."""
    namespaces = (cfg.get("linux") or {}).get("namespaces") or []
    if not any(ns.get("type") == "network" for ns in namespaces):
        raise ConfigError(
            "linux.namespaces",
            "the vm backend needs a network namespace: a VM cannot share the host's network stack "
            "(podman: use --network none, a bridge network, or the linux backend for --network host)",
        )


def rootfs_mode(cfg: dict[str, Any], env: Mapping[str, str]) -> str:
    mode = (cfg.get("annotations") or {}).get(ANN_ROOTFS) or env.get("RUNK_VM_ROOTFS") or "virtiofs"
    if mode not in ROOTFS_MODES:
        raise RunkError(f"{ANN_ROOTFS}={mode}: expected one of {', '.join(ROOTFS_MODES)}")
    return mode


def plan_vm(cfg: dict[str, Any], bundle: str, env: Mapping[str, str] | None = None) -> VmPlan:
    """Everything the supervisor needs, or a RunkError saying what this host lacks."""
    from runk.oci.config import rootfs_path
    from runk.vm.host import qemu
    from runk.vm.image import assets, initramfs

    env = os.environ if env is None else env
    check_network(cfg)
    binary = qemu.qemu_binary()
    if not binary:
        raise RunkError("the vm backend needs qemu-system-x86_64 (apt-get install qemu-system-x86)")
    virtiofsd = qemu.virtiofsd_binary()
    if not virtiofsd:
        raise RunkError("the vm backend needs virtiofsd (qemu-system-common on Debian 12)")
    directory = assets.assets_dir(env)
    kernel = assets.load_kernel(directory, "cloud")
    if kernel is None:
        raise RunkError(f"no guest kernel in {directory}: run scripts/mkguest (or scripts/setup)")
    try:
        initrd = initramfs.build_initramfs(kernel.modules_dir, directory)
        accel, reason = qemu.choose_accel(env=env)
    except (initramfs.InitramfsError, OSError, RuntimeError, ValueError) as e:
        raise RunkError(f"guest initramfs: {e}") from None
    rootfs = rootfs_path(cfg, bundle)
    mode = rootfs_mode(cfg, env)
    roots = python_roots()
    vols = volumes.find(cfg, bundle)
    stages, sources = stage_plan(cfg, bundle, rootfs, mode, roots, frozenset(v.index for v in vols))
    root_guest = f"{GUEST_SHARE}/rootfs" if mode == "virtiofs" else GUEST_BLOCK_ROOT
    mem, cpus = vm_size(
        (cfg.get("linux") or {}).get("resources"),
        os.cpu_count() or 1,
        cfg.get("annotations") or {},
        sizing.mem_available_mb(),
    )
    return VmPlan(
        qemu=binary,
        virtiofsd=virtiofsd,
        virtiofsd_flavour=qemu.virtiofsd_flavour(virtiofsd),
        kernel=kernel.boot_image,
        kernel_release=kernel.release,
        initrd=initrd,
        accel=accel,
        accel_reason=reason,
        machine=qemu.pick_machine(binary),
        mem_mb=mem,
        cpus=cpus,
        rootfs_mode=mode,
        stages=stages,
        guest_config=guest_config(cfg, root_guest, sources, vols),
        cmdline=kernel_cmdline(accel, len(roots), env.get("RUNK_VM_KERNEL_ARGS", "")),
        image_mb=image_size_mb(rootfs) if mode == "block" else 0,
        rootfs=rootfs,
        volumes=[[v.source, v.serial] for v in vols],
    )


def image_size_mb(rootfs: str) -> int:
    """An ext4 image for the rootfs: its allocated size plus a fifth, plus 32 MiB free."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(rootfs):
        for n in filenames + dirnames:
            try:
                total += os.lstat(os.path.join(dirpath, n)).st_blocks * 512
            except OSError:
                pass
    return max(64, -(-total * 6 // 5 // MB) + 32)
