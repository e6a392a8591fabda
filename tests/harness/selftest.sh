#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The harness's own tests: tapcheck.py fed with recorded logs (logs/), good
# and bad, and lib.sh's run_tap and suite runner driven live on the host
# with programs that crash, exit early or never plan. A bad log must come
# out as a failure that names what went wrong; a good one as a pass.
# Prints TAP with its plan; exits non-zero if a case did not hold.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
check=$here/tapcheck.py
logs=$here/logs
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0
echo "1..33"

# expect NAME RC PATTERN... -- CHECKER ARGS... : tapcheck.py must exit with
# RC and print a line matching every PATTERN (an extended regex), and none
# matching a PATTERN written !REGEX.
expect() {
	local name=$1 want=$2 rc pats=() p why=
	shift 2
	while [ "$1" != -- ]; do
		pats+=("$1")
		shift
	done
	shift
	python3 "$check" "$@" > "$tmp/out" 2>&1
	rc=$?
	[ "$rc" = "$want" ] || why="exit $rc, expected $want"
	for p in "${pats[@]}"; do
		case $p in
		!*) ! grep -qE -- "${p#!}" "$tmp/out" ||
			why="${why:+$why; }a line matches /${p#!}/" ;;
		*) grep -qE -- "$p" "$tmp/out" ||
			why="${why:+$why; }no line matching /$p/" ;;
		esac
	done
	report "$name" "$why"
}

# report NAME WHY : one case's TAP line, failed when WHY says why; the
# checked program's output goes under a failure.
report() {
	n=$((n + 1))
	if [ -z "$2" ]; then
		echo "ok $n - harness: $1"
	else
		failed=$((failed + 1))
		echo "not ok $n - harness: $1 # $2"
		sed 's/^/# | /' "$tmp/out"
	fi
}

kunit=(--prefix kunit --plans-to-depth 1)

expect "a good KUnit log passes, every case counted" 0 \
	'^ok - kunit vfmig_stream / stream_records / unknown mandatory record$' \
	'^ok - kunit vfmig_reset / reset_while_mutex_held$' \
	-- "${kunit[@]}" --expect vfmig_stream,vfmig_reset \
	--kernel-log "$logs/kunit-good.ktap" "$logs/kunit-good.ktap"
expect "a panic mid-suite keeps the failure already printed" 1 \
	'^not ok - kunit vfmig_reset / reset_while_mutex_held ' \
	-- "${kunit[@]}" "$logs/kunit-panic-mid-suite.ktap"
expect "a panic mid-suite: the suite ran short of its plan" 1 \
	'^not ok - kunit vfmig_reset: runs its plan # planned 4, ran 3' \
	'^not ok - kunit vfmig_reset: ends # ' \
	'^not ok - kunit top level: runs its plan # planned 2, ran 1' \
	-- "${kunit[@]}" "$logs/kunit-panic-mid-suite.ktap"
expect "a panic mid-suite: the panic is named, with the suite" 1 \
	'^not ok - kunit kernel log has no kernel panic # .*:15 during vfmig_reset: Kernel panic' \
	-- "${kunit[@]}" --kernel-log "$logs/kunit-panic-mid-suite.ktap" \
	"$logs/kunit-panic-mid-suite.ktap"
expect "a hang (no more output) is a suite that never ended" 1 \
	'^not ok - kunit vfmig_reset: runs its plan # planned 4, ran 1' \
	'^not ok - kunit vfmig_reset: ends # ' \
	-- "${kunit[@]}" "$logs/kunit-hang.ktap"
expect "a suite missing from the build is named" 1 \
	'^not ok - kunit vfmig_reset: runs # expected at the top level, never ran' \
	-- "${kunit[@]}" --expect vfmig_stream,vfmig_reset "$logs/kunit-missing-suite.ktap"
expect "a WARNING between two passing cases fails the run" 1 \
	'^not ok - kunit kernel log has no WARNING # .* during vfmig_reset: WARNING: CPU: 0 PID: 52 at drivers/vfio/pci/vfmig/fsm.c' \
	'^ok - kunit vfmig_reset / reset_while_mutex_held$' \
	-- "${kunit[@]}" --kernel-log "$logs/kunit-splat-between-passes.ktap" \
	"$logs/kunit-splat-between-passes.ktap"
expect "a WARNING's own call trace is not a second splat" 1 \
	'!no call trace' \
	-- "${kunit[@]}" --kernel-log "$logs/kunit-splat-between-passes.ktap" \
	"$logs/kunit-splat-between-passes.ktap"
expect "a real KUnit run (6.12.117, UML) with a boot-time WARNING fails" 1 \
	'^not ok - kunit kernel log has no WARNING # .*arch/um/drivers/virt-pci.c' \
	'^ok - kunit vfmig_reset / race_set_state_and_reset$' \
	'!runs its plan' '!declares its plan' \
	-- "${kunit[@]}" --expect vfmig_stream,vfmig_fsm,vfmig_reset \
	--kernel-log "$logs/kunit-recorded-6.12.117.log" \
	"$logs/kunit-recorded-6.12.117.log"
expect "a suite without a plan fails" 1 \
	'^not ok - kunit vfmig_stream: declares its plan # no "1..N" line, ran 1' \
	-- "${kunit[@]}" "$logs/kunit-no-plan.ktap"
expect "every kind of kernel report is found" 1 \
	'kernel log has no lockdep # .*:2 during migration: ' \
	'kernel log has no KASAN # ' 'kernel log has no UBSAN # ' \
	'kernel log has no hung task # ' 'kernel log has no RCU stall # ' \
	'kernel log has no kmemleak # ' 'kernel log has no BUG # .*NULL pointer' \
	'kernel log has no oops # ' 'kernel log has no soft lockup # ' \
	'kernel log has no kernel panic # ' \
	-- --prefix vm --kernel-log "$logs/kernel-splats.log" "$logs/guest-good.log"
expect "a clean kernel log and a good guest log pass" 0 \
	'^ok - vm passthrough / uapi_test / dev.region_info$' \
	'^ok - vm passthrough / uapi_test / dev.reset # SKIP no reset method$' \
	'^ok - vm kernel log kernel-clean.log has no splat$' \
	-- --prefix vm --expect passthrough,faults \
	--kernel-log "$logs/kernel-clean.log" "$logs/guest-good.log"
expect "an injected allocation failure's report passes, the same report alone does not" 1 \
	'^not ok - vm kernel log has no call trace # .*kernel-injected-alloc-failure.log:19 during alloc' \
	'!kernel-injected-alloc-failure.log:9 ' \
	-- --prefix vm --kernel-log "$logs/kernel-injected-alloc-failure.log" "$logs/guest-good.log"
expect "a known upstream report passes only after an injection and with its frame" 1 \
	'^# excused, known upstream bug .*vfio_create_group.*line 7\)' \
	'^not ok - vm kernel log has no WARNING # .*kernel-known-upstream-bug.log:20 during later' \
	'!kernel-known-upstream-bug.log:7:' '!line 20\)' '!line 29\)' \
	-- --prefix vm --kernel-log "$logs/kernel-known-upstream-bug.log" "$logs/guest-good.log"
expect "a C program killed half-way: its plan and its signal" 1 \
	'^not ok - vm migration / mig_test: runs its plan # planned 40, ran 2' \
	-- --prefix vm "$logs/guest-crashed-program.log"
expect "a C program that exits non-zero with every result passed" 1 \
	'^not ok - vm migration / mig_test # exit status 1 ' \
	-- --prefix vm "$logs/guest-program-exit.log"
expect "a suite that ended early (syntax error)" 1 \
	'^not ok - vm passthrough: runs its plan # planned 19, ran 2' \
	'^not ok - vm passthrough # suite exit status 2' \
	'^ok - vm faults / debugfs has a directory per function$' \
	-- --prefix vm "$logs/guest-suite-ended-early.log"
expect "the test VM died mid-suite" 1 \
	'^not ok - vm migration / mig_test: runs its plan # planned 40, ran 1' \
	'^not ok - vm migration: ends # ' '^not ok - vm top level: runs its plan # planned 3, ran 1' \
	-- --prefix vm --expect passthrough,migration,faults "$logs/guest-vm-died.log"
expect "no results at all" 1 '^not ok - vm results exist # ' \
	-- --prefix vm /dev/null

# Live: the guest's own lib.sh, on the host, with real programs.
# suite NAME BODY... : a suite script that sources lib.sh; prints its path.
suite() {
	local f=$tmp/$1.sh
	shift
	{
		echo ". '$top/tests/guest/lib.sh'"
		printf '%s\n' "$@"
	} > "$f"
	echo "$f"
}
# as_guest SUITE... : run suites as run-tests.sh does, into $tmp/guest.log.
as_guest() {
	(
		. "$top/tests/guest/lib.sh"
		echo "KTAP version 1"
		plan $#
		for s in "$@"; do
			echo "    # Subtest: $(basename "$s" .sh)"
			bash "$s" 2>&1 | sed -u 's/^/    /'
			rc=${PIPESTATUS[0]}
			if [ "$rc" -eq 0 ]; then ok "$(basename "$s" .sh)"
			else not_ok "$(basename "$s" .sh)" "suite exit status $rc"; fi
		done
		done_testing
	) > "$tmp/guest.log" 2>&1
}
cat > "$tmp/segv.sh" <<'SH'
echo "TAP version 13"; echo "1..5"; echo "ok 1 a"; echo "ok 2 b"; kill -SEGV $$
SH
s1=$(suite s1 'plan 2' "run_tap prog bash '$tmp/segv.sh'" 'ok "after"' done_testing)
as_guest "$s1"
expect "run_tap: a program killed by SIGSEGV fails, with its plan" 1 \
	'^not ok - vm s[0-9] / prog # killed by signal 11' \
	'^not ok - vm s[0-9] / prog: runs its plan # planned 5, ran 2' \
	-- --prefix vm "$tmp/guest.log"
s2=$(suite s2 'plan 3' 'ok one' 'if then' 'ok two' done_testing)
as_guest "$s2"
expect "a suite with a syntax error fails, in its own process" 1 \
	'^not ok - vm s[0-9]: runs its plan # planned 3, ran ' \
	-- --prefix vm "$tmp/guest.log"
s3=$(suite s3 'plan 3' 'ok one' 'exit 0')
s4=$(suite s4 'plan 1' 'ok next' done_testing)
as_guest "$s3" "$s4"
expect "a suite that exits 0 early still fails; the next one runs" 1 \
	'^not ok - vm s[0-9]: runs its plan # planned 3, ran 1' \
	'^ok - vm s[0-9] / next$' \
	-- --prefix vm "$tmp/guest.log"
s5=$(suite s5 'plan 2' 'ok one' 'ok two' 'ok three' done_testing)
as_guest "$s5"
expect "done_testing fails a suite that ran more than its plan" 1 \
	'^not ok - vm s[0-9] # suite exit status 1' \
	-- --prefix vm "$tmp/guest.log"
s6=$(suite s6 'plan 2' "run_tap prog sh -c 'echo 1..1; echo ok 1 x'" 'ok two' done_testing)
as_guest "$s6"
expect "a good suite with a nested program passes" 0 \
	'^ok - vm s[0-9] / prog / x$' '^ok - vm s[0-9] / two$' \
	-- --prefix vm "$tmp/guest.log"
# check runs its command in the caller's scope: its own locals must not
# shadow the caller's variables that an eval'd command reads (a loop over
# "why" once made a dmesg check look for its own failure reason).
s7=$(suite s7 'plan 2' 'why=caller name=caller' \
	"check 'eval sees the caller'\''s why' shadowed eval '[ \"\$why\" = caller ]'" \
	"check 'eval sees the caller'\''s name' shadowed eval '[ \"\$name\" = caller ]'" \
	done_testing)
as_guest "$s7"
expect "check does not shadow the caller's variables" 0 \
	"^ok - vm s[0-9] / eval sees the caller's why$" \
	"^ok - vm s[0-9] / eval sees the caller's name$" \
	-- --prefix vm "$tmp/guest.log"

# The rig's lost-wakeup detector (tests/rig/lost_wakeup.py) on the
# monitor's view of the stock test VM frozen in a CI run of 2026-12-06
# (RIP, RFLAGS, IRR and PPR as recorded there, the rest in QEMU 7.2's
# format), and on the same view changed in one thing that makes it a
# state a real CPU can be in: it must wake the first and leave the others.
wakeup() {
	local name=$1 want=$2 rc why=
	shift 2
	sed "$@" "$logs/monitor-lost-wakeup.txt" > "$tmp/monitor.txt"
	python3 "$top/tests/rig/lost_wakeup.py" parse "$tmp/monitor.txt" > "$tmp/out" 2>&1
	rc=$?
	[ "$rc" = "$want" ] || why="exit $rc, expected $want: $(head -n 1 "$tmp/out")"
	report "$name" "$why"
}
wakeup "lost wakeup: halted, IF=1, timer in IRR above PPR is stuck" 0 -e ''
# Frozen again in CI on 2026-12-07, this time inside a nested guest:
# running, the nested guest's RFLAGS (IF=0), the host's timer in IRR.
nested='s/RIP=ffffffff8c90fa3f RFL=00000212 \[----A--\]/RIP=ffffffff8dbdcf87 RFL=00000046 [---Z-P-]/; s/HLT=1/HLT=0/'
wakeup "lost wakeup: running a nested guest, timer in IRR never taken is stuck" 0 -e "$nested"

wakeup "lost wakeup: running, nothing in IRR is not stuck" 1 -e "$nested" -e 's/^IRR\t 236/IRR\t (none)/'
wakeup "lost wakeup: running, a vector at or below PPR is not stuck" 1 -e "$nested" -e 's/PPR 0x10/PPR 0xf0/'
wakeup "lost wakeup: a vCPU halted with IF=0 is not stuck" 1 -e 's/RFL=00000212/RFL=00000012/'
wakeup "lost wakeup: a vector at or below PPR is not deliverable" 1 -e 's/PPR 0x10/PPR 0xf0/'
wakeup "lost wakeup: nothing in IRR, nothing to take" 1 -e 's/^IRR\t 236/IRR\t (none)/'

# check_dmesg_clean reads the kernel log from its own whole mark: a mark
# that is gone (the ring overwritten, or never written) is a failure, not
# an empty reading, and "qemu" is not "qemu-defaults" (dmesg stubbed with
# a recorded log).
printf '%s\n' '[    1.0] VFMIG-MARK-qemu-defaults' '[    2.0] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2' \
	'[    3.0] VFMIG-MARK-qemu' '[    4.0] all quiet' > "$tmp/dmesg.txt"
s8=$(suite s8 'plan 3' "dmesg() { cat '$tmp/dmesg.txt'; }" \
	'check_dmesg_clean qemu "after"' 'check_dmesg_clean qemu-defaults "before"' \
	'check_dmesg_clean fuzz "gone"' done_testing)
as_guest "$s8"
expect "check_dmesg_clean: only after its whole mark, and a lost mark fails" 1 \
	'^ok - vm s[0-9] / no WARN, BUG or oops in dmesg during after$' \
	'^not ok - vm s[0-9] / no WARN, BUG or oops in dmesg during before # .*WARNING: CPU: 0' \
	'^not ok - vm s[0-9] / no WARN, BUG or oops in dmesg during gone # no VFMIG-MARK-fuzz in the kernel log' \
	-- --prefix vm "$tmp/guest.log"

[ "$n" -eq 33 ] || { echo "not ok - harness: ran $n cases, planned 33"; exit 1; }
[ "$failed" -eq 0 ]
