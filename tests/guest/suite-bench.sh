# SPDX-License-Identifier: GPL-2.0-only
# Suite "bench" (opt-in: in no default list; run by run-tests.sh, in a
# process of its own): tests/bench/mig_bench on A and B, whose figures
# (ratios against baselines measured in the same run) are printed as
# comments, never judged. Its checks are only that the benchmark could
# measure and the kernel stayed clean. Documentation/benchmarks.rst says
# how to run it and records its figures.
. /opt/vfmig/tests/guest/lib.sh
plan 3

mapfile -t devs < <(ivshmem_devices)
A=${devs[0]}
B=${devs[1]}
dmesg_mark bench
# mig_bench reads the driver's held_bytes from its debugfs status.
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
modprobe "$VFMIG_MODULE"
check "A and B bound for the benchmark" "bind failed" \
	eval 'bind "$A" "$VFMIG_DRIVER" && bind "$B" "$VFMIG_DRIVER"'
"$VFMIG_BIN/mig_bench" "$A" "$B" "${VFMIG_BENCH_REPEATS:-5}" > /tmp/bench.out 2>&1
rc=$?
sed 's/^/# bench: /' /tmp/bench.out
cp /tmp/bench.out /results/bench.txt 2>/dev/null
check "mig_bench measured everything (exit 0)" "exit $rc" test "$rc" -eq 0
unbind "$A" > /dev/null
unbind "$B" > /dev/null
check_dmesg_clean bench "the benchmark"
done_testing
