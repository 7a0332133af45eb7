"""QEMU and virtiofsd command lines, and the accelerator decision (what a feasibility probe
measured on this machine type).

Pure functions over explicit inputs so that the unit tests can check every shape without a VM:
the accelerator probe takes the root of a (fake) file system, the argv builders take paths.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

QEMU = "qemu-system-x86_64"
KVM_GET_API_VERSION = 0xAE00  # _IO(KVMIO=0xAE, 0x00)
KVM_API_VERSION = 12
# microvm has no HPET or PM timer: without tsc_early_khz the kernel hangs calibrating the TSC
# under TCG, and believes it (no refinement against another clock): see host_tsc_khz
TCG_TIMER_ARGS = "tsc_early_khz={khz} lpj={lpj} tsc=reliable"
GUEST_HZ = 250  # CONFIG_HZ of Debian's kernels: lpj (TSC cycles per jiffy) = kHz * 1000 / HZ
TSC_FREQ_SYSFS = "/sys/devices/system/cpu/cpu0/tsc_freq_khz"
CPUFREQ_SYSFS = "/sys/devices/system/cpu/cpu0/cpufreq"
NON_X86_TICKS_KHZ = 1_000_000  # qemu's host ticks where the host has no TSC: nanoseconds
BASE_KERNEL_ARGS = "console=ttyS0 quiet reboot=t panic=-1 mitigations=off"
VIRTIOFSD_PATHS = ("/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd")
MACHINES = ("microvm", "q35")

# device names per machine type: virtio-mmio on microvm, PCI on q35
DEVICES = {
    "microvm": {
        "serial": "virtio-serial-device",
        "fs": "vhost-user-fs-device",
        "blk": "virtio-blk-device",
        "net": "virtio-net-device",
        "balloon": "virtio-balloon-device",
    },
    "q35": {
        "serial": "virtio-serial-pci",
        "fs": "vhost-user-fs-pci",
        "blk": "virtio-blk-pci",
        "net": "virtio-net-pci",
        "balloon": "virtio-balloon-pci",
    },
}
# free page reporting: the guest hands free 2 MiB blocks back and qemu discards them (a hole
# punched in the memfd backend), so memory the guest touched once (the unpacked initramfs, a
# finished build) stops costing the host; deflate-on-oom: the balloon never takes what the
# guest needs (it is never inflated by runk)
BALLOON_OPTS = "free-page-reporting=on,deflate-on-oom=on"


def _kvm_api_version(dev: str) -> int:
    import fcntl

    fd = os.open(dev, os.O_RDWR | os.O_CLOEXEC)
    try:
        return fcntl.ioctl(fd, KVM_GET_API_VERSION)
    finally:
        os.close(fd)


def choose_accel(
    root: str = "/", env: Mapping[str, str] | None = None, api_version: Callable[[str], int] | None = None
) -> tuple[str, str]:
    """("kvm" | "tcg", reason). KVM only when /dev/kvm answers KVM_GET_API_VERSION == 12 and it
    is not kvm_pvm, whose nested "pagetable VM" cannot run stock kernels (VM.md). RUNK_VM_ACCEL
    forces either. `root` and `api_version` (a callable taking the device path) are for tests."""
    env = os.environ if env is None else env
    forced = env.get("RUNK_VM_ACCEL", "")
    if forced in ("kvm", "tcg"):
        return forced, f"forced by RUNK_VM_ACCEL={forced}"
    if forced:
        raise ValueError(f"RUNK_VM_ACCEL={forced!r}: expected kvm or tcg")
    dev = os.path.join(root, "dev/kvm")
    if not os.path.exists(dev):
        return "tcg", "tcg: /dev/kvm is absent"
    try:
        version = (api_version or _kvm_api_version)(dev)
    except OSError as e:
        return "tcg", f"tcg: /dev/kvm does not answer KVM_GET_API_VERSION ({e.strerror or e})"
    if version != KVM_API_VERSION:
        return "tcg", f"tcg: /dev/kvm reports KVM API version {version}, not {KVM_API_VERSION}"
    if os.path.exists(os.path.join(root, "sys/module/kvm_pvm")):
        return "tcg", ("tcg: /dev/kvm is kvm_pvm (nested PVM), which cannot run an unmodified guest kernel")
    return "kvm", "kvm: /dev/kvm answers KVM API version 12 and is not kvm_pvm"


def host_tsc_khz(
    cpuinfo: str = "/proc/cpuinfo", tsc_sysfs: str = TSC_FREQ_SYSFS, cpufreq_sysfs: str = CPUFREQ_SYSFS
) -> int:
    """The host's TSC frequency in kHz, which is the rate of a TCG guest's TSC (qemu reads the
    host's TSC for it), so the guest's clock keeps the host's time when told this rate.

    In order of accuracy: the kernel's own tsc_khz where it exposes it (tsc_freq_khz); else
    /proc/cpuinfo's "cpu MHz" when it is the boot-time cpu_khz (no APERF/MPERF and no cpufreq
    driver: then it is the current, varying frequency), which is what the kernel calibrated the
    TSC from (on this machine type it equals the rate of rdtsc against CLOCK_MONOTONIC_RAW to
    the kHz); else the "@ N.NNGHz" of the model name (Intel's nominal frequency, which its
    invariant TSC runs at); else "cpu MHz" as it is. A host without a TSC (not x86): qemu counts
    nanoseconds."""
    try:
        with open(tsc_sysfs) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        pass
    try:
        with open(cpuinfo) as f:
            fields = _cpu0_fields(f.read())
    except OSError:
        return NON_X86_TICKS_KHZ
    flags = fields.get("flags", "").split()
    if "tsc" not in flags:
        return NON_X86_TICKS_KHZ
    mhz = _float(fields.get("cpu MHz"))
    if mhz and "aperfmperf" not in flags and not os.path.isdir(cpufreq_sysfs):
        return round(mhz * 1000)
    name = fields.get("model name", "")
    if name.endswith("GHz") and "@" in name:
        ghz = _float(name.rsplit("@", 1)[1].strip()[:-3])
        if ghz:
            return round(ghz * 1_000_000)
    return round(mhz * 1000) if mhz else NON_X86_TICKS_KHZ


def _cpu0_fields(text: str) -> dict[str, str]:
    """The "key : value" lines of the first processor in /proc/cpuinfo."""
    fields: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def accel_kernel_args(accel: str) -> str:
    """The kernel options an accelerator needs: under TCG the TSC rate (host_tsc_khz) and
    loops-per-jiffy to match, so that the guest neither calibrates nor runs fast or slow."""
    if accel != "tcg":
        return ""
    khz = host_tsc_khz()
    return TCG_TIMER_ARGS.format(khz=khz, lpj=khz * 1000 // GUEST_HZ)


def qemu_binary() -> str | None:
    import shutil

    return shutil.which(QEMU)


_machines_cache: dict[str, frozenset[str]] = {}


def supported_machines(qemu: str) -> frozenset[str]:
    """Machine type names this qemu accepts (`-machine help`), cached per binary."""
    if qemu not in _machines_cache:
        import subprocess

        cp = subprocess.run([qemu, "-machine", "help"], capture_output=True, text=True, timeout=30)
        names = set()
        for line in cp.stdout.splitlines()[1:]:
            if line.strip():
                names.add(line.split()[0])
        _machines_cache[qemu] = frozenset(names)
    return _machines_cache[qemu]


def pick_machine(qemu: str, preferred: str = "microvm") -> str:
    """microvm when this qemu has it, else q35 (same devices on PCI)."""
    machines = supported_machines(qemu)
    for m in (preferred, *MACHINES):
        if m in machines:
            return m
    raise RuntimeError(f"{qemu} supports neither microvm nor q35")


def build_argv(
    *,
    kernel: str,
    initrd: str,
    append: str,
    agent_socket: str,
    shares: Sequence[tuple[str, str]] = (),
    machine: str = "microvm",
    accel: str = "tcg",
    mem: str = "256M",
    smp: int = 1,
    console: str | None = None,
    qemu: str = QEMU,
    drives: Sequence[str] = (),
    nics: Sequence[tuple[str, str]] = (),
    volumes: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """The qemu argv of VM.md's recommended configuration.

    `append` is the whole kernel command line (see kernel_cmdline). `agent_socket` is a unix
    socket the host already listens on; qemu connects to it as a client, so no output is lost.
    `shares` are (tag, vhost-user socket of its virtiofsd). `console` is a file for the serial
    console (None: qemu's stdout). `drives` are raw disk images, /dev/vda, /dev/vdb, ... in the
    guest."""
    if machine not in DEVICES:
        raise ValueError(f"machine {machine!r}: expected one of {', '.join(DEVICES)}")
    if accel not in ("kvm", "tcg"):
        raise ValueError(f"accel {accel!r}: expected kvm or tcg")
    dev = DEVICES[machine]
    argv = [qemu, "-M", machine, "-accel", accel]
    if accel == "kvm":
        argv += ["-cpu", "host"]
    argv += [
        "-m",
        mem,
        "-smp",
        str(smp),
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-serial",
        f"file:{console}" if console else "stdio",
        "-no-reboot",
        "-kernel",
        kernel,
        "-initrd",
        initrd,
        "-append",
        append,
        "-chardev",
        f"socket,id=agent,path={agent_socket}",
        "-device",
        f"{dev['serial']},id=vs",
        "-device",
        "virtserialport,bus=vs.0,chardev=agent,name=runk.agent",
        "-device",
        f"{dev['balloon']},{BALLOON_OPTS}",
    ]
    if shares:
        if machine == "microvm":
            # libvhost-user refuses legacy virtio, which microvm's virtio-mmio defaults to
            argv += ["-global", "virtio-mmio.force-legacy=false"]
        # vhost-user needs guest memory the daemon can map
        argv += ["-object", f"memory-backend-memfd,id=mem,size={mem},share=on", "-machine", "memory-backend=mem"]
        for i, (tag, sock) in enumerate(shares):
            argv += ["-chardev", f"socket,id=fs{i},path={sock}", "-device", f"{dev['fs']},chardev=fs{i},tag={tag}"]
    disks = [(f"blk{i}", image, ",cache=unsafe", "") for i, image in enumerate(drives)]
    disks += [(f"vol{i}", path, "", f",serial={serial}") for i, (path, serial) in enumerate(volumes)]
    for drive_id, path, drive_opts, device_opts in disks:
        argv += [
            "-drive",
            f"file={path.replace(',', ',,')},if=none,id={drive_id},format=raw{drive_opts}",
            "-device",
            f"{dev['blk']},drive={drive_id}{device_opts}",
        ]
    for i, (tap, mac) in enumerate(nics):
        argv += [
            "-netdev",
            f"tap,id=net{i},ifname={tap},script=no,downscript=no",
            "-device",
            f"{dev['net']},netdev=net{i},mac={mac}",
        ]
    return argv


def kernel_cmdline(accel: str, *extra: str) -> str:
    """console, quiet, reboot-exits-qemu, the accelerator's timer options, then `extra`."""
    parts = [BASE_KERNEL_ARGS, accel_kernel_args(accel), *extra]
    line = " ".join(p for p in parts if p)
    if len(line) >= 2048:  # COMMAND_LINE_SIZE on x86
        raise ValueError(f"kernel command line of {len(line)} bytes exceeds 2047")
    return line


def virtiofsd_binary(candidates: tuple[str, ...] = VIRTIOFSD_PATHS) -> str | None:
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    import shutil

    return shutil.which("virtiofsd")


_flavour_cache: dict[str, str] = {}


def virtiofsd_flavour(binary: str) -> str:
    """ "c" (QEMU's virtiofsd, `-o source=`) or "rust" (the virtiofsd project, `--shared-dir`)."""
    if binary not in _flavour_cache:
        import subprocess

        cp = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
        _flavour_cache[binary] = "rust" if "--shared-dir" in cp.stdout + cp.stderr else "c"
    return _flavour_cache[binary]


def virtiofsd_argv(
    binary: str,
    source: str,
    *,
    fd: int | None = None,
    socket_path: str | None = None,
    cache: str = "auto",
    flavour: str = "c",
    sandbox: str = "chroot",
) -> list[str]:
    """One virtiofsd serving `source`, on an inherited listening socket `fd` or at socket_path."""
    if (fd is None) == (socket_path is None):
        raise ValueError("give exactly one of fd and socket_path")
    where = f"--fd={fd}" if fd is not None else f"--socket-path={socket_path}"
    if flavour == "rust":
        cache = "never" if cache == "none" else cache
        return [binary, where, f"--shared-dir={source}", f"--cache={cache}", f"--sandbox={sandbox}"]
    return [binary, where, "-o", f"source={source}", "-o", f"cache={cache}", "-o", f"sandbox={sandbox}"]
