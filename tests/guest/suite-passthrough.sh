# SPDX-License-Identifier: GPL-2.0-only
# Suite "passthrough" (run by run-tests.sh, in a process of its own): before any migration,
# vfmig must be a working VFIO passthrough driver for ivshmem-plain.
. /opt/vfmig/tests/guest/lib.sh
plan 23

mapfile -t devs < <(ivshmem_devices)
check "two ivshmem-plain functions (1af4:1110) are present" \
	"found ${#devs[@]}: ${devs[*]}" test "${#devs[@]}" -eq 2
A=${devs[0]}
B=${devs[1]}

dmesg_mark passthrough
check "modprobe $VFMIG_MODULE" "modprobe failed" modprobe "$VFMIG_MODULE"
# The rig installs the stock kernel's module with DKMS and its own kernels'
# (debug, iommufd) with "make install" (tests/rig/build-module.sh):
# modprobe must resolve to the file that path installed.
if grep -q '~vfmig-' /proc/version; then
	want=/lib/modules/$(uname -r)/updates/drivers/vfio/pci/vfmig/vfmig-vfio-pci.ko
	how="make install"
else
	want=/lib/modules/$(uname -r)/updates/dkms/vfmig-vfio-pci.ko how=DKMS
fi
got=$(modinfo -n "$VFMIG_MODULE" 2>&1)
check "modprobe loads the module $how installed" "it resolves to $got" \
	test "${got%.ko*}.ko" = "$want"
check "the $VFMIG_DRIVER PCI driver is registered" "no sysfs entry" \
	test -d "/sys/bus/pci/drivers/$VFMIG_DRIVER"
check "loading the module binds nothing by itself" "$A has a driver" \
	test ! -e "/sys/bus/pci/devices/$A/driver"

for bdf in "$A" "$B"; do
	check "bind $bdf with driver_override" "not bound" bind "$bdf" "$VFMIG_DRIVER"
	g=$(group_of "$bdf")
	check "/dev/vfio/$g appears for $bdf" "no device node" test -c "/dev/vfio/$g"
	check "$bdf is alone in IOMMU group $g" \
		"$(ls "/sys/kernel/iommu_groups/$g/devices" | tr '\n' ' ')" \
		test "$(ls "/sys/kernel/iommu_groups/$g/devices" | wc -l)" -eq 1
done

edu=$(grep -l 0x11e8 /sys/bus/pci/devices/*/device | head -n 1)
edu=$(basename "$(dirname "$edu")")
dmesg_mark edu
bind "$edu" "$VFMIG_DRIVER" 2>/dev/null
check "a function without a backend ($edu, 1234:11e8) is refused" "it bound" \
	test ! -e "/sys/bus/pci/devices/$edu/driver"
check "the refusal says why in dmesg" "no log line" \
	eval 'dmesg | sed -n "/VFMIG-MARK-edu/,\$p" | grep -q "no backend for 1234:11e8"'
unbind "$edu"

# ivshmem-doorbell has ivshmem-plain's ids; its peers, IVPOSITION and
# MSI-X vectors are not state vfmig carries: refused at bind, saying why.
D=$(ivshmem_doorbell_device)
check "an ivshmem-doorbell (1af4:1110 with MSI-X in BAR1) is present" \
	"none found" test -n "$D"
dmesg_mark doorbell
bind "$D" "$VFMIG_DRIVER" 2>/dev/null
check "vfmig refuses the ivshmem-doorbell $D at bind" "it bound" \
	test ! -e "/sys/bus/pci/devices/$D/driver"
check "the doorbell's refusal says why in dmesg" "no log line" \
	eval 'dmesg | sed -n "/VFMIG-MARK-doorbell/,\$p" | grep -q "$D: ivshmem: MSI-X in BAR1, so this is an ivshmem-doorbell"'
unbind "$D"

echo "# uAPI checks on $A"
export VFMIG_BDF_A=$A
run_tap uapi_test "$VFMIG_BIN/uapi_test"

echo "# nested QEMU with $A attached"
if [ "${VFMIG_TCG_THREADS:-multi}" = single ]; then
	# The debug runs use single-threaded TCG (tests/rig/boot.sh), where a
	# nested KVM guest makes almost no progress; the stock run covers it.
	why="single-threaded TCG: nested KVM makes no progress (the stock run covers it)"
	skip "nested QEMU starts with -device vfio-pci,host=$A" "$why"
	skip "the nested guest sees the ivshmem function" "$why"
else
	if l2_run "$A" /tmp/l2-passthrough.log; then
		ok "nested QEMU starts with -device vfio-pci,host=$A ($L2_ACCEL, ${L2_SECS}s)"
	else
		not_ok "nested QEMU starts with -device vfio-pci,host=$A" \
			"$(tail -n 3 /tmp/l2-passthrough.log | tr '\n' ' ')"
	fi
	sed 's/^/# l2: /' /tmp/l2-passthrough.log | grep -E 'VFMIG|qemu|error' | head -n 20
	check "the nested guest sees the ivshmem function" "not in its PCI list" \
		grep -q 'VFMIG-L2-PCI .* 0x1af4:0x1110' /tmp/l2-passthrough.log
fi

for bdf in "$A" "$B"; do
	check "unbind $bdf" "still bound" unbind "$bdf"
done
check "modprobe -r $VFMIG_MODULE" "module still loaded" modprobe -r "$VFMIG_MODULE"
check_dmesg_clean passthrough
done_testing
