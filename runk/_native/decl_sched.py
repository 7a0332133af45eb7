"""Process scheduling attributes glibc does not wrap: sched_setattr/sched_getattr (process.scheduler),
ioprio_set/ioprio_get (process.ioPriority) and set_mempolicy/get_mempolicy (linux.memoryPolicy)."""

LIBRARIES: list[str] = []

INCLUDES = r"""
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
"""

TYPES = ""

FUNCTIONS = r"""
int runk_sched_setattr(int pid, uint32_t policy, uint64_t flags, int32_t nice, uint32_t priority,
                       uint64_t runtime, uint64_t deadline, uint64_t period);
int runk_sched_getattr(int pid, uint64_t *out);
int runk_ioprio_set(int which, int who, int ioprio);
int runk_ioprio_get(int which, int who);
long runk_set_mempolicy(int mode, const unsigned long *nodemask, unsigned long maxnode);
long runk_get_mempolicy(int *mode, unsigned long *nodemask, unsigned long maxnode);
int runk_sched_setaffinity_all(int pid);
"""

CUSTOMIZATIONS = r"""
struct runk_sched_attr {            /* struct sched_attr, SCHED_ATTR_SIZE_VER0 (Linux 3.14) */
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
};

int runk_sched_setattr(int pid, uint32_t policy, uint64_t flags, int32_t nice, uint32_t priority,
                       uint64_t runtime, uint64_t deadline, uint64_t period)
{
    struct runk_sched_attr a;
    memset(&a, 0, sizeof(a));
    a.size = sizeof(a);
    a.sched_policy = policy;
    a.sched_flags = flags;
    a.sched_nice = nice;
    a.sched_priority = priority;
    a.sched_runtime = runtime;
    a.sched_deadline = deadline;
    a.sched_period = period;
    return (int)syscall(SYS_sched_setattr, pid, &a, 0);
}

/* out: policy, flags, nice, priority, runtime, deadline, period */
int runk_sched_getattr(int pid, uint64_t *out)
{
    struct runk_sched_attr a;
    memset(&a, 0, sizeof(a));
    if (syscall(SYS_sched_getattr, pid, &a, sizeof(a), 0) < 0)
        return -1;
    out[0] = a.sched_policy;
    out[1] = a.sched_flags;
    out[2] = (uint64_t)(int64_t)a.sched_nice;
    out[3] = a.sched_priority;
    out[4] = a.sched_runtime;
    out[5] = a.sched_deadline;
    out[6] = a.sched_period;
    return 0;
}

int runk_ioprio_set(int which, int who, int ioprio)
{
    return (int)syscall(SYS_ioprio_set, which, who, ioprio);
}

int runk_ioprio_get(int which, int who)
{
    return (int)syscall(SYS_ioprio_get, which, who);
}

long runk_set_mempolicy(int mode, const unsigned long *nodemask, unsigned long maxnode)
{
    return syscall(SYS_set_mempolicy, mode, nodemask, maxnode);
}

long runk_get_mempolicy(int *mode, unsigned long *nodemask, unsigned long maxnode)
{
    return syscall(SYS_get_mempolicy, mode, nodemask, maxnode, 0, 0);
}

/* Every possible CPU (65536, runc's bound): the kernel keeps what it has and what the task's
   cpuset allows. A static mask, filled in C: building it in Python costs 2 ms. */
int runk_sched_setaffinity_all(int pid)
{
    static unsigned long mask[65536 / (8 * sizeof(unsigned long))];
    memset(mask, 0xff, sizeof(mask));
    return (int)syscall(SYS_sched_setaffinity, pid, sizeof(mask), mask);
}
"""
