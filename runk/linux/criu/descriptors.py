"""The init's stdio across a checkpoint (descriptors.json in the image directory, as runc writes it).

Runs in the parent. At dump, what fds 0-2 of the init are (readlink of /proc/PID/fd/N: "pipe:[I]",
"/dev/pts/0", a path) is written beside the images. At restore a pipe cannot be recreated (its
other end is outside the container): CRIU is told to give the restored task, in place of each
pipe, the same fd of its own (CRIU's stdio are the restore command's: conmon's pipes).
"""

from __future__ import annotations

from runk import _json
from runk import _os as os
from runk.errors import RunkError

FILE = "descriptors.json"


def write(image_dir: str, pid: int) -> None:
    links = []
    for n in range(3):
        try:
            links.append(os.readlink(f"/proc/{pid}/fd/{n}"))
        except OSError:
            links.append("")
    path = os.path.join(image_dir, FILE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, _json.dumps(links).encode())
    finally:
        os.close(fd)


def inherit_fds(image_dir: str) -> list[dict[str, object]]:
    """inherit_fd entries for the pipes among the saved stdio."""
    path = os.path.join(image_dir, FILE)
    try:
        with open(path, "rb") as f:
            links = _json.loads(f.read(1 << 16))
    except OSError as e:
        raise RunkError(f"open {path}: {os.strerror(e.errno or 0).lower()}") from None
    except ValueError:
        raise RunkError(f"{path}: not a JSON list of the saved descriptors") from None
    if not isinstance(links, list):
        raise RunkError(f"{path}: not a JSON list of the saved descriptors")
    return [{"key": s, "fd": i} for i, s in enumerate(links) if isinstance(s, str) and "pipe:" in s]
