"""The guest initramfs, built by runk in pure Python: newc cpio + gzip, cached by input hash.

Contents: busybox-static with applet links in /bin and /sbin, the kernel modules of
DEFAULT_MODULES and their dependencies in /modules (load order in /etc/modules.order, from
kmod.py: depmod and modprobe on a staged tree), /init (guest_init.py), the relay and the wire
module under /runk/lib, and
/lib -> usr/lib, /lib64 -> usr/lib64 so that a host /usr shared over virtio-fs runs in the guest.

Per-run files (the command, stdin) go into a small uncompressed archive appended to the cached
one (`with_overlay`): the kernel unpacks concatenated archives in order (buffer-format.rst).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import stat
import subprocess
import time

from runk.vm.image import guest_init, kmod

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# virtio_mmio for microvm, virtio_pci for q35; console = virtio-serial; fuse+virtiofs = shares;
# virtio_blk for the block-image rootfs; overlay for the agent's rootfs layering; virtio_net for
# the network namespace's interfaces (runk.vm.host.netplug)
DEFAULT_MODULES = (
    "virtio_mmio",
    "virtio_pci",
    "virtio_blk",
    "virtio_console",
    "fuse",
    "virtiofs",
    "overlay",
    "virtio_net",
    "virtio_balloon",
)
BUSYBOX_PATHS = ("/usr/bin/busybox", "/bin/busybox")
FORMAT_VERSION = "runk-initramfs-1"
# the guest copy of runk: just what the relay imports
GUEST_PY = (
    "__init__.py",
    "_json.py",
    "vm/__init__.py",
    "vm/wire/__init__.py",
    "vm/wire/wire.py",
    "vm/guest/__init__.py",
    "vm/guest/relay.py",
)
KEEP_BUILDS = 4


class InitramfsError(RuntimeError):
    pass


# -- newc cpio ------------------------------------------------------------------------------


class CpioWriter:
    """Writes a "newc" (070701) cpio archive in memory. Paths are relative ("bin/sh"); parents
    are added as directories when missing. Owner root, mtime 0: the output is reproducible."""

    def __init__(self) -> None:
        self._out = bytearray()
        self._ino = 0
        self._seen: set[str] = set()

    def _header(self, name: str, mode: int, size: int, nlink: int = 1, rdev: tuple[int, int] = (0, 0)) -> None:
        name = name.strip("/")
        if not name or name in self._seen:
            raise InitramfsError(f"cpio: empty or duplicate path {name!r}")
        self._seen.add(name)
        self._ino += 1
        raw = name.encode() + b"\0"
        fields = (self._ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev[0], rdev[1], len(raw), 0)
        self._out += b"070701" + b"".join(b"%08X" % f for f in fields) + raw
        self._pad()

    def _pad(self) -> None:
        self._out += b"\0" * (-len(self._out) % 4)

    def _parents(self, name: str) -> None:
        parts = name.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self._seen:
                self._header(d, stat.S_IFDIR | 0o755, 0, nlink=2)

    def dir(self, name: str, mode: int = 0o755) -> None:
        self._parents(name)
        if name.strip("/") not in self._seen:
            self._header(name, stat.S_IFDIR | mode, 0, nlink=2)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._parents(name)
        self._header(name, stat.S_IFREG | mode, len(data))
        self._out += data
        self._pad()

    def symlink(self, name: str, target: str) -> None:
        self._parents(name)
        data = target.encode()
        self._header(name, stat.S_IFLNK | 0o777, len(data))
        self._out += data
        self._pad()

    def chardev(self, name: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._parents(name)
        self._header(name, stat.S_IFCHR | mode, 0, rdev=(major, minor))

    def finish(self) -> bytes:
        """The archive with its TRAILER!!! entry (the writer cannot be used afterwards)."""
        self._seen.discard("TRAILER!!!")
        self._header("TRAILER!!!", 0, 0, nlink=1)
        # the kernel accepts any padding; 512 keeps `cpio` tools from complaining
        self._out += b"\0" * (-len(self._out) % 512)
        return bytes(self._out)


# -- busybox --------------------------------------------------------------------------------


def find_busybox(candidates: tuple[str, ...] = BUSYBOX_PATHS) -> str:
    for path in candidates:
        if os.path.isfile(path) and _is_static(path):
            return path
    raise InitramfsError("needs a static busybox (apt-get install busybox-static)")


def _is_static(path: str) -> bool:
    """ELF64 without a PT_INTERP program header."""
    import struct

    with open(path, "rb") as f:
        ehdr = f.read(64)
        if ehdr[:4] != b"\x7fELF" or ehdr[4] != 2:
            return False
        phoff = struct.unpack_from("<Q", ehdr, 0x20)[0]
        phentsize, phnum = struct.unpack_from("<HH", ehdr, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return all(struct.unpack_from("<I", table, i * phentsize)[0] != 3 for i in range(phnum))


def busybox_applets(busybox: str) -> list[str]:
    """Applet paths from `busybox --list-full`, flattened to bin/ and sbin/ (/usr stays free for
    the host's /usr)."""
    cp = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, timeout=30)
    out, seen = [], set()
    for line in cp.stdout.split():
        name = os.path.basename(line)
        where = "sbin" if "sbin/" in line else "bin"
        if name and name != "busybox" and name not in seen:
            seen.add(name)
            out.append(f"{where}/{name}")
    if "bin/sh" not in out:
        raise InitramfsError(f"{busybox} has no sh applet")
    return out


# -- build ----------------------------------------------------------------------------------


def _runk_dir() -> str:
    """The runk package directory (this file is runk/vm/image/initramfs.py)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def build_archive(modules: list[str], busybox: str, applets: list[str]) -> bytes:
    """The uncompressed cpio of the guest root; `modules` are .ko paths in load order."""
    w = CpioWriter()
    for d in ("dev", "proc", "sys", "tmp", "run", "mnt", "root", "etc", "usr", "modules"):
        w.dir(d)
    w.chardev("dev/console", 5, 1)
    w.chardev("dev/null", 1, 3, 0o666)
    w.symlink("lib", "usr/lib")
    w.symlink("lib64", "usr/lib64")
    w.file("bin/busybox", _read(busybox), 0o755)
    for a in applets:
        w.symlink(a, "/bin/busybox")
    w.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    w.file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    order = []
    for path in modules:
        fname = os.path.basename(path)
        w.file(f"modules/{fname}", _read(path))
        order.append(fname)
    w.file("etc/modules.order", "".join(f"{n}\n" for n in order).encode())
    top = _runk_dir()
    for rel in GUEST_PY:
        w.file(f"runk/lib/runk/{rel}", _read(os.path.join(top, rel)))
    w.file("init", guest_init.INIT.encode(), 0o755)
    return w.finish()


def _cache_key(modules: list[str], busybox: str, applets: list[str]) -> str:
    h = hashlib.sha256(FORMAT_VERSION.encode())
    h.update(guest_init.INIT.encode())
    h.update(_read(busybox))
    h.update("\0".join(applets).encode())
    for path in modules:
        h.update(os.path.basename(path).encode() + b"\0")
        h.update(_read(path))
    top = _runk_dir()
    for rel in GUEST_PY:
        h.update(rel.encode() + b"\0" + _read(os.path.join(top, rel)))
    h.update(_read(__file__))
    return h.hexdigest()[:20]


def build_initramfs(
    modules_dir: str,
    directory: str,
    *,
    modules: tuple[str, ...] = DEFAULT_MODULES,
    busybox: str | None = None,
    log: Callable[[str], None] | None = None,
) -> str:
    """Path of the cached initramfs (<directory>/initramfs/<hash>.cpio.gz), built if needed."""
    log = log or (lambda msg: None)
    busybox = busybox or find_busybox()
    applets = busybox_applets(busybox)
    mods = kmod.resolve(modules_dir, modules, directory)
    key = _cache_key(mods, busybox, applets)
    cache = os.path.join(directory, "initramfs")
    path = os.path.join(cache, f"{key}.cpio.gz")
    if os.path.exists(path):
        os.utime(path)  # most recently used
        return path
    t0 = time.monotonic()
    os.makedirs(cache, exist_ok=True)
    data = gzip.compress(build_archive(mods, busybox, applets), compresslevel=6, mtime=0)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    log(
        f"built initramfs {os.path.basename(path)} ({len(data) >> 10} KiB, "
        f"{len(mods)} modules) in {time.monotonic() - t0:.2f} s"
    )
    _prune(cache)
    return path


def _prune(cache: str) -> None:
    builds = sorted(
        (os.path.join(cache, n) for n in os.listdir(cache) if n.endswith(".cpio.gz")),
        key=os.path.getmtime,
        reverse=True,
    )
    for old in builds[KEEP_BUILDS:]:
        try:
            os.unlink(old)
        except OSError:
            pass


def overlay(files: dict[str, bytes]) -> bytes:
    """An uncompressed cpio of per-run files, to append to a cached initramfs."""
    w = CpioWriter()
    for name, data in sorted(files.items()):
        w.file(name, data, 0o755 if name.endswith((".sh", "cmd")) else 0o644)
    return w.finish()


def with_overlay(base: str, files: dict[str, bytes], out: str) -> str:
    """Write `base` followed by an archive of `files` to `out` (the initrd of one run)."""
    with open(base, "rb") as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.write(b"\0" * (-dst.tell() % 4))
        dst.write(overlay(files))
    return out
