"""runk.linux.criu: checkpoint and restore of a container's processes through CRIU.

Runs in the parent (`runk checkpoint`, `runk restore`). Nothing here is imported by the other
verbs.

runk drives CRIU through its RPC interface, `criu swrk FD` (a child speaking protobuf messages on
a SOCK_SEQPACKET socket), not through its command line, for what the command line cannot give:

- the master of a restored terminal: CRIU hands it over only as an fd on the RPC socket (the
  "orphan-pts-master" notification); `restore --console-socket` passes it on. The command line
  has no way to get it out.
- notifications answered in runk's own process, in order: "setup-namespaces" (prestart and
  createRuntime hooks with the restored init's pid), "post-restore" (the pid, recorded before CRIU
  lets the tasks run), "status-ready" (lazy pages). The command line runs action scripts, a
  separate program per event that would have to call back into runk.
- CRIU's process is runk's child and is put into the container's cgroup before it gets the
  request, so the restored tasks start in the group runk (or a systemd unit) made for them;
  errors come back as a typed answer (errno), not as text to parse.

The messages are encoded by runk.linux.criu.wire (proto2's wire format) with the field numbers of
CRIU's published rpc.proto listed in runk.linux.criu.rpc; no protobuf library is needed.

Modules: wire (encoding), rpc (CRIU's messages), swrk (one CRIU process and its conversation),
options (the user's flags, checked as runc checks them), mounts (external mounts), descriptors
(the init's stdio across a checkpoint), dump and restore (the two operations).
"""
