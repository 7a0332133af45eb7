"""Focused regression tests for the bugs the property tests (tests/property/test_runk.py) found,
each on a real container, against runc where runc has a behaviour."""
from __future__ import annotations

import json
import os
import uuid

import pytest

from tests.conftest import requires


@pytest.mark.parametrize("prefix", ["..", "..."])
def test_id_starting_with_dots_gets_its_cgroup(runk, runc, bundle, prefix):
    """An id like '...' or '..x' is a name, not a climb out of the cgroup mount: runc creates
    the container with the cgroup <hierarchy>/<id>; runk refused it ('invalid cgroup path ...:
    not below the cgroup2 mount')."""
    requires("cgroup2")
    cid = f"{prefix}hypo-{uuid.uuid4().hex[:8]}"
    bundle.write()
    for rt in (runc, runk):
        r = rt("create", "--bundle", bundle.path, cid)
        assert r.rc == 0, (rt.binary, r)
        pid = json.loads(rt("state", cid, check=True).out)["pid"]
        with open(f"/proc/{pid}/cgroup") as f:
            groups = f.read()
        assert f"pids:/{cid}\n" in groups, groups
        assert f"0::/{cid}\n" in groups, groups
        assert os.path.isdir(f"/sys/fs/cgroup/unified/{cid}")
        rt("delete", "--force", cid, check=True)
        assert not os.path.exists(f"/sys/fs/cgroup/unified/{cid}")
        assert not os.path.exists(f"/sys/fs/cgroup/pids/{cid}")
