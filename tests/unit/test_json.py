"""runk._json agrees with the json module on a corpus (DESIGN 3.11 rule 3)."""

from __future__ import annotations

import json
import os

import pytest

from runk import _json
from runk.oci.state_doc import dumps_indent

CORPUS = [
    {},
    [],
    "",
    "é",
    '\u2603 \n\t"q"',
    0,
    -1,
    2**64,
    1.5,
    -0.25,
    1e300,
    True,
    False,
    None,
    {"a": [1, {"b": None}], "c": "d"},
    [[[]]],
    {"ann": {"k.x/y": "v"}},
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


def test_errors_inside_strings_without_json_imported():
    """In a runk command json is never imported; _json then cannot raise its own error for a
    bad string and fails with SystemError: loads must still raise ValueError (runk's hot path
    reads torn state files and users' config.json)."""
    import subprocess
    import sys

    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = (
        f"import sys; sys.path.insert(0, {top!r}); from runk import _json\n"
        "for s in ['{\"a', '\"abc', '[\"\\\\x\"]', '{\"a\\n\": 1}']:\n"
        "    try:\n        _json.loads(s)\n    except ValueError as e:\n"
        "        print(type(e).__name__, 'json' in sys.modules)\n"
    )
    p = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\n")[:4] == ["JSONDecodeError True"] * 4, p.stdout


def _containers(obj: object) -> list[int]:
    """The ids of every dict and list in a document."""
    out: list[int] = []
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            out.append(id(o))
            stack.extend(o.values())
        elif isinstance(o, list):
            out.append(id(o))
            stack.extend(o)
    return out


@pytest.mark.parametrize("obj", CORPUS, ids=repr)
def test_copy_is_a_deep_copy(obj):
    """_json.copy equals the document and shares none of its dicts and lists (exec's process
    copy: appending to its env or capabilities must leave the container's config alone)."""
    import copy

    doc = _json.loads(json.dumps(obj))
    dup = _json.copy(doc)
    assert dup == copy.deepcopy(doc) == doc
    assert not set(_containers(dup)) & set(_containers(doc))


def test_copy_of_a_process_leaves_the_original_alone():
    doc = _json.loads('{"env": ["A=1"], "capabilities": {"bounding": ["CAP_KILL"]}, "user": {"uid": 0}}')
    dup = _json.copy(doc)
    dup["env"].append("B=2")
    dup["capabilities"]["bounding"].append("CAP_CHOWN")
    dup["user"]["additionalGids"] = [5]
    assert doc == {"env": ["A=1"], "capabilities": {"bounding": ["CAP_KILL"]}, "user": {"uid": 0}}
