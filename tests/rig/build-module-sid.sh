#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Build vfmig against Debian sid's kernel headers (7.2 today) with W=1, in
# the sid root build-sid-headers.sh keeps, with the compiler that kernel
# was built with, then through DKMS. This is the build check only: the VM suites run on
# trixie's 6.12 (Documentation/kernels.rst says what runs where).
#
# Prints TAP lines; exits non-zero if the module did not build.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mkdir -p "$VFMIG_OUT"
blog=$VFMIG_OUT/build-sid.log
if ! vars=$(bash "$VFMIG_TOP/tests/rig/build-sid-headers.sh" 2> "$blog"); then
	tail -n 20 "$blog" >&2
	echo "not ok - sid: a root with Debian sid's kernel headers # see $blog"
	exit 1
fi
root=$(sed -n 's/^VFMIG_SID_ROOT=//p' <<< "$vars")
kver=$(sed -n 's/^VFMIG_SID_KVER=//p' <<< "$vars")

dst=$root/opt/vfmig
rm -rf "$dst"
mkdir -p "$dst"
(cd "$VFMIG_TOP" && tar -cf - Makefile Kbuild Kconfig drivers include tools tests/guest tests/bench) |
	tar -xf - -C "$dst"

# objtool reads /proc: in_tree binds it.
if in_tree "$root" make -C /opt/vfmig KDIR="/lib/modules/$kver/build" W=1 \
	>> "$blog" 2>&1; then
	echo "ok - sid: module builds against $kver"
else
	tail -n 40 "$blog" >&2
	echo "not ok - sid: module builds against $kver # see $blog"
	exit 1
fi
# Ours only, as for 6.12; modpost's too (an export 7.2 no longer has).
if grep -E '^(/opt/vfmig/)?(drivers|include)/.*: (warning|error):|^WARNING: modpost' "$blog" >&2; then
	echo "not ok - sid: W=1 reports nothing for $kver # see $blog"
else
	echo "ok - sid: W=1 reports nothing for $kver"
fi
# DKMS, as a host on that kernel would install it (dkms.conf). The root
# has no kernel image, so no modules.dep: the .ko where DKMS puts it is
# the check (the stock test kernel's DKMS install is checked with modinfo
# and loaded in the VM, tests/rig/build-module.sh).
rm -f "$root/lib/modules/$kver/updates/dkms/vfmig-vfio-pci.ko"*
if dkms_install "$root" "$kver" >> "$blog" 2>&1 &&
	ls "$root/lib/modules/$kver/updates/dkms/vfmig-vfio-pci.ko"* > /dev/null 2>&1; then
	echo "ok - sid: DKMS builds and installs the module for $kver"
else
	tail -n 20 "$blog" >&2
	echo "not ok - sid: DKMS builds and installs the module for $kver # see $blog"
fi
# The guest programs with sid's compiler, C library and 7.2's uAPI headers:
# a newer gcc finds what trixie's does not (a set-but-unused variable
# failed mig_bench with gcc 16 on 2026-12-07, seen only in a sid VM rig).
if guest_programs "$root" "$blog"; then
	echo "ok - sid: guest programs and vfmigctl build with -Wall -Wextra -Werror"
else
	tail -n 20 "$blog" >&2
	echo "not ok - sid: guest program $guest_failed builds # see $blog"
fi
# Which compat.h branches the probes chose, for the log.
probes=$(grep -oh -- '-DVFMIG_HAVE_[A-Z_]*' "$dst"/drivers/vfio/pci/vfmig/.main.o.cmd | sort -u | tr '\n' ' ')
echo "# sid: compat probes on $kver: ${probes:-none}"
