"""The guest kernel: fetched from Debian with apt, never installed, cached (VM.md, DESIGN 3.15).

`ensure_kernel()` resolves the versioned package behind the meta-package (linux-image-cloud-amd64
→ linux-image-6.1.0-NN-cloud-amd64), `apt-get download`s it into the asset directory, extracts it
with `dpkg-deb -x`, records what it got in a JSON manifest and extracts the uncompressed ELF
vmlinux from the bzImage for PVH direct boot. On a cache hit it only asks apt-cache whether the
candidate changed (`check_apt=False`: not even that). `load_kernel()` reads the manifest only.

Layout of the asset directory ($RUNK_VM_ASSETS, default /var/cache/runk/vm):
    kernel-<flavour>.json           the manifest
    kernel/<release>_<version>/     the extracted package: boot/vmlinuz-<release>,
                                    lib/modules/<release>/, and vmlinux (extracted here)
    initramfs/<hash>.cpio.gz        see initramfs.py
"""

from __future__ import annotations

import fcntl
import os
import shutil
import struct
import subprocess
import tempfile
import time

from runk import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    Log = Callable[[str], None]

DEFAULT_DIR = "/var/cache/runk/vm"
META_PACKAGES = {"cloud": "linux-image-cloud-amd64", "std": "linux-image-amd64"}
MANIFEST_VERSION = 1


class KernelError(RuntimeError):
    """The guest kernel could not be fetched or extracted; the message says why."""


def assets_dir(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if env.get("RUNK_VM_ASSETS"):
        return env["RUNK_VM_ASSETS"]
    if os.geteuid() == 0:
        return DEFAULT_DIR
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "runk", "vm")


class KernelAssets:
    """What the manifest records, with absolute paths."""

    __slots__ = (
        "flavour",
        "modules_dir",
        "package",
        "release",
        "root",
        "version",
        "vmlinux",
        "vmlinuz",
    )

    def __init__(self, flavour: str, package: str, version: str, release: str, root: str, vmlinux: str | None) -> None:
        self.flavour = flavour
        self.package = package
        self.version = version
        self.release = release
        self.root = root
        self.vmlinuz = os.path.join(root, "boot", f"vmlinuz-{release}")
        self.modules_dir = os.path.join(root, "lib", "modules", release)
        self.vmlinux = vmlinux

    @property
    def boot_image(self) -> str:
        """What qemu -kernel gets: the PVH ELF when extracted (faster under TCG), else bzImage."""
        return self.vmlinux or self.vmlinuz

    def complete(self) -> bool:
        return (
            os.path.isfile(self.vmlinuz)
            and os.path.isdir(self.modules_dir)
            and (self.vmlinux is None or os.path.isfile(self.vmlinux))
        )

    def to_manifest(self) -> dict[str, Any]:
        return {
            "manifest": MANIFEST_VERSION,
            "flavour": self.flavour,
            "package": self.package,
            "version": self.version,
            "release": self.release,
            "root": self.root,
            "vmlinux": self.vmlinux,
            "fetched": int(time.time()),
        }

    def __repr__(self) -> str:
        return f"KernelAssets({self.package} {self.version}, {self.boot_image})"


def _manifest_path(directory: str, flavour: str) -> str:
    return os.path.join(directory, f"kernel-{flavour}.json")


def load_kernel(directory: str | None = None, flavour: str = "cloud") -> KernelAssets | None:
    """The cached kernel per its manifest, or None when there is none (no apt involved)."""
    directory = directory or assets_dir()
    try:
        with open(_manifest_path(directory, flavour)) as f:
            m = _json.loads(f.read())
    except (OSError, ValueError):
        return None
    if not isinstance(m, dict) or m.get("manifest") != MANIFEST_VERSION:
        return None
    k = KernelAssets(m["flavour"], m["package"], m["version"], m["release"], m["root"], m.get("vmlinux"))
    return k if k.complete() else None


# -- apt ------------------------------------------------------------------------------------


def _apt(argv: list[str], cwd: str | None = None, timeout: float = 300) -> str:
    try:
        cp = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env={**os.environ, "LC_ALL": "C"}
        )
    except FileNotFoundError:
        raise KernelError(f"{argv[0]} not found: the guest kernel is fetched with apt") from None
    except subprocess.TimeoutExpired:
        raise KernelError(f"{' '.join(argv)} timed out after {timeout:.0f} s") from None
    if cp.returncode != 0:
        err = (cp.stderr.strip() or cp.stdout.strip()).splitlines()
        raise KernelError(f"{' '.join(argv)} failed: {' / '.join(err[-3:]) or cp.returncode}")
    return cp.stdout


def parse_policy_candidate(text: str) -> str | None:
    """The Candidate: version of `apt-cache policy PKG` ((none) → None)."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Candidate:"):
            v = line.split(":", 1)[1].strip()
            return None if v in ("", "(none)") else v
    return None


def parse_image_depends(text: str) -> tuple[str, str | None]:
    """(package, version) of the linux-image-* dependency in `apt-cache show` output (first
    stanza): "Depends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)"."""
    for line in text.splitlines():
        if line.startswith("Depends:"):
            for dep in line.split(":", 1)[1].split(","):
                dep = dep.split("|")[0].strip()
                name = dep.split(" ", 1)[0].split(":")[0]
                if name.startswith("linux-image-"):
                    version = None
                    if "(" in dep and "=" in dep:
                        version = dep.split("=", 1)[1].rstrip(") ").strip()
                    return name, version
        if not line.strip():
            break
    raise KernelError("no linux-image-* dependency in the meta-package's Depends")


def resolve_kernel_package(flavour: str = "cloud") -> tuple[str, str]:
    """(versioned package, version) that the meta-package's candidate depends on."""
    meta = META_PACKAGES[flavour]
    cand = parse_policy_candidate(_apt(["apt-cache", "policy", meta]))
    if cand is None:
        raise KernelError(f"apt knows no candidate for {meta} (run apt-get update?)")
    pkg, version = parse_image_depends(_apt(["apt-cache", "show", f"{meta}={cand}"]))
    if version is None:
        text = _apt(["apt-cache", "policy", pkg])
        version = parse_policy_candidate(text)
        if version is None:
            raise KernelError(f"apt knows no candidate for {pkg}")
    return pkg, version


# -- fetch ----------------------------------------------------------------------------------


class _Lock:
    """flock on <dir>/.lock: one fetch or build at a time across processes."""

    def __init__(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self.fd = os.open(os.path.join(directory, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def __enter__(self) -> _Lock:
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def ensure_kernel(
    directory: str | None = None,
    flavour: str = "cloud",
    check_apt: bool = True,
    vmlinux: bool = True,
    log: Log | None = None,
) -> KernelAssets:
    """The cached kernel, fetched (or refreshed when apt's candidate changed) as needed."""
    directory = directory or assets_dir()
    log = log or (lambda msg: None)
    with _Lock(directory):
        cached = load_kernel(directory, flavour)
        if cached and not check_apt:
            return _with_vmlinux(directory, cached, vmlinux, log)
        try:
            pkg, version = resolve_kernel_package(flavour)
        except KernelError as e:
            if cached:  # apt unusable (no lists, offline): the cached kernel still boots
                log(f"using the cached {cached.package} {cached.version}: {e}")
                return _with_vmlinux(directory, cached, vmlinux, log)
            raise
        if cached and (cached.package, cached.version) == (pkg, version):
            return _with_vmlinux(directory, cached, vmlinux, log)
        k = _fetch(directory, flavour, pkg, version, log)
        k = _with_vmlinux(directory, k, vmlinux, log)
        _prune(directory, keep=k.root)
        return k


def _fetch(directory: str, flavour: str, pkg: str, version: str, log: Log) -> KernelAssets:
    release = pkg[len("linux-image-") :]
    kdir = os.path.join(directory, "kernel")
    os.makedirs(kdir, exist_ok=True)
    root = os.path.join(kdir, f"{release}_{version}")
    tmp = tempfile.mkdtemp(prefix=".fetch-", dir=kdir)
    try:
        t0 = time.monotonic()
        _apt(["apt-get", "download", "-q", f"{pkg}={version}"], cwd=tmp)
        debs = [n for n in os.listdir(tmp) if n.endswith(".deb")]
        if len(debs) != 1:
            raise KernelError(f"apt-get download {pkg}={version} left {debs or 'no .deb'}")
        tree = os.path.join(tmp, "tree")
        _apt(["dpkg-deb", "-x", os.path.join(tmp, debs[0]), tree])
        k = KernelAssets(flavour, pkg, version, release, root, None)
        for path in (os.path.join(tree, "boot", f"vmlinuz-{release}"), os.path.join(tree, "lib", "modules", release)):
            if not os.path.exists(path):
                raise KernelError(f"{debs[0]} has no {path[len(tree) :]}")
        if os.path.exists(root):
            shutil.rmtree(root)
        os.rename(tree, root)
        log(f"fetched {pkg} {version} in {time.monotonic() - t0:.1f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _write_manifest(directory, k)
    return k


def _write_manifest(directory: str, k: KernelAssets) -> None:
    path = _manifest_path(directory, k.flavour)
    with open(path + ".tmp", "w") as f:
        f.write(_json.dumps(k.to_manifest(), compact=False) + "\n")
    os.replace(path + ".tmp", path)


def _with_vmlinux(directory: str, k: KernelAssets, want: bool, log: Log) -> KernelAssets:
    if not want or k.vmlinux:
        return k
    out = os.path.join(k.root, "vmlinux")
    try:
        t0 = time.monotonic()
        how = extract_vmlinux(k.vmlinuz, out)
        log(f"extracted vmlinux ({how}) in {time.monotonic() - t0:.1f} s")
    except KernelError as e:  # the bzImage boots too, ~1 s slower under TCG
        log(f"booting the bzImage: {e}")
        return k
    k.vmlinux = out
    _write_manifest(directory, k)
    return k


def _prune(directory: str, keep: str) -> None:
    """Remove extracted kernels no manifest points at."""
    kdir = os.path.join(directory, "kernel")
    used = {keep}
    for flavour in META_PACKAGES:
        k = load_kernel(directory, flavour)
        if k:
            used.add(k.root)
    for name in os.listdir(kdir):
        path = os.path.join(kdir, name)
        if path not in used and not name.startswith("."):
            shutil.rmtree(path, ignore_errors=True)


# -- vmlinux --------------------------------------------------------------------------------

LZ4_LEGACY_MAGIC = 0x184C2102
LZ4_LEGACY_BLOCK = 8 << 20  # the legacy format's block size (uncompressed)


def bzimage_payload(image: bytes) -> bytes:
    """The compressed kernel inside a bzImage (boot protocol >= 2.08 payload_offset/length),
    without the 4-byte decompressed size the build appends."""
    if image[0x202:0x206] != b"HdrS":
        raise KernelError("not a bzImage (no HdrS boot header)")
    if struct.unpack_from("<H", image, 0x206)[0] < 0x208:
        raise KernelError("boot protocol older than 2.08: no payload fields")
    setup_sects = image[0x1F1] or 4
    offset, length = struct.unpack_from("<II", image, 0x248)
    start = (setup_sects + 1) * 512 + offset
    return image[start : start + length - 4]


def lz4_legacy_decompress(data: bytes) -> bytes:
    """Decode the LZ4 legacy frame format the kernel build uses (`lz4 -l`): the magic, then
    blocks of at most 8 MiB each preceded by its compressed size, which lz4.block decodes (the
    frame format of lz4.frame is another one). Trailing bytes that are not a whole block (the
    size the kernel build appends) end the stream."""
    try:
        import lz4.block
    except ImportError:
        raise KernelError("this kernel is LZ4-compressed: the Python package lz4 is needed (pip install lz4)") from None

    if struct.unpack_from("<I", data, 0)[0] != LZ4_LEGACY_MAGIC:
        raise KernelError("not an LZ4 legacy stream")
    view = memoryview(data)
    out = []
    i = 4
    while i + 4 <= len(data):
        size = struct.unpack_from("<I", data, i)[0]
        if size == LZ4_LEGACY_MAGIC:  # concatenated stream
            i += 4
            continue
        if i + 4 + size > len(data):
            break
        try:
            out.append(lz4.block.decompress(view[i + 4 : i + 4 + size], uncompressed_size=LZ4_LEGACY_BLOCK))
        except lz4.block.LZ4BlockError as e:
            raise KernelError(f"corrupt LZ4 block at offset {i}: {e}") from None
        i += 4 + size
    return b"".join(out)


def _decompress(payload: bytes) -> tuple[bytes, str]:
    if payload[:2] == b"\x1f\x8b":
        import zlib

        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(payload), "gzip"
    if payload[:6] == b"\xfd7zXZ\x00":
        import lzma

        return lzma.LZMADecompressor().decompress(payload), "xz"
    if payload[:4] == b"\x28\xb5\x2f\xfd":
        return _tool(["zstd", "-dcq"], payload), "zstd"
    if payload[:4] == struct.pack("<I", LZ4_LEGACY_MAGIC):
        return lz4_legacy_decompress(payload), "lz4"
    raise KernelError(f"unknown kernel compression (payload starts {payload[:6].hex()})")


def _tool(argv: list[str], data: bytes) -> bytes:
    try:
        cp = subprocess.run(argv, input=data, capture_output=True, timeout=120)
    except FileNotFoundError:
        raise KernelError(f"{argv[0]} is needed to decompress this kernel") from None
    if cp.returncode != 0:
        raise KernelError(f"{argv[0]} failed: {cp.stderr.decode(errors='replace').strip()}")
    return cp.stdout


def extract_vmlinux(bzimage: str, out: str) -> str:
    """Write the ELF vmlinux inside `bzimage` to `out`; returns how it was decompressed."""
    with open(bzimage, "rb") as f:
        image = f.read()
    elf, how = _decompress(bzimage_payload(image))
    if elf[:4] != b"\x7fELF":
        raise KernelError(f"the decompressed kernel ({how}) is not an ELF file")
    with open(out + ".tmp", "wb") as f:
        f.write(elf)
    os.replace(out + ".tmp", out)
    return how
