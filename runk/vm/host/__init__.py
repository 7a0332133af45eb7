"""runk.vm.host: the host side of a runk-vm container; runs on the host only.

supervisor (the container's init on the host: owns the VM, serves the control socket),
switchboard (its connections), machine (the qemu and virtiofsd processes), qemu (their command
lines and the accelerator choice), sandbox (the VM plan made from the OCI config), control (the
control-socket client used by runk-vm start/kill/...), execproxy (runk-vm exec), hostio (the host
end of process I/O: terminals, exit status). May import runk.vm.wire and runk.vm.image; never
runk.vm.guest (the guest's agent is started by name, as a `python3 -c` string).
"""
