#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Build, or reuse, the two small initramfs images of the rig:
#  - l1: the test VM's; loads 9p, mounts the Debian tree as its root and
#    switch_roots into tests/guest/init.sh;
#  - l2: the nested guest's (started by QEMU inside the test VM); its init
#    is tests/guest/l2-init.sh, with the migration workload beside it.
# Both are busybox (static, from the host) plus a few kernel modules. They
# are keyed on the guest kernel and on the files that go into them.
# Prints the directory holding l1.cpio.gz and l2.cpio.gz.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tree=$(tree_dir)
kver=$(guest_kver "$tree")
bb=/bin/busybox
[ -x "$bb" ] || die "no static busybox on the host (apt-get install busybox-static)"
file -L "$bb" 2>/dev/null | grep -q 'statically linked' ||
	die "$bb is not static (apt-get install busybox-static)"

l2_init=$VFMIG_TOP/tests/guest/l2-init.sh
workload=$tree/opt/vfmig/bin/ivshmem_workload
[ -x "$workload" ] || die "no $workload: run tests/rig/build-module.sh first"
key=$(printf '%s\n' "$kver" "$(sha256sum "$bb")" | key_of "$0" "$l2_init" "$workload")
dir=$VFMIG_CACHE/initramfs-$key
if [ -f "$dir/l1.cpio.gz" ] && [ -f "$dir/l2.cpio.gz" ]; then
	echo "$dir"
	exit 0
fi
rm -rf "$VFMIG_CACHE"/initramfs-*
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# skeleton ROOT MODULES... : busybox, and the modules (uncompressed, so
# busybox's insmod needs no xz) with their dependencies in load order.
skeleton() {
	local root=$1; shift
	local m f
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,newroot,lib/modules}
	cp "$bb" "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	: > "$root/lib/modules/order"
	for m in "$@"; do
		chroot "$tree" /sbin/modprobe -S "$kver" --show-depends "$m" |
			awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++' | while read -r f; do
		xz -dc "$tree$f" > "$root/lib/modules/$(basename "${f%.xz}")"
		basename "${f%.xz}" >> "$root/lib/modules/order"
	done
}

pack() {
	(cd "$1" && find . | cpio -o -H newc --quiet | gzip -1) > "$2"
}

# L1: mount the tree over 9p, read-only (it is a shared cache), and hand
# over to the test init that lives in it.
skeleton "$work/l1" 9p 9pnet_virtio
cat > "$work/l1/init" <<'INIT'
#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m; done
if ! mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=262144,cache=loose rootfs /newroot; then
	echo "VFMIG-L1-ERROR: cannot mount the 9p root"
	echo o > /proc/sysrq-trigger
fi
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /opt/vfmig/tests/guest/init.sh
INIT
chmod +x "$work/l1/init"

# L2: no modules; vfio-pci hands it the device on its PCI bus.
skeleton "$work/l2"
cp "$l2_init" "$work/l2/init"
chmod +x "$work/l2/init"
cp "$workload" "$work/l2/bin/ivshmem_workload"

mkdir -p "$dir.tmp"
pack "$work/l1" "$dir.tmp/l1.cpio.gz"
pack "$work/l2" "$dir.tmp/l2.cpio.gz"
mv "$dir.tmp" "$dir"
echo "$dir"
