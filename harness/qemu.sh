#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot build/bzImage-VARIANT with build/initramfs-VARIANT.cpio.gz under the
# project's QEMU (build/qemu/qemu-system-x86_64, make qemu) with TCG
# (emulated AMD CPU with SVM + nested paging), keep the serial log and
# judge it.
#
#   qemu.sh VARIANT LOG TIMEOUT_S|auto LIST
#
# LIST's "#% NAME=VALUE" lines say what its tests need of the test VM:
# HUGEPAGES (the boot-time pools, kernel command line) and QEMU_MEM (-m);
# the same variables in the environment override them.  QEMU_BIN picks
# another QEMU, QEMU_ACCEL another -accel argument (default tcg: one host
# thread per vCPU; the Makefile passes tcg,thread=single, see
# docs/reliability.md).
#
# Exit status: 0 when every test passed (or skipped) and the kernel said
# nothing alarming; 1 otherwise.  The last line is "N passed, N failed, N skipped".
# LOG.results gets one line per test, "NAME pass|fail|skip" (what
# harness/compare.sh reads).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
variant=$1
log=$2
limit=$3
list=$4
if [ "$limit" = auto ]; then
	# The tests' own limits, plus boot and the final kmemleak scan;
	# the debug kernel runs everything several times slower.
	limit=$("$top/harness/list.sh" limit "$list") || exit 1
	limit=$((limit + 300))
	[ "$variant" = debug ] && limit=$((limit * 2))
fi
kernel=$top/build/bzImage-$variant
initrd=$top/build/initramfs-$variant.cpio.gz

# 1G pages must be asked for first and need -m well above their total: with
# -m 4G the e820 hole breaks [2G,3G).
need() { "$top/harness/list.sh" need "$list" "$1"; }
HUGEPAGES=${HUGEPAGES:-$(need HUGEPAGES)}
HUGEPAGES=${HUGEPAGES:-"hugepagesz=1G hugepages=2 hugepagesz=2M hugepages=512"}
QEMU_MEM=${QEMU_MEM:-$(need QEMU_MEM)}
QEMU_MEM=${QEMU_MEM:-6G}
QEMU_BIN=${QEMU_BIN:-$top/build/qemu/qemu-system-x86_64}
[ -x "$QEMU_BIN" ] || { echo "qemu.sh: $QEMU_BIN missing: make qemu" >&2; exit 1; }
append="console=ttyS0 panic=-1 loglevel=5 clocksource=tsc tsc=reliable $HUGEPAGES"
[ "$variant" = debug ] && append="$append kfence.sample_interval=10 kmemleak=on"

mkdir -p "$(dirname "$log")"
for try in 1 2 3; do
	echo "  QEMU    booting $variant kernel (${QEMU_ACCEL:+-accel $QEMU_ACCEL, }try $try, limit ${limit}s), serial log: ${log#"$top"/}"
	start=$(date +%s)
	timeout -s KILL "$limit" "$QEMU_BIN" -accel "${QEMU_ACCEL:-tcg}" -cpu max -smp 2 -m "$QEMU_MEM" \
		-nographic -no-reboot -kernel "$kernel" -initrd "$initrd" \
		-append "$append" </dev/null 2>&1 | sed -u 's/\r//g' | tee "$log" |
		grep --line-buffered -E "^(ok|not ok|HARNESS:|1\.\.${VERBOSE:+|# })" |
		grep --line-buffered -Ev 'HARNESS: (BEGIN|END)'
	qrc=${PIPESTATUS[0]}
	echo "  QEMU    exited with $qrc after $(($(date +%s) - start)) s"
	grep -q "HARNESS: TSC-UNCALIBRATED" "$log" || break
	echo "  QEMU    guest could not calibrate its TSC (TCG quirk): booting again"
done

# Kernel reports that fail a run.  Test output is prefixed with "# " by
# /init, so a test printing these words does not count.
splat='Kernel panic|Oops|BUG:|WARNING:|kernel BUG at|general protection fault|'
splat+='possible circular locking|possible recursive locking|inconsistent lock state|'
splat+='suspicious RCU usage|KASAN:|KFENCE:|UBSAN:|unreferenced object|'
splat+='detected stalls|blocked for more than|soft lockup|hard LOCKUP|Call Trace:'

rm -f "$log.results"
awk -v splat="$splat" -v results="$log.results" '
	# Only what /init printed counts: KUnit suites print TAP at boot too.
	/^TAP version 13$/ { tap = 1 }
	!tap { if ($0 ~ splat && $0 !~ /^[[:space:]]*#/) { hit["boot"] = hit["boot"] ? hit["boot"] : $0; if (!nb++) hits[++nh] = "boot"; nsplat++ } next }
	/^1\.\.[0-9]+$/ { planned = substr($0, 4) + 0 }
	/^HARNESS: BEGIN / { cur = $3; next }
	/^HARNESS: END / { cur = ""; next }
	/^HARNESS: DONE/ { done = 1 }
	/^ok / { name = $3; res[name] = ($0 ~ /# SKIP/) ? "skip" : "pass"; order[++n] = name }
	/^not ok / { name = $4; res[name] = "fail"; order[++n] = name; why[name] = $0 }
	!/^# / && $0 ~ splat {
		who = (cur == "" ? "kernel" : cur)
		if (!(who in hit)) { hit[who] = $0; hits[++nh] = who }
		nsplat++
	}
	END {
		for (i = 1; i <= nh; i++)
			if (hits[i] == "kernel" || hits[i] == "boot") { order[++n] = hits[i]; res[hits[i]] = "fail" }
			else if (res[hits[i]] != "fail") { res[hits[i]] = "fail"; why[hits[i]] = "kernel report" }
		for (i = 1; i <= n; i++) {
			r = res[order[i]]
			if (r == "pass") pass++; else if (r == "skip") skip++; else fail++
			print order[i], r > results
			if (r == "fail") print "  FAILED  " order[i] ": " (order[i] in why ? why[order[i]] : "")
		}
		for (i = 1; i <= nh; i++) print "  SPLAT   [" hits[i] "] " hit[hits[i]]
		if (nsplat > nh) print "  SPLAT   (" nsplat " report lines in all, see the log)"
		missing = planned - (n - ("kernel" in res) - ("boot" in res))
		if (!done) {
			print "  FAILED  the guest did not finish (crash, hang or timeout): " missing " tests did not run"
			print "(unfinished) fail" > results
			fail += missing > 0 ? missing : 1
		}
		printf "%d passed, %d failed, %d skipped\n", pass, fail, skip
		exit fail > 0
	}' "$log"
rc=$?
[ -f "$log.results" ] || : > "$log.results"
if ! grep -q "^HARNESS: DONE" "$log"; then
	echo "  ---- last 40 lines of the serial log ----"
	tail -40 "$log"
fi
exit $rc
