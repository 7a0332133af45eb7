/*
 * syscall_probe: make raw syscalls and print what each returned, one line each: "0" for
 * success, else the errno number. glibc wrappers are bypassed (they may hide ENOSYS).
 *
 * usage: syscall_probe NR...   NR: a number (x86_64 syscall(2), the x32 bit included if set),
 *                              or "i386:N" for the i386 ABI (int $0x80 from this 64-bit process)
 * Used by tests/integration/test_seccomp_enosys.py, built there with gcc -static.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static long int80(long nr)
{
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(0), "c"(0), "d"(0) : "memory");
    return ret;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        long r;
        if (strncmp(argv[i], "i386:", 5) == 0) {
            r = int80(strtol(argv[i] + 5, NULL, 0));
            printf("%ld\n", r < 0 ? -r : 0);
        } else {
            r = syscall(strtol(argv[i], NULL, 0), 0, 0, 0, 0, 0, 0);
            printf("%d\n", r < 0 ? errno : 0);
        }
    }
    return 0;
}
