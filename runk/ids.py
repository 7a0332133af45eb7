"""User and group ids: the one range check that every id entering runk goes through.

The kernel reads (uid_t)-1 = 4294967295 in setresuid/setresgid/chown as "leave this one
unchanged", so an unchecked 4294967295 keeps the ids of runk's setup process: root. runc refuses
process ids outside 0..2^31-1 with "uids and gids must be in range 0-2147483647" (its user
package's range); runk uses that range and that text for every id a process takes (config's
process.user, exec's --user, --additional-gids and --process) and for device owners.

User namespace maps hold host and container ids, where the kernel accepts any range that never
reaches 4294967295 (runc passes them on: 0 0 4294967295, the identity map, is valid); runk
refuses those the kernel would, naming the entry, instead of failing on the write.

Imports nothing but runk.errors: it runs in the create path's validation, in exec's request
and in the container's setup process before the identity switch.
"""

from __future__ import annotations

from runk.errors import ConfigError

MAX_ID = 2**31 - 1
RANGE = f"uids and gids must be in range 0-{MAX_ID}"  # runc's text
MAX_MAPPED = 2**32 - 2  # the last id a user namespace maps


def valid(value: object) -> bool:
    """An int in 0..2^31-1 (not a bool, not a float: JSON 1000.0 is no id)."""
    return type(value) is int and 0 <= value <= MAX_ID


def check(path: str, value: object) -> int:
    """value, or ConfigError(path, runc's range text)."""
    if type(value) is not int:
        raise ConfigError(path, "must be an integer")
    if not valid(value):
        raise ConfigError(path, RANGE)
    return value


def check_user(path: str, user: object) -> None:
    """process.user: uid, gid (both default 0) and every additionalGids entry."""
    if user is None:
        return
    if not isinstance(user, dict):
        raise ConfigError(path, "must be an object")
    check(path + ".uid", user.get("uid", 0))
    check(path + ".gid", user.get("gid", 0))
    groups = user.get("additionalGids")
    if groups is None:
        return
    if not isinstance(groups, list):
        raise ConfigError(path + ".additionalGids", "must be an array")
    for i, g in enumerate(groups):
        check(f"{path}.additionalGids[{i}]", g)


def check_mappings(path: str, entries: object) -> None:
    """linux.uidMappings / gidMappings: size >= 1 and both ranges inside 0..4294967294."""
    if not entries:
        return
    if not isinstance(entries, list):
        raise ConfigError(path, "must be an array")
    for i, m in enumerate(entries):
        at = f"{path}[{i}]"
        if not isinstance(m, dict):
            raise ConfigError(at, "must be an object")
        size = m.get("size")
        if type(size) is not int or size < 1:
            raise ConfigError(at + ".size", "must be at least 1")
        for key in ("containerID", "hostID"):
            first = m.get(key)
            if type(first) is not int:
                raise ConfigError(f"{at}.{key}", "must be an integer")
            last = first + size - 1
            if first < 0 or last > MAX_MAPPED:
                span = f"id {first}" if size == 1 else f"ids {first}-{last}"
                raise ConfigError(f"{at}.{key}", f"{span} must be in range 0-{MAX_MAPPED}")
