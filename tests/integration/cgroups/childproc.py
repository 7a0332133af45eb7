"""A forked test child that waits for "go", runs a function and reports a JSON result.

The parent puts the child in its cgroups between fork and go, so the function runs entirely
inside them (as the container init does once the parent has sent cgroup_done).
"""

from __future__ import annotations

import json
import os
import signal
import time


class Child:
    __slots__ = ("_go", "_res", "pid", "status")

    def __init__(self, fn, *args) -> None:
        go_r, go_w = os.pipe()
        res_r, res_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                os.close(go_w)
                os.close(res_r)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.read(go_r, 1)
                out = {"ok": fn(*args)}
            except BaseException as e:
                out = {"err": f"{type(e).__name__}: {e}", "errno": getattr(e, "errno", None)}
                code = 1
            try:
                os.write(res_w, json.dumps(out).encode())
            finally:
                os._exit(code)
        os.close(go_r)
        os.close(res_w)
        self.pid = pid
        self._go = go_w
        self._res = res_r
        self.status: int | None = None

    def go(self) -> None:
        os.write(self._go, b"g")
        os.close(self._go)
        self._go = -1

    def result(self, timeout: float = 30.0) -> dict:
        """Wait for exit; {"ok": value} / {"err": text} / {} when killed; .status is the raw status."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = st
                break
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"child {self.pid} still running after {timeout}s")
            time.sleep(0.01)
        data = b""
        while True:
            b = os.read(self._res, 65536)
            if not b:
                break
            data += b
        os.close(self._res)
        self._res = -1
        return json.loads(data) if data else {}

    @property
    def signaled(self) -> int:
        return os.WTERMSIG(self.status) if self.status is not None and os.WIFSIGNALED(self.status) else 0

    def alive(self) -> bool:
        if self.status is not None:
            return False
        try:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            self.status = 0
            return False
        if pid:
            self.status = st
            return False
        return True

    def kill(self) -> None:
        """SIGKILL and reap (finalizers); safe to call twice."""
        if self._go >= 0:
            os.close(self._go)
            self._go = -1
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                _, self.status = os.waitpid(self.pid, 0)
            except ChildProcessError:  # reaped by a subreaper sweep
                self.status = 0
        if self._res >= 0:
            os.close(self._res)
            self._res = -1


def proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("State:"):
                return line.split()[1]
    return ""


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime
