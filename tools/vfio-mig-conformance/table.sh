#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Side-by-side Markdown table of vfio-mig-conformance runs, one column a run.
# Usage: table.sh LABEL=TAP...   (e.g. "vfmig group=vfmig-group.tap")
# A test a run did not report shows as "-".
set -u
[ $# -ge 1 ] || { echo "usage: $0 LABEL=TAP..." >&2; exit 2; }
for arg; do
	printf '%s\t%s\n' "${arg%%=*}" "${arg#*=}"
done | awk -F '\t' '
{
	label[++runs] = $1
	while ((getline line < $2) > 0) {
		if (line !~ /^(not )?ok [0-9]+ /)
			continue
		split(line, f, " ")
		name = f[1] == "not" ? f[4] : f[3]
		res = f[1] == "not" ? "**FAIL**" : "pass"
		if (line ~ /# SKIP/)
			res = "skip"
		sub(/^.*\./, "", name)
		if (!(name in known)) {
			known[name] = 1
			order[++tests] = name
		}
		r[runs, name] = res
	}
	close($2)
}
END {
	printf "| test |"
	for (i = 1; i <= runs; i++)
		printf " %s |", label[i]
	printf "\n|---|"
	for (i = 1; i <= runs; i++)
		printf "---|"
	printf "\n"
	for (t = 1; t <= tests; t++) {
		printf "| `%s` |", order[t]
		for (i = 1; i <= runs; i++)
			printf " %s |", ((i, order[t]) in r) ? r[i, order[t]] : "-"
		printf "\n"
	}
}'
