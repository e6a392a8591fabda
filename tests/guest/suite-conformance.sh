# SPDX-License-Identifier: GPL-2.0-only
# Suite "conformance" (run by run-tests.sh, in a process of its own): the
# driver-agnostic migration uAPI conformance suite
# (tools/vfio-mig-conformance) on vfmig (function A) and on the kernel's
# mtty sample (an mdev), each on the group path and, where the kernel has
# iommufd and vfio cdevs (the debug kernel), on the cdev path. Each run is
# compared with the driver's expected results
# (tools/vfio-mig-conformance/expected/DRIVER.txt): vfmig must pass every
# rule; mtty has known failures, kernel bugs, listed with their reasons.
# Any change from the list, either way, fails. The raw TAP of each run is
# kept in /results/conformance/ for Documentation/conformance.md's tables.
. /opt/vfmig/tests/guest/lib.sh
plan 14

CONF=/opt/vfmig/tools/vfio-mig-conformance
MTTY_KO=/opt/vfmig/mtty/mtty.ko
mkdir -p /results/conformance

# conformance NAME EXPECTED DEVICE VARIANT : one result, from the run's
# comparison with the expected list; the comparison and the program's own
# diagnostics go out as comments.
conformance() {
	local name=$1 exp=$2 dev=$3 variant=$4 tap=/results/conformance/$1.tap
	"$VFMIG_BIN/vfio-mig-conformance" "$dev" -v "$variant" > "$tap" 2>&1
	echo "# $name: $VFMIG_BIN/vfio-mig-conformance $dev -v $variant (exit $?)"
	grep -E '^# .*(FAIL|SKIP|Expected|opened in|resume of)' "$tap" | sed 's/^/# | /' | head -n 60
	if "$CONF/expect.sh" "$exp" "$tap" > "/tmp/$name.cmp"; then
		sed 's/^/# /' "/tmp/$name.cmp"
		ok "$name: results are those of $(basename "$exp") ($(grep -c '^ok.* pass$' "/tmp/$name.cmp") pass, $(grep -c '^ok.* fail$' "/tmp/$name.cmp") known failures, $(grep -c '^ok.* skip$' "/tmp/$name.cmp") skips)"
	else
		sed 's/^/# /' "/tmp/$name.cmp"
		not_ok "$name: results are those of $(basename "$exp")" \
			"$(grep '^DIFF' "/tmp/$name.cmp" | head -n 3 | tr '\n' ';')"
	fi
}

mapfile -t devs < <(ivshmem_devices)
A=${devs[0]}
check "an ivshmem-plain function A is present" "none found" test -n "$A"

dmesg_mark conformance
check "modprobe $VFMIG_MODULE" "modprobe failed" modprobe "$VFMIG_MODULE"
check "bind $A to $VFMIG_DRIVER" "not bound" bind "$A" "$VFMIG_DRIVER"

conformance vfmig-group "$CONF/expected/vfmig.txt" "$A" group
if [ -c /dev/iommu ] && [ -d "/sys/bus/pci/devices/$A/vfio-dev" ]; then
	conformance vfmig-cdev "$CONF/expected/vfmig.txt" "$A" cdev
else
	skip "vfmig-cdev: the iommufd cdev path" "this kernel has no /dev/iommu or no vfio cdev (CONFIG_IOMMUFD, CONFIG_VFIO_DEVICE_CDEV)"
fi

check "unbind $A" "still bound" unbind "$A"
check "modprobe -r $VFMIG_MODULE" "module still loaded" modprobe -r "$VFMIG_MODULE"

# mtty: an mdev of the kernel's sample driver, which binds to its own vfio
# driver when created. It needs VFIO_MDEV, which the debug kernel lacks
# (tests/rig/build-module.sh then builds no mtty.ko).
if [ -e "$MTTY_KO" ]; then
	check "insmod mtty.ko (after vfio_iommu_type1 and mdev)" "insmod failed" \
		eval 'modprobe vfio_iommu_type1 && modprobe mdev && insmod "$MTTY_KO"'
	types=/sys/class/mdev_bus/mtty/mdev_supported_types
	U=$(cat /proc/sys/kernel/random/uuid)
	check "create an mtty-2 (dual port) mdev $U, bound to its vfio driver" \
		"$(ls "$types" 2>&1 | tr '\n' ' ')" \
		eval 'echo "$U" > "$types/mtty-2/create" &&
			test -e "/sys/bus/mdev/devices/$U/iommu_group"'
	conformance mtty-group "$CONF/expected/mtty.txt" "$U" group
	if [ -c /dev/iommu ] && [ -d "/sys/bus/mdev/devices/$U/vfio-dev" ]; then
		conformance mtty-cdev "$CONF/expected/mtty.txt" "$U" cdev
	else
		skip "mtty-cdev: the iommufd cdev path" "this kernel has no /dev/iommu or no vfio cdev"
	fi
	check "remove the mdev" "still there" \
		eval 'echo 1 > "/sys/bus/mdev/devices/$U/remove" && test ! -e "/sys/bus/mdev/devices/$U"'
	check "rmmod mtty" "still loaded" rmmod mtty
else
	why="no $MTTY_KO: $(uname -r) has no CONFIG_VFIO_MDEV"
	for t in "insmod mtty.ko" "create an mtty mdev" "mtty-group: the group path" \
		"mtty-cdev: the iommufd cdev path" "remove the mdev" "rmmod mtty"; do
		skip "$t" "$why"
	done
fi

# The tests run the drivers through every arc, reset and close: nothing of
# it may leave a kernel complaint behind.
check_dmesg_clean conformance
done_testing
