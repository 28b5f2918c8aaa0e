#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Configure and build the assembled kernel out of tree.
#
#   kernel.sh VARIANT      VARIANT is "patched", "debug" or "pristine"
#
# Output: build/kernel-VARIANT/ (object tree), build/bzImage-VARIANT (stable
# path), build/kernel-VARIANT/usr/include (installed uAPI headers).
#
# "patched" is the base with the series, for the test VM
# (harness/config/test-vm.config), "debug" the same with the debug
# checkers (test-vm-debug.config on top), "pristine" the unpatched base (tag
# base of build/linux, checked out as a git worktree in build/linux-pristine)
# with test-vm.config less the symbols the base does not have (the project's own), for make test-base.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/BASE"
variant=${1:-patched}
# KERNEL_SRC, KERNEL_OUT: another source tree and object tree (make
# check-base); then no build/bzImage-VARIANT is written.
linux=${KERNEL_SRC:-$top/build/linux}
out=${KERNEL_OUT:-$top/build/kernel-$variant}
cfgdir=$top/harness/config
jobs=${JOBS:-$(nproc)}

export CCACHE_DIR=${CCACHE_DIR:-$top/build/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-4G}
# Depend mode: a miss compiles once, with no preprocessor run for the
# hash (ccache's default mode costs a cold build about 25% more); hits
# come from the compiler's own -MD dependency list.
export CCACHE_DEPEND=1
# Not for the pristine kernel: its autoconf.h differs from the patched
# kernel's, and only the preprocessor mode finds the patched build's
# objects for the files whose preprocessed source is the same.
[ "$variant" = pristine ] && unset CCACHE_DEPEND
export KBUILD_BUILD_TIMESTAMP="1970-01-01 00:00:00 UTC"
export KBUILD_BUILD_USER=build KBUILD_BUILD_HOST=localhost
kmake() { make -s -C "$linux" ARCH=x86_64 O="$out" CC="ccache gcc" HOSTCC="ccache gcc" "$@"; }

frags=$cfgdir/test-vm.config
[ "$variant" = debug ] && frags="$frags $cfgdir/test-vm-debug.config"

mkdir -p "$out"
if [ "$variant" = pristine ] && [ -n "${PRISTINE_NS:-}" ]; then
	# Re-run of the script inside the mount namespace (below).
	frags=$out/pristine.config
elif [ "$variant" = pristine ]; then
	src=$top/build/linux-pristine
	want_rev=$(git -C "$linux" rev-parse base)
	if [ "$(git -C "$src" rev-parse HEAD 2>/dev/null)" != "$want_rev" ] ||
	   [ -n "$(git -C "$src" status --porcelain 2>/dev/null | head -1)" ]; then
		echo "  KERNEL  checking out tag base of build/linux in build/linux-pristine"
		rm -rf "$src"
		git -C "$linux" worktree prune
		git -C "$linux" worktree add -q --detach "$src" base
	fi
	linux=$src
	# The symbols the base defines; the others are the project's.
	find "$linux" -name 'Kconfig*' -print0 | xargs -0 grep -hoE '^[[:space:]]*(menu)?config [A-Z0-9_]+' |
		awk '{ print "CONFIG_" $2 }' | sort -u > "$out/.base-symbols"
	awk 'NR == FNR { have[$1] = 1; next }
		/^CONFIG_/ { s = $0; sub(/=.*/, "", s); if (!(s in have)) { print "  KERNEL  pristine: dropping " $0 > "/dev/stderr"; next } }
		/^# CONFIG_.* is not set/ { if (!($2 in have)) next }
		{ print }' "$out/.base-symbols" $frags > "$out/pristine.config"
	frags=$out/pristine.config
	# Build it at the path of build/linux (bound over it in a mount
	# namespace of its own), so that ccache finds the patched build's
	# objects for every file whose preprocessed source is the same: most
	# of the kernel.  Without unshare, it builds from where it is, cold.
	if [ -z "${PRISTINE_NS:-}" ] && [ "$(id -u)" = 0 ] &&
	   unshare -m --propagation private true 2>/dev/null; then
		exec unshare -m --propagation private sh -c \
			'mount --bind "$1" "$2" && PRISTINE_NS=1 exec "$3" pristine' \
			sh "$src" "$top/build/linux" "$0"
	fi
fi
# Regenerate .config only when a fragment changed.
stamp=$out/.config.fragments
want=$(cat $frags | sha1sum)
if [ ! -f "$out/.config" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	echo "  KERNEL  configuring $variant (tinyconfig + $(echo $frags | xargs -n1 basename | xargs))"
	kmake tinyconfig >/dev/null
	KCONFIG_CONFIG=$out/.config "$linux/scripts/kconfig/merge_config.sh" \
		-m -O "$out" "$out/.config" $frags >/dev/null
	kmake olddefconfig >/dev/null
	# Every option of the fragments must have survived olddefconfig, as
	# the last fragment that sets it says.
	missing=0
	while IFS= read -r l; do
		case "$l" in
		CONFIG_*=n) o=${l%%=*}
			grep -q "^$o=" "$out/.config" && { echo "  KERNEL  $o still set" >&2; missing=1; } ;;
		CONFIG_*) grep -qx "$l" "$out/.config" ||
			{ echo "  KERNEL  $l did not stick" >&2; missing=1; } ;;
		esac
	done <<< "$(awk '/^# CONFIG_[A-Z0-9_]* is not set/ { $0 = $2 "=n" }
		/^CONFIG_/ { o = $0; sub(/=.*/, "", o); if (!(o in v)) order[++n] = o; v[o] = $0 }
		END { for (i = 1; i <= n; i++) print v[order[i]] }' $frags)"
	[ $missing = 0 ] || { echo "kernel: config fragment options missing (see above)" >&2; exit 1; }
	echo "$want" > "$stamp"
fi

what="Linux $VERSION + project patches"
[ -n "${KERNEL_SRC:-}" ] && what="${KERNEL_SRC#"$top"/} + project patches"
[ "$variant" = pristine ] && what="Linux $VERSION without the project"
echo "  KERNEL  building $variant $what (-j$jobs, ccache; cold ~6 min)"
start=$(date +%s)
kmake -j"$jobs" bzImage || { echo "kernel: $variant build failed" >&2; exit 1; }
kmake headers_install >/dev/null
if [ -n "${KERNEL_OUT:-}" ]; then
	echo "  KERNEL  ${out#"$top"/}/arch/x86/boot/bzImage ready in $(($(date +%s) - start)) s"
	exit 0
fi
cp "$out/arch/x86/boot/bzImage" "$top/build/bzImage-$variant"
echo "  KERNEL  build/bzImage-$variant ready in $(($(date +%s) - start)) s"
