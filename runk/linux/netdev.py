"""linux.netDevices: move host network devices into the container's network namespace and
rename them, in one RTM_NEWLINK (IFLA_NET_NS_FD + IFLA_IFNAME), through pyroute2.

Runs in the parent, between the init's `pid` and `go` messages. pyroute2 costs ~150 ms to
import, so it is imported here only, when a config has netDevices (the loopback of a new
namespace comes up with an ioctl in runk.linux.syscalls instead).
"""

from __future__ import annotations

import os

from runk.errors import RunkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def move_devices(pid: int, devices: dict[str, Any]) -> None:
    from pyroute2 import IPRoute  # ~150 ms: only for configs with linux.netDevices

    nsfd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        with IPRoute() as ipr:
            for host_name, spec in devices.items():
                idx = ipr.link_lookup(ifname=host_name)
                if not idx:
                    raise RunkError(f"linux.netDevices: network device {host_name!r} not found on the host")
                new_name = (spec or {}).get("name") or host_name
                try:
                    ipr.link("set", index=idx[0], net_ns_fd=nsfd, ifname=new_name)
                except Exception as e:  # pyroute2's NetlinkError carries the errno as code
                    code = getattr(e, "code", 0)
                    raise RunkError(
                        f"linux.netDevices: move {host_name} into the container as "
                        f"{new_name}: {os.strerror(code).lower() if code else e}"
                    ) from None
    finally:
        os.close(nsfd)
