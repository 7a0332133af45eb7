"""runk.vm.host.qemu without a VM: the accelerator decision on a fake /sys and /dev, the qemu argv
for microvm/q35 and kvm/tcg, the kernel command line, virtiofsd lookup and argv; harness share
plans."""

from __future__ import annotations

import errno
import os

import pytest

from runk.vm import testing
from runk.vm.host import qemu


def fake_root(tmp_path, kvm: bool = True, pvm: bool = False) -> str:
    if kvm:
        (tmp_path / "dev").mkdir()
        (tmp_path / "dev/kvm").write_text("")
    if pvm:
        (tmp_path / "sys/module/kvm_pvm").mkdir(parents=True)
    return str(tmp_path)


def test_accel_kvm_when_real(tmp_path):
    root = fake_root(tmp_path)
    seen = []
    accel, why = qemu.choose_accel(root, env={}, api_version=lambda dev: seen.append(dev) or 12)
    assert accel == "kvm" and "12" in why
    assert seen == [os.path.join(root, "dev/kvm")]


def test_accel_tcg_under_kvm_pvm(tmp_path):
    accel, why = qemu.choose_accel(fake_root(tmp_path, pvm=True), env={}, api_version=lambda d: 12)
    assert accel == "tcg" and "kvm_pvm" in why


def test_accel_tcg_without_dev_kvm(tmp_path):
    accel, why = qemu.choose_accel(fake_root(tmp_path, kvm=False), env={})
    assert accel == "tcg" and "absent" in why


def test_accel_tcg_when_ioctl_fails(tmp_path):
    def fails(dev):
        raise OSError(errno.ENOTTY, "Inappropriate ioctl for device")

    root = fake_root(tmp_path)
    accel, why = qemu.choose_accel(root, env={}, api_version=fails)
    assert accel == "tcg" and "KVM_GET_API_VERSION" in why
    # the real ioctl on a plain file fails the same way
    accel, why = qemu.choose_accel(root, env={})
    assert accel == "tcg" and "KVM_GET_API_VERSION" in why


def test_accel_tcg_on_wrong_api_version(tmp_path):
    accel, why = qemu.choose_accel(fake_root(tmp_path), env={}, api_version=lambda d: 11)
    assert accel == "tcg" and "11" in why


@pytest.mark.parametrize("forced", ["kvm", "tcg"])
def test_accel_forced_by_env(tmp_path, forced):
    root = fake_root(tmp_path, kvm=forced == "tcg", pvm=True)
    accel, why = qemu.choose_accel(root, env={"RUNK_VM_ACCEL": forced})
    assert accel == forced and "RUNK_VM_ACCEL" in why


def test_accel_bad_env(tmp_path):
    with pytest.raises(ValueError, match="RUNK_VM_ACCEL"):
        qemu.choose_accel(str(tmp_path), env={"RUNK_VM_ACCEL": "hvf"})


def _argv(**kw) -> list[str]:
    base = {
        "kernel": "/k/vmlinux",
        "initrd": "/k/initrd.gz",
        "append": "console=ttyS0",
        "agent_socket": "/w/agent.sock",
    }
    base.update(kw)
    return qemu.build_argv(**base)


def _opt(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_argv_microvm_tcg_with_shares():
    argv = _argv(shares=[("rootfs", "/w/rootfs.sock"), ("hostusr", "/w/usr.sock")], console="/w/console.log")
    assert argv[:5] == ["qemu-system-x86_64", "-M", "microvm", "-accel", "tcg"]
    assert "-cpu" not in argv
    assert _opt(argv, "-m") == ["256M"] and _opt(argv, "-smp") == ["1"]
    for flag in ("-nodefaults", "-no-user-config", "-no-reboot"):
        assert flag in argv
    assert _opt(argv, "-serial") == ["file:/w/console.log"]
    assert _opt(argv, "-kernel") == ["/k/vmlinux"] and _opt(argv, "-initrd") == ["/k/initrd.gz"]
    assert _opt(argv, "-device") == [
        "virtio-serial-device,id=vs",
        "virtserialport,bus=vs.0,chardev=agent,name=runk.agent",
        "virtio-balloon-device,free-page-reporting=on,deflate-on-oom=on",
        "vhost-user-fs-device,chardev=fs0,tag=rootfs",
        "vhost-user-fs-device,chardev=fs1,tag=hostusr",
    ]
    assert _opt(argv, "-chardev") == [
        "socket,id=agent,path=/w/agent.sock",
        "socket,id=fs0,path=/w/rootfs.sock",
        "socket,id=fs1,path=/w/usr.sock",
    ]
    assert _opt(argv, "-global") == ["virtio-mmio.force-legacy=false"]
    assert _opt(argv, "-object") == ["memory-backend-memfd,id=mem,size=256M,share=on"]
    assert _opt(argv, "-machine") == ["memory-backend=mem"]


def test_argv_q35_kvm_pci_names():
    argv = _argv(machine="q35", accel="kvm", mem="512M", shares=[("x", "/w/x.sock")])
    assert argv[1:6] == ["-M", "q35", "-accel", "kvm", "-cpu"] and argv[6] == "host"
    assert _opt(argv, "-device") == [
        "virtio-serial-pci,id=vs",
        "virtserialport,bus=vs.0,chardev=agent,name=runk.agent",
        "virtio-balloon-pci,free-page-reporting=on,deflate-on-oom=on",
        "vhost-user-fs-pci,chardev=fs0,tag=x",
    ]
    assert _opt(argv, "-global") == []  # no virtio-mmio on q35
    assert _opt(argv, "-object") == ["memory-backend-memfd,id=mem,size=512M,share=on"]
    assert _opt(argv, "-serial") == ["stdio"]


def test_argv_without_shares_has_no_shared_memory():
    argv = _argv()
    assert "-object" not in argv and "-global" not in argv


def test_argv_rejects_unknown_machine_and_accel():
    with pytest.raises(ValueError):
        _argv(machine="pc")
    with pytest.raises(ValueError):
        _argv(accel="hvf")


def test_kernel_cmdline():
    tcg = qemu.kernel_cmdline("tcg", "runk.relay=sh", "", "cgroup_no_v1=all")
    khz = qemu.host_tsc_khz()
    assert tcg == (
        "console=ttyS0 quiet reboot=t panic=-1 mitigations=off "
        f"tsc_early_khz={khz} lpj={khz * 1000 // 250} tsc=reliable runk.relay=sh "
        "cgroup_no_v1=all"
    )
    assert "tsc_early_khz" not in qemu.kernel_cmdline("kvm")
    with pytest.raises(ValueError, match="2047"):
        qemu.kernel_cmdline("tcg", "x" * 2100)


def test_virtiofsd_lookup(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    b.write_text("#!/bin/sh\n")
    b.chmod(0o755)
    assert qemu.virtiofsd_binary((str(a), str(b))) == str(b)
    a.write_text("#!/bin/sh\n")
    a.chmod(0o755)
    assert qemu.virtiofsd_binary((str(a), str(b))) == str(a)


def test_virtiofsd_argv_c_and_rust():
    assert qemu.virtiofsd_argv("/usr/lib/qemu/virtiofsd", "/srv", fd=5) == [
        "/usr/lib/qemu/virtiofsd",
        "--fd=5",
        "-o",
        "source=/srv",
        "-o",
        "cache=auto",
        "-o",
        "sandbox=chroot",
    ]
    assert qemu.virtiofsd_argv("/usr/libexec/virtiofsd", "/usr", socket_path="/w/s", cache="none", flavour="rust") == [
        "/usr/libexec/virtiofsd",
        "--socket-path=/w/s",
        "--shared-dir=/usr",
        "--cache=never",
        "--sandbox=chroot",
    ]
    with pytest.raises(ValueError):
        qemu.virtiofsd_argv("v", "/srv")


@pytest.mark.skipif(not os.access("/usr/lib/qemu/virtiofsd", os.X_OK), reason="no C virtiofsd")
def test_virtiofsd_flavour_of_bookworms():
    assert qemu.virtiofsd_flavour("/usr/lib/qemu/virtiofsd") == "c"


@pytest.mark.skipif(qemu.qemu_binary() is None, reason="needs qemu-system-x86")
def test_pick_machine_prefers_microvm():
    q = qemu.qemu_binary()
    assert {"microvm", "q35"} <= qemu.supported_machines(q)
    assert qemu.pick_machine(q) == "microvm"
    assert qemu.pick_machine(q, "q35") == "q35"


def test_share_plan(tmp_path):
    (tmp_path / "a/b").mkdir(parents=True)
    plan = testing._plan_shares(
        {"deep": str(tmp_path / "a/b"), "hostusr": "/usr", "top": testing.Share(str(tmp_path / "a"), guest="/srv/a")}
    )
    assert [s.tag for s in plan] == ["hostusr", "top", "deep"]  # parents mount first
    usr = next(s for s in plan if s.tag == "hostusr")
    assert usr.readonly and usr.guest == "/usr"
    deep = next(s for s in plan if s.tag == "deep")
    assert not deep.readonly and deep.guest == str(tmp_path / "a/b")


@pytest.mark.parametrize(
    "shares", [{"bad tag": "/usr"}, {"x" * 37: "/usr"}, {"ok": "/nonexistent-dir"}, {"ok": "/tmp/a,b"}]
)
def test_share_plan_rejects(shares):
    with pytest.raises(ValueError):
        testing._plan_shares(shares)


def _cpuinfo(tmp_path, flags: str, mhz: str = "2245.780", name: str = "AMD EPYC") -> str:
    cpu = f"processor\t: {{n}}\nmodel name\t: {name}\ncpu MHz\t\t: {mhz}\nflags\t\t: fpu {flags}\n"
    p = tmp_path / "cpuinfo"
    p.write_text(cpu.format(n=0) + "\n" + cpu.format(n=1).replace(mhz, "999.000") + "\n")
    return str(p)


def test_host_tsc_khz_sources_in_order(tmp_path):
    none = str(tmp_path / "absent")
    sysfs = tmp_path / "tsc_freq_khz"
    sysfs.write_text("2600123\n")
    info = _cpuinfo(tmp_path, "tsc constant_tsc")
    # the kernel's tsc_khz wins
    assert qemu.host_tsc_khz(info, str(sysfs), none) == 2600123
    # else cpu MHz of the first processor, when it is cpu_khz (no APERF/MPERF, no cpufreq)
    assert qemu.host_tsc_khz(info, none, none) == 2245780
    # with a cpufreq driver or APERF/MPERF, cpu MHz is the current clock: the nominal one
    intel = _cpuinfo(tmp_path, "tsc aperfmperf", mhz="1200.000", name="Intel(R) Xeon(R) Gold 6240 CPU @ 2.60GHz")
    assert qemu.host_tsc_khz(intel, none, none) == 2600000
    intel = _cpuinfo(tmp_path, "tsc", mhz="1200.000", name="Intel(R) Xeon(R) Gold 6240 CPU @ 2.60GHz")
    assert qemu.host_tsc_khz(intel, none, str(tmp_path)) == 2600000
    # no nominal frequency in the name: cpu MHz as it is
    assert qemu.host_tsc_khz(_cpuinfo(tmp_path, "tsc aperfmperf", mhz="3100.5"), none, none) == 3100500
    # no TSC (or no cpuinfo): qemu's ticks are nanoseconds
    assert qemu.host_tsc_khz(_cpuinfo(tmp_path, "vme"), none, none) == 1_000_000
    assert qemu.host_tsc_khz(none, none, none) == 1_000_000


def test_host_tsc_khz_of_this_host_matches_the_kernel():
    """Against the kernel's own calibration where it is readable (sysfs), else its "cpu MHz"."""
    khz = qemu.host_tsc_khz()
    assert 100_000 < khz < 10_000_000
    with open("/proc/cpuinfo") as f:
        mhz = float(next(ln for ln in f if ln.startswith("cpu MHz")).split(":")[1])
    assert abs(khz - mhz * 1000) / khz < 0.2, (khz, mhz)
    assert f"tsc_early_khz={khz} " in qemu.kernel_cmdline("tcg")
