"""The git commit runk runs from, for `runk --version`: read from the checkout's .git files
(a worktree's `gitdir:` file, loose refs, packed-refs), without running git. "unknown" when runk
does not run from a git checkout.

Runs in the parent, only for --version. Imports only runk._os.
"""

from __future__ import annotations

from runk import _os as os


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(65536).strip()
    except (OSError, UnicodeDecodeError):
        return None


def _git_dir(top: str) -> str | None:
    dot = os.path.join(top, ".git")
    if os.path.isdir(dot):
        return dot
    text = _read(dot)
    if text and text.startswith("gitdir: "):
        return os.path.join(top, text[len("gitdir: ") :])
    return None


def _resolve(gitdir: str, ref: str) -> str | None:
    common = _read(os.path.join(gitdir, "commondir"))
    dirs = [gitdir] + ([os.path.join(gitdir, common)] if common else [])
    for d in dirs:
        value = _read(os.path.join(d, ref))
        if value:
            return value
    for d in dirs:
        for line in (_read(os.path.join(d, "packed-refs")) or "").splitlines():
            sha, _, name = line.partition(" ")
            if name == ref:
                return sha
    return None


def commit(top: str | None = None) -> str:
    """The commit id of the checkout holding the runk package, or "unknown"."""
    if top is None:
        top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    gitdir = _git_dir(top)
    head = _read(os.path.join(gitdir, "HEAD")) if gitdir else None
    if gitdir is None or not head:
        return "unknown"
    if head.startswith("ref: "):
        sha = _resolve(gitdir, head[len("ref: ") :])
        return sha or "unknown"
    return head
