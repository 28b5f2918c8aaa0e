#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the statically linked test programs from the assembled tree: the
# kernel's KVM and memfd selftests (with the project's additions) and pack
# them, busybox-static and harness/init into build/initramfs-VARIANT.cpio.gz.
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
hdr=$top/build/kernel-$variant/usr/include
root=$top/build/initramfs-$variant
img=$top/build/initramfs-$variant.cpio.gz
jobs=${JOBS:-$(nproc)}

export CCACHE_DIR=${CCACHE_DIR:-$top/build/ccache}
sel=$linux/tools/testing/selftests

# Selftests do not depend on the kernel variant: only the uAPI headers,
# which are the same for both.
echo "  TESTS   building KVM and memfd selftests (static)"
make -s -C "$sel/kvm" -j"$jobs" KHDR_INCLUDES="-isystem $hdr" \
	OUTPUT="$st/kvm" EXTRA_CFLAGS=-static CC="ccache gcc" >/dev/null
# memfd: only the programs the list names (fuse_test needs libfuse).
memfd_progs=$(awk '$3 ~ /^memfd\// { print "'"$st"'/" $3 }' "$list" | sort -u)
mkdir -p "$st/memfd"
[ -z "$memfd_progs" ] || make -s -C "$sel/memfd" KHDR_INCLUDES="-isystem $hdr" \
	OUTPUT="$st/memfd" CC="ccache gcc -static" $memfd_progs >/dev/null

echo "  INITRD  packing $(grep -cv '^[[:space:]]*\(#\|$\)' "$list" || true) tests into $(basename "$img")"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,mnt,tests,extra}
cp /bin/busybox "$root/bin/busybox"
cp "$top/harness/init" "$root/init"
chmod 755 "$root/init"
cp "$list" "$root/tests.list"
# Only the programs the list runs; a wrapper of harness/guest/ gets the
# test program it runs too (its first argument with a '/').
awk '!/^[[:space:]]*(#|$)/ {
	print $3
	if ($3 ~ /^guest\//)
		for (i = 4; i <= NF; i++)
			if ($i ~ /\//) { print $i; break }
}' "$list" | sort -u | while read -r prog; do
	case "$prog" in
	/extra/*) continue ;;
	guest/*) src=$top/harness/$prog ;;
	*) src=$st/$prog ;;
	esac
	[ -x "$src" ] || { echo "userspace: $prog (from the test list) was not built" >&2; exit 1; }
	mkdir -p "$(dirname "$root/tests/$prog")"
	cp "$src" "$root/tests/$prog"
done
if [ -n "$extra" ]; then
	find "$extra" -maxdepth 1 -type f -perm -u+x -exec cp {} "$root/extra/" \;
fi
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 > "$img")
echo "  INITRD  $(du -h "$img" | cut -f1) $img"
