"""config.json validation: the generated schema validator, then semantic checks (runc's
configs/validate and specconv refusals), each error naming the JSON path.

Runs in the parent on the create hot path: no jsonschema (tests hold the generated validator to
it), no re.
"""

from __future__ import annotations

from runk import ids
from runk.errors import ConfigError

# runtime-spec versions runk implements: 1.0.0 .. 1.3.x (runk.version.OCI_VERSION, which `runk
# features` reports as ociVersionMax). A later 1.x minor is backwards compatible by the spec's
# versioning rules (semver): it is run, with a debug line saying its new fields are not
# understood, as runc runs any version (runc does not read ociVersion at all). Another major is
# refused: its fields may mean something else.
MAJOR = 1
MAX_MINOR = 3

_IPC_SYSCTLS = frozenset(
    (
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    )
)


def check_version(v: object) -> None:
    if not isinstance(v, str):
        raise ConfigError("ociVersion", "must be a string")
    core = v.split("-", 1)[0].split("+", 1)[0].split(".")
    try:
        major, minor = int(core[0]), int(core[1])
        int(core[2])
    except (ValueError, IndexError):
        raise ConfigError("ociVersion", f'"{v}" is not a valid version (want MAJOR.MINOR.PATCH)') from None
    if major != MAJOR:
        raise ConfigError("ociVersion", f'unsupported version "{v}": runk supports 1.0.0 to 1.3.x')
    if minor > MAX_MINOR:
        from runk import log

        log.debug(f"ociVersion {v} is newer than runk knows (1.3.x): fields added since are ignored")


def validate(cfg: dict[str, Any]) -> None:
    check_version(cfg.get("ociVersion"))
    from runk.oci import _schema_validator

    linux = cfg.get("linux")
    if isinstance(linux, dict) and "timeOffsets" in linux and linux["timeOffsets"] is None:
        del linux["timeOffsets"]  # null is absent (runc; the field is an object)

    _schema_validator.validate(cfg)
    check_strings(cfg)
    semantic(cfg)


TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    _Where: TypeAlias = "tuple[_Where, str | int] | None"  # a JSON path, linked, leaf first


def check_strings(doc: object, prefix: str = "") -> None:
    """Refuse a NUL byte in any string of doc, key or value, naming its JSON path.

    Every string of a config ends up as a C string somewhere (a path, an argv or env entry, a
    hostname, a sysctl key or value, a cgroup file's content, an annotation in the state), where
    a NUL would cut it short or make Python refuse it deep inside the launch. Iterative (the
    depth is capped by runk._json, not by the stack); a path is spelled only for the error."""
    # each entry: (value, where) with where = (parent's where, key or index) or None at the top
    stack: list[tuple[object, _Where]] = [(doc, None)]
    while stack:
        v, where = stack.pop()
        if isinstance(v, str):
            if "\0" in v:
                raise ConfigError(_spell(prefix, where), "must not hold a NUL byte")
        elif isinstance(v, dict):
            for k, item in v.items():
                if "\0" in k:
                    raise ConfigError(_spell(prefix, (where, k)), "key must not hold a NUL byte")
                if not isinstance(item, (int, float, bool)) and item is not None:
                    stack.append((item, (where, k)))
        elif isinstance(v, list):
            stack.extend((item, (where, i)) for i, item in enumerate(v) if isinstance(item, (str, dict, list)))


def _spell(prefix: str, where: _Where) -> str:
    """The generated validator's spelling: `a.b[2]`, or `a["x.y"]` for a key that is no
    identifier (a NUL in it shown as \\0)."""
    parts: list[str | int] = []
    while where is not None:
        where, step = where
        parts.append(step)
    out = prefix
    for p in reversed(parts):
        if isinstance(p, int):
            out += f"[{p}]"
        elif p.isidentifier():
            out += f".{p}" if out else p
        else:
            q = p.replace("\\", "\\\\").replace('"', '\\"').replace("\0", "\\0")
            out += f'["{q}"]'
    return out


def semantic(cfg: dict[str, Any]) -> None:
    linux = cfg.get("linux") or {}
    nss = linux.get("namespaces") or []
    types: dict[str, str | None] = {}
    for i, ns in enumerate(nss):
        t = ns.get("type")
        if t in types:
            raise ConfigError(f"linux.namespaces[{i}].type", f'duplicated namespace "{t}"')
        types[t] = ns.get("path") or None
    # process is OPTIONAL at create and REQUIRED by start (config.md): a container without one
    # is created and waits; start refuses it
    if "process" in cfg and not (cfg["process"].get("args") or []):
        raise ConfigError("process.args", "must hold at least one element (the program to run)")
    if "root" not in cfg:
        raise ConfigError("root", "is required")
    _check_ids(cfg, linux)
    new_user = "user" in types and types["user"] is None
    if new_user and not linux.get("uidMappings"):
        raise ConfigError("linux.uidMappings", "user namespaces enabled, but no uid mappings found")
    if new_user and not linux.get("gidMappings"):
        raise ConfigError("linux.gidMappings", "user namespaces enabled, but no gid mappings found")
    if "user" not in types and (linux.get("uidMappings") or linux.get("gidMappings")):
        raise ConfigError("linux.uidMappings", "user namespaces not enabled in config")
    if cfg.get("hostname") and "uts" not in types:
        raise ConfigError("hostname", "unable to set hostname without a private UTS namespace")
    if cfg.get("domainname") and "uts" not in types:
        raise ConfigError("domainname", "unable to set domainname without a private UTS namespace")
    if linux.get("timeOffsets") and not ("time" in types and types["time"] is None):
        raise ConfigError("linux.timeOffsets", "time offsets require a new time namespace")
    for key in linux.get("sysctl") or {}:
        _check_sysctl(key, types, cfg)
    from runk.linux import procmounts

    proc_seen = False
    for i, m in enumerate(cfg.get("mounts") or []):
        bind = procmounts.is_bind(m)
        if bind and not m.get("source"):
            raise ConfigError(f"mounts[{i}].source", "is required for a bind mount")
        dest = procmounts.destination(m)
        why = procmounts.problem(dest, m.get("type") or "", bind)
        if why:
            raise ConfigError(f"mounts[{i}]", why)
        if dest == "/" and proc_seen:
            raise ConfigError(f"mounts[{i}].destination", procmounts.ROOT_OVER_PROC)
        proc_seen = proc_seen or dest == "/proc"
        _check_idmap(i, m, bind, "user" in types)
    check_process_attrs(cfg.get("process") or {}, "process")
    if linux.get("memoryPolicy") is not None:
        from runk.linux import schedattr

        schedattr.check_memory_policy(linux["memoryPolicy"], "linux.memoryPolicy")
    _check_unsupported(cfg, linux)


def check_process_attrs(proc: dict[str, Any], field: str) -> None:
    """process.scheduler, ioPriority and execCPUAffinity, of config.json and of exec's
    --process (runc's validate and specconv checks, their texts after the JSON path)."""
    if not (proc.get("scheduler") or proc.get("ioPriority") or proc.get("execCPUAffinity")):
        return
    from runk.linux import schedattr

    if proc.get("scheduler") is not None:
        schedattr.check_scheduler(proc["scheduler"], f"{field}.scheduler")
    io = proc.get("ioPriority")
    if io is not None and io.get("class") not in schedattr.IOPRIO_CLASSES:
        raise ConfigError(f"{field}.ioPriority.class", f'invalid ioPriority.Class: "{io.get("class")}"')
    schedattr.cpu_affinity(proc.get("execCPUAffinity"), f"{field}.execCPUAffinity")


def _check_unsupported(cfg: dict[str, Any], linux: dict[str, Any]) -> None:
    """Fields runk does not implement are refused, never ignored: Intel RDT (runc's text where
    the host has no resctrl), AppArmor and SELinux labels (runk confines with neither; with
    SELinux off a label means nothing, and runc ignores it then too)."""
    from runk import _os as os

    if linux.get("intelRdt") is not None:
        if not os.path.exists("/sys/fs/resctrl/schemata"):
            raise ConfigError("linux.intelRdt", "intelRdt is specified in config, but Intel RDT is not enabled")
        raise ConfigError("linux.intelRdt", "Intel RDT is not supported by runk")
    if (cfg.get("process") or {}).get("apparmorProfile"):
        raise ConfigError("process.apparmorProfile", "AppArmor is not supported by runk")
    if os.path.exists("/sys/fs/selinux/enforce"):
        if (cfg.get("process") or {}).get("selinuxLabel"):
            raise ConfigError("process.selinuxLabel", "SELinux is not supported by runk")
        if linux.get("mountLabel"):
            raise ConfigError("linux.mountLabel", "SELinux is not supported by runk")


def _check_ids(cfg: dict[str, Any], linux: dict[str, Any]) -> None:
    """Every uid and gid of the config, before anything is made (runk.ids): the process's
    (runc refuses them in its init, runk at create), the user namespace maps and the owners of
    linux.devices (runc would chown a node to 4294967295, which leaves it root's)."""
    ids.check_user("process.user", (cfg.get("process") or {}).get("user"))
    ids.check_mappings("linux.uidMappings", linux.get("uidMappings"))
    ids.check_mappings("linux.gidMappings", linux.get("gidMappings"))
    for i, d in enumerate(linux.get("devices") or []):
        for key in ("uid", "gid"):
            if key in d:
                ids.check(f"linux.devices[{i}].{key}", d[key])


def _check_idmap(i: int, m: dict[str, Any], bind: bool, userns: bool) -> None:
    """An id-mapped mount (runtime-spec 1.2: uidMappings/gidMappings, the idmap and ridmap
    options): a bind, with both mappings, or taking the container's user namespace's when it
    gives none. The texts after the JSON path are runc's."""
    opts = m.get("options") or []
    has_maps = bool(m.get("uidMappings") or m.get("gidMappings"))
    asked = "idmap" in opts or "ridmap" in opts
    if not (has_maps or asked):
        return
    where = f"mounts[{i}]"
    if not bind:
        raise ConfigError(where, "id-mapped mounts are only supported for bind-mounts")
    if (has_maps and not (m.get("uidMappings") and m.get("gidMappings"))) or (not has_maps and not userns):
        raise ConfigError(where, "id-mapped mounts must have both uid and gid mappings specified")
    ids.check_mappings(f"{where}.uidMappings", m.get("uidMappings"))
    ids.check_mappings(f"{where}.gidMappings", m.get("gidMappings"))


def _check_sysctl(key: str, types: dict[str, Any], cfg: dict[str, Any]) -> None:
    """runc configs/validate sysctl(): only namespaced sysctls, and only in a private namespace.
    The texts after the JSON path are runc's."""
    path = f"linux.sysctl.{key}"
    if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
        if "ipc" not in types:
            raise ConfigError(path, f'sysctl "{key}" is not allowed in the hosts ipc namespace')
        return
    if key.startswith("net."):
        if "network" not in types:
            raise ConfigError(path, f'sysctl "{key}" not allowed in host network namespace')
        return
    if "uts" in types:
        if key == "kernel.domainname":
            return
        if key == "kernel.hostname":
            raise ConfigError(path, f'sysctl "{key}" is not allowed as it conflicts with the OCI "hostname" field')
    raise ConfigError(path, f'sysctl "{key}" is not in a separate kernel namespace')
