# SPDX-License-Identifier: GPL-2.0-only
# Shared settings and helpers of the vfmig VM rig; sourced, never run.
#
# Everything slow (the Debian tree, the unpacked kernel source, initramfs
# images) lives under $VFMIG_CACHE, outside the repository, keyed on the
# inputs that made it, so a warm run rebuilds nothing that did not change.

VFMIG_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VFMIG_CACHE=${VFMIG_CACHE:-/var/cache/vfmig}
VFMIG_SUITE=${VFMIG_SUITE:-trixie}
VFMIG_MIRROR=${VFMIG_MIRROR:-http://deb.debian.org/debian}
# Output of one run: logs, results, the serial console.
VFMIG_OUT=${VFMIG_OUT:-$VFMIG_TOP/out}

log() { printf '[rig %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# key_of FILES... : short hash of the contents of files (and of strings given
# on stdin), used to name cache entries after their inputs.
key_of() {
	{ cat; cat "$@"; } | sha256sum | cut -c1-16
}

# The tree currently published by build-tree.sh.
tree_dir() {
	local t="$VFMIG_CACHE/tree"
	[ -f "$t/.vfmig-complete" ] || die "no Debian tree in $t: run tests/rig/build-tree.sh"
	readlink -f "$t"
}

# The kernel release installed in the tree (the archive moves: never assume).
tree_kver() {
	local d
	d=$(ls "$1/lib/modules" | sort -V | tail -n 1)
	[ -n "$d" ] || die "no kernel in $1/lib/modules"
	echo "$d"
}

# The guest kernel the rig builds for and boots: Debian's (tree_kver), or
# with VFMIG_KERNEL=debug or =iommufd that rig kernel, which
# build-kernel.sh installs into the tree (debug: lockdep, KASAN, UBSAN,
# kmemleak, hung-task; iommufd: IOMMUFD, no checkers). Their releases end
# in "~vfmig-FLAVOR", which sorts below Debian's so tree_kver never picks
# them.
guest_kver() {
	local d flavor=${VFMIG_KERNEL:-stock}
	case $flavor in
	stock) tree_kver "$1" ;;
	debug | iommufd)
		d=$(ls "$1/lib/modules" | grep -F "~vfmig-$flavor" | sort -V | tail -n 1)
		[ -n "$d" ] || die "no $flavor kernel in $1: run tests/rig/build-kernel.sh $flavor"
		echo "$d"
		;;
	*) die "VFMIG_KERNEL=$flavor: expected stock, debug or iommufd" ;;
	esac
}

# in_tree TREE CMD... : run a command inside the tree with /proc, /sys and
# /dev bound, and undo the binds whatever happens.
in_tree() {
	local tree=$1; shift
	local m
	for m in proc sys dev; do
		mountpoint -q "$tree/$m" || mount --rbind "/$m" "$tree/$m"
		mount --make-rslave "$tree/$m"
	done
	local rc=0
	chroot "$tree" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@" || rc=$?
	for m in dev sys proc; do
		umount -R "$tree/$m" 2>/dev/null || umount -lR "$tree/$m" || true
	done
	return $rc
}

# guest_programs ROOT LOG : build the guest programs and tools, plain
# userspace C, inside ROOT (whose /opt/vfmig holds the sources) with ROOT's
# compiler, C library and uAPI headers, into /opt/vfmig/bin, each from its
# one source file plus the shared tools/lib; and the nested guest's static
# workload. The C tests use the kernel's kselftest harness, taken from the
# kernel source the rig unpacked (never copied into this repository).
# Output goes to LOG; on failure, guest_failed names the program.
# (-isystem: the harness is not ours to keep -Wextra clean.)
GUEST_CFLAGS="-O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -isystem /opt/vfmig/include-ksft -pthread"
guest_programs() {
	local root=$1 log=$2 src
	local ksft=$VFMIG_CACHE/linux-source/tools/testing/selftests
	local libs="tools/lib/vfio_open.c tools/lib/vfio_mig.c tools/lib/vfmig_stream.c tools/lib/crc32c.c"
	local progs=(tests/guest/uapi_test tests/guest/mig_test tests/guest/hold_save
		tools/vfmigctl/vfmigctl tests/guest/stress tests/guest/fuzz_resume
		tests/guest/alloc_fail tests/bench/mig_bench tests/bench/crc32c_tcg)
	guest_failed="kselftest harness (from $ksft)"
	mkdir -p "$root/opt/vfmig/include-ksft"
	cp "$ksft/kselftest_harness.h" "$ksft/kselftest.h" "$root/opt/vfmig/include-ksft/" \
		>> "$log" 2>&1 || return 1
	for src in "${progs[@]}"; do
		guest_failed=${src##*/}
		in_tree "$root" sh -c "cd /opt/vfmig && mkdir -p bin &&
			gcc $GUEST_CFLAGS -o bin/$guest_failed $src.c $libs" >> "$log" 2>&1 || return 1
	done
	# The nested guest's workload: static, its initramfs has no C library.
	guest_failed=ivshmem_workload
	in_tree "$root" sh -c "cd /opt/vfmig && gcc $GUEST_CFLAGS -static -o bin/ivshmem_workload \
		tests/guest/l2/ivshmem_workload.c" >> "$log" 2>&1 || return 1
	guest_failed=
}

# dkms_install ROOT KVER [VARS] : install vfmig with DKMS inside ROOT for KVER, as
# a host does (dkms.conf): a fresh copy of the sources in
# /usr/src/vfmig-<version>, any earlier one removed from DKMS first.
# Output goes to stdout; the status is DKMS's.
dkms_install() {
	local root=$1 kver=$2 vars=${3:-} ver src
	ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$VFMIG_TOP/dkms.conf")
	src=$root/usr/src/vfmig-$ver
	rm -rf "$src"
	mkdir -p "$src"
	(cd "$VFMIG_TOP" && tar -cf - dkms.conf Makefile Kbuild Kconfig drivers include) |
		tar -xf - -C "$src"
	# VARS (e.g. CONFIG_VFMIG_FAULT_INJECTION=y) reach the Makefile through
	# the environment DKMS runs make in.
	in_tree "$root" env $vars sh -c "{ dkms remove vfmig/$ver --all || true; } &&
		dkms add vfmig/$ver && dkms install vfmig/$ver -k $kver"
}
