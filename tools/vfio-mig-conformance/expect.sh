#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Compare a vfio-mig-conformance run with a driver's list of expected
# results, so that CI can run the suite on a driver with known failures
# and still fail on any change: a new failure, a new skip, and a known
# failure that now passes (the list must then be updated).
#
# Usage: expect.sh EXPECTED TAP
#   EXPECTED  lines "TEST RESULT [# why]", RESULT one of pass, fail, skip;
#             a test not listed is expected to pass; '#' starts a comment
#   TAP       the program's output (kselftest harness TAP)
# Prints one line per test ("ok"/"DIFF", test, result, expected) and exits
# 0 when every result is the expected one and the program ran its plan.
set -u
[ $# -eq 2 ] || { echo "usage: $0 EXPECTED TAP" >&2; exit 2; }
awk '
FNR == NR {
	sub(/#.*/, "")
	if (NF == 0)
		next
	if (NF != 2 || $2 !~ /^(pass|fail|skip)$/) {
		printf "%s:%d: not \"TEST pass|fail|skip\"\n", FILENAME, FNR
		bad = 1
		next
	}
	want[$1] = $2
	next
}
/^1\.\.[0-9]+/ { plan = substr($1, 4) + 0 }
/^(not )?ok [0-9]+ / {
	res = $1 == "not" ? "fail" : "pass"
	name = $1 == "not" ? $4 : $3
	if ($0 ~ /# SKIP/)
		res = "skip"
	n++
	sub(/^.*\./, "", name)	# fixture.variant.test -> test
	e = name in want ? want[name] : "pass"
	seen[name] = 1
	if (res == e) {
		printf "ok   %-50s %s\n", name, res
	} else {
		printf "DIFF %-50s %s (expected %s)\n", name, res, e
		bad = 1
	}
}
END {
	if (plan == 0 || n != plan) {
		printf "DIFF the program ran %d of its %d tests\n", n, plan
		bad = 1
	}
	for (t in want)
		if (!(t in seen)) {
			printf "DIFF %-50s not run (expected %s)\n", t, want[t]
			bad = 1
		}
	exit bad
}' "$1" "$2"
