"""The C module behind `signal` (runk uses it directly: `signal` imports enum). Its names are
signal's, typed as typeshed types them there."""
from signal import (
    SIG_DFL as SIG_DFL,
    SIG_IGN as SIG_IGN,
    SIG_SETMASK as SIG_SETMASK,
    SIGCHLD as SIGCHLD,
    SIGWINCH as SIGWINCH,
    pidfd_send_signal as pidfd_send_signal,
    pthread_sigmask as pthread_sigmask,
    set_wakeup_fd as set_wakeup_fd,
    siginterrupt as siginterrupt,
    signal as signal,
)

NSIG: int
