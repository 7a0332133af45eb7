"""bpf(2) for the cgroup v2 device filter: load, attach, query, detach (build time only).

The C helpers fill `union bpf_attr` from <linux/bpf.h>, so the layout is checked by the compiler
(runc uses cilium/ebpf for the same calls: ebpf_linux.go).
"""

LIBRARIES: list[str] = []

INCLUDES = r"""
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
"""

TYPES = r"""
#define BPF_PROG_TYPE_CGROUP_DEVICE ...
#define BPF_CGROUP_DEVICE ...
#define BPF_F_ALLOW_MULTI ...
#define BPF_F_REPLACE ...
#define BPF_DEVCG_ACC_MKNOD ...
#define BPF_DEVCG_ACC_READ ...
#define BPF_DEVCG_ACC_WRITE ...
#define BPF_DEVCG_DEV_BLOCK ...
#define BPF_DEVCG_DEV_CHAR ...

#define BPF_LD ...
#define BPF_LDX ...
#define BPF_ALU ...
#define BPF_JMP ...
#define BPF_W ...
#define BPF_MEM ...
#define BPF_K ...
#define BPF_X ...
#define BPF_AND ...
#define BPF_RSH ...
#define BPF_MOV ...
#define BPF_JNE ...
#define BPF_JEQ ...
#define BPF_EXIT ...
"""

FUNCTIONS = r"""
int runk_bpf_prog_load_cgdev(const void *insns, unsigned int insn_cnt, const char *license,
                             char *log_buf, unsigned int log_size);
int runk_bpf_prog_attach(int target_fd, int prog_fd, unsigned int attach_type, unsigned int flags,
                         int replace_fd);
int runk_bpf_prog_detach(int target_fd, int prog_fd, unsigned int attach_type);
int runk_bpf_prog_query(int target_fd, unsigned int attach_type, uint32_t *prog_ids,
                        uint32_t *prog_cnt);
int runk_bpf_prog_get_fd_by_id(uint32_t id);
"""

CUSTOMIZATIONS = r"""
static long runk_bpf(int cmd, union bpf_attr *attr)
{
    return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int runk_bpf_prog_load_cgdev(const void *insns, unsigned int insn_cnt, const char *license,
                             char *log_buf, unsigned int log_size)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = insn_cnt;
    attr.license = (uint64_t)(uintptr_t)license;
    if (log_buf != NULL && log_size > 0) {
        attr.log_buf = (uint64_t)(uintptr_t)log_buf;
        attr.log_size = log_size;
        attr.log_level = 1;
    }
    return (int)runk_bpf(BPF_PROG_LOAD, &attr);
}

int runk_bpf_prog_attach(int target_fd, int prog_fd, unsigned int attach_type, unsigned int flags,
                         int replace_fd)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = target_fd;
    attr.attach_bpf_fd = prog_fd;
    attr.attach_type = attach_type;
    attr.attach_flags = flags;
    if (flags & BPF_F_REPLACE)
        attr.replace_bpf_fd = replace_fd;
    return (int)runk_bpf(BPF_PROG_ATTACH, &attr);
}

int runk_bpf_prog_detach(int target_fd, int prog_fd, unsigned int attach_type)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = target_fd;
    attr.attach_bpf_fd = prog_fd;
    attr.attach_type = attach_type;
    return (int)runk_bpf(BPF_PROG_DETACH, &attr);
}

int runk_bpf_prog_query(int target_fd, unsigned int attach_type, uint32_t *prog_ids,
                        uint32_t *prog_cnt)
{
    union bpf_attr attr;
    int ret;
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = target_fd;
    attr.query.attach_type = attach_type;
    attr.query.prog_ids = (uint64_t)(uintptr_t)prog_ids;
    attr.query.prog_cnt = *prog_cnt;
    ret = (int)runk_bpf(BPF_PROG_QUERY, &attr);
    *prog_cnt = attr.query.prog_cnt;
    return ret;
}

int runk_bpf_prog_get_fd_by_id(uint32_t id)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_id = id;
    return (int)runk_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
}
"""
