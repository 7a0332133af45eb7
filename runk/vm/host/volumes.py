"""Direct-assigned volumes of a VM container (host, runk create): a mount whose source is a
block device or a file holding a file system is attached to the VM as a virtio-blk disk and
mounted inside the guest only; the host never mounts it (not even in virtiofsd's staging
namespace), as Kata's direct-assigned volumes.

Two forms name one:
  - a mount of a file system type (not a bind) whose source is a block device or a regular
    file: {"destination": "/data", "type": "ext4", "source": "/srv/data.img"};
  - the annotation runk.vm.direct-volumes=DEST[:FSTYPE][,...] (podman: --annotation) naming the
    destination of a bind mount whose source is such a device or file (`-v /srv/data.img:/data`);
    FSTYPE defaults to ext4.
Each disk carries a serial (runkvolN); the guest agent links /dev/runk-volumes/<serial> to its
/dev/vdX and the container's mount uses that path.
"""

from __future__ import annotations

import os
import stat

from runk.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ANN_DIRECT = "runk.vm.direct-volumes"
GUEST_DIR = "/dev/runk-volumes"
DEFAULT_FSTYPE = "ext4"
_BIND_OPTIONS = ("bind", "rbind")


class Volume:
    __slots__ = ("fstype", "index", "serial", "source")

    def __init__(self, index: int, source: str, fstype: str, serial: str) -> None:
        self.index, self.source, self.fstype, self.serial = index, source, fstype, serial

    @property
    def guest_source(self) -> str:
        return f"{GUEST_DIR}/{self.serial}"


def _annotated(cfg: dict[str, Any]) -> dict[str, str]:
    """{destination: fstype} of the runk.vm.direct-volumes annotation."""
    raw = (cfg.get("annotations") or {}).get(ANN_DIRECT) or ""
    out = {}
    for item in filter(None, (s.strip() for s in raw.split(","))):
        dest, _, fstype = item.partition(":")
        if not dest.startswith("/"):
            raise ConfigError(f"annotations.{ANN_DIRECT}", f"{item!r}: expected an absolute destination[:fstype]")
        out[os.path.normpath(dest)] = fstype or DEFAULT_FSTYPE
    return out


def _is_bind(m: dict[str, Any]) -> bool:
    return m.get("type") == "bind" or any(o in _BIND_OPTIONS for o in m.get("options") or [])


def find(cfg: dict[str, Any], bundle: str) -> list[Volume]:
    annotated = _annotated(cfg)
    found: set[str] = set()
    out: list[Volume] = []
    for i, m in enumerate(cfg.get("mounts") or []):
        dest = os.path.normpath(m.get("destination") or "")
        src = m.get("source") or ""
        if dest in annotated:
            fstype = annotated[dest]
            found.add(dest)
        elif _is_bind(m) or not src.startswith("/") or m.get("type") in (None, "", "none"):
            continue
        else:
            fstype = m["type"]
            try:
                st = os.stat(src)
            except OSError:
                continue  # a named source of a pseudo file system (tmpfs, proc, ...)
            if not (stat.S_ISBLK(st.st_mode) or stat.S_ISREG(st.st_mode)):
                continue
        if not os.path.isabs(src):
            src = os.path.join(bundle, src)
        try:
            st = os.stat(src)
        except OSError as e:
            raise ConfigError(
                f"mounts[{i}]", f"direct-assigned volume {src}: {os.strerror(e.errno or 0).lower()}"
            ) from None
        if not (stat.S_ISBLK(st.st_mode) or stat.S_ISREG(st.st_mode)):
            raise ConfigError(f"mounts[{i}]", f"direct-assigned volume {src}: not a block device or a regular file")
        out.append(Volume(i, src, fstype, f"runkvol{len(out)}"))
    missing = sorted(set(annotated) - found)
    if missing:
        raise ConfigError(f"annotations.{ANN_DIRECT}", f"no mount at {', '.join(missing)}")
    return out


def guest_mount(m: dict[str, Any], vol: Volume) -> dict[str, Any]:
    """The mount as the guest makes it: the disk, its file system type, the other options."""
    opts = [o for o in m.get("options") or [] if o not in _BIND_OPTIONS]
    return {"destination": m["destination"], "type": vol.fstype, "source": vol.guest_source, "options": opts}
