#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# vfmig's main job, from nothing: set up the host, build the rig's IOMMUFD
# kernel and the module, boot the test VM on that kernel, load vfmig, bind
# two ivshmem-plain functions with driver_override, and live-migrate a
# running nested guest that writes into the device memory from one to the
# other with QEMU's default settings (no downtime-limit, no
# enable-migration=on), beside the same guest without the device; print a
# short report (what moved, how long, the downtime with and without the
# device, whether the destination verified every page).
#
# Why not Debian's kernel: it is built without CONFIG_IOMMUFD, so vfmig can
# offer QEMU no DMA logging, QEMU counts all guest RAM dirty at every sync
# and refuses the device without enable-migration=on; with those forced,
# the migration only completes with a raised downtime-limit
# (Documentation/migration.rst, "DMA logging"). The device-level suites
# run on Debian's kernel in tests/run-all.sh.
# Must run as root.
set -uo pipefail
. "$(dirname "$0")/rig/lib.sh"
rig=$VFMIG_TOP/tests/rig

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot and 9p need it)"
mkdir -p "$VFMIG_OUT"
bash "$rig/setup-host.sh" || exit 1
bash "$rig/build-tree.sh" || exit 1
bash "$rig/build-kernel.sh" iommufd > /dev/null || exit 1
export VFMIG_KERNEL=iommufd
bash "$rig/build-module.sh" > "$VFMIG_OUT/main-job-build.tap" || {
	cat "$VFMIG_OUT/main-job-build.tap"
	exit 1
}
bash "$rig/boot.sh" qemu-defaults > "$VFMIG_OUT/main-job.tap"
rc=$?
# The suite's report, then every failure and the VM's verdict: a VM that
# crashed or stalled says so here, not only in a log.
sed -n 's/^ *\(# .*\)/\1/p' "$VFMIG_OUT/vm-iommufd/results/guest.log" 2>/dev/null |
	grep -v '^# Subtest'
grep -E '^(not ok|# boot|# vm-iommufd:)' "$VFMIG_OUT/main-job.tap"
if [ "$rc" -eq 0 ]; then
	echo "main job: ok ($(grep -c '^ok' "$VFMIG_OUT/main-job.tap") checks passed)"
else
	echo "main job: FAILED (exit $rc), see $VFMIG_OUT"
fi
exit $rc
