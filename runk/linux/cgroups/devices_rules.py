"""Device cgroup rules: OCI parsing, runc's default allow-list, and the v1 semantics emulator.

Runs in the parent; pure (imports only runk.errors). The emulator reproduces what the kernel's
v1 devices controller does with a sequence of devices.allow/devices.deny writes (runc
libcontainer/cgroups/devices/devices_emulator.go), so that v1 and the v2 eBPF filter enforce the
same thing and a rule v1 cannot express (a hole in a wildcard) is refused on both.
"""

from __future__ import annotations

from runk.errors import CgroupError

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any

WILDCARD = -1
_PERMS = "rwm"

# runc 1.1.5 libcontainer/specconv AllowedDevices, in runc's order. runc appends these cgroup rules
# after linux.resources.devices for every container (podman relies on it: it sends only
# "deny all"). Columns: path (None: no node is created for it), type, major, minor, access,
# file mode of the node. The entries with a path are also the default /dev nodes.
DEFAULT_DEVICES: tuple[tuple[str | None, str, int, int, str, int], ...] = (
    (None, "c", WILDCARD, WILDCARD, "m", 0),  # mknod of any char device
    (None, "b", WILDCARD, WILDCARD, "m", 0),  # mknod of any block device
    ("/dev/null", "c", 1, 3, "rwm", 0o666),
    ("/dev/random", "c", 1, 8, "rwm", 0o666),
    ("/dev/full", "c", 1, 7, "rwm", 0o666),
    ("/dev/tty", "c", 5, 0, "rwm", 0o666),
    ("/dev/zero", "c", 1, 5, "rwm", 0o666),
    ("/dev/urandom", "c", 1, 9, "rwm", 0o666),
    (None, "c", 136, WILDCARD, "rwm", 0),  # /dev/pts/*
    (None, "c", 5, 2, "rwm", 0),  # /dev/ptmx
    (None, "c", 10, 200, "rwm", 0),  # /dev/net/tun
)


class Rule:
    """One device rule: allow or deny `access` (subset of "rwm") on type a/b/c major:minor."""

    __slots__ = ("access", "allow", "major", "minor", "type")

    def __init__(self, allow: bool, type: str, major: int, minor: int, access: str) -> None:
        self.allow = allow
        self.type = type
        self.major = major
        self.minor = minor
        self.access = access

    def cgroup_string(self) -> str:
        """The line for devices.allow / devices.deny: 'c 1:3 rwm', '*' for a wildcard."""
        major = "*" if self.major == WILDCARD else str(self.major)
        minor = "*" if self.minor == WILDCARD else str(self.minor)
        return f"{self.type} {major}:{minor} {self.access}"

    def to_oci(self) -> dict[str, Any]:
        d: dict[str, Any] = {"allow": self.allow, "type": self.type}
        if self.major != WILDCARD:
            d["major"] = self.major
        if self.minor != WILDCARD:
            d["minor"] = self.minor
        d["access"] = self.access
        return d

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rule) and (self.allow, self.type, self.major, self.minor, self.access) == (
            other.allow,
            other.type,
            other.major,
            other.minor,
            other.access,
        )

    def __repr__(self) -> str:
        return f"Rule({'allow' if self.allow else 'deny'} {self.cgroup_string()})"


def _perms(s: str) -> str:
    return "".join(c for c in _PERMS if c in s)


def from_oci(d: dict[str, Any], idx: int = 0) -> Rule:
    """linux.resources.devices[idx] → Rule, with runc's checks and messages."""
    where = f"linux.resources.devices[{idx}]"
    t = d.get("type") or "a"
    if t not in ("a", "b", "c"):
        raise CgroupError(f'{where}: invalid cgroup device type "{t}"')
    major = d.get("major")
    minor = d.get("minor")
    major = WILDCARD if major is None else int(major)
    minor = WILDCARD if minor is None else int(minor)
    access = d.get("access") or ""
    if t == "a" and not access:
        access = _PERMS
    if not access:
        raise CgroupError(f"{where}: device access at {idx} field cannot be empty")
    if not _perms(access):  # runc keeps the r, w and m of access and ignores other letters
        raise CgroupError(f'{where}: invalid device access "{access}" (none of r, w and m)')
    if major < WILDCARD or minor < WILDCARD or major > 0xFFFFFFFF or minor > 0xFFFFFFFF:
        raise CgroupError(f"{where}: invalid device number {major}:{minor}")
    return Rule(bool(d.get("allow", False)), t, major, minor, _perms(access))


def parse_rules(devices: list[Any]) -> list[Rule]:
    return [from_oci(d, i) for i, d in enumerate(devices or [])]


def default_rules() -> list[Rule]:
    return [Rule(True, t, ma, mi, acc) for _, t, ma, mi, acc, _ in DEFAULT_DEVICES]


def container_rules(
    resources_devices: list[Any] | None, linux_devices: list[Any] | None = None
) -> list[dict[str, Any]]:
    """The complete cgroup rule list runc gives a container (specconv CreateCgroupConfig).

    linux.resources.devices in order, then the default allow-list; a default whose path also
    appears in linux.devices is dropped (runc createDevices: "the spec one takes priority").
    """
    spec_paths = {d.get("path") for d in (linux_devices or [])}
    out = [dict(d) for d in (resources_devices or [])]
    for path, t, ma, mi, acc, _ in DEFAULT_DEVICES:
        if path is not None and path in spec_paths:
            continue
        out.append(Rule(True, t, ma, mi, acc).to_oci())
    return out


class Emulator:
    """State of a v1 devices cgroup: default allow/deny plus exceptions {(type,major,minor): perms}."""

    __slots__ = ("default_allow", "rules")

    def __init__(self, default_allow: bool = False) -> None:
        self.default_allow = default_allow
        self.rules: dict[tuple[str, int, int], str] = {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Emulator) and self.default_allow == other.default_allow and self.rules == other.rules

    def __repr__(self) -> str:
        mode = "allow" if self.default_allow else "deny"
        return f"Emulator(default {mode}, {sorted(self.rules.items())})"

    def _add(self, key: tuple[str, int, int], perms: str) -> None:
        self.rules[key] = _perms(self.rules.get(key, "") + perms)

    def _rm(self, key: tuple[str, int, int], perms: str, rule: Rule) -> None:
        t, ma, mi = key
        for partial in ((t, WILDCARD, mi), (t, ma, WILDCARD), (t, WILDCARD, WILDCARD)):
            if partial == key:
                continue
            held = self.rules.get(partial, "")
            if any(c in held for c in perms):
                raise CgroupError(
                    f"device rule {rule.cgroup_string()} ({'allow' if rule.allow else 'deny'}) is not "
                    f"supported by the devices cgroup: it would punch a hole in the wildcard rule "
                    f"{Rule(True, *partial, held).cgroup_string()}"
                )
        left = "".join(c for c in self.rules.get(key, "") if c not in perms)
        if left:
            self.rules[key] = left
        else:
            self.rules.pop(key, None)

    def apply(self, rule: Rule) -> None:
        """Apply one rule as the kernel would apply one write (devices.allow or devices.deny)."""
        if rule.type == "a":
            self.default_allow = rule.allow
            self.rules = {}
            return
        key = (rule.type, rule.major, rule.minor)
        if rule.allow == self.default_allow:
            self._rm(key, rule.access, rule)  # e.g. allow on an allow-list: drop a deny exception
        else:
            self._add(key, rule.access)

    @classmethod
    def from_rules(cls, rules: list[Rule]) -> Emulator:
        emu = cls(False)
        for r in rules:
            emu.apply(r)
        return emu

    @classmethod
    def from_list(cls, text: str) -> Emulator:
        """Parse devices.list: 'a *:* rwm' means default allow; otherwise one allow per line."""
        emu = cls(False)
        for line in text.splitlines():
            f = line.replace(":", " ").split()
            if not f:
                continue
            if len(f) != 4:
                raise CgroupError(f"malformed devices.list rule {line!r}")
            t, ma, mi, perms = f
            if t == "a":
                emu = cls(True)
                continue
            emu.apply(
                Rule(True, t, WILDCARD if ma == "*" else int(ma), WILDCARD if mi == "*" else int(mi), _perms(perms))
            )
        return emu

    def _ordered(self) -> list[tuple[tuple[str, int, int], str]]:
        return sorted(self.rules.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0]))

    def transition(self, target: Emulator) -> list[Rule]:
        """Minimal writes taking this state to `target` without a window of full access (runc)."""
        out: list[Rule] = []
        old = self.rules
        if self.default_allow or self.default_allow != target.default_allow:
            out.append(Rule(target.default_allow, "a", WILDCARD, WILDCARD, _PERMS))
            old = {}
        for key, perms in sorted(old.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
            dropped = "".join(c for c in perms if c not in target.rules.get(key, ""))
            if dropped:
                out.append(Rule(target.default_allow, *key, dropped))
        for key, perms in target._ordered():
            gained = "".join(c for c in perms if c not in old.get(key, ""))
            if gained:
                out.append(Rule(not target.default_allow, *key, gained))
        return out

    def clean_rules(self) -> list[Rule]:
        """The rules that rebuild this state from scratch; the first is the 'a' default (runc Rules)."""
        return Emulator(False).transition(self)

    def permits(self, type: str, major: int, minor: int, access: str) -> bool:
        """Would the kernel grant `access` on this device? (devcgroup_legacy_check_permission)

        On a deny-list one overlapping exception denies; on an allow-list one exception must cover
        every requested permission.
        """
        keys = ((type, major, minor), (type, WILDCARD, minor), (type, major, WILDCARD), (type, WILDCARD, WILDCARD))
        if self.default_allow:
            return not any(any(c in self.rules.get(k, "") for c in access) for k in keys)
        return any(k in self.rules and all(c in self.rules[k] for c in access) for k in keys)
