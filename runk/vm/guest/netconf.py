"""The guest's side of the container's network (agent): the NICs qemu made from the taps of
runk.vm.host.netplug get the names, MTUs, addresses and routes of the host namespace's
interfaces they stand for, so the container sees what it would see under runc (eth0 with the
address podman or CNI gave it, the default route through the bridge). Found by MAC: each NIC
has its interface's. The container then uses the guest's network namespace, which holds them.
"""

from __future__ import annotations

import time

from runk.errors import RunkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FIND_SECONDS = 10.0  # the NIC appears once virtio_net probed it: early in boot, bounded anyway


class NetError(RunkError):
    pass


def _find(ipr: Any, mac: str) -> int:
    deadline = time.monotonic() + FIND_SECONDS
    while True:
        found = ipr.link_lookup(address=mac)
        if found:
            return int(found[0])
        if time.monotonic() > deadline:
            raise NetError(f"network: no NIC with MAC {mac} in the guest after {FIND_SECONDS:g} s")
        time.sleep(0.05)


def configure(interfaces: list[dict[str, Any]]) -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        (lo,) = ipr.link_lookup(ifname="lo")
        ipr.link("set", index=lo, state="up")
        for nic in interfaces:
            index = _find(ipr, nic["mac"])
            try:
                ipr.link("set", index=index, state="down")
                ipr.link("set", index=index, ifname=nic["name"], mtu=nic["mtu"])
                for family, address, prefixlen in nic["addresses"]:
                    ipr.addr("add", index=index, address=address, prefixlen=prefixlen, family=family)
                ipr.link("set", index=index, state="up")
                for r in nic["routes"]:
                    route = {"oif": index, "family": r["family"], "dst_len": r["dst_len"], "scope": r["scope"]}
                    if r.get("dst"):
                        route["dst"] = r["dst"]
                    if r.get("gateway"):
                        route["gateway"] = r["gateway"]
                    ipr.route("add", **route)
            except Exception as e:
                raise NetError(f"network: setting up {nic['name']} in the guest: {e}") from None


def share_guest_netns(cfg: dict[str, Any]) -> None:
    """The container joins the guest's network namespace (where the NICs are): no new one."""
    linux = cfg.get("linux") or {}
    if linux.get("namespaces") is not None:
        linux["namespaces"] = [ns for ns in linux["namespaces"] if ns.get("type") != "network"]
