#!/bin/sh
# The lab guest's first stage: PID 1 from runk's initramfs (runk.relay=exec), busybox ash.
# It builds the systemd host in a tmpfs and hands over to systemd with switch_root. See
# tests/lab/machine.py for the whole picture; everything comes from the environment:
#   LAB_CHECKOUT  this checkout (shared read-only at the same path; tests/lab/driver.py is in it)
#   LAB_ETC       where the host's /etc is mounted (read-only): the lower layer of the new /etc
#   LAB_MOVE      the other shares' mount points, moved into the new root at the same paths
#   LAB_MODULES   a depmod'ed tree of the guest kernel's modules (modprobe -d)
#   LAB_USER      the non-root user to create, lingering (its systemd instance starts at boot)
#   RUNK_AGENT_PORT  the virtio-serial port to the host (from runk's /init)
# stdin is the test plan (JSON), kept for the driver in /run/lab/plan.json.
set -eu
say() { echo "lab-stage1: $*" > /dev/console; }
trap 'say "failed, powering off"; sync; reboot -f' EXIT

new=/lab-root
mkdir -p "$new"
mount -t tmpfs -o mode=755 lab-root "$new"
cd "$new"
mkdir -p usr etc dev proc sys run tmp root home mnt opt srv media \
         var/tmp var/lib var/log var/cache var/spool var/mail
chmod 1777 tmp var/tmp
chmod 700 root
for d in bin sbin lib lib32 lib64 libx32; do
    [ -d "/usr/$d" ] && ln -s "usr/$d" "$d"
done
ln -s /run var/run
ln -s /run/lock var/lock

# what the kernel and runk's /init mounted, and the shares, go along
mount --move /run run
mount --move /dev dev
mount --move /proc proc
mount --move /sys sys
umount /tmp 2>/dev/null || true
for p in $LAB_MOVE; do
    mkdir -p ".$p"
    mount --move "$p" ".$p"
done
lab=$new/run/lab
mkdir -p "$lab/host-etc" "$lab/etc-upper" "$lab/etc-work" "$lab/out"
mount --move "$LAB_ETC" "$lab/host-etc"
mount --move /usr usr   # busybox's applets (/bin of the initramfs) carry on without it
mount -t overlay lab-etc \
    -o "lowerdir=$lab/host-etc,upperdir=$lab/etc-upper,workdir=$lab/etc-work" etc

cat > "$lab/plan.json"
echo "$RUNK_AGENT_PORT" > "$lab/port"

# kernel module autoloading (request_module: nf_tables for netavark, dummy, ...) from the
# guest kernel's own modules, which the host's /usr does not have
printf '#!/bin/sh\nexec /usr/sbin/modprobe -d %s "$@"\n' "$LAB_MODULES" > "$lab/modprobe"
chmod 755 "$lab/modprobe"
echo /run/lab/modprobe > proc/sys/kernel/modprobe

# /etc: the host's, minus what would start its services or slow the boot
e=$new/etc
: > "$e/fstab"
echo runk-lab > "$e/hostname"
rm -rf "$e"/systemd/system/*.wants "$e"/systemd/user/*.wants \
       "$e/systemd/system/dbus-org.freedesktop.timesync1.service"
ln -sf /lib/systemd/system/multi-user.target "$e/systemd/system/default.target"
# masked: gettys, clock sync, caches of a persistent /usr or /var, host timers; and, as every
# unit costs seconds under TCG on a busy host, what a tmpfs root with the host's /etc does not
# need (its system users exist, there are no modules to load at boot, no fstab, no utmp readers)
for u in serial-getty@ttyS0.service getty@tty1.service getty-static.service \
         systemd-timesyncd.service ldconfig.service systemd-hwdb-update.service \
         systemd-journal-catalog-update.service systemd-update-done.service \
         e2scrub_reap.service systemd-pstore.service apt-daily.timer apt-daily-upgrade.timer \
         man-db.timer fstrim.timer e2scrub_all.timer dpkg-db-backup.timer \
         systemd-tmpfiles-clean.timer systemd-sysusers.service systemd-random-seed.service \
         systemd-update-utmp.service systemd-update-utmp-runlevel.service \
         systemd-modules-load.service modprobe@.service kmod-static-nodes.service \
         systemd-remount-fs.service systemd-journal-flush.service systemd-firstboot.service \
         systemd-machine-id-commit.service systemd-binfmt.service \
         proc-sys-fs-binfmt_misc.automount dev-hugepages.mount sys-kernel-debug.mount \
         sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount; do
    ln -sf /dev/null "$e/systemd/system/$u"
done

# the non-root user, lingering: logind starts user@UID.service at boot
chroot "$new" /usr/sbin/useradd --create-home --shell /bin/sh --comment "runk lab" "$LAB_USER"
uid=$(chroot "$new" /usr/bin/id -u "$LAB_USER")
for f in subuid subgid; do   # useradd allots these when the files exist; make sure
    grep -q "^$LAB_USER:" "$e/$f" 2>/dev/null || echo "$LAB_USER:200000:65536" >> "$e/$f"
done
mkdir -p var/lib/systemd/linger
: > "var/lib/systemd/linger/$LAB_USER"
echo "$uid" > "$lab/uid"

# the driver: started with multi-user.target, waits for the boot to finish, runs the plan
cat > "$e/systemd/system/lab-driver.service" <<UNIT
[Unit]
Description=runk lab: run the test plan and report to the host

[Service]
Type=exec
ExecStart=/usr/bin/python3 -S -B $LAB_CHECKOUT/tests/lab/driver.py
StandardOutput=journal+console
StandardError=journal+console
UNIT
mkdir -p "$e/systemd/system/multi-user.target.wants"
ln -s ../lab-driver.service "$e/systemd/system/multi-user.target.wants/lab-driver.service"

trap - EXIT
cd /
exec switch_root "$new" /lib/systemd/systemd
