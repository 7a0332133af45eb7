"""A Kubernetes node's runtime path without a kubelet: a private containerd with its CRI plugin,
two RuntimeClass-style handlers on containerd's runc shim (`runk`: BinaryName = runk, from the
README's snippet; `runc`: Debian's runc), a CNI bridge network for the pods, and a CRI client
(criapi.py) speaking to it as kubelet would.

Images: the tests' busybox rootfs, and a pause image built from it (/pause: a shell that waits
for a signal), loaded into containerd's "k8s.io" namespace with `ctr image import`. Skips with the
reason when containerd, its shim, the CNI plugins or grpcio are missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import uuid

import pytest

from tests.conftest import RUNC, RUNK, requires, shared_rootfs
from tests.containerd.daemon import IMAGE, Containerd, build_oci_archive
from tests.snippets import snippet

PAUSE_IMAGE = "localhost/runk-cri-pause:latest"
CNI_BIN = "/usr/lib/cni"
NAMESPACE = "k8s.io"
PAUSE = """#!/bin/sh
# a pod's sandbox: hold the namespaces until told to stop
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
"""


def cri_config(state_dir: str, runk: str) -> str:
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    runtimes = f"{cri}.containerd.runtimes"
    # the README's snippet for a `runk` handler, as a user copies it (their runk, our Root)
    handler = snippet("containerd-config.toml", runk).replace('"/run/containerd/runk"', f'"{state_dir}/runtime-runk"')
    return f"""
[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # the sandbox asks for oom_score_adj -998; lowering it needs CAP_SYS_RESOURCE, which this
  # machine's bounding set lacks (runc and runk both fail the write): clamp it, as on such nodes
  restrict_oom_score_adj = true
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[{runtimes}.runc]
  runtime_type = "io.containerd.runc.v2"
[{runtimes}.runc.options]
  BinaryName = "{RUNC}"
  Root = "{state_dir}/runtime-runc"
{handler}
[{cri}.cni]
  bin_dir = "{CNI_BIN}"
  conf_dir = "{state_dir}/cni"
  max_conf_num = 1
"""


class CriNode:
    """The node: containerd with CRI, the CNI config, the images, and a client."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.bridge = f"rkcri{self.tag[:4]}"
        self.cgroup_parent = f"/runk-cri-test-{self.tag}"
        self.ctrd = Containerd(cri="")  # the plugin's config needs the state dir: written below
        self.state_dir = self.ctrd.state_dir
        with open(self.ctrd.config, "a") as f:
            f.write(cri_config(self.state_dir, RUNK))
        self.logs = os.path.join(self.state_dir, "pod-logs")
        os.makedirs(self.logs)
        self._cni()
        self.client = None

    def _cni(self) -> None:
        conf = os.path.join(self.state_dir, "cni")
        os.makedirs(conf)
        ipam_dir = os.path.join(self.state_dir, "cni-ipam")
        with open(os.path.join(conf, "10-runk-cri-test.conflist"), "w") as f:
            f.write(f"""{{
  "cniVersion": "0.4.0",
  "name": "runk-cri-test-{self.tag}",
  "plugins": [{{
    "type": "bridge", "bridge": "{self.bridge}", "isGateway": true, "ipMasq": false,
    "ipam": {{"type": "host-local", "dataDir": "{ipam_dir}",
              "ranges": [[{{"subnet": "10.203.{int(self.tag[:2], 16)}.0/24"}}]]}}
  }}]
}}
""")

    def runtime_root(self, handler: str) -> str:
        """Where the runc shim tells the handler's binary to keep its state (Root + namespace)."""
        return os.path.join(self.state_dir, f"runtime-{handler}", NAMESPACE)

    def start(self) -> None:
        from tests.cri.criapi import Client

        self.ctrd.namespace = NAMESPACE
        self.ctrd.start()
        for name, rootfs, entry in (
            (IMAGE, shared_rootfs(), None),
            (PAUSE_IMAGE, self._pause_rootfs(), ["/pause"]),
        ):
            archive = os.path.join(self.state_dir, "image.tar")
            build_oci_archive(rootfs, archive, name=name, cmd=[], entrypoint=entry)
            r = self.ctrd.ctr("image", "import", archive, timeout=120)
            os.unlink(archive)
            if r.returncode != 0:
                raise RuntimeError(f"ctr image import {name}: {r.stderr}")
        self.client = Client(self.ctrd.sock)
        self.client.wait_ready()

    def _pause_rootfs(self) -> str:
        d = os.path.join(self.state_dir, "pause-rootfs")
        shutil.copytree(shared_rootfs(), d, symlinks=True)
        with open(os.path.join(d, "pause"), "w") as f:
            f.write(PAUSE)
        os.chmod(os.path.join(d, "pause"), 0o755)
        return d

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        self.ctrd.stop()
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        for d in sorted(glob.glob(f"/sys/fs/cgroup/*{self.cgroup_parent}"), reverse=True):
            try:
                os.rmdir(d)
            except OSError:
                pass


@pytest.fixture(scope="module")
def node():
    requires("root", "busybox", "containerd")
    if not os.path.exists(os.path.join(CNI_BIN, "bridge")):
        pytest.skip(f"needs the CNI plugins in {CNI_BIN} (apt-get install containernetworking-plugins)")
    try:
        import grpc  # noqa: F401
    except ImportError:
        pytest.skip("needs grpcio (the test extras: pip install -e .[test])")
    n = CriNode()
    try:
        n.start()
    except Exception as e:
        n.stop()
        pytest.fail(f"containerd with its CRI plugin did not start: {e}", pytrace=False)
    yield n
    n.stop()
