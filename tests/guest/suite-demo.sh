# SPDX-License-Identifier: GPL-2.0-only
# Suite "demo" (run by run-tests.sh, in a process of its own): the README's main job. Loads
# vfmig, binds both ivshmem-plain functions with driver_override, boots a
# nested guest on A that keeps writing a verifiable pattern into the device
# memory, live-migrates it to B with QEMU over TCP, and reports what moved
# and whether the destination guest found every page as the source left it.
. /opt/vfmig/tests/guest/lib.sh
plan 5

mapfile -t devs < <(ivshmem_devices)
A=${devs[0]}
B=${devs[1]}
check "modprobe $VFMIG_MODULE" "modprobe failed" modprobe "$VFMIG_MODULE"
check "bind $A and $B with driver_override" "not bound" \
	eval 'bind "$A" "$VFMIG_DRIVER" && bind "$B" "$VFMIG_DRIVER"'
check "the source guest runs and writes the device memory" "no workload" \
	eval 'vm_start src "$A" && wait_console src VFMIG-L2-CHECK 2 240'
check "QEMU live-migrates the guest from A to B" \
	"$(mig_field "$MIG_RES" error-desc)" live_migrate src dst "$B"
check "the destination guest finds every page as the source left it" \
	"see /results/qemu" guest_verified dst
rounds_src=$(grep -c VFMIG-L2-CHECK /tmp/src.console)
last_dst=$(grep VFMIG-L2-CHECK /tmp/dst.console | tail -n 1)
bar=$(($(stat -c %s "/sys/bus/pci/devices/$A/resource2") >> 20))
echo "# ---------------- vfmig demo report ----------------"
echo "# device:      ivshmem-plain [1af4:1110], BAR2 $bar MiB, driver $(basename "$(readlink "/sys/bus/pci/devices/$A/driver")")"
echo "# migration:   $A -> $B, QEMU $(qemu-system-x86_64 --version | head -n 1 | awk '{print $4}'), nested guest on $VM_ACCEL"
echo "# moved:       device state $(mig_field "$MIG_RES" vfio.transferred) bytes (BAR2 $bar MiB + INTRMASK/INTRSTATUS), RAM $(mig_field "$MIG_RES" ram.transferred) bytes"
echo "# time:        total $(mig_field "$MIG_RES" total-time) ms, downtime $(mig_field "$MIG_RES" downtime) ms (QEMU's figures)"
echo "# guest:       $rounds_src rounds on the source; on the destination: $last_dst"
echo "# verified:    $(console_count dst 'CHECK.*ok') rounds checked on B, $(console_count dst 'VFMIG-L2-BAD') bad pages"
echo "# ------------------------------------------------------"
vm_stop src
vm_stop dst
unbind "$A" > /dev/null
unbind "$B" > /dev/null
modprobe -r "$VFMIG_MODULE"
done_testing
