#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Take the benchmark's figures out of its serial log and judge them:
#
#   bench.sh LOG OUTDIR
#
# private_mem_bench runs every row once per round, R rounds (-r), and
# prints three tables, each under a header line that starts with "backing":
# populate and conversion (counts, the medians of the times, whether the
# counts were the same in every round), and every time of every round with
# its median, min, max and spread, (max - min) / median.  Out of them:
#
#   OUTDIR/bench.txt   the program's output, the populate rows' ratios to
#                      the shared row of their page size (fault_x; time_x
#                      of the medians and the ratio's range over the
#                      rounds' extremes), and PASS, FAIL or NOT JUDGED for
#                      the targets
#   OUTDIR/bench.csv   populate rows, each joined with its conversions
#   OUTDIR/times.csv   every time of every round (the third table)
#   OUTDIR/bench.png   populate faults and time per backing, when gnuplot
#                      (Debian: gnuplot-nox) is installed
#
# Counts are judged exactly and must be the same in every round.  A time
# target "A within K x B" is judged (docs/benchmark.md):
#   - PASS when max(A) <= K * min(B), FAIL when min(A) > K * max(B): the
#     verdict of every pairing of rounds;
#   - else on the medians when the spreads of A and B are both at most
#     SPREAD_MAX percent (default 20);
#   - else NOT JUDGED: spread too large (and with one round: NOT JUDGED).
#
# The L2 boots of bench.list (guest/l2-boot.sh prints one "L2BENCH" line per
# boot, R boots per row) make one more table in bench.txt: an unmodified
# Linux under the project's QEMU, 2 GiB of its RAM on each backing, the
# median and range of its times, its mappings (per round when they differ).
#
# Exit status 1 when a target fails or the log has no figures; NOT JUDGED
# does not fail.
set -euo pipefail

log=$1
out=$2
spread_max=${SPREAD_MAX:-20}
mkdir -p "$out"

# The program's output: the "# " lines of the bench/ test (the L2 boots'
# logs stay in the serial log).
awk '/^HARNESS: BEGIN bench\// { on = 1; next } /^HARNESS: END / { on = 0 }
	on && sub(/^# /, "")' "$log" > "$out/bench.raw"
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
[ -s "$out/table3.txt" ] || : > "$out/table3.txt"

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
awk '{ $1 = $1; gsub(/ /, ","); gsub(/,-/, ","); print }' "$out/table3.txt" > "$out/times.csv"

# Ratios and targets, from this run's numbers only.
awk -v spread_max="$spread_max" '
	function skip(what) { printf "SKIP: %s\n", what }
	function verdict(v, what) { printf "%s: %s\n", v, what; n[v]++ }
	function target(ok, what) { verdict(ok ? "PASS" : "FAIL", what) }
	# "A within K x B" on the populate times of rows a and b (see the top).
	function within(a, b, k, what,   lo, hi, mid, how) {
		mid = pop[a] / pop[b]; lo = pmin[a] / pmax[b]; hi = pmax[a] / pmin[b]
		how = sprintf("%s: %.2fx (medians %.2fs, %.2fs), %.2fx-%.2fx over the rounds'"'"' extremes, spreads %.1f%% and %.1f%%",
			      what, mid, pop[a], pop[b], lo, hi, pspread[a], pspread[b])
		if (nrounds[a] < 2 || nrounds[b] < 2)
			verdict("NOT JUDGED", how ": one round, no spread")
		else if (hi <= k)
			verdict("PASS", how ": every pairing of rounds passes")
		else if (lo > k)
			verdict("FAIL", how ": every pairing of rounds fails")
		else if (pspread[a] <= spread_max && pspread[b] <= spread_max)
			target(mid <= k, how sprintf(" <= %d%%: on the medians", spread_max))
		else
			verdict("NOT JUDGED", how sprintf(": spread too large (limit %d%%)", spread_max))
	}
	FNR == 1 { file++; for (i = 1; i <= NF; i++) c[file, $i] = i; next }
	file == 1 {
		seen[$1] = 1; order[++rows] = $1; size = $c[1, "size_mb"] * 1048576
		faults[$1] = $c[1, "faults"]; pop[$1] = $c[1, "populate_s"]; nrounds[$1] = $c[1, "rounds"]
		p4k[$1] = $c[1, "pages_4k"]; p2m[$1] = $c[1, "pages_2m"]; p1g[$1] = $c[1, "pages_1g"]
		if ($c[1, "counts"] != "same") differ[++ndiffer] = $1 " (populate)"
		next
	}
	file == 2 {
		if ($c[2, "conv_counts"] != "same") differ[++ndiffer] = $1 " (" $c[2, "range_kb"] "K conversion)"
		mem[$1] = $c[2, "mem_ratio"]
		if ($c[2, "range_kb"] == 4) {
			cv[$1] = 1
			mix4k[$1] = $c[2, "mixed_4k"]; mix2m[$1] = $c[2, "mixed_2m"]
			aft4k[$1] = $c[2, "after_4k"]; aft2m[$1] = $c[2, "after_2m"]; aft1g[$1] = $c[2, "after_1g"]
		}
		next
	}
	$c[3, "time"] == "populate_s" {
		pmin[$1] = $c[3, "min"]; pmax[$1] = $c[3, "max"]; pspread[$1] = $c[3, "spread_pct"]
	}
	END {
		printf "\n%-20s %8s %8s %10s %10s %10s\n", "populate vs shared", "fault_x", "time_x",
			"time_x_min", "time_x_max", "spread_pct"
		for (r = 1; r <= rows; r++) {
			b = order[r]
			ref = b ~ /1G$/ ? "shared-hugetlb-1G" : b ~ /2M$/ ? "shared-hugetlb-2M" : "shared-anon-4K"
			if (!(ref in seen))
				continue
			if (b == ref)
				printf "%-20s %8.2f %8.2f %10s %10s %10.1f\n", b, 1, 1, "-", "-", pspread[b]
			else
				printf "%-20s %8.2f %8.2f %10.2f %10.2f %10.1f\n", b, faults[b] / faults[ref],
					pop[b] / pop[ref], pmin[b] / pmax[ref], pmax[b] / pmin[ref], pspread[b]
		}
		print ""
		g = "private-memfd-1G"; m = "private-memfd-2M"; gm = "private-guest_memfd"
		s2 = "shared-hugetlb-2M"; s1 = "shared-hugetlb-1G"
		want1g = size / 1073741824; want2m = size / 2097152
		for (i = 1; i <= ndiffer; i++)
			target(0, "counts differ between rounds: " differ[i])
		if (!ndiffer)
			target(1, "counts (faults, mappings, conversions, memory) the same in every round of every row")
		if (g in seen)
			target(faults[g] == want1g && p1g[g] == want1g,
			       sprintf("private hugetlb 1G: %d faults and %d 1G mappings on populate, want %d", faults[g], p1g[g], want1g))
		else skip("no private hugetlb 1G row")
		if (m in seen)
			target(faults[m] == want2m && p2m[m] == want2m,
			       sprintf("private hugetlb 2M: %d faults and %d 2M mappings on populate, want %d", faults[m], p2m[m], want2m))
		else skip("no private hugetlb 2M row")
		if ((m in seen) && (s2 in seen))
			within(m, s2, 1.2, "private hugetlb 2M populate within 1.2x of shared hugetlb 2M")
		if ((g in seen) && (s1 in seen))
			within(g, s1, 1.2, "private hugetlb 1G populate within 1.2x of shared hugetlb 1G")
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
		printf "verdicts: %d PASS, %d FAIL, %d NOT JUDGED\n", n["PASS"], n["FAIL"], n["NOT JUDGED"]
		exit n["FAIL"] > 0
	}' "$out/table1.txt" "$out/table2.txt" "$out/table3.txt" > "$out/judged.txt" && rc=0 || rc=$?

# The L2 boots, R per row: seconds from QEMU's start to the L2's memory
# written and verified and to QEMU's exit (median, min-max, spread), QEMU's
# exit status and KVM's mappings then, each the same in every round or
# listed per round.
sed -n 's/^# L2BENCH //p' "$log" | awk '
	# Median, min-max and spread of the rounds that have a value.
	function stats(list, what, b,   all, k, v, i, j, t, x, m) {
		all = split(list, t, " ")
		for (i = 1; i <= all; i++) if (t[i] != "-") v[++k] = t[i]
		if (k && k < all)
			notes = notes sprintf("NOTE: l2 %s: %s in %d of %d rounds:%s\n", b, what, k, all, list)
		if (!k) return sprintf("%7s %11s %6s", "-", "-", "-")
		for (i = 2; i <= k; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { x = v[j]; v[j] = v[j - 1]; v[j - 1] = x }
		m = k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
		return sprintf("%7.1f %11s %6.1f", m, v[1] "-" v[k], m > 0 ? (v[k] - v[1]) / m * 100 : 0)
	}
	# The median of a list (- when it has no value).
	function med(list,   all, t, v, i, j, k, x) {
		all = split(list, t, " ")
		for (i = 1; i <= all; i++) if (t[i] != "-") v[++k] = t[i]
		if (!k) return "-"
		for (i = 2; i <= k; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { x = v[j]; v[j] = v[j - 1]; v[j - 1] = x }
		return sprintf("%.1f", k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2)
	}
	function same(list, what, b,   k, v, i) {
		sub(/^ /, "", list)
		k = split(list, v, " ")
		for (i = 2; i <= k; i++)
			if (v[i] != v[1]) {
				notes = notes sprintf("NOTE: l2 %s: %s differs between rounds: %s\n", b, what, list)
				gsub(/ /, ",", list)
				return list
			}
		return v[1] == "" ? "-" : v[1]
	}
	{
		split("", v)
		for (i = 1; i <= NF; i++) { eq = index($i, "="); v[substr($i, 1, eq - 1)] = substr($i, eq + 1) }
		b = v["row"]
		if (!(b in n)) order[++rows] = b
		n[b]++; gb[b] = v["gb"]
		ver[b] = ver[b] " " v["verified_s"]; ex[b] = ex[b] " " v["exit_s"]; rc[b] = rc[b] " " v["rc"]
		for (l = 1; l <= 3; l++) {
			lv = ("pages_" (l == 1 ? "4k" : l == 2 ? "2m" : "1g"))
			pg[b, l] = pg[b, l] " " (v[lv] == "" ? "-" : v[lv])
		}
		tp[b] = tp[b] " " (v["touched"] == "" ? "-" : v["touched"])
		if ("io_mb" in v) {
			cc[b] = 1
			bt[b] = bt[b] " " v["boot_s"]; it[b] = it[b] " " v["io_s"]
			wr[b] = wr[b] " " v["write_s"]; rd[b] = rd[b] " " v["read_s"]
			conv[b] = conv[b] " " v["to_shared"] "/" v["to_shared_bytes"] "/" v["to_private"] "/" v["to_private_bytes"]
			pct[b] = pct[b] " " (v["private_pct"] == "" ? "-" : v["private_pct"])
			mb[b] = mb[b] " " (v["boot_4k"] == "" ? "-" : v["boot_4k"] "/" v["boot_2m"] "/" v["boot_1g"])
			mi[b] = mi[b] " " (v["io_4k"] == "" ? "-" : v["io_4k"] "/" v["io_2m"] "/" v["io_1g"])
			me[b] = me[b] " " (v["pages_4k"] == "" ? "-" : v["pages_4k"] "/" v["pages_2m"] "/" v["pages_1g"])
			iomb[b] = v["io_mb"]
		}
	}
	END {
		if (!rows)
			exit
		# touched: the huge pages of the 2nd node (the store of the row)
		# that the L2 touched; the low RAM is mapped 4K, so pages_2m and
		# pages_1g are the mappings of that node (guest/l2-boot.sh).
		printf "\n%-14s %2s %6s %7s %11s %6s %7s %11s %6s %3s %9s %9s %9s %8s\n", "l2_boot", "gb", "rounds",
			"verif_s", "verif_range", "spread", "exit_s", "exit_range", "spread", "rc",
			"pages_4k", "pages_2m", "pages_1g", "touched"
		for (r = 1; r <= rows; r++) {
			b = order[r]
			printf "%-14s %2s %6d %s %s %3s %9s %9s %9s %8s\n", b, gb[b], n[b],
				stats(ver[b], "verified_s", b), stats(ex[b], "exit_s", b),
				same(rc[b], "rc", b), same(pg[b, 1], "pages_4k", b), same(pg[b, 2], "pages_2m", b),
				same(pg[b, 3], "pages_1g", b), same(tp[b], "touched", b)
		}
		# The confidential guest rows (cc-*): boot to the I/O, the I/O
		# (write and read back io_mb MiB), the conversions it asked for
		# (count/bytes to shared, count/bytes to private), the private
		# share of its RAM at the end, and the KVM mappings 4k/2m/1g at
		# boot, after the I/O and after the memory test.
		h = 0
		for (r = 1; r <= rows; r++) {
			b = order[r]
			if (!(b in cc))
				continue
			if (!h++)
				printf "\n%-14s %5s %7s %6s %7s %7s %-28s %8s %-16s %-16s %-16s\n", "cc_guest", "io_mb",
					"boot_s", "io_s", "write_s", "read_s", "conv_sh/bytes/pr/bytes", "private%",
					"kvm_boot", "kvm_after_io", "kvm_end"
			printf "%-14s %5s %7s %6s %7s %7s %-28s %8s %-16s %-16s %-16s\n", b, iomb[b],
				med(bt[b]), med(it[b]), med(wr[b]), med(rd[b]), same(conv[b], "conversions", b),
				same(pct[b], "private%", b), same(mb[b], "kvm_boot", b), same(mi[b], "kvm_after_io", b),
				same(me[b], "kvm_end", b)
		}
		printf "%s", notes
	}' > "$out/l2.txt"

{ echo "# $(date -u +%Y-%m-%d) $(sed -n 's/^VERSION=//p' "$(dirname "$0")/../BASE") under QEMU TCG"
  cat "$out/bench.raw" "$out/judged.txt" "$out/l2.txt"; } > "$out/bench.txt"
rm -f "$out/bench.raw" "$out/judged.txt" "$out/table1.txt" "$out/table2.txt" "$out/table3.txt" \
	"$out/l2.txt"
sed -n '/^populate vs shared/,$p' "$out/bench.txt"
echo "  BENCH   $out/bench.txt, $out/bench.csv, $out/times.csv"

if command -v gnuplot >/dev/null; then
	# One line per backing: its populate row (the first CSV line of each),
	# faults and the median populate time.
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		!seen[$1]++ { printf "\"%s\" %s %s\n", $1, $c["faults"], $c["populate_s"] }' \
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
set title "populate time (s), median of the rounds"
plot "$out/populate.dat" using 3:xtic(1) notitle
unset multiplot
GP
	echo "  BENCH   $out/bench.png"
else
	echo "  BENCH   no gnuplot: no chart (apt-get install gnuplot-nox)"
fi
exit $rc
