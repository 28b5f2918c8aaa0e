#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Take the benchmark's figures out of its serial log:
#
#   bench.sh LOG OUTDIR
#
# OUTDIR/bench.txt is the table as printed, OUTDIR/bench.csv the CSV, and
# OUTDIR/bench.png a chart of populate faults and time per backing when
# gnuplot (Debian: gnuplot-nox) is installed.
set -euo pipefail

log=$1
out=$2
mkdir -p "$out"

# The program's output is the log's "# " lines of the bench test.
sed -n 's/^# //p' "$log" > "$out/bench.txt"
awk '/^CSV:$/ { n++; next } n == 1' "$out/bench.txt" > "$out/bench.csv"
if [ ! -s "$out/bench.csv" ]; then
	echo "bench: no CSV in $log" >&2
	exit 1
fi
{ echo "# $(date -u +%Y-%m-%d) $(sed -n 's/^VERSION=//p' "$(dirname "$0")/../BASE") under QEMU TCG"; cat "$out/bench.txt"; } > "$out/bench.tmp" &&
	mv "$out/bench.tmp" "$out/bench.txt"
echo "  BENCH   $out/bench.txt, $out/bench.csv"

command -v gnuplot >/dev/null || { echo "  BENCH   no gnuplot: no chart (apt-get install gnuplot-nox)"; exit 0; }
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
