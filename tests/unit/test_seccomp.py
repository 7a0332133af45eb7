"""runk.linux.seccomp: compile OCI profiles with libseccomp and check them against the real kernel.

No root needed: every filter is loaded in a forked child that first sets no_new_privs, which lets
an unprivileged process install a filter (seccomp(2)). The child makes the syscall under test and
reports over a pipe, so the test runner itself never runs under a filter.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time

import pytest

from runk._native import TRAMPOLINE, lib
from runk.errors import ConfigError, SyscallError
from runk.linux import seccomp, syscalls

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# podman's generated config (conmon -> runc create), kept in tests/data
PODMAN_CONFIGS = [os.path.join(REPO, "tests", "data", "configs", "config.detach.json")]

# What CPython needs to report a result and exit under an allow-list profile.
PYTHON_MINIMUM = [
    "read",
    "write",
    "close",
    "exit",
    "exit_group",
    "brk",
    "mmap",
    "munmap",
    "mremap",
    "madvise",
    "rt_sigreturn",
    "rt_sigaction",
    "rt_sigprocmask",
    "sigaltstack",
    "futex",
    "getpid",
    "gettid",
    "fstat",
    "newfstatat",
    "lseek",
    "getrandom",
    "clock_gettime",
]


def profile(*rules: dict, default: str = "SCMP_ACT_ALLOW", **extra: object) -> dict:
    return {"defaultAction": default, "syscalls": list(rules), **extra}


def rule(names: str | list, action: str = "SCMP_ACT_ERRNO", **extra: object) -> dict:
    return {"names": [names] if isinstance(names, str) else names, "action": action, **extra}


def arg(index: int, op: str, value: int, value_two: int | None = None) -> dict:
    out = {"index": index, "op": "SCMP_CMP_" + op, "value": value}
    if value_two is not None:
        out["valueTwo"] = value_two
    return out


def call(fn, *args) -> str:
    """Run fn in the child and describe the result: 'ok' or 'errno <name>'."""
    try:
        fn(*args)
    except OSError as e:
        return "errno " + errno.errorcode.get(e.errno, str(e.errno))
    return "ok"


def run_filtered(prog: seccomp.SeccompProgram | None, *checks, nnp: bool = True) -> tuple[list[str], int]:
    """Fork; the child sets NNP, loads prog, runs each check (a () -> str) and writes the results.

    Returns (results, wait status). Everything the child needs is imported before the fork.
    """
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: no pytest machinery, only os.write and os._exit
        code = 0
        try:
            os.close(r)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGSYS would dump core
            if nnp:
                syscalls.prctl(lib.PR_SET_NO_NEW_PRIVS, 1)
            if prog is not None:
                seccomp.load(prog)
            for check in checks:
                os.write(w, (check() + "\n").encode())
        except BaseException as e:  # child entry: report anything, never return into pytest
            os.write(w, f"child failed: {type(e).__name__}: {e}\n".encode())
            code = 1
        os._exit(code)
    os.close(w)
    chunks = []
    while True:
        data = os.read(r, 4096)
        if not data:
            break
        chunks.append(data)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return b"".join(chunks).decode().splitlines(), status


def compiled(p: dict) -> seccomp.SeccompProgram:
    return seccomp.compile_profile(p)


# --- behaviour under the kernel -----------------------------------------------------------------


def test_errno_ret_is_returned():
    prog = compiled(profile(rule("getcwd", errnoRet=errno.ENOTSUP), rule("uname", errnoRet=errno.EXDEV)))
    out, status = run_filtered(prog, lambda: call(os.getcwd), lambda: call(os.uname), lambda: call(os.getpid))
    assert out == ["errno ENOTSUP", "errno EXDEV", "ok"]
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_errno_without_errno_ret_is_eperm(tmp_path):
    # runc: actErrno = ActErrno.SetReturnCode(EPERM)
    prog = compiled(profile(rule(["mkdir", "mkdirat"])))
    out, _ = run_filtered(prog, lambda: call(os.mkdir, str(tmp_path / "d")))
    assert out == ["errno EPERM"]
    assert not (tmp_path / "d").exists()


def test_default_errno_ret_with_allow_list():
    # default ERRNO(EXDEV); only what CPython needs is allowed, so uname and getcwd get EXDEV
    prog = compiled(
        profile(rule(PYTHON_MINIMUM, "SCMP_ACT_ALLOW"), default="SCMP_ACT_ERRNO", defaultErrnoRet=errno.EXDEV)
    )
    out, status = run_filtered(prog, lambda: call(os.uname), lambda: call(os.getcwd), lambda: call(os.getpid))
    assert out == ["errno EXDEV", "errno EXDEV", "ok"]
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_allow_list_default_errno_is_eperm():
    prog = compiled(profile(rule(PYTHON_MINIMUM, "SCMP_ACT_ALLOW"), default="SCMP_ACT_ERRNO"))
    out, _ = run_filtered(prog, lambda: call(os.uname))
    assert out == ["errno EPERM"]


def test_personality_denied_only_for_query_value():
    # deny personality(0xffffffff) (the query form), allow personality(PER_LINUX)
    prog = compiled(profile(rule("personality", errnoRet=errno.EACCES, args=[arg(0, "EQ", 0xFFFFFFFF)])))
    out, _ = run_filtered(prog, lambda: call(syscalls.personality, 0xFFFFFFFF), lambda: call(syscalls.personality, 0))
    assert out == ["errno EACCES", "ok"]


def test_socket_denied_for_inet_allowed_for_unix():
    prog = compiled(profile(rule("socket", errnoRet=errno.EAFNOSUPPORT, args=[arg(0, "EQ", socket.AF_INET)])))
    out, _ = run_filtered(
        prog,
        lambda: call(socket.socket, socket.AF_INET, socket.SOCK_STREAM),
        lambda: call(socket.socket, socket.AF_UNIX, socket.SOCK_STREAM),
    )
    assert out == ["errno EAFNOSUPPORT", "ok"]


def test_masked_eq_ignores_flag_bits():
    # socket(2)'s type carries SOCK_CLOEXEC/SOCK_NONBLOCK above the low nibble: mask them off
    prog = compiled(
        profile(rule("socket", errnoRet=errno.EPROTOTYPE, args=[arg(1, "MASKED_EQ", 0xF, socket.SOCK_DGRAM)]))
    )
    out, _ = run_filtered(
        prog,
        lambda: call(socket.socket, socket.AF_UNIX, socket.SOCK_DGRAM),
        lambda: call(socket.socket, socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK),
        lambda: call(socket.socket, socket.AF_UNIX, socket.SOCK_STREAM),
    )
    assert out == ["errno EPROTOTYPE", "errno EPROTOTYPE", "ok"]


def test_conditions_on_different_args_are_anded():
    prog = compiled(
        profile(
            rule(
                "socket",
                errnoRet=errno.EACCES,
                args=[arg(0, "EQ", socket.AF_UNIX), arg(1, "MASKED_EQ", 0xF, socket.SOCK_DGRAM)],
            )
        )
    )
    out, _ = run_filtered(
        prog,
        lambda: call(socket.socket, socket.AF_UNIX, socket.SOCK_DGRAM),
        lambda: call(socket.socket, socket.AF_UNIX, socket.SOCK_STREAM),
        lambda: call(socket.socket, socket.AF_INET, socket.SOCK_DGRAM),
    )
    assert out == ["errno EACCES", "ok", "ok"]


def test_conditions_on_same_arg_become_separate_rules():
    # runc/crun: two conditions on arg 0 cannot be ANDed by libseccomp; each becomes its own
    # rule, so the result is an OR (AF_INET or AF_INET6 denied, AF_UNIX allowed)
    prog = compiled(
        profile(
            rule("socket", errnoRet=errno.EACCES, args=[arg(0, "EQ", socket.AF_INET), arg(0, "EQ", socket.AF_INET6)])
        )
    )
    out, _ = run_filtered(
        prog,
        lambda: call(socket.socket, socket.AF_INET),
        lambda: call(socket.socket, socket.AF_INET6),
        lambda: call(socket.socket, socket.AF_UNIX),
    )
    assert out == ["errno EACCES", "errno EACCES", "ok"]


@pytest.mark.parametrize(
    "op,value,expect",
    [
        ("NE", 0, ["ok", "errno EACCES"]),  # personality(0) allowed, (8) denied
        ("LT", 8, ["errno EACCES", "ok"]),
        ("LE", 0, ["errno EACCES", "ok"]),
        ("GE", 8, ["ok", "errno EACCES"]),
        ("GT", 0, ["ok", "errno EACCES"]),
    ],
)
def test_comparison_operators(op, value, expect):
    prog = compiled(profile(rule("personality", errnoRet=errno.EACCES, args=[arg(0, op, value)])))
    out, _ = run_filtered(prog, lambda: call(syscalls.personality, 0), lambda: call(syscalls.personality, 8))
    assert out == expect


def test_unknown_syscall_name_is_skipped():
    prog = compiled(profile(rule(["runk_no_such_syscall", "getcwd"], errnoRet=errno.ENOTSUP)))
    out, _ = run_filtered(prog, lambda: call(os.getcwd))
    assert out == ["errno ENOTSUP"]


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"])
def test_kill_and_trap_end_with_sigsys(action):
    prog = compiled(profile(rule("getcwd", action)))
    out, status = run_filtered(prog, lambda: "before", lambda: call(os.getcwd), lambda: "after")
    assert out == ["before"]
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


def test_trace_without_tracer_is_enosys():
    # seccomp(2): SECCOMP_RET_TRACE with no tracer attached fails the syscall with ENOSYS
    prog = compiled(profile(rule("getcwd", "SCMP_ACT_TRACE")))
    out, _ = run_filtered(prog, lambda: call(os.getcwd))
    assert out == ["errno ENOSYS"]


def test_log_allows():
    prog = compiled(profile(rule("getcwd", "SCMP_ACT_LOG"), flags=["SECCOMP_FILTER_FLAG_LOG"]))
    assert prog.flags == lib.SECCOMP_FILTER_FLAG_LOG
    out, _ = run_filtered(prog, lambda: call(os.getcwd))
    assert out == ["ok"]


def test_rule_equal_to_default_is_skipped():
    # libseccomp refuses a rule whose action is the default one; runc skips it silently
    p = profile(
        rule(PYTHON_MINIMUM, "SCMP_ACT_ALLOW"),
        rule("uname"),
        rule("getcwd", errnoRet=errno.EPERM),
        default="SCMP_ACT_ERRNO",
    )
    out, _ = run_filtered(compiled(p), lambda: call(os.uname), lambda: call(os.getcwd))
    assert out == ["errno EPERM", "errno EPERM"]
    # ERRNO(EXDEV) is not the default ERRNO(EPERM): that rule stays
    p["syscalls"].append(rule("uname", errnoRet=errno.EXDEV))
    out, _ = run_filtered(compiled(p), lambda: call(os.uname))
    assert out == ["errno EXDEV"]


PR_GET_NO_NEW_PRIVS = 39


@pytest.mark.skipif(os.geteuid() != 0, reason="loading without no_new_privs needs CAP_SYS_ADMIN")
def test_load_without_nnp_leaves_nnp_clear():
    # the init's path without noNewPrivileges: load before the capability drop, and nothing
    # (libseccomp's SCMP_FLTATR_CTL_NNP included) may set no_new_privs behind the spec's back
    prog = compiled(profile(rule("getcwd", errnoRet=errno.ENOTSUP)))
    out, _ = run_filtered(prog, lambda: str(syscalls.prctl(PR_GET_NO_NEW_PRIVS)), lambda: call(os.getcwd), nnp=False)
    assert out == ["0", "errno ENOTSUP"]


def test_load_unprivileged_without_nnp_is_refused():
    prog = compiled(profile(rule("getcwd")))

    def drop_then_load() -> str:
        if os.geteuid() == 0:
            os.setresuid(65534, 65534, 65534)  # leaves no capabilities
        try:
            seccomp.load(prog)
        except SyscallError as e:
            return str(e)
        return "loaded"

    out, _ = run_filtered(None, drop_then_load, nnp=False)
    assert out == ["seccomp: permission denied"]


def test_load_imports_nothing():
    # load() runs in the init after pivot_root, where the host's site-packages is gone (DESIGN 3.4)
    prog = compiled(profile(rule("getcwd", errnoRet=errno.ENOTSUP)))

    def load_without_imports() -> str:
        import builtins

        def refuse(name, *args, **kwargs):
            raise ImportError(f"import of {name} after fork")

        real, builtins.__import__ = builtins.__import__, refuse
        try:
            seccomp.load(prog)
        finally:
            builtins.__import__ = real
        return call(os.getcwd)

    out, _ = run_filtered(None, load_without_imports)
    assert out == ["errno ENOTSUP"]


def test_load_reports_kernel_refusal():
    bogus = seccomp.SeccompProgram(b"\xff" * 8, 0, "x")

    def try_load() -> str:
        try:
            seccomp.load(bogus)
        except SyscallError as e:
            return str(e)
        return "loaded"

    out, _ = run_filtered(compiled(profile()), try_load)
    assert out == ["seccomp: invalid argument"]


# --- podman's profile and the trampoline ---------------------------------------------------------


def podman_profile() -> dict:
    for path in PODMAN_CONFIGS:
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)["linux"]["seccomp"]
    pytest.skip("podman's example config.detach.json not found")


def test_podman_profile_compiles():
    prog = compiled(podman_profile())
    assert len(prog.bpf) % 8 == 0 and 0 < len(prog.bpf) // 8 <= lib.BPF_MAXINSNS
    # no `flags` key: SPEC_ALLOW by default (runc specconv, crun)
    assert prog.flags == lib.SECCOMP_FILTER_FLAG_SPEC_ALLOW


def _nnp() -> None:
    syscalls.prctl(lib.PR_SET_NO_NEW_PRIVS, 1)


def run_trampoline(prog: seccomp.SeccompProgram, *argv: str) -> subprocess.CompletedProcess:
    fd = seccomp.to_memfd(prog)
    try:
        return subprocess.run(
            [TRAMPOLINE, "-1", str(fd), str(prog.flags), *argv],
            pass_fds=(fd,),
            preexec_fn=_nnp,
            capture_output=True,
            timeout=30,
        )
    finally:
        os.close(fd)


def test_podman_profile_runs_true_through_trampoline():
    res = run_trampoline(compiled(podman_profile()), "/bin/true", "true")
    assert res.returncode == 0, res.stderr


def test_trampoline_filter_is_active_after_exec():
    res = run_trampoline(compiled(podman_profile()), "/bin/cat", "cat", "/proc/self/status")
    assert res.returncode == 0, res.stderr
    status = res.stdout.decode()
    assert "\nSeccomp:\t2\n" in status and "\nNoNewPrivs:\t1\n" in status


@pytest.mark.skipif(os.geteuid() != 0, reason="loading without no_new_privs needs CAP_SYS_ADMIN")
def test_podman_profile_loaded_before_privilege_drop():
    # podman sets no noNewPrivileges, so the init loads the filter itself, before dropping
    # privileges (runc's order); everything after it, including the trampoline, runs filtered
    prog = compiled(podman_profile())
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.dup2(w, 1)
            seccomp.load(prog)
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            os.execv(TRAMPOLINE, [TRAMPOLINE, "-1", "-1", "0", "/bin/cat", "cat", "/proc/self/status"])
        finally:
            os._exit(127)
    os.close(w)
    with os.fdopen(r) as f:
        status = f.read()
    _, wstatus = os.waitpid(pid, 0)
    assert os.WIFEXITED(wstatus) and os.WEXITSTATUS(wstatus) == 0
    assert "\nSeccomp:\t2\n" in status and "\nNoNewPrivs:\t0\n" in status
    assert "\nUid:\t65534\t65534\t65534\t65534\n" in status


def test_trampoline_denial_reaches_the_program(tmp_path):
    prog = compiled(profile(rule(["mkdir", "mkdirat"], errnoRet=errno.EROFS)))
    res = run_trampoline(prog, "/bin/mkdir", "mkdir", str(tmp_path / "d"))
    assert res.returncode != 0
    assert os.strerror(errno.EROFS) in res.stderr.decode()


def test_memfd_is_sealed_and_inheritable():
    prog = compiled(profile(rule("getcwd")))
    fd = seccomp.to_memfd(prog)
    try:
        assert os.get_inheritable(fd)
        assert os.pread(fd, len(prog.bpf) + 1, 0) == prog.bpf
        with pytest.raises(PermissionError):
            os.pwrite(fd, b"\0" * 8, 0)
    finally:
        os.close(fd)


# --- configuration errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "p,message",
    [
        (
            profile(rule("getcwd", "SCMP_ACT_FOO"), rule("uname"), rule("getcwd", "SCMP_ACT_BAR")),
            'linux.seccomp.syscalls[0].action: unknown action "SCMP_ACT_FOO"',
        ),
        (
            profile(rule("getcwd"), rule("uname"), rule("mkdir"), rule("getcwd", "SCMP_ACT_FOO")),
            'linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"',
        ),
        (profile(default="SCMP_ACT_NOPE"), 'linux.seccomp.defaultAction: unknown action "SCMP_ACT_NOPE"'),
        ({"syscalls": []}, "linux.seccomp.defaultAction: missing"),
        (
            profile(rule("getcwd", args=[arg(0, "EQ", 1), {"index": 1, "op": "SCMP_CMP_ABOUT", "value": 2}])),
            'linux.seccomp.syscalls[0].args[1].op: unknown operator "SCMP_CMP_ABOUT"',
        ),
        (
            profile(rule("getcwd", args=[arg(6, "EQ", 1)])),
            "linux.seccomp.syscalls[0].args[0].index: must be an integer between 0 and 5, got 6",
        ),
        (
            profile(rule("getcwd", args=[arg(0, "EQ", -1)])),
            "linux.seccomp.syscalls[0].args[0].value: must be an integer between 0 and 18446744073709551615, got -1",
        ),
        (
            profile(architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"]),
            'linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_Z80"',
        ),
        (profile(architectures=["x86_64"]), 'linux.seccomp.architectures[0]: unknown architecture "x86_64"'),
        (
            profile(flags=["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_FAST"]),
            'linux.seccomp.flags[1]: unknown flag "SECCOMP_FILTER_FLAG_FAST"',
        ),
        (
            profile(rule("getcwd", errnoRet=70000)),
            "linux.seccomp.syscalls[0].errnoRet: must be an integer between 0 and 65535, got 70000",
        ),
        (
            profile(default="SCMP_ACT_ERRNO", defaultErrnoRet="1"),
            'linux.seccomp.defaultErrnoRet: must be an integer between 0 and 65535, got "1"',
        ),
        (profile(rule(["getcwd", ""])), "linux.seccomp.syscalls[0].names[1]: must be a non-empty string"),
        (
            profile(rule("getcwd", "SCMP_ACT_NOTIFY")),
            "linux.seccomp.listenerPath: listenerPath is not set (the profile has SCMP_ACT_NOTIFY rules)",
        ),
        (
            profile(rule(["getcwd", "write"], "SCMP_ACT_NOTIFY"), listenerPath="/run/agent.sock"),
            "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for the write syscall",
        ),
        (
            profile(default="SCMP_ACT_NOTIFY", listenerPath="/run/agent.sock"),
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as default action",
        ),
        (
            profile(rule("getcwd", "SCMP_ACT_NOTIFY"), listenerPath="/run/agent.sock", listenerMetadata=5),
            "linux.seccomp.listenerMetadata: must be a string",
        ),
    ],
)
def test_config_errors_name_the_path(p, message):
    with pytest.raises(ConfigError) as exc:
        seccomp.compile_profile(p)
    assert str(exc.value) == message


def test_config_error_uses_callers_path():
    with pytest.raises(ConfigError) as exc:
        seccomp.compile_profile(profile(rule("getcwd", "SCMP_ACT_FOO")), path="process.seccomp")
    assert exc.value.path == "process.seccomp.syscalls[0].action"


def test_architectures_and_flags():
    p = profile(rule("getcwd"), architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    native_only = compiled(profile(rule("getcwd")))
    multi = compiled(p)
    assert len(multi.bpf) > len(native_only.bpf)
    assert compiled(profile(flags=[])).flags == 0
    assert compiled(profile(flags=["SECCOMP_FILTER_FLAG_TSYNC"])).flags == 0  # runc ignores it
    both = compiled(profile(flags=["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]))
    assert both.flags == lib.SECCOMP_FILTER_FLAG_LOG | lib.SECCOMP_FILTER_FLAG_SPEC_ALLOW
    # needs a notify listener to mean anything (the kernel refuses it alone): accepted, not passed
    killable = compiled(profile(rule("getcwd"), flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]))
    assert killable.flags == 0
    out, _ = run_filtered(killable, lambda: call(os.getcwd))
    assert out == ["errno EPERM"]
    # with a notify rule: NEW_LISTENER, and the killable wait passed on
    notify = compiled(
        profile(
            rule("getcwd", "SCMP_ACT_NOTIFY"),
            flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            listenerPath="/run/a.sock",
            listenerMetadata="m",
        )
    )
    assert notify.flags == lib.SECCOMP_FILTER_FLAG_NEW_LISTENER | lib.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
    assert notify.notify and (notify.listener_path, notify.listener_metadata) == ("/run/a.sock", "m")


def test_listener_path_without_notify_rule_is_ignored():
    prog = compiled(profile(rule("getcwd"), listenerPath="/run/a.sock", listenerMetadata="m"))
    assert not prog.notify and prog.flags & lib.SECCOMP_FILTER_FLAG_NEW_LISTENER == 0
    assert prog.listener_path == ""


def test_notify_load_returns_a_listener_and_its_death_gives_enosys():
    """The fd load() returns is the filter's listener; once every copy is closed, a notified
    syscall fails with ENOSYS (the kernel's answer when the agent is gone)."""
    prog = compiled(profile(rule("getcwd", "SCMP_ACT_NOTIFY"), listenerPath="/run/a.sock"))

    def listener_then_getcwd() -> str:
        fd = seccomp.load(prog)
        target = os.readlink(f"/proc/self/fd/{fd}")
        os.close(fd)
        return f"{target} {call(os.getcwd)}"

    out, status = run_filtered(None, listener_then_getcwd)
    assert out == ["anon_inode:seccomp notify errno ENOSYS"] and status == 0


@pytest.mark.parametrize("default", ["SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"])
def test_enosys_stub_for_syscalls_newer_than_the_profile(default):
    # the newest syscall the profile names is getrandom (318): 1000 and 319 (memfd_create) get
    # ENOSYS whatever the default action; an older unnamed one (getcwd) gets the default
    prog = compiled(profile(rule(PYTHON_MINIMUM, "SCMP_ACT_ALLOW"), default=default))
    checks = [lambda: call(raw_syscall, 1000), lambda: call(raw_syscall, 319)]
    if default == "SCMP_ACT_ERRNO":
        checks.append(lambda: call(os.getcwd))
    out, status = run_filtered(prog, *checks)
    assert out == ["errno ENOSYS", "errno ENOSYS", "errno EPERM"][: len(checks)] and status == 0


@pytest.mark.parametrize(
    "default, extra",
    [
        ("SCMP_ACT_ALLOW", {}),
        ("SCMP_ACT_LOG", {}),
        ("SCMP_ACT_TRACE", {}),
        ("SCMP_ACT_ERRNO", {"defaultErrnoRet": errno.ENOSYS}),
    ],
)
def test_no_enosys_stub_where_runc_adds_none(default, extra, monkeypatch):
    p = profile(rule("getcwd", "SCMP_ACT_KILL"), default=default, **extra)
    with_rule = compiled(p).bpf
    monkeypatch.setattr(seccomp.seccomp_enosys, "wanted", lambda _p: False)
    assert with_rule == compiled(p).bpf


def test_enosys_stub_is_only_a_prefix(monkeypatch):
    p = profile(rule(["getcwd", "uname"], "SCMP_ACT_ALLOW"), default="SCMP_ACT_ERRNO")
    patched = compiled(p).bpf
    monkeypatch.setattr(seccomp.seccomp_enosys, "wanted", lambda _p: False)
    plain = compiled(p).bpf
    assert patched.endswith(plain) and 0 < len(patched) - len(plain) <= 8 * 16


_LIBC = ctypes.CDLL(None, use_errno=True)


def raw_syscall(nr: int) -> None:
    """syscall(2) with no glibc wrapper in between (a wrapper may turn ENOSYS into a fallback)."""
    if _LIBC.syscall(nr, 0, 0, 0) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def test_enabled():
    assert not seccomp.enabled(None)
    assert not seccomp.enabled({})
    assert seccomp.enabled({"defaultAction": "SCMP_ACT_ALLOW"})


# --- cache -------------------------------------------------------------------------------------


def test_cache_hit_returns_identical_program(tmp_path):
    cache = str(tmp_path / "cache")
    first = seccomp.compile_profile(podman_profile(), cache_dir=cache)
    assert os.listdir(cache) == [first.checksum]
    assert oct(os.stat(cache).st_mode & 0o777) == "0o700"
    again = seccomp.compile_profile(podman_profile(), cache_dir=cache)
    assert (again.bpf, again.flags, again.checksum) == (first.bpf, first.flags, first.checksum)
    assert again.bpf == compiled(podman_profile()).bpf


def test_cache_key_ignores_key_order_but_not_content():
    p = profile(rule("getcwd"), default="SCMP_ACT_ALLOW")
    reordered = dict(reversed(list(p.items())))
    assert seccomp.profile_key(p) == seccomp.profile_key(reordered)
    assert seccomp.profile_key(p) != seccomp.profile_key(profile(rule("uname")))


def test_cache_hit_is_really_read_from_the_file(tmp_path):
    cache = str(tmp_path)
    p = profile(rule("getcwd"))
    key = seccomp.compile_profile(p, cache_dir=cache).checksum
    other = compiled(profile(rule("uname")))
    with open(os.path.join(cache, key), "wb") as f:
        f.write(b"RKSC" + (7).to_bytes(4, "little") + other.bpf)
    hit = seccomp.compile_profile(p, cache_dir=cache)
    assert (hit.bpf, hit.flags) == (other.bpf, 7)


def test_corrupt_cache_entry_is_recompiled(tmp_path):
    cache = str(tmp_path)
    p = profile(rule("getcwd"))
    good = seccomp.compile_profile(p, cache_dir=cache)
    with open(os.path.join(cache, good.checksum), "wb") as f:
        f.write(b"RKSC\0")
    again = seccomp.compile_profile(p, cache_dir=cache)
    assert again.bpf == good.bpf
    with open(os.path.join(cache, good.checksum), "rb") as f:
        assert f.read()[8:] == good.bpf  # rewritten


def test_unwritable_cache_does_not_fail(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    prog = seccomp.compile_profile(profile(rule("getcwd")), cache_dir=str(blocker / "cache"))
    assert prog.bpf


def test_compile_vs_cache_hit_timing(tmp_path, capsys):
    """Not an assertion on durations: prints them for the record (DESIGN 3.16, no timing asserts)."""
    p = podman_profile()
    t0 = time.perf_counter()
    seccomp.compile_profile(p, cache_dir=str(tmp_path))
    t1 = time.perf_counter()
    for _ in range(10):
        seccomp.compile_profile(p, cache_dir=str(tmp_path))
    t2 = time.perf_counter()
    with capsys.disabled():
        print(f"\npodman profile: compile {1e3 * (t1 - t0):.2f} ms, cache hit {1e3 * (t2 - t1) / 10:.3f} ms")
