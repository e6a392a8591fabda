# SPDX-License-Identifier: GPL-2.0-only
# Suite "migration" (run by run-tests.sh, in a process of its own): VFIO live migration of
# ivshmem-plain through vfmig, A (the source) to B (the destination): the
# uAPI tests of mig_test, then the same by hand with vfmigctl, and the
# driver's explanations of refused streams in dmesg.
. /opt/vfmig/tests/guest/lib.sh
plan 29

mapfile -t devs < <(ivshmem_devices)
check "two ivshmem-plain functions (1af4:1110) are present" \
	"found ${#devs[@]}: ${devs[*]}" test "${#devs[@]}" -eq 2
A=${devs[0]}
B=${devs[1]}

dmesg_mark migration
# mig_test reads the driver's debugfs status (dirty tracking on or off).
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
check "modprobe $VFMIG_MODULE" "modprobe failed" modprobe "$VFMIG_MODULE"
for bdf in "$A" "$B"; do
	check "bind $bdf with driver_override" "not bound" bind "$bdf" "$VFMIG_DRIVER"
done
# R: on the root bus, no FLR, no PM reset, no bus reset (mig_test noreset).
R=$(ivshmem_root_bus_device)
check "bind R ($R, root bus) with driver_override" "not bound" \
	eval '[ -n "$R" ] && bind "$R" "$VFMIG_DRIVER"'
check "R has no PCI reset method (no reset_method file)" "it has one" \
	test ! -e "/sys/bus/pci/devices/$R/reset_method"

echo "# migration uAPI tests: A=$A B=$B"
dmesg_mark mig-test
hang_report mig_test 900 &
watchdog=$!
export VFMIG_BDF_A=$A VFMIG_BDF_B=$B VFMIG_BDF_R=$R
run_tap mig_test "$VFMIG_BIN/mig_test"
kill "$watchdog" 2>/dev/null
# mig_test's noreset.refusal_loop made R refuse 200 streams in a row (and
# reset_leaves_error one more): a burst of lines (VFMIG_LOG_BURST, 20, per
# 5 s), then rate limited. Fewer than a burst: the loop never ran.
lines=$(dmesg | sed -n '/VFMIG-MARK-mig-test/,$p' | grep -c "$R: vfmig: RESUMING->STOP refused")
check "R's 201 refusals gave a burst of log lines, not one each ($lines)" \
	"rate limit missing" eval '[ "$lines" -ge 20 ] && [ "$lines" -le 100 ]'
# mig_test feeds B truncated, corrupt and foreign streams: the driver must
# say why it refused each, in a line "<driver> <B>: vfmig: ...".
refusals=$(dmesg | sed -n '/VFMIG-MARK-mig-test/,$p' | grep -c "$B: vfmig:")
check "dmesg explains the refused streams ($refusals lines \"$B: vfmig: ...\")" \
	"no such line" test "$refusals" -gt 0
dmesg | sed -n '/VFMIG-MARK-mig-test/,$p' | grep "vfmig:" | head -n 12 |
	sed 's/^/# dmesg: /'
# The two streams that only the whole can refuse fail the write() of END
# (mig_test checks the errno) and say why again at RESUMING -> STOP, in the
# line these checks find. (The END refusal's own line, "resuming stream
# failed", shares its rate limit with every other stream B refused here.)
# (The loop variable is not "why": check's own local of that name would
# shadow it inside the eval.)
for refusal in "the stream carries no register record" \
	"the stream does not cover the whole memory BAR"; do
	check "dmesg: RESUMING->STOP refused: $refusal" "no such line for $B" \
		eval 'dmesg | sed -n "/VFMIG-MARK-mig-test/,\$p" |
			grep -q "$B: vfmig: RESUMING->STOP refused: $refusal"'
done

# vfmigctl: the same migration by hand. OUT holds the last command's output.
vfmigctl() {
	OUT=$("$VFMIG_BIN/vfmigctl" "$@" 2>&1)
	local rc=$?
	echo "$OUT" | sed 's/^/# vfmigctl: /'
	return $rc
}
# vcheck NAME CMD... : like check, the reason being vfmigctl's last words.
vcheck() {
	local name=$1
	shift
	if "$@"; then
		ok "$name"
	else
		not_ok "$name" "$(tail -n 3 <<<"$OUT" | tr '\n' ' ')"
	fi
}
# content FILE : the "content:" and "registers" lines of vfmigctl info, the
# device state a load of FILE leaves, whatever the stream's layout.
content() {
	"$VFMIG_BIN/vfmigctl" info "$1" | grep -E '^(content|registers)'
}

echo "# vfmigctl: A -> B by hand"
vcheck "vfmigctl state $A says RUNNING and STOP_COPY|P2P|PRE_COPY" \
	eval 'vfmigctl state "$A" && grep -qx RUNNING <<<"$OUT" &&
	      grep -q "STOP_COPY|P2P|PRE_COPY" <<<"$OUT"'
vcheck "vfmigctl save $A /tmp/a.bin" vfmigctl save "$A" /tmp/a.bin
vcheck "vfmigctl info /tmp/a.bin: the stream checks out" \
	eval 'vfmigctl info /tmp/a.bin && grep -q "^stream OK" <<<"$OUT"'
vcheck "vfmigctl load $B /tmp/a.bin" vfmigctl load "$B" /tmp/a.bin
vcheck "vfmigctl save $B /tmp/b.bin after the load" \
	vfmigctl save "$B" /tmp/b.bin
check "B's saved state has A's content and registers" \
	"$(content /tmp/a.bin | tr '\n' ' ') vs $(content /tmp/b.bin | tr '\n' ' ')" \
	eval '[ -n "$(content /tmp/a.bin)" ] &&
	      [ "$(content /tmp/a.bin)" = "$(content /tmp/b.bin)" ]'
vcheck "vfmigctl save $A /tmp/ap.bin --precopy" \
	eval 'vfmigctl save "$A" /tmp/ap.bin --precopy &&
	      grep -q "initial_bytes" <<<"$OUT"'
vcheck "vfmigctl info /tmp/ap.bin: the pre-copy stream checks out" \
	eval 'vfmigctl info /tmp/ap.bin && grep -q "^stream OK" <<<"$OUT"'
vcheck "vfmigctl load $B /tmp/ap.bin" vfmigctl load "$B" /tmp/ap.bin

# A corrupt file: one bit flipped in a payload byte (byte 4096 is inside
# the first MEM record: the header and INFO record are far shorter).
cp /tmp/a.bin /tmp/bad.bin
byte=$(od -An -tu1 -j4096 -N1 /tmp/a.bin | tr -d ' ')
printf "\\$(printf %03o $((byte ^ 1)))" |
	dd of=/tmp/bad.bin bs=1 seek=4096 conv=notrunc status=none
vcheck "vfmigctl info finds the corrupt byte in /tmp/bad.bin" \
	eval '! vfmigctl info /tmp/bad.bin && grep -q "INVALID" <<<"$OUT"'
dmesg_mark vfmigctl-bad
vcheck "vfmigctl load $B /tmp/bad.bin fails, says which step and points to dmesg" \
	eval '! vfmigctl load "$B" /tmp/bad.bin &&
		     grep -q "dmesg" <<<"$OUT" && grep -q "$B" <<<"$OUT"'
check "dmesg says why $B refused /tmp/bad.bin" "no \"$B: vfmig:\" line" \
	eval 'dmesg | sed -n "/VFMIG-MARK-vfmigctl-bad/,\$p" | grep -q "$B: vfmig:"'
vcheck "vfmigctl load $B /tmp/a.bin works again afterwards" \
	vfmigctl load "$B" /tmp/a.bin

for bdf in "$A" "$B" "$R"; do
	check "unbind $bdf" "still bound" unbind "$bdf"
done
check "modprobe -r $VFMIG_MODULE" "module still loaded" modprobe -r "$VFMIG_MODULE"
check_dmesg_clean migration
unset -f vfmigctl vcheck content
done_testing
