#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Configure and build the assembled kernel out of tree.
#
#   kernel.sh VARIANT      VARIANT is "base" or "debug"
#
# Output: build/kernel-VARIANT/ (object tree), build/bzImage-VARIANT (stable
# path), build/kernel-VARIANT/usr/include (installed uAPI headers).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/BASE"
variant=${1:-base}
linux=$top/build/linux
out=$top/build/kernel-$variant
cfgdir=$top/harness/config
jobs=${JOBS:-$(nproc)}

export CCACHE_DIR=${CCACHE_DIR:-$top/build/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-4G}
export KBUILD_BUILD_TIMESTAMP="1970-01-01 00:00:00 UTC"
export KBUILD_BUILD_USER=build KBUILD_BUILD_HOST=localhost
kmake() { make -s -C "$linux" ARCH=x86_64 O="$out" CC="ccache gcc" HOSTCC="ccache gcc" "$@"; }

frags=$cfgdir/base.config
[ "$variant" = debug ] && frags="$frags $cfgdir/debug.config"

mkdir -p "$out"
# Regenerate .config only when a fragment changed.
stamp=$out/.config.fragments
want=$(cat $frags | sha1sum)
if [ ! -f "$out/.config" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	echo "  KERNEL  configuring $variant (tinyconfig + $(echo $frags | xargs -n1 basename | xargs))"
	kmake tinyconfig >/dev/null
	KCONFIG_CONFIG=$out/.config "$linux/scripts/kconfig/merge_config.sh" \
		-m -O "$out" "$out/.config" $frags >/dev/null
	kmake olddefconfig >/dev/null
	# Every option of the fragments must have survived olddefconfig.
	missing=0
	for f in $frags; do
		while IFS= read -r l; do
			case "$l" in
			CONFIG_*=n) o=${l%%=*}
				grep -q "^$o=" "$out/.config" && { echo "  KERNEL  $o still set" >&2; missing=1; } ;;
			CONFIG_*) grep -qx "$l" "$out/.config" ||
				{ echo "  KERNEL  $l did not stick" >&2; missing=1; } ;;
			esac
		done < "$f"
	done
	[ $missing = 0 ] || { echo "kernel: config fragment options missing (see above)" >&2; exit 1; }
	echo "$want" > "$stamp"
fi

echo "  KERNEL  building $variant Linux $VERSION + project patches (-j$jobs, ccache; cold ~6 min)"
start=$(date +%s)
kmake -j"$jobs" bzImage || { echo "kernel: $variant build failed" >&2; exit 1; }
kmake headers_install >/dev/null
cp "$out/arch/x86/boot/bzImage" "$top/build/bzImage-$variant"
echo "  KERNEL  build/bzImage-$variant ready in $(($(date +%s) - start)) s"
