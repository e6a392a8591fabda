# SPDX-License-Identifier: GPL-2.0-only
# Helpers of the libvirt suite (sourced after lib.sh): Debian's libvirtd
# run as a host runs it, in a guest whose root is read-only and which has
# no systemd, and the domain XML of Documentation/libvirt.rst.

LV_SAVE_DIR=/var/lib/libvirt/qemu/save

# lv_start : libvirtd up, with its state on tmpfs; qemu:///system answers.
# What the configuration changes, and why (everything else is Debian's):
# - QEMU runs as root with no security driver, no ownership changes, no
#   cgroups and no mount namespace: the root is a read-only 9p tree and
#   the guest has neither systemd nor a cgroup hierarchy; none of this
#   touches the VFIO path under test.
# - QEMU's output goes to a file, not through virtlogd (one daemon fewer).
# - The sockets need no polkit (no D-Bus here); only root uses them.
lv_start() {
	local d
	for d in /var/lib/libvirt /var/cache/libvirt; do
		mount -t tmpfs tmpfs "$d" || return 1
	done
	# Saves go to a bounded tmpfs of their own (Debian's save directory):
	# a save that never converges fills it and fails, not /tmp.
	mkdir -p /var/log/libvirt/qemu "$LV_SAVE_DIR" /tmp/lv-etc
	mount -t tmpfs -o size=768M tmpfs "$LV_SAVE_DIR" || return 1
	cp -a /etc/libvirt/. /tmp/lv-etc/ && mount --bind /tmp/lv-etc /etc/libvirt || return 1
	cat >> /etc/libvirt/qemu.conf <<-EOF
		user = "root"
		group = "root"
		dynamic_ownership = 0
		remember_owner = 0
		security_driver = "none"
		cgroup_controllers = [ ]
		namespaces = [ ]
		stdio_handler = "file"
	EOF
	cat >> /etc/libvirt/libvirtd.conf <<-EOF
		auth_unix_ro = "none"
		auth_unix_rw = "none"
		log_outputs = "2:file:/tmp/libvirtd.log"
	EOF
	libvirtd -d || return 1
	# The first connection waits for QEMU's capabilities to be probed,
	# which takes tens of seconds under TCG.
	for _ in $(seq 60); do
		virsh -q -c qemu:///system version > /dev/null 2>&1 && return 0
		sleep 2
	done
	return 1
}

# lv_start_peer : a second libvirtd, the destination "host" of a live
# migration, in a mount namespace of its own: its own /run/libvirt,
# /var/lib/libvirt, /var/log/libvirt and /etc/libvirt (another host UUID;
# libvirt refuses to migrate a domain to the host it runs on). Its socket
# is reached through /proc/PID/root; LV_PEER is its URI once it answers.
lv_start_peer() {
	local pid
	mkdir -p /tmp/lv-etc-peer
	cp -a /etc/libvirt/. /tmp/lv-etc-peer/ || return 1
	sed -i 's|/tmp/libvirtd.log|/tmp/libvirtd-peer.log|' /tmp/lv-etc-peer/libvirtd.conf
	echo 'host_uuid = "76666d69-6700-4000-8000-000000000002"' >> /tmp/lv-etc-peer/libvirtd.conf
	unshare -m --propagation private sh -c '
		for d in /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
			mkdir -p "$d" && mount -t tmpfs tmpfs "$d" || exit 1
		done
		mkdir -p /var/log/libvirt/qemu /var/lib/libvirt/qemu &&
			mount --bind /tmp/lv-etc-peer /etc/libvirt &&
			exec libvirtd -d -p /run/libvirt/libvirtd-peer.pid' || return 1
	for _ in $(seq 60); do
		for pid in $(pgrep -x libvirtd); do
			[ -S "/proc/$pid/root/run/libvirt/libvirt-sock" ] || continue
			[ -e "/proc/$pid/root/run/libvirt/libvirtd-peer.pid" ] || continue
			LV_PEER="qemu+unix:///system?socket=/proc/$pid/root/run/libvirt/libvirt-sock"
			LV_PEER_PID=$pid
			virsh -q -c "$LV_PEER" version > /dev/null 2>&1 && return 0
		done
		sleep 2
	done
	return 1
}

# lv_stop : every domain destroyed, libvirtd gone, the mounts undone and
# the configuration copies removed; fails, saying why, if a QEMU or a
# libvirtd outlives it or a mount stays. libvirtd does not kill its
# domains when it exits, so a QEMU that a destroy did not end (a hung
# virsh) is killed here from libvirt's pidfiles: a QEMU left holding a
# function would make the unbind that follows block in vfio's remove.
lv_stop() {
	local dom uri pids='' pid d rc=0
	for uri in qemu:///system ${LV_PEER:+"$LV_PEER"}; do
		for dom in $(timeout 30 virsh -q -c "$uri" list --name 2>/dev/null); do
			timeout 60 virsh -q -c "$uri" destroy "$dom" > /dev/null 2>&1
		done
	done
	if [ -n "${LV_PEER_PID:-}" ] && [ -d "/proc/$LV_PEER_PID" ]; then
		mkdir -p /results/qemu/peer
		cp "/proc/$LV_PEER_PID/root/var/log/libvirt/qemu/"*.log /results/qemu/peer/ 2>/dev/null
		pids=$(cat "/proc/$LV_PEER_PID/root/run/libvirt/qemu/"*.pid 2>/dev/null)
	fi
	pids="$pids $(cat /run/libvirt/qemu/*.pid 2>/dev/null)"
	# (libvirt's QEMU driver keeps its own lock, driver.pid, there too:
	# only the QEMUs count.)
	for pid in $pids; do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = qemu-system-x86 ] || continue
		kill -9 "$pid" && echo "# lv_stop: QEMU $pid outlived its destroy, killed"
	done
	# (The guest's own idle KVM VM, init.sh's, is a QEMU too: only the
	# pids libvirt recorded are libvirt's.)
	alive() {
		local p
		pgrep -x libvirtd
		for p in $pids; do [ ! -d "/proc/$p" ] || echo "$p"; done
	}
	pkill -x libvirtd
	for _ in $(seq 20); do
		[ -n "$(alive)" ] || break
		sleep 0.5
	done
	if [ -n "$(alive)" ]; then
		echo "# lv_stop: still running: $(alive | tr '\n' ' ')"
		rc=1
	fi
	mkdir -p /results/qemu && cp /tmp/libvirtd*.log /var/log/libvirt/qemu/*.log /results/qemu/ 2>/dev/null
	for d in "$LV_SAVE_DIR" /etc/libvirt /var/lib/libvirt /var/cache/libvirt; do
		mountpoint -q "$d" || continue
		umount "$d" || { echo "# lv_stop: $d stays mounted"; rc=1; }
	done
	rm -rf /tmp/lv-etc /tmp/lv-etc-peer
	LV_PEER='' LV_PEER_PID=''
	return "$rc"
}

# lv_domain_xml NAME BDF OVERRIDE [CONSOLE] : the domain of the how-to,
# booting the nested guest's workload (tests/guest/l2/ivshmem_workload.c)
# with BDF as an unmanaged hostdev; OVERRIDE "yes" adds the <qemu:override>
# that sets enable-migration=on (kernels without DMA logging). The console
# goes to /tmp/CONSOLE.console (CONSOLE defaults to NAME), appended to
# across a save and a restore. The UUID follows from NAME, so that the XML
# of a migration's destination (same name, another function and console)
# describes the same domain.
lv_domain_xml() {
	local name=$1 bdf=$2 con=${4:-$1} type=qemu cpu='' override='' uuid
	local dom=${bdf%%:*} bus=${bdf#*:}
	local slot=${bus#*:} fn=${bdf##*.}
	bus=${bus%%:*}
	slot=${slot%%.*}
	uuid=$(printf '%s' "$name" | md5sum |
		sed 's/^\(.\{8\}\)\(.\{4\}\)\(.\{4\}\)\(.\{4\}\)\(.\{12\}\).*/\1-\2-\3-\4-\5/')
	[ -c /dev/kvm ] && type=kvm cpu="<cpu mode='host-passthrough'/>"
	[ "$3" = yes ] && override="<qemu:override>
    <qemu:device alias='ua-vfmig0'>
      <qemu:frontend>
        <qemu:property name='enable-migration' type='string' value='on'/>
      </qemu:frontend>
    </qemu:device>
  </qemu:override>"
	cat <<-EOF
		<domain type='$type' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
		  <name>$name</name>
		  <uuid>$uuid</uuid>
		  <memory unit='MiB'>128</memory>
		  <vcpu>1</vcpu>
		  <os>
		    <type arch='x86_64' machine='q35'>hvm</type>
		    <kernel>$(l2_kernel)</kernel>
		    <initrd>/opt/vfmig/l2.cpio.gz</initrd>
		    <cmdline>console=ttyS0 quiet panic=-1 vfmig.workload=1 vfmig.pace_ms=1000</cmdline>
		  </os>
		  $cpu
		  <on_poweroff>destroy</on_poweroff>
		  <on_reboot>destroy</on_reboot>
		  <on_crash>destroy</on_crash>
		  <devices>
		    <emulator>/usr/bin/qemu-system-x86_64</emulator>
		    <serial type='file'>
		      <source path='/tmp/$con.console' append='on'/>
		      <target port='0'/>
		    </serial>
		    <hostdev mode='subsystem' type='pci' managed='no'>
		      <source>
		        <address domain='0x$dom' bus='0x$bus' slot='0x$slot' function='0x$fn'/>
		      </source>
		      <alias name='ua-vfmig0'/>
		    </hostdev>
		    <controller type='usb' model='none'/>
		    <video><model type='none'/></video>
		    <memballoon model='none'/>
		  </devices>
		  $override
		</domain>
	EOF
}

# lv_job_watch URI DOM PID [BDF] : while PID (a virsh save or migrate of
# DOM) runs, print libvirt's job figures every 20 s, and vfmig's state of
# BDF, as "# job ..." lines, so that a save or migration that does not
# converge says where it stands (how much RAM is left, at what dirty
# rate, in which device state) before the suite's timeout ends it.
lv_job_watch() {
	local uri=$1 dom=$2 pid=$3 bdf=${4:-} n=0
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		n=$((n + 1))
		[ $((n % 20)) -eq 0 ] || continue
		echo "# job at ${n}s:$(virsh -q -c "$uri" domjobinfo "$dom" 2>/dev/null |
			grep -E '^(Data processed|Data remaining|Memory processed|Memory remaining|Dirty rate|Iteration|Expected downtime)' |
			awk -F': *' '{ printf " %s=%s", $1, $2 }' | tr -s ' ')"
		[ -z "$bdf" ] || echo "# vfmig at ${n}s: $(head -n 4 "$(vfmig_dir "$bdf")/status" | tr '\n' ' ')"
	done
}
