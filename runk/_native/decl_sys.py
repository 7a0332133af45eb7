"""Syscalls Python 3.11 lacks: namespaces, mounts, openat2, close_range, prctl, keyrings, fstatfs."""

LIBRARIES: list[str] = []

INCLUDES = r"""
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <signal.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/close_range.h>
#include <linux/keyctl.h>
#include <linux/securebits.h>
"""

TYPES = r"""
#define CLONE_NEWNS ...
#define CLONE_NEWUTS ...
#define CLONE_NEWIPC ...
#define CLONE_NEWUSER ...
#define CLONE_NEWPID ...
#define CLONE_NEWNET ...
#define CLONE_NEWCGROUP ...
#define CLONE_NEWTIME ...

#define MS_RDONLY ...
#define MS_NOSUID ...
#define MS_NODEV ...
#define MS_NOEXEC ...
#define MS_SYNCHRONOUS ...
#define MS_REMOUNT ...
#define MS_MANDLOCK ...
#define MS_DIRSYNC ...
#define MS_NOSYMFOLLOW ...
#define MS_NOATIME ...
#define MS_NODIRATIME ...
#define MS_BIND ...
#define MS_MOVE ...
#define MS_REC ...
#define MS_SILENT ...
#define MS_POSIXACL ...
#define MS_UNBINDABLE ...
#define MS_PRIVATE ...
#define MS_SLAVE ...
#define MS_SHARED ...
#define MS_RELATIME ...
#define MS_I_VERSION ...
#define MS_STRICTATIME ...
#define MS_LAZYTIME ...
#define MNT_DETACH ...
#define MNT_FORCE ...
#define UMOUNT_NOFOLLOW ...

#define MOUNT_ATTR_RDONLY ...
#define MOUNT_ATTR_NOSUID ...
#define MOUNT_ATTR_NODEV ...
#define MOUNT_ATTR_NOEXEC ...
#define MOUNT_ATTR__ATIME ...
#define MOUNT_ATTR_RELATIME ...
#define MOUNT_ATTR_NOATIME ...
#define MOUNT_ATTR_STRICTATIME ...
#define MOUNT_ATTR_NODIRATIME ...
#define MOUNT_ATTR_NOSYMFOLLOW ...
#define MOUNT_ATTR_IDMAP ...
#define AT_RECURSIVE ...
#define OPEN_TREE_CLONE ...
#define OPEN_TREE_CLOEXEC ...
#define MOVE_MOUNT_F_EMPTY_PATH ...
#define MOVE_MOUNT_T_EMPTY_PATH ...
#define AT_EMPTY_PATH ...
#define AT_SYMLINK_NOFOLLOW ...

#define RESOLVE_NO_XDEV ...
#define RESOLVE_NO_MAGICLINKS ...
#define RESOLVE_NO_SYMLINKS ...
#define RESOLVE_BENEATH ...
#define RESOLVE_IN_ROOT ...
#define CLOSE_RANGE_CLOEXEC ...
#define PROC_SUPER_MAGIC ...

#define PR_SET_NO_NEW_PRIVS ...
#define PR_CAP_AMBIENT ...
#define PR_CAP_AMBIENT_RAISE ...
#define PR_CAP_AMBIENT_CLEAR_ALL ...
#define PR_SET_KEEPCAPS ...
#define PR_SET_DUMPABLE ...
#define PR_SET_NAME ...
#define PR_SET_CHILD_SUBREAPER ...
#define PR_SET_PDEATHSIG ...
#define PR_SET_SECUREBITS ...
#define PR_GET_SECUREBITS ...

#define KEYCTL_JOIN_SESSION_KEYRING ...
#define KEYCTL_SETPERM ...
"""

FUNCTIONS = r"""
int unshare(int flags);
int setns(int fd, int nstype);
int mount(const char *source, const char *target, const char *fstype,
          unsigned long flags, const void *data);
int umount2(const char *target, int flags);
int sethostname(const char *name, size_t len);
int setdomainname(const char *name, size_t len);
int personality(unsigned long persona);
int runk_pivot_root(const char *new_root, const char *put_old);
int runk_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);
int runk_close_range(unsigned int first, unsigned int last, unsigned int flags);
int runk_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5);
long runk_keyctl(int op, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5);
int runk_mount_setattr(int dirfd, const char *path, unsigned int flags,
                       uint64_t attr_set, uint64_t attr_clr, uint64_t propagation);
int runk_loopback_up(void);
long long runk_fs_type(int fd);
int runk_mount_setattr_idmap(int dirfd, unsigned int flags, int userns_fd);
int runk_userns_holder(void);
int runk_open_tree(int dirfd, const char *path, unsigned int flags);
int runk_move_mount(int from_dfd, const char *from_path, int to_dfd, const char *to_path,
                    unsigned int flags);
"""

CUSTOMIZATIONS = r"""
int runk_pivot_root(const char *new_root, const char *put_old)
{
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

int runk_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve)
{
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = flags;
    how.mode = mode;
    how.resolve = resolve;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int runk_close_range(unsigned int first, unsigned int last, unsigned int flags)
{
    return (int)syscall(SYS_close_range, first, last, flags);
}

int runk_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{
    return prctl(option, a2, a3, a4, a5);
}

long runk_keyctl(int op, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{
    return syscall(SYS_keyctl, op, a2, a3, a4, a5);
}

int runk_mount_setattr(int dirfd, const char *path, unsigned int flags,
                       uint64_t attr_set, uint64_t attr_clr, uint64_t propagation)
{
    struct mount_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.attr_set = attr_set;
    attr.attr_clr = attr_clr;
    attr.propagation = propagation;
    return (int)syscall(SYS_mount_setattr, dirfd, path, flags, &attr, sizeof(attr));
}

/* mount_setattr(MOUNT_ATTR_IDMAP) on the detached tree open as dirfd (AT_EMPTY_PATH), mapped
   by the user namespace userns_fd: an id-mapped mount (flags: AT_RECURSIVE for every mount of
   the tree). */
int runk_mount_setattr_idmap(int dirfd, unsigned int flags, int userns_fd)
{
    struct mount_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = (uint64_t)userns_fd;
    return (int)syscall(SYS_mount_setattr, dirfd, "", flags | AT_EMPTY_PATH, &attr, sizeof(attr));
}

/* A child born in a new, empty user namespace that only waits to be killed (and dies with its
   parent): the parent writes its uid_map and gid_map and opens /proc/PID/ns/user, the user
   namespace of an id-mapped mount. Returns its pid, or -1 with errno. The child runs no
   Python and calls only async-signal-safe functions. */
int runk_userns_holder(void)
{
    pid_t parent = getpid();
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != parent)
            _exit(0);
        for (;;)
            pause();
    }
    return (int)pid;
}

int runk_open_tree(int dirfd, const char *path, unsigned int flags)
{
    return (int)syscall(SYS_open_tree, dirfd, path, flags);
}

int runk_move_mount(int from_dfd, const char *from_path, int to_dfd, const char *to_path,
                    unsigned int flags)
{
    return (int)syscall(SYS_move_mount, from_dfd, from_path, to_dfd, to_path, flags);
}

/* The file system type (statfs f_type) of what fd refers to, or -1 with errno: os.fstatvfs
   does not report it, and it tells procfs (PROC_SUPER_MAGIC) from anything mounted over it. */
long long runk_fs_type(int fd)
{
    struct statfs st;
    if (fstatfs(fd, &st) < 0)
        return -1;
    return (long long)st.f_type;
}

/* A new network namespace has lo down; SIOCSIFFLAGS on an AF_INET socket brings it up
   without importing pyroute2 (150 ms). */
int runk_loopback_up(void)
{
    struct ifreq ifr;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
        int e = errno; close(fd); errno = e; return -1;
    }
    if (!(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
            int e = errno; close(fd); errno = e; return -1;
        }
    }
    close(fd);
    return 0;
}
"""
