"""`runk-vm ps` in table form: ps -ef's columns from the guest's /proc facts."""

from __future__ import annotations

import os
import time

from runk.vm.guest import procsnap
from runk.vm.host import pstable


def test_tty_names():
    assert pstable.tty_name(0) == "?"
    assert pstable.tty_name((136 << 8) | 3) == "pts/3"
    assert pstable.tty_name((136 << 8) | (1 << 20) | 4) == "pts/260"  # minor's high bits
    assert pstable.tty_name((4 << 8) | 1) == "tty1"
    assert pstable.tty_name((4 << 8) | 64) == "ttyS0"


def test_cpu_time():
    assert pstable.cpu_time(0) == "00:00:00"
    assert pstable.cpu_time(3723) == "01:02:03"
    assert pstable.cpu_time(2 * 86400 + 5) == "2-00:00:05"


def test_render_rows():
    now = time.mktime((2026, 12, 2, 10, 30, 0, 0, 0, -1))
    snap = {
        "hz": 100,
        "uptime": 100.0,
        "now": now,
        "procs": [
            {"pid": 7, "ppid": 1, "uid": 1000, "tty": (136 << 8), "ticks": 150, "start": 9000, "cmd": "sleep 1000"},
            {"pid": 1, "ppid": 0, "uid": 0, "tty": 0, "ticks": 2000, "start": 1000, "cmd": "[sh]"},
        ],
    }
    names = {0: "root"}
    out = pstable.render(snap, lambda uid: names.get(uid, str(uid)))
    lines = out.splitlines()
    assert lines[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    # sorted by pid; C: 20 s of CPU in 90 s alive = 22 %; STIME: boot (now - 100 s) + 10 s
    assert lines[1].split() == ["root", "1", "0", "22", "10:28", "?", "00:00:20", "[sh]"]
    assert lines[2].split() == ["1000", "7", "1", "15", "10:29", "pts/0", "00:00:01", "sleep", "1000"]
    # columns line up: every PID ends where the header's does
    end = lines[0].index("PID") + 3
    assert all(line[:end].endswith(pid) for line, pid in zip(lines[1:], ("1", "7")))


def test_render_older_than_a_day_shows_the_date():
    now = time.mktime((2026, 12, 2, 10, 0, 0, 0, 0, -1))
    snap = {
        "hz": 100,
        "uptime": 3 * 86400.0,
        "now": now,
        "procs": [{"pid": 1, "ppid": 0, "uid": 0, "tty": 0, "ticks": 0, "start": 0, "cmd": "init"}],
    }
    assert pstable.rows(snap, str)[0][4] == "Nov29"


def test_snapshot_reads_proc():
    snap = procsnap.snapshot([os.getpid(), 1 << 30])  # the second does not exist: left out
    (me,) = snap["procs"]
    assert me["pid"] == os.getpid() and me["ppid"] == os.getppid() and me["uid"] == os.getuid()
    assert "python" in me["cmd"] and me["ticks"] >= 0 and 0 < me["start"] / snap["hz"] <= snap["uptime"]
