# SPDX-License-Identifier: GPL-2.0-only
# Suite "churn" (opt-in: in no default list): the reset churn of mig_test
# (save cycles in one thread, ioctl and sysfs resets every few
# milliseconds in another) run again and again for VFMIG_CHURN_LOOP_SECS
# (900), to tell whether the test VM freeze it once provoked comes back
# (Documentation/hardening.md, "The churn freeze"). A freeze silences the
# console: the rig then ends the VM as "stalled" and dumps the vCPUs'
# registers and local APICs (out/stall-dump.txt), which fails the run.
#
#   tests/rig/boot.sh churn                  (Debian's kernel, one vCPU)
#   VFMIG_KERNEL=debug tests/rig/boot.sh churn   (debug kernel, two)
. /opt/vfmig/tests/guest/lib.sh
plan 3

mapfile -t devs < <(ivshmem_devices)
A=${devs[0]}
B=${devs[1]}
modprobe "$VFMIG_MODULE"
check "bind A and B to vfmig" "not bound" \
	eval 'bind "$A" "$VFMIG_DRIVER" && bind "$B" "$VFMIG_DRIVER"'
export VFMIG_BDF_A=$A VFMIG_BDF_B=$B
echo "# A=$A B=$B, $(nproc) CPUs, kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo)"

dmesg_mark churn-loop
runs=0
failed=0
resets=0
end=$((SECONDS + ${VFMIG_CHURN_LOOP_SECS:-900}))
while [ "$SECONDS" -lt "$end" ]; do
	runs=$((runs + 1))
	VFMIG_STRESS=1 VFMIG_CHURN_SECS=${VFMIG_CHURN_SECS:-20} \
		"$VFMIG_BIN/mig_test" -f churn > /tmp/churn.log 2>&1
	rc=$?
	n=$(awk '/# churn: / { s += $3 } END { print s + 0 }' /tmp/churn.log)
	resets=$((resets + n))
	echo "# run $runs at ${SECONDS}s: exit $rc, $n resets, $(grep -c '^ok ' /tmp/churn.log) of 3 passed"
	if [ "$rc" -ne 0 ]; then
		failed=$((failed + 1))
		sed 's/^/# | /' /tmp/churn.log | grep -E 'FAIL|not ok' | head -n 5
	fi
done
echo "# $runs churn runs, $resets resets in all, in ${SECONDS}s"
check "every churn run passed ($runs runs)" "$failed of $runs failed" [ "$failed" -eq 0 ]
check_dmesg_clean churn-loop "the churn loop"
