"""runk.vm.image.initramfs, kmod and guest_init without a VM: the newc writer checked by real cpio
tools, module order from kmod's depmod/modprobe (synthetic ELF files for what .modinfo carries:
soft dependencies, aliases; the real kernel for symbol dependencies, when fetched), the cache,
and the guest's printf framing decoded by runk.vm.wire."""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import struct
import subprocess
import zlib

import pytest

from runk.vm.image import assets, guest_init, initramfs, kmod
from runk.vm.wire import wire

BUSYBOX = shutil.which("busybox")
needs_busybox = pytest.mark.skipif(BUSYBOX is None, reason="needs busybox-static")
needs_kmod = pytest.mark.skipif(
    not (os.access("/sbin/depmod", os.X_OK) or shutil.which("depmod")), reason="needs kmod (depmod, modprobe)"
)


def _archive(with_dev: bool = True) -> bytes:
    w = initramfs.CpioWriter()
    w.dir("etc")
    w.file("etc/hello.txt", b"hello\n")
    w.file("bin/tool", b"#!/bin/sh\necho x\n", 0o755)  # parent bin/ added implicitly
    w.file("empty", b"")
    w.file("odd/len3", b"abc")
    w.symlink("lib", "usr/lib")
    if with_dev:
        w.chardev("dev/console", 5, 1)
    return w.finish()


EXPECTED = ["etc", "etc/hello.txt", "bin", "bin/tool", "empty", "odd", "odd/len3", "lib"]


def test_newc_layout():
    data = _archive()
    assert data.startswith(b"070701") and len(data) % 512 == 0
    assert b"TRAILER!!!\0" in data
    # the header after a 6-byte file is 4-aligned
    assert data.index(b"070701", 1) % 4 == 0


@needs_busybox
def test_busybox_cpio_lists_it(tmp_path):
    (tmp_path / "a.cpio").write_bytes(_archive())
    with open(tmp_path / "a.cpio", "rb") as f:
        out = subprocess.run([BUSYBOX, "cpio", "-t"], stdin=f, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == EXPECTED + ["dev", "dev/console"]


@pytest.mark.skipif(shutil.which("cpio") is None, reason="needs GNU cpio")
def test_gnu_cpio_extracts_it(tmp_path):
    dest = tmp_path / "x"
    dest.mkdir()
    with_dev = os.geteuid() == 0
    out = subprocess.run(["cpio", "-idv"], input=_archive(with_dev), cwd=dest, capture_output=True)
    assert out.returncode == 0, out.stderr
    listed = out.stderr.decode().split()
    assert [n for n in listed if not n.isdigit() and n != "blocks"] == EXPECTED + (
        ["dev", "dev/console"] if with_dev else []
    )
    assert (dest / "etc/hello.txt").read_bytes() == b"hello\n"
    assert (dest / "odd/len3").read_bytes() == b"abc"
    assert (dest / "empty").read_bytes() == b""
    assert stat.S_IMODE((dest / "bin/tool").stat().st_mode) == 0o755
    assert os.readlink(dest / "lib") == "usr/lib"
    if with_dev:
        st = os.lstat(dest / "dev/console")
        assert stat.S_ISCHR(st.st_mode) and (os.major(st.st_rdev), os.minor(st.st_rdev)) == (5, 1)


def test_duplicates_are_refused():
    w = initramfs.CpioWriter()
    w.file("a", b"")
    with pytest.raises(initramfs.InitramfsError, match="duplicate"):
        w.file("a", b"")


@needs_busybox
def test_overlay_appended_to_gzip_lists_both(tmp_path):
    """The per-run archive after the cached gzip one: what the kernel unpacks, in order."""
    base = tmp_path / "base.cpio.gz"
    base.write_bytes(gzip.compress(_archive(), mtime=0))
    out = initramfs.with_overlay(str(base), {"runk/cmd": b"echo hi\n", "runk/stdin": b"in"}, str(tmp_path / "initrd"))
    data = open(out, "rb").read()
    d = zlib.decompressobj(wbits=31)
    assert d.decompress(data) == _archive()  # the gzip member ends; the rest is unused_data
    tail = d.unused_data.lstrip(b"\0")  # the kernel skips the alignment padding too
    assert tail.startswith(b"070701") and (len(data) - len(tail)) % 4 == 0
    listing = subprocess.run([BUSYBOX, "cpio", "-t"], input=tail, capture_output=True)
    assert listing.stdout.decode().split() == ["runk", "runk/cmd", "runk/stdin"]


# -- .modinfo and module order --------------------------------------------------------------


def make_ko(path, modinfo: list[str]) -> None:
    """A minimal ELF64 relocatable file with a .modinfo section, as the kernel build makes."""
    data = b"".join(x.encode() + b"\0" for x in modinfo)
    shstr = b"\0.modinfo\0.shstrtab\0"
    off_mi = 64
    off_ss = off_mi + len(data)
    off_sh = (off_ss + len(shstr) + 7) & ~7
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, off_sh, 0, 64, 0, 0, 64, 3, 2)
    sh = [
        struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        struct.pack("<IIQQQQIIQQ", 1, 1, 2, 0, off_mi, len(data), 0, 0, 1, 0),
        struct.pack("<IIQQQQIIQQ", 10, 3, 0, 0, off_ss, len(shstr), 0, 0, 1, 0),
    ]
    body = ehdr + data + shstr
    body += b"\0" * (off_sh - len(body))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(body + b"".join(sh))


@pytest.fixture
def moddir(tmp_path):
    root = tmp_path / "lib/modules/6.0-test"
    k = root / "kernel"
    make_ko(k / "drivers/a.ko", ["license=GPL", "depends=b,c", "name=a"])
    make_ko(k / "drivers/b.ko", ["depends=c", "name=b"])
    make_ko(k / "drivers/c.ko", ["softdep=pre: crypto-dee missing-alias post: b", "depends=", "name=c"])
    make_ko(k / "crypto/dee-generic.ko", ["alias=crypto-dee", "alias=dee", "depends=", "name=dee_generic"])
    make_ko(k / "fs/f.ko", ["depends=ext4", "name=f"])
    make_ko(k / "x/cyc1.ko", ["depends=cyc2", "name=cyc1"])
    make_ko(k / "x/cyc2.ko", ["depends=cyc1", "name=cyc2"])
    make_ko(k / "x/needs-missing.ko", ["depends=nothere", "name=needs_missing"])
    make_ko(k / "x/builtin-alias-user.ko", ["softdep=pre: crypto-crc32c", "depends=", "name=builtin_alias_user"])
    (root / "modules.builtin").write_text("kernel/fs/ext4/ext4.ko\n")
    (root / "modules.builtin.modinfo").write_bytes(b"crc32c_generic.alias=crypto-crc32c\0crc32c_generic.license=GPL\0")
    return str(root)


def _names(paths: list[str]) -> list[str]:
    return [os.path.basename(p).split(".ko")[0] for p in paths]


@needs_kmod
def test_softdep_through_alias_builtin_and_names(moddir, tmp_path):
    """What kmod takes from .modinfo: soft dependencies through aliases, built-in modules
    (modules.builtin, modules.builtin.modinfo's aliases), - and _ as one."""
    assets_dir = str(tmp_path / "assets")
    got = kmod.resolve(moddir, ["c"], assets_dir)
    # dee_generic comes in through c's softdep alias, before it; its post softdep b after it;
    # the unknown soft alias is skipped
    assert _names(got) == ["dee-generic", "c", "b"]
    assert got[1] == os.path.join(moddir, "kernel/drivers/c.ko")
    assert _names(kmod.resolve(moddir, ["f"], assets_dir)) == ["f"]
    assert kmod.resolve(moddir, ["ext4"], assets_dir) == []  # built in
    assert _names(kmod.resolve(moddir, ["builtin_alias_user"], assets_dir)) == ["builtin-alias-user"]
    assert _names(kmod.resolve(moddir, ["dee_generic", "c", "dee"], assets_dir)) == [
        "dee-generic",
        "c",
        "b",
    ]  # each once, an alias too


@needs_kmod
def test_unknown_module_and_bad_tree(moddir, tmp_path):
    with pytest.raises(kmod.ModuleError, match="nosuchmodule"):
        kmod.resolve(moddir, ["nosuchmodule"], str(tmp_path / "assets"))
    with pytest.raises(kmod.ModuleError, match="lib/modules"):
        kmod.resolve(str(tmp_path), ["c"], str(tmp_path / "assets"))


@needs_kmod
def test_depmod_runs_once_per_tree_and_leaves_it_alone(moddir, tmp_path):
    before = sorted(os.listdir(moddir))
    root = kmod.stage(moddir, str(tmp_path / "assets"))
    index = os.path.join(root, "lib/modules/6.0-test/modules.dep.bin")
    mtime = os.stat(index).st_mtime_ns
    assert kmod.stage(moddir, str(tmp_path / "assets")) == root
    assert os.stat(index).st_mtime_ns == mtime
    assert sorted(os.listdir(moddir)) == before  # the extracted package is not written to
    assert [n for n in os.listdir(os.path.dirname(root)) if n.startswith(".")] == []


def test_parse_show_depends():
    text = "builtin crc32c_generic\ninsmod /r/a.ko \ninsmod /r/b.ko opt=1\ninsmod /r/a.ko \n"
    assert kmod.parse_show_depends(text) == ["/r/a.ko", "/r/b.ko"]


@pytest.fixture(scope="module")
def real_kernel():
    k = assets.load_kernel()
    if k is None:
        pytest.skip("no fetched guest kernel (scripts/mkguest)")
    return k


def _modinfo_depends(k, path: str) -> list[str]:
    cp = subprocess.run(["/sbin/modinfo", "-F", "depends", path], capture_output=True, text=True, check=True)
    return [d for d in cp.stdout.strip().split(",") if d]


@needs_kmod
def test_default_modules_order_on_real_kernel(real_kernel, tmp_path):
    paths = kmod.resolve(real_kernel.modules_dir, initramfs.DEFAULT_MODULES, str(tmp_path))
    order = [kmod.normalize(n) for n in _names(paths)]
    assert set(initramfs.DEFAULT_MODULES) <= set(order)
    for i, path in enumerate(paths):
        for dep in _modinfo_depends(real_kernel, path):
            assert order.index(kmod.normalize(dep)) < i, f"{dep} must load before {path}"
    assert order[0] == "virtio_ring"
    assert {"virtio", "virtio_ring", "fuse"} <= set(_modinfo_depends(real_kernel, paths[order.index("virtiofs")]))


@needs_kmod
def test_softdep_through_alias_on_real_kernel(real_kernel, tmp_path):
    """btrfs: softdep=pre: crypto-crc32c and others, through module aliases."""
    if not os.path.exists(os.path.join(real_kernel.modules_dir, "kernel/fs/btrfs/btrfs.ko")):
        pytest.skip("this kernel has no btrfs module")
    order = _names(kmod.resolve(real_kernel.modules_dir, ["btrfs"], str(tmp_path)))
    assert order[-1] == "btrfs"
    assert "libcrc32c" in order and "raid6_pq" in order


# -- build and cache ------------------------------------------------------------------------


@needs_busybox
@needs_kmod
def test_build_is_cached_and_complete(moddir, tmp_path):
    bb = initramfs.find_busybox()
    cache = str(tmp_path / "assets")
    p1 = initramfs.build_initramfs(moddir, cache, modules=("c",), busybox=bb)
    mtime = os.stat(p1).st_mtime_ns
    p2 = initramfs.build_initramfs(moddir, cache, modules=("c",), busybox=bb)
    assert p1 == p2 and os.stat(p2).st_mtime_ns >= mtime
    p3 = initramfs.build_initramfs(moddir, cache, modules=("b",), busybox=bb)
    assert p3 != p1  # other inputs, other key
    data = gzip.decompress(open(p1, "rb").read())
    names = subprocess.run([BUSYBOX, "cpio", "-t"], input=data, capture_output=True).stdout.split()
    names = [n.decode() for n in names]
    for n in (
        "init",
        "bin/busybox",
        "bin/sh",
        "sbin/insmod",
        "bin/mount",
        "dev/console",
        "lib",
        "lib64",
        "etc/modules.order",
        "modules/c.ko",
        "modules/dee-generic.ko",
        "runk/lib/runk/vm/wire/wire.py",
        "runk/lib/runk/vm/guest/relay.py",
        "runk/lib/runk/_json.py",
    ):
        assert n in names, n
    assert not any(n.startswith("usr/") for n in names)  # /usr is left for the host's
    order = data[data.index(b"etc/modules.order\0") :].split(b"\0", 1)[1].lstrip(b"\0")
    assert order.startswith(b"dee-generic.ko\nc.ko\nb.ko\n")


def test_applets_are_flattened_into_bin_and_sbin():
    if BUSYBOX is None:
        pytest.skip("needs busybox-static")
    applets = initramfs.busybox_applets(initramfs.find_busybox())
    assert "bin/sh" in applets and "sbin/insmod" in applets and "sbin/reboot" in applets
    assert all(a.split("/")[0] in ("bin", "sbin") for a in applets)
    assert len({a.split("/")[1] for a in applets}) == len(applets)


# -- the guest's shell framing, run by the host's busybox ------------------------------------


@needs_busybox
def test_init_shell_framing_decodes(tmp_path):
    payload = bytes(range(256)) * 40 + b"\n"
    (tmp_path / "out").write_bytes(payload)
    (tmp_path / "empty").write_bytes(b"")
    script = guest_init.FRAMING + (
        'exec 3> "$1"\n'
        'json 2 \'{"event":"started","uptime":1.25}\'\n'
        'send_file 4 "$2"\n'
        'send_file 5 "$3"\n'
        "json 6 '{\"exit_code\":3}'\n"
    )
    chan = tmp_path / "chan"
    subprocess.run(
        [BUSYBOX, "sh", "-c", script, "sh", str(chan), str(tmp_path / "out"), str(tmp_path / "empty")], check=True
    )
    frames = wire.decode(chan.read_bytes())
    assert [(f.type, len(f.payload)) for f in frames] == [
        (wire.EVT, 33),
        (wire.STDOUT, len(payload)),
        (wire.STDOUT, 0),
        (wire.STDERR, 0),
        (wire.EXIT, 15),
    ]
    assert frames[0].json() == {"event": "started", "uptime": 1.25}
    assert frames[1].payload == payload
    assert frames[4].json() == {"exit_code": 3}


@needs_busybox
def test_init_shell_framing_splits_large_output(tmp_path):
    big = os.urandom(4 * 1024 * 1024 + 1001)
    (tmp_path / "out").write_bytes(big)
    chan = tmp_path / "chan"
    subprocess.run(
        [
            BUSYBOX,
            "sh",
            "-c",
            guest_init.FRAMING + 'exec 3> "$1"; send_file 4 "$2"',
            "sh",
            str(chan),
            str(tmp_path / "out"),
        ],
        check=True,
    )
    frames = wire.decode(chan.read_bytes())
    assert [len(f.payload) for f in frames] == [4 * 1024 * 1024, 1001, 0]
    assert b"".join(f.payload for f in frames) == big


def test_init_script_is_ash_syntax(tmp_path):
    if BUSYBOX is None:
        pytest.skip("needs busybox-static")
    (tmp_path / "init").write_text(guest_init.INIT)
    r = subprocess.run([BUSYBOX, "sh", "-n", str(tmp_path / "init")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
