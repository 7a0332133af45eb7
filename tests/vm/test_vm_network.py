"""runk-vm containers on the network podman gives them (runk.vm.host.netplug, runk.vm.guest.netconf):
the network namespace's interface reaches the guest through a tap and tc redirects, so a VM
container talks to a runc container on the same bridge network, finds it by name through the
network's DNS, and serves a port published on the host; `--network host` is refused."""

from __future__ import annotations

import os
import time
import urllib.request
import uuid

import pytest

from tests.conftest import RUNC

pytestmark = [pytest.mark.vm, pytest.mark.slow]


@pytest.fixture(scope="module")
def net(podman):
    run, _image = podman
    name = f"rkvmnet{uuid.uuid4().hex[:6]}"
    r = run("network", "create", name)
    assert r.returncode == 0, r.stderr
    yield name
    run("rm", "--all", "--force")
    run("network", "rm", "--force", name)


def _served(path: str, text: str) -> list[str]:
    return ["sh", "-c", f"mkdir -p {path} && echo {text} > {path}/index.html && exec httpd -f -p 8080 -h {path}"]


def test_vm_container_reaches_a_runc_container_by_name(podman, net):
    run, image = podman
    server = f"srv{uuid.uuid4().hex[:6]}"
    r = run("--runtime", RUNC, "run", "-d", "--name", server, "--network", net, image, *_served("/w", "from-runc"))
    assert r.returncode == 0, r.stderr
    script = (
        "ip -o -4 addr show dev eth0 | tr -s ' ' | cut -d' ' -f2,4; "
        f"for i in $(seq 50); do wget -qO- http://{server}:8080/ && exit 0; sleep 0.2; done; exit 1"
    )
    r = run("run", "--rm", "--network", net, image, "sh", "-c", script)
    assert r.returncode == 0, (r.stdout, r.stderr)
    eth0, served = r.stdout.splitlines()
    assert eth0.startswith("eth0 10.") and served == "from-runc", r.stdout
    run("rm", "--force", server)


def test_port_published_from_the_host_reaches_the_vm(podman):
    run, image = podman
    port = 20000 + uuid.uuid4().int % 20000
    r = run("run", "-d", "-p", f"127.0.0.1:{port}:8080", image, *_served("/w", "from-vm"))
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    deadline, body = time.monotonic() + 60, None
    while body is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                body = resp.read().decode().strip()
        except OSError:
            assert time.monotonic() < deadline, "the published port never answered"
            time.sleep(0.5)
    assert body == "from-vm"
    r = run("exec", cid, "uname", "-r")
    assert r.returncode == 0 and r.stdout.strip() not in ("", os.uname().release), r  # the guest's kernel serves
    run("rm", "--force", cid)


def test_network_none_has_loopback_only(podman):
    run, image = podman
    r = run("run", "--rm", "--network", "none", image, "sh", "-c", "ip -o link | cut -d: -f2 | tr -d ' '")
    assert (r.returncode, r.stdout.split()) == (0, ["lo"]), r.stderr


def test_network_host_is_refused(podman):
    run, image = podman
    r = run("run", "--rm", "--network", "host", image, "true")
    assert r.returncode != 0
    assert "a VM cannot share the host's network stack" in r.stderr, r.stderr
