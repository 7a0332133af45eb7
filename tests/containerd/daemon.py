"""A private containerd for the tests: its own config, root, state, sockets and runtime root under
/run/runk-ctrd-test-* and /var/lib/runk-ctrd-test-*; never the default /run/containerd socket.
(The shim itself puts its ttrpc socket in /run/containerd/s/<hash of our address>; containerd
1.6 has no option for that. The directories it had to create are removed again if they are
empty.) Images are OCI archives built here from a rootfs and loaded with `ctr image import`.
Used by test_ctr.py (ctr and the runc shim) and tests/cri (the CRI plugin).
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import uuid

IMAGE = "localhost/runk-ctrd-busybox:latest"


def _blob(layout: tarfile.TarFile, data: bytes) -> dict:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo("blobs/sha256/" + digest.split(":")[1])
    info.size = len(data)
    layout.addfile(info, io.BytesIO(data))
    return {"digest": digest, "size": len(data)}


def build_oci_archive(
    rootfs: str, out: str, name: str = IMAGE, cmd: list[str] | None = None, entrypoint: list[str] | None = None
) -> None:
    """An OCI image layout tarball named `name`, with one uncompressed layer holding `rootfs`."""
    layer_path = out + ".layer"
    subprocess.run(["tar", "--numeric-owner", "-C", rootfs, "-cf", layer_path, "."], check=True)
    with open(layer_path, "rb") as f:
        layer = f.read()
    os.unlink(layer_path)
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    with tarfile.open(out, "w") as t:
        layer_d = _blob(t, layer)
        config = {
            "architecture": arch,
            "os": "linux",
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": cmd if cmd is not None else ["/bin/sh"],
                **({"Entrypoint": entrypoint} if entrypoint else {}),
            },
            "rootfs": {"type": "layers", "diff_ids": [layer_d["digest"]]},
        }
        config_d = _blob(t, json.dumps(config).encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_d},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer_d}],
        }
        manifest_d = _blob(t, json.dumps(manifest).encode())
        index = {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    **manifest_d,
                    "platform": {"architecture": arch, "os": "linux"},
                    "annotations": {
                        "io.containerd.image.name": name,
                        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
                    },
                }
            ],
        }
        for name, doc in (("oci-layout", {"imageLayoutVersion": "1.0.0"}), ("index.json", index)):
            data = json.dumps(doc).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


class Containerd:
    def __init__(self, cri: str | None = None) -> None:
        """cri: None leaves containerd's CRI plugin disabled; else TOML appended to the config
        (the plugin's settings), with the plugin enabled."""
        tag = uuid.uuid4().hex[:8]
        self.state_dir = f"/run/runk-ctrd-test-{tag}"
        self.root_dir = f"/var/lib/runk-ctrd-test-{tag}"
        self.sock = os.path.join(self.state_dir, "containerd.sock")
        self.runtime_root = os.path.join(self.state_dir, "runtime")
        self.fifo_dir = os.path.join(self.state_dir, "fifo")
        self.namespace = f"runk-test-{tag}"
        self.proc: subprocess.Popen | None = None
        # the shim's socket directory is fixed; remove what we made of it, if empty, at the end
        self.made_dirs = [d for d in ("/run/containerd", "/run/containerd/s") if not os.path.exists(d)]
        os.makedirs(self.state_dir, mode=0o711)
        os.makedirs(self.root_dir, mode=0o711)
        self.config = os.path.join(self.state_dir, "config.toml")
        with open(self.config, "w") as f:
            f.write(f"""version = 2
root = "{self.root_dir}"
state = "{self.state_dir}/state"
disabled_plugins = {"[]" if cri is not None else '["io.containerd.grpc.v1.cri"]'}
[grpc]
  address = "{self.sock}"
[ttrpc]
  address = "{self.sock}.ttrpc"
[debug]
  address = ""
  level = "info"
[metrics]
  address = ""
{cri or ""}""")
        self.log = os.path.join(self.state_dir, "containerd.log")

    def start(self) -> None:
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                ["containerd", "--config", self.config],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"containerd exited {self.proc.returncode}: {self.tail()}")
            if os.path.exists(self.sock) and self.ctr("version").returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"containerd did not come up in 30 s: {self.tail()}")

    def tail(self) -> str:
        with open(self.log, errors="replace") as f:
            return f.read()[-1500:]

    def argv(self, *args: str) -> list:
        return ["ctr", "-a", self.sock, "-n", self.namespace, *args]

    def ctr(self, *args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.argv(*args),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )

    def stop(self) -> None:
        r = self.ctr("task", "ls", "-q")
        for cid in r.stdout.split():
            self.ctr("task", "kill", "-s", "SIGKILL", cid)
            self.ctr("task", "delete", "-f", cid)
        for cid in self.ctr("container", "ls", "-q").stdout.split():
            self.ctr("container", "delete", cid)
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # snapshots are unmounted with their tasks; anything left would keep the directory busy
        with open("/proc/self/mountinfo") as f:
            mps = [l.split()[4] for l in f if self.root_dir in l or self.state_dir in l]
        for mp in reversed(mps):
            subprocess.run(["umount", "-l", mp], capture_output=True)
        shutil.rmtree(self.root_dir, ignore_errors=True)
        shutil.rmtree(self.state_dir, ignore_errors=True)
        for d in reversed(self.made_dirs):
            try:
                os.rmdir(d)
            except OSError:
                pass
        # containerd puts each container's cgroup below one named after the namespace, and
        # leaves that parent when the container goes (the runtime removes only its own group)
        for d in glob.glob(f"/sys/fs/cgroup/*/{self.namespace}") + glob.glob(f"/sys/fs/cgroup/{self.namespace}"):
            try:
                os.rmdir(d)
            except OSError:
                pass
