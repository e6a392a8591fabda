#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The guest test suites. Usage: run-tests.sh [all|SUITE...]
#
# Prints KTAP: a plan of one result per suite, then each suite as a nested
# subtest with its own plan. Every suite runs in a process of its own, so a
# syntax error, an exit or a crash in one ends only that suite, and shows:
# its result line fails on a non-zero exit status, and the host's checker
# (tests/harness/tapcheck.py) compares each plan with what ran.
# Exits non-zero when a suite failed.
. /opt/vfmig/tests/guest/lib.sh

suites=("$@")
[ "${suites[0]:-all}" = all ] && read -ra suites < /opt/vfmig/tests/guest/all-suites
echo "KTAP version 1"
plan "${#suites[@]}"
for s in "${suites[@]}"; do
	# The kernel log names the suite, so a splat can be placed.
	echo "VFMIG-SUITE $s" > /dev/kmsg
	echo "    KTAP version 1"
	echo "    # Subtest: $s"
	bash "/opt/vfmig/tests/guest/suite-$s.sh" 2>&1 | sed -u 's/^/    /'
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 0 ]; then
		ok "$s"
	else
		not_ok "$s" "suite exit status $rc"
	fi
done
done_testing
