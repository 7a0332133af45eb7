"""The container's network namespace plugged into its VM (supervisor, host), as Kata's default
does: whatever set up the namespace (podman's netavark, CNI, containerd's CRI plugin) left an
interface there with addresses and routes (a veth into a bridge). For each such interface the
supervisor adds a tap device beside it and joins the two with tc: an ingress qdisc on each and a
u32 match-all filter whose mirred action redirects every frame to the other's egress. qemu opens
the tap as a virtio-net NIC with the interface's MAC, and the guest agent gives that NIC the
interface's name, MTU, addresses and routes (runk.vm.guest.netconf). The namespace's own stack
sees no frame; the container's packets leave and arrive through the interface as they would
under runc, so bridges, port forwarding and DNS of the network outside work unchanged.

Runs in the supervisor, which is in the container's network namespace (backend/vm.py), each
call in a short-lived child (`isolated`): pyroute2 and what it imports (asyncio, ssl, sqlite3,
ctypes: about 10 MiB resident) would otherwise stay in the supervisor for the VM's whole life.
pyroute2 does the netlink work on this side and in the guest.
"""

from __future__ import annotations

import os
import socket

from runk.errors import RunkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

TAP_PREFIX = "rktap"  # taps of ours: removed at unplug, and stale ones before a plug
INGRESS = 0xFFFF0000  # the ingress qdisc's handle (ffff:)


class PlugError(RunkError):
    pass


def _attr(msg: Any, name: str) -> Any:
    return msg.get_attr(name)


def interfaces(ipr: Any) -> list[dict[str, Any]]:
    """The namespace's plugged interfaces: up, not loopback, not a tap of ours, with an address;
    each as {name, index, mac, mtu, addresses: [[family, address, prefixlen]], routes: [...]}."""
    out = []
    for link in ipr.get_links():
        name = _attr(link, "IFLA_IFNAME")
        if name == "lo" or name.startswith(TAP_PREFIX) or not _attr(link, "IFLA_ADDRESS"):
            continue
        index = link["index"]
        addrs = [
            [a["family"], _attr(a, "IFA_ADDRESS"), a["prefixlen"]]
            for a in ipr.get_addr(index=index)
            if a["scope"] == 0  # global: link-local ones the guest's kernel makes itself
        ]
        if not addrs:
            continue
        out.append(
            {
                "name": name,
                "index": index,
                "mac": _attr(link, "IFLA_ADDRESS"),
                "mtu": _attr(link, "IFLA_MTU"),
                "addresses": addrs,
                "routes": routes(ipr, index),
            }
        )
    return out


def routes(ipr: Any, index: int) -> list[dict[str, Any]]:
    """The main table's routes through `index` that its addresses do not already make:
    {family, dst (None: default), dst_len, gateway, scope}."""
    out = []
    for family in (socket.AF_INET, socket.AF_INET6):
        for r in ipr.get_routes(family=family, table=254):
            if _attr(r, "RTA_OIF") != index or r["proto"] == 2:  # 2: made by the kernel for an address
                continue
            gateway = _attr(r, "RTA_GATEWAY")
            dst = _attr(r, "RTA_DST")
            if family == socket.AF_INET6 and gateway is None and dst and dst.startswith("fe80:"):
                continue
            out.append(
                {"family": int(family), "dst": dst, "dst_len": r["dst_len"], "gateway": gateway, "scope": r["scope"]}
            )
    return out


def _redirect(ipr: Any, from_index: int, to_index: int) -> None:
    ipr.tc("add", "ingress", from_index, INGRESS)
    ipr.tc(
        "add-filter",
        "u32",
        from_index,
        parent=INGRESS,
        protocol=0x0003,  # ETH_P_ALL
        prio=49152,
        keys=["0x0/0x0+0"],
        target=0x10001,  # flowid 1:1 (pyroute2 sends a classid; ingress has no classes)
        action={"kind": "mirred", "direction": "egress", "action": "redirect", "ifindex": to_index},
    )


def isolated(fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args) run in a forked child (same namespaces), its JSON result or its error brought
    back; the child's imports end with it."""
    from runk import _json

    r, w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            try:
                doc = {"ok": fn(*args)}
            except BaseException as e:
                from runk.errors import describe

                doc = {"error": str(e) if isinstance(e, RunkError) else describe(e)}
            data = _json.dumps(doc).encode()
            while data:
                data = data[os.write(w, data) :]
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    try:
        while chunk := os.read(r, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    try:
        got = _json.loads(b"".join(chunks))
    except ValueError:
        raise PlugError("network: the netlink helper died") from None
    if not isinstance(got, dict):
        raise PlugError("network: the netlink helper died")
    if "error" in got:
        raise PlugError(str(got["error"]))
    return got["ok"]


def plug() -> list[dict[str, Any]]:
    """A tap for each interface, joined to it both ways; the list of interfaces, each with its
    "tap" name. Nothing to plug (only loopback): []."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        _remove_taps(ipr)
        nics = interfaces(ipr)
        try:
            for i, nic in enumerate(nics):
                tap = f"{TAP_PREFIX}{i}"
                ipr.link("add", ifname=tap, kind="tuntap", mode="tap")
                (tap_index,) = ipr.link_lookup(ifname=tap)
                ipr.link("set", index=tap_index, mtu=nic["mtu"], state="up")
                _redirect(ipr, nic["index"], tap_index)
                _redirect(ipr, tap_index, nic["index"])
                nic["tap"] = tap
        except Exception as e:
            _unplug(ipr, nics)
            raise PlugError(f"network: joining the namespace's interfaces to the VM: {e}") from None
    return nics


def unplug(nics: list[dict[str, Any]]) -> None:
    """The taps removed and the interfaces' ingress qdiscs with them (best effort: the namespace
    may be gone already)."""
    if not nics:
        return
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        _unplug(ipr, nics)


def _unplug(ipr: Any, nics: list[dict[str, Any]]) -> None:
    for nic in nics:
        try:
            ipr.tc("del", "ingress", nic["index"], INGRESS)
        except Exception:
            pass
    _remove_taps(ipr)


def _remove_taps(ipr: Any) -> None:
    for link in ipr.get_links():
        if (_attr(link, "IFLA_IFNAME") or "").startswith(TAP_PREFIX):
            try:
                ipr.link("del", index=link["index"])
            except Exception:
                pass
