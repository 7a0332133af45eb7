"""fork() straight into a cgroup v2 group: clone3(CLONE_INTO_CGROUP) with CPython's fork steps.

Moving a task by writing cgroup.procs takes the kernel's cgroup_threadgroup_rwsem for writing,
which waits for an RCU grace period: 5-15 ms on every create and exec (runc pays it too). A child
cloned into its group takes that lock only for reading.
"""

LIBRARIES: list[str] = []

INCLUDES = r"""
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
"""

TYPES = ""

FUNCTIONS = r"""
long runk_fork_into_cgroup(int cgroup_fd);
"""

CUSTOMIZATIONS = r"""
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef PR_GET_TID_ADDRESS
#define PR_GET_TID_ADDRESS 40
#endif
#define RUNK_CLONE_INTO_CGROUP 0x200000000ULL

struct runk_clone_args {            /* struct clone_args, CLONE_ARGS_SIZE_VER2 (Linux 5.7) */
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
             set_tid, set_tid_size, cgroup;
};

/* os.fork() with clone3: the same PyOS_BeforeFork/AfterFork steps around the syscall (cffi
   calls with the GIL released, so it is taken back first), and the child's glibc thread id set
   as glibc's fork sets it (CLONE_CHILD_SETTID on the address glibc gave set_tid_address, which
   PR_GET_TID_ADDRESS returns). The caller is single-threaded. Returns the pid, 0 in the child,
   or -1 with errno, before anything happened (ENOSYS, EINVAL, ... : fall back to fork). */
long runk_fork_into_cgroup(int cgroup_fd)
{
    int *tidp = NULL;
    struct runk_clone_args a;
    PyGILState_STATE gil;
    long pid;
    int err;

    if (prctl(PR_GET_TID_ADDRESS, &tidp, 0, 0, 0) != 0)
        return -1;
    if (tidp == NULL) {
        errno = ENOSYS;
        return -1;
    }
    memset(&a, 0, sizeof(a));
    a.flags = RUNK_CLONE_INTO_CGROUP | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
    a.child_tid = (uint64_t)(uintptr_t)tidp;
    a.exit_signal = SIGCHLD;
    a.cgroup = (uint64_t)(unsigned int)cgroup_fd;
    gil = PyGILState_Ensure();
    PyOS_BeforeFork();
    pid = syscall(SYS_clone3, &a, sizeof(a));
    err = errno;
    if (pid == 0)
        PyOS_AfterFork_Child();
    else
        PyOS_AfterFork_Parent();
    PyGILState_Release(gil);
    errno = err;
    return pid;
}
"""
