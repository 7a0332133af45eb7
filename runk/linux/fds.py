"""LaunchFds: every fd the parent opens for one launch of a container process, and their one
owner (runk.linux.launch drives the launch; the backends close it on every path).

Runs in the parent; the forked bootstrap, init and tenant use their copy. Imports runk._os only
(namespaces and mounts lazily, in the parent).
"""

from __future__ import annotations

from runk import _os as os

TYPE_CHECKING = False  # no `typing` at run time (create's import budget)
if TYPE_CHECKING:
    from runk.linux.cgroups.base import Entry
    from runk.linux.plan import MountPlan, NamespacePlan


class LaunchFds:
    """The fds the parent opens for one launch, and their one owner: namespace files to join
    (type -> fd), clones of bind sources (mount index -> (fd, source is a directory)), the
    console socket, the exec fifo (O_PATH), the sealed trampoline, the cgroup entry (clone3
    directory and v1 `tasks` files, runk.linux.cgroups Entry) and, in the init only, the host's
    /proc (`proc`, no mount namespace). The backend puts it on its CleanupStack and close()s it
    on every path; the child inherits a copy through the fork and uses the fds it needs."""

    __slots__ = ("bind_sources", "cgroup", "console", "fifo", "idmap_users", "joins", "proc", "trampoline")

    def __init__(self) -> None:
        self.joins: dict[str, int] = {}
        self.bind_sources: dict[int, tuple[int, bool]] = {}
        self.idmap_users: dict[int, int] = {}  # mount index -> user namespace fd (init-side idmap)
        self.console = -1
        self.fifo = -1
        self.trampoline = -1
        self.proc = -1
        self.cgroup: Entry | None = None

    def open_namespaces(self, ns: NamespacePlan) -> None:
        """Open (and check the type of) every namespace file the plan joins, in plan order."""
        from runk.linux.namespaces import open_ns_path

        for nstype, path in ns.joins:
            self.joins[nstype] = open_ns_path(nstype, path)

    def join_list(self, ns: NamespacePlan) -> list[tuple[str, int]]:
        """[(type, fd)] of the joins in plan order (the bootstrap's join_order input)."""
        return [(nstype, self.joins[nstype]) for nstype, _path in ns.joins]

    def open_bind_sources(self, mp: MountPlan) -> None:
        """Clone the bind sources when the plan asks for it (a user namespace), and those of
        id-mapped mounts, mapped (runk.linux.mounts.open_bind_sources; after open_namespaces:
        an id-mapped mount may take the joined user namespace)."""
        if mp.clone_bind_sources or any(m.idmap for m in mp.mounts):
            from runk.linux.mounts import open_bind_sources

            self.bind_sources, self.idmap_users = open_bind_sources(
                mp.mounts, mp.clone_bind_sources, self.joins.get("user", -1)
            )

    def close_cgroup(self) -> None:
        """The parent's copies of the cgroup entry's fds, once the child is forked."""
        if self.cgroup is not None:
            self.cgroup.close()
            self.cgroup = None

    def close(self) -> None:
        """Close everything held; safe to call again."""
        fds = list(self.joins.values()) + [fd for fd, _d in self.bind_sources.values()]
        fds += list(self.idmap_users.values())
        fds += [self.console, self.fifo, self.trampoline, self.proc]
        self.joins = {}
        self.bind_sources = {}
        self.idmap_users = {}
        self.console = self.fifo = self.trampoline = self.proc = -1
        self.close_cgroup()
        for fd in fds:
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
