# SPDX-License-Identifier: GPL-2.0-only
# Suite "failures" (sourced by run-tests.sh): what QEMU and vfmig do when a
# live migration goes wrong. Each scenario checks its expected outcome; the
# source VM must keep running with its device memory intact, and a later
# migration must succeed.

mapfile -t devs < <(ivshmem_devices)
A=${devs[0]}
B=${devs[1]}
dmesg_mark failures
modprobe "$VFMIG_MODULE"
bind "$A" "$VFMIG_DRIVER" && bind "$B" "$VFMIG_DRIVER"

# slow_migrate SRC DST BDF [PORT] : a migration throttled to 4 MiB/s, so it
# stays in PRE_COPY for tens of seconds.
slow_migrate() {
	local port=${4:-4444}
	vm_start "$2" "$3" -incoming "tcp:127.0.0.1:$port"
	sleep 2
	qmp "$1" migrate-set-parameters \
		'{"max-bandwidth": 4194304, "downtime-limit": 20000}' > /dev/null
	qmp "$1" migrate "{\"uri\": \"tcp:127.0.0.1:$port\"}" > /dev/null
}

# migration_ends SRC : wait for the end; MIG_RES has the last reply.
migration_ends() {
	MIG_RES=$(timeout 200 "$QMP" "/tmp/$1.qmp" wait-migration 180)
	mig_field "$MIG_RES" status
}

# still_running NAME : the guest goes on writing and checking its device
# memory (three more rounds, none bad).
still_running() {
	local n
	n=$(console_count "$1" VFMIG-L2-CHECK)
	wait_console "$1" VFMIG-L2-CHECK $((n + 3)) 120 &&
		[ "$(console_count "$1" 'VFMIG-L2-BAD\|CHECK.*BAD')" -eq 0 ]
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
st=$(migration_ends src)
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
st=$(migration_ends src)
check "migrate_cancel in PRE_COPY: cancelled" "status $st" test "$st" = cancelled
vm_stop dst
check "the source VM keeps running" "no progress" still_running src

echo "# scenario: migrate_cancel during STOP_COPY (paused before switchover)"
vm_start dst "$B" -incoming tcp:127.0.0.1:4444
sleep 2
qmp src migrate-set-capabilities \
	'{"capabilities": [{"capability": "pause-before-switchover", "state": true}]}' > /dev/null
qmp src migrate-set-parameters '{"max-bandwidth": 134217728}' > /dev/null
qmp src migrate '{"uri": "tcp:127.0.0.1:4444"}' > /dev/null
r=$(timeout 200 "$QMP" /tmp/src.qmp wait-status pre-switchover 180)
check "the source stops the VM before switchover (device in STOP_COPY)" \
	"status $(mig_field "$r" status)" test "$(mig_field "$r" status)" = pre-switchover
qmp src migrate_cancel > /dev/null
st=$(migration_ends src)
check "migrate_cancel in STOP_COPY: cancelled" "status $st" test "$st" = cancelled
qmp src migrate-set-capabilities \
	'{"capabilities": [{"capability": "pause-before-switchover", "state": false}]}' > /dev/null
vm_stop dst
check "the source VM resumes and keeps running" "no progress" still_running src

echo "# scenario: the destination QEMU is killed mid-stream"
slow_migrate src dst "$B"
check "the migration is in PRE_COPY" "never active" in_precopy src
kill -9 "$(vm_pid dst)"
st=$(migration_ends src)
echo "# killed: $(mig_field "$MIG_RES" error-desc)"
check "the source sees the migration fail" "status $st" test "$st" = failed
check "the source VM keeps running" "no progress" still_running src

echo "# scenario: a reset races the switchover"
vm_start dst "$B" -incoming tcp:127.0.0.1:4444
sleep 2
qmp src migrate-set-capabilities \
	'{"capabilities": [{"capability": "pause-before-switchover", "state": true}]}' > /dev/null
qmp src migrate '{"uri": "tcp:127.0.0.1:4444"}' > /dev/null
timeout 200 "$QMP" /tmp/src.qmp wait-status pre-switchover 180 > /dev/null
qmp src system_reset > /dev/null
qmp src migrate-continue '{"state": "pre-switchover"}' > /dev/null
st=$(migration_ends src)
echo "# reset at switchover: status $st: $(mig_field "$MIG_RES" error-desc)"
check "no deadlock: the migration ends" "status $st" \
	test "$st" = failed -o "$st" = completed
qmp src migrate-set-capabilities \
	'{"capabilities": [{"capability": "pause-before-switchover", "state": false}]}' > /dev/null 2>&1
if [ "$st" = failed ]; then
	vm_stop dst
	check "the source VM keeps running" "no progress" still_running src
else
	vm_stop src
	check "the destination VM runs" "no progress" still_running dst
	vm_stop dst
	vm_start src "$A"
	wait_console src VFMIG-L2-CHECK 2 240
fi

echo "# scenario: after all that, a migration succeeds"
qmp src migrate-set-parameters '{"max-bandwidth": 134217728}' > /dev/null
check "a later migration A->B completes" "$(mig_field "$MIG_RES" error-desc)" \
	live_migrate src dst "$B"
check "the destination finds every page as the source left it" "bad pages" \
	guest_verified dst
vm_stop src
vm_stop dst

echo "# scenario: the destination receives corrupted device data"
vm_start src "$A"
wait_console src VFMIG-L2-CHECK 2 240
qmp src migrate-set-parameters '{"downtime-limit": 20000}' > /dev/null
qmp src migrate '{"uri": "file:/tmp/corrupt.mig"}' > /dev/null
st=$(migration_ends src)
off=$(grep -obUaP 'VFMG' /tmp/corrupt.mig | head -n 1 | cut -d: -f1)
check "the saved VM holds a vfmig stream" "no VFMG magic" test -n "$off"
# One byte in the first memory record's payload.
printf '\xff' | dd of=/tmp/corrupt.mig bs=1 seek=$((off + 4096)) conv=notrunc status=none
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
qmp src cont > /dev/null
check "the source VM resumes and keeps running" "no progress" still_running src
vm_stop src
rm -f /tmp/corrupt.mig
keep_logs

unbind "$A" > /dev/null
unbind "$B" > /dev/null
modprobe -r "$VFMIG_MODULE"
bad=$(dmesg_bad_since failures)
check "no WARN, BUG or oops in dmesg during the failure scenarios" \
	"$(echo "$bad" | head -n 3 | tr '\n' ' ')" test -z "$bad"
