#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# PID 1 of the test VM, after the initramfs switched to the Debian tree
# (read-only over 9p). Sets up a scratch system, runs the guest tests with
# their output on the console and in the results share, and powers off.
# The rig looks for the markers: VFMIG-GUEST-INIT (the VM booted and reached
# the tests), VFMIG-GUEST-DONE rc=N (the tests finished).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
ln -sf /proc/self/fd /dev/fd
for d in /tmp /run /var/tmp /root /var/log /var/lib/dpkg /mnt; do
	mount -t tmpfs tmpfs "$d" 2>/dev/null
done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results /results ||
	echo "VFMIG-GUEST-WARN: no results share"
# The whole kernel log, streamed to the host as it is written: it survives
# a crash (the console only carries the loud lines) and a ring buffer that
# wraps. The host scans it for splats (tests/harness/tapcheck.py).
dmesg -w > /results/kmsg.log 2>&1 &
kmsg_pid=$!
# Loopback is down in a fresh guest; migrations go over it.
ip link set lo up
echo "VFMIG-GUEST-INIT kernel=$(uname -r)"
. /results/params 2>/dev/null
# Nested KVM for the L2 guests where the CPU model offers SVM. One idle KVM
# VM is kept open for the whole run: every VM created or destroyed makes the
# kernel patch its own text, which races under multi-threaded TCG (shared
# notes); with one VM always present most of that patching happens once.
if modprobe kvm_amd 2>/dev/null && [ -c /dev/kvm ]; then
	qemu-system-x86_64 -M none -accel kvm -nodefaults -display none \
		-monitor none -serial none -S > /dev/null 2>&1 &
fi
# A watchdog for runs that stall: what runs, and the last kernel words.
# Its loop uses shell builtins only (no sleep, no cat): the stall seen in
# CI left every exec of a program from the 9p root hanging while the tests'
# open files kept working, so the watchdog must not need the root to speak.
# Each tick starts the usual ps and dmesg as a probe; a probe still running
# at the next tick means programs no longer start: say so once
# (VFMIG-GUEST-WEDGED, the rig then dumps QEMU's view and ends the VM) with
# the blocked tasks and their kernel stacks.
wd_dump() {
	local d st line comm wchan
	for d in /proc/[0-9]*; do
		read -r line < "$d/stat" 2>/dev/null || continue
		comm=${line#*(}
		comm=${comm%)*}
		st=${line##*) }
		st=${st%% *}
		read -r wchan < "$d/wchan" 2>/dev/null
		case $st$wchan in
		D* | *p9* | *virtio*) ;;
		*) continue ;;
		esac
		echo "VFMIG-WATCHDOG task ${d#/proc/} $comm state $st wchan $wchan"
		while read -r line; do
			echo "VFMIG-WATCHDOG   $line"
		done < "$d/stack" 2>/dev/null
	done
}
wd_irqs() {
	local line
	while read -r line; do
		case $line in
		*virtio* | *ttyS* | *LOC:* | *ERR:*) echo "VFMIG-WATCHDOG irq ${line:0:150}" ;;
		esac
	done < /proc/interrupts
}
mkfifo /run/watchdog.tick && exec 9<> /run/watchdog.tick
(
	probe='' wedged=''
	while ! read -rt 120 -u 9; do
		read -r up < /proc/uptime
		echo "VFMIG-WATCHDOG uptime ${up%% *}s"
		wd_irqs
		if [ -n "$probe" ] && kill -0 "$probe" 2>/dev/null; then
			[ -n "$wedged" ] && continue
			wedged=1
			echo "VFMIG-GUEST-WEDGED the ps and dmesg started 120 s ago have not ended: programs no longer start"
			wd_dump
			echo "VFMIG-GUEST-WEDGED end of the task dump"
			continue
		fi
		(
			ps -eo pid,stat,pcpu,etime,wchan:20,args --sort=-pcpu | head -n 12 |
				cut -c1-150 | sed 's/^/VFMIG-WATCHDOG /'
			dmesg | tail -n 5 | sed 's/^/VFMIG-WATCHDOG /'
		) &
		probe=$!
	done
) > /dev/console 2>&1 &
# shellcheck disable=SC2086 # a list of suite names
/opt/vfmig/tests/guest/run-tests.sh ${VFMIG_GUEST_SUITES:-all} 9<&- 2>&1 |
	tee /results/guest.log
rc=${PIPESTATUS[0]}
# A kernel with kmemleak (the debug kernel): look for leaks now, twice as
# its documentation advises; a report lands in the kernel log, which the
# host scans like any other splat.
if [ -w /sys/kernel/debug/kmemleak ] || { mount -t debugfs none /sys/kernel/debug 2>/dev/null &&
	[ -w /sys/kernel/debug/kmemleak ]; }; then
	echo "VFMIG-KMEMLEAK scanning"
	echo scan > /sys/kernel/debug/kmemleak
	sleep 5
	echo scan > /sys/kernel/debug/kmemleak
	sed 's/^/VFMIG-KMEMLEAK /' /sys/kernel/debug/kmemleak | head -n 60 > /dev/console
fi
sleep 1
kill "$kmsg_pid" 2>/dev/null
echo "VFMIG-GUEST-DONE rc=$rc"
echo "$rc" > /results/rc
sync
umount /results
echo o > /proc/sysrq-trigger
# The power-off is asynchronous; PID 1 must not exit (that panics).
while :; do :; done
