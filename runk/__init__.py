"""runk: an OCI container runtime, usable as a program (`runk`, runc's CLI) and as a library.

The library is runk.api, re-exported here on first use (`runk.create`, `runk.load`,
`runk.Container`, ...) so that importing any runk module stays free: the command paths never
load it.
"""

_API = frozenset(
    (
        "DEFAULT_ROOT",
        "Container",
        "ExecResult",
        "State",
        "create",
        "load",
        "list_containers",
        "RunkError",
        "ConfigError",
        "NotFoundError",
        "ExistsError",
        "InvalidIdError",
        "StateError",
    )
)


def __getattr__(name: str) -> object:
    if name in ("__version__", "OCI_VERSION"):
        from runk import version

        return getattr(version, name)
    if name in _API:
        from runk import api

        return getattr(api, name)
    raise AttributeError(f"module 'runk' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _API | {"__version__", "OCI_VERSION"})
