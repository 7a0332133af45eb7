"""runk.vm.image: building the guest on the host; host-only build code, never imported in the
guest.

assets (the guest kernel fetched with apt and its vmlinux), initramfs (the cpio archive the guest
boots), kmod (which kernel modules it carries, in load order, from kmod's depmod/modprobe) and
guest_init (the text of the guest's /init, written into the initramfs). Imports nothing else of
runk.vm.
"""
