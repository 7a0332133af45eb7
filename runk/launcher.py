"""The fast launchers `runk` and `runk-vm`: `python -m runk.launcher [BINDIR]`.

pip's console scripts start the interpreter with site (every .pth file of site-packages) and
import `re` before runk's code runs: about 20 ms more per command than runk needs. A launcher
written here runs the same interpreter with -I -S and puts the install's paths on sys.path
itself: the directory runk is imported from first when it is not site-packages (an editable
install, a checkout), site-packages after the standard library, where site.py would put it. It
then leaves without the interpreter's finalization (runk.cli.main.entry).

Writes BINDIR/runk and BINDIR/runk-vm (default: the directory of this interpreter, that is the
venv's bin, replacing pip's console scripts). scripts/setup runs it for the checkout's .venv.
"""

from __future__ import annotations

import os
import sys
import sysconfig

NAMES = ("runk", "runk-vm")


def launcher_text(python: str, code_dir: str, site: str, name: str) -> str:
    """The launcher script for `name`: `code_dir` (the directory holding the runk package)
    is inserted first unless it is site-packages itself."""
    lines = [f"#!{python} -IS", "import sys"]
    if os.path.realpath(code_dir) != os.path.realpath(site):
        lines.append(f"sys.path.insert(0, {code_dir!r})")
    lines += [f"sys.path.append({site!r})", "from runk.cli.main import entry", f"entry({name!r})", ""]
    return "\n".join(lines)


def write_launchers(bindir: str) -> list[str]:
    import runk

    python = sys.executable  # the venv's own path, not the interpreter it links to
    site = sysconfig.get_paths()["purelib"]
    if os.path.isfile(os.path.join(site, "runk", "__init__.py")):
        code_dir = site  # installed (`pip install .`), whatever directory this runs in
    else:
        code_dir = os.path.dirname(os.path.dirname(os.path.abspath(runk.__file__)))  # editable
    written = []
    for name in NAMES:
        path = os.path.join(bindir, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(launcher_text(python, code_dir, site, name))
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        print("usage: python -m runk.launcher [BINDIR]", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    bindir = argv[0] if argv else os.path.dirname(sys.executable)
    for path in write_launchers(bindir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
