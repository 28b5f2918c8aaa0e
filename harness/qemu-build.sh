#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The project's QEMU: Debian trixie's QEMU 10.0 source package with the
# project's patch series (patches/qemu/series), built once for one target
# (x86_64-softmmu) with KVM and TCG, without default features and with the
# devices of harness/qemu-devices.mak.  It has two roles:
#  - the emulator of the test VM (TCG, emulated SVM): every make target
#    boots the test VM with build/qemu/qemu-system-x86_64, a wrapper that
#    adds this machine's firmware;
#  - the VMM inside the test VM (KVM): staged into the initramfs, it boots
#    the L2 Linux whose RAM is private memory.
# One binary, so the series' fixes (e.g. the interrupt that TCG delivered
# twice to an L2, patch 7) cover every L2 boot.
#
#   qemu-build.sh build     fetch, assemble, configure, compile, stage (default)
#   qemu-build.sh tree      fetch and assemble build/qemu/src only
#   qemu-build.sh patches   export build/qemu/src's commits to patches/qemu/
#   qemu-build.sh series    the series for posting, in build/qemu/series/
#                           (author and Signed-off-by: yours)
#
# Applying, exporting, protecting unexported work and the posting copy
# follow harness/patch-queue.sh, the rules of the kernel series: commits
# with fixed dates and committer, stable export ("[PATCH]", no Date, no
# Signed-off-by; series comments kept); 'make qemu' refuses to move branch
# work over edits or commits 'make qemu-patches' has not exported (FORCE=1
# drops them).
#
# build/qemu/
#   apt/    apt's private state: Debian SUITE's deb and deb-src indexes
#   dl/     the source package and the meson .deb
#   meson/  meson, unpacked (QEMU 10.0 wants >= 1.5; Debian strips the wheel)
#   src/    the unpacked source, a git repository: tag "base" is Debian's
#           source with Debian's patches, branch "work" one commit per patch
#           of the series.  Edit there and commit, then "make qemu-patches".
#   series/ the posting copy of "make qemu-series"
#   build/  the out-of-tree build (ccache: build/ccache, or $CCACHE_DIR)
#   qemu-system-x86_64  the wrapper that runs it as the test VM's emulator
#           with this machine's firmware (SeaBIOS, the linuxboot ROM)
#   stage/  what the test VM's initramfs gets: usr/bin/qemu-system-x86_64,
#           its shared libraries (ldd) at their paths, firmware in
#           usr/share/qemu (SeaBIOS and the linuxboot option ROM of this
#           machine's Debian packages)
set -euo pipefail
shopt -s inherit_errexit	# a die() in $(...) stops the script

top=$(cd "$(dirname "$0")/.." && pwd)
pq=$top/patches/qemu
. "$pq/BASE"
q=$top/build/qemu
src=$q/src
bld=$q/build
stage=$q/stage
jobs=${JOBS:-$(nproc)}

say() { echo "  QEMU    $*"; }
die() { echo "qemu-build: error: $*" >&2; exit 1; }

# shellcheck source=harness/apt.sh
. "$top/harness/apt.sh"
# shellcheck source=harness/patch-queue.sh
. "$top/harness/patch-queue.sh"
pq_init qemu

# The pinned source package and meson, once (build/qemu/dl).  A version
# Debian's archive no longer has stops the build (apt_fetch): no other
# version is taken in its place.
ensure_downloads() {
	local dsc
	dsc=$q/dl/${PACKAGE}_${PACKAGE_VERSION#*:}.dsc
	if [ ! -f "$dsc" ] || ! apt_deb "$q/dl" meson "$MESON_VERSION" >/dev/null; then
		apt_init "$q/apt" "$SUITE"
		say "fetching $PACKAGE $PACKAGE_VERSION (source, 40 MB) and meson $MESON_VERSION from $SUITE"
		[ -f "$dsc" ] || apt_fetch source "$PACKAGE" "$PACKAGE_VERSION" "$q/dl" patches/qemu/BASE
		apt_deb "$q/dl" meson "$MESON_VERSION" >/dev/null ||
			apt_fetch deb meson "$MESON_VERSION" "$q/dl" patches/qemu/BASE
		[ -f "$dsc" ] || die "apt-get source left no $(basename "$dsc") in build/qemu/dl"
	fi
	if [ "$(cat "$q/meson/.version" 2>/dev/null)" != "$MESON_VERSION" ]; then
		rm -rf "$q/meson"
		dpkg-deb -x "$(apt_deb "$q/dl" meson "$MESON_VERSION")" "$q/meson"
		echo "$MESON_VERSION" > "$q/meson/.version"
	fi
}

# The commit of the base patches/qemu/BASE names: Debian's source with
# Debian's patches (dpkg-source -x), imported by pq_import_base if
# build/qemu/src does not have it yet (a moved pin: beside the old base,
# tag base moves once the series applies).  Prints the commit.
ensure_base() {
	local dsc tmp=$q/src.tmp v c
	dsc=$q/dl/${PACKAGE}_${PACKAGE_VERSION#*:}.dsc
	c=$(pq_find_base "(Debian $(basename "$dsc" .dsc))")
	[ -n "$c" ] && { echo "$c"; return; }
	[ -d "$src/.git" ] && say "patches/qemu/BASE moved: importing the new base" >&2
	ensure_downloads >&2
	rm -rf "$tmp"
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	say "unpacking $(basename "$dsc") with Debian's patches (dpkg-source)" >&2
	(cd "$q" && dpkg-source -q --no-check --no-copy -x "$dsc" "${tmp##*/}" >/dev/null) ||
		die "dpkg-source -x $(basename "$dsc") failed"
	v=$(cat "$tmp/VERSION")
	say "recording the pristine source (QEMU $v) as a git commit (about a minute)" >&2
	c=$(pq_import_base "$tmp" "QEMU $v (Debian $(basename "$dsc" .dsc))")
	trap - EXIT
	echo "$c"
}

cmd_tree() {
	local base
	pq_check_series
	[ -d "$src/.git" ] && pq_check_clean
	base=$(ensure_base)
	pq_lock
	pq_check_clean
	pq_apply "$base"
	rm -f "$src/.git/harness-series"	# the old scheme's series hash
	# The device set of harness/qemu-devices.mak, as configure wants it.
	# Copied only when it changed: it is a dependency of both builds'
	# build.ninja, and a new mtime would make meson reconfigure them.
	cmp -s "$top/harness/qemu-devices.mak" "$src/configs/devices/x86_64-softmmu/l1-vmm.mak" ||
		cp "$top/harness/qemu-devices.mak" "$src/configs/devices/x86_64-softmmu/l1-vmm.mak"
	grep -qx '/configs/devices/x86_64-softmmu/l1-vmm.mak' "$src/.git/info/exclude" 2>/dev/null ||
		echo /configs/devices/x86_64-softmmu/l1-vmm.mak >> "$src/.git/info/exclude"
}

configure_args() {
	cat <<-EOF
	--prefix=/usr
	--python=/usr/bin/python3
	--target-list=x86_64-softmmu
	--enable-kvm
	--enable-tcg
	--without-default-features
	--without-default-devices
	--with-devices-x86_64=l1-vmm
	--disable-download
	--disable-docs
	--disable-debug-info
	--disable-install-blobs
	--disable-user
	--disable-guest-agent
	EOF
}

# compile DIR ARGS: configure (when ARGS changed) and compile into DIR.
compile() {
	local dir=$1 args=$2 stamp
	ensure_downloads
	cmd_tree
	export PYTHONPATH=$q/meson/usr/lib/python3/dist-packages${PYTHONPATH:+:$PYTHONPATH}
	export CCACHE_DIR=${CCACHE_DIR:-$top/build/ccache}
	# Depend mode, as for the kernel (harness/kernel.sh).
	export CCACHE_DEPEND=1
	# Configured anew when the arguments, the source or meson changed.
	stamp="$args $PACKAGE_VERSION meson $MESON_VERSION"
	if [ ! -f "$dir/build.ninja" ] || [ "$(cat "$dir/.harness-configure" 2>/dev/null)" != "$stamp" ]; then
		rm -rf "$dir" && mkdir -p "$dir"
		say "configure: $(echo $args)"
		# shellcheck disable=SC2086
		if ! (cd "$dir" && "$src/configure" $args > configure.log 2>&1); then
			tail -30 "$dir/configure.log" >&2
			die "configure failed (${dir#"$top"/}/configure.log)"
		fi
		echo "$stamp" > "$dir/.harness-configure"
	fi
	say "compiling qemu-system-x86_64 in ${dir#"$top"/} (-j$jobs)"
	if ! ninja -C "$dir" -j"$jobs" qemu-system-x86_64 > "$dir/ninja.log" 2>&1; then
		grep -E -A5 'error|FAILED' "$dir/ninja.log" | head -60 >&2
		die "compile failed (${dir#"$top"/}/ninja.log)"
	fi
}

cmd_build() {
	local t0
	t0=$(date +%s)
	compile "$bld" "$(configure_args)"
	stage_it
	# The test VM's emulator: no network card and no VGA (the device set
	# has neither), the firmware of this machine's Debian packages.
	cat > "$q/qemu-system-x86_64.tmp" <<-EOF
	#!/bin/sh
	exec '$bld/qemu-system-x86_64' -L /usr/share/qemu -L /usr/share/seabios -nic none -vga none "\$@"
	EOF
	chmod +x "$q/qemu-system-x86_64.tmp"
	mv "$q/qemu-system-x86_64.tmp" "$q/qemu-system-x86_64"
	say "built in $(($(date +%s) - t0)) s: $("$bld/qemu-system-x86_64" --version | head -1)"
}

# The binary, its libraries at the paths the loader looks in, the firmware.
stage_it() {
	local lib fw
	rm -rf "$stage"
	mkdir -p "$stage/usr/bin" "$stage/usr/share/qemu"
	cp "$bld/qemu-system-x86_64" "$stage/usr/bin/"
	strip "$stage/usr/bin/qemu-system-x86_64"
	for lib in $(ldd "$bld/qemu-system-x86_64" | awk '/=> \// { print $3 } /^\t\// { print $1 }'); do
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done
	# SeaBIOS, the option ROM that boots -kernel, the vAPIC ROM.
	for fw in /usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin \
		/usr/share/qemu/kvmvapic.bin; do
		[ -f "$fw" ] || die "$fw missing (Debian packages seabios, qemu-system-data)"
		cp -L "$fw" "$stage/usr/share/qemu/"
	done
}

# One qemu-build.sh at a time per build/qemu/src (cmd_tree takes the lock
# once it has a tree).
pq_lock

case "${1:-build}" in
build) cmd_build ;;
tree) cmd_tree ;;
patches) pq_patches ;;
series) cmd_tree; pq_series ;;
*) die "usage: $0 build|tree|patches|series" ;;
esac
