# SPDX-License-Identifier: GPL-2.0-only
# Suite "demo" (sourced by run-tests.sh): the README's main job. Loads
# vfmig, binds the source function A with driver_override and hands it to a
# nested QEMU, then reports what the nested guest saw.

mapfile -t devs < <(ivshmem_devices)
A=${devs[0]}
check "modprobe $VFMIG_MODULE" "modprobe failed" modprobe "$VFMIG_MODULE"
check "bind $A with driver_override" "not bound" bind "$A" "$VFMIG_DRIVER"
if l2_run "$A" /tmp/l2-demo.log; then
	ok "nested QEMU ran with -device vfio-pci,host=$A"
else
	not_ok "nested QEMU ran with -device vfio-pci,host=$A" \
		"$(tail -n 3 /tmp/l2-demo.log | tr '\n' ' ')"
fi
echo "# ---- vfmig demo report ----"
echo "# device:        $A [1af4:1110] ivshmem-plain, BAR2 $(($(stat -c %s "/sys/bus/pci/devices/$A/resource2") >> 20)) MiB"
echo "# driver:        $(basename "$(readlink "/sys/bus/pci/devices/$A/driver")")"
echo "# vfio group:    /dev/vfio/$(group_of "$A")"
echo "# nested guest:  $L2_ACCEL, ran ${L2_SECS}s, saw: $(grep -o 'VFMIG-L2-PCI .* 0x1af4:0x1110' /tmp/l2-demo.log)"
echo "# ---------------------------"
unbind "$A" > /dev/null
modprobe -r "$VFMIG_MODULE"
