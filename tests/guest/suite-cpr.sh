# SPDX-License-Identifier: GPL-2.0-only
# Suite "cpr" (run by run-tests.sh, in a process of its own): QEMU's
# cpr-transfer of a nested guest that holds a vfmig function and keeps
# writing a verifiable pattern into its memory (tests/guest/l2/
# ivshmem_workload.c). In cpr-transfer the new QEMU takes over the old
# one's open descriptors (the VFIO container, group and device, the guest
# RAM's memfd) instead of moving state, so vfmig must see nothing: no
# reset, no arc of the state machine, no data file, the function RUNNING
# throughout, and the guest finds its pattern intact on the other side.
# vfmig's debugfs status counts all four (arcs since the bind, resets,
# bytes saved and loaded).
#
# With enable-migration=off: QEMU then registers no migration handlers for
# the function, and cpr-transfer leaves it alone. VFMIG_CPR_VARIANTS
# (comma-separated values of enable-migration, default "off") tries
# others: with "on", or "auto" where QEMU finds no dirty tracking, QEMU
# 11.1 keeps its vfio migration handlers in a CPR mode, the source stops
# the function and the transfer never completes (Documentation/qemu.rst,
# "CPR"). VFMIG_CPR_WAIT: seconds to wait for the transfer (300). QEMU's
# vfio migration trace events go to /tmp/cpr-{src,dst}-VARIANT.trace (a
# daemonized QEMU has no stderr), kept with the results.
#
# Needs QEMU 10.1 or later in the test VM (cpr-transfer of VFIO devices
# came with 10.1; trixie has 10.0): the 7.2 rig of Documentation/
# kernels.rst, with trixie's kernel as the nested guests' (VFMIG_L2_KERNEL).
# It skips elsewhere.
. /opt/vfmig/tests/guest/lib.sh
IFS=, read -ra variants <<< "${VFMIG_CPR_VARIANTS:-off}"
wait=${VFMIG_CPR_WAIT:-300}
per=7
plan $((2 + per * ${#variants[@]}))

mapfile -t devs < <(ivshmem_devices)
A=${devs[0]}
ver=$(qemu-system-x86_64 -version | sed -n 's/^QEMU emulator version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
read -r major minor <<< "$ver"
if [ -z "$ver" ] || [ "$major" -lt 10 ] || { [ "$major" -eq 10 ] && [ "$minor" -lt 1 ]; } ||
	[ ! -c /dev/kvm ]; then
	why="needs QEMU >= 10.1 (this is ${major:-?}.${minor:-?}) and nested KVM: the 7.2 rig, Documentation/kernels.rst"
	for i in $(seq $((2 + per * ${#variants[@]}))); do
		skip "cpr part $i" "$why"
	done
	exit 0
fi
echo "# $(qemu-system-x86_64 -version | head -n 1), L2 kernel $(l2_kernel)"
dmesg_mark cpr
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
modprobe "$VFMIG_MODULE"
check "function A bound for the CPR suite" "bind failed" bind "$A" "$VFMIG_DRIVER"

# counters : what vfmig saw of A, one line (compared before and after).
counters() {
	echo "state=$(status_field "$A" state) arcs=$(status_field "$A" arcs)" \
		"resets=$(status_field "$A" resets) saved=$(status_field "$A" bytes_saved)" \
		"loaded=$(status_field "$A" bytes_loaded) saving_file=$(status_field "$A" saving_file)"
}

# field NAME LINE : one value of a counters line.
field() { sed -n "s/.*\<$1=\([^ ]*\).*/\1/p" <<< "$2"; }

# same NAME... : each counter was read (a status file that cannot be read
# must not pass as "unchanged") and is the same before and after.
same() {
	local f a
	for f; do
		a=$(field "$f" "$before")
		[ -n "$a" ] && [ "$a" = "$(field "$f" "$after")" ] || return 1
	done
}

# The guest's RAM must be shared memory the new QEMU can map again, the
# implicit RAM (ROMs) included.
ram=(-object "memory-backend-memfd,id=ram0,size=128M,share=on"
     -machine "memory-backend=ram0,aux-ram-share=on"
     -trace 'vfio_migration_*' -trace 'vfio_save_*' -trace 'vfio_load_*'
     -trace 'vfio_vmstate_change*' -trace 'vfio_cpr_*' -trace vfio_pci_reset)
main='{"channel-type":"main","addr":{"transport":"socket","type":"unix","path":"/tmp/cpr-main.sock"}}'
cprch='{"channel-type":"cpr","addr":{"transport":"socket","type":"unix","path":"/tmp/cpr.sock"}}'

for v in "${variants[@]}"; do
	rm -f /tmp/cpr-main.sock /tmp/cpr.sock
	VM_VFIO_OPTS=",enable-migration=$v" vm_start cpr-src "$A" "${ram[@]}" \
		-D "/tmp/cpr-src-$v.trace"
	if ! wait_console cpr-src "VFMIG-L2-CHECK" 2 240; then
		echo "# cpr-src: $(tail -n 3 /tmp/cpr-src.console /tmp/cpr-src.err 2>/dev/null | tr '\n' ' ')"
	fi
	before=$(counters)
	echo "# enable-migration=$v, before: $before"
	# The new QEMU waits on the CPR socket before anything else.
	VM_BACKGROUND=1 VM_VFIO_OPTS=",enable-migration=$v" vm_start cpr-dst "$A" "${ram[@]}" \
		-D "/tmp/cpr-dst-$v.trace" -incoming unix:/tmp/cpr-main.sock -incoming "$cprch"
	for _ in $(seq 60); do
		[ -S /tmp/cpr.sock ] && break
		sleep 1
	done
	qmp cpr-src migrate-set-parameters '{"mode": "cpr-transfer"}' > /dev/null
	qmp cpr-src migrate "{\"channels\": [$main, $cprch]}" > /dev/null
	res=$(timeout $((wait + 20)) "$QMP" /tmp/cpr-src.qmp wait-migration "$wait")
	echo "# enable-migration=$v: status $(mig_field "$res" status), total $(mig_field "$res" total-time) ms," \
		"downtime $(mig_field "$res" downtime) ms, vfio $(mig_field "$res" vfio.transferred) B"
	[ "$(mig_field "$res" error-desc)" = "?" ] ||
		echo "# enable-migration=$v: error: $(mig_field "$res" error-desc)"
	if ! check "enable-migration=$v: cpr-transfer completes" "$(mig_field "$res" status)" \
		test "$(mig_field "$res" status)" = completed; then
		sed 's/^/# cpr-src: /' /tmp/cpr-src.err | tail -n 5
		sed 's/^/# cpr-dst: /' /tmp/cpr-dst.err | tail -n 5
	fi
	# The old QEMU goes: its descriptors close, the new one's stay open.
	vm_stop cpr-src
	check "enable-migration=$v: the new QEMU's guest finds every page as it left it" \
		"$(grep -m 3 'BAD' /tmp/cpr-dst.console | tr '\n' ' ')" guest_verified cpr-dst
	after=$(counters)
	echo "# enable-migration=$v, after: $after"
	check "enable-migration=$v: no reset of the function" "$before -> $after" \
		same resets
	check "enable-migration=$v: no arc of vfmig's state machine" "$before -> $after" \
		same arcs
	check "enable-migration=$v: no data file, no byte saved or loaded" "$before -> $after" \
		eval 'same saved loaded && [ "$(field saving_file "$after")" = none ]'
	check "enable-migration=$v: the function stays RUNNING" "$after" \
		test "$(field state "$after")" = RUNNING
	check "enable-migration=$v: the new QEMU's guest keeps running" "no progress" \
		wait_console cpr-dst "VFMIG-L2-CHECK" 6 120
	cp /tmp/cpr-src.console "/tmp/cpr-src-$v.console" 2>/dev/null
	cp /tmp/cpr-dst.console "/tmp/cpr-dst-$v.console" 2>/dev/null
	cp /tmp/cpr-src.err "/tmp/cpr-src-$v.err" 2>/dev/null
	cp /tmp/cpr-dst.err "/tmp/cpr-dst-$v.err" 2>/dev/null
	vm_stop cpr-dst
done
keep_logs
cp /tmp/cpr-*.trace /results/qemu/ 2>/dev/null

unbind "$A" > /dev/null
modprobe -r "$VFMIG_MODULE"
check_dmesg_clean cpr "the CPR suite"
done_testing
