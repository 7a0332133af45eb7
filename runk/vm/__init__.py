"""runk.vm: the micro-VM backend (runk-vm), split by role and by where the code runs.

    wire/    the frame codec and the message protocol; both sides (host and guest)
    host/    the host side: supervisor, qemu/virtiofsd processes, the VM plan, control client,
             exec proxy, process I/O on the host; pods (a container joining a running VM
             container's namespaces runs in its VM: pod, podshare, member); runs on the host only
    guest/   the guest side: the agent, its process I/O and the relay; runs in the guest
    image/   building the guest: kernel fetch, initramfs, kernel modules and the text of the
             guest's /init; host-only build code
    testing  boots a throw-away guest to run one command (tests, and scripts/mkguest --boot)

Import rules: wire/ imports nothing of runk.vm outside itself; guest/ imports wire/ only (never
host/ or image/); image/ imports nothing of runk.vm outside itself; host/ may import wire/ and image/.
ARCHITECTURE.md places them among runk's layers (guest/ sits above runk.container). Nothing here
imports a private name of runk.backend.
"""
