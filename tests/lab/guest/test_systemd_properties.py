"""The org.systemd.property.* annotations: extra properties of the container's transient unit,
runk and runc side by side (the same values as systemd shows them, the same refusals)."""

from __future__ import annotations

import uuid

import pytest
from conftest import CG, RUNC, RUNK, Runtime, runtimes
from test_systemd_driver import assert_gone, show

ANNOTATIONS = {
    "org.systemd.property.TimeoutStopUSec": "uint64 123456789",
    "org.systemd.property.RuntimeMaxSec": "7",  # "Sec" after a lower-case letter: sent as USec
    "org.systemd.property.CollectMode": "'inactive-or-failed'",
    "org.example.other": "not a property",
}
WANT = {"TimeoutStopUSec": "2min 3.456789s", "RuntimeMaxUSec": "7s", "CollectMode": "inactive-or-failed"}


@pytest.fixture(params=runtimes())
def rt(request):
    binary = RUNC if request.param == "runc" else RUNK
    r = Runtime(binary, f"/run/lab-sdprop-{request.param}-{uuid.uuid4().hex[:8]}", "--systemd-cgroup")
    r.name = request.param
    yield r
    r.cleanup()


def test_annotations_become_unit_properties(rt, bundle):
    name = f"sdp{uuid.uuid4().hex[:8]}"
    bundle.config["annotations"] = ANNOTATIONS
    rt.ok("create", "--bundle", bundle.write(["true"], cgroups_path=f"system.slice:labp:{name}"), name)
    unit = f"labp-{name}.scope"
    assert show(unit, *WANT) == WANT
    rt.ok("delete", "--force", name)
    assert_gone(unit, f"{CG}/system.slice/{unit}")


@pytest.mark.parametrize(
    "key,value,words",
    [
        ("org.systemd.property.xy", "1", "name incorrect: too short"),
        ("org.systemd.property.TimeoutStopUSec", "uint64 -1", "value parse error"),
        ("org.systemd.property.TimeoutStopSec", "'soon'", "value parse error"),
    ],
)
def test_bad_annotations_are_refused(rt, bundle, key, value, words):
    name = f"sdp{uuid.uuid4().hex[:8]}"
    bundle.config["annotations"] = {key: value}
    r = rt("create", "--bundle", bundle.write(["true"], cgroups_path=f"system.slice:labp:{name}"), name)
    assert r.rc == 1 and f"annotation {key}" in r.err and words in r.err, r
    assert rt("state", name).rc == 1
