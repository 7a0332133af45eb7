"""Read <bundle>/config.json and translate it into the InitPlan the init executes (specconv).

Runs in the parent. Validation (schema, then semantics) happens in runk.oci.validate before
translation; this module assumes a well-formed document.
"""
from __future__ import annotations


from runk import _os as os
from runk import _json, ids
from runk.errors import ConfigError, RunkError


def load(bundle: str) -> tuple[dict, bytes]:
    """(config, raw bytes) of <bundle>/config.json, with runc's messages."""
    from runk.userfile import read_regular
    path = os.path.join(bundle, "config.json")
    try:
        raw = read_regular(path, "config.json")     # a regular file, at most 16 MiB
    except FileNotFoundError:
        raise RunkError("JSON specification file config.json not found") from None
    except OSError as e:
        raise RunkError(f"open {path}: {os.strerror(e.errno).lower()}") from None
    try:
        cfg = _json.loads(raw)
    except ValueError as e:
        raise ConfigError("", f"config.json is not valid JSON: {e}") from None
    if not isinstance(cfg, dict):
        raise ConfigError("", "config.json must hold a JSON object")
    return cfg, raw


def rootfs_path(cfg: dict, bundle: str) -> str:
    root = (cfg.get("root") or {}).get("path") or "rootfs"
    if not os.path.isabs(root):
        root = os.path.join(bundle, root)
    real = os.path.realpath(root)
    if not os.path.isdir(real):
        raise RunkError(f"rootfs ({root}) does not exist")
    return real


def namespaces(cfg: dict) -> dict[str, str | None]:
    """type -> path (None: new) in config order."""
    return {ns["type"]: (ns.get("path") or None) for ns in (cfg.get("linux") or {}).get("namespaces") or []}


def _check_proc(cfg: dict, bundle: str, rootfs: str) -> None:
    """The container's /proc is a procfs: a bind onto /proc must bind the root of one, and a
    container with a mount namespace must get one (runc fails it at create too)."""
    from runk.linux import procmounts
    have = False
    for i, m in enumerate(cfg.get("mounts") or []):
        if procmounts.destination(m) != "/proc":
            continue
        have = True
        if procmounts.is_bind(m):
            src = m["source"] if os.path.isabs(m["source"]) else os.path.join(bundle, m["source"])
            why = procmounts.source_problem(src)
            if why:
                raise ConfigError(f"mounts[{i}]", why)
    if not have and not procmounts.rootfs_has_procfs(rootfs):
        raise ConfigError("mounts", 'no "proc" mount at /proc: a container with a mount namespace needs '
                          "one (runk writes sysctls and reopens the exec fifo through it)")


def build_plan(cfg: dict, bundle: str, cid: str, *, no_pivot: bool = False, no_new_keyring: bool = False,
               preserve_fds: int = 0, cgroup_mounts: dict | None = None,
               seccomp_cache: str | None = None) -> tuple[object, list[str]]:
    """(InitPlan, warnings). Namespace paths are opened here (fds in plan.ns_joins)."""
    from runk._native import lib
    from runk.linux import devices, mounts, rlimits
    from runk.linux.launch import InitPlan
    from runk.linux.namespaces import clone_flag, open_ns_path

    linux = cfg.get("linux") or {}
    proc = cfg.get("process") or {}
    p = InitPlan()
    warnings: list[str] = []
    p.id = cid
    p.bundle = bundle
    p.annotations = cfg.get("annotations") or {}
    p.rootfs = rootfs_path(cfg, bundle)
    p.readonly_root = bool((cfg.get("root") or {}).get("readonly"))

    nss = namespaces(cfg)
    if "mount" in nss:
        _check_proc(cfg, bundle, p.rootfs)
    p.ns_joins = []
    flags = 0
    try:
        for nstype, path in nss.items():
            if path:
                p.ns_joins.append((nstype, open_ns_path(nstype, path)))
            elif nstype != "user":
                flags |= clone_flag(nstype)
    except BaseException:
        for _t, fd in p.ns_joins:
            os.close(fd)
        raise
    p.new_user = "user" in nss and not nss["user"]
    # a new cgroup namespace is rooted at the cgroup of its creator: the init makes it once
    # the parent put it in the container's cgroup (launch protocol, cgroup_done)
    p.new_cgroupns = "cgroup" in nss and not nss["cgroup"]
    p.unshare_flags = flags & ~lib.CLONE_NEWCGROUP
    # a joined mount namespace gets the rootfs set up inside it, as runc does (Contains(NEWNS))
    p.mount_ns = "mount" in nss
    p.new_net = "network" in nss and not nss["network"]
    p.needs_fork = "pid" in nss or ("time" in nss and not nss["time"])
    p.uid_map = linux.get("uidMappings") or []
    p.gid_map = linux.get("gidMappings") or []
    offs = linux.get("timeOffsets") or {}
    p.time_offsets = "".join(f"{clock} {v.get('secs', 0)} {v.get('nanosecs', 0)}\n"
                             for clock, v in offs.items()) if "time" in nss and not nss["time"] else ""

    p.mounts = []
    for i, m in enumerate(cfg.get("mounts") or []):
        dest = m["destination"]
        if not dest.startswith("/"):
            dest = "/" + dest          # runc: relative destinations are taken from / (deprecated)
        opts = m.get("options") or []
        spec = mounts.MountSpec(i, m.get("source"), dest, m.get("type"), opts)
        if spec.is_bind and spec.source and not os.path.isabs(spec.source):
            spec.source = os.path.join(bundle, spec.source)
        p.mounts.append(spec)
    if "user" in nss:
        try:
            mounts.open_bind_sources(p.mounts)
        except BaseException:
            for _t, fd in p.ns_joins:
                os.close(fd)
            raise
    prop = linux.get("rootfsPropagation")
    # the host's / is made rslave first (runc), or as asked; an unbindable / would forbid the
    # rootfs bind that follows, so unbindable is applied to the new root after pivot_root only
    p.root_propagation = (mounts.propagation_flag(prop) if prop and "unbindable" not in prop
                          else (lib.MS_SLAVE | lib.MS_REC))
    p.rootfs_propagation = mounts.propagation_flag(prop) if prop else 0
    p.no_pivot = no_pivot
    p.setup_dev = not any(m.destination == "/dev" and m.is_bind for m in p.mounts)
    p.devices = devices.merge(linux.get("devices") or [], defaults=p.setup_dev)
    p.bind_devices = p.new_user
    p.masked_paths = list(linux.get("maskedPaths") or [])
    p.readonly_paths = list(linux.get("readonlyPaths") or [])
    p.cgroup_mounts = cgroup_mounts or {}

    p.hostname = cfg.get("hostname")
    p.domainname = cfg.get("domainname")
    p.sysctl = sorted((linux.get("sysctl") or {}).items())
    p.new_keyring = not no_new_keyring
    pers = linux.get("personality")
    p.personality = None
    if pers:
        p.personality = rlimits.PERSONALITY[pers["domain"]]

    _process(p, proc, warnings)
    p.seccomp = None
    p.seccomp = _seccomp(linux.get("seccomp"), seccomp_cache)
    p.console_fd = -1
    p.preserve_fds = preserve_fds

    hooks = cfg.get("hooks") or {}
    p.hooks_create_container = hooks.get("createContainer") or []
    p.hooks_start_container = hooks.get("startContainer") or []
    p.runtime_hooks = bool(hooks.get("prestart") or hooks.get("createRuntime"))
    p.fifo_fd = -1
    p.trampoline_fd = -1
    p.net_devices = linux.get("netDevices") or {}
    return p, warnings


def _process(p: object, proc: dict, warnings: list[str]) -> None:
    """The process part of a plan: shared by create (InitPlan) and exec (TenantPlan)."""
    from runk.linux import caps, rlimits
    user = proc.get("user") or {}
    p.args = list(proc.get("args") or [])
    p.env = list(proc.get("env") or [])
    p.cwd = proc.get("cwd") or "/"
    ids.check_user("process.user", user)      # validated already; the plan never holds another
    p.uid = user.get("uid", 0)
    p.gid = user.get("gid", 0)
    p.additional_gids = list(user.get("additionalGids") or [])
    p.umask = user.get("umask", 0o022)
    p.rlimits = rlimits.resolve(proc.get("rlimits"))
    p.oom_score_adj = proc.get("oomScoreAdj")
    p.no_new_privileges = bool(proc.get("noNewPrivileges"))
    p.caps, skipped = caps.resolve(proc.get("capabilities"))
    if skipped:
        warnings.append("ignoring unknown or unavailable capabilities: " + " ".join(skipped))
    p.terminal = bool(proc.get("terminal"))
    size = proc.get("consoleSize")
    p.console_size = (size["height"], size["width"]) if size else None


def build_tenant_plan(cfg: dict, rec: object, proc: dict, preserve_fds: int,
                      seccomp_cache: str | None = None) -> tuple[object, list[str]]:
    """exec: join every namespace the container has, through /proc/<init>/ns (opened now)."""
    from runk.linux.launch import TenantPlan
    from runk.linux.namespaces import TYPES, open_ns_path
    linux = cfg.get("linux") or {}
    p = TenantPlan()
    warnings: list[str] = []
    p.id = rec.id
    p.bundle = rec.bundle
    p.annotations = rec.annotations or {}
    nss = namespaces(cfg)
    p.ns_joins = []
    try:
        for nstype in nss:
            p.ns_joins.append((nstype, open_ns_path(nstype, f"/proc/{rec.pid}/ns/{TYPES[nstype][0]}")))
    except BaseException:
        for _t, fd in p.ns_joins:
            os.close(fd)
        raise
    p.new_user = False
    p.unshare_flags = 0
    p.new_cgroupns = False
    p.needs_fork = "pid" in nss or "time" in nss
    p.rootfs_chroot = None if "mount" in nss else rec.rootfs
    _process(p, proc, warnings)
    p.seccomp = None
    p.seccomp = _seccomp(linux.get("seccomp"), seccomp_cache)
    p.console_fd = -1
    p.preserve_fds = preserve_fds
    p.hooks_create_container = p.hooks_start_container = []
    p.runtime_hooks = False
    p.fifo_fd = -1
    p.trampoline_fd = -1
    return p, warnings


def _seccomp(profile: dict | None, cache: str | None) -> object:
    """The compiled filter, or None when the config asks for none (runc: no defaultAction and
    no syscalls means seccomp is off)."""
    if not profile:
        return None
    from runk.linux import seccomp
    if not seccomp.enabled(profile):
        return None
    return seccomp.compile_profile(profile, cache_dir=cache)
