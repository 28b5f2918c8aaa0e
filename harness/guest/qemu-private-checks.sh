#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Checks of the project's QEMU (harness/qemu-build.sh) with private memory
# that need no guest: QEMU starts a sw-protected-vm paused (-S), answers a
# few monitor commands and quits.  Each check is one of the QEMU review's
# findings (docs/reliability.md) and fails on the QEMU before its fix:
#
#   guest-memfd   guest-memfd=on RAM of a sw-protected-vm: QEMU cannot read
#                 the private pages (xp fails) instead of reading the shared
#                 side the guest never sees
#   dimm-align    a private=on pc-dimm on 1G pages is placed 1G aligned
#   dimm-addr     one asked for at a GPA that is not 1G aligned is refused
#   congruent     private RAM on 1G pages at a GPA not congruent to its file
#                 offset modulo 1G: QEMU warns that KVM maps it smaller
#   boot-private  private RAM where QEMU writes at boot (GPA 0): a warning
#   boot-shared   the same RAM with start-shared=on: no warning
#   gmem-1G       guest-memfd=on,hugetlb=on,hugetlbsize=1G: KVM makes the
#                 guest_memfd on 1G pages; QEMU cannot read it (xp fails)
#   gmem-dimm     such a pc-dimm is placed 1G aligned
#   gmem-nosize, gmem-short, gmem-size, gmem-vm: the same without
#                 hugetlbsize, larger than the pool, of a page size KVM
#                 does not make, and on a VM without private memory:
#                 QEMU refuses to start and says why
#
# Every check gets the hugetlb pool back: free and resv before and after.
set -u
qemu=/usr/bin/qemu-system-x86_64
dir=/tmp/qemu-private-checks
fails=0 n=0

[ -c /dev/kvm ] || { echo "SKIP: no /dev/kvm"; exit 4; }
[ -x "$qemu" ] || { echo "FAIL: $qemu missing"; exit 1; }
rm -rf "$dir" && mkdir -p "$dir"

pool() {
	d=/sys/kernel/mm/hugepages/hugepages-1048576kB
	echo "$(cat "$d/free_hugepages") $(cat "$d/resv_hugepages")"
}
[ "$(pool | cut -d' ' -f1)" -ge 1 ] || { echo "SKIP: no free 1G page"; exit 4; }

# run NAME MONITOR-COMMANDS QEMU-ARGS...: QEMU paused, the commands on
# its monitor, then quit; its output in $dir/NAME.
run() {
	name=$1 cmds=$2
	shift 2
	before=$(pool)
	printf '%s\nquit\n' "$cmds" | timeout -s KILL 60 "$qemu" -accel kvm -cpu host \
		-nodefaults -display none -S -monitor stdio "$@" > "$dir/$name" 2>&1
	rc=$?
	tr -d '\r' < "$dir/$name" | grep -v "$(printf '\033')" | sed "s/^/$name| /"
	after=$(pool)
	[ "$after" = "$before" ] || bad "$name: the 1G pool has free/resv $after, $before before"
}
ok() { n=$((n + 1)); echo "ok: $*"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }
has() { grep -q "$2" "$dir/$1"; }

sp="-object sw-protected-vm,id=sp0"
m="pc,confidential-guest-support=sp0"

run guest-memfd "xp /2xw 0x100000000" $sp -m 2G \
	-machine "$m,max-ram-below-4g=1G" \
	-object memory-backend-memfd,id=ram0,size=1G \
	-object memory-backend-ram,id=ram1,size=1G,guest-memfd=on \
	-numa node,nodeid=0,memdev=ram0 -numa node,nodeid=1,memdev=ram1
if has guest-memfd '0000000100000000: Cannot access memory'; then
	ok "guest-memfd=on: QEMU does not read private memory"
else
	bad "guest-memfd=on: xp of private memory did not fail (rc $rc)"
fi

# dimm_placed NAME OPTIONS: a pc-dimm of 1G pages on a memory-backend-memfd
# with OPTIONS, after a 256 MiB shared DIMM (which the first free GPA
# follows), must be placed 1G aligned.
dimm_placed() {
	run "$1" "info memory-devices" $sp -m 1G,slots=2,maxmem=4G -machine "$m" \
		-object memory-backend-memfd,id=d0,size=256M \
		-device pc-dimm,id=dimm0,memdev=d0 \
		-object "memory-backend-memfd,id=d1,size=1G,$2" \
		-device pc-dimm,id=dimm1,memdev=d1
	addr=$(sed -n 's/.*addr: \(0x[0-9a-f]*\).*/\1/p' "$dir/$1" | sed -n 2p)
	if [ -n "$addr" ] && [ $((addr % 1073741824)) = 0 ]; then
		ok "a pc-dimm of $2 is placed at $addr"
	else
		bad "a pc-dimm of $2 is placed at ${addr:-?} (rc $rc)"
	fi
}
dimm_placed dimm-align private=on,hugetlb=on,hugetlbsize=1G

run dimm-addr "" $sp -m 1G,slots=1,maxmem=4G -machine "$m" \
	-object memory-backend-memfd,id=d1,size=1G,private=on,hugetlb=on,hugetlbsize=1G \
	-device pc-dimm,id=dimm1,memdev=d1,addr=0x150000000
if [ "$rc" != 0 ] && has dimm-addr 'aligned'; then
	ok "a private pc-dimm at a GPA that is not 1G aligned is refused"
else
	bad "a private pc-dimm at 0x150000000 was not refused (rc $rc)"
fi

run congruent "" $sp -m 1536M -machine "$m,max-ram-below-4g=1G" \
	-object memory-backend-memfd,id=ram0,size=512M \
	-object memory-backend-memfd,id=ram1,size=1G,private=on,hugetlb=on,hugetlbsize=1G \
	-numa node,nodeid=0,memdev=ram0 -numa node,nodeid=1,memdev=ram1
if has congruent 'not congruent'; then
	ok "private 1G RAM at GPA 512M: QEMU warns that KVM maps it smaller"
else
	bad "no warning for private 1G RAM at a GPA not congruent to its offset (rc $rc)"
fi

run boot-private "" $sp -m 512M -machine "$m,memory-backend=ram0" \
	-object memory-backend-memfd,id=ram0,size=512M,private=on
if has boot-private 'is private: the firmware and what QEMU loads'; then
	ok "private RAM at GPA 0: QEMU warns"
else
	bad "no warning for private RAM where QEMU writes at boot (rc $rc)"
fi

run boot-shared "" $sp -m 512M -machine "$m,memory-backend=ram0" \
	-object memory-backend-memfd,id=ram0,size=512M,private=on,start-shared=on
if [ "$rc" = 0 ] && ! has boot-shared 'is private'; then
	ok "start-shared=on RAM at GPA 0: no warning"
else
	bad "start-shared=on RAM at GPA 0: a warning or an error (rc $rc)"
fi

# guest-memfd=on,hugetlb=on: KVM makes the guest_memfd on 1G pages
# (GUEST_MEMFD_FLAG_HUGETLB), QEMU cannot read it, and what cannot be
# made says why; the pool is back after each.
gmem=memory-backend-memfd,id=ram1,guest-memfd=on,hugetlb=on
resv0=$(pool | cut -d' ' -f2)
run gmem-1G "xp /2xw 0x100000000
info status" $sp -m 2G \
	-machine "$m,max-ram-below-4g=1G" \
	-object memory-backend-memfd,id=ram0,size=1G \
	-object "$gmem,size=1G,hugetlbsize=1G" \
	-numa node,nodeid=0,memdev=ram0 -numa node,nodeid=1,memdev=ram1
if has gmem-1G '0000000100000000: Cannot access memory' && [ "$rc" = 0 ]; then
	ok "guest-memfd=on,hugetlb=on: QEMU runs and does not read private memory"
else
	bad "guest-memfd=on,hugetlb=on: xp of private memory did not fail (rc $rc)"
fi
# Placed at its 1G page size as a pc-dimm, as private=on is.
dimm_placed gmem-dimm guest-memfd=on,hugetlb=on,hugetlbsize=1G
gmem_bad() {
	name=$1 want=$2
	shift 2
	run "$name" "" "$@"
	if [ "$rc" != 0 ] && has "$name" "$want"; then
		ok "$name: refused ($want)"
	else
		bad "$name: QEMU did not refuse with '$want' (rc $rc)"
	fi
}
gmem_bad gmem-nosize 'needs hugetlbsize' $sp -m 2G -machine "$m,max-ram-below-4g=1G" \
	-object memory-backend-memfd,id=ram0,size=1G -object "$gmem,size=1G" \
	-numa node,nodeid=0,memdev=ram0 -numa node,nodeid=1,memdev=ram1
gmem_bad gmem-short 'the pool is too small' $sp -m 33G -machine "$m,max-ram-below-4g=1G" \
	-object memory-backend-memfd,id=ram0,size=1G -object "$gmem,size=32G,hugetlbsize=1G" \
	-numa node,nodeid=0,memdev=ram0 -numa node,nodeid=1,memdev=ram1
gmem_bad gmem-size 'makes no guest_memfd of 64 KiB' $sp -m 2G -machine "$m,max-ram-below-4g=1G" \
	-object memory-backend-memfd,id=ram0,size=1G -object "$gmem,size=1G,hugetlbsize=64K" \
	-numa node,nodeid=0,memdev=ram0 -numa node,nodeid=1,memdev=ram1
gmem_bad gmem-vm 'no private memory' -m 2G -machine pc,max-ram-below-4g=1G \
	-object memory-backend-memfd,id=ram0,size=1G -object "$gmem,size=1G,hugetlbsize=1G" \
	-numa node,nodeid=0,memdev=ram0 -numa node,nodeid=1,memdev=ram1
[ "$(pool | cut -d' ' -f2)" = "$resv0" ] || bad "the 1G pool keeps a reservation: $(pool)"

echo "$((n - fails)) of $n checks passed"
[ "$fails" = 0 ] || exit 1
echo "PASS"
