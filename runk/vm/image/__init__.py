"""runk.vm.image: building the guest on the host; host-only build code, never imported in the
guest.

assets (the guest kernel fetched with apt and its vmlinux), initramfs (the cpio archive the guest
boots) and kmod (which kernel modules it carries, in load order, from kmod's depmod/modprobe).
Imports runk.vm.guest.guest_init (the /init text) and nothing else of runk.vm.
"""
