#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Take the benchmark's figures out of its serial log and judge them:
#
#   bench.sh LOG OUTDIR
#
# private_mem_bench prints two tables, populate and conversion, each under a
# header line that starts with "backing".  Out of them:
#
#   OUTDIR/bench.txt   the program's output, the populate table again with
#                      each row's ratio to the shared row of its page size
#                      (fault_x, time_x), and PASS/FAIL for the targets
#   OUTDIR/bench.csv   populate rows, each joined with its conversions
#   OUTDIR/bench.png   populate faults and time per backing, when gnuplot
#                      (Debian: gnuplot-nox) is installed
#
# The L2 boots of bench.list (guest/l2-boot.sh prints one "L2BENCH" line per
# row) make one more table in bench.txt: an unmodified Linux under the
# project's QEMU, 2 GiB of its RAM on each backing.
#
# Exit status 1 when a target fails or the log has no figures.
set -euo pipefail

log=$1
out=$2
mkdir -p "$out"

# The program's output is the log's "# " lines of the bench test.
sed -n 's/^# //p' "$log" > "$out/bench.raw"
# One file per table, the header first.
awk -v out="$out" '
	$1 == "backing" { t++; f = out "/table" t ".txt"; nf = NF }
	f && NF != nf { f = "" }
	f { print > f }' "$out/bench.raw"
if [ ! -s "$out/table1.txt" ]; then
	echo "bench: no figures in $log" >&2
	exit 1
fi
[ -s "$out/table2.txt" ] || : > "$out/table2.txt"

# CSV: each populate row, once per conversion of its backing (or alone).
awk '
	FNR == 1 { file++; for (i = 1; i <= NF; i++) col[file, i] = $i; n[file] = NF; next }
	file == 1 { row[$1] = $0; order[++rows] = $1; next }
	{ conv[$1] = conv[$1] $0 "\n" }
	END {
		for (i = 1; i <= n[1]; i++) printf "%s,", col[1, i]
		for (i = 2; i <= n[2]; i++) printf "%s%s", col[2, i], i < n[2] ? "," : "\n"
		for (r = 1; r <= rows; r++) {
			b = order[r]
			gsub(/ +/, ",", row[b])
			if (!(b in conv)) { printf "%s", row[b]; for (i = 2; i <= n[2]; i++) printf ","; print ""; continue }
			k = split(conv[b], lines, "\n")
			for (l = 1; l < k; l++) {
				$0 = lines[l]
				printf "%s", row[b]
				for (i = 2; i <= NF; i++) printf ",%s", $i == "-" ? "" : $i
				print ""
			}
		}
	}' "$out/table1.txt" "$out/table2.txt" > "$out/bench.csv"

# Ratios and targets, from this run's numbers only.
awk '
	function skip(what) { printf "SKIP: %s\n", what }
	function target(ok, what) { printf "%s: %s\n", ok ? "PASS" : "FAIL", what; failed += !ok }
	FNR == 1 { file++; for (i = 1; i <= NF; i++) c[file, $i] = i; next }
	file == 1 {
		seen[$1] = 1; order[++rows] = $1; size = $c[1, "size_mb"] * 1048576
		faults[$1] = $c[1, "faults"]; pop[$1] = $c[1, "populate_s"]
		p4k[$1] = $c[1, "pages_4k"]; p2m[$1] = $c[1, "pages_2m"]; p1g[$1] = $c[1, "pages_1g"]
		line[$1] = $0
		next
	}
	$c[2, "range_kb"] == 4 {
		cv[$1] = 1
		mix4k[$1] = $c[2, "mixed_4k"]; mix2m[$1] = $c[2, "mixed_2m"]
		aft4k[$1] = $c[2, "after_4k"]; aft2m[$1] = $c[2, "after_2m"]; aft1g[$1] = $c[2, "after_1g"]
	}
	{ mem[$1] = $c[2, "mem_ratio"] }
	END {
		printf "\n%-20s %8s %8s\n", "populate vs shared", "fault_x", "time_x"
		for (r = 1; r <= rows; r++) {
			b = order[r]
			ref = b ~ /1G$/ ? "shared-hugetlb-1G" : b ~ /2M$/ ? "shared-hugetlb-2M" : "shared-anon-4K"
			if (ref in seen)
				printf "%-20s %8.2f %8.2f\n", b, faults[b] / faults[ref], pop[b] / pop[ref]
		}
		print ""
		g = "private-memfd-1G"; m = "private-memfd-2M"; gm = "private-guest_memfd"
		s2 = "shared-hugetlb-2M"; s1 = "shared-hugetlb-1G"
		want1g = size / 1073741824; want2m = size / 2097152
		if (g in seen)
			target(faults[g] == want1g && p1g[g] == want1g,
			       sprintf("private hugetlb 1G: %d faults and %d 1G mappings on populate, want %d", faults[g], p1g[g], want1g))
		else skip("no private hugetlb 1G row")
		if (m in seen)
			target(faults[m] == want2m && p2m[m] == want2m,
			       sprintf("private hugetlb 2M: %d faults and %d 2M mappings on populate, want %d", faults[m], p2m[m], want2m))
		else skip("no private hugetlb 2M row")
		if ((m in seen) && (s2 in seen))
			target(pop[m] <= 1.2 * pop[s2],
			       sprintf("private hugetlb 2M populate %.2fs within 1.2x of shared hugetlb 2M %.2fs", pop[m], pop[s2]))
		if ((g in seen) && (s1 in seen))
			target(pop[g] <= 1.2 * pop[s1],
			       sprintf("private hugetlb 1G populate %.2fs within 1.2x of shared hugetlb 1G %.2fs", pop[g], pop[s1]))
		if ((m in seen) && (gm in seen))
			target(faults[m] * 50 <= faults[gm],
			       sprintf("private hugetlb 2M: %d faults, >= 50x fewer than guest_memfd'"'"'s %d", faults[m], faults[gm]))
		if (g in cv) {
			target(mix4k[g] <= 512 && mix2m[g] == 511,
			       sprintf("1G: one 4K page shared leaves %d 4K and %d 2M mappings in its 1G page, want <= 512 and 511", mix4k[g], mix2m[g]))
			target(aft1g[g] == want1g && !aft4k[g] && !aft2m[g],
			       sprintf("1G: converted back and re-touched: %d 1G mappings (and %d/%d 4K/2M), want %d", aft1g[g], aft4k[g], aft2m[g], want1g))
		}
		if ((g in mem) && (m in mem))
			target(mem[m] == 1.0 && mem[g] == 1.0,
			       sprintf("no double allocation: %.2f (2M) and %.2f (1G) hugetlb bytes per guest byte, want 1.00", mem[m], mem[g]))
		exit failed > 0
	}' "$out/table1.txt" "$out/table2.txt" > "$out/judged.txt" && rc=0 || rc=$?

# The L2 boots: seconds from QEMU's start to the L2's memory written and
# verified and to QEMU's exit, QEMU's exit status, KVM's mappings then.
sed -n 's/^# L2BENCH //p' "$log" | awk '
	BEGIN { printf "\n%-14s %3s %10s %7s %3s %9s %9s %9s\n", "l2_boot", "gb", "verified_s",
		"exit_s", "rc", "pages_4k", "pages_2m", "pages_1g" }
	{
		split("", v)
		for (i = 1; i <= NF; i++) { eq = index($i, "="); v[substr($i, 1, eq - 1)] = substr($i, eq + 1) }
		printf "%-14s %3s %10s %7s %3s %9s %9s %9s\n", v["row"], v["gb"], v["verified_s"],
			v["exit_s"], v["rc"], v["pages_4k"] == "" ? "-" : v["pages_4k"],
			v["pages_2m"] == "" ? "-" : v["pages_2m"], v["pages_1g"] == "" ? "-" : v["pages_1g"]
	}' > "$out/l2.txt"

{ echo "# $(date -u +%Y-%m-%d) $(sed -n 's/^VERSION=//p' "$(dirname "$0")/../BASE") under QEMU TCG"
  cat "$out/bench.raw" "$out/judged.txt" "$out/l2.txt"; } > "$out/bench.txt"
rm -f "$out/bench.raw" "$out/judged.txt" "$out/table1.txt" "$out/table2.txt" "$out/l2.txt"
sed -n '/^populate vs shared/,$p' "$out/bench.txt"
echo "  BENCH   $out/bench.txt, $out/bench.csv"

if command -v gnuplot >/dev/null; then
	# One line per backing: its populate row (the first CSV line of each).
	awk -F, 'NR > 1 && !seen[$1]++ { printf "\"%s\" %s %s\n", $1, $3, $7 }' \
		"$out/bench.csv" > "$out/populate.dat"
	gnuplot <<GP
set terminal png size 1000,500 noenhanced
set output "$out/bench.png"
set multiplot layout 1,2 title "populate, $(awk -F, 'NR == 2 { print $2 }' "$out/bench.csv") MiB guest (QEMU TCG: ratios, not absolute times)"
set style data histograms
set style fill solid
set xtics rotate by -30
set logscale y
set title "KVM page faults"
plot "$out/populate.dat" using 2:xtic(1) notitle
unset logscale y
set title "populate time (s)"
plot "$out/populate.dat" using 3:xtic(1) notitle
unset multiplot
GP
	echo "  BENCH   $out/bench.png"
else
	echo "  BENCH   no gnuplot: no chart (apt-get install gnuplot-nox)"
fi
exit $rc
