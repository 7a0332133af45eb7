"""A pod member's files in its sandbox's share (host, runk create and delete of a member).

Runs on the host in `runk create` and `runk delete` of a pod member (runk.vm.host.pod), each
time in a short-lived forked child. The sandbox's virtiofsd serves a tmpfs that exists only in
its own mount namespace (runk.vm.host.machine.stage), chroot'ed into it. A member's rootfs and
bind sources must appear there, under c/<member id>/, while the VM runs; qemu has no hotplug
under microvm, so a second virtio-fs device is not an option. The child therefore:

1. clones each source as a detached mount tree (open_tree OPEN_TREE_CLONE, recursive for
   rbind) while still in the host's mount namespace, where the paths mean what the config says
   (podman's overlay of a member is mounted after the sandbox's virtiofsd started, so it may not
   exist in virtiofsd's namespace);
2. enters virtiofsd's mount namespace (setns on /proc/<pid>/ns/mnt, the pid and start time from
   the sandbox's vm.json), makes the targets on the tmpfs and attaches the trees there
   (move_mount), read-only where asked.

virtiofsd, chroot'ed into the tmpfs, sees the new mounts at once (a chroot does not pin the
mount tree); the guest has never looked these names up, so no stale FUSE entry hides them. The
mounts exist only in virtiofsd's namespace: the host's mount table never shows them, and they
vanish with virtiofsd. detach() (the member's delete) lazily unmounts everything under
c/<id>/ and removes the directories; the guest's last references to them (its dentry cache)
then drop without holding a mount anywhere.
"""

from __future__ import annotations

import os

from runk.errors import RunkError
from runk.vm.host.pod import MEMBERS_DIR
from runk.vm.host.sandbox import SHARE_DIR, Stage

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def _virtiofsd(pod_dir: str) -> tuple[int, int | None] | None:
    """virtiofsd's pid and start time from the sandbox's vm.json, if it still runs."""
    from runk import _json
    from runk.linux import procfs

    try:
        with open(os.path.join(pod_dir, "vm.json"), "rb") as f:
            info = _json.loads(f.read())
        pid, start = int(info["virtiofsd"][0]), info["virtiofsd"][1]  # type: ignore[index]
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    return (pid, start) if procfs.is_alive(pid, start) else None


def member_base(pod_dir: str, cid: str) -> str:
    return os.path.join(os.path.abspath(pod_dir), SHARE_DIR, MEMBERS_DIR, cid)


def _in_share_ns(pod_dir: str, before: Callable[[], object], after: Callable[[object], None]) -> bool:
    """Fork; the child runs before() in our mount namespace, then after(its result) in the
    sandbox virtiofsd's. False if virtiofsd is gone (nothing to do); raises the child's error."""
    from runk._native import lib
    from runk.linux import procfs
    from runk.linux.syscalls import setns

    vfs = _virtiofsd(pod_dir)
    if vfs is None:
        return False
    try:
        nsfd = os.open(f"/proc/{vfs[0]}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if not procfs.is_alive(*vfs):  # the fd is of that virtiofsd, not of a reused pid
            return False
        r, w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                state = before()
                setns(nsfd, lib.CLONE_NEWNS, "the sandbox's share")
                after(state)
            except BaseException as e:  # the child reports and exits, never returns
                from runk.errors import describe

                try:
                    os.write(w, (describe(e) or "failed").encode())
                finally:
                    os._exit(1)
            os._exit(0)
        os.close(w)
        msg = b""
        while chunk := os.read(r, 4096):
            msg += chunk
        os.close(r)
        os.waitpid(pid, 0)
    finally:
        os.close(nsfd)
    if msg:
        raise RunkError(f"staging the pod member's files in its sandbox's VM: {msg.decode(errors='replace')}")
    return True


def attach(pod_dir: str, cid: str, stages: list[Stage]) -> None:
    """Mount the member's stages under c/<cid>/ of the sandbox's share (see above)."""
    from runk.linux.syscalls import open_tree_clone

    base = member_base(pod_dir, cid)

    def clone() -> object:
        return [open_tree_clone(s.source, s.recursive) for s in stages]

    def place(trees: object) -> None:
        assert isinstance(trees, list)
        _place(base, stages, trees)

    if not _in_share_ns(pod_dir, clone, place):
        raise RunkError("the sandbox's VM is not running")


def _place(base: str, stages: list[Stage], trees: list[int]) -> None:
    from runk._native import lib
    from runk.linux.syscalls import mount, move_mount_to_fd

    share = os.path.dirname(os.path.dirname(base))
    os.makedirs(base, mode=0o755)  # a member id is used once per sandbox: EEXIST is a bug
    for s, tree in zip(stages, trees, strict=True):
        target = os.path.join(share, s.name)  # s.name: c/<id>/...
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if s.kind == "dir":
            os.mkdir(target)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644))
        tfd = os.open(target, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            move_mount_to_fd(tree, tfd, shown=s.source)
        finally:
            os.close(tfd)
        if s.readonly:
            mount(None, target, None, lib.MS_BIND | lib.MS_REMOUNT | lib.MS_RDONLY, shown=s.source)


def detach(pod_dir: str, cid: str) -> None:
    """Unmount and remove c/<cid>/ of the sandbox's share; nothing to do once its VM is gone."""
    base = member_base(pod_dir, cid)
    _in_share_ns(pod_dir, lambda: None, lambda _state: _clear(base))


def _clear(base: str) -> None:
    import shutil

    from runk._native import lib
    from runk.linux.syscalls import umount2

    for target in reversed(mount_points_under(base)):
        umount2(target, lib.MNT_DETACH)
    shutil.rmtree(base, ignore_errors=True)


def mount_points_under(base: str) -> list[str]:
    """Mount points at or below `base` in this mount namespace, in mount order."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = _unescape(line.split(" ", 5)[4])
            if point == base or point.startswith(base + "/"):
                out.append(point)
    return out


def _unescape(field: str) -> str:
    """mountinfo's octal escapes (\\040 for a space, ...)."""
    if "\\" not in field:
        return field
    import re

    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)
