#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# init of the nested (L2) guest: says it is up, lists the PCI functions it
# was given, and powers off. The L1 test reads this from L2's console.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
echo "VFMIG-L2-UP"
# The migration tests run the workload; it never returns.
if grep -q vfmig.workload /proc/cmdline; then
	exec /bin/ivshmem_workload
fi
# A guest without the device, migrated for comparison: it idles.
if grep -q vfmig.idle /proc/cmdline; then
	echo "VFMIG-L2-IDLE"
	while :; do sleep 1; done
fi
for d in /sys/bus/pci/devices/*; do
	echo "VFMIG-L2-PCI $(basename "$d") $(cat "$d/vendor"):$(cat "$d/device")"
done
echo "VFMIG-L2-DONE"
echo o > /proc/sysrq-trigger
sleep 10
