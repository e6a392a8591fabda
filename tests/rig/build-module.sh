#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Build vfmig inside the Debian tree, against the tree's kernel headers,
# with W=1 and sparse (C=2), install it there (depmod, so modprobe works in
# the guest) and build the guest-side test programs.
#
# Prints TAP lines for the build checks; exits non-zero if the module could
# not be built or installed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tree=$(tree_dir)
kver=$(guest_kver "$tree")
dst=$tree/opt/vfmig
mkdir -p "$VFMIG_OUT"

# A fresh copy of the sources each run: the tree is a cache, the repo is
# the truth.
rm -rf "$dst"
mkdir -p "$dst" "$tree/results"	# the guest mounts its results share there
(cd "$VFMIG_TOP" && tar -cf - Makefile Kbuild Kconfig drivers include tools tests/guest tests/bench) |
	tar -xf - -C "$dst"

# The rig's modules carry the fault-injection hooks (the faults suite
# drives them); a production build must carry none. Both are built, with
# W=1, and each is checked for what it must and must not hold.
hooks="CONFIG_VFMIG_FAULT_INJECTION=y"
ko=drivers/vfio/pci/vfmig/vfmig-vfio-pci.ko
blog=$VFMIG_OUT/build.log
if in_tree "$tree" make -C /opt/vfmig KDIR="/lib/modules/$kver/build" \
	W=1 C=2 $hooks > "$blog" 2>&1; then
	echo "ok - module builds against $kver"
else
	tail -n 40 "$blog" >&2
	echo "not ok - module builds against $kver # see $blog"
	exit 1
fi
prod=$tree/opt/vfmig-production
rm -rf "$prod"
cp -a "$dst" "$prod"
in_tree "$tree" make -s -C /opt/vfmig-production KDIR="/lib/modules/$kver/build" clean \
	> /dev/null 2>&1
if in_tree "$tree" make -C /opt/vfmig-production KDIR="/lib/modules/$kver/build" \
	W=1 >> "$blog" 2>&1; then
	echo "ok - module builds against $kver without CONFIG_VFMIG_FAULT_INJECTION"
else
	tail -n 40 "$blog" >&2
	echo "not ok - module builds against $kver without CONFIG_VFMIG_FAULT_INJECTION # see $blog"
	exit 1
fi
# Our own diagnostics only: the kernel headers are not ours to fix.
if grep -E '^(/opt/vfmig(-production)?/)?(drivers|include)/.*: (warning|error):' "$blog" >&2; then
	echo "not ok - W=1 and sparse (C=2) report nothing # see $blog"
else
	echo "ok - W=1 and sparse (C=2) report nothing"
fi
# The fault files' names (string literals of fault_inject.c only; not a
# symbol name, which a production build's DWARF keeps for inlines): in
# the test build, in no production build.
holds_hooks() { grep -qa fail_arc "$1"; }
if holds_hooks "$dst/$ko" && ! holds_hooks "$prod/$ko"; then
	echo "ok - only the CONFIG_VFMIG_FAULT_INJECTION build carries the fault hooks"
else
	echo "not ok - only the CONFIG_VFMIG_FAULT_INJECTION build carries the fault hooks # test build: $(holds_hooks "$dst/$ko" && echo has || echo lacks) them, production: $(holds_hooks "$prod/$ko" && echo has || echo lacks) them"
fi
rm -rf "$prod"

# Two install paths, one per kernel, so both work every run and the
# suites load what each installed: the stock kernel's module goes in
# through DKMS (dkms.conf), as a host installs it; the rig kernels' (debug,
# iommufd) through "make install" (modules_install, then depmod: the
# Makefile says why). No depmod here: modinfo must name the file just installed, which
# it only does if the install ran depmod, and a copy left by the other
# path would shadow it, so that one goes first.
mods=/lib/modules/$kver/updates
if [ "${VFMIG_KERNEL:-stock}" != stock ]; then
	how="make install"
	want=$mods/drivers/vfio/pci/vfmig/vfmig-vfio-pci.ko
	rm -rf "$tree$mods/dkms"
	do_install() {
		in_tree "$tree" make -C /opt/vfmig KDIR="/lib/modules/$kver/build" $hooks install
	}
else
	how=DKMS
	want=$mods/dkms/vfmig-vfio-pci.ko
	rm -f "$tree$mods"/drivers/vfio/pci/vfmig/vfmig-vfio-pci.ko*
	do_install() { dkms_install "$tree" "$kver" "$hooks"; }
fi
# Both compress the module as the kernel's own are (.ko.xz on Debian).
if do_install >> "$blog" 2>&1 &&
	got=$(in_tree "$tree" modinfo -k "$kver" -n vfmig-vfio-pci 2>> "$blog") &&
	[ "${got%.ko*}.ko" = "$want" ]; then
	echo "ok - $how installs the module for $kver and modprobe finds it there"
else
	tail -n 20 "$blog" >&2
	echo "not ok - $how installs the module for $kver # modinfo names '${got:-nothing}', expected $want; see $blog"
	exit 1
fi

# Guest programs and tools (lib.sh, guest_programs).
if ! guest_programs "$tree" "$blog"; then
	tail -n 20 "$blog" >&2
	echo "not ok - guest program $guest_failed builds # see $blog"
	exit 1
fi
echo "ok - guest programs and vfmigctl build with -Wall -Wextra -Werror"

# The driver-agnostic migration uAPI conformance suite: one source file, no
# vfmig library, so that it stays usable on any VFIO migration driver.
if ! in_tree "$tree" sh -c "cd /opt/vfmig && mkdir -p bin && gcc $GUEST_CFLAGS \
	-o bin/vfio-mig-conformance tools/vfio-mig-conformance/vfio-mig-conformance.c" \
	>> "$blog" 2>&1; then
	tail -n 20 "$blog" >&2
	echo "not ok - vfio-mig-conformance builds # see $blog"
	exit 1
fi
echo "ok - vfio-mig-conformance builds with -Wall -Wextra -Werror"

# The kernel's mtty sample (samples/vfio-mdev/mtty.c), the second driver the
# conformance suite runs on: built out of tree from the unpacked kernel
# source at build time (never copied into this repository), into
# /opt/vfmig/mtty/mtty.ko. Only for a kernel with VFIO_MDEV: the debug
# kernel has none, so there the suite says mtty was skipped and why.
kbuild=$tree/lib/modules/$kver/build
if grep -q '^CONFIG_VFIO_MDEV=[ym]' "$kbuild/.config" 2>/dev/null ||
	grep -q '^CONFIG_VFIO_MDEV=[ym]' "$tree/boot/config-$kver" 2>/dev/null; then
	mkdir -p "$dst/mtty"
	cp "$VFMIG_CACHE/linux-source/samples/vfio-mdev/mtty.c" "$dst/mtty/" &&
		echo 'obj-m := mtty.o' > "$dst/mtty/Kbuild" ||
		{ echo "not ok - the kernel's mtty sample is in $VFMIG_CACHE/linux-source"; exit 1; }
	if in_tree "$tree" make -C "/lib/modules/$kver/build" M=/opt/vfmig/mtty \
		modules >> "$blog" 2>&1; then
		echo "ok - the kernel's mtty sample builds against $kver"
	else
		tail -n 20 "$blog" >&2
		echo "not ok - the kernel's mtty sample builds against $kver # see $blog"
		exit 1
	fi
else
	echo "# mtty sample not built: $kver has no CONFIG_VFIO_MDEV"
fi
