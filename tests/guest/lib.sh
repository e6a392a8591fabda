# SPDX-License-Identifier: GPL-2.0-only
# Helpers of the guest tests (sourced): TAP output and device binding.

VFMIG_BIN=/opt/vfmig/bin
VFMIG_DRIVER=vfmig_vfio_pci
VFMIG_MODULE=vfmig-vfio-pci
TAP_N=0
TAP_FAILED=0
TAP_PLAN=

# Every suite runs as its own process (run-tests.sh) and declares its plan
# before its first result, so the host can tell a suite that stopped early
# (a syntax error, an exit, a crash) from one that ran everything.
# plan N : the suite will print N results.
plan() {
	TAP_PLAN=$1
	echo "1..$1"
}

# done_testing : the last line of every suite; the exit status says
# whether every result passed and the plan was kept.
done_testing() {
	if [ "$TAP_N" != "$TAP_PLAN" ]; then
		echo "# planned ${TAP_PLAN:-nothing}, ran $TAP_N"
		exit 1
	fi
	[ "$TAP_FAILED" -eq 0 ]
	exit
}

ok() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1"
}

not_ok() {
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $1 # $2"
}

# skip NAME WHY : a result that was not checked on this path.
skip() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1 # SKIP $2"
}

# check NAME WHY CMD... : one TAP line from a command's exit status.
check() {
	# The command runs in this scope: no local here may shadow a caller's
	# variable that an eval'd command reads, so the arguments stay put.
	if "${@:3}"; then
		ok "$1"
	else
		not_ok "$1" "$2"
		return 1
	fi
}

# run_tap NAME CMD... : run a C test program (kselftest harness, TAP with
# its own plan) as a nested subtest: its lines go out indented one level,
# and it counts as one result here, which fails when the program exits
# non-zero or dies on a signal. The host checks its plan against what it
# ran (tests/harness/tapcheck.py), so a program cut short is a failure
# even when everything it printed passed.
run_tap() {
	local name=$1 rc
	shift
	echo "    # Subtest: $name"
	"$@" 2>&1 | sed -u 's/^/    /'
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 0 ]; then
		ok "$name"
	elif [ "$rc" -gt 128 ]; then
		not_ok "$name" "killed by signal $((rc - 128))"
	else
		not_ok "$name" "exit status $rc"
	fi
}

# The test VM's 1af4:1110 functions (tests/rig/boot.sh): A and B, two
# ivshmem-plain each behind its own root port; R, an ivshmem-plain on the
# root bus (no PCI reset method); D, an ivshmem-doorbell (MSI-X in BAR1).
ivshmem_all() {
	local d
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ] &&
			basename "$d"
	done
}

# The ivshmem-plain functions behind root ports, in bus order: the first
# is the migration source (A), the second the destination (B).
ivshmem_devices() {
	local bdf
	for bdf in $(ivshmem_all); do
		case $bdf in ????:00:*) continue ;; esac
		[ -e "/sys/bus/pci/devices/$bdf/resource1" ] && continue
		echo "$bdf"
	done
}

# vfmig_dir BDF : the function's vfmig debugfs directory: inside vfio's
# own per-device directory on a kernel with CONFIG_VFIO_DEBUGFS (the rig's
# debug kernel), vfmig's own otherwise (Debian's). Debugfs must be mounted.
vfmig_dir() {
	local d=/sys/kernel/debug/vfio/$1/migration/vfmig
	[ -d "$d" ] || d=/sys/kernel/debug/vfmig/$1
	echo "$d"
}

# R: the ivshmem-plain on the root bus.
ivshmem_root_bus_device() {
	ivshmem_all | grep -E '^[0-9a-f]{4}:00:' | while read -r bdf; do
		[ "$(stat -c %s "/sys/bus/pci/devices/$bdf/resource2")" != 4096 ] &&
			echo "$bdf"
	done | head -n 1
}

# F and G: the 4 KiB ivshmem-plain functions on the root bus, for the
# fuzzer and the allocation-failure sweep (every attempt saves or loads
# one; their reset is vfmig's own, with no PCI reset's delays).
ivshmem_small_devices() {
	ivshmem_all | grep -E '^[0-9a-f]{4}:00:' | while read -r bdf; do
		[ "$(stat -c %s "/sys/bus/pci/devices/$bdf/resource2")" = 4096 ] &&
			echo "$bdf"
	done
}

# F: the first of them.
ivshmem_small_device() {
	ivshmem_small_devices | head -n 1
}

# D: the ivshmem-doorbell.
ivshmem_doorbell_device() {
	local bdf
	for bdf in $(ivshmem_all); do
		[ -e "/sys/bus/pci/devices/$bdf/resource1" ] && echo "$bdf"
	done | head -n 1
}

# The nested guests' kernel: Debian's, even when the test VM runs one of
# the rig's kernels (vfmig runs in L1; the debug kernel's checks would only
# slow the L2 down).
# The rig can put another one at /opt/vfmig/l2-vmlinuz (VFMIG_L2_KERNEL on
# the host, tests/rig/boot.sh): sid's 7.2 panics early as a nested guest
# on the host's emulated SVM (Documentation/kernels.rst), so a 7.2 test VM
# runs trixie's 6.12 in its nested guests.
l2_kernel() {
	if [ -f /opt/vfmig/l2-vmlinuz ]; then
		echo /opt/vfmig/l2-vmlinuz
		return
	fi
	ls /boot/vmlinuz-* | grep -vF '~vfmig-' | sort -V | tail -n 1
}

# bind BDF DRIVER : driver_override, then ask the bus to probe it.
bind() {
	local bdf=$1 drv=$2 d=/sys/bus/pci/devices/$1
	[ -e "$d/driver" ] && echo "$bdf" > "$d/driver/unbind"
	echo "$drv" > "$d/driver_override" &&
		echo "$bdf" > /sys/bus/pci/drivers_probe &&
		[ "$(basename "$(readlink "$d/driver")")" = "$drv" ]
}

unbind() {
	local d=/sys/bus/pci/devices/$1
	[ -e "$d/driver" ] && echo "$1" > "$d/driver/unbind"
	echo > "$d/driver_override"
	[ ! -e "$d/driver" ]
}

group_of() {
	basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"
}

# Kernel complaints since a mark left with dmesg_mark.
# hang_report PROG SECS : if PROG still runs after SECS, put the kernel
# stacks of its threads and of every blocked task on the console (the rig
# keeps it), since a task stuck in the kernel cannot be killed.
hang_report() {
	local pid t
	# Never hold the suite's output open (tee waits for every writer).
	exec > /dev/null 2> /dev/null
	sleep "$2"
	pid=$(pgrep -x "$1") || return 0
	{
		echo "VFMIG-HANG: $1 (pid $pid) still runs after $2 s; its threads:"
		for t in /proc/"$pid"/task/*; do
			echo "VFMIG-HANG: task ${t##*/} state $(awk '{print $3}' "$t/stat") wchan $(cat "$t/wchan")"
			sed 's/^/VFMIG-HANG:   /' "$t/stack"
		done
	} > /dev/console 2>&1
	echo w > /proc/sysrq-trigger
}

# status_field BDF FIELD : one field of vfmig's debugfs status of BDF
# (drivers/vfio/pci/vfmig/debugfs.c), e.g. "bytes_saved".
status_field() { sed -n "s/^$2: //p" "$(vfmig_dir "$1")/status"; }

# dma_reports BDF : how many DMA-logging reports vfmig has answered on BDF.
dma_reports() { status_field "$1" dma_logging | sed -n 's/.*, \([0-9]*\) reports$/\1/p'; }

dmesg_mark() {
	echo "VFMIG-MARK-$1" > /dev/kmsg
}

# check_dmesg_clean MARK [DURING] : the check that the kernel logged no
# WARN, BUG or oops since dmesg_mark MARK (dmesg_bad_since's reading),
# named "... during DURING"; the first lines of what it found are the
# reason.
# A mark the log no longer holds (overwritten, or never written) would
# make the reading vacuous: that fails too.
check_dmesg_clean() {
	local bad
	# Not "dmesg | grep -q": under pipefail dmesg's SIGPIPE would read as
	# a lost mark.
	if grep -q "VFMIG-MARK-$1\$" < <(dmesg); then
		bad=$(dmesg_bad_since "$1")
	else
		bad="no VFMIG-MARK-$1 in the kernel log: nothing to read from"
	fi
	check "no WARN, BUG or oops in dmesg${2:+ during $2}" \
		"$(echo "$bad" | head -n 3 | tr '\n' ' ')" test -z "$bad"
}

# dmesg_bad_since MARK : the reports in the kernel log since MARK (the
# whole mark: "qemu" is not "qemu-defaults"); nothing if the mark is gone. Two
# echoes of a failure fault injection forced just before are no report
# (the same rules as tests/harness/tapcheck.py): the stack an allocation
# failure prints (warn_alloc), and the known upstream WARNING in
# vfio_create_group()'s error path (Documentation/hardening.md).
dmesg_bad_since() {
	dmesg | sed -n "/VFMIG-MARK-$1\$/,\$p" |
		awk 'held != "" {
			held = held "\n" $0
			if (/---\[ end trace/) {
				if (held !~ /vfio_create_group\+/)
					print held
				held = ""
			}
			next
		     }
		     /FAULT_INJECTION: forcing a failure/ { fi = NR }
		     /page allocation failure: order:|vmalloc error: size/ {
			if (fi && NR - fi <= 10) wa = NR }
		     /Call Trace:/ && wa && NR - wa <= 5 { next }
		     /WARNING: .* at drivers\/vfio\/group\.c:[0-9]+ vfio_group_release/ &&
			fi && NR - fi <= 10 { held = $0; next }
		     { print }
		     END { if (held != "") print held }' |
		grep -E 'WARNING:|BUG:|Oops|general protection|Call Trace|list_del corruption|refcount_t:|kernel BUG|UBSAN|KASAN|lockdep|possible circular|INFO: task'
}

# l2_run BDF LOG [QEMU ARGS...] : boot the nested guest with BDF attached
# through vfio-pci until its init powers off. Uses nested KVM when the
# test VM offers it (-cpu max gives SVM), TCG otherwise. Sets L2_ACCEL and
# L2_SECS; succeeds when the L2 init reported it was done. Under KVM the
# guest gets -cpu host, or VFMIG_L2_CPU (to narrow a nested-virtualization
# fault down to a CPU feature).
l2_run() {
	local bdf=$1 log=$2 t0 limit=300
	shift 2
	L2_ACCEL=tcg
	local cpu=max
	if [ -c /dev/kvm ]; then
		L2_ACCEL=kvm
		cpu=${VFMIG_L2_CPU:-host}
	else
		limit=600
	fi
	t0=$(date +%s)
	timeout "$limit" qemu-system-x86_64 -M q35 -accel "$L2_ACCEL" -cpu "$cpu" \
		-m 128M -smp 1 -nodefaults -display none -serial stdio -no-reboot \
		-kernel "$(l2_kernel)" -initrd /opt/vfmig/l2.cpio.gz \
		-append "console=ttyS0 panic=-1 quiet" \
		-device "vfio-pci,host=$bdf" "$@" > "$log" 2>&1
	L2_SECS=$(($(date +%s) - t0))
	grep -q VFMIG-L2-DONE "$log"
}

# ---- nested VMs that run the migration workload (suite-qemu.sh) ----

QMP=/opt/vfmig/tests/guest/qmp.py

# vm_start NAME BDF [QEMU ARGS...] : start a daemonized L2 VM with BDF
# attached for migration, running tests/guest/l2/ivshmem_workload.c.
# QMP at /tmp/NAME.qmp, console in /tmp/NAME.console. Sets VM_ACCEL.
# BDF "-": no device, an idle L2. VM_VFIO_OPTS replaces the vfio-pci
# options after host= (default ",enable-migration=on"); VM_APPEND adds to
# the L2 kernel's command line (vfmig.pace_ms=N). VM_BACKGROUND=1: not
# daemonized but started in the background, for a QEMU that blocks before
# it would daemonize (the new QEMU of a cpr-transfer reads its CPR state
# first); its pid file is then written here.
vm_start() {
	local name=$1 bdf=$2 cpu=max
	local -a dev=(-device "vfio-pci,host=$bdf${VM_VFIO_OPTS-,enable-migration=on},id=ivshmem")
	local append="vfmig.workload=1 ${VM_APPEND:-}"
	shift 2
	# BDF "-": no device, an idle guest (the baseline of a comparison), or
	# with VM_APPEND (vfmig.ram=N) the workload writing its own RAM.
	[ "$bdf" = - ] && dev=() append="vfmig.idle"
	[ "$bdf" = - ] && [ -n "${VM_APPEND:-}" ] && append="vfmig.workload=1 $VM_APPEND"
	VM_ACCEL=tcg
	[ -c /dev/kvm ] && VM_ACCEL=kvm cpu=${VFMIG_L2_CPU:-host}
	rm -f "/tmp/$name.qmp" "/tmp/$name.console" "/tmp/$name.pid"
	local -a cmd=(qemu-system-x86_64 -M q35 -accel "$VM_ACCEL" -cpu "$cpu"
		-m 128M -smp 1 -nodefaults -display none -name "$name"
		-kernel "$(l2_kernel)" -initrd /opt/vfmig/l2.cpio.gz
		-append "console=ttyS0 quiet panic=-1 $append"
		"${dev[@]}"
		-serial "file:/tmp/$name.console"
		-qmp "unix:/tmp/$name.qmp,server=on,wait=off")
	if [ -n "${VM_BACKGROUND:-}" ]; then
		"${cmd[@]}" "$@" < /dev/null > /dev/null 2> "/tmp/$name.err" &
		echo $! > "/tmp/$name.pid"
		return 0
	fi
	"${cmd[@]}" -daemonize -pidfile "/tmp/$name.pid" "$@" 2> "/tmp/$name.err"
}

# vm_incoming NAME : the VM is up and waiting for an incoming migration.
# QEMU's -daemonize returns once the VM is set up (QMP and the incoming
# socket listening), so this asks once, and waits only for a QMP answer.
vm_incoming() {
	[ "$(mig_field "$(qmp "$1" query-status 2>/dev/null)" status)" = inmigrate ]
}

# vm_pid NAME : the VM's QEMU pid, if it runs.
vm_pid() {
	local pid
	pid=$(cat "/tmp/$1.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# vm_stop NAME : quit the VM, and kill it if it does not go.
vm_stop() {
	local pid i
	pid=$(vm_pid "$1") || return 0
	timeout 10 "$QMP" "/tmp/$1.qmp" quit > /dev/null 2>&1
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	kill -9 "$pid" 2>/dev/null
	sleep 0.5
}

# console_count NAME PATTERN : matching console lines so far.
console_count() {
	grep -c -- "$2" "/tmp/$1.console" 2>/dev/null || true
}

# wait_console NAME PATTERN COUNT SECONDS : until COUNT lines match.
wait_console() {
	local t=0
	while [ "$(console_count "$1" "$2")" -lt "$3" ]; do
		[ "$t" -ge "$4" ] && return 1
		vm_pid "$1" > /dev/null || return 1
		sleep 1
		t=$((t + 1))
	done
}

# qmp NAME COMMAND [JSON] : one QMP command; prints the return value.
qmp() {
	timeout 30 "$QMP" "/tmp/$1.qmp" "${@:2}"
}

# mig_field JSON KEY.PATH : a number from a query-migrate reply.
mig_field() {
	python3 -c 'import json,sys
try:
    v = json.loads(sys.argv[1])
except ValueError:
    v = {}
for k in sys.argv[2].split("."):
    v = v.get(k, {}) if isinstance(v, dict) else {}
print(v if v != {} else "?")' "$1" "$2"
}

# live_migrate SRC DST BDF : start VM DST on BDF waiting on TCP, migrate VM
# SRC into it; query-migrate's final reply in MIG_RES. Succeeds when QEMU
# says completed. MIG_DEFAULTS=1: with QEMU's default parameters.
# MIG_WAIT: seconds to wait for the end (300).
live_migrate() {
	vm_start "$2" "$3" -incoming tcp:127.0.0.1:4444 && vm_incoming "$2" || return 1
	# Without DMA logging (Debian's kernels lack IOMMUFD) QEMU counts all
	# guest RAM as dirty at every sync; at the few tens of MB/s of nested
	# TCG its 300 ms default would never be met. The device's own share
	# is now only what the guest wrote since the last round (dirty.c).
	# The real downtime is reported.
	[ -n "${MIG_DEFAULTS:-}" ] ||
		qmp "$1" migrate-set-parameters '{"downtime-limit": 20000}' > /dev/null
	qmp "$1" migrate '{"uri": "tcp:127.0.0.1:4444"}' > /dev/null
	MIG_RES=$(timeout $((${MIG_WAIT:-300} + 20)) "$QMP" "/tmp/$1.qmp" wait-migration "${MIG_WAIT:-300}")
	# At its deadline wait-migration prints QEMU's last reply ("active"
	# for a migration that never converged). If it printed nothing (its
	# timeout killed it, or QMP failed), ask QEMU once more.
	[ "$(mig_field "$MIG_RES" status)" != "?" ] ||
		MIG_RES=$(qmp "$1" query-migrate 2>/dev/null)
	[ "$(mig_field "$MIG_RES" status)" = completed ]
}

# guest_verified NAME : the nested guest checked every page twice over on
# this side and never found one that did not hold what it last wrote.
guest_verified() {
	wait_console "$1" "VFMIG-L2-CHECK" 3 180 &&
		[ "$(console_count "$1" "VFMIG-L2-BAD\|CHECK.*BAD")" -eq 0 ]
}

# keep_logs : the nested VMs' consoles and QEMU's error output, into the
# results the host keeps.
keep_logs() {
	mkdir -p /results/qemu
	cp /tmp/*.console /tmp/*.err /results/qemu/ 2>/dev/null
}
