"""cgroup v2 cpuset controller: the same writes as v1 (cpuset.cpus, cpuset.mems), in the unified
group; a new v2 group inherits its parent's effective sets, so no copy is needed (runc
fs2/cpuset.go).

Runs in the parent. Imports v1_cpuset (os, fs).
"""

from __future__ import annotations

from runk.linux.cgroups import v1_cpuset


class CpusetController(v1_cpuset.CpusetController):
    __slots__ = ()
    controller = "cpuset"
