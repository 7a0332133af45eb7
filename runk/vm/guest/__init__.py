"""runk.vm.guest: what runs inside the micro-VM.

agent (the guest's runk: serves protocol requests over virtio-serial), procio (its process I/O)
and relay (the harness's command streamer); the guest's /init is runk.vm.image.guest_init.
Imports runk.vm.wire and the Linux backend of runk (the agent creates containers in the guest);
never runk.vm.host or runk.vm.image. This file
stays empty of imports: the relay runs on the guest's python3 from the initramfs.
"""
