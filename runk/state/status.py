"""Container statuses, the allowed transitions and runc's text for each refused one.

Runs in the parent; imports nothing. runc's state_linux.go is the reference for the texts.
"""

from __future__ import annotations

from runk.errors import CONTAINER_NOT_RUNNING, StateError

CREATING = "creating"
CREATED = "created"
RUNNING = "running"
STOPPED = "stopped"
PAUSED = "paused"


def check_start(status: str) -> None:
    if status == CREATED:
        return
    if status == STOPPED:
        raise StateError("cannot start a container that has stopped")
    if status == RUNNING:
        raise StateError("cannot start an already running container")
    raise StateError(f"cannot start a container in the {status} state")


def check_kill(status: str, all_procs: bool) -> None:
    if status == STOPPED and not all_procs:
        raise StateError(CONTAINER_NOT_RUNNING)


def check_delete(cid: str, status: str, force: bool) -> None:
    # runtime.md delete: "Attempting to delete a container that is not stopped MUST generate an
    # error" -- a created container included (runc deletes it; podman always passes --force)
    if status in (RUNNING, PAUSED, CREATED) and not force:
        raise StateError(f"cannot delete container {cid} that is not stopped: {status}")


def check_pause(status: str) -> None:
    if status in (RUNNING, CREATED):
        return
    if status == PAUSED:
        raise StateError("container already paused")
    raise StateError(CONTAINER_NOT_RUNNING)


def check_resume(status: str) -> None:
    if status != PAUSED:
        raise StateError("container not paused")


def check_exec(status: str, ignore_paused: bool) -> None:
    if status == STOPPED:
        raise StateError("cannot exec in a stopped container")
    if status == PAUSED and not ignore_paused:
        raise StateError("cannot exec in a paused container (use --ignore-paused to override)")
