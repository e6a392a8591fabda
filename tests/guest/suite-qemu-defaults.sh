# SPDX-License-Identifier: GPL-2.0-only
# Suite "qemu-defaults" (run by run-tests.sh, in a process of its own): a
# live migration with QEMU's default parameters (no downtime-limit, no
# bandwidth change) and QEMU's default vfio-pci options (no
# enable-migration=on: QEMU itself must find the device migratable), of a
# nested guest whose workload writes its device memory at a bounded rate
# (vfmig.pace_ms), beside the same migration of an idle guest without the
# device. It needs a kernel that can report DMA logging (IOMMUFD; /dev/iommu
# shows it): there vfmig offers DMA logging whose reports are empty
# (ivshmem-plain cannot DMA), so QEMU does not count all guest RAM dirty at
# every sync. Debian's kernels lack IOMMUFD; the rig's debug kernel has it,
# but there (KASAN, TCG) the nested guest had not booted after 3 minutes:
# this suite is in no default list until a rig kernel with IOMMUFD and
# without the debug options runs it (Documentation/migration.rst).
. /opt/vfmig/tests/guest/lib.sh
plan 8

mapfile -t devs < <(ivshmem_devices)
A=${devs[0]}
B=${devs[1]}
if [ ! -c /dev/iommu ]; then
	for i in $(seq 8); do
		skip "qemu-defaults part $i" "needs a kernel with IOMMUFD (DMA logging reports), e.g. VFMIG_KERNEL=debug"
	done
	exit 0
fi
dmesg_mark qemu-defaults
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
modprobe "$VFMIG_MODULE"
check "functions A and B bound" "bind failed" \
	eval 'bind "$A" "$VFMIG_DRIVER" && bind "$B" "$VFMIG_DRIVER"'
reports() { sed -n 's/^dma_logging: .*, \([0-9]*\) reports$/\1/p' "$(vfmig_dir "$1")/status"; }

# The baseline: the same L2, idle, without the device.
vm_start base -
wait_console base "VFMIG-L2-IDLE" 1 240
MIG_DEFAULTS=1 live_migrate base base_dst -
base_res=$MIG_RES
check "an L2 without the device migrates with QEMU's defaults" \
	"$(mig_field "$base_res" status)" test "$(mig_field "$base_res" status)" = completed
vm_stop base
vm_stop base_dst

# The device, a workload writing its memory every ${PACE:=1000} ms.
r0=$(reports "$A")
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
	"reports on A: $r0 before, $(reports "$A") after" \
	test "$(reports "$A")" -gt "${r0:-0}"
check "the destination guest finds every page as the source guest left it" \
	"$(grep -m 3 'BAD' /tmp/dst.console | tr '\n' ' ')" guest_verified dst
check "the destination guest keeps running" "no progress" \
	wait_console dst "VFMIG-L2-CHECK" 6 180
figures() {
	echo "# $1: total $(mig_field "$2" total-time) ms," \
		"downtime $(mig_field "$2" downtime) ms, expected $(mig_field "$2" expected-downtime) ms," \
		"RAM $(mig_field "$2" ram.transferred) B, vfio $(mig_field "$2" vfio.transferred) B," \
		"dirty syncs $(mig_field "$2" ram.dirty-sync-count)"
}
figures "without the device" "$base_res"
figures "with the device" "$res"
echo "# downtime with the device / without: $(mig_field "$res" downtime) / $(mig_field "$base_res" downtime)"
vm_stop src
vm_stop dst
keep_logs
unbind "$A" > /dev/null
unbind "$B" > /dev/null
bad=$(dmesg_bad_since qemu-defaults)
check "no WARN, BUG or oops in dmesg during the suite" \
	"$(echo "$bad" | head -n 3 | tr '\n' ' ')" test -z "$bad"
done_testing
