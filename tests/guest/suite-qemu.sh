# SPDX-License-Identifier: GPL-2.0-only
# Suite "qemu" (run by run-tests.sh, in a process of its own): QEMU 10 drives vfmig through
# VFIO_DEVICE_FEATURE and live-migrates a running nested guest that keeps
# writing a verifiable pattern into the device memory (see
# tests/guest/l2/ivshmem_workload.c). Over TCP on loopback, then to and
# from a file.
. /opt/vfmig/tests/guest/lib.sh
plan 10

mapfile -t devs < <(ivshmem_devices)
A=${devs[0]}
B=${devs[1]}
dmesg_mark qemu
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
modprobe "$VFMIG_MODULE"
bind "$A" "$VFMIG_DRIVER" && bind "$B" "$VFMIG_DRIVER"
check "functions A and B bound for the QEMU suite" "bind failed" \
	test -e "/dev/vfio/$(group_of "$A")" -a -e "/dev/vfio/$(group_of "$B")"

# report NAME JSON : QEMU's own figures for one migration.
report() {
	echo "# $1: status $(mig_field "$2" status), total $(mig_field "$2" total-time) ms," \
		"downtime $(mig_field "$2" downtime) ms, setup $(mig_field "$2" setup-time) ms," \
		"RAM $(mig_field "$2" ram.transferred) B, vfio $(mig_field "$2" vfio.transferred) B"
	[ "$(mig_field "$2" error-desc)" = "?" ] ||
		echo "# $1: error: $(mig_field "$2" error-desc)"
}


# --- live migration over TCP, A -> B ---
vm_start src "$A"
check "source VM boots and its guest writes the device memory" \
	"$(tail -n 3 /tmp/src.console /tmp/src.err 2>/dev/null | tr '\n' ' ')" \
	wait_console src "VFMIG-L2-CHECK" 2 240
live_migrate src dst "$B"
res=$MIG_RES
report "tcp A->B" "$res"
if ! check "live migration A->B over TCP completes" "$(mig_field "$res" status)" \
	test "$(mig_field "$res" status)" = completed; then
	sed 's/^/# src: /' /tmp/src.err | tail -n 5
	sed 's/^/# dst: /' /tmp/dst.err | tail -n 5
fi
check "QEMU moved the device state through vfmig (vfio bytes > BAR size)" \
	"vfio transferred $(mig_field "$res" vfio.transferred)" \
	test "$(mig_field "$res" vfio.transferred)" -gt $((16 << 20)) 2>/dev/null
# The device's part of the downtime, as vfmig's status saw it on A.
sc=$(status_field "$A" last_stop_copy)
echo "# tcp A->B: the device's STOP_COPY share: $sc"
check "vfmig's status has the STOP_COPY share QEMU read (0 < bytes <= vfio bytes)" "$sc" \
	eval '[ "${sc%% *}" -gt 0 ] && [ "${sc%% *}" -le "$(mig_field "$res" vfio.transferred)" ]'
check "the destination guest finds every page as the source guest left it" \
	"$(grep -m 3 'BAD' /tmp/dst.console | tr '\n' ' ')" guest_verified dst
check "the destination guest keeps running" "no progress" \
	wait_console dst "VFMIG-L2-CHECK" 6 120
echo "# dst console: $(grep -m 1 WORKLOAD /tmp/dst.console); last: $(grep CHECK /tmp/dst.console | tail -n 1)"
vm_stop src

# --- to a file (B), and back from it (A) ---
qmp dst migrate-set-parameters '{"downtime-limit": 20000}' > /dev/null
qmp dst migrate '{"uri": "file:/tmp/vm.mig"}' > /dev/null
res=$(timeout 320 "$QMP" /tmp/dst.qmp wait-migration 300)
report "B -> file" "$res"
check "migration of B to a file completes" "$(mig_field "$res" status)" \
	test "$(mig_field "$res" status)" = completed
vm_stop dst
vm_start restore "$A" -incoming file:/tmp/vm.mig
check "a VM restored from the file onto A finds every page as B left it" \
	"$(grep -m 3 'BAD' /tmp/restore.console /tmp/restore.err | tr '\n' ' ')" \
	guest_verified restore
vm_stop restore
rm -f /tmp/vm.mig
keep_logs

unbind "$A" > /dev/null
unbind "$B" > /dev/null
modprobe -r "$VFMIG_MODULE"
check_dmesg_clean qemu "the QEMU suite"
done_testing
