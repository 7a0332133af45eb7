"""Type stub of runk._os: the module hands out posix's own objects, typed here as typeshed types
them in os; environ is a str snapshot; path holds the posixpath helpers runk uses.
tests/unit/test_os_shim.py checks that every name declared here exists at run time."""

from os import (
    MFD_ALLOW_SEALING as MFD_ALLOW_SEALING,
    MFD_CLOEXEC as MFD_CLOEXEC,
    O_APPEND as O_APPEND,
    O_CLOEXEC as O_CLOEXEC,
    O_CREAT as O_CREAT,
    O_DIRECTORY as O_DIRECTORY,
    O_EXCL as O_EXCL,
    O_NOCTTY as O_NOCTTY,
    O_NOFOLLOW as O_NOFOLLOW,
    O_NONBLOCK as O_NONBLOCK,
    O_PATH as O_PATH,
    O_RDONLY as O_RDONLY,
    O_RDWR as O_RDWR,
    O_TRUNC as O_TRUNC,
    O_WRONLY as O_WRONLY,
    WEXITSTATUS as WEXITSTATUS,
    WIFSIGNALED as WIFSIGNALED,
    WTERMSIG as WTERMSIG,
    X_OK as X_OK,
    _exit as _exit,
    access as access,
    chdir as chdir,
    chmod as chmod,
    chown as chown,
    chroot as chroot,
    close as close,
    dup as dup,
    execv as execv,
    execve as execve,
    fchdir as fchdir,
    fchmod as fchmod,
    fchown as fchown,
    fork as fork,
    fstat as fstat,
    get_terminal_size as get_terminal_size,
    getcwd as getcwd,
    getgid as getgid,
    getpid as getpid,
    getuid as getuid,
    isatty as isatty,
    kill as kill,
    killpg as killpg,
    listdir as listdir,
    makedev as makedev,
    memfd_create as memfd_create,
    mkdir as mkdir,
    mkfifo as mkfifo,
    mknod as mknod,
    open as open,
    pidfd_open as pidfd_open,
    pipe as pipe,
    pipe2 as pipe2,
    pread as pread,
    read as read,
    readlink as readlink,
    rename as rename,
    rmdir as rmdir,
    scandir as scandir,
    sendfile as sendfile,
    set_blocking as set_blocking,
    set_inheritable as set_inheritable,
    setgroups as setgroups,
    setpgid as setpgid,
    setresgid as setresgid,
    setresuid as setresuid,
    setsid as setsid,
    stat as stat,
    statvfs as statvfs,
    strerror as strerror,
    symlink as symlink,
    umask as umask,
    uname as uname,
    unlink as unlink,
    waitpid as waitpid,
    waitstatus_to_exitcode as waitstatus_to_exitcode,
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
