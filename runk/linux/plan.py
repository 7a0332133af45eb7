"""The container plan: what the bootstrap, the init and exec's tenant do, decided in the parent.

A plan is a few immutable records, one per concern (namespaces, mounts and /dev, the process,
its confinement, hooks) under one ContainerPlan. runk.oci.plan builds it once from a validated
config; nothing writes to it afterwards. It holds paths and values only: the fds the parent opens
for the child (namespace files, bind sources, console, fifo, trampoline) belong to
runk.linux.launch.LaunchFds, which closes them.

Imported by the parent and, through the fork, used by the child: no imports at run time (no
typing, dataclasses or enum: DESIGN 3.11; type-only imports sit under TYPE_CHECKING).
"""

from __future__ import annotations

from runk.linux.frozen import Frozen

TYPE_CHECKING = False  # not `from typing import ...` (create's import budget)
if TYPE_CHECKING:
    from typing import Any

    from runk.linux.devices import DeviceNode
    from runk.linux.mounts import MountSpec
    from runk.linux.seccomp import SeccompProgram


class NamespacePlan(Frozen):
    """Namespaces to join (by path) and to make, and the settings of the new ones."""

    __slots__ = (
        "joins",
        "new_user",
        "unshare_flags",
        "new_cgroupns",
        "mount_ns",
        "new_net",
        "needs_fork",
        "uid_map",
        "gid_map",
        "time_offsets",
        "hostname",
        "domainname",
        "sysctl",
    )
    joins: tuple[tuple[str, str], ...]  # (OCI type, path), config order
    new_user: bool
    unshare_flags: int  # CLONE_NEW* for the bootstrap, but user and cgroup
    new_cgroupns: bool  # the init unshares it once in its cgroups
    mount_ns: bool  # the rootfs is set up in a mount namespace
    new_net: bool
    needs_fork: bool  # a pid or time namespace: the bootstrap forks the init
    uid_map: tuple[dict[str, int], ...]
    gid_map: tuple[dict[str, int], ...]
    time_offsets: str  # timens_offsets text, "" for none
    hostname: str | None
    domainname: str | None
    sysctl: tuple[tuple[str, str], ...]

    def __init__(
        self,
        *,
        joins: tuple[tuple[str, str], ...],
        new_user: bool,
        unshare_flags: int,
        new_cgroupns: bool,
        mount_ns: bool,
        new_net: bool,
        needs_fork: bool,
        uid_map: tuple[dict[str, int], ...] = (),
        gid_map: tuple[dict[str, int], ...] = (),
        time_offsets: str = "",
        hostname: str | None = None,
        domainname: str | None = None,
        sysctl: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self._fill(locals())


class MountPlan(Frozen):
    """The container's root, its mounts in config order, /dev, and the paths masked or made
    read-only."""

    __slots__ = (
        "rootfs",
        "readonly_root",
        "mounts",
        "clone_bind_sources",
        "root_propagation",
        "rootfs_propagation",
        "no_pivot",
        "setup_dev",
        "devices",
        "bind_devices",
        "masked_paths",
        "readonly_paths",
        "cgroup_mounts",
    )
    rootfs: str  # absolute, resolved
    readonly_root: bool
    mounts: tuple[MountSpec, ...]
    clone_bind_sources: bool  # a user namespace: the parent clones bind sources (LaunchFds)
    root_propagation: int  # applied to the host's / first
    rootfs_propagation: int  # applied to the new / after pivot_root (0: none)
    no_pivot: bool
    setup_dev: bool  # no bind mount on /dev: runk makes a tmpfs /dev
    devices: tuple[DeviceNode, ...]
    bind_devices: bool  # bind the host's nodes (user namespace) instead of mknod
    masked_paths: tuple[str, ...]
    readonly_paths: tuple[str, ...]
    cgroup_mounts: dict[str, Any]  # runk.linux.cgroups.mounts.container_spec, or {}

    def __init__(
        self,
        *,
        rootfs: str,
        readonly_root: bool,
        mounts: tuple[MountSpec, ...],
        clone_bind_sources: bool,
        root_propagation: int,
        rootfs_propagation: int,
        no_pivot: bool,
        setup_dev: bool,
        devices: tuple[DeviceNode, ...],
        bind_devices: bool,
        masked_paths: tuple[str, ...],
        readonly_paths: tuple[str, ...],
        cgroup_mounts: dict[str, Any],
    ) -> None:
        self._fill(locals())


class ProcessPlan(Frozen):
    """The container's process: what runs, as whom, with which limits and terminal."""

    __slots__ = (
        "args",
        "env",
        "cwd",
        "umask",
        "uid",
        "gid",
        "additional_gids",
        "rlimits",
        "oom_score_adj",
        "terminal",
        "console_size",
        "preserve_fds",
        "personality",
        "scheduler",
        "ioprio",
        "mempolicy",
        "cpus_limited",
        "affinity_initial",
        "affinity_final",
        "tty_relayed",
    )
    args: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str
    umask: int
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    rlimits: tuple[tuple[int, int, int], ...]  # (resource, soft, hard)
    oom_score_adj: int | None
    terminal: bool
    console_size: tuple[int, int] | None  # (height, width)
    preserve_fds: int
    personality: int | None
    scheduler: tuple[int, ...] | None  # sched_setattr's (policy, flags, nice, priority, runtime, deadline, period)
    ioprio: int | None  # ioprio_set's value (class << 13 | level)
    mempolicy: tuple[int, tuple[int, ...]] | None  # (mode | flags, nodes) for set_mempolicy
    cpus_limited: bool  # linux.resources.cpu.cpus is set (names sched_setattr's EPERM)
    affinity_initial: tuple[int, ...] | None  # exec: the CPUs of the setup before it joins the cgroups
    affinity_final: tuple[int, ...] | None  # exec: the process's CPUs once in its cgroups
    tty_relayed: bool  # the terminal's master goes to runk's own foreground relay, not a socket

    def __init__(
        self,
        *,
        args: tuple[str, ...],
        env: tuple[str, ...],
        cwd: str,
        umask: int,
        uid: int,
        gid: int,
        additional_gids: tuple[int, ...],
        rlimits: tuple[tuple[int, int, int], ...],
        oom_score_adj: int | None,
        terminal: bool,
        console_size: tuple[int, int] | None,
        preserve_fds: int,
        personality: int | None = None,
        scheduler: tuple[int, ...] | None = None,
        ioprio: int | None = None,
        mempolicy: tuple[int, tuple[int, ...]] | None = None,
        cpus_limited: bool = False,
        affinity_initial: tuple[int, ...] | None = None,
        affinity_final: tuple[int, ...] | None = None,
        tty_relayed: bool = False,
    ) -> None:
        self._fill(locals())


class SecurityPlan(Frozen):
    """The process's confinement: capabilities, seccomp, no_new_privs, session keyring."""

    __slots__ = ("caps", "seccomp", "no_new_privileges", "new_keyring")
    caps: dict[str, list[int]]  # set name -> capability numbers (caps.resolve)
    seccomp: SeccompProgram | None  # the compiled filter, None for none
    no_new_privileges: bool
    new_keyring: bool

    def __init__(
        self, *, caps: dict[str, list[int]], seccomp: SeccompProgram | None, no_new_privileges: bool, new_keyring: bool
    ) -> None:
        self._fill(locals())


class HookPlan(Frozen):
    """The hooks the container's side runs; runtime_hooks: prestart/createRuntime exist (the
    parent runs them when the init asks)."""

    __slots__ = ("create_container", "start_container", "runtime_hooks")
    create_container: tuple[dict[str, Any], ...]
    start_container: tuple[dict[str, Any], ...]
    runtime_hooks: bool

    def __init__(
        self,
        *,
        create_container: tuple[dict[str, Any], ...] = (),
        start_container: tuple[dict[str, Any], ...] = (),
        runtime_hooks: bool = False,
    ) -> None:
        self._fill(locals())


NO_HOOKS = HookPlan()


class ContainerPlan(Frozen):
    """A whole plan. kind "init": create's container init (mounts set); "exec": a process
    joining a running container (mounts None; rootfs_chroot: the root to chroot into when the
    container has no mount namespace of its own)."""

    __slots__ = (
        "kind",
        "id",
        "bundle",
        "annotations",
        "namespaces",
        "mounts",
        "process",
        "security",
        "hooks",
        "rootfs_chroot",
        "net_devices",
    )
    kind: str
    id: str
    bundle: str
    annotations: dict[str, str]
    namespaces: NamespacePlan
    mounts: MountPlan | None
    process: ProcessPlan
    security: SecurityPlan
    hooks: HookPlan
    rootfs_chroot: str | None
    net_devices: dict[str, Any]  # linux.netDevices, moved by the parent

    def __init__(
        self,
        *,
        kind: str,
        id: str,
        bundle: str,
        annotations: dict[str, str],
        namespaces: NamespacePlan,
        mounts: MountPlan | None,
        process: ProcessPlan,
        security: SecurityPlan,
        hooks: HookPlan = NO_HOOKS,
        rootfs_chroot: str | None = None,
        net_devices: dict[str, Any] | None = None,
    ) -> None:
        self._fill(locals())
        object.__setattr__(self, "net_devices", net_devices or {})

    def state_doc(self, pid: int, status: str) -> str:
        """The OCI state given to hooks on stdin."""
        from runk.linux.hookexec import state_json

        return state_json(self.id, status, pid, self.bundle, self.annotations)
