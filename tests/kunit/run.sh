#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Build and run vfmig's KUnit suites under UML with kunit.py from the
# kernel source the rig unpacks (tests/rig/build-tree.sh).
#
# The driver and the tests are built from this repository's files, linked
# into a private copy of the kernel tree (hard links: cheap, and the
# pristine source stays untouched); the build directory is cached.
# Prints one TAP line per KUnit test case (each parameter of a
# parameterized case counts) and exits non-zero on any failure.
set -uo pipefail
. "$(dirname "$0")/../rig/lib.sh"

src=$VFMIG_CACHE/linux-source
[ -f "$src/.vfmig-key" ] || die "no kernel source: run tests/rig/build-tree.sh"
ksrc=$VFMIG_CACHE/kunit-src
build=$VFMIG_CACHE/kunit-build
mkdir -p "$VFMIG_OUT"

if [ "$(cat "$ksrc/.vfmig-key" 2>/dev/null)" != "$(cat "$src/.vfmig-key")" ]; then
	log "linking a kernel tree for KUnit"
	rm -rf "$ksrc" "$build"
	cp -al "$src" "$ksrc"
	# Rewritten, not edited in place: the hard link to the pristine
	# source must not be written through.
	for f in Kconfig Makefile; do
		cp "$ksrc/drivers/vfio/pci/$f" "$ksrc/drivers/vfio/pci/$f.new"
		rm "$ksrc/drivers/vfio/pci/$f"
		mv "$ksrc/drivers/vfio/pci/$f.new" "$ksrc/drivers/vfio/pci/$f"
	done
	printf 'source "drivers/vfio/pci/vfmig/Kconfig"\nsource "drivers/vfio/pci/vfmig-kunit/Kconfig"\n' \
		>> "$ksrc/drivers/vfio/pci/Kconfig"
	printf 'obj-$(CONFIG_VFMIG_VFIO_PCI) += vfmig/\nobj-$(CONFIG_VFMIG_KUNIT_TEST) += vfmig-kunit/\n' \
		>> "$ksrc/drivers/vfio/pci/Makefile"
	rm -f "$ksrc/.vfmig-key"
	cp "$src/.vfmig-key" "$ksrc/.vfmig-key"
fi
# The links follow this checkout, wherever it is.
ln -sfn "$VFMIG_TOP/drivers/vfio/pci/vfmig" "$ksrc/drivers/vfio/pci/vfmig"
ln -sfn "$VFMIG_TOP/tests/kunit" "$ksrc/drivers/vfio/pci/vfmig-kunit"
ln -sfn "$VFMIG_TOP/include/vfmig" "$ksrc/include/vfmig"

raw=$VFMIG_OUT/kunit.ktap
t0=$(date +%s)
(cd "$ksrc" && python3 tools/testing/kunit/kunit.py run --arch=um \
	--build_dir="$build" --kunitconfig="$VFMIG_TOP/tests/kunit/.kunitconfig" \
	--jobs="$(nproc)" --timeout=900 --raw_output=all) > "$raw" 2> "$VFMIG_OUT/kunit-build.log"
rc=$?
log "kunit.py finished in $(($(date +%s) - t0))s (exit $rc)"
# Every case against the plans KUnit printed, the suites we build, and the
# whole kernel log for splats (tests/harness/tapcheck.py). KUnit prints no
# plan for the parameters of a parameterised case, so plans are required
# down to the suites' cases.
python3 "$VFMIG_TOP/tests/harness/tapcheck.py" --prefix kunit --plans-to-depth 1 \
	--expect vfmig_stream,vfmig_fsm,vfmig_reset --kernel-log "$raw" "$raw"
prc=$?
[ "$rc" -eq 0 ] && [ "$prc" -eq 0 ]
