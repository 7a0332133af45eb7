"""Type stub of runk._os: the module hands out posix's own objects, typed here as typeshed types
them in os; environ is a str snapshot; path holds the posixpath helpers runk uses.
tests/unit/test_os_shim.py checks that every name declared here exists at run time."""

from os import (
    MFD_ALLOW_SEALING as MFD_ALLOW_SEALING,
)
from os import (
    MFD_CLOEXEC as MFD_CLOEXEC,
)
from os import (
    O_APPEND as O_APPEND,
)
from os import (
    O_CLOEXEC as O_CLOEXEC,
)
from os import (
    O_CREAT as O_CREAT,
)
from os import (
    O_DIRECTORY as O_DIRECTORY,
)
from os import (
    O_EXCL as O_EXCL,
)
from os import (
    O_NOCTTY as O_NOCTTY,
)
from os import (
    O_NOFOLLOW as O_NOFOLLOW,
)
from os import (
    O_NONBLOCK as O_NONBLOCK,
)
from os import (
    O_PATH as O_PATH,
)
from os import (
    O_RDONLY as O_RDONLY,
)
from os import (
    O_RDWR as O_RDWR,
)
from os import (
    O_TRUNC as O_TRUNC,
)
from os import (
    O_WRONLY as O_WRONLY,
)
from os import (
    WEXITSTATUS as WEXITSTATUS,
)
from os import (
    WIFSIGNALED as WIFSIGNALED,
)
from os import (
    WNOHANG as WNOHANG,
)
from os import (
    WTERMSIG as WTERMSIG,
)
from os import (
    X_OK as X_OK,
)
from os import (
    _exit as _exit,
)
from os import (
    access as access,
)
from os import (
    chdir as chdir,
)
from os import (
    chmod as chmod,
)
from os import (
    chown as chown,
)
from os import (
    chroot as chroot,
)
from os import (
    close as close,
)
from os import (
    dup as dup,
)
from os import (
    dup2 as dup2,
)
from os import (
    execv as execv,
)
from os import (
    execve as execve,
)
from os import (
    fchdir as fchdir,
)
from os import (
    fchmod as fchmod,
)
from os import (
    fchown as fchown,
)
from os import (
    fork as fork,
)
from os import (
    fstat as fstat,
)
from os import (
    get_terminal_size as get_terminal_size,
)
from os import (
    getcwd as getcwd,
)
from os import (
    geteuid as geteuid,
)
from os import (
    getgid as getgid,
)
from os import (
    getgroups as getgroups,
)
from os import (
    getpid as getpid,
)
from os import (
    getresgid as getresgid,
)
from os import (
    getresuid as getresuid,
)
from os import (
    getuid as getuid,
)
from os import (
    isatty as isatty,
)
from os import (
    kill as kill,
)
from os import (
    killpg as killpg,
)
from os import (
    listdir as listdir,
)
from os import (
    major as major,
)
from os import (
    makedev as makedev,
)
from os import (
    memfd_create as memfd_create,
)
from os import (
    minor as minor,
)
from os import (
    mkdir as mkdir,
)
from os import (
    mkfifo as mkfifo,
)
from os import (
    mknod as mknod,
)
from os import (
    open as open,
)
from os import (
    pidfd_open as pidfd_open,
)
from os import (
    pipe as pipe,
)
from os import (
    pipe2 as pipe2,
)
from os import (
    pread as pread,
)
from os import (
    read as read,
)
from os import (
    readlink as readlink,
)
from os import (
    rename as rename,
)
from os import (
    rmdir as rmdir,
)
from os import (
    scandir as scandir,
)
from os import (
    sendfile as sendfile,
)
from os import (
    set_blocking as set_blocking,
)
from os import (
    set_inheritable as set_inheritable,
)
from os import (
    setgroups as setgroups,
)
from os import (
    setpgid as setpgid,
)
from os import (
    setresgid as setresgid,
)
from os import (
    setresuid as setresuid,
)
from os import (
    setsid as setsid,
)
from os import (
    stat as stat,
)
from os import (
    statvfs as statvfs,
)
from os import (
    strerror as strerror,
)
from os import (
    symlink as symlink,
)
from os import (
    umask as umask,
)
from os import (
    uname as uname,
)
from os import (
    unlink as unlink,
)
from os import (
    waitpid as waitpid,
)
from os import (
    waitstatus_to_exitcode as waitstatus_to_exitcode,
)
from os import (
    write as write,
)

environ: dict[str, str]

def fsencode(filename: str | bytes) -> bytes: ...
def makedirs(name: str, mode: int = 0o777, exist_ok: bool = False) -> None: ...

class path:
    @staticmethod
    def join(a: str, *p: str) -> str: ...
    @staticmethod
    def split(p: str) -> tuple[str, str]: ...
    @staticmethod
    def dirname(p: str) -> str: ...
    @staticmethod
    def basename(p: str) -> str: ...
    @staticmethod
    def normpath(p: str) -> str: ...
    @staticmethod
    def abspath(p: str) -> str: ...
    @staticmethod
    def exists(p: str) -> bool: ...
    @staticmethod
    def isdir(p: str) -> bool: ...
    @staticmethod
    def isfile(p: str) -> bool: ...
    @staticmethod
    def islink(p: str) -> bool: ...
    @staticmethod
    def isabs(p: str) -> bool: ...
    @staticmethod
    def realpath(p: str) -> str: ...
    @staticmethod
    def relpath(p: str, start: str | None = None) -> str: ...
