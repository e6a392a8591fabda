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

# mark; RUNNER...; tally NAME STATUS : a runner whose exit status says it
# failed must fail the run even when it printed no "not ok" line of its own
# since the mark (it died, say).
mark() { marked=$(grep -c '^not ok' "$tap"); }
tally() {
	if [ "$2" -ne 0 ] && [ "$(grep -c '^not ok' "$tap")" -eq "$marked" ]; then
		echo "not ok - $1 # exit status $2 with no failed result: see the output above" |
			tee -a "$tap"
	fi
}

step "host packages" bash "$rig/setup-host.sh"
# The harness first: nothing after it can be believed unless a crash, a
# short plan and a splat come out as failures.
mark
bash "$VFMIG_TOP/tests/harness/selftest.sh" | tee -a "$tap"
tally harness "${PIPESTATUS[0]}"
for f in "$VFMIG_TOP"/tests/*.sh "$VFMIG_TOP"/tests/*/*.sh "$VFMIG_TOP"/.ci/run; do
	bash -n "$f" 2> "$VFMIG_OUT/syntax.log" || {
		echo "not ok - shell syntax of ${f#"$VFMIG_TOP"/} # $(head -n 1 "$VFMIG_OUT/syntax.log")" |
			tee -a "$tap"
		continue
	}
done
grep -q '^not ok - shell syntax' "$tap" || echo "ok - every shell script parses (bash -n)" | tee -a "$tap"
step "Debian tree" bash "$rig/build-tree.sh"
bash "$rig/build-module.sh" | tee -a "$tap"
[ "${PIPESTATUS[0]}" -eq 0 ] || finish
# The same sources against Debian sid's newest kernel headers (7.2): the
# compat.h probes must pick the branches that kernel needs. A build check
# only; nothing else depends on it, so a failure fails the run and the
# rest goes on.
mark
bash "$rig/build-module-sid.sh" | tee -a "$tap"
tally sid-build "${PIPESTATUS[0]}"

if make -s -C "$VFMIG_TOP" checkpatch > "$VFMIG_OUT/checkpatch.log" 2>&1; then
	echo "ok - checkpatch --strict is clean" | tee -a "$tap"
else
	cat "$VFMIG_OUT/checkpatch.log" >&2
	echo "not ok - checkpatch --strict is clean # see $VFMIG_OUT/checkpatch.log" | tee -a "$tap"
fi

s=$(date +%s)
mark
bash "$VFMIG_TOP/tests/kunit/run.sh" | tee -a "$tap"
tally kunit "${PIPESTATUS[0]}"
log "KUnit (UML): $(($(date +%s) - s))s"

# The stream codec, coverage-guided, in userspace (Documentation/fuzzing.md).
s=$(date +%s)
mark
bash "$VFMIG_TOP/tests/fuzz/run.sh" "${VFMIG_CODEC_FUZZ_SECS:-60}" |
	sed 's/^\(not \)\{0,1\}ok [0-9]* - /&codec fuzzer: /' | tee -a "$tap"
tally codec-fuzzer "${PIPESTATUS[0]}"
log "codec fuzzer: $(($(date +%s) - s))s"

# boot.sh says "not ok" for the VM's own failures and for every result the
# checker found wrong; a rig that died before it could say anything must
# still fail the run.
mark
bash "$rig/boot.sh" all | tee "$VFMIG_OUT/vm.tap" | tee -a "$tap"
tally vm "${PIPESTATUS[0]}"

# The same driver on the rig's debug kernel (lockdep, KASAN, UBSAN,
# kmemleak, hung-task and stall detectors, fault injection) with two vCPUs
# on single-threaded TCG (boot.sh says why), for the suites that race resets, unbinds and data files against each
# other, the stress, fuzzing and allocation-failure suite, and the uAPI
# conformance suite through both the group and the iommufd cdev paths; the
# nested QEMU suites stay on Debian's kernel with one vCPU
# (Documentation/testing.md, Documentation/hardening.md).
step "debug kernel" bash "$rig/build-kernel.sh" debug
VFMIG_KERNEL=debug bash "$rig/build-module.sh" | sed 's/^\(not \)\{0,1\}ok - /&debug kernel: /' | tee -a "$tap"
[ "${PIPESTATUS[0]}" -eq 0 ] || finish
# The resume-path fuzz runs mostly in a second debug VM beside the first:
# each VM's one TCG thread keeps one host core busy, so together they use
# both, and the debug stage takes as long as its longer VM instead of the
# sum. The attempts are split so that the two VMs end together: 58,000 in
# the fuzz VM, 7,000 after the other debug suites. In the warm CI of
# 2026-12-07 (ci29) the other debug suites took about 1,830 s and then ran
# the fuzz at 25 attempts/s, while the fuzz VM ran at 31/s after a boot of
# about 210 s: each VM then takes about 2,100 s. The earlier 80,000 +
# 20,000 made the debug stage 2,825 s, and a cold run (the debug kernel,
# the tree and KUnit's UML build added) an estimated 88 of its 90 minutes
# (Documentation/testing.md, "Time").
# Each run draws its own seed. Both boot from one initramfs, built here
# first so that the two boots only read it.
VFMIG_KERNEL=debug bash "$rig/mkinitramfs.sh" > /dev/null ||
	{ echo "not ok - debug kernel: initramfs # see output above" | tee -a "$tap"; finish; }
VFMIG_FUZZ_ITERS=${VFMIG_CI_FUZZ_SIDE:-58000} VFMIG_KERNEL=debug VFMIG_VM_NAME=vm-debug-fuzz \
	bash "$rig/boot.sh" fuzz > "$VFMIG_OUT/vm-debug-fuzz.tap" &
fuzz_vm=$!
mark
VFMIG_FUZZ_ITERS=${VFMIG_CI_FUZZ_MAIN:-7000} VFMIG_KERNEL=debug \
	bash "$rig/boot.sh" passthrough migration faults conformance hardening fuzz |
	tee "$VFMIG_OUT/vm-debug.tap" | tee -a "$tap"
tally vm-debug "${PIPESTATUS[0]}"
wait "$fuzz_vm"
rc=$?
mark
tee -a "$tap" < "$VFMIG_OUT/vm-debug-fuzz.tap"
tally vm-debug-fuzz "$rc"
finish
