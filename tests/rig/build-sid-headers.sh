#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Build, or reuse, a minimal Debian sid root holding the newest kernel's
# build headers (7.2 today) and the compiler they were made with, so that
# CI builds vfmig against the kernel a hypervisor host may run next, not
# only against trixie's 6.12 (Documentation/kernels.rst).
#
# Only headers and DKMS: no kernel image, no QEMU. About 700 MB, a couple
# of minutes cold. Keyed on this script and the package list; VFMIG_SID_MAX_DAYS bounds
# how stale it may get (sid moves daily; the cached root is a snapshot).
#
# Prints the root and the headers directory as
#   VFMIG_SID_ROOT=/path
#   VFMIG_SID_KVER=7.2.13+deb14-amd64
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PKGS=linux-headers-amd64,make,libc6-dev,gcc,dkms
max_days=${VFMIG_SID_MAX_DAYS:-30}

key=$(printf '%s\n' sid "$PKGS" | key_of "$0")
root=$VFMIG_CACHE/sid-headers-$key
mkdir -p "$VFMIG_CACHE"

if [ -f "$root/.vfmig-complete" ] &&
   [ -z "$(find "$root/.vfmig-complete" -mtime +"$max_days")" ]; then
	log "reusing sid headers root $root"
else
	log "debootstrap sid (kernel headers only) into $root"
	rm -rf "$root" "$root.tmp"
	debootstrap --variant=minbase --include="$PKGS" sid "$root.tmp" \
		"$VFMIG_MIRROR" > "$VFMIG_CACHE/debootstrap-sid.log" 2>&1 ||
		{ tail -n 30 "$VFMIG_CACHE/debootstrap-sid.log"; die "debootstrap sid failed"; }
	mv "$root.tmp" "$root"
	touch "$root/.vfmig-complete"
fi
for old in "$VFMIG_CACHE"/sid-headers-*; do
	[ "$old" = "$root" ] || rm -rf "$old"
done

# The headers package's release, not its metapackage's: the newest one.
kver=$(ls "$root/usr/src" | sed -n 's/^linux-headers-\(.*-amd64\)$/\1/p' | sort -V | tail -n 1)
[ -n "$kver" ] || die "no linux-headers-*-amd64 in $root/usr/src"
echo "VFMIG_SID_ROOT=$root"
echo "VFMIG_SID_KVER=$kver"
