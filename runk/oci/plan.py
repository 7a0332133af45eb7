"""A validated config.json -> the container plan (runk.linux.plan), for create and exec (specconv).

Runs in the parent, after runk.oci.validate: assumes a well-formed document. Pure translation:
it opens nothing (namespace paths and bind sources are opened by runk.linux.launch.LaunchFds);
the only side effect is the seccomp compile cache.
"""

from __future__ import annotations

from runk import _os as os
from runk import ids
from runk.oci.config import check_proc, namespaces, rootfs_path

TYPE_CHECKING = False  # no `typing` at run time (create's import budget)
if TYPE_CHECKING:
    from typing import Any, Protocol

    from runk.linux.plan import ContainerPlan, HookPlan, MountPlan, NamespacePlan, ProcessPlan, SecurityPlan
    from runk.linux.seccomp import SeccompProgram

    class StateRecord(Protocol):
        """What exec reads of the container's state (runk.state.record.StateRecord)."""

        @property
        def id(self) -> str: ...
        @property
        def pid(self) -> int | None: ...
        @property
        def bundle(self) -> str | None: ...
        @property
        def rootfs(self) -> str | None: ...
        @property
        def annotations(self) -> dict[str, str] | None: ...


def build(
    cfg: dict[str, Any],
    bundle: str,
    cid: str,
    *,
    no_pivot: bool = False,
    no_new_keyring: bool = False,
    preserve_fds: int = 0,
    cgroup_mounts: dict[str, Any] | None = None,
    seccomp_cache: str | None = None,
    tty_relayed: bool = False,
) -> tuple[ContainerPlan, list[str]]:
    """create: (the init's plan, warnings to log). tty_relayed: the terminal is relayed by a
    foreground `run` (its master comes back to runk, not to a --console-socket)."""
    from runk.linux.plan import ContainerPlan

    linux = _dict(cfg.get("linux"))
    warnings: list[str] = []
    rootfs = rootfs_path(cfg, bundle)
    if "mount" in namespaces(cfg):
        check_proc(cfg, bundle, rootfs)
    ns = _namespaces(cfg, linux)
    mp = _mounts(cfg, linux, bundle, rootfs, ns, no_pivot, cgroup_mounts)
    proc = _process(_dict(cfg.get("process")), preserve_fds, linux, tty_relayed)
    flags = _dict(linux.get("personality")).get("flags")
    if flags:  # the spec defines none yet: runc warns and goes on
        warnings.append(f"ignoring unsupported personality flags: {' '.join(map(str, flags))}")
    sec = _security(_dict(cfg.get("process")), linux, not no_new_keyring, seccomp_cache, warnings)
    plan = ContainerPlan(
        kind="init",
        id=cid,
        bundle=bundle,
        annotations=_dict(cfg.get("annotations")),
        namespaces=ns,
        mounts=mp,
        process=proc,
        security=sec,
        hooks=_hooks(_dict(cfg.get("hooks"))),
        net_devices=_dict(linux.get("netDevices")),
    )
    return plan, warnings


def build_exec(
    cfg: dict[str, Any],
    rec: StateRecord,
    process: dict[str, Any],
    preserve_fds: int,
    seccomp_cache: str | None = None,
    tty_relayed: bool = False,
) -> tuple[ContainerPlan, list[str]]:
    """exec: (the plan of a process joining every namespace the container has, through
    /proc/<init>/ns, with no mounts; warnings to log). tty_relayed as build's."""
    from runk.linux.namespaces import TYPES
    from runk.linux.plan import ContainerPlan, NamespacePlan

    linux = _dict(cfg.get("linux"))
    warnings: list[str] = []
    nss = namespaces(cfg)
    ns = NamespacePlan(
        joins=tuple((t, f"/proc/{rec.pid}/ns/{TYPES[t][0]}") for t in nss),
        new_user=False,
        unshare_flags=0,
        new_cgroupns=False,
        mount_ns=False,
        new_net=False,
        needs_fork="pid" in nss or "time" in nss,
    )
    # what the process given to exec leaves out comes from the container's (runc newInitConfig)
    base = _dict(cfg.get("process"))
    inherited = {k: base[k] for k in _EXEC_INHERITED if k in base and k not in process}
    proc = _process({**process, **inherited}, preserve_fds, linux, tty_relayed, exec_=True)
    sec = _security(process, linux, False, seccomp_cache, warnings)
    plan = ContainerPlan(
        kind="exec",
        id=rec.id,
        bundle=rec.bundle or "",
        annotations=rec.annotations or {},
        namespaces=ns,
        mounts=None,
        process=proc,
        security=sec,
        rootfs_chroot=None if "mount" in nss else rec.rootfs,
    )
    return plan, warnings


def _dict(value: object) -> dict[str, Any]:
    """A config object member, {} when absent or null."""
    return value if isinstance(value, dict) else {}


def _namespaces(cfg: dict[str, Any], linux: dict[str, Any]) -> NamespacePlan:
    from runk.linux.namespaces import clone_flag
    from runk.linux.plan import NamespacePlan

    nss = namespaces(cfg)
    flags = 0
    for nstype, path in nss.items():
        if not path and nstype != "user":
            flags |= clone_flag(nstype)
    new_time = "time" in nss and not nss["time"]
    offsets = _dict(linux.get("timeOffsets"))
    return NamespacePlan(
        joins=tuple((t, path) for t, path in nss.items() if path),
        new_user="user" in nss and not nss["user"],
        # a new cgroup namespace is rooted at the cgroup of its creator: the init makes it once
        # the parent put it in the container's cgroup (launch protocol, cgroup_done)
        new_cgroupns="cgroup" in nss and not nss["cgroup"],
        unshare_flags=flags & ~clone_flag("cgroup"),
        # a joined mount namespace gets the rootfs set up inside it, as runc does (Contains(NEWNS))
        mount_ns="mount" in nss,
        new_net="network" in nss and not nss["network"],
        needs_fork="pid" in nss or new_time,
        uid_map=tuple(linux.get("uidMappings") or ()),
        gid_map=tuple(linux.get("gidMappings") or ()),
        time_offsets="".join(f"{clock} {v.get('secs', 0)} {v.get('nanosecs', 0)}\n" for clock, v in offsets.items())
        if new_time
        else "",
        hostname=cfg.get("hostname"),
        domainname=cfg.get("domainname"),
        sysctl=tuple(sorted(_dict(linux.get("sysctl")).items())),
    )


def _mounts(
    cfg: dict[str, Any],
    linux: dict[str, Any],
    bundle: str,
    rootfs: str,
    ns: NamespacePlan,
    no_pivot: bool,
    cgroup_mounts: dict[str, Any] | None,
) -> MountPlan:
    from runk.linux import devices, mounts
    from runk.linux.plan import MountPlan

    specs = []
    roots = _rootfs_spellings(cfg, bundle, rootfs)
    for i, m in enumerate(cfg.get("mounts") or ()):
        # runc: relative destinations are taken from / (deprecated); one lexically inside the
        # rootfs is the path below it
        dest = _in_root(m["destination"], roots) or "/" + m["destination"].lstrip("/")
        opts = m.get("options") or []
        source = m.get("source")
        spec = mounts.MountSpec(i, source, dest, m.get("type"), opts)
        if spec.is_bind and source:
            source = source if os.path.isabs(source) else os.path.join(bundle, source)
            spec = mounts.MountSpec(
                i,
                source,
                dest,
                m.get("type"),
                opts,
                id_maps=_id_maps(m, spec.idmap, linux, ns),
                root_source=_in_root(source, roots),
            )
        specs.append(spec)
    prop = linux.get("rootfsPropagation")
    in_userns = ns.new_user or any(t == "user" for t, _p in ns.joins)
    setup_dev = not any(s.destination == "/dev" and s.is_bind for s in specs)
    root = _dict(cfg.get("root"))
    return MountPlan(
        rootfs=rootfs,
        readonly_root=bool(root.get("readonly")),
        mounts=tuple(specs),
        # an init in a user namespace gets the bind sources as fds (LaunchFds.open_bind_sources);
        # a rootless runk may not clone mounts of the host's namespace: its init binds them by
        # path, as the caller's own uid (runc 1.1)
        clone_bind_sources=in_userns and os.geteuid() == 0,
        # the host's / is made rslave first (runc), or as asked; an unbindable / would forbid the
        # rootfs bind that follows, so unbindable is applied to the new root after pivot_root only
        root_propagation=(
            mounts.propagation_flag(prop)
            if isinstance(prop, str) and prop and "unbindable" not in prop
            else mounts.propagation_flag("rslave")
        ),
        rootfs_propagation=mounts.propagation_flag(prop) if isinstance(prop, str) and prop else 0,
        no_pivot=no_pivot,
        setup_dev=setup_dev,
        devices=tuple(devices.merge(linux.get("devices") or [], defaults=setup_dev)),
        # no mknod in a user namespace: one of the container's (new or joined), or the one runk
        # runs in (rootless podman's) (runc: RunningInUserNS or a user namespace of its own)
        bind_devices=in_userns or _in_user_namespace(),
        masked_paths=tuple(linux.get("maskedPaths") or ()),
        readonly_paths=tuple(linux.get("readonlyPaths") or ()),
        cgroup_mounts=cgroup_mounts or {},
    )


def _rootfs_spellings(cfg: dict[str, Any], bundle: str, rootfs: str) -> tuple[str, ...]:
    """The rootfs as resolved and as the config spells it (absolute, normalized)."""
    root = _dict(cfg.get("root")).get("path") or "rootfs"
    written = os.path.normpath(os.path.join(bundle, root))
    return (rootfs,) if written == rootfs else (rootfs, written)


def _in_root(path: str, roots: tuple[str, ...]) -> str | None:
    """A host path lexically inside the rootfs, as the container sees it ("/" for the rootfs
    itself), else None (runc strips the rootfs from such a destination)."""
    if not path.startswith("/"):
        return None
    clean = os.path.normpath(path)
    for root in roots:
        if clean == root:
            return "/"
        if clean.startswith(root.rstrip("/") + "/"):
            return clean[len(root.rstrip("/")) :]
    return None


def _id_maps(m: dict[str, Any], idmap: int, linux: dict[str, Any], ns: NamespacePlan) -> Any:
    """An id-mapped bind's (uid maps, gid maps): its own, else (idmap/ridmap without mappings)
    those of the container's new user namespace, or None for the one it joins (runc)."""
    if m.get("uidMappings") or m.get("gidMappings"):
        return (tuple(m.get("uidMappings") or ()), tuple(m.get("gidMappings") or ()))
    if not idmap or not ns.new_user:
        return None
    return (tuple(linux.get("uidMappings") or ()), tuple(linux.get("gidMappings") or ()))


def _personality(linux: dict[str, Any]) -> int | None:
    pers = _dict(linux.get("personality"))
    if not pers:
        return None
    from runk.linux import rlimits

    return int(rlimits.PERSONALITY[pers["domain"]])


# process fields an exec'd process takes from the container's when its own has none
_EXEC_INHERITED = ("scheduler", "ioPriority", "execCPUAffinity")


def _process(
    proc: dict[str, Any], preserve_fds: int, linux: dict[str, Any], tty_relayed: bool, exec_: bool = False
) -> ProcessPlan:
    """The process part of a plan: shared by create and exec (validated already: the
    schedattr calls below cannot refuse it)."""
    from runk.linux import rlimits
    from runk.linux.plan import ProcessPlan

    mempolicy = None
    initial, final = (None, None)
    scheduler: tuple[int, ...] | None = None
    ioprio: int | None = None
    if (
        linux.get("memoryPolicy") is not None
        or proc.get("scheduler") is not None
        or proc.get("ioPriority") is not None
        or (exec_ and proc.get("execCPUAffinity"))
    ):  # only then: a plain config never loads runk.linux.schedattr
        from runk.linux import schedattr

        if linux.get("memoryPolicy") is not None:
            mempolicy = schedattr.check_memory_policy(_dict(linux.get("memoryPolicy")), "linux.memoryPolicy")
        if exec_:  # the init's affinity is every CPU of its cpuset (runc: execCPUAffinity is exec's)
            initial, final = schedattr.cpu_affinity(_dict(proc.get("execCPUAffinity")), "process.execCPUAffinity")
        scheduler = schedattr.scheduler_attr(proc.get("scheduler"))
        ioprio = schedattr.ioprio_value(proc.get("ioPriority"))

    user = _dict(proc.get("user"))
    size = _dict(proc.get("consoleSize"))
    ids.check_user("process.user", user)  # validated already; the plan never holds another
    return ProcessPlan(
        args=tuple(proc.get("args") or ()),
        env=tuple(proc.get("env") or ()),
        cwd=str(proc.get("cwd") or "/"),
        umask=user.get("umask", 0o022),
        uid=user.get("uid", 0),
        gid=user.get("gid", 0),
        additional_gids=tuple(user.get("additionalGids") or ()),
        rlimits=tuple(rlimits.resolve(proc.get("rlimits"))),
        oom_score_adj=proc.get("oomScoreAdj"),
        terminal=bool(proc.get("terminal")),
        console_size=(size["height"], size["width"]) if size else None,
        preserve_fds=preserve_fds,
        personality=_personality(linux),
        scheduler=scheduler,
        ioprio=ioprio,
        mempolicy=mempolicy,
        cpus_limited=bool(_dict(_dict(linux.get("resources")).get("cpu")).get("cpus")),
        affinity_initial=initial,
        affinity_final=final,
        tty_relayed=tty_relayed and bool(proc.get("terminal")),
    )


def _security(
    proc: dict[str, Any], linux: dict[str, Any], new_keyring: bool, seccomp_cache: str | None, warnings: list[str]
) -> SecurityPlan:
    from runk.linux import caps
    from runk.linux.plan import SecurityPlan

    sets, skipped = caps.resolve(proc.get("capabilities"))
    if skipped:
        warnings.append("ignoring unknown or unavailable capabilities: " + " ".join(skipped))
    return SecurityPlan(
        caps=sets,
        seccomp=_seccomp(_dict(linux.get("seccomp")), seccomp_cache),
        no_new_privileges=bool(proc.get("noNewPrivileges")),
        new_keyring=new_keyring,
    )


def _hooks(hooks: dict[str, Any]) -> HookPlan:
    from runk.linux.plan import HookPlan

    return HookPlan(
        create_container=tuple(hooks.get("createContainer") or ()),
        start_container=tuple(hooks.get("startContainer") or ()),
        runtime_hooks=bool(hooks.get("prestart") or hooks.get("createRuntime")),
    )


def _seccomp(profile: dict[str, Any], cache: str | None) -> SeccompProgram | None:
    """The compiled filter, or None when the config asks for none (runc: no defaultAction and
    no syscalls means seccomp is off)."""
    if not profile:
        return None
    from runk.linux import seccomp

    if not seccomp.enabled(profile):
        return None
    return seccomp.compile_profile(profile, cache_dir=cache)


def _in_user_namespace() -> bool:
    from runk.linux.rootless import in_user_namespace

    return in_user_namespace()
