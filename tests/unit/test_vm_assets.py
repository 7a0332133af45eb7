"""runk.vm.image.assets without the network: apt output parsing, the bzImage payload, the LZ4
legacy-stream decoder (against the lz4 tool), the manifest, and the real cached kernel when present."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess

import pytest

from runk.vm.image import assets

POLICY = """linux-image-cloud-amd64:
  Installed: (none)
  Candidate: 6.1.192-2
  Version table:
     6.1.192-2 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
"""
SHOW = """Package: linux-image-cloud-amd64
Version: 6.1.192-2
Depends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)
Description: Linux for x86-64 cloud (meta-package)

Package: linux-image-cloud-amd64
Version: 6.1.176-1
Depends: linux-image-6.1.0-50-cloud-amd64 (= 6.1.176-1)
"""


def test_parse_policy_candidate():
    assert assets.parse_policy_candidate(POLICY) == "6.1.192-2"
    assert assets.parse_policy_candidate("x:\n  Installed: (none)\n  Candidate: (none)\n") is None


def test_parse_image_depends_first_stanza():
    assert assets.parse_image_depends(SHOW) == ("linux-image-6.1.0-56-cloud-amd64", "6.1.192-2")
    assert assets.parse_image_depends("Depends: foo, linux-image-6.1.0-9-amd64 | bar\n") == (
        "linux-image-6.1.0-9-amd64",
        None,
    )
    with pytest.raises(assets.KernelError):
        assets.parse_image_depends("Depends: foo\n")


def test_assets_dir_env():
    assert assets.assets_dir({"RUNK_VM_ASSETS": "/x/y"}) == "/x/y"
    if os.geteuid() == 0:
        assert assets.assets_dir({}) == "/var/cache/runk/vm"


def _fake_bzimage(payload: bytes) -> bytes:
    setup_sects = 3
    img = bytearray((setup_sects + 1) * 512)
    img[0x1F1] = setup_sects
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, 0x20F)
    struct.pack_into("<II", img, 0x248, 100, len(payload) + 4)
    return bytes(img) + b"\0" * 100 + payload + struct.pack("<I", 12345)


def test_bzimage_payload():
    assert assets.bzimage_payload(_fake_bzimage(b"PAYLOAD")) == b"PAYLOAD"
    with pytest.raises(assets.KernelError, match="HdrS"):
        assets.bzimage_payload(b"\0" * 4096)


def test_extract_vmlinux_gzip(tmp_path):
    import gzip

    elf = b"\x7fELF" + os.urandom(1000)
    (tmp_path / "bz").write_bytes(_fake_bzimage(gzip.compress(elf)))
    assert assets.extract_vmlinux(str(tmp_path / "bz"), str(tmp_path / "vmlinux")) == "gzip"
    assert (tmp_path / "vmlinux").read_bytes() == elf
    (tmp_path / "bz2").write_bytes(_fake_bzimage(gzip.compress(b"not elf")))
    with pytest.raises(assets.KernelError, match="not an ELF"):
        assets.extract_vmlinux(str(tmp_path / "bz2"), str(tmp_path / "v2"))


@pytest.mark.skipif(shutil.which("lz4") is None, reason="needs the lz4 tool to make test data")
def test_lz4_legacy_decoder_matches_tool():
    # repetitive (long overlapping matches), random (literal runs) and mixed; 3 legacy blocks
    data = b"abc" * 50000 + os.urandom(300000) + bytes(range(256)) * 9000 + b"\0" * 9_000_000
    packed = subprocess.run(["lz4", "-l", "-c9"], input=data, capture_output=True, check=True).stdout
    assert struct.unpack_from("<I", packed)[0] == assets.LZ4_LEGACY_MAGIC
    assert assets.lz4_legacy_decompress(packed + struct.pack("<I", len(data))) == data


def test_extract_vmlinux_lz4_and_corrupt_block(tmp_path):
    import lz4.block

    elf = b"\x7fELF" + b"kernel" * 5000
    block = lz4.block.compress(elf, store_size=False)
    stream = struct.pack("<II", assets.LZ4_LEGACY_MAGIC, len(block)) + block
    (tmp_path / "bz").write_bytes(_fake_bzimage(stream + struct.pack("<I", len(elf))))
    assert assets.extract_vmlinux(str(tmp_path / "bz"), str(tmp_path / "vmlinux")) == "lz4"
    assert (tmp_path / "vmlinux").read_bytes() == elf
    bad = struct.pack("<II", assets.LZ4_LEGACY_MAGIC, 8) + b"\xff" * 8
    with pytest.raises(assets.KernelError, match="corrupt LZ4 block"):
        assets.lz4_legacy_decompress(bad)


def test_scripts_mkguest_runs_in_the_checkouts_venv(tmp_path):
    """scripts/mkguest starts under the system's python3 -S (its shebang), where PyPI's lz4 is
    not importable: it runs itself again in the checkout's venv (a fresh machine's setup said
    "no micro-VM guest" with a ModuleNotFoundError). Without lz4 at all, the kernel's LZ4
    payload is a KernelError naming the package, never a traceback."""
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    venv = os.path.join(root, ".venv", "bin", "python")
    if not os.access(venv, os.X_OK):
        pytest.skip("no .venv in this checkout (scripts/setup makes it)")
    probe = (
        "import runpy, sys; sys.argv = ['mkguest', '--probe']; "
        "import os; os.execv = lambda p, a: print('execv', p, *a[2:]) or sys.exit(0); "
        f"runpy.run_path({os.path.join(root, 'scripts', 'mkguest')!r})"
    )
    out = subprocess.run(["/usr/bin/python3", "-S", "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["execv", venv, "--probe"]
    stream = struct.pack("<II", assets.LZ4_LEGACY_MAGIC, 8) + b"\0" * 8
    blocked = dict.fromkeys(["lz4", "lz4.block"])
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "lz4" or k.startswith("lz4.")}
    sys.modules.update(blocked)  # None: "import lz4.block" raises ImportError
    try:
        with pytest.raises(assets.KernelError, match="the Python package lz4 is needed"):
            assets.lz4_legacy_decompress(stream)
    finally:
        for k in blocked:
            del sys.modules[k]
        sys.modules.update(saved)


def test_manifest_roundtrip(tmp_path):
    root = tmp_path / "kernel/6.1.0-1-cloud-amd64_6.1.1-1"
    (root / "boot").mkdir(parents=True)
    (root / "boot/vmlinuz-6.1.0-1-cloud-amd64").write_bytes(b"bz")
    (root / "lib/modules/6.1.0-1-cloud-amd64").mkdir(parents=True)
    k = assets.KernelAssets(
        "cloud", "linux-image-6.1.0-1-cloud-amd64", "6.1.1-1", "6.1.0-1-cloud-amd64", str(root), None
    )
    assets._write_manifest(str(tmp_path), k)
    got = assets.load_kernel(str(tmp_path))
    assert (got.package, got.version, got.release, got.boot_image) == (k.package, k.version, k.release, k.vmlinuz)
    # a kernel whose files went missing is no kernel
    os.unlink(root / "boot/vmlinuz-6.1.0-1-cloud-amd64")
    assert assets.load_kernel(str(tmp_path)) is None
    assert assets.load_kernel(str(tmp_path / "nowhere")) is None


def test_cached_kernel_is_consistent():
    k = assets.load_kernel()
    if k is None:
        pytest.skip("no fetched guest kernel (scripts/mkguest)")
    assert k.package == f"linux-image-{k.release}"
    assert os.path.isfile(os.path.join(k.modules_dir, "modules.builtin"))
    if k.vmlinux:
        with open(k.vmlinux, "rb") as f:
            assert f.read(4) == b"\x7fELF"
