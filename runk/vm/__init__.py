"""runk.vm: the micro-VM backend (runk-vm), split by role and by where the code runs.

    wire/    the frame codec and the message protocol; both sides (host and guest)
    host/    the host side: supervisor, qemu/virtiofsd processes, the VM plan, control client,
             exec proxy, process I/O on the host; runs on the host only
    guest/   the guest side: the agent, its process I/O, the relay and the guest's /init text;
             runs in the guest (guest_init only as text, written into the initramfs on the host)
    image/   building the guest: kernel fetch, initramfs, kernel modules; host-only build code
    testing  boots a throw-away guest to run one command (tests, and scripts/mkguest --boot)

Import rules: wire/ imports nothing of runk.vm outside itself; guest/ imports wire/ only (never
host/ or image/); image/ imports guest/ only for guest_init's text; host/ may import wire/ and
image/. Nothing here imports a private name of runk.backend.
"""
