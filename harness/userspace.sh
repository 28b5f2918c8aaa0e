#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the statically linked test programs from the assembled tree: the
# kernel's KVM, memfd and mm selftests (with the project's additions) and pack
# them, busybox-static, bash-static (for the mm shell-script tests), the
# shims of harness/guest/bin and harness/init into
# build/initramfs-VARIANT.cpio.gz.
#
#   userspace.sh VARIANT LIST [EXTRA_DIR]
#
# LIST is the test list (see harness/tests.list) already filtered for this run;
# EXTRA_DIR, if given, holds user-supplied static executables.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
variant=$1
list=$2
extra=${3:-}
linux=$top/build/linux
st=$top/build/selftests
# The same programs, from the patched tree, run on every kernel: the
# pristine one (make test-base) included.
hdr=$top/build/kernel-$variant/usr/include
[ "$variant" = pristine ] && hdr=$top/build/kernel-patched/usr/include
root=$top/build/initramfs-$variant
img=$top/build/initramfs-$variant.cpio.gz
jobs=${JOBS:-$(nproc)}

export CCACHE_DIR=${CCACHE_DIR:-$top/build/ccache}
# Depend mode, as for the kernel (harness/kernel.sh).
export CCACHE_DEPEND=1
sel=$linux/tools/testing/selftests

# Selftests do not depend on the kernel variant: only the uAPI headers,
# which are the same for both.
echo "  TESTS   building KVM and memfd selftests (static)"
make -s -C "$sel/kvm" -j"$jobs" KHDR_INCLUDES="-isystem $hdr" \
	OUTPUT="$st/kvm" EXTRA_CFLAGS=-static CC="ccache gcc" >/dev/null
# memfd: only the programs the list names (fuse_test needs libfuse).
progs=$("$top/harness/list.sh" programs "$list")
memfd_progs=$(echo "$progs" | sed -n "s|^memfd/|$st/memfd/|p")
mkdir -p "$st/memfd"
[ -z "$memfd_progs" ] || make -s -C "$sel/memfd" KHDR_INCLUDES="-isystem $hdr" \
	OUTPUT="$st/memfd" CC="ccache gcc -static" $memfd_progs >/dev/null
# mm: only the programs the list names (several need libraries or kernel
# features the guest lacks, see tests.list), and write_to_hugetlbfs, which
# the hugetlb cgroup scripts run.
# (guest/nr_hugepages.sh N PROGRAM runs PROGRAM with the 2M pool resized.)
mm_progs=$(echo "$progs" | sed -n "/\.sh\$/d; s|^mm/|$st/mm/|p")
if echo "$progs" | grep -q '^mm/.*\.sh$'; then
	mm_progs="$mm_progs $st/mm/write_to_hugetlbfs"
fi
mkdir -p "$st/mm"
[ -z "$mm_progs" ] || make -s -C "$sel/mm" KHDR_INCLUDES="-isystem $hdr" \
	OUTPUT="$st/mm" CC="ccache gcc -static" $mm_progs >/dev/null 2>&1 ||
	{ echo "userspace: building the mm selftests failed:" >&2
	  make -s -C "$sel/mm" KHDR_INCLUDES="-isystem $hdr" OUTPUT="$st/mm" \
		CC="ccache gcc -static" $mm_progs 2>&1 | grep -E 'error|Error' >&2; exit 1; }

echo "  INITRD  packing $("$top/harness/list.sh" count "$list") tests into $(basename "$img")"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,mnt,tests,extra,usr/local/bin}
cp /bin/busybox "$root/bin/busybox"
# The mm shell-script selftests are bash scripts and call pgrep and
# killall --wait, which busybox lacks.
cp /bin/bash-static "$root/bin/bash"
cp "$top"/harness/guest/bin/* "$root/usr/local/bin/"
cp "$top/harness/init" "$root/init"
chmod 755 "$root/init"
"$top/harness/list.sh" tests "$list" > "$root/tests.list"
# Only the programs the list runs; a wrapper of harness/guest/ gets the
# test program it runs too.
echo "$progs" | while read -r prog; do
	case "$prog" in
	"") continue ;;
	/extra/*) continue ;;
	guest/*) src=$top/harness/$prog ;;
	mm/*.sh) src=$sel/$prog ;;
	*) src=$st/$prog ;;
	esac
	[ -x "$src" ] || { echo "userspace: $prog (from the test list) was not built" >&2; exit 1; }
	mkdir -p "$(dirname "$root/tests/$prog")"
	cp "$src" "$root/tests/$prog"
done
# What the mm shell-script tests run beside them.
if [ -n "$(ls "$root"/tests/mm/*.sh 2>/dev/null)" ]; then
	cp "$sel/mm/write_hugetlb_memory.sh" "$st/mm/write_to_hugetlbfs" "$root/tests/mm/"
fi
if [ -n "$extra" ]; then
	find "$extra" -maxdepth 1 -type f -perm -u+x -exec cp {} "$root/extra/" \;
fi
# L2 boots (guest/l2-boot.sh) and QEMU's checks without a guest
# (guest/qemu-private-checks.sh, guest/qemu-memory-faults.sh): the project's QEMU with its libraries and
# firmware (harness/qemu-build.sh), the L2 kernel and the L2's initramfs
# (harness/l2/init.c).  The L2 kernel is the patched kernel also in the debug
# variant: the debug kernel is under test as the L1, where KVM runs; as the
# L2 it would only be slower.
if echo "$progs" | grep -qxE 'guest/(l2-boot|qemu-private-checks|qemu-memory-faults)\.sh'; then
	stage=$top/build/qemu/stage
	[ -x "$stage/usr/bin/qemu-system-x86_64" ] ||
		{ echo "userspace: no QEMU for the L2 boots: run 'make qemu'" >&2; exit 1; }
	cp -a "$stage/." "$root/"
	l2=$top/build/l2
	rm -rf "$l2" && mkdir -p "$l2/root/dev" "$l2/root/proc" "$l2/root/sys"
	ccache gcc -static -O2 -Wall -Werror -o "$l2/root/init" "$top/harness/l2/init.c"
	(cd "$l2/root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 > "$l2/initramfs.cpio.gz")
	mkdir -p "$root/l2"
	[ -f "$top/build/bzImage-patched" ] ||
		{ echo "userspace: no build/bzImage-patched for the L2 boots: run 'make kernel'" >&2; exit 1; }
	cp "$top/build/bzImage-patched" "$root/l2/bzImage"
	cp "$l2/initramfs.cpio.gz" "$root/l2/"
	echo "  INITRD  QEMU $(cat "$top/build/qemu/src/VERSION") and an L2 kernel and initramfs for the L2 boots"
fi
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 > "$img")
echo "  INITRD  $(du -h "$img" | cut -f1) $img"
