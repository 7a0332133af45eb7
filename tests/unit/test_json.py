"""runk._json agrees with the json module on a corpus (DESIGN 3.11 rule 3)."""
from __future__ import annotations

import json

import pytest

from runk import _json
from runk.oci.state_doc import dumps_indent

CORPUS = [
    {}, [], "", "é", "\u2603 \n\t\"q\"", 0, -1, 2**64, 1.5, -0.25, 1e300, True, False, None,
    {"a": [1, {"b": None}], "c": "d"}, [[[]]], {"ann": {"k.x/y": "v"}},
]


@pytest.mark.parametrize("obj", CORPUS, ids=repr)
def test_roundtrip_matches_json(obj):
    text = json.dumps(obj)
    assert _json.loads(text) == json.loads(text)
    assert _json.dumps(obj) == json.dumps(obj, separators=(",", ":"))
    assert _json.dumps(obj, compact=False) == json.dumps(obj)
    assert dumps_indent(obj) == json.dumps(obj, indent=2)


@pytest.mark.parametrize("bad", ["{", "[1,]", "{'a': 1}", "nul", "1 2", ""])
def test_rejects_what_json_rejects(bad):
    with pytest.raises(ValueError):
        json.loads(bad)
    with pytest.raises(ValueError):
        _json.loads(bad)


def test_bytes_and_whitespace():
    assert _json.loads(b' \n{"a": 1}\n ') == {"a": 1}
