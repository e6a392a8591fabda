# SPDX-License-Identifier: GPL-2.0-only
# Suite "fuzz" (run by run-tests.sh, in a process of its own), for the rig's
# debug kernel: the resume path fuzzed through the real data file, 100,000
# mutated streams by default (tests/guest/fuzz_resume.c,
# Documentation/fuzzing.md). It has a test VM of its own in CI, running
# beside the one with the other debug suites (tests/run-all.sh): on
# single-threaded TCG the fuzz is the longest part of the debug run, and
# the two VMs together keep both host cores busy. The kernel log is checked
# after it; kmemleak is scanned at the end of the run (tests/guest/init.sh).
. /opt/vfmig/tests/guest/lib.sh
plan 3

mapfile -t small < <(ivshmem_small_devices)
F=${small[0]}
G=${small[1]}
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
if [ ! -d /sys/kernel/debug/failslab ] || ! grep -q '~vfmig-debug' /proc/version; then
	# The stock kernel has none of the detectors: results there would
	# prove nothing. (Counted, so the plan holds.)
	for i in $(seq 3); do
		skip "fuzz part $i" "needs the rig's debug kernel (VFMIG_KERNEL=debug)"
	done
	exit 0
fi
modprobe "$VFMIG_MODULE"
echo "# F=$F G=$G, $(nproc) CPUs"
export VFMIG_MODULE VFMIG_DRIVER
check "F and G bind to vfmig" "no" eval 'bind "$F" "$VFMIG_DRIVER" && bind "$G" "$VFMIG_DRIVER"'

dmesg_mark fuzz
hang_report fuzz 3000 &
watchdog=$!
# Two processes (F and G) on multi-threaded TCG: 100,000 attempts in
# about 630 s. On single-threaded TCG (the debug runs, tests/rig/boot.sh)
# one host thread runs both vCPUs in turns, and two processes had not
# finished after 1,450 s in a CI run. Two processes there mostly wait
# for each other's turn, so the debug runs use one process (F).
fuzz_bdfs="$F $G"
[ "${VFMIG_TCG_THREADS:-multi}" = single ] && fuzz_bdfs=$F
VFMIG_FUZZ_BDFS=$fuzz_bdfs VFMIG_FUZZ_ITERS=${VFMIG_FUZZ_ITERS:-100000} \
	run_tap fuzz_resume "$VFMIG_BIN/fuzz_resume"
kill "$watchdog" 2>/dev/null
check_dmesg_clean fuzz "the fuzzing"
