"""Small helpers shared by the integration and differential tests (no fixtures here).

Everything a test checks comes from the container (busybox applets) or from the host's /proc,
as a user would look.
"""

from __future__ import annotations

import contextlib
import os
import time


def on_pty(rt, *args: str, timeout: float = 60) -> tuple[int, bytes, bytes]:
    """rt's command with a fresh pty as its controlling terminal and stdin (as a shell or
    `script` gives one) and pipes for stdout and stderr (as bats' `run` captures them);
    (exit code, stdout, stderr)."""
    import fcntl
    import subprocess
    import termios

    master, slave = os.openpty()
    try:
        p = subprocess.Popen(
            [rt.binary, "--root", rt.root, *args],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
            env={**os.environ, "RUNK_TEST_ROOT": rt.root},
        )
        os.close(slave)
        slave = -1
        out, err = p.communicate(timeout=timeout)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    return p.returncode, out, err


def run_out(rt, bundle, cid: str, script: str, *extra: str) -> str:
    """Run `sh -c script` in a container to completion; assert exit 0 and return its stdout."""
    bundle.sh(script).write()
    r = rt("run", *extra, "--bundle", bundle.path, cid)
    assert r.rc == 0, r
    return r.out


def run_sh(rt, bundle, cid: str, script: str, *extra: str):
    """Run `sh -c script` to completion and return the Result, whatever its exit code."""
    bundle.sh(script).write()
    return rt("run", *extra, "--bundle", bundle.path, cid)


def set_ns(bundle, nstype: str, path: str | None = None) -> None:
    """Add (or replace) linux.namespaces entry `nstype`; with a path, join instead of create."""
    nss = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != nstype]
    entry = {"type": nstype}
    if path:
        entry["path"] = path
    nss.append(entry)
    bundle.config["linux"]["namespaces"] = nss


def drop_ns(bundle, nstype: str) -> None:
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != nstype]


def add_mount(bundle, destination: str, type_: str | None, source: str | None, options=()) -> None:
    m = {"destination": destination}
    if type_ is not None:
        m["type"] = type_
    if source is not None:
        m["source"] = source
    if options:
        m["options"] = list(options)
    bundle.config["mounts"].append(m)


def status_fields(text: str) -> dict[str, str]:
    """/proc/<pid>/status text -> {field: value} (value whitespace-normalized)."""
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            out[k.strip()] = " ".join(v.split())
    return out


def proc_status(pid: int | str) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return status_fields(f.read())


def mountinfo(text: str) -> list[dict]:
    """Parse mountinfo lines: mount point, per-mount options, optional fields, fstype, source,
    super options."""
    out = []
    for line in text.splitlines():
        f = line.split()
        if len(f) < 10:
            continue
        sep = f.index("-")
        out.append(
            {
                "root": f[3],
                "mp": f[4],
                "opts": set(f[5].split(",")),
                "optional": f[6:sep],
                "fstype": f[sep + 1],
                "source": f[sep + 2],
                "super": set(f[sep + 3].split(",")),
            }
        )
    return out


def mount_at(text: str, mp: str) -> dict:
    """The topmost mount at mount point `mp` in mountinfo text."""
    found = [m for m in mountinfo(text) if m["mp"] == mp]
    assert found, f"nothing mounted at {mp}:\n{text}"
    return found[-1]


def wait_for(pred, timeout: float = 10.0, interval: float = 0.02):
    """Poll pred() until it returns a true value or the timeout passes; returns the last value."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(interval)


def wait_file(path: str, timeout: float = 10.0) -> bool:
    return wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 0, timeout)


def wait_status(rt, cid: str, want: str, timeout: float = 10.0) -> str:
    last = [""]

    def check() -> bool:
        last[0] = rt.state(cid)["status"]
        return last[0] == want

    wait_for(check, timeout)
    return last[0]


@contextlib.contextmanager
def running(rt, bundle, cid: str, *args: str):
    """A detached container running `args` (default: sleep); yields its host pid; deletes it."""
    bundle.args(*(args or ("sleep", "1000"))).write()
    r = rt("run", "-d", "--bundle", bundle.path, cid)
    assert r.rc == 0, r
    try:
        yield rt.state(cid)["pid"]
    finally:
        rt("delete", "--force", cid)


def ns_link(pid: int | str, name: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{name}")


def mounted_under(prefix: str) -> list[str]:
    """Host mount points at or under prefix (for 'nothing was mounted there' checks)."""
    with open("/proc/self/mountinfo") as f:
        mps = [l.split()[4] for l in f]
    return [m for m in mps if m == prefix or m.startswith(prefix.rstrip("/") + "/")]


def hard_limits() -> tuple[int, int]:
    """nofile = `ulimit -Hn`; nproc = min(`ulimit -Hu`, pid_max): what this host's root can grant
    (podman's defaults, 1048576 and pid_max, fail with EPERM without CAP_SYS_RESOURCE)."""
    import resource

    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    if nproc == resource.RLIM_INFINITY or nproc > pid_max:
        nproc = pid_max
    if nofile == resource.RLIM_INFINITY:
        nofile = 1048576
    return nofile, nproc


JSON_RUNTIMES = ("crun", "runc", "kata", "runsc", "youki", "krun", "runk")


def write_containers_conf(
    path: str,
    engine: dict[str, str],
    runtimes: dict[str, str] | None = None,
    json_runtimes: tuple[str, ...] = JSON_RUNTIMES,
) -> None:
    """A containers.conf for tests that drive podman: k8s-file logs, ulimits this host can grant,
    cgroupfs, file events, `engine` keys added, the runtimes that log JSON (podman's list plus
    runk), and [engine.runtimes] name = path entries."""
    nofile, nproc = hard_limits()
    lines = [
        "[containers]",
        'log_driver = "k8s-file"',
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]',
        "",
        "[engine]",
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
    ]
    lines += [f'{k} = "{v}"' for k, v in engine.items()]
    lines.append("runtime_supports_json = [" + ", ".join(f'"{n}"' for n in json_runtimes) + "]")
    if runtimes:
        lines += ["", "[engine.runtimes]"] + [f'{k} = ["{v}"]' for k, v in runtimes.items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def _sm_text(raw: bytes, off: int) -> str:
    start = 512 + off  # statmount's strings follow its 512-byte struct
    return raw[start : raw.index(b"\0", start)].decode(errors="replace")


def ns_mounts(pid: int | str) -> list[dict]:
    """Every mount in the mount namespace of `pid` (but its root), in mount id order, including
    those no path reaches any more (under a root moved over them): {"id", "parent", "root",
    "mp", "fstype"} from listmount(2) and statmount(2) on the host, as `findmnt
    --kernel=listmount` reads them. Skips the test on a kernel without them (before 6.11)."""
    import ctypes
    import fcntl
    import struct

    import pytest

    libc = ctypes.CDLL(None, use_errno=True)
    sys_statmount, sys_listmount, ns_get_mntns_id = 457, 458, 0x8008B705
    lsmt_root = 0xFFFFFFFFFFFFFFFF
    sm_mnt_basic, sm_mnt_root, sm_mnt_point, sm_fs_type = 0x2, 0x8, 0x10, 0x20
    fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    try:
        buf = bytearray(8)
        fcntl.ioctl(fd, ns_get_mntns_id, buf)
    except OSError as e:
        pytest.skip(f"NS_GET_MNTNS_ID: {e.strerror} (needs Linux 6.11)")
    finally:
        os.close(fd)
    ns_id = struct.unpack("Q", buf)[0]

    def req(mnt_id: int, param: int) -> ctypes.Array:
        return ctypes.create_string_buffer(struct.pack("IIQQQ", 32, 0, mnt_id, param, ns_id), 32)

    ids = (ctypes.c_uint64 * 8192)()
    n = libc.syscall(sys_listmount, req(lsmt_root, 0), ids, len(ids), 0)
    if n < 0:
        pytest.skip(f"listmount: {os.strerror(ctypes.get_errno())} (needs Linux 6.11)")
    out = []
    want = sm_mnt_basic | sm_mnt_root | sm_mnt_point | sm_fs_type
    for mnt_id in ids[:n]:
        sm = ctypes.create_string_buffer(1 << 16)
        if libc.syscall(sys_statmount, req(mnt_id, want), sm, len(sm), 0) < 0:
            continue  # unmounted meanwhile
        raw = sm.raw
        (fs_type,) = struct.unpack_from("I", raw, 36)
        ident, parent = struct.unpack_from("QQ", raw, 40)
        mnt_root, mnt_point = struct.unpack_from("II", raw, 104)
        out.append(
            {
                "id": ident,
                "parent": parent,
                "root": _sm_text(raw, mnt_root),
                "mp": _sm_text(raw, mnt_point),
                "fstype": _sm_text(raw, fs_type),
            }
        )
    return out


def exposed_pseudo_fs(mounts: list[dict]) -> list[tuple[str, str]]:
    """(mount point, type) of the whole procfs and sysfs mounts (their root is the filesystem's
    root) of ns_mounts() that no tmpfs covers: those the kernel counts as visible when it decides
    whether a fresh proc or sysfs mount may be made in the namespace."""

    def covered(m: dict) -> bool:
        return any(c["parent"] == m["id"] and c["mp"] == m["mp"] and c["fstype"] == "tmpfs" for c in mounts)

    return sorted(
        (m["mp"], m["fstype"])
        for m in mounts
        if m["fstype"] in ("proc", "sysfs") and m["root"] == "/" and not covered(m)
    )
