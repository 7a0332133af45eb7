"""Hostile input: ids that look like runk's own files, config files that never end or are not
files, configs too deep or holding NUL bytes, seccomp profiles past the kernel's limit. Every
refusal is one line naming what is wrong; nothing is left behind."""
from __future__ import annotations

import json
import os

import pytest

SECCOMP = {"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["mknod"], "action": "SCMP_ACT_ERRNO"}]}


@pytest.mark.parametrize("name", [".cache", ".foo", "x.y", "@cache"])
def test_dot_ids_are_containers_and_runk_files_are_not(runk, bundle, name, leak_audit):
    """runc lists ".foo"; runk's seccomp cache (under --root) must not collide with an id."""
    cid = name
    bundle.config["linux"]["seccomp"] = SECCOMP
    bundle.args("sleep", "100").write()
    # a first container fills runk's cache under --root
    assert runk("create", "-b", bundle.path, "hardnames-first").rc == 0
    r = runk("create", "-b", bundle.path, cid)
    if name.startswith("@"):
        assert r.rc != 0 and "invalid container ID format" in r.err, r
        assert runk("delete", "-f", "hardnames-first").rc == 0
        return
    assert r.rc == 0, r
    listed = [c["id"] for c in json.loads(runk("list", "--format", "json").out)]
    assert sorted(listed) == sorted([cid, "hardnames-first"])
    assert runk("list", "-q").out.split() == sorted([cid, "hardnames-first"])
    # the cache is no container: not listed, not deletable
    assert "@cache" in os.listdir(runk.root)
    r = runk("delete", "-f", "@cache")
    assert r.rc != 0 and "invalid container ID format" in r.err
    for c in (cid, "hardnames-first"):
        r = runk("delete", "-f", c)
        assert r.rc == 0, r
    assert sorted(os.listdir(runk.root)) == ["@cache"]
    assert runk("list", "-q").out == ""
