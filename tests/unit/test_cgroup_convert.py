"""runc's v1 → v2 value conversions, table-driven (pure)."""

from __future__ import annotations

import pytest

from runk.errors import CgroupError
from runk.linux.cgroups import convert


@pytest.mark.parametrize(
    "shares,weight",
    [
        (0, 0),
        (2, 1),
        (1024, 39),
        (262144, 10000),
        (512, 20),
        (100, 4),
    ],
)
def test_shares_to_weight_linear_runc_115(shares: int, weight: int) -> None:
    assert convert.shares_to_weight(shares) == weight


@pytest.mark.parametrize(
    "shares,weight",
    [
        (0, 0),
        (1, 1),
        (2, 1),
        (1024, 100),
        (262144, 10000),
        (300000, 10000),
    ],
)
def test_shares_to_weight_quadratic_runc_13(shares: int, weight: int) -> None:
    assert convert.shares_to_weight_quadratic(shares) == weight


@pytest.mark.parametrize("blkio,io", [(0, 0), (10, 1), (1000, 10000), (500, 4950), (100, 910)])
def test_blkio_weight_to_io_weight(blkio: int, io: int) -> None:
    assert convert.blkio_weight_to_io_weight(blkio) == io


@pytest.mark.parametrize(
    "swap,mem,want",
    [
        (0, -1, -1),  # unlimited memory, swap unset: unlimited swap
        (-1, 100, -1),
        (0, 100, 0),  # max and unset pass through
        (500, -1, 500),  # unlimited memory: swap as given
        (300, 100, 200),  # memory+swap → swap only
        (100, 100, 0),
    ],
)
def test_swap_to_v2(swap: int, mem: int, want: int) -> None:
    assert convert.swap_to_v2(swap, mem) == want


@pytest.mark.parametrize(
    "swap,mem,msg",
    [
        (100, 0, "without memory limit"),
        (100, 200, "should be >= memory"),
        (100, -5, "invalid memory"),
    ],
)
def test_swap_to_v2_errors_name_the_field(swap: int, mem: int, msg: str) -> None:
    with pytest.raises(CgroupError, match=msg) as ei:
        convert.swap_to_v2(swap, mem)
    assert "linux.resources.memory" in str(ei.value)


def test_num_to_v2() -> None:
    assert [convert.num_to_v2(v) for v in (0, -1, 42)] == ["", "max", "42"]
