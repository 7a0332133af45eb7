"""The linux backend's and the init's refusals carry their kind: a stopped container's start,
kill and exec are StateErrors (runk.StateError for the library), a config field the host cannot
take is a ConfigError naming it."""

from __future__ import annotations

import os

import pytest

from runk.backend.linux import LinuxBackend, signal_init
from runk.errors import CONTAINER_NOT_RUNNING, ConfigError, StateError
from runk.linux import rlimits
from runk.state.record import StateRecord


def _gone_pid() -> int:
    """The pid of a child that has exited and been reaped."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def _stopped_record() -> StateRecord:
    # start time 1: were the pid reused meanwhile, it is still not this container's init
    return StateRecord(id="gone", pid=_gone_pid(), pid_starttime=1, cgroup_paths={})


def test_start_of_a_stopped_container_is_a_state_error():
    with pytest.raises(StateError, match="^cannot start a container that has stopped$"):
        LinuxBackend().start(None, _stopped_record())


def test_signal_to_a_stopped_init_is_a_state_error():
    with pytest.raises(StateError) as e:
        signal_init(_stopped_record(), 15)
    assert str(e.value) == CONTAINER_NOT_RUNNING


def test_unknown_rlimit_is_a_config_error_naming_the_field():
    with pytest.raises(ConfigError) as e:
        rlimits.resolve(
            [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}, {"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}]
        )
    assert e.value.path == "process.rlimits[1].type"
    assert str(e.value) == "process.rlimits[1].type: unknown rlimit type 'RLIMIT_NOPE'"
