"""Frozen: the base of runk's immutable records (the container plan, mount specs).

Runs in the parent and, through the records, in the forked children: imports nothing.
"""

from __future__ import annotations


class Frozen:
    """Base of the plan's records: attributes are set once, by __init__ (through _fill), and any
    later assignment or deletion raises AttributeError. A record's __slots__ keep their reading
    order, which repr shows (hence `noqa: RUF023`, ruff's sorted-slots rule)."""

    __slots__: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name}")

    def _fill(self, values: dict[str, object]) -> None:
        """Set every slot of the record from `values` (an __init__'s locals()). Records derive
        from Frozen directly: their own __slots__ are all their fields."""
        setter = object.__setattr__
        for name in type(self).__slots__:
            setter(self, name, values[name])

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in type(self).__slots__)
        return f"{type(self).__name__}({fields})"
