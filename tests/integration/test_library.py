"""runk as a Python library (runk.api): the README's fixture, run as written, and the API's
promises: typed state and results, typed errors, stdio, nothing left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from tests.conftest import RUNK, TOP, requires, shared_rootfs


def busybox_config(*args: str) -> dict:
    """A config.json for the shared busybox rootfs, as a dict."""
    rootfs = shared_rootfs()
    with open(os.path.join(os.path.dirname(rootfs), "config.json")) as f:
        cfg = json.load(f)
    cfg["root"] = {"path": rootfs, "readonly": True}
    cfg["process"].update(
        args=list(args), terminal=False, rlimits=[{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
    )
    return cfg


def readme_example() -> str:
    """The Python block of the README's library section."""
    with open(os.path.join(TOP, "README.md")) as f:
        text = f.read()
    section = text[text.index("## Using runk as a Python library") :]
    return section[section.index("```python\n") + 10 : section.index("\n```", section.index("```python"))]


def test_the_readme_example_runs_as_written(tmp_path):
    """The README's fixture and test, written to a file as they stand there and run by pytest in
    a subprocess; busybox_config comes from a conftest, as a user's own helper would."""
    requires("root", "busybox")
    (tmp_path / "test_example.py").write_text("from conftest import busybox_config\n" + readme_example())
    (tmp_path / "conftest.py").write_text(
        f"import sys\nsys.path.insert(0, {TOP!r})\n"
        "from tests.integration.test_library import busybox_config  # noqa: F401\n"
    )
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout + r.stderr


@pytest.fixture
def container(tmp_path):
    import runk

    requires("root", "busybox")
    cfg = busybox_config("sleep", "1000")
    with runk.create(f"lib-{uuid.uuid4().hex[:8]}", config=cfg, root=str(tmp_path / "state")) as c:
        c.start()
        yield c


def test_lifecycle_state_and_exit_status(tmp_path):
    import runk

    requires("root", "busybox")
    root = str(tmp_path / "state")
    c = runk.create("lib-life", config=busybox_config("sleep", "1000"), root=root)
    st = c.state()
    assert isinstance(st, runk.State)
    assert (st.id, st.status, st.backend) == ("lib-life", "created", "linux") and st.pid > 0
    with open(f"/proc/{st.pid}/status") as f:
        assert "sleep" not in f.read().split("\n")[0]  # still the trampoline, waiting
    c.start()
    assert c.status() == "running"
    # the runk command sees the same container
    out = subprocess.run([RUNK, "--root", root, "state", "lib-life"], capture_output=True, text=True)
    assert json.loads(out.stdout)["pid"] == st.pid
    assert [s.id for s in runk.list_containers(root)] == ["lib-life"]
    assert c.processes() == [st.pid]
    c.kill(9)
    assert c.wait(timeout=10) == 137
    assert c.status() == "stopped"
    c.delete()
    assert runk.list_containers(root) == [] and not os.listdir(root)


def test_stdio_and_exec_input(tmp_path):
    import runk

    requires("root", "busybox")
    r, w = os.pipe()
    cfg = busybox_config("sh", "-c", "echo from-init; echo to-err >&2")
    c = runk.create("lib-io", config=cfg, root=str(tmp_path / "state"), stdio=(0, w, w))
    os.close(w)
    try:
        c.start()
        assert c.wait(timeout=10) == 0
        with os.fdopen(r, "rb") as f:
            assert f.read() == b"from-init\nto-err\n"
    finally:
        c.delete(force=True)


def test_exec_options_and_timeout(container):
    r = container.exec(
        ["sh", "-c", "cat; echo $X; pwd; id -u; id -g"], input=b"piped\n", env=["X=42"], cwd="/tmp", user=(1000, 1001)
    )
    assert r.stdout == b"piped\n42\n/tmp\n1000\n1001\n" and r.exit_code == 0
    with pytest.raises(TimeoutError):
        container.exec(["sleep", "100"], timeout=0.5)
    assert container.status() == "running"


def test_typed_errors_leave_nothing(tmp_path):
    import runk

    requires("root", "busybox")
    root = str(tmp_path / "state")
    cfg = busybox_config("true")
    cfg["process"]["args"] = []
    with pytest.raises(runk.ConfigError) as e:
        runk.create("lib-bad", config=cfg, root=root)
    assert e.value.path == "process.args"
    assert not os.path.exists(os.path.join(root, "lib-bad"))
    with pytest.raises(runk.NotFoundError):
        runk.load("lib-none", root=root)
    with pytest.raises(runk.InvalidIdError):
        runk.create("../x", config=busybox_config("true"), root=root)
    c = runk.create("lib-dup", config=busybox_config("true"), root=root)
    try:
        with pytest.raises(runk.ExistsError):
            runk.create("lib-dup", config=busybox_config("true"), root=root)
        with pytest.raises(runk.StateError):
            c.resume()
    finally:
        c.delete(force=True)
    assert issubclass(runk.ConfigError, runk.RunkError)


def test_import_runk_costs_nothing():
    """`import runk` (every runk module imports it) does not load the library or its imports."""
    code = "import sys, runk; print(sorted(m for m in ('runk.api', 'dataclasses', 'select') if m in sys.modules))"
    python = os.path.join(os.path.dirname(RUNK), "python")
    out = subprocess.run(
        [python, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {TOP!r}); {code}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"
