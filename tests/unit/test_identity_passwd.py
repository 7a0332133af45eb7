"""runk.linux.identity: HOME from the container's passwd, and fix_stdio on real fds.

The passwd expectations are what runc 1.1.5 (Debian) prints as $HOME for the same /etc/passwd
and process.user.uid (run under runc by hand; see the comments)."""

from __future__ import annotations

import os
import stat

import pytest

from runk.linux import identity

ROOT = "root:x:0:0:root:/root:/bin/sh"

# (passwd text, uid, runc's $HOME)
CASES = [
    (f"{ROOT}\nu:x:1000:1000::/home/u:/bin/sh\n", 1000, "/home/u"),
    (f"{ROOT}\nu:x:1000:1000::/home/u:/bin/sh\n", 0, "/root"),
    (f"{ROOT}\nu:x:1000:1000::/home/u:/bin/sh\n", 4242, "/"),  # no such user
    (f"{ROOT}\nu:x:1000:1000::/home/u\n", 1000, "/home/u"),  # no shell field
    ("daemon:x:1:1:daemon:/usr/sbin:/bin/false\n", 1, "/usr/sbin"),
    (f"{ROOT}\nu:x:10000:1::/ten:\nu:x:1000:1::/one:\n", 1000, "/one"),  # not a prefix match
    (f"{ROOT}\r\nu:x:1000:1::/crlf:\r\n", 1000, "/crlf"),
    (f"{ROOT}\n\n\nu:x:1000:1::/after-blank:\n", 1000, "/after-blank"),
    ("", 0, "/"),
    ("\xff\xfe:x:1000:1::/bin\xe9:\n", 1000, "/bin\xe9"),
    # runc's parser: the uid is read as Go's Atoi, a bad or missing one is 0, lines are trimmed,
    # the first match wins and its home may be empty (runc then sets HOME=)
    (f"{ROOT}\nu:x:01000:1000::/home/u:/bin/sh\n", 1000, "/home/u"),
    ("u:x:+1000:1::/plus:\n", 1000, "/plus"),
    (f"{ROOT}\nu:x: 1000 :1000::/home/u:/bin/sh\n", 1000, "/"),
    ("u:x:1000:1000:::/bin/sh\n", 1000, ""),
    ("u:x:1000\n", 1000, ""),
    ("u:x:1000:1000:/home/short\n", 1000, ""),
    ("a:x:1000:1:::\nb:x:1000:1::/second:\n", 1000, ""),
    ("#c:x:1000:1::/comment:\nu:x:1000:1::/real:\n", 1000, "/comment"),
    (f"garbage\n{ROOT}\n", 0, ""),
    ("u:x: 1000 :1000::/home/u:/bin/sh\n", 0, "/home/u"),
    (f"garbage\n{ROOT}\n", 1000, "/"),
    (f"  u:x:1000:1::/lead  \n{ROOT}\n", 1000, "/lead"),
    (f"u:x:1000:1::/tr  \n{ROOT}\n", 1000, "/tr"),
    ("u:x:\u0661\u0660:1::/arabic-digits:\n", 10, "/"),
    ("u:x:1_000:1::/underscore:\nr:x:0:0::/zero:\n", 1000, "/"),
]


@pytest.mark.parametrize("text,uid,home", CASES)
def test_passwd_home(tmp_path, text, uid, home):
    p = tmp_path / "passwd"
    p.write_bytes(text.encode("utf-8") if text.isascii() or "\u0661" in text else text.encode("latin-1"))
    got = identity.passwd_home(uid, str(p))
    assert got.encode("utf-8", "surrogateescape") == home.encode("latin-1")


def test_passwd_missing_or_unreadable(tmp_path):
    assert identity.passwd_home(0, str(tmp_path / "missing")) == "/"
    assert identity.passwd_home(0, str(tmp_path)) == "/"  # a directory (EISDIR)
    (tmp_path / "loop").symlink_to("loop")
    assert identity.passwd_home(0, str(tmp_path / "loop")) == "/"  # ELOOP


def _in_child(fn) -> int:
    """Run fn() in a forked child (it rewires stdio); its exit status."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            fn()
            code = 0
        except BaseException as e:  # the parent sees the status; say why on the tty
            os.write(2, f"{e!r}\n".encode())
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_fix_stdio_chowns_the_user_stdio_but_not_dev_null(tmp_path):
    """runc fixStdioPermissions: each stdio the user does not own becomes the user's (its gid
    kept); /dev/null and a closed fd are left alone."""
    files = [tmp_path / n for n in ("in", "out", "err")]
    for f in files:
        f.write_text("")
        os.chown(f, 0, 0)
    saved = [os.dup(fd) for fd in (0, 1, 2)]
    null_before = os.stat("/dev/null")

    def child():
        fds = [os.open(files[0], os.O_RDONLY), os.open(files[1], os.O_WRONLY), os.open("/dev/null", os.O_WRONLY)]
        for i, fd in enumerate(fds):
            os.dup2(fd, i)
        identity.fix_stdio(1234, 5678)
        os.close(0)  # a closed stdio fd is skipped
        identity.fix_stdio(4321, 8765)

    try:
        assert _in_child(child) == 0
    finally:
        for fd in saved:
            os.close(fd)
    st_in, st_out = os.stat(files[0]), os.stat(files[1])
    assert (st_in.st_uid, st_in.st_gid) == (1234, 0)
    assert (st_out.st_uid, st_out.st_gid) == (4321, 0)  # fd 1 was still open
    assert os.stat(files[2]).st_uid == 0  # never handed to the child
    null = os.stat("/dev/null")
    assert stat.S_ISCHR(null.st_mode) and (null.st_uid, null.st_gid) == (null_before.st_uid, null_before.st_gid)


def test_fix_stdio_leaves_owned_and_unchownable_stdio(tmp_path):
    """Already the user's: untouched. A pipe (fchown works on it, it is not a file) and a
    failing fchown must not raise."""
    f = tmp_path / "mine"
    f.write_text("")
    os.chown(f, 1234, 77)

    def child():
        r, w = os.pipe()
        os.dup2(os.open(f, os.O_RDONLY), 0)
        os.dup2(w, 1)
        os.dup2(r, 2)
        identity.fix_stdio(1234, 5678)

    assert _in_child(child) == 0
    st = os.stat(f)
    assert (st.st_uid, st.st_gid) == (1234, 77)
