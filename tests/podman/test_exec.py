"""`podman exec` into a running container: conmon calls `RUNTIME exec --detach --process F`."""

from __future__ import annotations

import pytest

from tests.podman.conftest import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def running(pm):
    return pm.run_d(pm.image, "sleep", "1000")


def test_exec_exit_code(pm, running):
    assert pm("exec", running, "sh", "-c", "exit 7").rc == 7
    r = pm("exec", running, "echo", "hello")
    assert (r.rc, r.out) == (0, "hello\n"), r


def test_exec_killed_by_signal(pm, running):
    r = pm("exec", running, "sh", "-c", "kill -9 $$")
    assert r.rc == 137, r


def test_exec_not_found_and_not_executable(pm, running):
    r = pm("exec", running, "/no/such/binary")
    assert r.rc == 127, r
    r = pm("exec", running, "/etc/passwd")
    assert r.rc == 126, r


def test_exec_stdin(pm, running):
    r = pm("exec", "-i", running, "sh", "-c", "tr a-z A-Z; exit 4", input="through exec\n")
    assert (r.rc, r.out) == (4, "THROUGH EXEC\n"), r


# podman passes the window size to conmon once the exec session runs, so a command that asks at
# once can race it (with runc too): poll (busybox stty prints nothing for a 0x0 terminal)
WAIT_SIZE = (
    'for i in $(seq 200); do s=$(stty size 2>/dev/null); [ -n "$s" ] && [ "$s" != \'0 0\' ] && break; '
    "sleep 0.05; done; echo size=$s"
)


def test_exec_t(pm, running):
    r = pm.pty("exec", "-t", running, "sh", "-c", f"tty; {WAIT_SIZE}; exit 3", rows=31, cols=97)
    assert r.rc == 3, r
    assert "/dev/pts/" in r.out and "size=31 97\n" in r.out, r


def test_exec_it_typing(pm, running):
    r = pm.pty(
        "exec",
        "-it",
        running,
        "sh",
        rows=29,
        cols=91,
        interact=[("# ", f"{WAIT_SIZE}; echo exec-$((6*7))\n"), ("exec-42\r\n", "exit 5\n")],
    )
    assert r.rc == 5, r
    assert "exec-42\n" in r.out and "size=29 91\n" in r.out, r


def test_exec_detached(pm, running):
    r = pm("exec", "-d", running, "sh", "-c", "sleep 0.2; echo done >/tmp/detached")
    assert r.rc == 0, r
    wait_for(lambda: pm("exec", running, "cat", "/tmp/detached").out == "done\n", 20, "the detached exec's file")


def test_exec_env_workdir_user(pm, running):
    r = pm(
        "exec",
        "--env",
        "FOO=from exec",
        "--workdir",
        "/tmp",
        "--user",
        "nobody",
        running,
        "sh",
        "-c",
        'echo "$FOO"; pwd; id -u; id -g; echo "$container"',
    )
    assert (r.rc, r.out) == (0, "from exec\n/tmp\n65534\n65534\npodman\n"), r
    r = pm("exec", "-u", "1:1", running, "id")
    assert r.out.startswith("uid=1(daemon) gid=1(daemon)"), r


def test_exec_sees_the_container(pm, running):
    r = pm("exec", running, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname")
    cid = pm.inspect(running)["Id"]
    assert r.out.splitlines() == ["sleep 1000 ", cid[:12]], r


def test_exec_preserve_fds(pm, running, tmp_path):
    f = tmp_path / "passed"
    f.write_text("exec fd 3\n")
    r = pm(
        "exec",
        "--preserve-fds",
        "1",
        running,
        "sh",
        "-c",
        "cat <&3",
        shell_prefix=["sh", "-c", f'exec "$@" 3<{f}', "sh"],
    )
    assert (r.rc, r.out) == (0, "exec fd 3\n"), r


def test_exec_into_paused_is_refused(pm, running):
    pm("pause", running, check=True)
    r = pm("exec", running, "true")
    assert r.rc != 0, r
    pm("unpause", running, check=True)
    assert pm("exec", running, "true").rc == 0
