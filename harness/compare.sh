#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The base-vs-patched report of make test-base: the results of one test list
# on the pristine base kernel and on the patched one, test by test.
#
#   compare.sh LIST BASE_RESULTS PATCHED_RESULTS
#
# LIST is harness/tests.list: its "#@ upstream" and "#@ project" lines say
# whose the tests below them are.  The RESULTS files are what qemu.sh writes
# beside its log ("NAME pass|fail|skip").  Only upstream tests can differ; the
# project's tests do not exist on the base and are listed as not applicable.
# A test that fails on both kernels is listed as such.
#
# Exit status: 1 when an upstream test that passes (or skips) on the base
# fails on the patched kernel, or did not run there; 0 otherwise.
set -euo pipefail

list=$1
base=$2
patched=$3

owners=$("$(dirname "$0")/list.sh" owners "$list")
awk -v owners="$owners" '
	BEGIN {
		no = split(owners, l, "\n")
		for (i = 1; i <= no; i++) { split(l[i], f, " "); origin[f[1]] = f[2] }
	}

	{ file = FILENAME == ARGV[1] ? 1 : 2; r[file, $1] = $2; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
	END {
		fmt = "  %-48s %-8s %-8s %s\n"
		for (pass = 1; pass <= 2; pass++) {
			want = pass == 1 ? "upstream" : "project"
			cnt = same = both_fail = differ = regress = 0
			lines = ""
			for (i = 1; i <= n; i++) {
				t = order[i]
				o = (t in origin) ? origin[t] : "upstream"
				if (o != want) continue
				b = ((1, t) in r) ? r[1, t] : "not-run"
				p = ((2, t) in r) ? r[2, t] : "not-run"
				cnt++
				if (want == "project") v = "n/a (project test)"
				else if (b == p && b == "fail") { v = "fails on both"; both_fail++ }
				else if (b == p) { v = "same"; same++ }
				else if (p == "fail" || p == "not-run") {
					if (b == "fail") { v = "fails on both"; both_fail++ }
					else if (b == "not-run") { v = "DIFFERS"; differ++ }
					else { v = "DIFFERS: regression"; differ++; regress++ }
				} else { v = "DIFFERS"; differ++ }
				lines = lines sprintf(fmt, t, b, p, v)
			}
			if (want == "upstream")
				printf "Upstream tests: %d, %d same, %d failing on both, %d differing (%d regressions)\n",
					cnt, same, both_fail, differ, regress
			else
				printf "Project tests: %d (not applicable on the base kernel)\n", cnt
			printf fmt, "TEST", "BASE", "PATCHED", ""
			printf "%s", lines
			if (want == "upstream") regressions = regress
		}
		exit regressions > 0
	}' "$base" "$patched"
