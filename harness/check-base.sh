#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The first step of moving to a new Debian update (docs/series.md): apply
# both series to the newest versions Debian's archive has, and report each
# patch as "applies", "fuzz" (applies only with fuzz: git apply, which make
# tree uses, refuses it) or "conflict"; with no conflict in the kernel
# series, build that kernel (tinyconfig + harness/config/test-vm.config).
#
#   check-base.sh [kernel|qemu|all]    (default all)
#
# Works in build/check-base/ only: build/linux, build/qemu and the pins stay
# as they are.  Downloads (the kernel package, 150 MB; QEMU's source, 40 MB),
# so it is not part of make test or CI.  Exit status: 0 when every patch
# applies without fuzz and the kernel builds, else 1.
set -euo pipefail
shopt -s inherit_errexit	# a die() in $(...) stops the script

top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/check-base
what=${1:-all}

say() { echo "  CHECK   $*"; }
die() { echo "check-base: error: $*" >&2; exit 1; }
# shellcheck source=harness/apt.sh
. "$top/harness/apt.sh"

# apply_series DIR PATCHDIR LABEL: apply PATCHDIR/series to the plain tree
# DIR in order with GNU patch (rejected hunks dropped, so that later patches
# are checked against as much of the series as applies); one line each.
# Sets the counts n_ok, n_fuzz, n_conflict.
apply_series() {
	local dir=$1 pdir=$2 label=$3 p log r st files
	n_ok=0 n_fuzz=0 n_conflict=0
	[ -f "$pdir/series" ] || die "$label/series missing"
	files=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$pdir/series")
	for p in $files; do
		[ -f "$pdir/$p" ] || die "$label/series names $p, which $label/ does not have"
		st=0
		log=$(cd "$dir" && patch -p1 -N -F2 -f --no-backup-if-mismatch -r - < "$pdir/$p" 2>&1) || st=$?
		# Anything GNU patch did not apply cleanly is a conflict: a failed
		# or ignored hunk, a new file that exists, a binary diff.
		if [ "$st" != 0 ] || grep -qE "$bad" <<< "$log"; then
			r=conflict n_conflict=$((n_conflict + 1))
		elif grep -q 'with fuzz' <<< "$log"; then
			r=fuzz n_fuzz=$((n_fuzz + 1))
		else
			r=applies n_ok=$((n_ok + 1))
		fi
		printf '  %-9s %s\n' "$r" "$label/$p"
		if [ "$r" != applies ]; then
			grep -E "$bad|with fuzz" <<< "$log" | sed -n '1,8s/^/              /p' || true
		fi
	done
	say "$label: $n_ok apply, $n_fuzz with fuzz, $n_conflict with conflicts"
}
bad='FAILED|ignored|already exists|not supported|garbage|malformed|can.t find file|Only garbage'

rc=0

check_kernel() {
	local PACKAGE PACKAGE_VERSION VERSION SUITES TARBALL newest deb src v
	. "$top/BASE"
	apt_init "$out/apt-linux" $SUITES
	apt_update force
	newest=$(apt_newest deb "$PACKAGE")
	[ -n "$newest" ] || die "Debian's archive has no $PACKAGE"
	say "kernel: BASE pins $PACKAGE $PACKAGE_VERSION; the newest is $newest"
	deb=$(apt_deb "$out" "$PACKAGE" "$newest") || {
		apt_fetch deb "$PACKAGE" "$newest" "$out" "the archive"
		deb=$(apt_deb "$out" "$PACKAGE" "$newest")
	}
	src=$out/linux
	rm -rf "$src" && mkdir -p "$src"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO ".$TARBALL" | tar -C "$src" --strip-components=1 -xJ ||
		die "$(basename "$deb") has no $TARBALL"
	v=$(make -s -C "$src" kernelversion)
	say "kernel: applying patches/linux/series to Linux $v ($newest)"
	apply_series "$src" "$top/patches/linux" patches/linux
	[ "$n_fuzz" -eq 0 ] && [ "$n_conflict" -eq 0 ] || rc=1
	if [ "$n_conflict" -gt 0 ]; then
		say "kernel: not built (conflicts); rebase the series (docs/series.md)"
		return
	fi
	say "kernel: building Linux $v with the series (build/check-base/kernel)"
	# The sources carry the tarball's timestamps: a new version, a new tree.
	[ "$(cat "$out/kernel/.version-checked" 2>/dev/null)" = "$newest" ] || rm -rf "$out/kernel"
	mkdir -p "$out/kernel"
	echo "$newest" > "$out/kernel/.version-checked"
	if KERNEL_SRC=$src KERNEL_OUT=$out/kernel "$top/harness/kernel.sh" patched > "$out/kernel.log" 2>&1; then
		say "kernel: Linux $v with the series builds"
	else
		tail -20 "$out/kernel.log"
		say "kernel: the build of Linux $v failed (build/check-base/kernel.log)"
		rc=1
	fi
}

check_qemu() {
	local SUITE PACKAGE PACKAGE_VERSION MESON_VERSION newest newest_meson dsc
	. "$top/patches/qemu/BASE"
	apt_init "$out/apt-qemu" "$SUITE"
	apt_update force
	newest=$(apt_newest source "$PACKAGE")
	newest_meson=$(apt_newest deb meson)
	[ -n "$newest" ] || die "Debian $SUITE has no source package $PACKAGE"
	say "qemu: patches/qemu/BASE pins $PACKAGE $PACKAGE_VERSION and meson $MESON_VERSION;" \
		"$SUITE has $newest and meson $newest_meson"
	dsc=$out/qemu-dl/${PACKAGE}_${newest#*:}.dsc
	[ -f "$dsc" ] || apt_fetch source "$PACKAGE" "$newest" "$out/qemu-dl" "the archive"
	rm -rf "$out/qemu"
	dpkg-source -q --no-check --no-copy -x "$dsc" "$out/qemu" >/dev/null
	say "qemu: applying patches/qemu/series to QEMU $(cat "$out/qemu/VERSION") ($newest)"
	apply_series "$out/qemu" "$top/patches/qemu" patches/qemu
	[ "$n_fuzz" -eq 0 ] && [ "$n_conflict" -eq 0 ] || rc=1
}

mkdir -p "$out"
case $what in
kernel) check_kernel ;;
qemu) check_qemu ;;
all) check_kernel; check_qemu ;;
*) die "usage: $0 [kernel|qemu|all]" ;;
esac
if [ "$rc" = 0 ]; then
	say "the series apply to Debian's newest versions without fuzz, and the kernel builds"
else
	say "the series need work on Debian's newest versions (above)"
fi
exit $rc
