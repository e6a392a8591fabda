# SPDX-License-Identifier: GPL-2.0-only
# Suite "qemu-defaults" (run by run-tests.sh, in a process of its own; the
# README's main job runs it on the rig's IOMMUFD kernel): a live migration
# with QEMU's default parameters (no downtime-limit, no bandwidth change)
# and QEMU's default vfio-pci options (no enable-migration=on: QEMU itself
# must find the device migratable), of a nested guest whose workload writes
# its device memory at a bounded rate (vfmig.pace_ms), beside the same
# migration of an idle guest without the device; then a report of what
# moved, how long it took, and the downtime with and without the device.
#
# It needs a kernel that can report DMA logging (IOMMUFD; /dev/iommu shows
# it): there vfmig offers DMA logging whose reports are empty (ivshmem-plain
# cannot DMA), so QEMU does not count all guest RAM dirty at every sync.
# Debian's kernels lack IOMMUFD (Documentation/migration.rst, "DMA
# logging"), so it is in no list the stock runs use; it skips there.
. /opt/vfmig/tests/guest/lib.sh
plan 9

mapfile -t devs < <(ivshmem_devices)
A=${devs[0]}
B=${devs[1]}
if [ ! -c /dev/iommu ]; then
	for i in $(seq 9); do
		skip "qemu-defaults part $i" "needs a kernel with IOMMUFD (DMA logging reports): VFMIG_KERNEL=iommufd"
	done
	exit 0
fi
dmesg_mark qemu-defaults
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
modprobe "$VFMIG_MODULE"
check "functions A and B bound" "bind failed" \
	eval 'bind "$A" "$VFMIG_DRIVER" && bind "$B" "$VFMIG_DRIVER"'

# The baseline: the same L2, idle, without the device.
vm_start base -
wait_console base "VFMIG-L2-IDLE" 1 240
MIG_DEFAULTS=1 live_migrate base base_dst -
base_res=$MIG_RES
check "an L2 without the device migrates with QEMU's defaults" \
	"$(mig_field "$base_res" status)" test "$(mig_field "$base_res" status)" = completed
vm_stop base
vm_stop base_dst

# The device, a workload writing its whole memory every PACE ms.
PACE=${VFMIG_QD_PACE:-1000}
r0=$(dma_reports "$A")
VM_VFIO_OPTS= VM_APPEND="vfmig.pace_ms=$PACE" vm_start src "$A"
check "QEMU takes the device as migratable without enable-migration=on" \
	"$(tail -n 3 /tmp/src.err /tmp/src.console 2>/dev/null | tr '\n' ' ')" \
	wait_console src "VFMIG-L2-CHECK" 2 300
VM_VFIO_OPTS= VM_APPEND="vfmig.pace_ms=$PACE" MIG_DEFAULTS=1 live_migrate src dst "$B"
res=$MIG_RES
if ! check "live migration with the device completes with QEMU's defaults" \
	"$(mig_field "$res" status) $(mig_field "$res" error-desc)" \
	test "$(mig_field "$res" status)" = completed; then
	sed 's/^/# src: /' /tmp/src.err | tail -n 5
fi
check "QEMU read vfmig's DMA logging reports (device dirty tracking, not all RAM)" \
	"reports on A: $r0 before, $(dma_reports "$A") after" \
	test "$(dma_reports "$A")" -gt "${r0:-0}"
check "the destination guest finds every page as the source guest left it" \
	"$(grep -m 3 'BAD' /tmp/dst.console | tr '\n' ' ')" guest_verified dst
check "the destination guest keeps running" "no progress" \
	wait_console dst "VFMIG-L2-CHECK" 6 180
down=$(mig_field "$res" downtime)
check "QEMU reports the downtime of the migration with the device" \
	"downtime '$down'" eval '[ "$down" -gt 0 ] 2>/dev/null'
bar=$(($(stat -c %s "/sys/bus/pci/devices/$A/resource2") >> 20))
times() {
	echo "total $(mig_field "$1" total-time) ms, downtime $(mig_field "$1" downtime) ms," \
		"$(mig_field "$1" ram.dirty-sync-count) dirty syncs"
}
echo "# ---------------- vfmig: live migration with QEMU's defaults ----------------"
echo "# device:      ivshmem-plain [1af4:1110], BAR2 $bar MiB, driver $(basename "$(readlink "/sys/bus/pci/devices/$A/driver")"), workload writing every $PACE ms"
echo "# migration:   $A -> $B, QEMU $(qemu-system-x86_64 --version | head -n 1 | awk '{print $4}'), nested guest on $VM_ACCEL, default parameters and vfio-pci options"
echo "# moved:       device state $(mig_field "$res" vfio.transferred) bytes, RAM $(mig_field "$res" ram.transferred) bytes (without the device: RAM $(mig_field "$base_res" ram.transferred) bytes)"
echo "# with:        $(times "$res")"
echo "# without:     $(times "$base_res")"
echo "# downtime with the device / without: $(mig_field "$res" downtime) / $(mig_field "$base_res" downtime) ms"
echo "# verified:    $(console_count dst 'CHECK.*ok') rounds checked on B, $(console_count dst 'VFMIG-L2-BAD') bad pages"
echo "# -----------------------------------------------------------------------------"
vm_stop src
vm_stop dst
keep_logs
unbind "$A" > /dev/null
unbind "$B" > /dev/null
check_dmesg_clean qemu-defaults "the suite"
done_testing
