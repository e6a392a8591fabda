# SPDX-License-Identifier: GPL-2.0-only
# Suite "failures" (run by run-tests.sh, in a process of its own): what QEMU and vfmig do when a
# live migration goes wrong. Each scenario checks its expected outcome; the
# source VM must keep running with its device memory intact, and a later
# migration must succeed.
. /opt/vfmig/tests/guest/lib.sh
plan 30

mapfile -t devs < <(ivshmem_devices)
A=${devs[0]}
B=${devs[1]}
dmesg_mark failures
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
modprobe "$VFMIG_MODULE"
bind "$A" "$VFMIG_DRIVER" && bind "$B" "$VFMIG_DRIVER"

# The kernel's side of each scenario, from vfmig's debugfs status.
# vfmig_is BDF STATE SAVING_FILE : the state and whether a saving file is
# open (open|none); prints the status when it is not so.
vfmig_is() {
	local st
	st=$(vfmig_dir "$1")/status
	grep -qx "state: $2" "$st" && grep -qx "saving_file: $3" "$st" ||
		{ tr '\n' ' ' < "$st"; return 1; }
}
resets_of() { status_field "$1" resets; }

# slow_migrate SRC DST BDF [PORT] : a migration that stays in PRE_COPY until
# the scenario acts. Throttled to 4 MiB/s with QEMU's 300 ms downtime limit
# it can never converge: without DMA logging (Debian's kernel) QEMU counts
# all guest RAM dirty at every sync, and the first pass over the 16 MiB BAR
# alone takes 4 s at that rate. (A 20 s limit converged within seconds once
# the zero pages of guest RAM had gone, racing the scenario's action.)
slow_migrate() {
	local port=${4:-4444}
	vm_start "$2" "$3" -incoming "tcp:127.0.0.1:$port" && vm_incoming "$2" ||
		echo "# $2 is not waiting for the migration: $(cat "/tmp/$2.err")"
	qmp "$1" migrate-set-parameters \
		'{"max-bandwidth": 4194304, "downtime-limit": 300}' > /dev/null
	qmp "$1" migrate "{\"uri\": \"tcp:127.0.0.1:$port\"}" > /dev/null
}

# converging SRC : full speed and a downtime limit nested TCG can meet, so
# the migration reaches its switchover (see live_migrate).
converging() {
	qmp "$1" migrate-set-parameters \
		'{"max-bandwidth": 134217728, "downtime-limit": 20000}' > /dev/null
}

# migration_ends SRC : wait for the end; MIG_RES has the last reply, st
# its status. (Not run in a command substitution: MIG_RES must outlive it.)
migration_ends() {
	MIG_RES=$(timeout 200 "$QMP" "/tmp/$1.qmp" wait-migration 180)
	st=$(mig_field "$MIG_RES" status)
}

# still_running NAME : the guest goes on writing and checking its device
# memory (three more rounds, none bad).
# When not, what QEMU says of the VM and the guest's last lines, so that a
# paused VM is told from a hung guest.
still_running() {
	local n
	n=$(console_count "$1" VFMIG-L2-CHECK)
	wait_console "$1" VFMIG-L2-CHECK $((n + 3)) 120 &&
		[ "$(console_count "$1" 'VFMIG-L2-BAD\|CHECK.*BAD')" -eq 0 ] && return
	echo "# $1: $(qmp "$1" query-status 2>&1 | tr '\n' ' ')"
	tail -n 3 "/tmp/$1.console" | cut -c1-160 | sed "s/^/# $1 console: /"
	return 1
}

# in_precopy SRC : the migration is under way, device data flowing.
in_precopy() {
	local i r
	for i in $(seq 100); do
		r=$(qmp "$1" query-migrate)
		[ "$(mig_field "$r" status)" = active ] &&
			[ "$(mig_field "$r" vfio.transferred)" != "?" ] && return 0
		sleep 0.2
	done
	return 1
}

vm_start src "$A"
check "source VM runs its workload" "no workload" \
	wait_console src VFMIG-L2-CHECK 2 240

echo "# scenario: the guest reboots (system_reset) during PRE_COPY"
dmesg_mark reboot
slow_migrate src dst "$B"
check "the migration is in PRE_COPY" "never active" in_precopy src
qmp src system_reset > /dev/null
migration_ends src
echo "# reboot: $(mig_field "$MIG_RES" error-desc)"
check "QEMU aborts the migration" "status $st" test "$st" = failed
check "vfmig ended the migration at the reset (dmesg)" "no log line" \
	eval 'dmesg | sed -n "/VFMIG-MARK-reboot/,\$p" | grep -q "$A: vfmig: reset or close in PRE_COPY"'
vm_stop dst
check "the source VM keeps running after its reboot" "no progress" \
	still_running src

echo "# scenario: migrate_cancel during PRE_COPY"
slow_migrate src dst "$B"
check "the migration is in PRE_COPY" "never active" in_precopy src
qmp src migrate_cancel > /dev/null
migration_ends src
check "migrate_cancel in PRE_COPY: cancelled" "status $st" test "$st" = cancelled
check "vfmig: A is RUNNING again with no saving file open" \
	"$(vfmig_is "$A" RUNNING none)" vfmig_is "$A" RUNNING none
vm_stop dst
check "the source VM keeps running" "no progress" still_running src

echo "# scenario: migrate_cancel during STOP_COPY (paused before switchover)"
vm_start dst "$B" -incoming tcp:127.0.0.1:4444 && vm_incoming dst ||
	echo "# dst is not waiting for the migration: $(cat /tmp/dst.err)"
qmp src migrate-set-capabilities \
	'{"capabilities": [{"capability": "pause-before-switchover", "state": true}]}' > /dev/null
converging src
qmp src migrate '{"uri": "tcp:127.0.0.1:4444"}' > /dev/null
r=$(timeout 200 "$QMP" /tmp/src.qmp wait-status pre-switchover 180)
check "the source stops the VM before switchover" \
	"status $(mig_field "$r" status)" test "$(mig_field "$r" status)" = pre-switchover
check "vfmig: A is in STOP_COPY with its saving file open" \
	"$(vfmig_is "$A" STOP_COPY open)" vfmig_is "$A" STOP_COPY open
qmp src migrate_cancel > /dev/null
migration_ends src
check "migrate_cancel in STOP_COPY: cancelled" "status $st" test "$st" = cancelled
check "vfmig: A is RUNNING again, the saving file gone" \
	"$(vfmig_is "$A" RUNNING none)" vfmig_is "$A" RUNNING none
qmp src migrate-set-capabilities \
	'{"capabilities": [{"capability": "pause-before-switchover", "state": false}]}' > /dev/null
vm_stop dst
check "the source VM resumes and keeps running" "no progress" still_running src

echo "# scenario: the destination QEMU is killed mid-stream"
slow_migrate src dst "$B"
check "the migration is in PRE_COPY" "never active" in_precopy src
kill -9 "$(vm_pid dst)"
migration_ends src
echo "# killed: $(mig_field "$MIG_RES" error-desc)"
check "the source sees the migration fail" "status $st" test "$st" = failed
check "the source VM keeps running" "no progress" still_running src

echo "# scenario: a reset at the switchover"
# The VM is paused before switchover with A in STOP_COPY; a system_reset
# then resets the function under the open saving file. vfmig must end the
# session (RUNNING, file dead) and QEMU's save of the device must then
# fail, not send a torn state; the source runs on.
vm_start dst "$B" -incoming tcp:127.0.0.1:4444 && vm_incoming dst ||
	echo "# dst is not waiting for the migration: $(cat /tmp/dst.err)"
qmp src migrate-set-capabilities \
	'{"capabilities": [{"capability": "pause-before-switchover", "state": true}]}' > /dev/null
converging src
qmp src migrate '{"uri": "tcp:127.0.0.1:4444"}' > /dev/null
r=$(timeout 200 "$QMP" /tmp/src.qmp wait-status pre-switchover 180)
check "the source pauses before switchover, A in STOP_COPY" \
	"status $(mig_field "$r" status); $(vfmig_is "$A" STOP_COPY open)" \
	eval '[ "$(mig_field "$r" status)" = pre-switchover ] && vfmig_is "$A" STOP_COPY open'
r0=$(resets_of "$A")
dmesg_mark switchover
qmp src system_reset > /dev/null
qmp src migrate-continue '{"state": "pre-switchover"}' > /dev/null
migration_ends src
echo "# reset at switchover: status $st: $(mig_field "$MIG_RES" error-desc)"
check "the migration fails: the device state was lost to the reset" "status $st" \
	test "$st" = failed
check "vfmig: the reset ended the session in STOP_COPY (dmesg, status)" \
	"resets $r0 -> $(resets_of "$A"); $(vfmig_is "$A" RUNNING none)" \
	eval 'dmesg | sed -n "/VFMIG-MARK-switchover/,\$p" |
		grep -q "$A: vfmig: reset or close in STOP_COPY ends the migration" &&
	      [ "$(resets_of "$A")" -gt "$r0" ] && vfmig_is "$A" RUNNING none'
qmp src migrate-set-capabilities \
	'{"capabilities": [{"capability": "pause-before-switchover", "state": false}]}' > /dev/null 2>&1
vm_stop dst
check "the source VM keeps running" "no progress" still_running src

echo "# scenario: after all that, a migration succeeds"
converging src
check "a later migration A->B completes" "$(mig_field "$MIG_RES" error-desc)" \
	live_migrate src dst "$B"
check "the destination finds every page as the source left it" \
	"$(qmp dst query-status 2>&1 | tr '\n' ' ') $(grep -m 3 BAD /tmp/dst.console | tr '\n' ' ')" \
	guest_verified dst
vm_stop src
vm_stop dst

echo "# scenario: the destination receives corrupted device data"
vm_start src "$A"
wait_console src VFMIG-L2-CHECK 2 240
qmp src migrate-set-parameters '{"downtime-limit": 20000}' > /dev/null
qmp src migrate '{"uri": "file:/tmp/corrupt.mig"}' > /dev/null
migration_ends src
off=$(grep -obUaP 'VFMG' /tmp/corrupt.mig | head -n 1 | cut -d: -f1)
check "the saved VM holds a vfmig stream" "no VFMG magic" test -n "$off"
cp /tmp/corrupt.mig /tmp/noregs.mig
cp /tmp/corrupt.mig /tmp/hole.mig
# One byte in the first memory record's payload, inverted: it always
# changes, whatever it held.
byte=$(od -An -tu1 -j$((off + 4096)) -N1 /tmp/corrupt.mig | tr -d ' ')
printf "\\$(printf %03o $((byte ^ 0xff)))" |
	dd of=/tmp/corrupt.mig bs=1 seek=$((off + 4096)) conv=notrunc status=none
dmesg_mark corrupt
vm_start dst "$B" -incoming file:/tmp/corrupt.mig
for i in $(seq 60); do vm_pid dst > /dev/null || break; sleep 1; done
r=$(qmp dst query-status 2>/dev/null)
check "the destination refuses the load: QEMU exits or never runs" "$r" \
	eval '! vm_pid dst > /dev/null || [ "$(mig_field "$r" running)" != True ]'
check "vfmig says why (dmesg)" "no log line" \
	eval 'dmesg | sed -n "/VFMIG-MARK-corrupt/,\$p" | grep -q "$B: vfmig: resuming stream failed: .*CRC"'
sed 's/^/# dst: /' /tmp/dst.err | tail -n 3
vm_stop dst

# refused_at_end FILE WHY : load a saved VM whose device stream is valid
# record by record but lacks something. vfmig must refuse it at the write()
# that completes its END record, the first place it can tell, and say WHY;
# QEMU then fails the load: it exits, or never runs the guest. (Refused
# only at RESUMING -> STOP, as vfmig did before, QEMU 10.0 and 11.1 reset
# the function and ran the guest on without its device state: vm_state_notify
# has no error path.)
refused_at_end() {
	local log r ran=no
	dmesg_mark "$1"
	vm_start dst "$B" -incoming "file:/tmp/$1.mig"
	for _ in $(seq 60); do vm_pid dst > /dev/null || break; sleep 1; done
	r=$(qmp dst query-status 2>/dev/null)
	vm_pid dst > /dev/null && [ "$(mig_field "$r" running)" = True ] && ran=yes
	echo "# $1: QEMU $(vm_pid dst > /dev/null && echo "still runs ($(tr -d '\n' <<< "$r"))" || echo exited)"
	sed "s/^/# $1: dst: /" /tmp/dst.err | tail -n 2
	vm_stop dst
	log=$(dmesg | sed -n "/VFMIG-MARK-$1/,\$p")
	echo "$log" | grep "$B: vfmig:" | head -n 3 | sed "s/^/# $1: /"
	echo "$log" | grep -q "$B: vfmig: resuming stream failed: $2" && [ "$ran" = no ]
}
hidden=$(python3 /opt/vfmig/tests/guest/stream_retype.py /tmp/noregs.mig regs)
check "a stream without its register record ($hidden) is refused at END; QEMU fails the load" \
	"no such log line, or QEMU ran the guest anyway" \
	refused_at_end noregs "the stream carries no register record"
hidden=$(python3 /opt/vfmig/tests/guest/stream_retype.py /tmp/hole.mig mem-last)
check "a stream missing the BAR's last MiB ($hidden) is refused at END; QEMU fails the load" \
	"no such log line, or QEMU ran the guest anyway" \
	refused_at_end hole "the stream does not cover the whole memory BAR"
qmp src cont > /dev/null
check "the source VM resumes and keeps running" "no progress" still_running src
vm_stop src
rm -f /tmp/corrupt.mig /tmp/noregs.mig /tmp/hole.mig
keep_logs

unbind "$A" > /dev/null
unbind "$B" > /dev/null
modprobe -r "$VFMIG_MODULE"
check_dmesg_clean failures "the failure scenarios"
done_testing
