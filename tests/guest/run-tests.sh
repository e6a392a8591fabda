#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The guest test suites. Usage: run-tests.sh [all|SUITE...]
# Prints TAP; exits non-zero when a test failed.
. /opt/vfmig/tests/guest/lib.sh

suites=("$@")
[ "${suites[0]:-all}" = all ] && suites=(passthrough migration faults qemu failures)
for s in "${suites[@]}"; do
	echo "# suite $s"
	. "/opt/vfmig/tests/guest/suite-$s.sh"
done
echo "1..$TAP_N"
echo "# $((TAP_N - TAP_FAILED)) passed, $TAP_FAILED failed"
[ "$TAP_FAILED" -eq 0 ]
