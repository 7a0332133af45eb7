"""`podman run` in the foreground: output, exit codes, stdin, terminals, networks, options."""

from __future__ import annotations

import os
import re

import pytest

pytestmark = pytest.mark.slow


def test_run_rm_echo(pm):
    r = pm("run", "--rm", pm.image, "echo", "hi")
    assert (r.rc, r.out) == (0, "hi\n"), r


def test_run_exit_code(pm):
    r = pm("run", "--rm", pm.image, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert r.rc == 3, r
    assert r.out == "out\n" and "err\n" in r.err, r


def test_run_command_not_found_is_127(pm):
    r = pm("run", "--rm", pm.image, "/no/such/binary")
    assert r.rc == 127, r
    assert "not found" in r.err or "no such file" in r.err.lower(), r


def test_run_command_not_in_path_is_127(pm):
    r = pm("run", "--rm", pm.image, "no-such-command")
    assert r.rc == 127, r


def test_run_not_executable_is_126(pm):
    r = pm("run", "--rm", pm.image, "/etc/passwd")
    assert r.rc == 126, r
    assert "permission denied" in r.err.lower(), r


def test_run_stdin_piped(pm):
    r = pm("run", "--rm", "-i", pm.image, "sh", "-c", "tr a-z A-Z; exit 4", input="piped in\nline 2\n")
    assert (r.rc, r.out) == (4, "PIPED IN\nLINE 2\n"), r


def test_run_without_i_gets_no_stdin(pm):
    r = pm("run", "--rm", pm.image, "sh", "-c", "cat; echo done", input="not for the container\n")
    assert (r.rc, r.out) == (0, "done\n"), r


def test_run_t_through_a_pty(pm):
    r = pm.pty(
        "run", "--rm", "--name", pm.name(), "-t", pm.image, "sh", "-c", "tty; stty size; exit 5", rows=33, cols=111
    )
    assert r.rc == 5, r
    assert "/dev/pts/0\n" in r.out, r
    assert "33 111\n" in r.out, r


def test_run_it_typing_into_it(pm):
    r = pm.pty(
        "run",
        "--rm",
        "--name",
        pm.name(),
        "-it",
        pm.image,
        "sh",
        rows=27,
        cols=93,
        interact=[("# ", "stty size; echo typed-$((40+2))\n"), ("typed-42", "exit 5\n")],
    )
    assert r.rc == 5, r
    assert "27 93\n" in r.out, r
    assert "typed-42\n" in r.out, r


def test_network_none(pm):
    r = pm(
        "run", "--rm", "--network", "none", pm.image, "sh", "-c", "readlink /proc/self/ns/net; ip -o link | cut -d: -f2"
    )
    assert r.rc == 0, r
    lines = r.out.split()
    assert lines[0] != os.readlink("/proc/self/ns/net"), r
    assert lines[1:] == ["lo"], r


def test_network_host(pm):
    r = pm(
        "run", "--rm", "--network", "host", pm.image, "sh", "-c", "readlink /proc/self/ns/net; ip -o link | cut -d: -f2"
    )
    assert r.rc == 0, r
    lines = r.out.split()
    assert lines[0] == os.readlink("/proc/self/ns/net"), r
    assert "lo" in lines[1:] and len(lines) > 2, r


def test_network_default_bridge(pm):
    r = pm("run", "--rm", pm.image, "sh", "-c", "readlink /proc/self/ns/net; ip -o -4 addr show dev eth0")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0] != os.readlink("/proc/self/ns/net"), r
    assert re.search(r"^\d+: eth0\s+inet 10\.88\.\d+\.\d+/16", lines[1]), r


def test_read_only_volume_user_hostname(pm, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    vol.chmod(0o777)
    script = (
        "id -u; id -g; hostname; grep ' / ' /proc/self/mounts | cut -d' ' -f4 | cut -d, -f1; "
        "echo written >/data/f && echo data-ok; touch /tmp/t && echo tmp-ok; "
        "touch /bin/x 2>/dev/null || echo rootfs-ro; stat -c '%a %n' /tmp /run"
    )
    r = pm(
        "run",
        "--rm",
        "--read-only",
        "-v",
        f"{vol}:/data",
        "--user",
        "65534:65534",
        "--hostname",
        "rk-host",
        pm.image,
        "sh",
        "-c",
        script,
    )
    assert r.rc == 0, r
    assert r.out.splitlines() == [
        "65534",
        "65534",
        "rk-host",
        "ro",
        "data-ok",
        "tmp-ok",
        "rootfs-ro",
        "1777 /tmp",
        "755 /run",
    ], r
    assert (vol / "f").read_text() == "written\n"


def test_env_and_workdir(pm):
    r = pm(
        "run", "--rm", "-e", "FOO=bar baz", "-w", "/etc", pm.image, "sh", "-c", 'echo "$FOO"; pwd; echo "$container"'
    )
    assert (r.rc, r.out) == (0, "bar baz\n/etc\npodman\n"), r


def test_resource_flags_in_the_cgroup(pm):
    r = pm(
        "run",
        "--rm",
        "--memory",
        "64m",
        "--pids-limit",
        "100",
        "--cpu-shares",
        "512",
        pm.image,
        "cat",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/pids/pids.max",
        "/sys/fs/cgroup/cpu/cpu.shares",
    )
    assert (r.rc, r.out.split()) == (0, ["67108864", "100", "512"]), r


def test_resource_flags_seen_from_the_host(pm):
    name = pm.run_d("--memory", "96m", "--pids-limit", "50", "--cpu-shares", "256", pm.image, "sleep", "1000")
    assert pm.cgroup_file(name, "memory", "memory.limit_in_bytes") == str(96 << 20)
    assert pm.cgroup_file(name, "pids", "pids.max") == "50"
    assert pm.cgroup_file(name, "cpu", "cpu.shares") == "256"
    pid = pm.state(name)["Pid"]
    with open(f"/proc/{pid}/cgroup") as f:
        cg = f.read()
    cid = pm.inspect(name)["Id"]
    assert f":memory:/libpod_parent/libpod-{cid}\n" in cg, cg
    assert f":pids:/libpod_parent/libpod-{cid}\n" in cg, cg


def test_preserve_fds(pm, tmp_path):
    f = tmp_path / "passed"
    f.write_text("through fd 3\n")
    r = pm(
        "run",
        "--rm",
        "--preserve-fds",
        "1",
        pm.image,
        "sh",
        "-c",
        "cat <&3; ls /proc/self/fd | sort -n | tr '\\n' ' '",
        shell_prefix=["sh", "-c", f'exec "$@" 3<{f}', "sh"],
    )
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0] == "through fd 3", r
    # 0-2, the preserved 3, and the fd ls itself opened for /proc/self/fd
    assert lines[1].split()[:4] == ["0", "1", "2", "3"] and len(lines[1].split()) == 5, r


def test_only_stdio_without_preserve_fds(pm):
    r = pm("run", "--rm", pm.image, "sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '")
    assert r.rc == 0, r
    assert r.out.split() == ["0", "1", "2", "3"], r


def test_run_init_catatonit(pm):
    if not os.path.exists("/usr/libexec/podman/catatonit"):
        pytest.skip("needs catatonit")
    r = pm("run", "--rm", "--init", pm.image, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; exit 9")
    assert r.rc == 9, r
    assert r.out.startswith("/run/podman-init -- sh -c "), r  # catatonit, bound in by podman
