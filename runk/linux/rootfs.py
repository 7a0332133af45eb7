"""The container's mount namespace: propagation, rootfs bind, mounts in config order, /dev,
pivot_root (or move + chroot), read-only root.

As runc, a tmpfs or /dev mount the config asks read-only is mounted writable (runk writes device
nodes, symlinks, /dev/console, mode or tmpcopyup content and later mount points into it) and
remounted read-only by finish(). --no-pivot first detaches the host's procfs and sysfs mounts
(or covers those it cannot detach) so that the container's mount namespace keeps none of them.

Runs in the init, between fork and exec: no imports at call time, errors as SyscallError naming
the in-container destination. Every target is resolved inside the rootfs (runk.linux.paths) and
mounted through /proc/self/fd/N, then checked to still be inside the rootfs.
"""

from __future__ import annotations

import errno
import stat

from runk import _os as os
from runk._native import lib
from runk.errors import RunkError, SyscallError
from runk.linux import devices, paths, procmounts
from runk.linux.mounts import IDMAP_RECURSIVE
from runk.linux.syscalls import (
    clone_fd_tree,
    idmap_tree,
    mount,
    mount_setattr,
    move_mount_to_fd,
    pivot_root,
    umount2,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from runk.linux.fds import LaunchFds
    from runk.linux.mounts import MountSpec
    from runk.linux.plan import MountPlan

# statvfs f_flag bits that are also mount flags (the kernel's ST_* == MS_* for these): the
# flags the kernel locks on the mounts a user namespace inherits
_LOCKABLE: int = (
    lib.MS_RDONLY | lib.MS_NOSUID | lib.MS_NODEV | lib.MS_NOEXEC | lib.MS_NOATIME | lib.MS_NODIRATIME | lib.MS_RELATIME
)
_ATIME_FLAGS: int = lib.MS_NOATIME | lib.MS_NODIRATIME | lib.MS_RELATIME | lib.MS_STRICTATIME


def _mount_point_of(path: str) -> tuple[str, str]:
    """(mount point, optional fields) of the mount holding `path`, from /proc/self/mountinfo."""
    best, best_opt = "/", ""
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f.read().decode(errors="surrogateescape").splitlines():
            fields = line.split(" ")
            mp = fields[4].replace("\\040", " ")
            sep = fields.index("-")
            if paths.is_within(path, mp) and len(mp) >= len(best):
                best, best_opt = mp, " ".join(fields[6:sep])
    return best, best_opt


def prepare(mp: MountPlan, fds: LaunchFds, mount_ns: bool) -> int:
    """Everything before pivot_root. Returns an O_PATH fd of the rootfs."""
    rootfs = mp.rootfs
    if mount_ns:
        mount(None, "/", None, mp.root_propagation or (lib.MS_SLAVE | lib.MS_REC), shown="/")
        # pivot_root(2) refuses a new root whose parent mount is shared, and the bind below would
        # propagate back to the host: make the mount holding the rootfs private (runc
        # rootfsParentMountPrivate). That is the rootfs itself when it is a mount point.
        parent, opt = _mount_point_of(rootfs)
        if "shared:" in opt:
            mount(None, parent, None, lib.MS_PRIVATE, shown=parent)
    mount(rootfs, rootfs, "bind", lib.MS_BIND | lib.MS_REC, shown=rootfs)
    root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    for m in mp.mounts:
        if m.fstype == "cgroup":
            _mount_cgroup(root_fd, mp, m)
        elif mount_one(
            root_fd, rootfs, m, fds.bind_sources.get(m.index), fds.idmap_users.get(m.index, -1), mp.clone_bind_sources
        ):
            # a mount onto the root itself (runc takes it as the new root): the later mounts
            # and pivot_root go to it, not to the rootfs it covers
            os.close(root_fd)
            root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    if mp.setup_dev:
        devices.setup_dev(root_fd, rootfs, list(mp.devices), mp.bind_devices)
    elif mp.devices:
        devices.create_nodes(root_fd, rootfs, list(mp.devices), mp.bind_devices)
    return root_fd


def _target(root_fd: int, rootfs: str, dest: str, create: str | None) -> int:
    fd = paths.open_in_root(root_fd, dest, create)
    real = paths.fd_path(fd)
    if not paths.is_within(real, rootfs):
        os.close(fd)
        raise RunkError(f"mount destination {dest} resolves outside the rootfs: {real}")
    return fd


def _check_proc_target(fd: int, rootfs: str, m: MountSpec, source_fd: int) -> None:
    """runc checkProcMount on the resolved destination: a symlink in the rootfs must not lead
    a mount onto /proc or under it (the config's destination was checked as written)."""
    inside = paths.fd_path(fd)[len(rootfs.rstrip("/")) :] or "/"
    why = procmounts.problem(inside, m.fstype, m.is_bind)
    if not why and inside == "/proc" and m.is_bind:
        why = procmounts.source_problem(m.source or "", source_fd)
    if why:
        os.close(fd)
        raise RunkError(f"mounts[{m.index}]: {why}")


def _remount_flags(target: str, flags: int) -> int:
    """Flags the kernel locked on this mount (user namespaces) must be kept on remount."""
    try:
        return flags | (os.statvfs(target).f_flag & _LOCKABLE)
    except OSError:
        return flags


def _clean(dest: str) -> str:
    return "/" + "/".join(c for c in dest.split("/") if c and c != ".")


def read_only_later(m: MountSpec) -> bool:
    """runc's rule: a read-only tmpfs, or a read-only mount on /dev, is mounted writable and
    made read-only by finish(), once runk has written what it must into it."""
    return bool(m.flags & lib.MS_RDONLY) and (m.fstype == "tmpfs" or _clean(m.destination) == "/dev")


def _remount(target: str, flags: int, dest: str) -> None:
    try:
        mount(None, target, None, flags | lib.MS_REMOUNT, shown=dest)
    except OSError as e:
        if e.errno != errno.EPERM:
            raise
        mount(None, target, None, _remount_flags(target, flags) | lib.MS_REMOUNT, shown=dest)


def _clone_root_source(root_fd: int, m: MountSpec, users: int) -> tuple[int, bool]:
    """A bind source inside the rootfs (MountSpec.root_source), resolved in the container's
    tree as the earlier mounts left it, never outside it: (detached clone, is a directory),
    id-mapped through `users` when the mount asks."""
    assert m.root_source is not None
    try:
        sfd = paths.open_in_root(root_fd, m.root_source, None)
    except OSError as e:
        raise SyscallError("stat", m.source, e.errno or 0) from None
    try:
        is_dir = stat.S_ISDIR(os.fstat(sfd).st_mode)
        tree = clone_fd_tree(sfd, m.destination, recursive=bool(m.flags & lib.MS_REC))
    finally:
        os.close(sfd)
    if m.idmap:
        try:
            idmap_tree(tree, users, m.idmap == IDMAP_RECURSIVE, shown=m.destination)
        except BaseException:
            os.close(tree)
            raise
    return tree, is_dir


def mount_one(
    root_fd: int,
    rootfs: str,
    m: MountSpec,
    source: tuple[int, bool] | None = None,
    users: int = -1,
    userns: bool = False,
) -> bool:
    """One config mount; `source`: (fd, is a directory) of the bind source's clone the parent
    opened (LaunchFds.bind_sources), None to mount by path; `users`: the user namespace fd of an
    id-mapped mount whose source is inside the rootfs; userns: the container has a user
    namespace (a bind keeps its source's lockable flags, _locked_bind_flags). True if it was
    mounted onto the root itself."""
    if m.root_source is not None and source is None:
        source = _clone_root_source(root_fd, m, users)
        try:
            return _mount_one(root_fd, rootfs, m, source, userns)
        finally:
            os.close(source[0])
    return _mount_one(root_fd, rootfs, m, source, userns)


def _locked_bind_flags(target: str, m: MountSpec, flags: int) -> int:
    """A bind in a user namespace keeps the lockable flags of its source (ro, nosuid, nodev,
    noexec, the atime ones), as the kernel locks them on mounts a user namespace inherits
    (runk's binds are clones made outside it, which the kernel does not lock): the flags to
    remount with. Clearing one of them explicitly, or asking for other atime flags than the
    source's, is refused with EPERM (runc)."""
    src = os.statvfs(target).f_flag & _LOCKABLE
    if not src & (lib.MS_NOATIME | lib.MS_RELATIME):
        src |= lib.MS_STRICTATIME  # statvfs has no flag for it: none of the others is it
    if m.clear & src:
        raise SyscallError("mount", f"{m.destination} (cannot clear locked flags)", errno.EPERM)
    want = flags & _ATIME_FLAGS
    if want and want != src & _ATIME_FLAGS:
        raise SyscallError("mount", f"{m.destination} (cannot change locked atime flags)", errno.EPERM)
    return flags | src


def _mount_one(root_fd: int, rootfs: str, m: MountSpec, source: tuple[int, bool] | None, userns: bool) -> bool:
    dest = m.destination
    flags = m.flags & ~lib.MS_RDONLY if read_only_later(m) else m.flags
    create = "dir"
    if m.is_bind and source is not None:
        create = "dir" if source[1] else "file"
    elif m.is_bind:
        try:
            st = os.stat(m.source or "")  # a bind has a source (runk.oci.validate)
        except OSError as e:
            raise SyscallError("stat", m.source, e.errno or 0) from None
        create = "dir" if stat.S_ISDIR(st.st_mode) else "file"
    if m.fstype in ("proc", "sysfs"):
        # runc GHSA-fh74-hm69-rqjw: procfs and sysfs only on a real directory (a symlink or a
        # file there is refused, in runc's words)
        try:
            lfd = paths.open_in_root(root_fd, dest, None, follow_last=False)
        except OSError:
            lfd = -1
        if lfd >= 0:
            is_dir = stat.S_ISDIR(os.fstat(lfd).st_mode)
            os.close(lfd)
            if not is_dir:
                raise RunkError(
                    f'mounts[{m.index}]: {dest}: filesystem "{m.fstype}" must be mounted on ordinary directory'
                )
    # runc: a tmpfs over an existing directory takes that directory's mode (/run 0755 stays
    # 0755), unless the options give one: runc puts "mode=<dir's>" first in the data
    keep_mode = (
        _existing_mode(root_fd, dest) if m.fstype == "tmpfs" and not m.is_bind and "mode=" not in m.data else None
    )
    tfd = _target(root_fd, rootfs, dest, create)
    _check_proc_target(tfd, rootfs, m, source[0] if source is not None else -1)
    onto_root = paths.fd_path(tfd) == rootfs
    try:
        old = -1
        if m.tmpcopyup:
            old = os.open(paths.proc_fd(tfd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        target = paths.proc_fd(tfd)
        bound = m.is_bind
        if m.is_bind and source is not None:
            move_mount_to_fd(source[0], tfd, shown=dest)
        elif m.is_bind:
            mount(m.source, target, None, lib.MS_BIND | (flags & lib.MS_REC), shown=dest)
        else:
            try:
                mount(m.source or m.fstype, target, m.fstype, flags & ~lib.MS_REC, m.data, shown=dest)
            except OSError as e:
                if not (e.errno == errno.EPERM and m.fstype == "sysfs"):
                    raise
                # sysfs needs a net namespace owned by our user namespace (a rootless container
                # without one of its own): bind the host's /sys instead, with the mount's flags
                # applied by the remount below (crun does the same)
                mount("/sys", target, None, lib.MS_BIND | lib.MS_REC, shown=dest)
                bound = True
        # reopen: the fd still names the directory under the new mount
        nfd = _target(root_fd, rootfs, dest, None)
        os.close(tfd)
        tfd = nfd
        target = paths.proc_fd(tfd)
        if m.is_bind and (flags & ~(lib.MS_BIND | lib.MS_REC | lib.MS_REMOUNT) or m.clear):
            # runc: a bind with options gets exactly them (a flag the options do not name is
            # cleared; the atime ones are kept unless named)
            want = lib.MS_BIND | (flags & ~lib.MS_REC)
            _remount(target, _locked_bind_flags(target, m, want) if userns else want, dest)
        elif bound and (flags & ~(lib.MS_BIND | lib.MS_REC | lib.MS_REMOUNT)):
            # the host's /sys bound for a rootless sysfs: the mount's own flags
            _remount(target, lib.MS_BIND | (flags & ~lib.MS_REC), dest)
        for p in m.propagation:
            mount(None, target, None, p, shown=dest)
        if m.rec_set or m.rec_clr:
            mount_setattr(tfd, "", lib.AT_EMPTY_PATH | lib.AT_RECURSIVE, m.rec_set, m.rec_clr, 0, shown=dest)
        if old >= 0:
            _copy_tree(old, tfd)
            os.close(old)
        if keep_mode is not None:
            os.chmod(target, keep_mode)
    finally:
        os.close(tfd)
    return onto_root


def _existing_mode(root_fd: int, dest: str) -> int | None:
    try:
        fd = paths.open_in_root(root_fd, dest, None)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
    finally:
        os.close(fd)
    return stat.S_IMODE(st.st_mode) if stat.S_ISDIR(st.st_mode) else None


def _copy_tree(src_fd: int, dst_fd: int) -> None:
    """tmpcopyup: copy the directory hidden by the new tmpfs into it (owners, modes, links)."""
    for entry in os.scandir(src_fd):
        name = entry.name
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(name, st.st_mode & 0o7777, dir_fd=dst_fd)
            s = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_fd)
            d = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst_fd)
            try:
                _copy_tree(s, d)
            finally:
                os.close(s)
                os.close(d)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(name, dir_fd=src_fd), name, dir_fd=dst_fd)
        elif stat.S_ISREG(st.st_mode):
            s = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_fd)
            d = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, st.st_mode & 0o7777, dir_fd=dst_fd)
            try:
                while os.sendfile(d, s, None, 1 << 20) > 0:
                    pass
            finally:
                os.close(s)
                os.close(d)
        else:
            os.mknod(name, st.st_mode, st.st_rdev, dir_fd=dst_fd)
        os.chown(name, st.st_uid, st.st_gid, dir_fd=dst_fd, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(name, st.st_mode & 0o7777, dir_fd=dst_fd)


def _mount_cgroup(root_fd: int, mp: MountPlan, m: MountSpec) -> None:
    """type "cgroup": v1 is a tmpfs holding one bind (or, with a cgroup namespace, one fresh
    mount) per hierarchy, as runc builds it; v2 is a cgroup2 mount (or a bind of the container's
    cgroup without a cgroup namespace, or when the kernel refuses the mount: EPERM, EBUSY)."""
    rootfs = mp.rootfs
    cg = mp.cgroup_mounts
    flags = m.flags & ~(lib.MS_BIND | lib.MS_REC)
    if cg.get("tmpfs"):
        tfd = _target(root_fd, rootfs, m.destination, "dir")
        try:
            mount(
                "tmpfs",
                paths.proc_fd(tfd),
                "tmpfs",
                lib.MS_NOSUID | lib.MS_NODEV | lib.MS_NOEXEC,
                "mode=755",
                shown=m.destination,
            )
        finally:
            os.close(tfd)
    for sub, host, fstype, data in cg.get("entries", []):
        dest = m.destination.rstrip("/") + ("/" + sub if sub else "")
        tfd = _target(root_fd, rootfs, dest, "dir")
        try:
            target = paths.proc_fd(tfd)
            if not host and cg.get("fallback"):
                try:
                    mount(fstype, target, fstype, flags, data, shown=dest)
                    continue
                except OSError as e:
                    if e.errno not in (errno.EPERM, errno.EBUSY):
                        raise
                host = cg["fallback"]  # runc's fallback: the container's group, bound
            if host:
                mount(host, target, None, lib.MS_BIND | lib.MS_REC, shown=dest)
                nfd = _target(root_fd, rootfs, dest, None)
                try:
                    _remount(paths.proc_fd(nfd), lib.MS_BIND | flags, dest)
                finally:
                    os.close(nfd)
            else:
                mount(fstype, target, fstype, flags, data, shown=dest)
        finally:
            os.close(tfd)
    for link, to in cg.get("links", []):
        try:
            dfd = _target(root_fd, rootfs, m.destination, None)
            try:
                os.symlink(to, link, dir_fd=dfd)
            finally:
                os.close(dfd)
        except FileExistsError:
            pass


def _unescape(field: str) -> str:
    """A mountinfo path: the kernel writes space, tab, newline and backslash as \\ooo."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _host_pseudo_mounts(rootfs: str) -> list[str]:
    """Mount points of the whole procfs and sysfs mounts outside the rootfs, in mountinfo order
    (a parent before what is mounted under it)."""
    found = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f.read().decode(errors="surrogateescape").splitlines():
            fields = line.split(" ")
            fstype = fields[fields.index("-") + 1]
            mp = _unescape(fields[4])
            if fields[3] == "/" and fstype in ("proc", "sysfs") and not paths.is_within(mp, rootfs):
                found.append(mp)
    return found


def _hide_host_pseudo_mounts(rootfs: str) -> None:
    """--no-pivot keeps the host's mount tree under the new root: detach its procfs and sysfs
    mounts, whose presence would let the container mount a fresh procfs or sysfs (the kernel
    allows one where a full one is already visible) and whose files are the host's. A mount the
    kernel locked (a user namespace) cannot be detached: it is covered by an empty tmpfs. Each
    is made a slave first so that nothing of this reaches the host (runc msMoveRoot)."""
    for mp in _host_pseudo_mounts(rootfs):
        try:
            mount(None, mp, None, lib.MS_SLAVE | lib.MS_REC, shown=mp)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.EINVAL):
                continue  # gone with a parent detached before it
            raise
        try:
            umount2(mp, lib.MNT_DETACH)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.EPERM):
                raise
            mount("tmpfs", mp, "tmpfs", 0, shown=mp)


def pivot(rootfs: str, no_pivot: bool) -> None:
    """Make rootfs the container's /. pivot_root(".", ".") then detach the old root (runc);
    --no-pivot: detach the host's procfs and sysfs, then MS_MOVE + chroot, for rootfs on a
    ramdisk."""
    os.chdir(rootfs)
    if no_pivot:
        _hide_host_pseudo_mounts(rootfs)
        mount(rootfs, "/", None, lib.MS_MOVE, shown="/")
        os.chroot(".")
        os.chdir("/")
        return
    oldroot = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        pivot_root(".", ".")
        os.fchdir(oldroot)
        # the old root must not propagate the unmount back to the host
        mount(None, ".", None, lib.MS_SLAVE | lib.MS_REC, shown="/")
        umount2(".", lib.MNT_DETACH)
    finally:
        os.close(oldroot)
    os.chdir("/")


def _read_only_now(mp: MountPlan) -> None:
    """The read-only tmpfs and /dev mounts prepare() made writable (read_only_later), resolved
    inside the new root, remounted read-only with their other flags."""
    later = [m for m in mp.mounts if read_only_later(m)]
    if not later:
        return
    root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for m in later:
            fd = paths.open_in_root(root, m.destination)
            try:
                _remount(paths.proc_fd(fd), lib.MS_BIND | (m.flags & ~lib.MS_REC), m.destination)
            finally:
                os.close(fd)
    finally:
        os.close(root)


def finish(mp: MountPlan) -> None:
    """After pivot: rootfsPropagation on the new /, read-only tmpfs and /dev mounts, read-only
    root."""
    if mp.rootfs_propagation:
        mount(None, "/", None, mp.rootfs_propagation, shown="/")
    _read_only_now(mp)
    if mp.readonly_root:
        _remount("/", lib.MS_BIND | lib.MS_RDONLY, "/")


def reopen_dev_null() -> None:
    """stdio that is the host's /dev/null (podman's conmon gives it for stdin) becomes the
    container's own /dev/null, as runc's init does: a descriptor of a mount outside the
    container's mount namespace is one CRIU cannot place when it dumps the container."""
    try:
        fd = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return  # no /dev/null in this container: nothing to reopen it from
    try:
        rdev = os.fstat(fd).st_rdev
        for std in (0, 1, 2):
            try:
                st = os.fstat(std)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == rdev:
                os.dup2(fd, std)
    finally:
        os.close(fd)
