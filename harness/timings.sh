#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The timings of the last .ci/run, from its own logs, and the tables of
# the last make bench, as markdown on stdout (make timings writes them to
# docs/timings.md).
#
#   timings.sh [BUILD_DIR]        default: build/
#
# Reads BUILD_DIR/ci-times (.ci/run: commit, date, each target's wall
# time), BUILD_DIR/ci-TARGET.log (the build and boot lines of the harness)
# and BUILD_DIR/ci-TARGET.serial.log (the test VM's serial logs of that
# run: each test's own time), and BUILD_DIR/bench/bench.txt and info (make
# bench) when they exist.  Fails when a log is missing: no figure is made up.
set -euo pipefail

b=${1:-$(cd "$(dirname "$0")/.." && pwd)/build}
die() { echo "timings: $*" >&2; exit 1; }
[ -f "$b/ci-times" ] || die "no $b/ci-times: run .ci/run first"
grep -q '^total ' "$b/ci-times" || die "$b/ci-times has no total: .ci/run did not finish"

val() { sed -n "s/^$1 //p" "$b/ci-times"; }
# first LOG SED-EXPR: the first value the expression prints from LOG.
first() { sed -n "$2" "$1" | head -n 1; }
min() { awk -v s="$1" 'BEGIN { printf "%d min %d s", s / 60, s % 60 }'; }

read -r total passed failed skipped <<<"$(val total)"
cat <<EOF
# Timings

Written by \`make timings\` (harness/timings.sh) from the logs of the last
\`.ci/run\` in \`build/\`: commit $(val commit), $(val date), $(val cpus) CPUs.
Do not edit by hand; run \`.ci/run\` on a clean clone (empty ccache, nothing
else running) and \`make timings\` to renew it.  Load on the machine changes
these figures by a factor of two or more.

| step | time |
| --- | --- |
EOF
while read -r _ target secs st; do
	log=$b/ci-$target.log
	[ -f "$log" ] || die "no $log"
	res=$(first "$log" 's/^\([0-9]* passed, [0-9]* failed.*\)$/\1/p')
	echo "| \`make $target\`$([ "$st" = 0 ] || echo ' (failed)') | $secs s ($(min "$secs")): ${res:-no result line} |"
	sed -n -e 's/^  KERNEL  build\/bzImage-\([a-z]*\) ready in \([0-9]*\) s$/| - the \1 kernel built | \2 s |/p' \
		-e 's/^  QEMU    built in \([0-9]*\) s:.*/| - the project'"'"'s QEMU built | \1 s |/p' \
		-e 's/^  QEMU    booting \([a-z]*\) kernel.*/| - the test VM on the \1 kernel, boot to power-off | BOOT |/p' \
		-e 's/^  QEMU    exited with [0-9]* after \([0-9]*\) s$/EXIT \1/p' "$log" |
		awk '/^EXIT / { if (row != "") { sub(/BOOT/, $2 " s", row); print row; row = "" } next }
			/BOOT/ { row = $0; next } { print }'
done < <(grep '^target ' "$b/ci-times")
echo "| the whole run: $passed passed, $failed failed, $skipped skipped | $total s ($(min "$total")) |"

echo
echo "The slowest tests, each one's own time in the test VM (the run's serial"
echo "logs; - where the list left it out; a failed test's time is marked so):"
echo
echo "| test | patched | debug |"
echo "| --- | --- | --- |"
for v in test test-debug; do
	[ -f "$b/ci-$v.serial.log" ] || die "no $b/ci-$v.serial.log"
	# ok N NAME # Ts; ok N NAME # SKIP (exit 4) Ts; not ok N NAME # exit R, Ts;
	# not ok N NAME # TIMEOUT after Ts.
	awk -v v="$v" '/^(not )?ok [0-9]+ [^ ]+ # / {
		t = $NF; sub(/s$/, "", t)
		if (t !~ /^[0-9.]+$/) next
		mark = /^not ok/ ? (/TIMEOUT/ ? "(timeout)" : "(failed)") : (/# SKIP/ ? "(skip)" : "")
		print v, ($1 == "not" ? $4 : $3), t, mark }' "$b/ci-$v.serial.log"
done | awk -v OFS='\t' '{ t[$2, $1] = $3 " s" ($4 == "" ? "" : " " $4); if ($3 + 0 > m[$2] + 0) m[$2] = $3 }
	END { for (n in m) print m[n], n, ((n, "test") in t ? t[n, "test"] : "-"),
		((n, "test-debug") in t ? t[n, "test-debug"] : "-") }' |
	sort -t "$(printf '\t')" -k1,1rn | head -n 15 | awk -F '\t' '{ printf "| %s | %s | %s |\n", $2, $3, $4 }'

[ -f "$b/bench/bench.txt" ] && [ -f "$b/bench/info" ] || exit 0
read -r _ bcommit _ bdate _ bcpus _ brc < "$b/bench/info"
echo
echo "## make bench"
echo
echo "\`build/bench/bench.txt\` of the last \`make bench\` (docs/benchmark.md):"
echo "commit $bcommit, $bdate, $bcpus CPUs$([ "${brc:-0}" = 0 ] || echo ", and it FAILED (exit ${brc})")."
echo
echo '```'
cat "$b/bench/bench.txt"
echo '```'
