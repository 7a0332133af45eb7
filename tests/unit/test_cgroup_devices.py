"""Device rules: the v1 emulator, runc's defaults, and the eBPF filter run in a small interpreter.

Pure (no root): the program is assembled exactly as it is loaded into the kernel and executed here
instruction by instruction, then compared with the v1 semantics the emulator models (youki's
emulator.rs idea). The real kernel check lives in tests/integration/cgroups/test_cgroup_v2_unified.py.
"""

from __future__ import annotations

import itertools
import random
import struct

import pytest

from runk.errors import CgroupError
from runk.linux.cgroups import container_rules, default_devices
from runk.linux.cgroups.devices_rules import WILDCARD, Emulator, Rule, from_oci, parse_rules

lib = pytest.importorskip("runk._native").lib
from runk.linux.cgroups import devices_bpf  # noqa: E402

ACC = {"r": 2, "w": 4, "m": 1}
DEVTYPE = {"b": 1, "c": 2}


def run_program(prog: bytes, dev_type: str, major: int, minor: int, access: str) -> int:
    """Interpret the subset of eBPF the device filter uses, on one bpf_cgroup_dev_ctx."""
    acc = sum(ACC[c] for c in access)
    ctx = struct.pack("=III", (acc << 16) | DEVTYPE[dev_type], major, minor)
    regs = [0] * 11
    regs[1] = "ctx"  # type: ignore[call-overload]
    pc = 0
    for _ in range(10000):
        code, rb, off, imm = struct.unpack_from("=BBhi", prog, pc * 8)
        dst, src = rb & 0xF, rb >> 4
        pc += 1
        imm64 = imm & 0xFFFFFFFFFFFFFFFF
        if code == lib.BPF_LDX | lib.BPF_MEM | lib.BPF_W:
            assert regs[src] == "ctx", "loads only from the context"
            regs[dst] = struct.unpack_from("=I", ctx, off)[0]
        elif code == lib.BPF_ALU | lib.BPF_AND | lib.BPF_K:
            regs[dst] = regs[dst] & imm & 0xFFFFFFFF
        elif code == lib.BPF_ALU | lib.BPF_RSH | lib.BPF_K:
            regs[dst] = (regs[dst] & 0xFFFFFFFF) >> imm
        elif code == lib.BPF_ALU | lib.BPF_MOV | lib.BPF_K:
            regs[dst] = imm & 0xFFFFFFFF
        elif code == lib.BPF_ALU | lib.BPF_MOV | lib.BPF_X:
            regs[dst] = regs[src] & 0xFFFFFFFF
        elif code == lib.BPF_JMP | lib.BPF_JNE | lib.BPF_K:
            pc += off if regs[dst] != imm64 else 0
        elif code == lib.BPF_JMP | lib.BPF_JEQ | lib.BPF_K:
            pc += off if regs[dst] == imm64 else 0
        elif code == lib.BPF_JMP | lib.BPF_JNE | lib.BPF_X:
            pc += off if regs[dst] != regs[src] else 0
        elif code == lib.BPF_JMP | lib.BPF_EXIT:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x} at {pc - 1}")
    raise AssertionError("program did not exit")


def R(allow: bool, t: str, ma: int = WILDCARD, mi: int = WILDCARD, acc: str = "rwm") -> Rule:
    return Rule(allow, t, ma, mi, acc)


PROBES = list(
    itertools.product("bc", (1, 5, 8, 10, 136), (0, 2, 3, 5, 20, 200, 229), ("r", "w", "m", "rw", "rm", "wm", "rwm"))
)

SCENARIOS = {
    "deny all": [R(False, "a")],
    "allow all": [R(True, "a")],
    "runc default (deny all + defaults)": parse_rules(container_rules([{"allow": False, "access": "rwm"}])),
    "deny null rw on allow-list": [R(True, "a"), R(False, "c", 1, 3, "rw")],
    "deny null w only": [R(True, "a"), R(False, "c", 1, 3, "w")],
    "allow majors and wildcards": [
        R(False, "a"),
        R(True, "c", 1, WILDCARD, "rw"),
        R(True, "b", WILDCARD, 20, "r"),
        R(True, "c", 136, 5, "m"),
    ],
    "allow then revoke part": [R(False, "a"), R(True, "c", 1, 3, "rwm"), R(False, "c", 1, 3, "w")],
    "runtime-tools devices": parse_rules(
        container_rules(
            [
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
                {"allow": True, "type": "b", "major": 8, "minor": 20, "access": "rw"},
                {"allow": True, "type": "b", "major": 10, "minor": 200, "access": "r"},
            ]
        )
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_bpf_program_matches_v1_semantics(name: str) -> None:
    rules = SCENARIOS[name]
    emu = Emulator.from_rules(rules)
    prog = devices_bpf.assemble(rules)
    for t, ma, mi, acc in PROBES:
        want = emu.permits(t, ma, mi, acc)
        assert run_program(prog, t, ma, mi, acc) == int(want), (name, t, ma, mi, acc)


def test_bpf_program_random_rule_lists() -> None:
    rnd = random.Random(1234)
    for _ in range(150):
        rules = [R(rnd.random() < 0.5, "a")]
        for _ in range(rnd.randint(0, 6)):
            rules.append(
                R(
                    not rules[0].allow,
                    rnd.choice("bc"),
                    rnd.choice((WILDCARD, 1, 8, 10)),
                    rnd.choice((WILDCARD, 3, 5, 20)),
                    "".join(sorted(rnd.sample("rwm", rnd.randint(1, 3)), key="rwm".index)),
                )
            )
        emu = Emulator.from_rules(rules)
        prog = devices_bpf.assemble(rules)
        for t, ma, mi, acc in PROBES[::7]:
            assert run_program(prog, t, ma, mi, acc) == int(emu.permits(t, ma, mi, acc)), rules


def test_expected_answers_for_the_readme_example() -> None:
    rules = SCENARIOS["deny null rw on allow-list"]
    prog = devices_bpf.assemble(rules)
    assert run_program(prog, "c", 1, 3, "r") == 0
    assert run_program(prog, "c", 1, 3, "w") == 0
    assert run_program(prog, "c", 1, 3, "m") == 1
    assert run_program(prog, "c", 1, 5, "rw") == 1


def test_emulator_v1_kernel_semantics() -> None:
    emu = Emulator.from_rules([R(False, "a"), R(True, "c", 1, 3, "r"), R(True, "c", 1, 3, "w")])
    assert emu.rules == {("c", 1, 3): "rw"}
    assert emu.permits("c", 1, 3, "rw") and not emu.permits("c", 1, 3, "rwm")
    # an allow-list needs one exception covering every permission asked for
    emu = Emulator.from_rules([R(False, "a"), R(True, "c", 1, WILDCARD, "r"), R(True, "c", 1, 3, "w")])
    assert not emu.permits("c", 1, 3, "rw")
    # a deny-list denies on any overlap
    emu = Emulator.from_rules([R(True, "a"), R(False, "c", 1, 3, "w")])
    assert not emu.permits("c", 1, 3, "rw") and emu.permits("c", 1, 3, "r")


def test_emulator_refuses_a_hole_in_a_wildcard() -> None:
    with pytest.raises(CgroupError, match="punch a hole"):
        Emulator.from_rules([R(False, "a"), R(True, "c", WILDCARD, WILDCARD, "m"), R(False, "c", 1, 3, "m")])


def test_emulator_from_devices_list() -> None:
    assert Emulator.from_list("a *:* rwm\n").default_allow
    emu = Emulator.from_list("c 1:3 rwm\nb *:* m\nc 136:* rw\n")
    assert not emu.default_allow
    assert emu.rules == {("c", 1, 3): "rwm", ("b", WILDCARD, WILDCARD): "m", ("c", 136, WILDCARD): "rw"}


def test_transition_from_allow_all_resets_first() -> None:
    cur = Emulator(True)
    target = Emulator.from_rules([R(False, "a"), R(True, "c", 1, 3, "rwm")])
    assert [r.cgroup_string() for r in cur.transition(target)] == ["a *:* rwm", "c 1:3 rwm"]
    assert [r.allow for r in cur.transition(target)] == [False, True]


def test_transition_between_allow_lists_is_minimal() -> None:
    cur = Emulator.from_rules([R(False, "a"), R(True, "c", 1, 3, "rwm"), R(True, "c", 1, 5, "r")])
    target = Emulator.from_rules(
        [R(False, "a"), R(True, "c", 1, 3, "r"), R(True, "c", 1, 5, "rw"), R(True, "b", 8, 0, "r")]
    )
    out = [(r.allow, r.cgroup_string()) for r in cur.transition(target)]
    assert out == [(False, "c 1:3 wm"), (True, "c 1:5 w"), (True, "b 8:0 r")]
    # replaying the transition on the current state gives the target
    for r in cur.transition(target):
        cur.apply(r)
    assert cur == target


def test_oci_parsing_and_messages() -> None:
    assert from_oci({"allow": True, "access": "rwm"}).type == "a"
    assert from_oci({"allow": True, "type": "c", "major": 1, "access": "wr"}).access == "rw"
    with pytest.raises(CgroupError, match=r"devices\[0\].*cannot be empty"):
        from_oci({"allow": True, "type": "c", "major": 1, "minor": 3, "access": ""})
    with pytest.raises(CgroupError, match='invalid cgroup device type "p"'):
        from_oci({"allow": True, "type": "p", "access": "r"})
    assert from_oci({"allow": True, "type": "c", "access": "rwa"}).access == "rw"  # runc ignores "a"
    with pytest.raises(CgroupError, match='invalid device access "ax"'):
        from_oci({"allow": True, "type": "c", "access": "ax"})


def test_container_rules_append_runc_defaults_and_dedupe_by_path() -> None:
    rules = container_rules([{"allow": False, "access": "rwm"}])
    assert rules[0] == {"allow": False, "access": "rwm"}
    assert rules[1:3] == [{"allow": True, "type": "c", "access": "m"}, {"allow": True, "type": "b", "access": "m"}]
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"} in rules
    assert len(rules) == 1 + len(default_devices())
    deduped = container_rules([], [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3}])
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"} not in deduped
    nodes = [d[0] for d in default_devices() if d[0]]
    assert nodes == ["/dev/null", "/dev/random", "/dev/full", "/dev/tty", "/dev/zero", "/dev/urandom"]
