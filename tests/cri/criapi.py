"""A small CRI (Kubernetes Container Runtime Interface, package runtime.v1) client for the tests.

The messages are declared here, in a compact table, from the CRI API's published field
definitions (names, numbers, types), only the ones the tests send or read; protobuf builds the
classes at import time from that table (no .proto file, no generated code, no protoc). Unknown
fields in replies are kept by protobuf and ignored. grpcio carries the calls over containerd's
unix socket.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PACKAGE = "runtime.v1"

# field: (name, number, type); type is a scalar name, "repeated <type>", "map" (string to
# string), or a message/enum name of this table.
MESSAGES: dict[str, list[tuple[str, int, str]]] = {
    "VersionRequest": [("version", 1, "string")],
    "VersionResponse": [
        ("version", 1, "string"),
        ("runtime_name", 2, "string"),
        ("runtime_version", 3, "string"),
        ("runtime_api_version", 4, "string"),
    ],
    "DNSConfig": [
        ("servers", 1, "repeated string"),
        ("searches", 2, "repeated string"),
        ("options", 3, "repeated string"),
    ],
    "NamespaceOption": [
        ("network", 1, "NamespaceMode"),
        ("pid", 2, "NamespaceMode"),
        ("ipc", 3, "NamespaceMode"),
        ("target_id", 4, "string"),
    ],
    "Int64Value": [("value", 1, "int64")],
    "LinuxSandboxSecurityContext": [
        ("namespace_options", 1, "NamespaceOption"),
        ("run_as_user", 3, "Int64Value"),
        ("readonly_rootfs", 4, "bool"),
        ("privileged", 6, "bool"),
    ],
    "LinuxPodSandboxConfig": [
        ("cgroup_parent", 1, "string"),
        ("security_context", 2, "LinuxSandboxSecurityContext"),
        ("sysctls", 3, "map"),
    ],
    "PodSandboxMetadata": [
        ("name", 1, "string"),
        ("uid", 2, "string"),
        ("namespace", 3, "string"),
        ("attempt", 4, "uint32"),
    ],
    "PodSandboxConfig": [
        ("metadata", 1, "PodSandboxMetadata"),
        ("hostname", 2, "string"),
        ("log_directory", 3, "string"),
        ("dns_config", 4, "DNSConfig"),
        ("labels", 6, "map"),
        ("annotations", 7, "map"),
        ("linux", 8, "LinuxPodSandboxConfig"),
    ],
    "RunPodSandboxRequest": [("config", 1, "PodSandboxConfig"), ("runtime_handler", 2, "string")],
    "RunPodSandboxResponse": [("pod_sandbox_id", 1, "string")],
    "StopPodSandboxRequest": [("pod_sandbox_id", 1, "string")],
    "StopPodSandboxResponse": [],
    "RemovePodSandboxRequest": [("pod_sandbox_id", 1, "string")],
    "RemovePodSandboxResponse": [],
    "PodSandboxStatusRequest": [("pod_sandbox_id", 1, "string"), ("verbose", 2, "bool")],
    "PodSandboxNetworkStatus": [("ip", 1, "string")],
    "PodSandboxStatus": [
        ("id", 1, "string"),
        ("metadata", 2, "PodSandboxMetadata"),
        ("state", 3, "PodSandboxState"),
        ("created_at", 4, "int64"),
        ("network", 5, "PodSandboxNetworkStatus"),
        ("labels", 7, "map"),
        ("annotations", 8, "map"),
        ("runtime_handler", 9, "string"),
    ],
    "PodSandboxStatusResponse": [("status", 1, "PodSandboxStatus"), ("info", 2, "map")],
    "ImageSpec": [("image", 1, "string"), ("annotations", 2, "map")],
    "KeyValue": [("key", 1, "string"), ("value", 2, "string")],
    "LinuxContainerResources": [
        ("cpu_period", 1, "int64"),
        ("cpu_quota", 2, "int64"),
        ("cpu_shares", 3, "int64"),
        ("memory_limit_in_bytes", 4, "int64"),
        ("oom_score_adj", 5, "int64"),
        ("cpuset_cpus", 6, "string"),
        ("cpuset_mems", 7, "string"),
        ("unified", 9, "map"),
        ("memory_swap_limit_in_bytes", 10, "int64"),
    ],
    "Capability": [("add_capabilities", 1, "repeated string"), ("drop_capabilities", 2, "repeated string")],
    "LinuxContainerSecurityContext": [
        ("capabilities", 1, "Capability"),
        ("privileged", 2, "bool"),
        ("namespace_options", 3, "NamespaceOption"),
        ("run_as_user", 5, "Int64Value"),
        ("readonly_rootfs", 7, "bool"),
        ("no_new_privs", 11, "bool"),
    ],
    "LinuxContainerConfig": [
        ("resources", 1, "LinuxContainerResources"),
        ("security_context", 2, "LinuxContainerSecurityContext"),
    ],
    "ContainerMetadata": [("name", 1, "string"), ("attempt", 2, "uint32")],
    "ContainerConfig": [
        ("metadata", 1, "ContainerMetadata"),
        ("image", 2, "ImageSpec"),
        ("command", 3, "repeated string"),
        ("args", 4, "repeated string"),
        ("working_dir", 5, "string"),
        ("envs", 6, "repeated KeyValue"),
        ("labels", 9, "map"),
        ("annotations", 10, "map"),
        ("log_path", 11, "string"),
        ("stdin", 12, "bool"),
        ("stdin_once", 13, "bool"),
        ("tty", 14, "bool"),
        ("linux", 15, "LinuxContainerConfig"),
    ],
    "CreateContainerRequest": [
        ("pod_sandbox_id", 1, "string"),
        ("config", 2, "ContainerConfig"),
        ("sandbox_config", 3, "PodSandboxConfig"),
    ],
    "CreateContainerResponse": [("container_id", 1, "string")],
    "StartContainerRequest": [("container_id", 1, "string")],
    "StartContainerResponse": [],
    "StopContainerRequest": [("container_id", 1, "string"), ("timeout", 2, "int64")],
    "StopContainerResponse": [],
    "RemoveContainerRequest": [("container_id", 1, "string")],
    "RemoveContainerResponse": [],
    "ContainerStatusRequest": [("container_id", 1, "string"), ("verbose", 2, "bool")],
    "ContainerStatus": [
        ("id", 1, "string"),
        ("metadata", 2, "ContainerMetadata"),
        ("state", 3, "ContainerState"),
        ("created_at", 4, "int64"),
        ("started_at", 5, "int64"),
        ("finished_at", 6, "int64"),
        ("exit_code", 7, "int32"),
        ("image", 8, "ImageSpec"),
        ("image_ref", 9, "string"),
        ("reason", 10, "string"),
        ("message", 11, "string"),
        ("labels", 12, "map"),
        ("annotations", 13, "map"),
        ("log_path", 15, "string"),
    ],
    "ContainerStatusResponse": [("status", 1, "ContainerStatus"), ("info", 2, "map")],
    "UpdateContainerResourcesRequest": [
        ("container_id", 1, "string"),
        ("linux", 2, "LinuxContainerResources"),
        ("annotations", 4, "map"),
    ],
    "UpdateContainerResourcesResponse": [],
    "ExecSyncRequest": [("container_id", 1, "string"), ("cmd", 2, "repeated string"), ("timeout", 3, "int64")],
    "ExecSyncResponse": [("stdout", 1, "bytes"), ("stderr", 2, "bytes"), ("exit_code", 3, "int32")],
    "ImageFilter": [("image", 1, "ImageSpec")],
    "ListImagesRequest": [("filter", 1, "ImageFilter")],
    "Image": [("id", 1, "string"), ("repo_tags", 2, "repeated string"), ("size", 4, "uint64")],
    "ListImagesResponse": [("images", 1, "repeated Image")],
    "RuntimeCondition": [
        ("type", 1, "string"),
        ("status", 2, "bool"),
        ("reason", 3, "string"),
        ("message", 4, "string"),
    ],
    "RuntimeStatus": [("conditions", 1, "repeated RuntimeCondition")],
    "StatusRequest": [("verbose", 1, "bool")],
    "StatusResponse": [("status", 1, "RuntimeStatus"), ("info", 2, "map")],
}

ENUMS: dict[str, list[tuple[str, int]]] = {
    "NamespaceMode": [("POD", 0), ("CONTAINER", 1), ("NODE", 2), ("TARGET", 3)],
    "PodSandboxState": [("SANDBOX_READY", 0), ("SANDBOX_NOTREADY", 1)],
    "ContainerState": [
        ("CONTAINER_CREATED", 0),
        ("CONTAINER_RUNNING", 1),
        ("CONTAINER_EXITED", 2),
        ("CONTAINER_UNKNOWN", 3),
    ],
}

# service: method → (request, response)
SERVICES: dict[str, list[str]] = {
    "RuntimeService": [
        "Version",
        "RunPodSandbox",
        "StopPodSandbox",
        "RemovePodSandbox",
        "PodSandboxStatus",
        "CreateContainer",
        "StartContainer",
        "StopContainer",
        "RemoveContainer",
        "ContainerStatus",
        "UpdateContainerResources",
        "ExecSync",
        "Status",
    ],
    "ImageService": ["ListImages"],
}

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "string": _F.TYPE_STRING,
    "bytes": _F.TYPE_BYTES,
    "bool": _F.TYPE_BOOL,
    "int32": _F.TYPE_INT32,
    "int64": _F.TYPE_INT64,
    "uint32": _F.TYPE_UINT32,
    "uint64": _F.TYPE_UINT64,
}


def _field(msg: descriptor_pb2.DescriptorProto, name: str, number: int, kind: str) -> None:
    f = msg.field.add(name=name, number=number, json_name=name)
    f.label = _F.LABEL_OPTIONAL
    if kind == "map":
        entry = msg.nested_type.add(name="".join(p.title() for p in name.split("_")) + "Entry")
        entry.options.map_entry = True
        for n, i in (("key", 1), ("value", 2)):
            entry.field.add(name=n, number=i, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL, json_name=n)
        f.label, f.type, f.type_name = _F.LABEL_REPEATED, _F.TYPE_MESSAGE, f".{PACKAGE}.{msg.name}.{entry.name}"
        return
    if kind.startswith("repeated "):
        f.label, kind = _F.LABEL_REPEATED, kind.split(" ", 1)[1]
    if kind in _SCALARS:
        f.type = _SCALARS[kind]
    elif kind in ENUMS:
        f.type, f.type_name = _F.TYPE_ENUM, f".{PACKAGE}.{kind}"
    else:
        assert kind in MESSAGES, kind
        f.type, f.type_name = _F.TYPE_MESSAGE, f".{PACKAGE}.{kind}"


def _build() -> dict[str, Any]:
    fd = descriptor_pb2.FileDescriptorProto(name="runk_tests_cri_api.proto", package=PACKAGE, syntax="proto3")
    for name, values in ENUMS.items():
        e = fd.enum_type.add(name=name)
        for vname, number in values:
            e.value.add(name=vname, number=number)
    for name, fields in MESSAGES.items():
        m = fd.message_type.add(name=name)
        for field in fields:
            _field(m, *field)
    pool = descriptor_pool.DescriptorPool()
    desc = pool.Add(fd)
    return {name: message_factory.GetMessageClass(desc.message_types_by_name[name]) for name in MESSAGES}


M = _build()
MODE = dict(ENUMS["NamespaceMode"])
CONTAINER_STATE = {number: name for name, number in ENUMS["ContainerState"]}


class Client:
    """Calls on a CRI endpoint: client.call("RunPodSandbox", config=..., runtime_handler=...)."""

    def __init__(self, socket_path: str, timeout: float = 60.0) -> None:
        import grpc

        self._grpc = grpc
        self.channel = grpc.insecure_channel(f"unix://{socket_path}")
        self.timeout = timeout
        self._stubs = {}
        for service, methods in SERVICES.items():
            for method in methods:
                self._stubs[method] = self.channel.unary_unary(
                    f"/{PACKAGE}.{service}/{method}",
                    request_serializer=lambda m: m.SerializeToString(),
                    response_deserializer=M[f"{method}Response"].FromString,
                )

    def call(self, method: str, timeout: float | None = None, **fields: Any) -> Any:
        req = M[f"{method}Request"](**fields)
        return self._stubs[method](req, timeout=timeout or self.timeout)

    def wait_ready(self, seconds: float = 30.0) -> None:
        self._grpc.channel_ready_future(self.channel).result(timeout=seconds)

    def close(self) -> None:
        self.channel.close()
