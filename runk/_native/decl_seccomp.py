"""libseccomp (compile a profile to BPF) and seccomp(2) (load a BPF program); used by runk.linux.seccomp.

libseccomp only compiles and exports: runk loads the exported program itself with seccomp(2), in the
init or in the exec trampoline, so that the flags and the moment of loading are runk's choice
(runc's patchbpf does the same).
"""

LIBRARIES = ["seccomp"]

INCLUDES = r"""
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
"""

TYPES = r"""
typedef void *scmp_filter_ctx;
typedef uint64_t scmp_datum_t;

struct scmp_version {
    unsigned int major;
    unsigned int minor;
    unsigned int micro;
};

enum scmp_filter_attr {
    SCMP_FLTATR_ACT_DEFAULT,
    SCMP_FLTATR_ACT_BADARCH,
    SCMP_FLTATR_CTL_NNP,
    SCMP_FLTATR_CTL_TSYNC,
    SCMP_FLTATR_API_TSKIP,
    SCMP_FLTATR_CTL_LOG,
    SCMP_FLTATR_CTL_SSB,
    SCMP_FLTATR_CTL_OPTIMIZE,
    ...
};

enum scmp_compare {
    SCMP_CMP_NE,
    SCMP_CMP_LT,
    SCMP_CMP_LE,
    SCMP_CMP_EQ,
    SCMP_CMP_GE,
    SCMP_CMP_GT,
    SCMP_CMP_MASKED_EQ,
    ...
};

struct scmp_arg_cmp {
    unsigned int arg;
    enum scmp_compare op;
    scmp_datum_t datum_a;
    scmp_datum_t datum_b;
    ...;
};

#define SCMP_ACT_KILL_PROCESS ...
#define SCMP_ACT_KILL_THREAD ...
#define SCMP_ACT_KILL ...
#define SCMP_ACT_TRAP ...
#define SCMP_ACT_NOTIFY ...
#define SCMP_ACT_LOG ...
#define SCMP_ACT_ALLOW ...
#define SCMP_ARCH_NATIVE ...
#define __NR_SCMP_ERROR ...

#define SECCOMP_SET_MODE_FILTER ...
#define SECCOMP_FILTER_FLAG_TSYNC ...
#define SECCOMP_FILTER_FLAG_LOG ...
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW ...
#define SECCOMP_FILTER_FLAG_NEW_LISTENER ...
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH ...
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ...
#define BPF_MAXINSNS ...
"""

FUNCTIONS = r"""
const struct scmp_version *seccomp_version(void);
unsigned int seccomp_api_get(void);
scmp_filter_ctx seccomp_init(uint32_t def_action);
int seccomp_reset(scmp_filter_ctx ctx, uint32_t def_action);
void seccomp_release(scmp_filter_ctx ctx);
uint32_t seccomp_arch_resolve_name(const char *arch_name);
uint32_t seccomp_arch_native(void);
int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_arch_remove(scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_attr_set(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value);
int seccomp_syscall_resolve_name(const char *name);
int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name);
int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
                           unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);

uint32_t runk_scmp_act_errno(uint16_t err);
uint32_t runk_scmp_act_trace(uint16_t msg);
int runk_seccomp_load(unsigned int flags, const unsigned char *bpf, size_t len);
"""

CUSTOMIZATIONS = r"""
/* SCMP_ACT_ERRNO(x) and SCMP_ACT_TRACE(x) are function-like macros cffi cannot declare. */
uint32_t runk_scmp_act_errno(uint16_t err)
{
    return SCMP_ACT_ERRNO(err);
}

uint32_t runk_scmp_act_trace(uint16_t msg)
{
    return SCMP_ACT_TRACE(msg);
}

/* seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) on a buffer of struct sock_filter (glibc has no
   wrapper). Returns what the syscall returns: 0, or a listener fd with NEW_LISTENER. */
int runk_seccomp_load(unsigned int flags, const unsigned char *bpf, size_t len)
{
    struct sock_fprog prog;
    if (len == 0 || len % sizeof(struct sock_filter) != 0 ||
        len / sizeof(struct sock_filter) > BPF_MAXINSNS) {
        errno = EINVAL;
        return -1;
    }
    prog.len = (unsigned short)(len / sizeof(struct sock_filter));
    prog.filter = (struct sock_filter *)bpf;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}
"""
