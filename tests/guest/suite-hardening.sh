# SPDX-License-Identifier: GPL-2.0-only
# Suite "hardening" (run by run-tests.sh, in a process of its own), for the
# rig's debug kernel (lockdep, KASAN, UBSAN, kmemleak, hung-task and stall
# detectors, fault injection) with two vCPUs: concurrency stress, the
# reset churn, and allocation failures injected at every site in vfmig's
# paths (Documentation/hardening.md). The resume path's fuzz is suite
# "fuzz" (suite-fuzz.sh). The kernel log is checked after each part;
# kmemleak is scanned at the end of the run (tests/guest/init.sh).
. /opt/vfmig/tests/guest/lib.sh
plan 7

mapfile -t devs < <(ivshmem_devices)
A=${devs[0]}
B=${devs[1]}
mapfile -t small < <(ivshmem_small_devices)
F=${small[0]}
G=${small[1]}
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
if [ ! -d /sys/kernel/debug/failslab ] || ! grep -q '~vfmig-debug' /proc/version; then
	# The stock kernel has none of the detectors: results there would
	# prove nothing. (Counted, so the plan holds.)
	for i in $(seq 7); do
		skip "hardening part $i" "needs the rig's debug kernel (VFMIG_KERNEL=debug)"
	done
	exit 0
fi
modprobe "$VFMIG_MODULE"
modprobe aer_inject 2>/dev/null
bind "$A" "$VFMIG_DRIVER" && bind "$B" "$VFMIG_DRIVER"
rp=$(basename "$(readlink -f "/sys/bus/pci/devices/$A/..")")
echo "# A=$A B=$B F=$F G=$G, A's root port $rp, $(nproc) CPUs"
export VFMIG_BDF_A=$A VFMIG_BDF_B=$B VFMIG_BDF_F=$F
export VFMIG_MODULE VFMIG_DRIVER

# 1. The reset churn (mig_test's opt-in stress group): save cycles in one
# thread, ioctl and sysfs resets in another, on two vCPUs.
dmesg_mark churn
hang_report mig_test 600 &
watchdog=$!
VFMIG_STRESS=1 VFMIG_CHURN_SECS=${VFMIG_CHURN_SECS:-20} \
	run_tap mig_test_churn "$VFMIG_BIN/mig_test" -f churn
kill "$watchdog" 2>/dev/null
check_dmesg_clean churn "the churn"

# 2. Concurrency stress: every call on one function at once, then the
# session ended from outside (close, unbind, modprobe -r, AER).
dmesg_mark stress
hang_report stress 1500 &
watchdog=$!
VFMIG_AER_PORT=$rp VFMIG_STRESS_SECS=${VFMIG_STRESS_SECS:-30} \
	run_tap stress "$VFMIG_BIN/stress"
kill "$watchdog" 2>/dev/null
check_dmesg_clean stress "the stress"
# (The modprobe -r test reloaded the module: bind what it unbound.)
bind "$B" "$VFMIG_DRIVER"
check "F and G bind to vfmig" "no" eval 'bind "$F" "$VFMIG_DRIVER" && bind "$G" "$VFMIG_DRIVER"'

# 3. Allocation failures, aimed at vfmig: only allocations with a frame of
# vfmig's text on the stack may fail, sleeping ones too; each injected
# failure is logged in one line (verbose 1: no stack dump).
mod=${VFMIG_MODULE//-/_}
base=$(awk -v m="$mod" '$1 == m { print $6 }' /proc/modules)
size=$(awk -v m="$mod" '$1 == m { print $2 }' /proc/modules)
for fi in failslab fail_page_alloc; do
	d=/sys/kernel/debug/$fi
	echo N > "$d/ignore-gfp-wait"
	[ -e "$d/ignore-gfp-highmem" ] && echo N > "$d/ignore-gfp-highmem"
	echo 1 > "$d/verbose"
	echo 32 > "$d/stacktrace-depth"
	# Hex: the attributes are unsigned, and bash's signed 64-bit
	# arithmetic would print a kernel address as a negative number.
	printf '%#x\n' "$((base))" > "$d/require-start"
	printf '%#x\n' "$((base + size))" > "$d/require-end"
	echo 0 > "$d/probability"
	echo -1 > "$d/times"
done
dmesg_mark alloc
hang_report alloc_fail 1500 &
watchdog=$!
run_tap alloc_fail "$VFMIG_BIN/alloc_fail"
kill "$watchdog" 2>/dev/null
for fi in failslab fail_page_alloc; do
	echo 0 > "/sys/kernel/debug/$fi/require-end"
	echo 0 > "/sys/kernel/debug/$fi/require-start"
done
check_dmesg_clean alloc "the allocation failures"
