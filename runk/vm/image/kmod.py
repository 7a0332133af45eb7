"""Kernel modules without depmod: `.modinfo` from the ELF file, dependency order (VM.md).

Debian's kernel packages ship no modules.dep (depmod makes it at install time) and the host has no
depmod, so the initramfs builder reads each `.ko`'s `.modinfo` section itself: `depends=` (hard,
by module name) and `softdep=pre: ...` (soft; names or aliases, e.g. `crypto-crc32c`). Modules
built into the kernel (modules.builtin, modules.builtin.modinfo) are dependencies already met.
"""
from __future__ import annotations

import os
import struct

MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")


class ModuleError(RuntimeError):
    pass


def normalize(name: str) -> str:
    """Module names treat - and _ alike (modprobe does)."""
    return name.replace("-", "_")


def read_modinfo(path: str) -> list[tuple[str, str]]:
    """(key, value) pairs of the .modinfo section of an uncompressed ELF64 little-endian .ko,
    in file order (keys repeat: alias, softdep, parm)."""
    if not path.endswith(".ko"):
        raise ModuleError(f"{path}: compressed modules are not supported")
    with open(path, "rb") as f:
        ehdr = f.read(64)
        if ehdr[:4] != b"\x7fELF" or ehdr[4] != 2 or ehdr[5] != 1:
            raise ModuleError(f"{path}: not an ELF64 little-endian file")
        shoff = struct.unpack_from("<Q", ehdr, 0x28)[0]
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ehdr, 0x3A)
        f.seek(shoff)
        table = f.read(shentsize * shnum)
        secs = [struct.unpack_from("<IIQQQQ", table, i * shentsize) for i in range(shnum)]
        f.seek(secs[shstrndx][4])
        names = f.read(secs[shstrndx][5])
        for sh_name, _type, _flags, _addr, offset, size in secs:
            if names[sh_name:names.index(b"\0", sh_name)] == b".modinfo":
                f.seek(offset)
                data = f.read(size)
                break
        else:
            raise ModuleError(f"{path}: no .modinfo section")
    out = []
    for item in data.split(b"\0"):
        if b"=" in item:
            k, v = item.decode("utf-8", "replace").split("=", 1)
            out.append((k, v))
    return out


def parse_softdeps(values: list[str]) -> tuple[list[str], list[str]]:
    """(pre, post) from softdep values like "pre: a b post: c"."""
    pre, post = [], []
    target = None
    for value in values:
        for tok in value.split():
            if tok == "pre:":
                target = pre
            elif tok == "post:":
                target = post
            elif target is not None:
                target.append(tok)
    return pre, post


class ModuleInfo:
    __slots__ = ("name", "path", "depends", "softdep_pre", "aliases")

    def __init__(self, name: str, path: str, pairs: list[tuple[str, str]]) -> None:
        self.name = name
        self.path = path
        deps = [v for k, v in pairs if k == "depends"]
        self.depends = [normalize(d) for d in ",".join(deps).split(",") if d]
        self.softdep_pre = parse_softdeps([v for k, v in pairs if k == "softdep"])[0]
        self.aliases = [v for k, v in pairs if k == "alias"]

    @classmethod
    def from_file(cls, path: str) -> "ModuleInfo":
        pairs = read_modinfo(path)
        names = [v for k, v in pairs if k == "name"]
        base = os.path.basename(path).split(".ko")[0]
        return cls(normalize(names[0] if names else base), path, pairs)

    def __repr__(self) -> str:
        return f"ModuleInfo({self.name}, depends={self.depends}, pre={self.softdep_pre})"


class ModuleIndex:
    """The modules of one kernel (/lib/modules/<release>), indexed by normalized name."""

    def __init__(self, modules_dir: str) -> None:
        self.dir = modules_dir
        self.files: dict[str, str] = {}
        for top, dirs, files in os.walk(os.path.join(modules_dir, "kernel")):
            dirs.sort()
            for f in sorted(files):
                if f.endswith(MODULE_SUFFIXES):
                    self.files.setdefault(normalize(f.split(".ko")[0]), os.path.join(top, f))
        self.builtin: set[str] = set()
        try:
            with open(os.path.join(modules_dir, "modules.builtin")) as f:
                for line in f:
                    line = line.strip()
                    if line:
                        self.builtin.add(normalize(os.path.basename(line).split(".ko")[0]))
        except FileNotFoundError:
            pass
        self._info: dict[str, ModuleInfo] = {}
        self._builtin_aliases: dict[str, str] | None = None
        self._aliases: dict[str, str] | None = None

    def info(self, name: str) -> ModuleInfo:
        name = normalize(name)
        if name not in self._info:
            if name not in self.files:
                raise ModuleError(f"module {name} is neither in {self.dir}/kernel nor built in")
            self._info[name] = ModuleInfo.from_file(self.files[name])
        return self._info[name]

    def _load_builtin_aliases(self) -> dict[str, str]:
        if self._builtin_aliases is None:
            self._builtin_aliases = {}
            try:
                with open(os.path.join(self.dir, "modules.builtin.modinfo"), "rb") as f:
                    for item in f.read().split(b"\0"):
                        mod, _, kv = item.decode("utf-8", "replace").partition(".")
                        if kv.startswith("alias="):
                            self._builtin_aliases.setdefault(kv[6:], normalize(mod))
            except FileNotFoundError:
                pass
        return self._builtin_aliases

    def _load_aliases(self) -> dict[str, str]:
        """alias → module over every loadable module (read lazily: ~1000 files)."""
        if self._aliases is None:
            self._aliases = {}
            for name in self.files:
                try:
                    for alias in self.info(name).aliases:
                        self._aliases.setdefault(alias, name)
                except ModuleError:
                    continue
        return self._aliases

    def lookup(self, name_or_alias: str) -> str | None:
        """The loadable module for a name or alias; "" when it is built in; None if unknown."""
        n = normalize(name_or_alias)
        if n in self.builtin:
            return ""
        if n in self.files:
            return n
        if name_or_alias in self._load_builtin_aliases():
            return ""
        return self._load_aliases().get(name_or_alias)

    def resolve(self, wanted: list[str] | tuple[str, ...]) -> list[ModuleInfo]:
        """`wanted` and everything they need, each after its dependencies (insmod order).
        Hard dependencies must exist; unknown soft dependencies are skipped, as modprobe does."""
        order: list[ModuleInfo] = []
        done: set[str] = set()
        visiting: list[str] = []

        def visit(name: str, soft: bool) -> None:
            mod = self.lookup(name)
            if mod == "" or mod in done:
                return
            if mod is None:
                if soft:
                    return
                raise ModuleError(f"module {name} is neither in {self.dir}/kernel nor built in")
            if mod in visiting:
                raise ModuleError(f"dependency cycle: {' -> '.join(visiting + [mod])}")
            visiting.append(mod)
            info = self.info(mod)
            for dep in info.softdep_pre:
                visit(dep, True)
            for dep in info.depends:
                visit(dep, False)
            visiting.pop()
            done.add(mod)
            order.append(info)

        for name in wanted:
            visit(name, False)
        return order
