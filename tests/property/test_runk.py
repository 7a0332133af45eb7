"""Property tests against a real runk (the launcher .venv/bin/runk, a private --root):
generated configs, container ids and argv.

For every example: no Python traceback or exception class name reaches the user, every call
ends within its timeout, a failure is one error line in runc's log format with runc's exit code
(1; 3 for an unknown command), and after `delete --force` nothing is left: no state under
--root, no cgroup named after the id or cgroupsPath in any hierarchy, no mount under the test's
directories, no process tagged with this root, no watched host sysctl, hostname or entry of /
and /etc changed (harness.Watch). A failed create must leave nothing even before the delete.

Budgets: HYPOTHESIS_PROFILE=ci (default) runs a dozen examples a test; scripts/fuzz runs the
long profile.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.conftest import RUNC, RUNK, Runtime, requires, shared_rootfs  # noqa: E402
from tests.property import strategies as S  # noqa: E402
from tests.property.harness import Watch, check_output  # noqa: E402
from tests.property.profiles import containers  # noqa: E402

pytestmark = [pytest.mark.property, pytest.mark.slow]

TIMEOUT = 30
_n = itertools.count()


class Env:
    """One module's world: a private rootfs copy (mount points made in it stay ours) with
    symlinks that point out of it, a base config, and a private --root under /run/runk-test."""

    def __init__(self, basetemp: str) -> None:
        self.basetemp = basetemp
        self.dir = tempfile.mkdtemp(prefix="hypo-", dir=basetemp)
        self.rootfs = os.path.join(self.dir, "rootfs")
        subprocess.run(["cp", "-a", shared_rootfs(), self.rootfs], check=True)
        for name, target in (
            ("link-out", "/etc"),
            ("link-up", "../../../../.."),
            ("link-loop", "link-loop"),
            ("link-proc", "/proc/self"),
        ):
            os.symlink(target, os.path.join(self.rootfs, name))
        self.base = S.with_rootfs(S.BASE_CONFIG, self.rootfs)
        self.runk = Runtime(RUNK, f"/run/runk-test/hypo-{uuid.uuid4().hex[:10]}")

    def bundle(self, cfg: object) -> str:
        d = tempfile.mkdtemp(prefix="b", dir=self.dir)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)
        return d

    def cid(self) -> str:
        return f"hypo{os.getpid()}-{next(_n)}"


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Env:
    requires("root", "runk", "busybox")
    e = Env(str(tmp_path_factory.getbasetemp()))
    yield e
    e.runk.cleanup()
    shutil.rmtree(e.dir, ignore_errors=True)


def _cgroups_path(cfg: object) -> object:
    if isinstance(cfg, dict) and isinstance(cfg.get("linux"), dict):
        return cfg["linux"].get("cgroupsPath")
    return None


def lifecycle(env: Env, cfg: object, cid: str) -> None:
    """create (and start) a container from cfg, delete --force it, check every step."""
    rt = env.runk
    watch = Watch(rt.root, env.basetemp, cid, _cgroups_path(cfg))
    bundle = env.bundle(cfg)
    r = rt("create", "--bundle", bundle, cid, timeout=TIMEOUT)
    check_output(r)
    if r.rc == 0:
        s = rt("state", cid, timeout=TIMEOUT)
        check_output(s, (0,))
        assert json.loads(s.out)["status"] == "created", s
        check_output(rt("start", cid, timeout=TIMEOUT))
    else:
        assert watch.leaks() == [], f"a failed create left: {r}"
    d = rt("delete", "--force", cid, timeout=TIMEOUT)
    check_output(d, (0,))
    assert watch.leaks() == [], r
    shutil.rmtree(bundle, ignore_errors=True)


@containers(2)
@given(cfg=S.configs())
def test_generated_configs(env: Env, cfg: dict) -> None:
    lifecycle(env, S.with_rootfs(cfg, env.rootfs), env.cid())


@containers(1)
@given(doc=S.schema_documents(mutate=0.01))
def test_documents_drawn_from_the_schema(env: Env, doc: object) -> None:
    """Whole documents from spec/ (most fail validation; the rest run with a generated rootfs
    path, so point root at ours)."""
    if isinstance(doc, dict) and isinstance(doc.get("root"), dict):
        doc["root"]["path"] = env.rootfs
    lifecycle(env, doc, env.cid())


@containers(1)
@given(cid=S.container_ids())
def test_container_ids_as_runc(env: Env, cid: str, tmp_path_factory) -> None:
    """An id runc refuses runk refuses (and the other way round), with runc's exit code."""
    requires("runc")
    if "\x00" in cid:
        return  # not expressible in argv
    runc = Runtime(RUNC, f"/run/runc-test/hypo-{uuid.uuid4().hex[:10]}")
    try:
        bundle = env.bundle(env.base)
        watch = Watch(env.runk.root, env.basetemp, cid, None)
        r = env.runk("create", "--bundle", bundle, cid, timeout=TIMEOUT)
        c = runc("create", "--bundle", bundle, cid, timeout=TIMEOUT)
        check_output(r)
        assert (r.rc == 0) == (c.rc == 0), (r, c)
        if r.rc == 0:
            check_output(env.runk("state", cid, timeout=TIMEOUT), (0,))
        # an id runc refuses is refused by delete as well (1), as runc does
        check_output(env.runk("delete", "--force", cid, timeout=TIMEOUT), (0,) if r.rc == 0 else (0, 1))
        assert watch.leaks() == []
    finally:
        runc.cleanup()


@containers(2)
@given(data=st.data())
def test_cli_argv_as_runc(env: Env, data: st.DataObject) -> None:
    """Generated argv (global flags, a verb, flags, words, our container's id) in a scratch
    directory: runk's exit code is runc's, and the output contract holds."""
    requires("runc")
    cid = env.cid()
    argv = data.draw(S.cli_argvs(cid))
    out = {}
    for name, binary in (("runk", RUNK), ("runc", RUNC)):
        rt = Runtime(binary, f"/run/{name}-test/hypo-{uuid.uuid4().hex[:10]}")
        cwd = tempfile.mkdtemp(prefix="cwd", dir=env.dir)
        old = os.getcwd()
        os.chdir(cwd)
        try:
            watch = Watch(rt.root, env.basetemp, cid, None) if name == "runk" else None
            out[name] = rt(*argv, timeout=TIMEOUT)
            rt.cleanup()
            if watch:
                assert watch.leaks() == [], out[name]
        finally:
            os.chdir(old)
            shutil.rmtree(cwd, ignore_errors=True)
    log_file = argv[:1] == ["--log"]  # then its value names a file
    check_output(out["runk"], (0, 1, 3, 255), log_file=log_file)
    assert out["runk"].rc == out["runc"].rc, (argv, out)
