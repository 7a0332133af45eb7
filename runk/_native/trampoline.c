/*
 * runk-exec: the last step of every container process (init and exec), run from a sealed memfd.
 *
 * Why it exists (CVE-2019-5736): runk's init is a forked Python interpreter. If the final execve
 * were done by that interpreter, a container entrypoint with "#!/proc/self/exe" would run the host
 * interpreter inside the container, and a process there could reopen /proc/<pid>/exe and overwrite
 * it. runk therefore execs this program from a sealed, immutable memfd first; /proc/self/exe of
 * everything in the container then points at that memfd, never at a host file.  It also keeps a
 * created container small: the process waiting for `start` is this program, not Python.
 *
 * usage: runk-exec FIFO_FD SECCOMP_FD SECCOMP_FLAGS PATH ARGV0 [ARG...]
 *   FIFO_FD       O_PATH fd of <state>/exec.fifo, or -1 ("N@P": reopen it through P, an fd
 *                 of the host's /proc, when the container has no mount namespace). Opening it write-only blocks until
 *                 `runk start` opens the read end (runc's exec fifo); one byte is written and
 *                 the write end is left to close at the final execve.
 *   SECCOMP_FD    fd holding a BPF program (struct sock_filter array), or -1. It is loaded after
 *                 the start gate, as late as possible (runc: with noNewPrivileges).
 *   SECCOMP_FLAGS flags for seccomp(SECCOMP_SET_MODE_FILTER).
 *   PATH          the resolved executable; ARGV0.. its argv. The environment is passed through.
 *                 "!CODE!MESSAGE" instead: the program could not be found or run; the message is
 *                 printed and CODE (127 or 126) is the exit status, after the start gate.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

extern char **environ;

static void die(const char *what, const char *arg)
{
    int err = errno;
    /* podman classifies by these phrases: "permission denied", "no such file or directory" */
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "runk-exec: %s %s: %s\n", what, arg ? arg : "", strerror(err));
    if (n > 0)
        (void)!write(2, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
    _exit(err == ENOENT ? 127 : 126);
}

/* The program itself could not be executed (a bad interpreter line, a wrong format): runc's
   words, "exec PATH: REASON" with Go's lower-case errno text, and podman's exit codes. */
static void exec_failed(const char *path)
{
    int err = errno;
    char reason[256];
    char buf[512];
    int n;
    snprintf(reason, sizeof(reason), "%s", strerror(err));
    if (reason[0] >= 'A' && reason[0] <= 'Z')
        reason[0] = (char)(reason[0] - 'A' + 'a');
    n = snprintf(buf, sizeof(buf), "exec %s: %s\n", path, reason);
    if (n > 0)
        (void)!write(2, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
    _exit(err == ENOENT ? 127 : 126);
}

static int parse_fd(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < -1 || v > 1 << 20) {
        errno = EINVAL;
        die("bad fd argument", s);
    }
    return (int)v;
}

/* A created container's process ends on SIGTERM (and the user signals no terminal sends), as
   runc's Go init does while it waits for `start`: as the init of a pid namespace it would
   otherwise ignore every signal but SIGKILL sent with the default action (kill TERM, or a
   --pidfd-socket manager's SIGTERM). Not SIGHUP, SIGINT or SIGQUIT: its terminal sends those
   (a hangup while the console socket's listener takes over the master), and runc's init
   survives them there. The handlers last until the final execve, which resets them. */
static void on_signal(int sig)
{
    _exit(128 + sig);
}

static void die_on_signals(void)
{
    static const int sigs[] = {SIGTERM, SIGUSR1, SIGUSR2, SIGALRM};
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        errno = EINVAL;
        die("usage:", "runk-exec FIFO_FD SECCOMP_FD SECCOMP_FLAGS PATH ARGV0 [ARG...]");
    }
    /* "N@P": no mount namespace, so the container's root has no /proc: the fifo is reopened
       through P, an O_PATH fd of the host's /proc taken before chroot and closed right after */
    int procfd = -1;
    char *at = strchr(argv[1], '@');
    if (at) {
        *at = '\0';
        procfd = parse_fd(at + 1);
    }
    int fifo = parse_fd(argv[1]);
    int sfd = parse_fd(argv[2]);
    unsigned int sflags = (unsigned int)strtoul(argv[3], NULL, 10);

    if (fifo >= 0) {
        die_on_signals();
        char path[64];
        int w;
        if (procfd >= 0) {
            snprintf(path, sizeof(path), "self/fd/%d", fifo);
            w = openat(procfd, path, O_WRONLY | O_CLOEXEC);
            close(procfd);
        } else {
            snprintf(path, sizeof(path), "/proc/self/fd/%d", fifo);
            w = open(path, O_WRONLY | O_CLOEXEC);
        }
        if (w < 0)
            die("open exec fifo", path);
        if (write(w, "0", 1) != 1)
            die("write exec fifo", path);
        /* w stays open, close-on-exec: `start` sees EOF on the fifo exactly when the user
           program has been executed (or this process died), so poststart hooks run after
           the process is executed, as the runtime-spec asks. */
        close(fifo);
    }

    if (sfd >= 0) {
        struct stat st;
        if (fstat(sfd, &st) < 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter))
            die("seccomp program", "fstat");
        struct sock_filter *insns = malloc((size_t)st.st_size);
        if (!insns)
            die("seccomp program", "malloc");
        ssize_t got = pread(sfd, insns, (size_t)st.st_size, 0);
        if (got != st.st_size)
            die("seccomp program", "read");
        struct sock_fprog prog = {
            .len = (unsigned short)(st.st_size / sizeof(struct sock_filter)),
            .filter = insns,
        };
        close(sfd);
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, sflags, &prog) < 0)
            die("load seccomp filter", "");
        /* no free(): the next call replaces this process image */
    }

    if (argv[4][0] == '\0' || argc < 6) {
        /* created without a process (allowed by the spec; `start` refuses it) */
        errno = EINVAL;
        die("no process to run:", "config.json has no process.args");
    }
    if (argv[4][0] == '!') {
        /* "!CODE!MESSAGE": the init could not find or run the program; report it now that
           the process would have started (runc's message, podman's exit codes 127/126) */
        char *msg = strchr(argv[4] + 1, '!');
        int code = atoi(argv[4] + 1);
        if (msg) {
            (void)!write(2, msg + 1, strlen(msg + 1));
            (void)!write(2, "\n", 1);
        }
        _exit(code == 126 ? 126 : 127);
    }
    execve(argv[4], argv + 5, environ);
    exec_failed(argv[4]);
    return 127;
}
