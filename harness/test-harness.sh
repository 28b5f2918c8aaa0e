#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of the harness itself, on the host, before anything is built or
# booted (make check-harness, first step of .ci/run): the build takes
# exactly the source versions BASE and patches/qemu/BASE pin, whatever is
# installed, and bad input stops it with one line that says what to do,
# leaving build/linux as it was.
#
# Hermetic: a scratch copy of the repository's scripts runs against a fake
# Debian archive (apt-get, apt-cache and dpkg-query stand-ins first in PATH,
# serving tiny linux-source packages built here), so nothing is downloaded
# and the machine's packages do not matter.  Prints TAP and a closing
# "N passed, N failed" line; exits 1 if a test failed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/test-harness.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
pass=0 fail=0 n=0

ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		pass=$((pass + 1)); echo "ok $n - $2"
	else
		fail=$((fail + 1)); echo "not ok $n - $2"
		cat "$T/out" "$T/err" 2>/dev/null | sed "s/^/# /" | tail -15
	fi
}

# --- The fake archive ------------------------------------------------------
# $T/archive/index: "PKG VERSION KIND" per version the archive has, KIND
# deb (a binary package, $T/archive/PKG_VERSION_all.deb with the epoch's
# colon as %3a, as apt names it) or source; $T/installed: "PKG VERSION" of
# installed packages; $T/apt.log: what was asked of apt.  The machine's
# /etc/apt is not read (HARNESS_DEBIAN_MIRROR).
mkdir -p "$T/bin" "$T/archive" "$T/usr/src"
tarball=$T/usr/src/linux-source-6.12.tar.xz
: > "$T/archive/index"
: > "$T/installed"

# make_source DIR SUBLEVEL: a tiny kernel source tree.
make_source() {
	mkdir -p "$1/linux-source-6.12/mm"
	printf 'VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = %s\nEXTRAVERSION =\nNAME = Baby Opossum Posse\n' \
		"$2" > "$1/linux-source-6.12/Makefile"
	printf 'int memfd_version = %s;\nint memfd_feature;\n' "$2" > "$1/linux-source-6.12/mm/memfd.c"
}

# add_package VERSION SUBLEVEL [notarball]: linux-source-6.12 VERSION in the
# archive, with the tarball of a 6.12.SUBLEVEL tree (or none).
add_package() {
	local ver=$1 sub=$2 d=$T/pkg.$1
	rm -rf "$d" && mkdir -p "$d/DEBIAN" "$d$T/usr/src" "$T/src.$1"
	printf 'Package: linux-source-6.12\nVersion: %s\nArchitecture: all\nMaintainer: test <t@localhost>\nDescription: test\n' \
		"$ver" > "$d/DEBIAN/control"
	if [ "${3:-}" != notarball ]; then
		make_source "$T/src.$1" "$sub"
		tar -C "$T/src.$1" -cJf "$d$tarball" linux-source-6.12
	else
		echo "no tarball" > "$d$T/usr/src/README"
	fi
	dpkg-deb -Zgzip --build "$d" "$T/archive/linux-source-6.12_${ver//:/%3a}_all.deb" >/dev/null
	echo "linux-source-6.12 $ver deb" >> "$T/archive/index"
}

# add_meson VERSION: a meson package (its files: usr/share/meson-VERSION).
add_meson() {
	local d=$T/meson.$1
	rm -rf "$d" && mkdir -p "$d/DEBIAN" "$d/usr/share/meson-$1"
	printf 'Package: meson\nVersion: %s\nArchitecture: all\nMaintainer: test <t@localhost>\nDescription: test\n' \
		"$1" > "$d/DEBIAN/control"
	dpkg-deb -Zgzip --build "$d" "$T/archive/meson_${1//:/%3a}_all.deb" >/dev/null
	echo "meson $1 deb" >> "$T/archive/index"
}

cat > "$T/bin/apt-get" <<EOF
#!/bin/bash
echo "apt-get \$*" >> "$T/apt.log"
args=("\$@")
for ((i = 0; i < \${#args[@]}; i++)); do
	case \${args[i]} in
	update) exit 0 ;;
	download|source)
		spec=\${args[\$((\${#args[@]} - 1))]}
		pkg=\${spec%%=*} ver=\${spec#*=}
		kind=deb
		[ "\${args[i]}" = source ] && kind=source
		if ! grep -qxF "\$pkg \$ver \$kind" "$T/archive/index"; then
			echo "E: Version '\$ver' for '\$pkg' was not found" >&2
			exit 100
		fi
		if [ \$kind = source ]; then
			: > "\${pkg}_\${ver#*:}.dsc"
		else
			cp "$T/archive/\${pkg}_\${ver//:/%3a}_all.deb" .
		fi
		exit 0 ;;
	esac
done
exit 1
EOF
cat > "$T/bin/apt-cache" <<EOF
#!/bin/bash
[ "\$1" = madison ] || exit 1
awk -v p="\$2" '\$1 == p && \$3 == "deb" {
	printf " %s | %s | http://deb.example/debian bookworm/main amd64 Packages\n", \$1, \$2 }
	\$1 == p && \$3 == "source" {
	printf " %s | %s | http://deb.example/debian bookworm/main Sources\n", \$1, \$2 }' "$T/archive/index"
EOF
cat > "$T/bin/dpkg-query" <<EOF
#!/bin/bash
pkg=\${!#}
v=\$(awk -v p="\$pkg" '\$1 == p { print \$2 }' "$T/installed")
[ -n "\$v" ] || exit 1
printf 'installed %s' "\$v"
EOF
chmod +x "$T/bin"/*
export PATH=$T/bin:$PATH HARNESS_DEBIAN_MIRROR=http://deb.example/debian

# --- A scratch repository --------------------------------------------------
# new_top DIR: the harness scripts, a one-patch series and a BASE.
new_top() {
	local d=$1
	mkdir -p "$d/harness" "$d/patches/linux" "$d/patches/qemu"
	cp "$top/harness/tree.sh" "$top/harness/apt.sh" "$top/harness/qemu-build.sh" \
		"$top/harness/patch-queue.sh" "$top/harness/qemu-devices.mak" "$d/harness/"
	cat > "$d/patches/linux/0001-mm-memfd-a-feature.patch" <<-'EOF'
	From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
	From: Test <test@localhost>
	Subject: [PATCH] mm/memfd: a feature

	A feature.
	---
	diff --git a/mm/memfd.c b/mm/memfd.c
	--- a/mm/memfd.c
	+++ b/mm/memfd.c
	@@ -2 +2 @@
	-int memfd_feature;
	+int memfd_feature = 1;
	EOF
	echo 0001-mm-memfd-a-feature.patch > "$d/patches/linux/series"
	: > "$d/patches/qemu/series"
	set_base "$d" 6.12.117 6.12.117-1
	printf 'SUITE=trixie\nPACKAGE=qemu\nPACKAGE_VERSION=1:10.0.13+ds-0+deb13u1\nMESON_VERSION=1.7.0-1\n' \
		> "$d/patches/qemu/BASE"
}

# set_base DIR VERSION PACKAGE_VERSION
set_base() {
	printf 'VERSION=%s\nPACKAGE=linux-source-6.12\nPACKAGE_VERSION=%s\nSUITES="bookworm bookworm-security"\nTARBALL=%s\n' \
		"$2" "$3" "$tarball" > "$1/BASE"
}

# state DIR: what must not change when the harness refuses bad input.
state() {
	git -C "$1/build/linux" rev-parse base work refs/series/applied 2>&1
	git -C "$1/build/linux" status --porcelain 2>&1
	sha256sum "$1/build/linux/Makefile" "$1/build/linux/mm/memfd.c" 2>&1
}

# one_line_error FILE WORD...: FILE (stderr, progress lines beside) has one
# error line, and it has every WORD.
one_line_error() {
	local f=$1 w e
	shift
	[ "$(grep -c ': error: ' "$f")" -eq 1 ] || return 1
	e=$(grep ': error: ' "$f")
	for w in "$@"; do grep -qF -- "$w" <<< "$e" || return 1; done
}

add_package 6.12.117-1 117
add_package 6.12.118-1 118
add_package 6.12.119-1 119 notarball
# The source package of a newer version, without its binary package yet.
echo "linux-source-6.12 6.12.999-1 source" >> "$T/archive/index"
# An installed linux-source of another version, with its tarball.
echo "linux-source-6.12 6.12.200-1" > "$T/installed"
make_source "$T/src.installed" 200
tar -C "$T/src.installed" -cJf "$tarball" linux-source-6.12

echo "1..20"

# 1. Another version installed: the pinned package is fetched and used.
A=$T/a
new_top "$A"
: > "$T/apt.log"
"$A/harness/tree.sh" tree > "$T/out" 2>&1
r=$?
[ $r = 0 ] && grep -q '^SUBLEVEL = 117$' "$A/build/linux/Makefile" &&
	grep -q 'memfd_feature = 1' "$A/build/linux/mm/memfd.c" &&
	git -C "$A/build/linux" log -1 --format=%s base | grep -qF '(Debian linux-source-6.12 6.12.117-1)' &&
	grep -qF 'download linux-source-6.12=6.12.117-1' "$T/apt.log" && ! grep -q install "$T/apt.log"
ok $? "6.12.200 installed, BASE pins 6.12.117-1: the tree is 6.12.117 with the series"

# 2. The pinned version installed: its tarball is used, nothing downloaded.
echo "linux-source-6.12 6.12.117-1" > "$T/installed"
tar -C "$T/src.6.12.117-1" -cJf "$tarball" linux-source-6.12
B=$T/b
new_top "$B"
: > "$T/apt.log"
"$B/harness/tree.sh" tree > "$T/out" 2>&1 &&
	grep -q '^SUBLEVEL = 117$' "$B/build/linux/Makefile" && ! grep -q download "$T/apt.log"
ok $? "the pinned version installed: its tarball is used, nothing is downloaded"
echo "linux-source-6.12 6.12.200-1" > "$T/installed"
tar -C "$T/src.installed" -cJf "$tarball" linux-source-6.12

# 3. BASE pins a version the archive does not have.
before=$(state "$A")
set_base "$A" 6.12.116 6.12.116-1
"$A/harness/tree.sh" tree > "$T/out" 2> "$T/err"
r=$?
[ $r != 0 ] && one_line_error "$T/err" 6.12.116-1 'newest: 6.12.119-1' 'make check-base' &&
	[ "$(state "$A")" = "$before" ]
ok $? "a pinned version the archive lacks: one line with the pin, the newest and make check-base; build/linux unchanged"
cp "$T/err" "$T/out"

# 4. The series names a patch that is not there.
set_base "$A" 6.12.117 6.12.117-1
echo 0002-missing.patch >> "$A/patches/linux/series"
"$A/harness/tree.sh" tree > "$T/out" 2> "$T/err"
r=$?
[ $r != 0 ] && one_line_error "$T/err" 0002-missing.patch 'drop the line' && [ "$(state "$A")" = "$before" ]
ok $? "a series naming a missing patch: one line naming it; build/linux unchanged"
sed -i '/0002-missing/d' "$A/patches/linux/series"

# 5. The pinned package has no tarball.
set_base "$A" 6.12.119 6.12.119-1
"$A/harness/tree.sh" tree > "$T/out" 2> "$T/err"
r=$?
[ $r != 0 ] && one_line_error "$T/err" 'has no' "$tarball" 'check TARBALL in BASE' &&
	[ "$(state "$A")" = "$before" ]
ok $? "a package without the tarball: one line naming it; build/linux unchanged"

# 6. The tarball is not the kernel version BASE names.
set_base "$A" 6.12.117 6.12.118-1
"$A/harness/tree.sh" tree > "$T/out" 2> "$T/err"
r=$?
[ $r != 0 ] && one_line_error "$T/err" 'Linux 6.12.118' 'VERSION=6.12.117' && [ "$(state "$A")" = "$before" ]
ok $? "a tarball of another kernel version than BASE's VERSION: one line; build/linux unchanged"

# 7. A series that does not apply to a new base leaves build/linux as it was.
set_base "$A" 6.12.118 6.12.118-1
sed -i 's/^-int memfd_feature;/-int memfd_other;/' "$A/patches/linux/0001-mm-memfd-a-feature.patch"
"$A/harness/tree.sh" tree > "$T/out" 2> "$T/err"
r=$?
[ $r != 0 ] && one_line_error "$T/err" 0001-mm-memfd-a-feature.patch 'does not apply' &&
	[ "$(state "$A")" = "$before" ]
ok $? "BASE moved and the series does not apply: the patch named; tag base, work and the tree unchanged"
sed -i 's/^-int memfd_other;/-int memfd_feature;/' "$A/patches/linux/0001-mm-memfd-a-feature.patch"

# 8. BASE moved and the series applies: base and work move to it.
"$A/harness/tree.sh" tree > "$T/out" 2>&1 &&
	grep -q '^SUBLEVEL = 118$' "$A/build/linux/Makefile" &&
	grep -q 'memfd_feature = 1' "$A/build/linux/mm/memfd.c" &&
	git -C "$A/build/linux" log -1 --format=%s base | grep -qF '6.12.118-1' &&
	[ "$(git -C "$A/build/linux" rev-list --count base..work)" = 1 ]
ok $? "BASE moved to 6.12.118-1: tag base and branch work move to it"

# 9. QEMU: a pinned source package the archive does not have.
echo "qemu 1:10.0.14+ds-0+deb13u1 source" >> "$T/archive/index"
"$A/harness/qemu-build.sh" tree > "$T/out" 2> "$T/err"
r=$?
[ $r != 0 ] && one_line_error "$T/err" '1:10.0.13+ds-0+deb13u1' 'newest: 1:10.0.14+ds-0+deb13u1' \
	'make check-base' && [ ! -d "$A/build/qemu/src" ]
ok $? "QEMU: a pinned source version the archive lacks: one line, no fallback to another version"
cp "$T/err" "$T/out"

# 10. QEMU: the pinned source and meson (here with an epoch) are fetched
# under apt's file names, and that meson is the one unpacked.
add_meson 1.7.0-1
add_meson 1:1.8.0-1
sed -i 's/^PACKAGE_VERSION=.*/PACKAGE_VERSION=1:10.0.14+ds-0+deb13u1/; s/^MESON_VERSION=.*/MESON_VERSION=1:1.8.0-1/' \
	"$A/patches/qemu/BASE"
: > "$T/apt.log"
"$A/harness/qemu-build.sh" tree > "$T/out" 2> "$T/err"
[ -f "$A/build/qemu/dl/qemu_10.0.14+ds-0+deb13u1.dsc" ] &&
	[ -d "$A/build/qemu/meson/usr/share/meson-1:1.8.0-1" ] &&
	grep -qF 'source --download-only qemu=1:10.0.14+ds-0+deb13u1' "$T/apt.log"
ok $? "QEMU: the pinned source and meson (epoch) are fetched and used, no other version"

# 11. The series file itself is missing.
before=$(state "$A")
mv "$A/patches/linux/series" "$A/patches/linux/series.off"
"$A/harness/tree.sh" tree > "$T/out" 2> "$T/err"
r=$?
[ $r != 0 ] && one_line_error "$T/err" 'series missing' && [ "$(state "$A")" = "$before" ]
ok $? "no patches/linux/series: one line; build/linux unchanged"
mv "$A/patches/linux/series.off" "$A/patches/linux/series"

# 12. The engine's export (harness/patch-queue.sh): "[PATCH]", no Date;
# re-exporting an unchanged series rewrites identical files, applying it
# again gives the same commits, and a comment of series stays with its patch.
sed -i 's/^0001-/\n# mm: a commented entry\n0001-/' "$A/patches/linux/series"
"$A/harness/tree.sh" tree > "$T/out" 2>&1 && "$A/harness/tree.sh" patches >> "$T/out" 2>&1 &&
	rm -rf "$T/snap" && cp -a "$A/patches/linux" "$T/snap" &&
	w1=$(git -C "$A/build/linux" rev-parse work) &&
	"$A/harness/tree.sh" tree >> "$T/out" 2>&1 && "$A/harness/tree.sh" patches >> "$T/out" 2>&1 &&
	[ "$(git -C "$A/build/linux" rev-parse work)" = "$w1" ] &&
	diff -r "$T/snap" "$A/patches/linux" >> "$T/out" 2>&1 &&
	grep -qx -B1 '0001-mm-memfd-a-feature.patch' "$A/patches/linux/series" &&
	[ "$(grep -x -B1 '0001-mm-memfd-a-feature.patch' "$A/patches/linux/series" | head -1)" = '# mm: a commented entry' ] &&
	grep -qx 'Subject: \[PATCH\] mm/memfd: a feature' "$A/patches/linux/0001-mm-memfd-a-feature.patch" &&
	! grep -q '^Date: ' "$A/patches/linux/0001-mm-memfd-a-feature.patch"
ok $? "export: an unchanged series re-exports byte-identical, same commit ids, series comment kept"

# 13-14. The QEMU queue, same engine: a commit with a Date and a
# Signed-off-by exports without them; applied again (fixed dates) and
# re-exported, the files are identical.
Q=$A/build/qemu/src
rm -rf "$Q" && mkdir -p "$Q/hw" "$Q/configs/devices/x86_64-softmmu" && echo 'int a;' > "$Q/hw/a.c" && git -C "$Q" init -q -b work &&
	git -C "$Q" add -A && git -C "$Q" -c user.name=t -c user.email=t@localhost \
		commit -q -m 'QEMU 10.0.14 (Debian qemu_10.0.14+ds-0+deb13u1)' && git -C "$Q" tag base &&
	echo 'int a = 1;' > "$Q/hw/a.c" &&
	git -C "$Q" -c user.name=Q -c user.email=q@localhost commit -qa \
		-m 'hw: a change' -m 'Why.' -m 'Signed-off-by: Q <q@localhost>' &&
	echo 0001-hw-a-change.patch > "$A/patches/qemu/series" &&
	"$A/harness/qemu-build.sh" patches > "$T/out" 2>&1 &&
	f=$A/patches/qemu/0001-hw-a-change.patch &&
	grep -qx 'Subject: \[PATCH\] hw: a change' "$f" && ! grep -q '^Date: \|Signed-off-by' "$f" &&
	[ "$(sed -n '/^Subject/,/^---$/p' "$f" | tail -2 | head -1)" = 'Why.' ]
ok $? "QEMU export: [PATCH], no Date, no Signed-off-by, the changelog otherwise kept"
cp "$f" "$T/qemu.patch"
"$A/harness/qemu-build.sh" tree > "$T/out" 2>&1 && "$A/harness/qemu-build.sh" patches >> "$T/out" 2>&1 &&
	cmp "$T/qemu.patch" "$f" >> "$T/out" 2>&1 &&
	[ "$(git -C "$Q" log -1 --format=%ad%n%cn work)" = "$(printf 'Thu Jan 1 00:00:00 1970 +0000\nkvm-hugetlb-private build')" ]
ok $? "QEMU: applied with fixed dates and committer, re-exported byte-identical"

# 15-16. .ci/run: the closing line also when a target fails, a failure
# counted for a target that failed before its tests, non-zero exit.
C=$T/ci
mkdir -p "$C/.ci" "$C/bin"
cp "$top/.ci/run" "$C/.ci/run"
cat > "$C/bin/make" <<'EOF'
#!/bin/bash
case $1 in
check-harness) echo "3 passed, 0 failed" ;;
test) echo "5 passed, 0 failed, 1 skipped" ;;
test-debug) [ -n "${CI_FAIL:-}" ] && { echo "kernel: debug build failed"; exit 2; }
	echo "4 passed, 0 failed, 0 skipped" ;;
*) echo "1 passed, 0 failed, 0 skipped" ;;
esac
EOF
chmod +x "$C/bin/make"
PATH=$C/bin:$PATH bash "$C/.ci/run" > "$T/out" 2>&1
r=$?
[ $r = 0 ] && [ "$(tail -n 1 "$T/out")" = "total: 12 passed, 0 failed, 1 skipped" ]
ok $? ".ci/run: the sum of every target's result line, exit 0"
CI_FAIL=1 PATH=$C/bin:$PATH bash "$C/.ci/run" > "$T/out" 2>&1
r=$?
[ $r != 0 ] && [ "$(tail -n 1 "$T/out")" = "total: 8 passed, 1 failed, 1 skipped" ]
ok $? ".ci/run: a target failing before its tests: the closing line, one failure, non-zero exit"

# 17-18. harness/list.sh, the one parser of the test lists.
cat > "$T/t.list" <<'EOF'
#% HUGEPAGES=hugepagesz=2M hugepages=8
#% QEMU_MEM=2G
#@ upstream
a/one   60 a/one
#@ debug off
a/two   60 guest/nr_hugepages.sh 1 a/two --flag
#@ long
a/three 900 a/three
#@ long end
#@ debug on
#@ project
b/four  30 b/four x y
EOF
L=$top/harness/list.sh
names() { "$L" select "$T/t.list" "$@" | awk '!/^#/ { printf "%s ", $1 }'; }
[ "$(names "" "" "")" = "a/one a/two b/four " ] &&
	[ "$(names "" 1 "")" = "a/one a/two a/three b/four " ] &&
	[ "$(names "" "" 1)" = "a/one b/four " ] &&
	[ "$(names "" 1 1)" = "a/one a/two a/three b/four " ] &&
	[ "$(names "a/th*" "" "")" = "a/three " ] &&
	! "$L" select "$T/t.list" "nothing" "" "" > /dev/null 2>&1 &&
	[ "$("$L" select "$T/t.list" "" "" "" | grep -c '^#%')" = 2 ]
ok $? "list.sh select: T, FULL, the debug run and the long tests; no test left fails"
[ "$("$L" need "$T/t.list" QEMU_MEM)" = 2G ] &&
	[ "$("$L" limit "$T/t.list")" = 1050 ] && [ "$("$L" count "$T/t.list")" = 4 ] &&
	[ "$("$L" programs "$T/t.list" | xargs)" = "a/one a/three a/two b/four guest/nr_hugepages.sh" ] &&
	[ "$("$L" owners "$T/t.list" | xargs)" = "a/one upstream a/two upstream a/three upstream b/four project" ] &&
	[ "$("$L" tests "$T/t.list" | sed -n 2p)" = "a/two   60 guest/nr_hugepages.sh 1 a/two --flag" ]
ok $? "list.sh need, limit, count, programs (a wrapper's test program too), owners, tests"

# 19. harness/compare.sh (make test-base) on that list: a regression of
# an upstream test fails it; project tests are not compared.
printf 'a/one pass\na/two pass\na/three fail\nb/four fail\n' > "$T/base.res"
printf 'a/one pass\na/two fail\na/three fail\nb/four pass\n' > "$T/patched.res"
"$top/harness/compare.sh" "$T/t.list" "$T/base.res" "$T/patched.res" > "$T/cmp" 2>&1
r=$?
printf 'a/one pass\na/two pass\na/three fail\nb/four pass\n' > "$T/patched.res"
"$top/harness/compare.sh" "$T/t.list" "$T/base.res" "$T/patched.res" > "$T/cmp2" 2>&1
r2=$?
[ $r = 1 ] && [ $r2 = 0 ] &&
	grep -qx 'Upstream tests: 3, 1 same, 1 failing on both, 1 differing (1 regressions)' "$T/cmp" &&
	grep -q '^  a/two .*DIFFERS: regression' "$T/cmp" &&
	grep -qx 'Project tests: 1 (not applicable on the base kernel)' "$T/cmp2"
ok $? "compare.sh: an upstream regression fails, counts exact, project tests not compared"

# 20. harness/timings.sh: a table from .ci/run's logs; no logs, no table.
B2=$T/ci-build
mkdir -p "$B2"
printf 'commit abc\ndate 2026-12-07\ncpus 2\ntarget test 100 0\ntarget test-debug 90 0\ntotal 190 5 0 0\n' > "$B2/ci-times"
printf '  KERNEL  build/bzImage-patched ready in 50 s\n  QEMU    booting patched kernel\n  QEMU    exited with 0 after 40 s\n3 passed, 0 failed, 0 skipped\n' > "$B2/ci-test.log"
printf '  KERNEL  build/bzImage-debug ready in 45 s\n2 passed, 0 failed, 0 skipped\n' > "$B2/ci-test-debug.log"
printf 'ok 1 x/a # 12.5s\nnot ok 2 x/b # TIMEOUT after 60s\nok 3 x/c # 1.0s\n' > "$B2/ci-test.serial.log"
printf 'ok 1 x/a # 30.0s\nok 2 x/c # 2.0s\n' > "$B2/ci-test-debug.serial.log"
"$top/harness/timings.sh" "$B2" > "$T/tim" 2>&1 &&
	grep -qx '| - the patched kernel built | 50 s |' "$T/tim" &&
	grep -qx '| - the test VM on the patched kernel, boot to power-off | 40 s |' "$T/tim" &&
	grep -qx '| x/b | 60 s (timeout) | - |' "$T/tim" &&
	grep -qx '| x/a | 12.5 s | 30.0 s |' "$T/tim" &&
	grep -q '^| the whole run: 5 passed, 0 failed, 0 skipped | 190 s' "$T/tim" &&
	rm "$B2/ci-test-debug.serial.log" && ! "$top/harness/timings.sh" "$B2" > /dev/null 2>&1
ok $? "timings.sh: the table from the logs (builds, boots, a timeout marked); a missing log fails"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
