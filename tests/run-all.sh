#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Run every vfmig test on this machine, from nothing: installs the host
# packages it needs, builds (or reuses) the Debian trixie tree and the
# initramfs images under $VFMIG_CACHE (default /var/cache/vfmig), builds the
# module with W=1 and sparse, runs checkpatch, runs the KUnit suites under
# UML, boots the test VM and runs the guest suites in it. Must run as root.
#
# Ends with "N passed, N failed" and exits non-zero if anything failed.
set -uo pipefail
. "$(dirname "$0")/rig/lib.sh"
rig=$VFMIG_TOP/tests/rig

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot and 9p need it)"
mkdir -p "$VFMIG_OUT"
tap=$VFMIG_OUT/tap.log
: > "$tap"
t0=$(date +%s)

# step NAME CMD... : a step that must work for the rest to make sense.
step() {
	local name=$1 s
	shift
	s=$(date +%s)
	if "$@"; then
		log "$name: done in $(($(date +%s) - s))s"
	else
		echo "not ok - $name # failed, see output above" | tee -a "$tap"
		finish
	fi
}

finish() {
	local pass fail skip
	skip=$(grep -c '^ok .*# SKIP' "$tap")
	pass=$(($(grep -c '^ok ' "$tap") - skip))
	fail=$(grep -c '^not ok ' "$tap")
	log "wall time $(($(date +%s) - t0))s; logs in $VFMIG_OUT"
	grep '^not ok ' "$tap" >&2
	echo "$pass passed, $fail failed, $skip skipped"
	[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
	exit
}

step "host packages" bash "$rig/setup-host.sh"
step "Debian tree" bash "$rig/build-tree.sh"
bash "$rig/build-module.sh" | tee -a "$tap"
[ "${PIPESTATUS[0]}" -eq 0 ] || finish

if make -s -C "$VFMIG_TOP" checkpatch > "$VFMIG_OUT/checkpatch.log" 2>&1; then
	echo "ok - checkpatch --strict is clean" | tee -a "$tap"
else
	cat "$VFMIG_OUT/checkpatch.log" >&2
	echo "not ok - checkpatch --strict is clean # see $VFMIG_OUT/checkpatch.log" | tee -a "$tap"
fi

s=$(date +%s)
bash "$VFMIG_TOP/tests/kunit/run.sh" | tee -a "$tap"
log "KUnit (UML): $(($(date +%s) - s))s"

bash "$rig/boot.sh" all | tee "$VFMIG_OUT/vm.tap" | tee -a "$tap"
# boot.sh says "not ok" for the VM's own failures; a rig that died before
# it could say anything must still fail the run.
if [ "${PIPESTATUS[0]}" -ne 0 ] && ! grep -q '^not ok' "$VFMIG_OUT/vm.tap"; then
	echo "not ok - the test VM suites ran # boot.sh failed, see the output above" |
		tee -a "$tap"
fi
finish
