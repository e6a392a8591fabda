#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Build, or reuse, the Debian tree the test VM boots from over 9p.
#
# The tree gives the guest kernel and its headers (to build the module),
# QEMU 10 (the nested QEMU that drives vfmig), sparse, kmod, and the whole
# kernel source (checkpatch.pl now, KUnit later). It is keyed on this script
# and the package list; VFMIG_TREE_MAX_DAYS bounds how stale the archive's
# point release may get before it is rebuilt.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PKGS=linux-image-amd64,linux-headers-amd64,linux-source,build-essential
PKGS+=,kmod,sparse,qemu-system-x86,pciutils,procps,iproute2,busybox
PKGS+=,ca-certificates,xz-utils,python3,bc,flex,bison,libelf-dev,libssl-dev
PKGS+=,util-linux,cpio,dkms,driverctl
# Installed with apt after debootstrap: libvirt as a host runs it (the
# libvirt suite: the daemon, its QEMU driver, virsh). Its dependencies
# bring systemd, which debootstrap's --include cannot order (systemd
# pre-depends on libsystemd-shared being configured first).
APT_PKGS="libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients"
max_days=${VFMIG_TREE_MAX_DAYS:-30}

key=$(printf '%s\n' "$VFMIG_SUITE" "$PKGS" "$APT_PKGS" | key_of "$0")
tree=$VFMIG_CACHE/tree-$key
mkdir -p "$VFMIG_CACHE"

if [ -f "$tree/.vfmig-complete" ] &&
   [ -z "$(find "$tree/.vfmig-complete" -mtime +"$max_days")" ]; then
	log "reusing tree $tree"
else
	log "debootstrap $VFMIG_SUITE into $tree (a few minutes)"
	rm -rf "$tree" "$tree.tmp"
	debootstrap --variant=minbase --include="$PKGS" "$VFMIG_SUITE" \
		"$tree.tmp" "$VFMIG_MIRROR" > "$VFMIG_CACHE/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$VFMIG_CACHE/debootstrap.log"; die "debootstrap failed"; }
	# shellcheck disable=SC2086 # a list of package names
	chroot "$tree.tmp" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $APT_PKGS >> "$VFMIG_CACHE/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$VFMIG_CACHE/debootstrap.log"; die "apt-get install $APT_PKGS failed"; }
	chroot "$tree.tmp" apt-get clean
	mv "$tree.tmp" "$tree"
	touch "$tree/.vfmig-complete"
fi
ln -sfn "tree-$key" "$VFMIG_CACHE/tree.new" && mv -T "$VFMIG_CACHE/tree.new" "$VFMIG_CACHE/tree"
# Drop trees of other keys: each is over a gigabyte.
for old in "$VFMIG_CACHE"/tree-*; do
	[ "$old" = "$tree" ] || rm -rf "$old"
done

# The kernel source, unpacked once per source package version.
src_tar=$(ls "$tree"/usr/src/linux-source-*.tar.xz | head -n 1)
src_key=$(stat -c '%s-%Y' "$src_tar")
src=$VFMIG_CACHE/linux-source
if [ "$(cat "$src/.vfmig-key" 2>/dev/null)" != "$src_key" ]; then
	log "unpacking $(basename "$src_tar")"
	rm -rf "$src" "$src.tmp"
	mkdir -p "$src.tmp"
	tar -xJf "$src_tar" -C "$src.tmp" --strip-components=1
	echo "$src_key" > "$src.tmp/.vfmig-key"
	mv "$src.tmp" "$src"
fi
log "tree ready: kernel $(tree_kver "$tree"), source $src"
