"""What runk must never hand to the container: its own fds (CVE-2024-21626), a path to the host
interpreter (CVE-2019-5736), a host cwd."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile

import pytest

from tests.conftest import TOP
from tests.helpers import run_out, running, wait_status

# no pipeline in pid 1: sh would hold the pipe's fds while `ls` looks (a race that saw 4)
FD_LIST = "ls /proc/$$/fd; echo @@; ls -l /proc/1/fd; true"


def test_only_stdio_reaches_the_container(runk, bundle, cid, leak_audit):
    # sh stays pid 1 (the trailing `true` stops it exec'ing ls), so /proc/1/fd is the init's
    out = run_out(runk, bundle, cid, FD_LIST)
    mine, long = out.split("@@")
    assert mine.split() == ["0", "1", "2"]
    assert sum("->" in line for line in long.splitlines()) == 3, long


def test_only_stdio_reaches_a_created_then_started_container(runk, bundle, cid, tmp_path, leak_audit):
    outf = tmp_path / "out"
    bundle.sh("ls /proc/1/fd; true").write()
    # files, not pipes: the created container holds its stdio open until it exits
    with open(outf, "w") as out, tempfile.TemporaryFile() as err:
        r = subprocess.run(
            [runk.binary, "--root", runk.root, "create", "--bundle", bundle.path, cid],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            timeout=30,
            env={**os.environ, "RUNK_TEST_ROOT": runk.root},
        )
        err.seek(0)
        assert r.returncode == 0, err.read()
    pid = runk.state(cid)["pid"]
    # while waiting for start: stdio plus the exec fifo the trampoline will open, nothing else
    fds = sorted(int(fd) for fd in os.listdir(f"/proc/{pid}/fd"))
    targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in fds if fd > 2]
    assert fds[:3] == [0, 1, 2] and len(targets) == 1 and targets[0].endswith(f"/{cid}/exec.fifo"), targets
    assert runk("start", cid).rc == 0
    assert wait_status(runk, cid, "stopped") == "stopped"
    assert outf.read_text().split() == ["0", "1", "2"]
    runk("delete", cid, check=True)


@pytest.mark.parametrize("n", [1, 3])
def test_preserve_fds(runk, bundle, cid, tmp_path, n, leak_audit):
    files = [tmp_path / f"f{i}" for i in range(n)]
    for i, f in enumerate(files):
        f.write_text(f"content {i}\n")
    bundle.sh(f"ls /proc/$$/fd; cat <&3; echo appended >&{2 + n}; true").write()
    extra = [os.open(str(f), os.O_RDWR | os.O_APPEND) for f in files]
    leaked = os.open("/etc/hostname", os.O_RDONLY)  # inheritable, not preserved: must not arrive
    os.set_inheritable(leaked, True)

    def place() -> None:
        for i, fd in enumerate(extra):
            os.dup2(fd, 3 + i)

    try:
        with tempfile.TemporaryFile() as out:
            r = subprocess.run(
                [runk.binary, "--root", runk.root, "run", "--preserve-fds", str(n), "--bundle", bundle.path, cid],
                stdout=out,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                preexec_fn=place,
                close_fds=False,
                timeout=30,
                env={**os.environ, "RUNK_TEST_ROOT": runk.root},
            )
            out.seek(0)
            text = out.read().decode()
    finally:
        for fd in extra + [leaked]:
            os.close(fd)
    assert r.returncode == 0, r.stderr
    lines = text.splitlines()
    assert lines[: 3 + n] == [str(i) for i in range(3 + n)]
    assert lines[3 + n] == "content 0"
    assert files[-1].read_text().endswith("appended\n")


def test_exe_of_the_container_process_is_never_the_host_interpreter(runk, bundle, cid, leak_audit):
    host_python = {os.path.realpath(sys.executable), os.path.realpath("/usr/bin/python3")}
    bundle.args("sleep", "100").write()
    runk("create", "--bundle", bundle.path, cid, check=True)
    pid = runk.state(cid)["pid"]
    exe = os.readlink(f"/proc/{pid}/exe")
    assert exe.startswith("/memfd:runk-exec") and exe not in host_python
    with open(f"/proc/{pid}/comm") as f:
        assert f.read().strip() != "python3"
    runk("start", cid, check=True)
    exe = os.readlink(f"/proc/{pid}/exe")
    assert exe.endswith("/bin/busybox"), exe  # the workload itself, once started
    runk("delete", "--force", cid, check=True)


def _sha(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


EVIL = """#!/proc/self/exe
import os, sys
print("VULNERABLE: ran as", os.readlink("/proc/self/exe"))
try:
    fd = os.open("/proc/self/exe", os.O_PATH)
    print("VULNERABLE: holds a handle on", os.readlink(f"/proc/self/fd/{fd}"))
except OSError as e:
    print("no handle:", e)
"""


def test_cve_2019_5736_proc_self_exe_entrypoint(runk, bundle, cid, leak_audit):
    """An entrypoint whose interpreter is /proc/self/exe runs whatever binary execs it. It must
    never be the host's Python (which a container process could then reopen and overwrite)."""
    watched = {
        p: _sha(p)
        for p in {
            os.path.realpath("/usr/bin/python3.11"),
            os.path.realpath(os.path.join(TOP, ".venv", "bin", "python3")),
            os.path.realpath(sys.executable),
        }
        if os.path.exists(p)
    }
    rootfs = bundle.own_rootfs()
    with open(os.path.join(rootfs, "evil"), "w") as f:
        f.write(EVIL)
    os.chmod(os.path.join(rootfs, "evil"), 0o755)
    # as the entrypoint, and exec'd again from inside (sh resolves it against busybox)
    for i, args in enumerate((["/evil"], ["sh", "-c", "/evil; exec /evil"])):
        bundle.args(*args).write()
        r = runk("run", "--bundle", bundle.path, f"{cid}-{i}")
        assert "VULNERABLE" not in r.out + r.err, r
        assert r.rc != 0, r  # nothing runs the Python payload
    assert {p: _sha(p) for p in watched} == watched


def test_container_cwd_is_inside_the_container(runk, bundle, cid, leak_audit):
    out = run_out(runk, bundle, cid, "pwd; readlink /proc/self/cwd; readlink /proc/1/cwd; ls /")
    lines = out.splitlines()
    assert lines[:3] == ["/", "/", "/"]
    assert "work" not in lines and "bin" in lines


def test_setup_process_is_gone_once_running(runk, bundle, cid, leak_audit):
    """No runk code stays in the container: its processes are the workload's only."""
    with running(runk, bundle, cid, "sleep", "100") as pid:
        children = open(f"/proc/{pid}/task/{pid}/children").read().split()
        assert children == []
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert f.read().split(b"\0")[:2] == [b"sleep", b"100"]
        with open(f"/proc/{pid}/status") as f:
            st = dict(l.split(":", 1) for l in f if ":" in l)
        assert st["Name"].strip() == "sleep"
