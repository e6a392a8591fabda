#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Coverage-guided fuzzing of the driver's stream codec in userspace:
#
#   tests/fuzz/run.sh [SECONDS]        (default 60)
#
# Builds drivers/vfio/pci/vfmig/stream_codec.c itself, unchanged, against
# the small kernel shim in tests/fuzz/shim/, into a libFuzzer target
# (tests/fuzz/stream_fuzz.c) with ASan and UBSan; generates the seed corpus
# with the codec's own writer (tests/fuzz/stream_seeds.c); checks that the
# target accepts the valid seeds and refuses the broken ones (so that its
# checks are shown able to fail); then fuzzes for SECONDS with one worker
# from a fresh corpus. Prints TAP (plan 1..3) and the figures libFuzzer
# reports; exits non-zero on any failure. A crash leaves its input in
# out/fuzz/artifacts/ (replay: out/fuzz/stream_fuzz FILE).
#
# VFMIG_FUZZ_CODEC=FILE builds another copy of the codec instead: only for
# showing that the fuzzer finds a bug planted in a scratch copy
# (Documentation/fuzzing.md); never point it into the tree.
#
# Needs clang and libFuzzer's runtime (Debian: clang, libclang-rt-N-dev;
# tests/rig/setup-host.sh installs both).
set -uo pipefail
. "$(dirname "$0")/../rig/lib.sh"

secs=${1:-60}
[[ $secs =~ ^[1-9][0-9]*$ ]] || die "usage: $0 [SECONDS]"
top=$VFMIG_TOP
codec=${VFMIG_FUZZ_CODEC:-$top/drivers/vfio/pci/vfmig/stream_codec.c}
out=$VFMIG_OUT/fuzz
mkdir -p "$out"

echo "1..3"

# Warnings as the kernel's W=1 sees them (no -Wsign-compare), as errors: a
# shim that differs from the kernel's headers shows up here first.
cflags=(-std=gnu11 -g -O1 -Wall -Wextra -Wno-sign-compare
	-Wno-unused-parameter -Werror
	-I "$top/tests/fuzz/shim" -I "$top/tools/lib" -I "$top/include"
	-I "$top/drivers/vfio/pci/vfmig")
san=(-fsanitize=address,undefined -fno-sanitize-recover=all)
srcs=("$codec" "$top/tools/lib/crc32c.c")
rm -f "$out/stream_fuzz" "$out/stream_seeds"
if clang "${cflags[@]}" "${san[@]}" -fsanitize=fuzzer \
	"$top/tests/fuzz/stream_fuzz.c" "${srcs[@]}" -o "$out/stream_fuzz" \
	>"$out/build.log" 2>&1 &&
   clang "${cflags[@]}" "${san[@]}" \
	"$top/tests/fuzz/stream_seeds.c" "${srcs[@]}" -o "$out/stream_seeds" \
	>>"$out/build.log" 2>&1; then
	echo "ok 1 - stream fuzzer builds from ${codec#"$top"/}"
else
	sed 's/^/# /' "$out/build.log" | tail -n 30
	echo "not ok 1 - stream fuzzer builds from ${codec#"$top"/} (see out/fuzz/build.log; clang and libclang-rt-N-dev: tests/rig/setup-host.sh)"
	echo "not ok 2 - seeds accepted/refused as expected # not run: no fuzzer"
	echo "not ok 3 - fuzzing # not run: no fuzzer"
	exit 1
fi

# The seeds, and what the target makes of each.
seeds=$out/seeds
rm -rf "$seeds"
mkdir -p "$seeds"
fail=0
if ! "$out/stream_seeds" "$seeds" >"$out/seeds.log" 2>&1; then
	sed 's/^/# /' "$out/seeds.log"
	echo "not ok 2 - seeds accepted/refused as expected (the generator failed)"
	fail=1
else
	nvalid=$(find "$seeds" -name 'valid-*' | wc -l)
	nbad=$(find "$seeds" -name 'bad-*' | wc -l)
	VFMIG_FUZZ_EXPECT=accept "$out/stream_fuzz" "$seeds"/valid-* \
		>"$out/seeds-valid.log" 2>&1
	rc_valid=$?
	VFMIG_FUZZ_EXPECT=refuse "$out/stream_fuzz" "$seeds"/bad-* \
		>"$out/seeds-bad.log" 2>&1
	rc_bad=$?
	acc=$(grep -c '^vfmig-fuzz: accepted' "$out/seeds-valid.log")
	ref=$(grep -c '^vfmig-fuzz: refused' "$out/seeds-bad.log")
	if [ $rc_valid -eq 0 ] && [ $rc_bad -eq 0 ] && [ "$acc" -eq "$nvalid" ] &&
	   [ "$ref" -eq "$nbad" ] && [ "$nvalid" -gt 0 ] && [ "$nbad" -gt 0 ]; then
		echo "ok 2 - seeds accepted/refused as expected ($acc valid accepted, $ref broken refused)"
	else
		# Each failure with the seed it came from (libFuzzer stops at
		# the first crash, so later seeds did not run).
		awk '/^Running: / { seed = $2 }
		     /ORACLE|ERROR: |runtime error|^vfmig-fuzz: (accepted|refused)/ &&
		     !/^vfmig-fuzz: (accepted|refused)/ { print seed ": " $0 }' \
			"$out/seeds-valid.log" "$out/seeds-bad.log" |
			sed "s|$seeds/||; s/^/# /" | head -n 10
		echo "not ok 2 - seeds accepted/refused as expected ($acc of $nvalid valid accepted, $ref of $nbad broken refused)"
		fail=1
	fi
fi

# The fuzzing run: one worker (the host's cores are shared with the VMs),
# a fresh corpus, the seeds as its start.
corpus=$out/corpus
rm -rf "$corpus" "$out/artifacts"
mkdir -p "$corpus" "$out/artifacts"
log "fuzzing the stream codec for ${secs}s"
t0=$(date +%s.%N)
"$out/stream_fuzz" -max_total_time="$secs" -print_final_stats=1 \
	-timeout=20 -rss_limit_mb=2048 -artifact_prefix="$out/artifacts/" \
	"$corpus" "$seeds" >"$out/fuzz.log" 2>&1
rc=$?
t1=$(date +%s.%N)
stat() { sed -n "s/^stat::$1: *//p" "$out/fuzz.log" | tail -n 1; }
execs=$(stat number_of_executed_units)
rate=$(stat average_exec_per_sec)
rss=$(stat peak_rss_mb)
# The last status line, e.g. "#123456 DONE cov: 612 ft: 2345 corp: 321/4Mb".
last=$(grep -E '^#[0-9]+.*cov: ' "$out/fuzz.log" | tail -n 1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')
echo "# libFuzzer: ${execs:-?} executions, ${rate:-?} exec/s, cov ${cov:-?} edges, ft ${ft:-?} features, corpus ${corp:-?} inputs, peak RSS ${rss:-?} MB, ${wall} s wall"
# Which lines and branches of the codec the corpus reaches, when LLVM's
# coverage tools are there (Debian: llvm): a figure for the record, not a
# test.
ver=$(clang -dumpversion | cut -d. -f1)
profdata=$(command -v "llvm-profdata-$ver" llvm-profdata | head -n 1)
llvmcov=$(command -v "llvm-cov-$ver" llvm-cov | head -n 1)
if [ $rc -ne 0 ]; then
	:	# a corpus that crashes measures nothing
elif [ -z "$profdata" ] || [ -z "$llvmcov" ]; then
	echo "# corpus line coverage not measured (needs llvm-profdata and llvm-cov, Debian: llvm)"
elif clang "${cflags[@]}" -fsanitize=fuzzer -fprofile-instr-generate \
	-fcoverage-mapping "$top/tests/fuzz/stream_fuzz.c" "${srcs[@]}" \
	-o "$out/stream_cov" >>"$out/build.log" 2>&1 &&
   LLVM_PROFILE_FILE="$out/cov.profraw" "$out/stream_cov" -runs=0 \
	-artifact_prefix="$out/artifacts/" "$corpus" "$seeds" >"$out/cov.log" 2>&1 &&
   "$profdata" merge -o "$out/cov.profdata" "$out/cov.profraw" &&
   "$llvmcov" report "$out/stream_cov" -instr-profile="$out/cov.profdata" \
	"$codec" >"$out/cov-report.txt" 2>&1; then
	# Columns: regions missed cover functions missed executed lines
	# missed cover branches missed cover.
	awk -v f="${codec#"$top"/}" '$1 ~ /stream_codec\.c$/ {
		printf "# corpus coverage of %s: lines %s (%d of %d), branches %s (%d of %d), functions %s\n",
			f, $10, $8 - $9, $8, $13, $11 - $12, $11, $7 }' \
		"$out/cov-report.txt"
else
	echo "# corpus line coverage not measured: see out/fuzz/cov.log, out/fuzz/cov-report.txt"
fi
if [ $rc -eq 0 ] && [ -n "$execs" ] && [ -z "$(ls -A "$out/artifacts")" ]; then
	echo "ok 3 - $execs executions in ${wall} s, coverage $cov edges, no crash/leak/oracle failure"
else
	grep -E 'ORACLE|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY|Test unit written' \
		"$out/fuzz.log" | head -n 20 | sed 's/^/# /'
	echo "not ok 3 - fuzzing for ${secs}s found a problem (libFuzzer exit $rc; out/fuzz/fuzz.log, out/fuzz/artifacts/)"
	fail=1
fi
exit $fail
