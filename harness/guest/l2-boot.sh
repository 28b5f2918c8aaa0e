#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Boot an L2 Linux (the test VM's own kernel, /l2/bzImage, with the tiny
# /l2/initramfs.cpio.gz of harness/l2/init.c) under the project's QEMU
# (/usr/bin/qemu-system-x86_64, harness/qemu-build.sh) with GB GiB of its
# RAM on the backing ROW, above 4 GiB, and 1 GiB of ordinary shared RAM
# below 4 GiB for firmware, kernel, initrd and what QEMU writes (fw_cfg).
#
#   l2-boot.sh ROW [GB [L2-KERNEL-ARGS...]]
#
#   private-1G    private memory on 1G hugetlb pages: an inaccessible memfd
#                 (memory-backend-memfd,private=on) of a sw-protected-vm
#   private-2M    the same on 2M pages
#   shared-1G     ordinary shared memory on 1G hugetlb pages (default VM)
#   guest-memfd   private memory on KVM's guest_memfd (4K) of a
#                 sw-protected-vm (memory-backend-ram,guest-memfd=on)
#   guest-memfd-1G private memory on a guest_memfd KVM makes on 1G hugetlb
#                 pages (memory-backend-memfd,guest-memfd=on,hugetlb=on,
#                 hugetlbsize=1G: KVM_CREATE_GUEST_MEMFD with
#                 GUEST_MEMFD_FLAG_HUGETLB); checked as private-1G
#   guest-memfd-2M the same on 2M pages
#   short-pool    private-1G with one 1G page more than the pool has free:
#                 passes when QEMU refuses to start and says why
#   cc-private-1G a confidential guest: the L2 is told (sw-protected-vm
#                 map-gpa-range=on) that its RAM is private and converts
#                 what it shares; 128 MiB of boot RAM that starts shared
#                 (private=on,start-shared=on) and GB GiB private on 1G
#                 pages; it writes and reads back IO_MB MiB (default 256)
#                 on a virtio disk through its swiotlb buffers first
#   cc-private-2M the same on 2M pages
#   cc-shared-1G  the same guest and I/O in an ordinary VM, 128 MiB and GB
#                 GiB of shared RAM on 1G pages (the baseline)
#   dimm-replug   1 GiB of shared RAM and no second node: a private DIMM
#                 on a 1G page plugged on the monitor, onlined by the L2,
#                 unplugged (the L2 ejects it), and a shared DIMM plugged
#                 at its GPA, which the L2's memory test writes: passes
#                 when the L2 verifies it (QEMU made the range shared)
#   cc-pool-short cc-private-1G without I/O whose L2 converts a 1G page of
#                 its own to shared, and while it is shared this script
#                 takes the pool's free 1G page: converting it back cannot
#                 be backed.  QEMU runs as libvirt runs it (-action
#                 shutdown=pause): passes when QEMU says which range it
#                 could not back, leaves the VM stopped in state shutdown
#                 (cont refused) and quits when told (exit status 1), and
#                 the pool is back
#
# The L2's user space writes a pattern over its free memory and verifies it;
# then this script reads the VM's KVM statistics (pages_4k/2m/1g), asks
# QEMU's monitor for private memory on the private rows (xp,
# dump-guest-memory, migrate and calc_dirty_rate must fail, QEMU must keep
# running) and lets the L2
# reboot, which ends QEMU (-no-reboot).  It prints the hugetlb pools
# before, during and after, and fails when the L2 does not finish, reports
# a bad word, when a huge page of the row's RAM that the L2 touched is
# mapped below its size, when the pool does not hold the row's pages while
# QEMU runs (free_hugepages down and resv_hugepages up by that many
# together) or does not come back.
#
# The cc rows check the I/O, that the guest converted in both directions
# (QEMU's trace of KVM_HC_MAP_GPA_RANGE), also in its 1G private RAM,
# and that at least 90% of its RAM is private at the end (QEMU's
# kvm_private_memory trace); they print KVM's mappings when the L2 has
# booted, after its I/O and after its memory test.  The cc-private rows'
# L2 also converts 4K, 2M and 1G ranges of a 1G hugetlb page of its own
# to shared and back (l2.hc_checks=1, harness/l2/init.c): QEMU's trace
# must show each, and that page must be mapped 1G again at the end.  The
# conversion figures leave these out: they are the guest's own.
#
# Every other row has the same low RAM, guest and workload: rows differ only in
# the store of the 2nd node.  The low RAM is on shmem (memory-backend-memfd),
# which has no transparent huge pages, so KVM maps it 4K and every 2M and
# 1G mapping (pages_2m, pages_1g) is the 2nd node's.  The huge pages the L2
# touched there are the pool's pages in use (nr - free) that QEMU added.
set -u
row=${1:?usage: l2-boot.sh ROW [GB [L2-KERNEL-ARGS...]]}
gb=${2:-2}
shift
[ $# -gt 0 ] && shift
extra=$*
limit=${L2_LIMIT:-800}
# The rows whose tests.list limit is 300 s: QEMU must be gone before the
# harness kills this script, so that it can give the pool back.
case $row in cc-pool-short|dimm-replug) limit=${L2_LIMIT:-240} ;; esac
qemu=/usr/bin/qemu-system-x86_64
dir=/tmp/l2-$row
low_mb=1024

fail() { echo "FAIL: $*"; exit 1; }

[ -c /dev/kvm ] || { echo "SKIP: no /dev/kvm"; exit 4; }
[ -x "$qemu" ] || fail "$qemu missing (harness/qemu-build.sh stages it)"

pool() {
	for d in /sys/kernel/mm/hugepages/hugepages-*; do
		printf '%s nr=%s free=%s resv=%s surp=%s  ' "${d##*hugepages-}" \
			"$(cat "$d/nr_hugepages")" "$(cat "$d/free_hugepages")" \
			"$(cat "$d/resv_hugepages")" "$(cat "$d/surplus_hugepages")"
	done
	echo
}
free_pages() { cat "/sys/kernel/mm/hugepages/hugepages-$1/free_hugepages"; }
# The pages of a pool in use: nr - free.
used_pages() {
	d=/sys/kernel/mm/hugepages/hugepages-$1
	echo $(($(cat "$d/nr_hugepages") - $(cat "$d/free_hugepages")))
}
resv_pages() { cat "/sys/kernel/mm/hugepages/hugepages-$1/resv_hugepages"; }
# The pages a pool has given out or promised: nr - free + resv.
held_pages() {
	d=/sys/kernel/mm/hugepages/hugepages-$1
	echo $(($(cat "$d/nr_hugepages") - $(cat "$d/free_hugepages") + $(cat "$d/resv_hugepages")))
}

kvm_stats() {
	d=$(ls -d /sys/kernel/debug/kvm/"$1"-* 2>/dev/null | head -1)
	[ -n "$d" ] || { echo "no KVM debugfs directory for pid $1"; return; }
	echo "pages_4k=$(cat "$d/pages_4k") pages_2m=$(cat "$d/pages_2m")" \
		"pages_1g=$(cat "$d/pages_1g")"
}

# Early L2 boots hang in TSC calibration now and then under the emulated
# SVM; the L1's refined TSC frequency avoids it.
khz=$(dmesg | sed -n 's/.*tsc: Refined TSC clocksource calibration: \([0-9]*\)\.\([0-9][0-9][0-9]\) MHz.*/\1\2/p' | tail -1)
[ -n "$khz" ] || khz=$(dmesg | sed -n 's/.*tsc: Detected \([0-9]*\)\.\([0-9][0-9][0-9]\) MHz processor.*/\1\2/p' | tail -1)
# The KUnit suites built into the kernel would run again at the L2's boot.
# The L2's TSC deadline timer fires far too late under the L1's KVM on the
# emulated SVM (RCU stalls; the reboot at the end took 7 minutes instead of
# a second): the L2 uses the local APIC timer in one-shot mode instead.
append="console=ttyS0 panic=-1 loglevel=4 tsc=reliable clocksource=tsc kunit.enable=0"
append="$append lapic=notscdeadline"
# The check that the IO-APIC delivers the PIT's ticks waits a fixed number
# of TSC cycles for them: on a loaded host the emulated L1 delivered too
# few in that time, and the L2 panicked ("IO-APIC + timer doesn't work!"),
# once in nine L2 boots of make bench.  Virtual machines skip the check.
append="$append no_timer_check"
# The L2 ends with a reboot that QEMU turns into its exit (-no-reboot): a
# triple fault at once; without an i8042 the default methods poll its
# status port 65536 times per try, a minute under the emulated SVM.
append="$append reboot=t"
[ -n "$khz" ] && append="$append tsc_early_khz=$khz"
[ -n "$extra" ] && append="$append $extra"

io_mb=${IO_MB:-256}
io= trace= noreboot=-no-reboot
case $row in
cc-*)
	low_mb=128
	# The guest's bounce buffers: 32 MiB of the 128 MiB below 4 GiB.
	append="$append swiotlb=16384"
	# map-gpa-range=on must turn the guest's reboot into QEMU's exit
	# itself (what the guest converted stays converted): no -no-reboot.
	case $row in
	cc-private-*)
		io=1 noreboot=
		append="$append l2.io_mb=$io_mb l2.hc_checks=1 hugepagesz=1G hugepages=1" ;;
	cc-pool-short)
		noreboot="-action shutdown=pause"
		append="$append l2.hc_checks=2 hugepagesz=1G hugepages=1" ;;
	*)
		io=1
		append="$append l2.io_mb=$io_mb" ;;
	esac ;;
esac

# No i8042: the L2 needs no keyboard or mouse, and probing them raised an
# interrupt inside the same interrupt's handler in a debug L2 kernel
# (lockdep: recursive locking of the irq_desc, then a hang).
machine=pc,i8042=off,max-ram-below-4g=${low_mb}M
vm=
ram0=memory-backend-memfd
case $row in
private-1G)
	vm="-object sw-protected-vm,id=sp0"
	machine=$machine,confidential-guest-support=sp0
	mem="memory-backend-memfd,id=ram1,size=${gb}G,private=on,hugetlb=on,hugetlbsize=1G"
	pool_kb=1048576 npages=$gb ;;
private-2M)
	vm="-object sw-protected-vm,id=sp0"
	machine=$machine,confidential-guest-support=sp0
	mem="memory-backend-memfd,id=ram1,size=${gb}G,private=on,hugetlb=on,hugetlbsize=2M"
	pool_kb=2048 npages=$((gb * 512)) ;;
shared-1G)
	mem="memory-backend-memfd,id=ram1,size=${gb}G,hugetlb=on,hugetlbsize=1G"
	pool_kb=1048576 npages=$gb ;;
short-pool)
	gb=$(($(free_pages 1048576kB) + 1))
	vm="-object sw-protected-vm,id=sp0"
	machine=$machine,confidential-guest-support=sp0
	mem="memory-backend-memfd,id=ram1,size=${gb}G,private=on,hugetlb=on,hugetlbsize=1G"
	pool_kb= npages=0 short_before="$(free_pages 1048576kB) $(resv_pages 1048576kB)" ;;
cc-private-1G|cc-private-2M|cc-pool-short)
	size=${row#cc-private-}
	[ "$row" = cc-pool-short ] && size=1G
	vm="-object sw-protected-vm,id=sp0,map-gpa-range=on"
	machine=$machine,confidential-guest-support=sp0
	ram0="memory-backend-memfd,private=on,start-shared=on"
	mem="memory-backend-memfd,id=ram1,size=${gb}G,private=on,hugetlb=on,hugetlbsize=$size"
	trace="-D $dir/trace -trace kvm_hc_map_gpa_range -trace kvm_private_memory"
	if [ "$size" = 1G ]; then
		pool_kb=1048576 npages=$gb
	else
		pool_kb=2048 npages=$((gb * 512))
	fi ;;
cc-shared-1G)
	mem="memory-backend-memfd,id=ram1,size=${gb}G,hugetlb=on,hugetlbsize=1G"
	pool_kb=1048576 npages=$gb ;;
dimm-replug)
	# 256 MiB of boot RAM: the memory test then writes mostly the DIMM.
	low_mb=256
	vm="-object sw-protected-vm,id=sp0"
	machine=$machine,confidential-guest-support=sp0
	append="$append memhp_default_state=online_movable l2.dimm=1"
	pool_kb=1048576 npages=1 ;;
guest-memfd)
	vm="-object sw-protected-vm,id=sp0"
	machine=$machine,confidential-guest-support=sp0
	mem="memory-backend-ram,id=ram1,size=${gb}G,guest-memfd=on"
	pool_kb= npages=0 ;;
guest-memfd-1G)
	vm="-object sw-protected-vm,id=sp0"
	machine=$machine,confidential-guest-support=sp0
	mem="memory-backend-memfd,id=ram1,size=${gb}G,guest-memfd=on,hugetlb=on,hugetlbsize=1G"
	pool_kb=1048576 npages=$gb ;;
guest-memfd-2M)
	vm="-object sw-protected-vm,id=sp0"
	machine=$machine,confidential-guest-support=sp0
	mem="memory-backend-memfd,id=ram1,size=${gb}G,guest-memfd=on,hugetlb=on,hugetlbsize=2M"
	pool_kb=2048 npages=$((gb * 512)) ;;
*) fail "unknown row $row" ;;
esac
if [ -n "$pool_kb" ] && [ "$(free_pages "${pool_kb}kB")" -lt "$npages" ]; then
	echo "SKIP: the ${pool_kb} kB pool has $(free_pages "${pool_kb}kB") free pages, the row needs $npages"
	exit 4
fi

rm -rf "$dir" && mkdir -p "$dir"
mkfifo "$dir/console-in" "$dir/mon.in" "$dir/mon.out"
disk=
if [ -n "$io" ]; then
	truncate -s "$((io_mb + 1))M" "$dir/disk.img" || fail "no disk image"
	disk="-drive file=$dir/disk.img,if=none,format=raw,id=d0 -device virtio-blk-pci,drive=d0"
fi
if [ "$row" = dimm-replug ]; then
	# No second node: the DIMMs come and go through the monitor.
	memargs="-m ${low_mb}M,slots=2,maxmem=$((low_mb + 2048))M
		-object $ram0,id=ram0,size=${low_mb}M"
	machine=$machine,memory-backend=ram0
else
	memargs="-m $((low_mb + gb * 1024))M
		-object $ram0,id=ram0,size=${low_mb}M -object $mem
		-numa node,nodeid=0,memdev=ram0 -numa node,nodeid=1,memdev=ram1"
fi
# shellcheck disable=SC2086
set -- -accel kvm -cpu host -smp 1 $memargs \
	-machine "$machine" $vm \
	$disk $trace \
	-kernel /l2/bzImage -initrd /l2/initramfs.cpio.gz -append "$append" \
	-nodefaults -display none -serial stdio $noreboot \
	-monitor "pipe:$dir/mon"
echo "qemu-system-x86_64 $*"
echo "pool before: $(pool)"
before= held= used=
if [ -n "$pool_kb" ]; then
	before="$(free_pages "${pool_kb}kB") $(resv_pages "${pool_kb}kB")"
	held=$(held_pages "${pool_kb}kB")
	used=$(used_pages "${pool_kb}kB")
fi

start=$(cut -d' ' -f1 /proc/uptime)
timeout -s KILL "$limit" "$qemu" "$@" < "$dir/console-in" > "$dir/log" 2>&1 &
qpid=$!
exec 3> "$dir/console-in"
# Read-write opens of the monitor's fifos do not block (QEMU's neither).
cat 0<> "$dir/mon.out" > "$dir/monitor" &
mpid=$!
exec 4<> "$dir/mon.in"

# mon CMD: CMD on QEMU's monitor; prints what QEMU answered to it (the
# monitor's output after it, once it has been quiet for a second).
mon() {
	off=$(wc -c < "$dir/monitor")
	echo "$1" >&4
	n=0 last=-1
	while [ "$n" -lt 30 ]; do
		sleep 1
		cur=$(wc -c < "$dir/monitor")
		[ "$cur" = "$last" ] && [ "$cur" -gt "$off" ] && break
		last=$cur n=$((n + 1))
	done
	tail -c +$((off + 1)) "$dir/monitor" | tr -d '\r' | grep -v "$(printf '\033')"
}

# The monitor's output so far, one "monitor| " line each.
show_monitor() {
	tr -d '\r' < "$dir/monitor" | grep -v "$(printf '\033')" | sed 's/^/monitor| /'
}

# monitor_check: QEMU cannot read the private RAM at 4 GiB: the monitor
# says so, and QEMU (which got SIGBUS there once) keeps running; migration
# and the dirty rate (which aborted QEMU in kvm_log_start) are refused.
monitor_check() {
	echo "xp /2xw 0x100000000" >&4
	echo "dump-guest-memory $dir/dump" >&4
	echo "xp /2xw 0x0" >&4
	echo "migrate exec:true" >&4
	echo "calc_dirty_rate 1" >&4
	sleep 3
	# Without the lines readline redraws while it echoes the commands.
	show_monitor
	echo
	kill -0 "$qpid" 2>/dev/null || { mon_err="QEMU died when the monitor read private memory"; return; }
	grep -q '0000000100000000: Cannot access memory' "$dir/monitor" ||
		{ mon_err="xp of private memory did not fail with 'Cannot access memory'"; return; }
	grep -q 'private memory' "$dir/monitor" ||
		{ mon_err="dump-guest-memory was not refused for private memory"; return; }
	[ ! -s "$dir/dump" ] || { mon_err="dump-guest-memory wrote $dir/dump"; return; }
	grep -q 'migration, snapshots and CPR of a VM with private memory' "$dir/monitor" ||
		{ mon_err="migrate was not refused"; return; }
	grep -q 'cannot measure the dirty rate' "$dir/monitor" ||
		{ mon_err="calc_dirty_rate was not refused"; return; }
	grep -q '0000000000000000: 0x' "$dir/monitor" ||
		{ mon_err="xp of shared memory at 0 failed"; return; }
	echo "monitor: private memory refused, QEMU alive"
}
# (The awk of these two is the test VM's busybox awk: "0x..." + 0 is hex,
# and() exists, ^ does not.)
# trace_requests: "GPA SIZE ATTRIBUTES" (decimal) of each KVM_HC_MAP_GPA_RANGE
# in QEMU's trace, in order, the bad requests of the L2 (l2.hc_checks:
# invalid attributes, beyond 1 TiB, unaligned) left out.
trace_requests() {
	[ -f "$dir/trace" ] || return 0
	awk '/kvm_hc_map_gpa_range/ {
		for (i = 1; i < NF; i++) {
			if ($i == "gpa") g = $(i + 1) + 0
			if ($i == "size") z = $(i + 1) + 0
			if ($i == "attributes") a = $(i + 1) + 0
		}
		if (a >= 32 || and(a, 15) > 2 || g >= 1099511627776 || g % 4096)
			next
		printf "%.0f %.0f %d\n", g, z, a
	}' "$dir/trace"
}

# shared_units SHIFT: the guest physical units of 2^SHIFT bytes above 4 GiB
# that hold shared pages now, one a line (each page's last conversion).
# The round trips in the L2's 1G page (rtb, set by cc_check) are left
# out: each converts its range back, and a page at a time they would take
# busybox awk longer than the L2's boot.
shared_units() {
	trace_requests | awk -v unit=$((1 << $1)) -v rt="${rtb:--1}" '$1 >= 4294967296 {
		if (rt >= 0 && $1 >= rt && $1 < rt + 1073741824)
			next
		for (p = $1 / 4096; p < ($1 + $2) / 4096; p++)
			sh[p] = !and($3, 16)
	}
	END {
		for (p in sh)
			if (sh[p])
				u[int(p * 4096 / unit)] = 1
		for (x in u)
			printf "%.0f\n", x
	}'
}

# cc_check: the I/O and the conversions of a cc row (sets cc_err).
# QEMU's trace: "kvm_hc_map_gpa_range gpa 0x.. size 0x.. attributes 0x..
# flags 0x.." per hypercall (bit 4 of the attributes: to private) and
# "kvm_private_memory private 0x.. of RAM 0x.." after each conversion.
cc_check() {
	line=$(grep '^L2: IO wrote' "$dir/log" | tail -1 | tr -d '\r')
	io_w=$(echo "$line" | sed -n 's/.* in \([0-9.]*\) s, read back.*/\1/p')
	io_r=$(echo "$line" | sed -n 's/.*read back in \([0-9.]*\) s.*/\1/p')
	n_sh=0 b_sh=0 n_pr=0 b_pr=0 pct= hi_sh=0 hi_pr=0
	# The round trip's 1G page (cc-private rows): its conversions are the
	# test's, not the guest's own.
	rtg=$(sed -n 's/^L2: ROUNDTRIP \([0-9a-f][0-9a-f]*\)\r*$/\1/p' "$dir/log")
	rtb=-1
	[ -n "$rtg" ] && rtb=$((0x$rtg))
	eval "$({ trace_requests; echo END; } | awk -v rt=$rtb '$1 == "END" {
			printf "n_sh=%d b_sh=%.0f n_pr=%d b_pr=%.0f hi_sh=%d hi_pr=%d\n",
				ns, bs, np, bp, hs, hp
			next
		}
		{
			if (rt >= 0 && $1 >= rt && $1 < rt + 1073741824)
				next
			hi = $1 >= 4294967296
			if (and($3, 16)) { np++; bp += $2; hp += hi } else { ns++; bs += $2; hs += hi }
		}')"
	if [ -f "$dir/trace" ]; then
		pct=$(awk '/kvm_private_memory/ { p = ($3 + 0); r = ($6 + 0) }
			END { if (r) printf "%.1f", 100 * p / r }' "$dir/trace")
	fi
	echo "conversions (the guest's own, round trips left out): $n_sh to shared ($b_sh bytes, $hi_sh above 4 GiB), $n_pr to private ($b_pr bytes, $hi_pr above 4 GiB); private at the end: ${pct:-?}% of the RAM"
	echo "$line" | grep -q ', 0 bad words$' || { cc_err="the L2's disk I/O did not verify: ${line:-no result}"; return; }
	wsum=$(echo "$line" | sed -n 's/.*checksum written \([0-9a-f]*\) read \([0-9a-f]*\).*/\1/p')
	rsum=$(echo "$line" | sed -n 's/.*checksum written \([0-9a-f]*\) read \([0-9a-f]*\).*/\2/p')
	[ -n "$wsum" ] && [ "$wsum" = "$rsum" ] || { cc_err="checksums differ: $line"; return; }
	grep -q 'IO unbound virtio' "$dir/log" || { cc_err="the L2 did not unbind its disk"; return; }
	case $row in
	cc-private-*) ;;
	*)
		! grep -q '^L2: dmesg .*KVM: software-protected VM' "$dir/log" ||
			cc_err="the L2 of an ordinary VM ran as a software-protected guest"
		return ;;
	esac
	grep -q '^L2: dmesg .*KVM: software-protected VM: memory is private' "$dir/log" ||
		{ cc_err="the L2 did not run as a software-protected guest"; return; }
	# Requests the host must refuse with -KVM_EINVAL (-22) or carry out.
	for want in "10000000000 1 10 ret -22" "100000800 1 0 ret -22" \
		"100000000 1 110 ret -22" "100000000 1 3 ret -22" \
		"7fff000 2 0 ret 0" "fec00000 1 0 ret 0"; do
		tr -d '\r' < "$dir/log" | grep -qx "L2: HC $want" ||
			{ cc_err="KVM_HC_MAP_GPA_RANGE ${want% ret *}: not 'ret ${want#* ret }': $(tr -d '\r' < "$dir/log" | grep "^L2: HC ${want% ret *} ")"; return; }
	done
	echo "bad conversion requests: refused with -KVM_EINVAL, QEMU runs on"
	# The L2's round trips of 4K, 2M and 1G in its 1G hugetlb page: each
	# conversion done, and seen by QEMU (its trace: GPA, size, attributes).
	[ -n "$rtg" ] || { cc_err="the L2's 4K/2M/1G round trip failed: $(grep '^L2: ROUNDTRIP' "$dir/log" | tr -d '\r' | tr '\n' ' ')"; return; }
	reqs=$(trace_requests)
	for a in "$((rtb + 12288)) 1 0 4096" "$((rtb + 10485760)) 512 1 2097152" \
		"$rtb 262144 2 1073741824"; do
		set -- $a
		for to in 0 16; do
			tr -d '\r' < "$dir/log" | grep -qx "L2: HC $(printf %x "$1") $2 $(printf %x $(($3 + to))) ret 0" ||
				{ cc_err="the round trip's KVM_HC_MAP_GPA_RANGE $(printf %x "$1") $2 $(printf %x $(($3 + to))) failed"; return; }
			echo "$reqs" | grep -qx "$1 $4 $(($3 + to))" ||
				{ cc_err="QEMU's trace has no conversion of GPA $(printf 0x%x "$1") size $4 attributes $(($3 + to))"; return; }
		done
	done
	echo "round trips: 4K, 2M and 1G at GPA 0x$rtg converted to shared (read zeros) and back to private (no shared bytes)"
	[ "$hi_sh" -gt 0 ] && [ "$hi_pr" -gt 0 ] ||
		{ cc_err="no conversion of the guest's own in both directions in the private RAM above 4 GiB ($hi_sh to shared, $hi_pr to private)"; return; }
	awk "BEGIN { exit !(${pct:-0} >= 90) }" ||
		{ cc_err="only ${pct:-?}% of the RAM is private at the end, not 90%"; return; }
}
mon_err= cc_err=

# Until the L2 has verified its memory (or QEMU is gone).  QEMU leaves a
# VM it cannot run (KVM internal error) paused: end it.  An L2 with I/O
# stops twice before: when it has booted and after its I/O.
during= tv= stuck= booted= iodone= tb= tio= taken= alive= dimm= dimm_addr= take_err= dimm_err=
while kill -0 "$qpid" 2>/dev/null; do
	if [ -n "$io" ] && [ -z "$booted" ] && grep -q 'L2: BOOTED' "$dir/log"; then
		tb=$(awk "BEGIN { printf \"%.1f\", $(cut -d' ' -f1 /proc/uptime) - $start }")
		booted=$(kvm_stats "$qpid")
		echo "L2 booted after ${tb} s; KVM at boot: $booted"
		echo go >&3
	fi
	# dimm-replug: a private DIMM on a 1G page plugged, onlined by the
	# L2, unplugged (the L2 offlines and ejects it) and its backend
	# deleted; then a shared DIMM at the same GPA, which the L2's memory
	# test writes: it must not find the range still private.
	if [ "$row" = dimm-replug ]; then
		n_on=$(grep -c 'L2: DIMM ONLINE' "$dir/log")
		if [ "$dimm" = "" ] && grep -q 'L2: DIMM?' "$dir/log"; then
			mon "object_add memory-backend-memfd,id=p1,size=1G,private=on,hugetlb=on,hugetlbsize=1G" > /dev/null
			mon "device_add pc-dimm,id=dimm1,memdev=p1" > /dev/null
			dimm_addr=$(mon "info memory-devices" | sed -n 's/.*addr: \(0x[0-9a-f]*\).*/\1/p' | head -1)
			[ -n "$dimm_addr" ] || { dimm_err="no address of the private DIMM"; kill -9 "$qpid"; break; }
			# QEMU cannot read it: it is private.
			mon "xp /2xw $dimm_addr" | grep -q 'Cannot access memory' ||
				{ dimm_err="xp of the private DIMM at $dimm_addr did not fail"; kill -9 "$qpid"; break; }
			echo "private DIMM plugged at $dimm_addr (QEMU cannot read it); pool: $(pool)"
			dimm=plugged
			echo go >&3
		elif [ "$dimm" = plugged ] && [ "$n_on" -ge 1 ]; then
			mon "device_del dimm1" > /dev/null
			dimm=unplugging
			echo go >&3
		elif [ "$dimm" = unplugging ] && grep -q 'L2: DIMM REMOVED' "$dir/log" &&
		     ! mon "info memory-devices" | grep -q '"dimm1"'; then
			# The L2 has offlined it and QEMU has removed it (_EJ0).
			mon "object_del p1" > /dev/null
			mon "object_add memory-backend-memfd,id=s1,size=1G,hugetlb=on,hugetlbsize=1G" > /dev/null
			mon "device_add pc-dimm,id=dimm2,memdev=s1,addr=$dimm_addr" > /dev/null
			devs=$(mon "info memory-devices")
			if [ "$(echo "$devs" | grep -c 'Memory device')" != 1 ] ||
			   ! echo "$devs" | grep -q '"dimm2"' ||
			   ! echo "$devs" | grep -q "addr: $dimm_addr\$" ||
			   ! echo "$devs" | grep -q 'memdev: /objects/s1'; then
				dimm_err="the shared DIMM is not the only one, at $dimm_addr: $(echo "$devs" | tr '\n' ' ')"
				kill -9 "$qpid"
				break
			fi
			# p1's page back in the pool, s1's reserved.
			[ "$(held_pages 1048576kB)" = $((held + 1)) ] ||
				{ dimm_err="the 1G pool holds $(($(held_pages 1048576kB) - held)) more pages with the shared DIMM, not 1: $(pool)"; kill -9 "$qpid"; break; }
			echo "the L2 ejected the private DIMM; a shared DIMM plugged at $dimm_addr; pool: $(pool)"
			dimm=replugged
			echo go >&3
		fi
	fi
	# cc-pool-short: the L2's 1G page is shared, so its private page went
	# back to the pool; take the pool's free 1G pages before it converts
	# the page back.
	if [ "$row" = cc-pool-short ] && [ -z "$taken" ] && grep -q 'L2: SHARED1G' "$dir/log"; then
		# The free pages no reservation holds (fallocate cannot take
		# reserved ones).
		taken=$(($(free_pages 1048576kB) - $(resv_pages 1048576kB)))
		mkdir -p "$dir/hp"
		if [ "$taken" -gt 0 ] && mount -t hugetlbfs -o pagesize=1G none "$dir/hp" &&
		   fallocate -l "${taken}G" "$dir/hp/taken"; then
			echo "the L2's 1G page is shared; took the pool's $taken free 1G pages: $(pool)"
			echo go >&3
		else
			take_err="could not take the pool's $taken free 1G pages: $(pool)"
			kill -9 "$qpid" 2>/dev/null
			break
		fi
	fi
	# The L2 ran on, or ended (a reboot only stops a paused VM).
	if [ "$row" = cc-pool-short ] && grep -q 'L2: RESULT\|L2: ROUNDTRIP FAILED' "$dir/log"; then
		sleep 2
		kill -9 "$qpid" 2>/dev/null
		break
	fi
	if [ -n "$taken" ] && grep -q 'KVM: stopping the VM\|KVM: ending the VM' "$dir/log"; then
		mon "info status" > /dev/null
		mon cont > /dev/null
		mon "info status" > /dev/null
		show_monitor
		kill -0 "$qpid" 2>/dev/null && alive=1
		echo quit >&4
		break
	fi
	if [ -n "$io" ] && [ -z "$iodone" ] && grep -q 'L2: IO VERIFIED' "$dir/log"; then
		tio=$(awk "BEGIN { printf \"%.1f\", $(cut -d' ' -f1 /proc/uptime) - $start }")
		iodone=$(kvm_stats "$qpid")
		echo "L2 did its I/O after ${tio} s; KVM after the I/O: $iodone"
		echo go >&3
	fi
	if grep -q 'KVM internal error\|kvm run failed' "$dir/log"; then
		sleep 2
		kill -9 "$qpid" 2>/dev/null
		echo "KVM could not run the L2 (QEMU paused the VM): killed QEMU"
		stuck=1
		break
	fi
	if grep -q '^L2: VERIFIED' "$dir/log"; then
		t=$(awk "BEGIN { printf \"%.1f\", $(cut -d' ' -f1 /proc/uptime) - $start }")
		tv=$t
		echo "L2 verified its memory after ${t} s"
		during=$(kvm_stats "$qpid")
		echo "KVM during: $during"
		echo "pool during: $(pool)"
		if [ -n "$held" ]; then
			held_during=$(($(held_pages "${pool_kb}kB") - held))
			touched=$(($(used_pages "${pool_kb}kB") - used))
		fi
		case $row in private-*|cc-private-*|guest-memfd-*) monitor_check ;; esac
		echo go >&3
		break
	fi
	sleep 1
done
wait "$qpid"
rc=$?
if [ -n "$taken" ]; then
	rm -f "$dir/hp/taken"
	umount "$dir/hp" 2>/dev/null
fi
exec 3>&- 4>&-
kill "$mpid" 2>/dev/null
t=$(awk "BEGIN { printf \"%.1f\", $(cut -d' ' -f1 /proc/uptime) - $start }")
sed 's/\r$//; s/^/l2| /' "$dir/log"
echo "QEMU exited with $rc after ${t} s"
sleep 1
echo "pool after: $(pool)"

if [ "$row" = short-pool ]; then
	[ "$rc" = 1 ] && grep -q "cannot reserve $gb huge pages" "$dir/log" ||
		fail "QEMU did not refuse ${gb} GiB of private 1G pages with a message about the pool"
	after="$(free_pages 1048576kB) $(resv_pages 1048576kB)"
	[ "$after" = "$short_before" ] ||
		fail "the 1G pool has free/resv $after, $short_before before"
	echo "PASS: QEMU refused to start with a clear message, the pool is back"
	exit 0
fi
if [ "$row" = dimm-replug ]; then
	show_monitor
	[ -z "$dimm_err" ] || fail "$dimm_err"
	[ "$dimm" = replugged ] || fail "the DIMMs were not plugged, ejected and plugged again (at: ${dimm:-start})"
	! grep -q 'Error' "$dir/monitor" || fail "a monitor command failed: $(grep 'Error' "$dir/monitor" | tr -d '\r' | head -3)"
	[ "$(grep -c 'L2: DIMM ONLINE' "$dir/log")" = 2 ] ||
		fail "the L2 did not online both DIMMs"
	[ "$rc" = 0 ] || fail "QEMU exited with $rc"
	grep -q '^L2: RESULT ok' "$dir/log" || fail "the L2 did not finish its memory test"
	# The shared DIMM's 1G page is the only one: the memory test wrote it.
	p1g=$(echo "$during" | sed -n 's/.*pages_1g=\([0-9]*\).*/\1/p')
	[ "${p1g:-0}" -ge 1 ] || fail "the L2's memory test did not reach the shared DIMM (pages_1g=${p1g:-?})"
	after="$(free_pages 1048576kB) $(resv_pages 1048576kB)"
	[ "$after" = "$before" ] || fail "the 1G pool has free/resv $after, $before before"
	echo "PASS: a shared DIMM where a private one was ejected is shared: the L2 wrote and verified it; the pool is back"
	exit 0
fi
if [ "$row" = cc-pool-short ]; then
	[ -z "$take_err" ] || fail "$take_err"
	! grep -q 'L2: ROUNDTRIP FAILED' "$dir/log" ||
		fail "the L2 ran on: $(grep 'L2: ROUNDTRIP FAILED' "$dir/log" | tr -d '\r')"
	g=$(sed -n 's/^L2: HC \([0-9a-f]*\) 262144 12 ret 0\r*$/\1/p' "$dir/log")
	[ -n "$g" ] && tr -d '\r' < "$dir/log" | grep -qx "L2: HC $g 262144 2 ret 0" ||
		fail "the L2 did not convert its 1G page to shared and back"
	# The range QEMU names is the page the L2 wrote first: inside its 1G
	# page.
	fg=$(sed -n "s/.*no huge page for the guest's private memory at GPA 0x\([0-9a-f]*\)+.*/\1/p" "$dir/log" | head -1)
	[ -n "$fg" ] && [ $((0x$fg)) -ge $((0x$g)) ] && [ $((0x$fg)) -lt $((0x$g + 1073741824)) ] ||
		fail "QEMU did not name a range of the 1G page at GPA 0x$g as one the pool could not back"
	! grep -q 'RAX=\|EAX=' "$dir/log" || fail "QEMU dumped the vCPU's registers"
	grep -q 'KVM: stopping the VM (-action shutdown=pause)' "$dir/log" ||
		fail "QEMU did not say that it stops the VM (-action shutdown=pause)"
	[ "$(grep -c 'VM status: paused (shutdown)' "$dir/monitor")" = 2 ] ||
		fail "the VM is not stopped in state shutdown before and after cont"
	grep -q 'Resetting the Virtual Machine is required' "$dir/monitor" ||
		fail "cont was not refused"
	[ -n "$alive" ] || fail "QEMU did not stay up with -action shutdown=pause"
	# The VM ended with an error: quit keeps exit status 1.
	[ "$rc" = 1 ] || fail "QEMU exited with $rc after quit, not 1"
	after="$(free_pages 1048576kB) $(resv_pages 1048576kB)"
	[ "$after" = "$before" ] || fail "the 1G pool has free/resv $after, $before before"
	echo "PASS: the pool could not back GPA 0x$g again: QEMU said so, kept the VM stopped in state shutdown, quit; the pool is back"
	exit 0
fi
# What KVM mapped of the 2nd node's slot (see the top).
p1g=$(echo "$during" | sed -n 's/.*pages_1g=\([0-9]*\).*/\1/p')
p2m=$(echo "$during" | sed -n 's/.*pages_2m=\([0-9]*\).*/\1/p')
slot=
if [ -n "$pool_kb" ] && [ -n "$during" ]; then
	slot="touched=${touched:-0}"
	echo "node 1: ${touched:-0} huge pages of ${pool_kb} kB touched, KVM maps ${p1g:-0} x 1G, ${p2m:-0} x 2M"
fi
conv=
if [ -n "$io" ]; then
	cc_check
	conv=" boot_s=${tb:--} io_s=${tio:--} io_mb=$io_mb write_s=${io_w:--} read_s=${io_r:--} to_shared=$n_sh to_shared_bytes=$b_sh to_private=$n_pr to_private_bytes=$b_pr private_pct=${pct:--}"
	conv="$conv $(echo "$booted" | sed 's/pages_/boot_/g') $(echo "$iodone" | sed 's/pages_/io_/g')"
fi
echo "L2BENCH row=$row gb=$gb verified_s=${tv:--} exit_s=$t rc=$rc $during $slot$conv"
[ -z "$mon_err" ] || fail "$mon_err"
[ -z "$cc_err" ] || fail "$cc_err"
[ "$rc" = 0 ] || fail "QEMU exited with $rc (137: killed after ${limit} s)"
grep -q '^L2: RESULT ok' "$dir/log" || fail "the L2 did not finish its memory test"
[ -n "$during" ] || fail "no KVM statistics (the L2 never said VERIFIED)"
# Every huge page the L2 touched is mapped at its size, but those that
# hold memory a confidential L2 keeps shared (its DMA pools: the guest's
# own round trip and its disk's rings were converted back).
if [ -n "$pool_kb" ]; then
	[ "${touched:-0}" -gt 0 ] || fail "the L2 touched no page of the ${pool_kb} kB pool"
	split=0
	if [ -n "$io" ]; then
		[ "$pool_kb" = 1048576 ] && shift_=30 || shift_=21
		split=$(shared_units $shift_ | wc -l)
		echo "huge pages of the private RAM that hold shared memory at the end: $split"
	fi
	if [ "$pool_kb" = 1048576 ]; then
		[ "${p1g:-0}" -ge $((touched - split)) ] ||
			fail "pages_1g=$p1g: $touched 1G pages touched ($split with shared memory), $((touched - split - ${p1g:-0})) more mapped smaller"
	else
		[ "${p2m:-0}" -ge $((touched - split)) ] ||
			fail "pages_2m=$p2m: $touched 2M pages touched ($split with shared memory), $((touched - split - ${p2m:-0})) more mapped smaller"
	fi
fi
if [ -n "$held" ] && [ "${held_during:-}" != "$npages" ]; then
	fail "the ${pool_kb} kB pool held ${held_during:-?} more pages (nr - free + resv) while QEMU ran, not $npages"
fi
after=
[ -n "$pool_kb" ] && after="$(free_pages "${pool_kb}kB") $(resv_pages "${pool_kb}kB")"
if [ -n "$before" ] && [ "$after" != "$before" ]; then
	fail "the ${pool_kb} kB pool has free/resv $after, $before before"
fi
echo "PASS: $row, ${gb} GiB"
