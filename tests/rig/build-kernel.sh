#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Build, or reuse, one of the rig's own test kernels and install it into
# the Debian tree so the VM can boot it and vfmig can be built against it:
#
#   build-kernel.sh debug     lockdep, KASAN, UBSAN, kmemleak, hung task and
#                             stall detection, fault injection (the
#                             hardening runs; VFMIG_KERNEL=debug)
#   build-kernel.sh iommufd   no debug options, IOMMUFD: DMA-logging reports
#                             work, so QEMU's defaults migrate a VM holding
#                             the device (the main job; VFMIG_KERNEL=iommufd)
#
# Both are Debian's linux-source-6.12 from the tree, x86_64_defconfig +
# kvm_guest.config + kernel-rig.config (everything the test VM needs, built
# in: 9p, PCI, intel-iommu, IOMMUFD, VFIO, nested KVM) + FLAVOR-kernel.config.
# Debian's own kernels lack IOMMUFD, hence the second flavor.
#
# It is built inside the tree (its gcc is the one build-module.sh uses),
# niced, and cached in $VFMIG_CACHE/kernel-FLAVOR-<key>/, keyed on the
# fragments, this script, the source tarball and the tree's compiler:
#   bzImage  kver  config  System.map  vmlinux (symbols, no debug info)
#   modules/lib/modules/<kver>/   modules_install output (modules.builtin...)
#   headers/                      what an external module build needs
#   build.log  .vfmig-complete
# Into the tree it puts
# /boot/vmlinuz-<kver> (and config-, System.map-), /lib/modules/<kver>/ and
# /usr/src/linux-headers-<kver>/, with /lib/modules/<kver>/build pointing
# there, so `make -C /lib/modules/<kver>/build M=...` works in the chroot.
# A warm run only checks that the tree still has it, and puts it back if the
# tree was rebuilt. The tree is shared with VM boots and module builds, as
# for every rig script, the caller runs it when no boot uses the tree.
# Prints the cache directory.
set -euo pipefail

# Every mount of this script (the build directory bound into the tree, and
# in_tree's /proc, /sys, /dev) stays in a mount namespace of its own: no
# other rig user sees them, and none of theirs is unmounted under them.
if [ -z "${VFMIG_DEBUG_KERNEL_NS:-}" ]; then
	VFMIG_DEBUG_KERNEL_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

flavor=${1:-}
case $flavor in
debug | iommufd) ;;
*) die "usage: build-kernel.sh debug|iommufd" ;;
esac
base=$VFMIG_TOP/tests/rig/kernel-rig.config
frag=$VFMIG_TOP/tests/rig/$flavor-kernel.config
mnt=/opt/kernel-$flavor-build	# where the build directory shows in the tree

tree=$(tree_dir)
src_tar=$(ls "$tree"/usr/src/linux-source-6.12.tar.xz)
cc_id=$(chroot "$tree" gcc --version | head -n 1)
key=$(printf '%s\n' "$(basename "$src_tar")" "$(stat -c '%s-%Y' "$src_tar")" "$cc_id" |
	key_of "$0" "$base" "$frag")
dir=$VFMIG_CACHE/kernel-$flavor-$key

# check_config CONFIG : every CONFIG_X=V line of the fragments is in CONFIG
# as it is, and every "# CONFIG_X is not set" is neither =y nor =m there.
check_config() {
	awk '
	FNR == NR {
		if ($0 ~ /^CONFIG_[A-Za-z0-9_]+=/) want[$0] = 1
		else if ($0 ~ /^# CONFIG_[A-Za-z0-9_]+ is not set$/) unset[$2] = 1
		next
	}
	/^CONFIG_/ { have[$0] = 1; split($0, kv, "="); set[kv[1]] = 1 }
	END {
		for (l in want) if (!(l in have)) { print "  wanted " l; bad = 1 }
		for (s in unset) if (s in set) { print "  wanted " s " unset"; bad = 1 }
		exit bad
	}' <(cat "$base" "$frag") "$1"
}

build() {
	local tmp=$dir.tmp
	rm -rf "$dir" "$tmp"
	mkdir -p "$tmp/src"
	log "building the $flavor kernel $key (cold: about 15 min on 2 cores); log: $tmp/build.log"
	log "unpacking $(basename "$src_tar")"
	nice -n 19 tar -xJf "$src_tar" -C "$tmp/src" --strip-components=1
	cat "$base" "$frag" > "$tmp/vfmig.config"
	cat > "$tmp/inside.sh" <<'INSIDE'
#!/bin/sh
# Runs in the tree, in the build directory: $1 is config or build.
set -eu
b=$(pwd)
mk() { make -C "$b/src" O="$b/obj" "$@"; }
case $1 in
config)
	mk x86_64_defconfig
	mk kvm_guest.config
	(cd "$b/obj" && "$b/src/scripts/kconfig/merge_config.sh" -m .config "$b/vfmig.config")
	mk olddefconfig
	;;
build)
	mk -j2
	mk INSTALL_MOD_PATH="$b/modules" modules_install
	mk run-command KBUILD_RUN_COMMAND="\$(srctree)/scripts/package/install-extmod-build $b/headers"
	cp "$b/obj/include/config/kernel.release" "$b/kver"
	;;
esac
INSIDE
	mkdir -p "$tree$mnt"
	mount --bind "$tmp" "$tree$mnt"
	trap 'umount "$tree$mnt" 2>/dev/null; rmdir "$tree$mnt" 2>/dev/null' EXIT

	log "configuring: x86_64_defconfig + kvm_guest.config + $(basename "$base") + $(basename "$frag")"
	in_tree "$tree" sh -c "cd $mnt && sh inside.sh config" > "$tmp/build.log" 2>&1 ||
		{ tail -n 30 "$tmp/build.log" >&2; die "configuring failed, see $tmp/build.log"; }
	local dropped
	if ! dropped=$(check_config "$tmp/obj/.config"); then
		printf '%s\n' "$dropped" >&2
		die "olddefconfig dropped these lines of $(basename "$base") or $(basename "$frag") (unmet dependencies): fix the fragment"
	fi
	log "config checked: every line of the fragments took effect"

	local t0=$SECONDS
	log "compiling (nice -n 19, -j2)"
	in_tree "$tree" nice -n 19 sh -c "cd $mnt && sh inside.sh build" >> "$tmp/build.log" 2>&1 ||
		{ tail -n 40 "$tmp/build.log" >&2; die "kernel build failed, see $tmp/build.log"; }
	umount "$tree$mnt"
	rmdir "$tree$mnt"
	trap - EXIT
	log "compiled in $(((SECONDS - t0) / 60)) min $(((SECONDS - t0) % 60)) s"

	local kver
	kver=$(cat "$tmp/kver")
	cp "$tmp/obj/arch/x86/boot/bzImage" "$tmp/bzImage"
	cp "$tmp/obj/.config" "$tmp/config"
	cp "$tmp/obj/System.map" "$tmp/System.map"
	cp "$tmp/obj/vmlinux" "$tmp/vmlinux"
	cp "$tmp/obj/.config" "$tmp/headers/.config"
	# The links modules_install may leave point into the build directory.
	rm -f "$tmp/modules/lib/modules/$kver/build" "$tmp/modules/lib/modules/$kver/source"
	[ -f "$tmp/modules/lib/modules/$kver/modules.builtin" ] ||
		die "no modules.builtin in $tmp/modules"
	[ -n "${VFMIG_KEEP_KBUILD:-}" ] || rm -rf "$tmp/src" "$tmp/obj"
	rm -f "$tmp/inside.sh" "$tmp/vfmig.config"
	mv "$tmp" "$dir"
	touch "$dir/.vfmig-complete"
	# Drop this flavor's kernels of other keys: each is hundreds of megabytes.
	local old
	for old in "$VFMIG_CACHE"/kernel-$flavor-*; do
		[ "$old" = "$dir" ] || [ "$old" = "$dir.tmp" ] || rm -rf "$old"
	done
}

# install_into_tree : the kernel, its modules and its build directory in
# the tree, unless they are there already for this key.
install_into_tree() {
	local kver tree mod hdr old
	kver=$(cat "$dir/kver")
	tree=$(tree_dir)	# again: it may have been replaced during the build
	mod=$tree/lib/modules/$kver
	hdr=$tree/usr/src/linux-headers-$kver
	if [ "$(cat "$mod/.vfmig-$flavor-key" 2>/dev/null)" = "$key" ] &&
	   [ "$(cat "$hdr/.vfmig-$flavor-key" 2>/dev/null)" = "$key" ] &&
	   cmp -s "$dir/bzImage" "$tree/boot/vmlinuz-$kver"; then
		log "$flavor kernel $kver already installed in $tree"
	else
		log "installing $flavor kernel $kver into $tree"
		# Other kernels of this flavor (older sources) go; this one is
		# replaced whole, modules built against an older config with it.
		for old in "$tree"/lib/modules/*vfmig-$flavor* "$tree"/usr/src/linux-headers-*vfmig-$flavor* \
			"$tree"/boot/*vfmig-$flavor*; do
			[ -e "$old" ] && rm -rf "$old"
		done
		cp -a "$dir/headers" "$hdr"
		cp -a "$dir/modules/lib/modules/$kver" "$mod"
		ln -sfn "/usr/src/linux-headers-$kver" "$mod/build"
		cp "$dir/bzImage" "$tree/boot/vmlinuz-$kver"
		cp "$dir/config" "$tree/boot/config-$kver"
		cp "$dir/System.map" "$tree/boot/System.map-$kver"
		in_tree "$tree" depmod -a "$kver"
		echo "$key" > "$hdr/.vfmig-$flavor-key"
		echo "$key" > "$mod/.vfmig-$flavor-key"
	fi
	# The rig's default kernel must stay Debian's.
	[ "$(tree_kver "$tree")" != "$kver" ] ||
		die "tree_kver now picks $kver over Debian's kernel: the $flavor kernel's release must sort lower"
}

mkdir -p "$VFMIG_CACHE"
# One build of a key at a time.
exec 9> "$VFMIG_CACHE/kernel-$flavor.lock"
flock 9
if [ -f "$dir/.vfmig-complete" ]; then
	log "reusing $flavor kernel $(cat "$dir/kver") in $dir"
else
	build
fi
install_into_tree
echo "$dir"
