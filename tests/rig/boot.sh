#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Boot the test VM once and run guest suites in it.
# Usage: boot.sh SUITE...     (suites as in tests/guest/run-tests.sh)
#
# The VM: q35 with an emulated Intel IOMMU, the Debian tree as its root over
# 9p, and two ivshmem-plain functions, each alone behind its own PCIe root
# port (A: the source of migrations, B: the destination), and QEMU's "edu"
# function, which vfmig has no backend for (to test that it refuses it).
# Two more 1af4:1110 functions that vfmig must handle as a fleet would
# meet them: R, an ivshmem-plain on the root bus, which has no PCI reset
# method (ERROR must still be left), and D, an ivshmem-doorbell fed by
# tests/rig/ivshmem_server.py, which vfmig must refuse at bind; and F and
# G, 4 KiB ivshmem-plain functions on the root bus for the fuzzer (one
# process each, one per vCPU) and the allocation-failure sweep (small:
# every attempt saves or loads one). Results come back
# through a second 9p share, the serial console goes to a file.
#
# A boot that never reached the test init (the multi-threaded TCG "Oops:
# int3" flake, see shared notes) is retried up to VFMIG_BOOT_TRIES times and
# reported; a VM that reached the tests is never retried: if it then dies,
# that is a "test VM crashed" verdict, not a test result.
#
# Prints the guest's results as flat TAP lines (tests/harness/tapcheck.py:
# plans kept, programs and suites that ended, a clean kernel log), then one of:
#   # PREFIX: reached the tests on try N, VM ran Ms
#   not ok - PREFIX: test VM ... # verdict
# where PREFIX is vm, vm-debug, vm-iommufd or VFMIG_VM_NAME.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

tree=$(tree_dir)
kver=$(guest_kver "$tree")
initrd=$(bash "$(dirname "$0")/mkinitramfs.sh") || die "initramfs build failed"
# Copied only when it changed: a second debug VM may be running from this
# tree (tests/run-all.sh), and its nested guest may be reading the file.
cmp -s "$initrd/l2.cpio.gz" "$tree/opt/vfmig/l2.cpio.gz" ||
	cp "$initrd/l2.cpio.gz" "$tree/opt/vfmig/l2.cpio.gz"
# The nested guests' kernel, when not the tree's own: VFMIG_L2_KERNEL, a
# path on the host (tests/guest/lib.sh, l2_kernel). The 7.2 rig needs it:
# sid's kernel panics 2.6 s into its boot as a nested guest here
# (Documentation/kernels.rst), trixie's boots.
if [ -n "${VFMIG_L2_KERNEL:-}" ]; then
	[ -f "$VFMIG_L2_KERNEL" ] || die "VFMIG_L2_KERNEL: no file $VFMIG_L2_KERNEL"
	cmp -s "$VFMIG_L2_KERNEL" "$tree/opt/vfmig/l2-vmlinuz" ||
		cp "$VFMIG_L2_KERNEL" "$tree/opt/vfmig/l2-vmlinuz"
else
	rm -f "$tree/opt/vfmig/l2-vmlinuz"
fi

ivsize=${VFMIG_IVSHMEM_SIZE:-16M}
mem=${VFMIG_VM_MEM:-4G}
# One vCPU: the "Oops: int3" crash is kernel text patching racing across
# vCPUs under multi-threaded TCG, and it struck our QEMU suite mid-run as it
# started nested KVM guests; with one vCPU there is no other vCPU to race.
#
# The debug kernel (VFMIG_KERNEL=debug) runs with two vCPUs: the races its
# lock and memory checkers look for need real parallelism. It is built
# without jump labels or ftrace, so flipping a static key patches no text
# (tests/rig/kernel-rig.config); its crash rate is in Documentation/hardening.md.
# Its checks make it slower: a longer time limit.
# The ring holds 16 MiB: the fuzz and hardening suites log a line or two
# per refused stream or injected failure (the CI fuzz VM of 2026-12-07
# logged 5.5 MB for 80,000 attempts), and their in-guest dmesg checks read
# from a mark that must still be in the ring (check_dmesg_clean fails when
# it is gone); the host's capture of the whole log is read as well.
#
# The soft-lockup and RCU-stall thresholds sit above the time the stall
# watch below takes to wake a vCPU that QEMU's TCG left halted with its
# timer pending (the lost wakeup of Documentation/testing.md: 30 s of
# silence, then three looks 10 s apart, a key press, then an NMI): woken
# after 64 s in ci30 (2026-12-07), the stock VM's idle CPU reported "soft
# lockup - CPU#0 stuck for 64s! [swapper/0:0]" in pv_native_safe_halt,
# which is the emulator's stall, not the kernel's. A lockup of the kernel's
# own (a CPU spinning with preemption off) lasts, and is still reported
# after 120 s (2 x watchdog_thresh); a hang ends as a stall at 300 s.
append="console=ttyS0 intel_iommu=on panic=-1 quiet loglevel=4 log_buf_len=16M"
append+=" watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=120"
if [ "${VFMIG_KERNEL:-stock}" = debug ]; then
	smp=${VFMIG_VM_SMP:-2}
	limit=${VFMIG_VM_TIMEOUT:-3600}
	append+=" kasan_multi_shot"
	# Its own logs, beside those of a stock run. VFMIG_VM_NAME names a
	# second debug VM that runs at the same time (its results are
	# prefixed with it, its sockets and logs are its own).
	prefix=${VFMIG_VM_NAME:-vm-debug}
	VFMIG_OUT=$VFMIG_OUT/$prefix
	mkdir -p "$VFMIG_OUT"
else
	prefix=vm
	# The IOMMUFD kernel (VFMIG_KERNEL=iommufd) runs as Debian's does (one
	# vCPU, nested guests), with its own logs.
	if [ "${VFMIG_KERNEL:-stock}" = iommufd ]; then
		prefix=${VFMIG_VM_NAME:-vm-iommufd}
		VFMIG_OUT=$VFMIG_OUT/$prefix
		mkdir -p "$VFMIG_OUT"
	fi
	smp=${VFMIG_VM_SMP:-1}
	limit=${VFMIG_VM_TIMEOUT:-1500}
fi
tries=${VFMIG_BOOT_TRIES:-3}
stall=${VFMIG_STALL:-300}
# Multi-threaded TCG for the stock runs. Single-threaded TCG avoids the
# "Oops: int3" boot flake (shared notes) but a nested KVM guest then makes
# almost no progress (an L2 boot did not finish in 200 s, against 13 s
# multi-threaded), so the stock runs (one vCPU, the nested QEMU suites)
# keep MTTCG and retry boots that never reached the tests.
# The debug runs (two vCPUs, no nested guests but the passthrough suite's,
# which skips there) use single-threaded TCG: under MTTCG with two vCPUs,
# QEMU 7.2 and 10.0 alike lose local-APIC state under the reset churn (a
# vCPU idles with the timer vector in service and never takes another
# interrupt; Documentation/hardening.md, "The churn freeze"). One thread
# runs both vCPUs in turn, so the guest still runs two CPUs' worth of
# interleavings but no two vCPUs touch the emulator at once.
# /dev/kvm opens on these machines yet cannot run a stock kernel: KVM only
# when asked for (VFMIG_ACCEL=kvm) on a host where it works.
if [ "${VFMIG_KERNEL:-stock}" = debug ]; then
	accel=${VFMIG_ACCEL:-tcg,thread=single}
else
	accel=${VFMIG_ACCEL:-tcg}
fi
case $accel in
*thread=single*) tcg_threads=single ;;
*) tcg_threads=multi ;;
esac
cpu=${VFMIG_VM_CPU:-max}
# The emulator of the test VM. The host's own (Debian 12: QEMU 7.2) crashed
# with SIGSEGV, at one address twice, under the memory-map churn of the
# debug runs' two vCPUs (BAR decoding toggled by resets and loads; QEMU
# 8.1 reworked how such changes reach the other vCPUs' TLBs). The debug
# runs use the tree's QEMU 10 instead, run from the tree with its own
# loader and libraries (Documentation/hardening.md); VFMIG_L1_QEMU=host or
# =tree chooses.
l1=${VFMIG_L1_QEMU:-$([ "${VFMIG_KERNEL:-stock}" = debug ] && echo tree || echo host)}
if [ "$l1" = tree ]; then
	qemu=("$tree/lib64/ld-linux-x86-64.so.2" --library-path
	      "$tree/usr/lib/x86_64-linux-gnu:$tree/lib/x86_64-linux-gnu"
	      "$tree/usr/bin/qemu-system-x86_64" -L "$tree/usr/share/qemu"
	      -L "$tree/usr/share/seabios")
	export QEMU_MODULE_DIR=$tree/usr/lib/x86_64-linux-gnu/qemu
else
	qemu=(qemu-system-x86_64)
fi

res=$VFMIG_OUT/results
console=$VFMIG_OUT/console.log

# stall_watch PID : the guest prints a watchdog line every 120 s; a console
# silent for VFMIG_STALL seconds means the VM itself is wedged (seen: a
# vCPU with its timer interrupt stuck in service, so no sleep ever ends).
# The guest's watchdog says VFMIG-GUEST-WEDGED when programs stop starting
# while the kernel still runs (seen in CI: every exec from the 9p root
# hung). Either way: dump what QEMU knows, including the 9p devices'
# virtqueues (a lost interrupt shows as a used index the guest never
# consumed), and end the VM, so the run fails fast and says so.
#
# Before that, from 30 s of silence on, it looks for a vCPU that QEMU left
# asleep with an interrupt pending (tests/rig/lost_wakeup.py: a vector in
# IRR above PPR that is never taken, by a vCPU halted with IF set or by
# one running a nested guest; no real CPU stays so). Seen the same (a
# halted vCPU: registers and all) on three looks in a row (one look can
# catch an idle vCPU's timer on its way in), the vCPU is woken with a
# device interrupt (then an NMI), and the run goes on; each wake is logged and reported
# with the results. A guest that is truly hung stays silent and still
# ends as a stall.
stall_watch() {
	local pid=$1 last=0 size quiet=0 why stuck seen='' looks=0 how kicks=0
	while kill -0 "$pid" 2>/dev/null; do
		sleep 10
		why=''
		if grep -q '^VFMIG-GUEST-WEDGED end' "$console" 2>/dev/null; then
			why="the guest's watchdog found programs no longer start"
		elif grep -q 'rcu: INFO: .* detected stalls on CPUs' "$console" 2>/dev/null; then
			why="the guest's kernel reported an RCU stall: a vCPU takes no interrupts"
		fi
		size=$(stat -c %s "$console" 2>/dev/null || echo 0)
		if [ -z "$why" ] && [ "$size" != "$last" ]; then
			last=$size
			quiet=0
			seen=''
			looks=0
			kicks=0
			continue
		fi
		quiet=$((quiet + 10))
		if [ -z "$why" ] && [ "$quiet" -ge 30 ] && [ "$quiet" -lt "$stall" ]; then
			if ! stuck=$(python3 "$VFMIG_TOP/tests/rig/lost_wakeup.py" check \
				"$VFMIG_OUT/monitor.sock" "$smp" 2> /dev/null); then
				seen=''
				looks=0
			elif [ "$seen" != "$stuck" ]; then
				seen=$stuck
				looks=1
			elif [ $((looks += 1)) -lt 3 ]; then
				:
			elif [ "$kicks" -ge 2 ]; then
				# A key press and an NMI changed nothing: not a
				# wakeup the emulator lost (an interrupts-off hang
				# looks the same); said once, then left to the stall.
				[ "$kicks" -eq 2 ] &&
					echo "$(date +%T) after ${quiet}s of silence: $(echo "$stuck" | tr '\n' ' ')- still so after a key press and an NMI: not a lost wakeup, left to the stall" \
						>> "$VFMIG_OUT/lost-wakeups.log"
				kicks=3
			else
				kicks=$((kicks + 1))
				how=key
				[ "$kicks" -eq 2 ] && how=nmi
				python3 "$VFMIG_TOP/tests/rig/lost_wakeup.py" kick \
					"$VFMIG_OUT/monitor.sock" "$how" > /dev/null 2>&1
				echo "$(date +%T) after ${quiet}s of silence: $(echo "$stuck" | tr '\n' ' ')- woken by $how" \
					>> "$VFMIG_OUT/lost-wakeups.log"
				seen=''
				looks=0
			fi
		fi
		[ -z "$why" ] && [ "$quiet" -lt "$stall" ] && continue
		python3 - "$VFMIG_OUT/monitor.sock" "$smp" "$VFMIG_TOP/tests/rig" \
			> "$VFMIG_OUT/stall-dump.txt" 2>&1 <<'PY'
import sys
sys.path.insert(0, sys.argv[3])
from lost_wakeup import monitor
cmds = ['info status', 'info cpus', 'info registers -a']
cmds += ['info lapic %d' % n for n in range(int(sys.argv[2]))]
cmds += ['info pic', 'info virtio']
for dev in ('p9root', 'p9res'):
    path = '/machine/peripheral/%s/virtio-backend' % dev
    cmds += ['info virtio-status ' + path,
             'info virtio-queue-status %s 0' % path]
print(monitor(sys.argv[1], cmds))
PY
		echo "VFMIG-RIG-STALL ${why:-no console output for ${quiet}s}" >> "$console"
		kill "$pid"
		return
	done
}

run_once() {
	rm -rf "$res"
	mkdir -p "$res"
	printf 'VFMIG_GUEST_SUITES="%s"\n' "$*" > "$res/params"
	# The suites' knobs (durations, iteration counts, seeds) go along.
	env | grep -E '^VFMIG_(STRESS|CHURN|FUZZ|L2|BENCH|QD|CPR)_[A-Z_]+=[0-9A-Za-z,+-]*$' |
		sed 's/^/export /' >> "$res/params"
	# Suites with nested KVM guests skip them under single-threaded TCG.
	echo "export VFMIG_TCG_THREADS=$tcg_threads" >> "$res/params"
	: > "$console"
	rm -f "$VFMIG_OUT/qemu.pid" "$VFMIG_OUT/ivshmem.sock" "$VFMIG_OUT/lost-wakeups.log"
	# D's server: one client, this boot's QEMU; it ends when QEMU does.
	python3 "$VFMIG_TOP/tests/rig/ivshmem_server.py" "$VFMIG_OUT/ivshmem.sock" \
		> "$VFMIG_OUT/ivshmem-server.log" 2>&1 &
	local server=$!
	for _ in $(seq 50); do
		[ -S "$VFMIG_OUT/ivshmem.sock" ] && break
		sleep 0.1
	done
	# Watch only a QEMU whose pid we know: a pid of 0 would make the
	# watcher's kill hit its own process group.
	(
		for _ in $(seq 60); do
			[ -s "$VFMIG_OUT/qemu.pid" ] && break
			sleep 1
		done
		pid=$(cat "$VFMIG_OUT/qemu.pid" 2>/dev/null)
		case $pid in
		'' | *[!0-9]* | 0 | 1) log "no QEMU pid after 60 s: no stall watch" ;;
		*) stall_watch "$pid" ;;
		esac
	) &
	timeout --foreground "$limit" "${qemu[@]}" \
		-M q35 -accel "$accel" -cpu "$cpu" -smp "$smp" -m "$mem" \
		-nodefaults -display none -no-reboot \
		-serial "file:$console" \
		-monitor "unix:$VFMIG_OUT/monitor.sock,server=on,wait=off" \
		-pidfile "$VFMIG_OUT/qemu.pid" \
		-device intel-iommu,intremap=on,caching-mode=on \
		-kernel "$tree/boot/vmlinuz-$kver" -initrd "$initrd/l1.cpio.gz" \
		-append "$append" \
		-fsdev "local,id=fsroot,path=$tree,security_model=passthrough,multidevs=remap,readonly=on" \
		-device virtio-9p-pci,id=p9root,fsdev=fsroot,mount_tag=rootfs \
		-fsdev "local,id=fsres,path=$res,security_model=none" \
		-device virtio-9p-pci,id=p9res,fsdev=fsres,mount_tag=results \
		-object "memory-backend-memfd,id=ivmemA,size=$ivsize,share=on" \
		-device pcie-root-port,id=rpA,bus=pcie.0,chassis=1,slot=1 \
		-device ivshmem-plain,memdev=ivmemA,bus=rpA \
		-object "memory-backend-memfd,id=ivmemB,size=$ivsize,share=on" \
		-device pcie-root-port,id=rpB,bus=pcie.0,chassis=2,slot=2 \
		-device ivshmem-plain,memdev=ivmemB,bus=rpB \
		-device pcie-root-port,id=rpC,bus=pcie.0,chassis=3,slot=3 \
		-device edu,bus=rpC \
		-object "memory-backend-memfd,id=ivmemR,size=1M,share=on" \
		-device ivshmem-plain,memdev=ivmemR,bus=pcie.0,addr=0x10 \
		-object "memory-backend-memfd,id=ivmemF,size=4K,share=on" \
		-device ivshmem-plain,memdev=ivmemF,bus=pcie.0,addr=0x11 \
		-object "memory-backend-memfd,id=ivmemG,size=4K,share=on" \
		-device ivshmem-plain,memdev=ivmemG,bus=pcie.0,addr=0x12 \
		-chardev "socket,id=ivsrv,path=$VFMIG_OUT/ivshmem.sock" \
		-device pcie-root-port,id=rpD,bus=pcie.0,chassis=4,slot=4 \
		-device ivshmem-doorbell,chardev=ivsrv,vectors=1,bus=rpD \
		> "$VFMIG_OUT/qemu.log" 2>&1
	local rc=$?
	kill "$server" 2>/dev/null
	return $rc
}

t0=$(date +%s)
for try in $(seq 1 "$tries"); do
	log "booting the test VM (try $try of $tries, $accel, $l1 QEMU, suites: $*)"
	run_once "$@"
	if grep -q VFMIG-GUEST-INIT "$console"; then
		break
	fi
	log "the VM never reached the test init; console tail:"
	tail -n 15 "$console" >&2
	cp "$console" "$VFMIG_OUT/console-failed-boot-$try.log"
done
secs=$(($(date +%s) - t0))

# The guest's results, checked against their plans and the kernel's log:
# the streamed log when the guest wrote one (it has everything, even after
# a crash), the console otherwise.
klog=$res/kmsg.log
[ -s "$klog" ] || klog=$console
suites=("$@")
[ "${suites[0]:-all}" = all ] && read -ra suites < "$VFMIG_TOP/tests/guest/all-suites"
python3 "$VFMIG_TOP/tests/harness/tapcheck.py" --prefix "$prefix" \
	--expect "$(IFS=,; echo "${suites[*]}")" --kernel-log "$klog" \
	"$res/guest.log"
checked=$?
# Not a result of ours (the emulator dropped the wakeup), but never silent.
if [ -s "$VFMIG_OUT/lost-wakeups.log" ]; then
	echo "# $prefix: the rig woke a vCPU that looked left asleep with an interrupt pending, $(grep -c 'woken by' "$VFMIG_OUT/lost-wakeups.log") time(s) (Documentation/testing.md):"
	sed "s/^/# $prefix: lost wakeup: /" "$VFMIG_OUT/lost-wakeups.log"
fi
if ! grep -q VFMIG-GUEST-INIT "$console"; then
	echo "not ok - $prefix: test VM boots to the test init # no boot in $tries tries, see $VFMIG_OUT"
	exit 1
fi
if ! grep -q VFMIG-GUEST-DONE "$console"; then
	if grep -q VFMIG-RIG-STALL "$console"; then
		echo "not ok - $prefix: test VM stays responsive through the tests # the test VM itself stalled ($(grep -m1 -o 'VFMIG-RIG-STALL .*' "$console" | cut -d' ' -f2-)), guest task dump in $console, QEMU state in $VFMIG_OUT/stall-dump.txt"
		# out/ may be gone by the time anyone looks (a CI machine's is):
		# the lines that tell an emulator freeze from a guest hang go
		# into the results themselves. Each vCPU's RIP, flags (IF, HLT)
		# and local APIC (ISR, IRR, PPR); then what the guest said last.
		tr -d '\r' < "$VFMIG_OUT/stall-dump.txt" 2>/dev/null |
			grep -aE '^(CPU#[0-9]+|RIP=|dumping local APIC|ISR|IRR|APR )' |
			head -n 40 | sed 's/^/# stall dump: /'
		grep -av VFMIG-RIG-STALL "$console" | tr -d '\r' | tail -n 8 |
			sed 's/^/# console before the stall: /'
	elif grep -qE 'Kernel panic|Oops' "$console"; then
		echo "not ok - $prefix: test VM stays up through the tests # the test VM itself crashed (kernel panic), see $console"
	else
		echo "not ok - $prefix: test VM finishes the tests within ${limit}s # timed out, see $console"
	fi
	exit 1
fi
echo "# $prefix: reached the tests on try $try, VM ran ${secs}s"
[ "$(cat "$res/rc" 2>/dev/null)" = 0 ] && [ "$checked" -eq 0 ]
