"""The guest harness on real micro-VMs (TCG on this machine type: a few seconds a boot).

Three boots: the busybox relay (guest kernel, exit status, separate stdout/stderr, stdin), the
cgroup v2 guest (cgroup_no_v1=all: controllers and a real OOM kill under memory.max), and the
python relay (a signal death, a large streamed output, a script longer than the kernel command
line).
"""

from __future__ import annotations

import pytest

from runk.vm import testing
from runk.vm.host import qemu
from runk.vm.image import assets

pytestmark = pytest.mark.vm


def test_busybox_relay_kernel_exit_code_streams(guest):
    r = guest.run("uname -r; cat; echo to-stderr >&2; exit 3", stdin=b"from-stdin\n", timeout=120)
    manifest = assets.load_kernel(guest.dir)
    assert r.rc == 3, r
    assert r.stdout == f"{manifest.release}\nfrom-stdin\n", r
    assert r.stderr == "to-stderr\n", r
    assert r.relay == "sh" and r.signal is None
    assert r.boot_seconds is not None and r.boot_seconds < r.seconds
    assert "reboot: Restarting system" in r.console_log  # it powered off by itself
    print(
        f"\nsh relay: command started {r.boot_seconds:.2f} s after qemu (guest uptime "
        f"{r.guest_uptime} s), whole run {r.seconds:.2f} s, qemu peak RSS "
        f"{r.qemu_rss_kb >> 10} MB"
    )


CGROUP_V2 = r"""
import os
import runk  # runk's own code, from the shared checkout, cffi bindings included
from runk._native import lib
cg = "/sys/fs/cgroup"
mounts = [l.split(" - ")[1].split()[0] for l in open("/proc/self/mountinfo")
          if " - cgroup" in l]
print("mounts", *mounts)
print("controllers", open(cg + "/cgroup.controllers").read().strip())
with open(cg + "/cgroup.subtree_control", "w") as f:
    f.write("+memory +pids")
g = cg + "/runk-oom"
os.mkdir(g)
with open(g + "/memory.max", "w") as f:
    f.write(str(32 << 20))
with open(g + "/memory.swap.max", "w") as f:
    f.write("0")
pid = os.fork()
if pid == 0:
    with open(g + "/cgroup.procs", "w") as f:
        f.write("0")
    hog = b"x" * (128 << 20)  # touched memory, 4x the limit
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("child", "signal", os.WTERMSIG(status) if os.WIFSIGNALED(status) else None)
events = dict(l.split() for l in open(g + "/memory.events"))
print("oom_kill", events["oom_kill"])
print("memory.max", open(g + "/memory.max").read().strip())
rc = lib.sethostname(b"runk-guest", 10)
print("runk", runk.__version__, rc, os.uname().nodename)
"""


def test_cgroup_v2_guest_enforces_memory_max(guest, guest_shares):
    r = guest.run_python(CGROUP_V2, kernel_args="cgroup_no_v1=all", timeout=120)
    assert r.rc == 0, r
    lines = dict(l.split(" ", 1) for l in r.stdout.splitlines())
    assert lines["mounts"] == "cgroup2", r.stdout
    assert {"memory", "cpu", "io", "pids"} <= set(lines["controllers"].split())
    assert lines["child"] == "signal 9", r.stdout  # OOM-killed inside the guest
    assert int(lines["oom_kill"]) >= 1
    assert lines["memory.max"] == str(32 << 20)
    import runk

    assert lines["runk"] == f"{runk.__version__} 0 runk-guest"
    assert r.relay == "python"
    print(
        f"\npython relay: command started {r.boot_seconds:.2f} s after qemu, whole run "
        f"{r.seconds:.2f} s, qemu peak RSS {r.qemu_rss_kb >> 10} MB, virtiofsd "
        f"{r.virtiofsd_rss_kb >> 10} MB"
    )


def test_python_relay_signal_large_output_long_script(guest, guest_shares):
    filler = "\n".join(f"# line {i} of a script longer than the kernel command line" for i in range(60))
    script = f"""{filler}
exec python3 -S -c '
import os, sys
sys.stdout.buffer.write(bytes(range(256)) * 8192)  # 2 MiB, many frames
sys.stdout.flush()
sys.stderr.write("dying\\n")
sys.stderr.flush()
os.kill(os.getpid(), 9)
'
"""
    assert len(script) > testing.CMDLINE_BUDGET
    r = guest.run(script, shares=guest_shares, timeout=120)
    assert (r.rc, r.signal) == (128 + 9, 9), r
    assert r.raw_stdout == bytes(range(256)) * 8192
    assert r.stderr == "dying\n"


# wait for the RTC's next second (read is a shell builtin: no fork between the polls), then take
# the guest's uptime: twice, 8 guest seconds apart
CLOCK_VS_RTC = r"""
rtc=/sys/class/rtc/rtc0/since_epoch
edge() {
    read s <$rtc
    while read n <$rtc; [ "$n" = "$s" ]; do :; done
    read u _ </proc/uptime
    echo "$u $n"
}
edge
sleep 8
edge
"""


def guest_clock_ratio(guest) -> float:
    """Guest seconds per host second over ~8 s: the guest's uptime between two ticks of the
    CMOS RTC, which qemu runs on the host's clock."""
    r = guest.run(CLOCK_VS_RTC, timeout=120)
    assert r.rc == 0, r
    (u0, r0), (u1, r1) = (map(float, line.split()) for line in r.stdout.splitlines())
    return (u1 - u0) / (r1 - r0)


def test_guest_clock_runs_at_the_host_rate(guest):
    """Under TCG the guest's TSC is the host's, and the guest takes its rate from
    tsc_early_khz: given a wrong rate its clock runs fast or slow by the ratio of the two."""
    ratio = guest_clock_ratio(guest)
    print(f"\nguest clock: {ratio:.4f} guest seconds per host second (tsc_early_khz {qemu.host_tsc_khz()})")
    assert 0.95 < ratio < 1.05, ratio
