"""What `runk --version` prints (runc's lines: version, commit, spec, then runk's python and
libseccomp). Runs in the parent; imports no click, so `runk --version` alone skips the command
tree."""

from __future__ import annotations

import sys


def version_text() -> str:
    try:
        from runk.linux import seccomp

        lsv = seccomp.libseccomp_version()
    except (ImportError, AttributeError, OSError):
        lsv = "unknown"
    from runk.cli.commit import commit
    from runk.version import OCI_VERSION, __version__

    python = sys.version.split()[0]  # platform.python_version()'s text, without platform's imports
    return f"runk version {__version__}\ncommit: {commit()}\nspec: {OCI_VERSION}\npython: {python}\nlibseccomp: {lsv}"
