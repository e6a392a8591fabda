# SPDX-License-Identifier: GPL-2.0-only
# Suite "faults" (run by run-tests.sh, in a process of its own): the debugfs status and fault
# injection (Documentation/fault-injection.rst), driven with vfmigctl.
. /opt/vfmig/tests/guest/lib.sh
plan 21

mapfile -t devs < <(ivshmem_devices)
A=${devs[0]}
B=${devs[1]}
ctl=$VFMIG_BIN/vfmigctl
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
modprobe "$VFMIG_MODULE"
bind "$A" "$VFMIG_DRIVER" && bind "$B" "$VFMIG_DRIVER"
dA=$(vfmig_dir "$A")
dB=$(vfmig_dir "$B")
# vfio makes /sys/kernel/debug/vfio only with CONFIG_VFIO_DEBUGFS (the
# debug kernel has it, Debian's has not): then vfmig's files must be in
# vfio's per-device directory and vfmig must make no root of its own.
if [ -d /sys/kernel/debug/vfio ]; then
	want=/sys/kernel/debug/vfio/$A/migration/vfmig
	check "the directory is in vfio's per-device one (CONFIG_VFIO_DEBUGFS)" \
		"$dA; $(ls -d /sys/kernel/debug/vfmig 2>/dev/null)" \
		eval '[ "$dA" = "$want" ] && [ ! -e /sys/kernel/debug/vfmig ]'
else
	check "the directory is vfmig's own (no CONFIG_VFIO_DEBUGFS)" "$dA" \
		test "$dA" = "/sys/kernel/debug/vfmig/$A"
fi
check "debugfs has a directory per function, with the fault files" "no $dA or no fail_arc" \
	test -r "$dA/status" -a -w "$dA/fail_arc" -a -w "$dB/reset_at"
check "status reads RUNNING at rest" "$(head -n 1 "$dA/status")" \
	grep -q '^state: RUNNING' "$dA/status"
check "a good save works and is counted" "$($ctl save "$A" /tmp/f.bin 2>&1 | tail -n 1)" \
	eval '$ctl save "$A" /tmp/f.bin > /dev/null 2>&1 && grep -q "^bytes_saved: [1-9]" "$dA/status"'

check "fail_arc refuses a malformed request" "accepted" \
	eval '! echo "STOP NOWHERE 5" > "$dA/fail_arc" 2>/dev/null'
echo "STOP STOP_COPY 16" > "$dA/fail_arc"
check "fail_arc: the save fails at STOP -> STOP_COPY" "it worked" \
	eval '! $ctl save "$A" /tmp/f2.bin > /dev/null 2>&1'
check "fail_arc: the failure is logged as injected" "no log line" \
	eval 'dmesg | grep -q "$A: vfmig: fault injection: arc STOP -> STOP_COPY fails with -16"'
check "fail_arc: the status shows the last error" "$(grep last_error "$dA/status")" \
	grep -q '^last_error: -16' "$dA/status"
check "fail_arc fires once: the next save works" "failed again" \
	eval '$ctl reset "$A" > /dev/null 2>&1; $ctl save "$A" /tmp/f2.bin > /dev/null 2>&1'

echo 1 > "$dB/fail_resume"
check "fail_resume: a good stream is refused at RESUMING -> STOP" "it loaded" \
	eval '! $ctl load "$B" /tmp/f.bin > /dev/null 2>&1'
# (vfmigctl has closed the device since, which reset it to RUNNING.)
check "fail_resume: the log and the status say why" "$(grep last_error "$dB/status")" \
	eval 'grep -q "^last_error: -22 fault injection" "$dB/status" && dmesg | grep -q "$B: vfmig: RESUMING->STOP refused: fault injection"'
$ctl reset "$B" > /dev/null 2>&1
check "fail_resume fires once: the load then works" "failed again" \
	$ctl load "$B" /tmp/f.bin

# Opening and closing the device reset it too, so the count alone would
# rise after any save: the injected reset must add one more than a plain
# save adds, and log that it fired.
resets() { status_field "$A" resets; }
r0=$(resets)
$ctl save "$A" /tmp/f3.bin > /dev/null 2>&1
plain=$(($(resets) - r0))
r0=$(resets)
dmesg_mark reset-at
echo "save 4194304" > "$dA/reset_at"
check "reset_at: a save is cut short by a real reset" "it completed" \
	eval '! $ctl save "$A" /tmp/f3.bin > /dev/null 2>&1'
check "reset_at: the injected reset fired, was counted and left RUNNING" \
	"resets +$(($(resets) - r0)) against +$plain for a plain save; $(tr '\n' ' ' < "$dA/status")" \
	eval '[ $(($(resets) - r0)) -gt "$plain" ] && grep -q "^state: RUNNING" "$dA/status" &&
	      dmesg | sed -n "/VFMIG-MARK-reset-at/,\$p" |
		grep -q "$A: vfmig: fault injection: resetting the function"'
check "after the injected reset a save works" "failed" \
	$ctl save "$A" /tmp/f3.bin
echo "load 1048576" > "$dB/reset_at"
check "reset_at: a load is cut short by a real reset" "it completed" \
	eval '! $ctl load "$B" /tmp/f.bin > /dev/null 2>&1'
check "after the injected reset a load works" "failed" $ctl load "$B" /tmp/f.bin
rm -f /tmp/f.bin /tmp/f2.bin /tmp/f3.bin

# AER: a fatal error injected at A's root port (aer_inject; ivshmem has no
# AER capability of its own) while a save is held open in STOP_COPY. The
# recovery calls error_detected (frozen) with A's device lock held, resets
# the link, and calls resume: the save must fail from its next read, the
# migration must end (RUNNING) before the device is closed, and nothing
# may hang (kernel review #1: error_detected waited for the state mutex
# under the device lock; #11: the recovery's bus reset calls no
# reset_done, so the migration stayed in STOP_COPY).
rp=$(basename "$(readlink -f "/sys/bus/pci/devices/$A/..")")
dmesg_mark aer
coproc AER { "$VFMIG_BIN/hold_save" "$A" 524288 4194304 2>&1; }
read -r -t 60 aer_said <&"${AER[0]}"
modprobe aer_inject 2>/dev/null
injected=$(timeout 30 python3 /opt/vfmig/tests/guest/aer_inject.py "$rp" 2>&1 && echo yes)
recovered=no
for i in $(seq 300); do
	dmesg | sed -n "/VFMIG-MARK-aer/,\$p" | grep -q "$A: vfmig: PCI channel recovered" &&
		{ recovered=yes; break; }
	sleep 0.1
done
echo go >&"${AER[1]}"
read -r -t 60 aer_read <&"${AER[0]}"
read -r -t 60 aer_state <&"${AER[0]}"
wait "$AER_PID" 2>/dev/null
echo "# aer: injected at $rp: ${injected:-nothing}; hold_save: ${aer_said:-nothing}; ${aer_read:-nothing}; ${aer_state:-nothing}"
check "AER: a fatal error at A's root port is recovered, vfmig saw the channel freeze" \
	"injected: ${injected:-nothing}; recovered: $recovered; $(dmesg | sed -n "/VFMIG-MARK-aer/,\$p" | grep -E "AER|vfmig" | head -n 4 | tr '\n' ' ')" \
	eval '[ "$injected" = yes ] && [ "$recovered" = yes ] &&
	      dmesg | sed -n "/VFMIG-MARK-aer/,\$p" | grep -q "$A: vfmig: PCI channel frozen"'
check "AER: the held save fails after the recovery and the migration ended (RUNNING)" \
	"${aer_said:-nothing}; ${aer_read:-nothing}; ${aer_state:-nothing}" \
	eval '[ "$aer_said" = "ready after 524288 bytes" ] &&
	      case $aer_read in "read 4194304 more bytes") false ;; read*) true ;; *) false ;; esac &&
	      [ "$aer_state" = "state RUNNING" ]'

# Unbind holds A's device lock while it waits for the user to close the
# device. A reset_at that fires then queues a reset needing that lock, and
# remove cancels the reset's work still holding it: unbind must complete
# all the same (kernel review #5; it used to hang in D state for good).
# hold_save holds A open in STOP_COPY having read 512 KiB, and on request
# reads 256 KiB more: bytes of the first 1 MiB record, already staged, so
# no device access (which the unbind would refuse) comes first, and the
# file crosses reset_at (640 KiB) while the unbind holds the lock.
dmesg_mark unbind-reset
echo "save 655360" > "$dA/reset_at"
coproc HOLD { "$VFMIG_BIN/hold_save" "$A" 524288 262144 2>&1; }
read -r -t 60 said <&"${HOLD[0]}"
( echo "$A" > "/sys/bus/pci/devices/$A/driver/unbind" ) &
unbinder=$!
# Only once remove is waiting for the close (holding the lock) is the read
# let go, so the reset is queued while unbind holds the lock.
waiting=no
for i in $(seq 100); do
	grep -q vfio_unregister_group_dev "/proc/$unbinder/stack" 2>/dev/null &&
		{ waiting=yes; break; }
	sleep 0.1
done
echo go >&"${HOLD[1]}"
read -r -t 60 read_said <&"${HOLD[0]}"
wait "$HOLD_PID" 2>/dev/null
unbound=no
for i in $(seq 300); do
	kill -0 "$unbinder" 2>/dev/null || { unbound=yes; break; }
	sleep 0.1
done
echo "# hold_save: ${said:-nothing}; ${read_said:-nothing}; unbind waited for the close: $waiting"
check "unbind completes while a reset_at reset waits for the device lock" \
	"hold_save: ${said:-nothing}; unbind waited: $waiting; unbind still blocked after 30 s: $(tr '\n' ' ' 2>/dev/null < "/proc/$unbinder/stack" | cut -c1-200)" \
	eval '[ "$said" = "ready after 524288 bytes" ] && [ "$waiting" = yes ] &&
	      [ "$read_said" = "read 262144 more bytes" ] && [ "$unbound" = yes ] &&
	      [ ! -e "/sys/bus/pci/devices/$A/driver" ] &&
	      dmesg | sed -n "/VFMIG-MARK-unbind-reset/,\$p" |
		grep -q "$A: vfmig: fault injection: reset abandoned, the function is being unbound"'
echo > "/sys/bus/pci/devices/$A/driver_override"
unbind "$B" > /dev/null
if [ "$unbound" = yes ]; then
	check "modprobe -r removes the debugfs directory" "still there" \
		eval 'modprobe -r "$VFMIG_MODULE" && [ ! -e "$dA" ] && [ ! -e /sys/kernel/debug/vfmig ]'
else
	not_ok "modprobe -r removes the debugfs directory" "not tried: an unbind of A still hangs"
fi
done_testing
