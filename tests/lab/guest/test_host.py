"""The lab guest is the "modern host" it claims to be: systemd as PID 1, booted and running,
cgroup v2 alone, the guest kernel's modules loadable on demand, the clock at the host's rate."""

from __future__ import annotations

import os
import time

from conftest import CG, ok, proc_cgroup, read, sh


def test_systemd_is_pid1_and_running():
    assert read("/proc/1/comm") == "systemd"
    assert os.path.basename(os.readlink("/proc/1/exe")) == "systemd"
    p = sh("systemctl", "is-system-running")
    assert (p.rc, p.out.strip()) == (0, "running"), p
    assert sh("systemctl", "list-units", "--failed", "--plain", "--no-legend").out.strip() == ""


def test_tests_run_in_a_systemd_unit():
    assert proc_cgroup(os.getpid()) == "/system.slice/lab-driver.service"


def test_cgroup_v2_only_with_controllers():
    mounts = [line.split(" - ")[1].split()[0] for line in open("/proc/self/mountinfo") if " - cgroup" in line]
    assert mounts == ["cgroup2"]
    fstype = [line.split(" - ")[1].split()[0] for line in open("/proc/self/mountinfo") if line.split()[4] == CG]
    assert fstype == ["cgroup2"]
    assert {"memory", "cpu", "io", "pids"} <= set(read(f"{CG}/cgroup.controllers").split())
    # systemd delegates them down to its services
    assert {"memory", "pids"} <= set(read(f"{CG}/system.slice/cgroup.controllers").split())


def test_modules_load_on_demand():
    """request_module() runs /proc/sys/kernel/modprobe, the wrapper over the guest kernel's own
    modules: a dummy link and iptables (nf_tables, what netavark needs) load theirs."""
    assert read("/proc/sys/kernel/modprobe") == "/run/lab/modprobe"
    assert not os.path.exists("/sys/module/dummy")
    ok("ip", "link", "add", "labdummy0", "type", "dummy")
    try:
        assert os.path.isdir("/sys/module/dummy")
    finally:
        sh("ip", "link", "del", "labdummy0")
    ok("iptables", "-t", "filter", "-L", "-n")
    assert os.path.isdir("/sys/module/nf_tables")


def _rtc_edge(rtc: str, after: int) -> tuple[int, float]:
    """The RTC's next second after `after`, and CLOCK_MONOTONIC when it was seen."""
    while True:
        s = int(read(rtc))
        if s > after:
            return s, time.monotonic()
        time.sleep(0.005)


def test_clock_runs_at_the_host_rate():
    """qemu's RTC keeps the host's time; the guest's clock (the TSC, at the rate the kernel was
    told) must count the same seconds. At the old fixed 2 GHz the guest ran 1.3x fast here."""
    rtc = "/sys/class/rtc/rtc0/since_epoch"
    s0, _ = _rtc_edge(rtc, int(read(rtc)))
    s1, t1 = _rtc_edge(rtc, s0)
    s2, t2 = _rtc_edge(rtc, s1 + 3)
    ratio = (t2 - t1) / (s2 - s1)
    assert 0.95 < ratio < 1.05, f"guest seconds per host second: {ratio:.3f}"
    # and the wall clock agrees with the RTC it was set from at boot
    assert abs(time.time() - int(read(rtc))) < 2.5
