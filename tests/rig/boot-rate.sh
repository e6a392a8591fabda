#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# How often does the test VM crash on its own? Boots it N times (default
# 10) to the "boot" suite with no retry and counts the boots that never
# reached the test init, the ones that crashed after it, and the "Oops:
# int3" text-patching panics among them (Documentation/hardening.md):
#
#   tests/rig/boot-rate.sh [N]                       (Debian's kernel)
#   VFMIG_KERNEL=debug tests/rig/boot-rate.sh [N]    (debug kernel)
#   VFMIG_VM_SMP=2 tests/rig/boot-rate.sh [N]        (any kernel, 2 vCPUs)
#
# Prints one line per boot and a summary; exits non-zero if any boot
# failed. Run under the rig's lock (one VM at a time on 2 cores).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

n=${1:-10}
[[ $n =~ ^[1-9][0-9]*$ ]] || die "usage: $0 [N]"
base=$VFMIG_OUT
ok=0 early=0 late=0 int3=0
for i in $(seq 1 "$n"); do
	out=$base/boot-rate/$i
	mkdir -p "$out"
	t0=$(date +%s)
	VFMIG_OUT=$out VFMIG_BOOT_TRIES=1 bash "$VFMIG_TOP/tests/rig/boot.sh" boot \
		> "$out/boot.log" 2>&1
	rc=$?
	con=$(find "$out" -name console.log | head -n 1)
	verdict=ok
	if ! grep -q VFMIG-GUEST-INIT "$con" 2>/dev/null; then
		verdict="never reached the test init"
		early=$((early + 1))
	elif [ "$rc" -ne 0 ]; then
		verdict="failed after the test init"
		late=$((late + 1))
	else
		ok=$((ok + 1))
	fi
	if grep -q 'Oops: int3' "$con" "$out"/console-failed-boot-*.log 2>/dev/null; then
		verdict="$verdict (Oops: int3)"
		int3=$((int3 + 1))
	fi
	echo "# boot $i: $verdict, $(($(date +%s) - t0)) s"
done
echo "# $n boots: $ok ok, $early never reached the test init, $late failed after it, $int3 with Oops: int3"
[ "$ok" -eq "$n" ]
