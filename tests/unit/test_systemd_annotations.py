"""The org.systemd.property.* annotations as unit properties (runc's names, value forms and
"Sec" to "USec" conversion)."""

from __future__ import annotations

import pytest

from runk.errors import ConfigError
from runk.linux.cgroups.systemd_annotations import parse_value, unit_properties


@pytest.mark.parametrize(
    "text,want",
    [
        ("uint64 123456789", ("t", 123456789)),
        ("@t 5", ("t", 5)),
        ("42", ("i", 42)),
        ("-3", ("i", -3)),
        ("1.5", ("d", 1.5)),
        ("true", ("b", True)),
        ("boolean false", ("b", False)),
        ("'a b'", ("s", "a b")),
        ('"x"', ("s", "x")),
        ("[1, 2]", ("ai", [1, 2])),
        ("@as ['a', 'b,c']", ("as", ["a", "b,c"])),
        ("@au []", ("au", [])),
        ("uint32 4294967295", ("u", 4294967295)),
    ],
)
def test_parse_value(text: str, want: tuple) -> None:
    assert parse_value(text) == want


@pytest.mark.parametrize(
    "text", ["zzz", "uint64 -1", "int32 2147483648", "[]", "[1, 'a']", "'open", "@q 'x'", "@vv 1", "byte 256"]
)
def test_parse_value_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_value(text)


def test_unit_properties_names_and_sec() -> None:
    props = unit_properties(
        {
            "org.systemd.property.TimeoutStopSec": "uint32 3",
            "org.systemd.property.RuntimeMaxSec": "1.5",
            "org.systemd.property.CPUSec": "1",  # no lower-case letter before Sec: as is
            "org.systemd.property.CollectMode": "'inactive-or-failed'",
            "other": "x",
        }
    )
    assert props == [
        ("CPUSec", ("i", 1)),
        ("CollectMode", ("s", "inactive-or-failed")),
        ("RuntimeMaxUSec", ("t", 1500000)),
        ("TimeoutStopUSec", ("t", 3000000)),
    ]
    assert unit_properties(None) == []


@pytest.mark.parametrize(
    "key,value,words",
    [
        ("org.systemd.property.ab", "1", "annotation org.systemd.property.ab name incorrect: too short"),
        ("org.systemd.property.A9C", "1", "name incorrect: contains non-alphabetic character"),
        ("org.systemd.property.A-B", "1", "name incorrect: contains non-alphabetic character"),
        ("org.systemd.property.TimeoutStopSec", "'x'", "TimeoutStopSec='x' value parse error: not a number"),
        ("org.systemd.property.Abc", "zzz", "Abc=zzz value parse error"),
    ],
)
def test_unit_properties_refuse(key: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError, match="^annotations: ") as e:
        unit_properties({key: value})
    assert words in str(e.value)
