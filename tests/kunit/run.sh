#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Build and run vfmig's KUnit suites (drivers/vfio/pci/vfmig/tests/) under
# UML with the kernel's own kunit.py, from the kernel source the rig
# unpacks (tests/rig/build-tree.sh), exactly as a kernel developer would:
#
#   kunit.py run --arch=um --kunitconfig=drivers/vfio/pci/vfmig
#
# The kernel tree is a private copy of the source (hard links: cheap, and
# the pristine source stays untouched) with the in-tree hook applied
# (linux-intree.patch: drivers/vfio/pci/ sources and builds vfmig/) and this
# checkout's driver linked in as drivers/vfio/pci/vfmig; the build directory
# is cached. Prints one TAP line per KUnit case (each parameter of a
# parameterised case counts), checked by tests/harness/tapcheck.py, and
# exits non-zero on any failure, including kunit.py's own.
set -uo pipefail
. "$(dirname "$0")/../rig/lib.sh"

src=$VFMIG_CACHE/linux-source
[ -f "$src/.vfmig-key" ] || die "no kernel source: run tests/rig/build-tree.sh"
ksrc=$VFMIG_CACHE/kunit-src
build=$VFMIG_CACHE/kunit-build
hook=$VFMIG_TOP/tests/kunit/linux-intree.patch
mkdir -p "$VFMIG_OUT"

key="$(cat "$src/.vfmig-key") $(sha256sum < "$hook" | cut -c1-16)"
if [ "$(cat "$ksrc/.vfmig-key" 2>/dev/null)" != "$key" ]; then
	log "linking a kernel tree for KUnit"
	rm -rf "$ksrc" "$build"
	cp -al "$src" "$ksrc"
	# Copied, not patched in place: the hard link to the pristine source
	# must not be written through.
	for f in Kconfig Makefile; do
		cp "$ksrc/drivers/vfio/pci/$f" "$ksrc/drivers/vfio/pci/$f.new"
		mv "$ksrc/drivers/vfio/pci/$f.new" "$ksrc/drivers/vfio/pci/$f"
	done
	(cd "$ksrc" && patch -p1 --fuzz=0 --quiet --no-backup-if-mismatch) < "$hook" ||
		die "the in-tree hook does not apply to $(cat "$src/.vfmig-key")"
	rm -f "$ksrc/.vfmig-key"
	echo "$key" > "$ksrc/.vfmig-key"
fi
# The links follow this checkout, wherever it is. make judges by mtime, and
# another checkout's files can be older than objects built from this one's
# (or the reverse): when the checkout changes, its objects go.
if [ "$(cat "$build/.vfmig-top" 2>/dev/null)" != "$VFMIG_TOP" ]; then
	rm -rf "$build/drivers/vfio/pci/vfmig"
	mkdir -p "$build"
	echo "$VFMIG_TOP" > "$build/.vfmig-top"
fi
ln -sfn "$VFMIG_TOP/drivers/vfio/pci/vfmig" "$ksrc/drivers/vfio/pci/vfmig"
ln -sfn "$VFMIG_TOP/include/vfmig" "$ksrc/include/vfmig"

# crc32c() is LIBCRC32C's where <linux/crc32.h> does not declare it (the
# probe of VFMIG_CRC32C_IN_CRC32 in drivers/vfio/pci/vfmig/Kconfig; 6.12),
# and CRC32's, which vfmig selects, where it does (7.2, which has no
# LIBCRC32C). The kunitconfig cannot list it: kunit.py fails a run whose
# .config lacks any option listed there, as 7.2's always would.
crc=()
grep -q "u32 crc32c" "$ksrc/include/linux/crc32.h" ||
	crc=(--kconfig_add=CONFIG_LIBCRC32C=y)

# kunit.py parses the results itself, so its exit status means something:
# non-zero for a failed, crashed or missing case, or a build that failed.
# Its raw log (every KTAP line and every kernel message) is what the
# checker below reads.
t0=$(date +%s)
# A build that fails leaves the last run's log behind: never report that.
rm -f "$build/test.log"
(cd "$ksrc" && python3 tools/testing/kunit/kunit.py run --arch=um \
	--build_dir="$build" --kunitconfig=drivers/vfio/pci/vfmig "${crc[@]}" \
	--jobs="$(nproc)" --timeout=900 --json="$VFMIG_OUT/kunit.json") \
	> "$VFMIG_OUT/kunit-parsed.log" 2> "$VFMIG_OUT/kunit-build.log"
rc=$?
log "kunit.py finished in $(($(date +%s) - t0))s (exit $rc)"
raw=$VFMIG_OUT/kunit.log
cp "$build/test.log" "$raw" 2>/dev/null || : > "$raw"

# --- results ---
# Every case against the plans KUnit printed, the suites we build, and the
# whole kernel log for splats (tests/harness/tapcheck.py). KUnit prints no
# plan for the parameters of a parameterised case, so plans are required
# down to the suites' cases.
python3 "$VFMIG_TOP/tests/harness/tapcheck.py" --prefix kunit --plans-to-depth 1 \
	--expect vfmig_stream,vfmig_fsm,vfmig_reset,vfmig_fsm_no_p2p,vfmig_resume,vfmig_access --kernel-log "$raw" "$raw"
prc=$?
if [ "$rc" -eq 0 ]; then
	echo "ok - kunit kunit.py reports every suite passed"
else
	echo "not ok - kunit kunit.py reports every suite passed # exit $rc, see $VFMIG_OUT/kunit-parsed.log"
fi
[ "$rc" -eq 0 ] && [ "$prc" -eq 0 ]
