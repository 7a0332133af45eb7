"""Which kernel modules the guest needs, in load order: kmod's depmod and modprobe (host, build).

Debian's kernel packages ship no modules.dep (depmod makes it when the package is installed, and
the guest kernel is only extracted), so `stage()` gives each kernel a staged tree in the asset
directory, <directory>/depmod/<key>/lib/modules/<release>/, whose `kernel/` and modules.builtin*
are symlinks into the extracted package, and runs `depmod -b <staged root> <release>` on it once
(dependencies from the modules' symbols, soft dependencies and aliases from their .modinfo).
`resolve()` then asks `modprobe --show-depends` (same root) for the insmod order of the wanted
modules: hard and soft dependencies first, modules built into the kernel skipped. Both programs
are Debian's kmod package (scripts/setup installs it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile

MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")
# what depmod reads besides kernel/ (modules.builtin*: built-in modules and their aliases)
INPUTS = ("kernel", "modules.builtin", "modules.builtin.modinfo", "modules.order")
SBIN = ("/usr/sbin", "/sbin")


class ModuleError(RuntimeError):
    pass


def normalize(name: str) -> str:
    """Module names treat - and _ alike (modprobe does)."""
    return name.replace("-", "_")


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))
    if path is None:
        raise ModuleError(f"{name} not found: the guest's modules need kmod (apt-get install kmod)")
    return path


def _split(modules_dir: str) -> tuple[str, str]:
    """(tree root, release) of <root>/lib/modules/<release>."""
    modules_dir = os.path.abspath(modules_dir)
    parent, release = os.path.split(modules_dir)
    if not parent.endswith("/lib/modules"):
        raise ModuleError(f"{modules_dir}: expected a <root>/lib/modules/<release> directory")
    return parent[: -len("/lib/modules")], release


def stage(modules_dir: str, directory: str) -> str:
    """The root of a depmod'ed staged tree for `modules_dir` under `directory`, made once."""
    _root, release = _split(modules_dir)
    if not os.path.isdir(os.path.join(modules_dir, "kernel")):
        raise ModuleError(f"{modules_dir} has no kernel/ directory of modules")
    key = hashlib.sha256(os.path.abspath(modules_dir).encode()).hexdigest()[:16]
    base = os.path.join(directory, "depmod")
    root = os.path.join(base, key)
    if os.path.exists(os.path.join(root, "lib", "modules", release, "modules.dep.bin")):
        return root
    os.makedirs(base, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{key}-", dir=base)
    try:
        tree = os.path.join(tmp, "lib", "modules", release)
        os.makedirs(tree)
        for name in INPUTS:
            if os.path.exists(os.path.join(modules_dir, name)):
                os.symlink(os.path.join(os.path.abspath(modules_dir), name), os.path.join(tree, name))
        cp = subprocess.run([_tool("depmod"), "-b", tmp, release], capture_output=True, text=True, timeout=300)
        if cp.returncode != 0:
            raise ModuleError(f"depmod -b {tmp} {release} failed: {cp.stderr.strip()}")
        try:
            os.rename(tmp, root)
        except OSError:  # another build staged it first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def parse_show_depends(text: str) -> list[str]:
    """The module paths of `modprobe --show-depends` output, in order, each once ("builtin X"
    lines need nothing loaded; options after the path are not wanted)."""
    out: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "insmod" and words[1] not in out:
            out.append(words[1])
    return out


def resolve(modules_dir: str, wanted: list[str] | tuple[str, ...], directory: str) -> list[str]:
    """Paths (in `modules_dir`) of `wanted` and everything they need, each after its
    dependencies (insmod order); built-in modules are left out. An unknown module is an error;
    an unknown soft dependency is skipped, as modprobe does."""
    if not wanted:
        return []
    _root, release = _split(modules_dir)
    root = stage(modules_dir, directory)
    cp = subprocess.run(
        [_tool("modprobe"), "--show-depends", "--dirname", root, "--set-version", release, "--all", *wanted],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if cp.returncode != 0:
        err = cp.stderr.strip().splitlines()
        raise ModuleError(err[-1] if err else f"modprobe failed ({cp.returncode})")
    staged = os.path.join(root, "lib", "modules", release) + "/"
    paths = []
    for path in parse_show_depends(cp.stdout):
        if not path.startswith(staged):
            raise ModuleError(f"modprobe named {path}, outside {staged}")
        paths.append(os.path.join(modules_dir, path[len(staged) :]))
    return paths
