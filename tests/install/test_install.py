"""runk installed as a package elsewhere: the README's install snippet run as written into a
fresh venv at another path (`pip install .` of the checkout, then `python -m runk.launcher`),
`pip wheel .` (the compiled cffi module and the trampoline inside), `python -m runk`, a real
container from the installed copy, the launchers' start-up time beside the checkout's and pip's
console scripts, `--help` beside runc's, and bash completion from the README's line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import zipfile

import pytest

from tests.conftest import RUNC, RUNK, TOP, requires
from tests.snippets import EXAMPLE_VENV, snippet

pytestmark = [pytest.mark.install, pytest.mark.slow]


def _sh(line: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", line], cwd=TOP, capture_output=True, text=True, timeout=timeout)


def _fastest_ms(binaries: dict[str, str], rounds: int = 30) -> dict[str, float]:
    """The fastest of `rounds` wall times (the start-up cost itself; other helpers' load only
    adds to the slower runs) of `BINARY --root R state nosuch` (start-up and one lookup) for each,
    measured in turns so that the machine's load weighs on all alike."""
    times: dict[str, list[float]] = {k: [] for k in binaries}
    for _ in range(rounds):
        for name, binary in binaries.items():
            t0 = time.perf_counter()
            subprocess.run(_state_argv(binary), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - t0)
    return {k: min(v) * 1000 for k, v in times.items()}


def _state_argv(binary: str) -> list[str]:
    return [binary, "--root", "/run/runk-install-test-none", "state", "nosuch"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The README's install snippet, line by line, into a venv under the session's tmp dir;
    the console scripts' time is taken before its last line replaces them."""
    requires("root")
    venv = str(tmp_path_factory.mktemp("elsewhere") / "venv")
    lines = snippet("install").strip().splitlines()
    assert lines[-1].endswith("-m runk.launcher"), lines
    for i, line in enumerate(lines):
        if i == len(lines) - 1:  # keep pip's console script, to time it beside the launcher
            shutil.copy2(os.path.join(venv, "bin", "runk"), os.path.join(venv, "bin", "runk-pip-script"))
        r = _sh(line.replace(EXAMPLE_VENV, venv))
        assert r.returncode == 0, (line, r.stdout[-2000:], r.stderr[-2000:])
    yield venv
    shutil.rmtree(venv, ignore_errors=True)


def test_installed_runk_is_not_the_checkout(installed):
    venv = installed
    py = os.path.join(venv, "bin", "python")
    r = subprocess.run([py, "-c", "import runk, runk._native._sys as s; print(runk.__file__); print(s.__file__)"],
                       capture_output=True, text=True, cwd="/", check=True)  # fmt: skip
    for path in r.stdout.split():
        assert path.startswith(venv + "/"), r.stdout
    with open(os.path.join(venv, "bin", "runk")) as f:
        text = f.read()
    assert text.startswith(f"#!{venv}/bin/python -IS\n") and TOP not in text, text


def test_python_m_runk_and_versions(installed):
    venv = installed
    for argv in (
        [os.path.join(venv, "bin", "python"), "-m", "runk", "--version"],
        [os.path.join(venv, "bin", "runk"), "-v"],
    ):
        r = subprocess.run(argv, capture_output=True, text=True, cwd="/")
        assert r.returncode == 0 and r.stdout.startswith("runk version "), (argv, r)
    r = subprocess.run([os.path.join(venv, "bin", "runk-vm"), "features"], capture_output=True, text=True, cwd="/")
    assert r.returncode == 0 and json.loads(r.stdout)["ociVersionMax"], r


def test_installed_runk_runs_a_container(installed, bundle, tmp_path):
    """The trampoline and the cffi module of the installed copy: a real container."""
    venv = installed
    runk = os.path.join(venv, "bin", "runk")
    bundle.sh("echo from-installed; cat /proc/self/status | grep ^NoNewPrivs; exit 3").write()
    root = str(tmp_path / "root")
    r = subprocess.run(
        [runk, "--root", root, "run", "-b", bundle.path, "inst1"], capture_output=True, text=True, timeout=60
    )
    assert (r.returncode, r.stdout.split("\n")[0]) == (3, "from-installed"), r
    # python -m runk goes through the same main
    argv = [os.path.join(venv, "bin", "python"), "-m", "runk", "--root", root, "run", "-b", bundle.path, "inst2"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert r.returncode == 3, r


def _imported(binary: str) -> set[str]:
    """The modules `binary --root R state nosuch` imports: its script run by its own
    interpreter line under -X importtime."""
    with open(binary) as f:
        interp = f.readline()[2:].split()
    r = subprocess.run([*interp, "-X", "importtime", binary, *_state_argv(binary)[1:]], capture_output=True, text=True)
    return {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")} - {
        "package"
    }


def test_launcher_starts_as_lean_as_the_checkouts(installed):
    """The installed launcher is the checkout's: python -IS, no site, and it imports no module the
    checkout's does not, where pip's console script goes through its entry-point machinery. The
    times are printed, not asserted (they are the machine's as much as runk's)."""
    venv = installed
    launcher, script = os.path.join(venv, "bin", "runk"), os.path.join(venv, "bin", "runk-pip-script")
    with open(launcher) as f:
        assert f.readline().rstrip().endswith(" -IS"), "the launcher runs python -I -S"
    mine, checkout = _imported(launcher), _imported(RUNK)
    assert "runk.cli.main" in mine and "site" not in mine, sorted(mine)
    assert mine <= checkout, sorted(mine - checkout)
    assert len(_imported(script)) > len(mine)
    binaries = {"installed launcher": launcher, "checkout launcher": RUNK, "pip console script": script}
    if os.access(RUNC, os.X_OK):
        binaries["runc"] = RUNC
    t = _fastest_ms(binaries)
    print("\n[install timing] runk state, fastest of 30, ms: " + ", ".join(f"{k} {v:.1f}" for k, v in t.items()))


def test_pip_wheel_holds_the_compiled_parts(tmp_path):
    r = subprocess.run([os.path.join(TOP, ".venv", "bin", "pip"), "wheel", "--no-deps", "-q", "-w", str(tmp_path), TOP],
                       capture_output=True, text=True, timeout=600, cwd=TOP)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = [p for p in os.listdir(tmp_path) if p.endswith(".whl")]
    with zipfile.ZipFile(tmp_path / wheel) as z:
        infos = {i.filename: i for i in z.infolist()}
        exe = infos["runk/_native/runk-exec"]
        assert (exe.external_attr >> 16) & 0o111, "runk-exec is not executable in the wheel"
        assert z.read("runk/_native/runk-exec")[:4] == b"\x7fELF"
        assert any(re.fullmatch(r"runk/_native/_sys\..*so", n) for n in infos), sorted(infos)
        entry = z.read(next(n for n in infos if n.endswith("entry_points.txt"))).decode()
        assert "runk = runk.cli.main:console_runk" in entry and "runk-vm = runk.cli.main:console_runk_vm" in entry, (
            entry
        )


def _commands(help_text: str) -> list[str]:
    section = help_text.split("COMMANDS:")[1].split("GLOBAL OPTIONS:")[0]
    return [l.split()[0].rstrip(",") for l in section.splitlines() if l.strip()]


def _flags(help_text: str) -> set[str]:
    return set(re.findall(r"^\s+(--[a-z0-9-]+)", help_text, re.M))


# runc's that runk does not have yet: checkpoint/restore and --criu (CRIU), run --no-subreaper,
# update's Intel RDT schemata
MISSING = {
    "run --no-subreaper",
    "update --l3-cache-schema",
    "update --mem-bw-schema",
}


def test_help_reads_like_runcs():
    requires("runc", "runk")

    def help_of(binary: str, *cmd: str) -> str:
        r = subprocess.run([binary, *cmd, "--help"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, (binary, cmd, r)
        return r.stdout

    runc_top, runk_top = help_of(RUNC), help_of(RUNK)
    for section in ("NAME:", "USAGE:", "VERSION:", "COMMANDS:", "GLOBAL OPTIONS:"):
        assert section in runk_top, section
    gaps = _flags(runc_top) - _flags(runk_top)
    runk_cmds = set(_commands(runk_top))
    for cmd in _commands(runc_top):
        if cmd == "help":
            continue
        if cmd not in runk_cmds:
            gaps.add(cmd)
            continue
        text = help_of(RUNK, cmd)
        assert text.startswith(f"NAME:\n   runk {cmd} - "), text
        assert "USAGE:" in text
        gaps |= {f"{cmd} {f}" for f in _flags(help_of(RUNC, cmd)) - _flags(text)}
    assert gaps == MISSING, gaps ^ MISSING


def _complete(venv_bin: str, words: str) -> list[str]:
    """Source the README's completion line in bash and ask the function for `words` (the last,
    maybe empty, word being completed)."""
    parts = words.split(" ")  # "runk " gives ["runk", ""]: completing an empty word
    array = " ".join(f"'{w}'" for w in parts)
    script = (
        snippet("bash-completion")
        + f"COMP_WORDS=({array}); COMP_CWORD={len(parts) - 1}; _runk_completion runk; "
        + "printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    env = dict(os.environ, PATH=f"{venv_bin}:{os.environ['PATH']}")
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 0, r
    return r.stdout.split()


def test_bash_completion(installed):
    venv = installed
    bindir = os.path.join(venv, "bin")
    assert _complete(bindir, "runk sta") == ["start", "state"]
    assert {"create", "delete", "exec", "kill", "run", "update"} <= set(_complete(bindir, "runk "))
    assert _complete(bindir, "runk --ro") == ["--root", "--rootless"]
    assert "--all" in _complete(bindir, "runk kill --")
    assert _complete(bindir, "runk exec --us") == ["--user"]
