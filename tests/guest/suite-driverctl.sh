# SPDX-License-Identifier: GPL-2.0-only
# Suite "driverctl" (run by run-tests.sh, in a process of its own): a
# function pinned to vfmig with Debian's driverctl, the persistent
# driver_override a host uses so that the function comes up bound to vfmig
# at every boot (Documentation/install.rst). The tree is read-only, so
# /etc/driverctl.d is a tmpfs here, and the guest has no systemd: the boot
# path is run as udev and systemd run it for a function with a saved
# override (driverctl@.service).
. /opt/vfmig/tests/guest/lib.sh
plan 7

mapfile -t devs < <(ivshmem_devices)
A=${devs[0]}
drv_of() { basename "$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null; }

dmesg_mark driverctl
check "driverctl is installed in the tree" "no driverctl" \
	eval 'command -v driverctl > /dev/null'
# driverctl loads the driver's module itself when it is not loaded
# (/sys/module/<driver> absent): vfmig's driver and module share a name.
modprobe -r "$VFMIG_MODULE" 2>/dev/null
unbind "$A"
mount -t tmpfs tmpfs /etc/driverctl.d
check "driverctl set-override binds $A to $VFMIG_DRIVER, loading the module" \
	"not bound to $VFMIG_DRIVER" \
	eval 'driverctl set-override "$A" "$VFMIG_DRIVER" && [ "$(drv_of "$A")" = "$VFMIG_DRIVER" ]'
check "the override is saved for the next boot in /etc/driverctl.d/pci-$A" \
	"no such file, or another driver in it" \
	test "$(cat "/etc/driverctl.d/pci-$A" 2>/dev/null)" = "$VFMIG_DRIVER"
check "driverctl list-overrides lists it" "not listed" \
	eval 'driverctl list-overrides | grep -qx "$A $VFMIG_DRIVER"'

# A boot: the function appears with no driver and no override; udev then
# starts driverctl@pci-<BDF>.service for the saved override, which runs
# "driverctl load-override pci/<BDF>" (systemd unescapes - to /).
unbind "$A"
check "at boot, driverctl load-override binds it to $VFMIG_DRIVER again" \
	"not bound to $VFMIG_DRIVER" \
	eval 'driverctl load-override "pci/$A" && [ "$(drv_of "$A")" = "$VFMIG_DRIVER" ]'
g=$(group_of "$A")
check "its VFIO group /dev/vfio/$g is there for QEMU" "no device node" test -c "/dev/vfio/$g"

# --noprobe: ivshmem has no native driver, and without it driverctl
# probes the function after the unbind and reports that nothing bound.
check "driverctl unset-override releases it and forgets the override" \
	"still bound, or the saved override is still there" \
	eval 'driverctl --noprobe unset-override "$A" && [ -z "$(drv_of "$A")" ] &&
		[ ! -e "/etc/driverctl.d/pci-$A" ]'
umount /etc/driverctl.d
modprobe -r "$VFMIG_MODULE"
