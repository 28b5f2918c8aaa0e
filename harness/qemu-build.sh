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
#
# build/qemu/
#   apt/    apt's private state: Debian SUITE's deb and deb-src indexes
#   dl/     the source package and the meson .deb
#   meson/  meson, unpacked (QEMU 10.0 wants >= 1.5; Debian strips the wheel)
#   src/    the unpacked source, a git repository: tag "base" is Debian's
#           source with Debian's patches, branch "work" one commit per patch
#           of the series.  Edit there and commit, then "make qemu-patches".
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
g() { git -C "$src" "$@"; }

# shellcheck source=harness/apt.sh
. "$top/harness/apt.sh"

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

# The series' content, to know whether build/qemu/src has it.
series_hash() {
	(cd "$pq" && cat BASE series $(grep -v '^[[:space:]]*\(#\|$\)' series)) | sha256sum | cut -d' ' -f1
}

ensure_base() {
	local dsc v
	dsc=$q/dl/${PACKAGE}_${PACKAGE_VERSION#*:}.dsc
	# The base of patches/qemu/BASE, else (BASE moved) unpacked anew.
	if [ -d "$src/.git" ] && g rev-parse -q --verify base >/dev/null; then
		[[ "$(g log -1 --format=%s base)" == *"(Debian $(basename "$dsc" .dsc))" ]] && return
		if [ -n "$(g status --porcelain --untracked-files=no)" ] && [ -z "${FORCE:-}" ]; then
			die "patches/qemu/BASE moved but build/qemu/src has uncommitted edits:" \
				"commit them and run 'make qemu-patches', or FORCE=1 to drop them"
		fi
		say "patches/qemu/BASE moved: unpacking the new base"
	fi
	ensure_downloads
	rm -rf "$src" "$q/src.tmp"
	say "unpacking $(basename "$dsc") with Debian's patches (dpkg-source)"
	(cd "$q" && dpkg-source -q --no-check -x "$dsc" src.tmp >/dev/null)
	mv "$q/src.tmp" "$src"
	v=$(cat "$src/VERSION")
	say "recording the pristine source (QEMU $v) as a git commit (about a minute)"
	g init -q -b work
	g config user.name "kvm-hugetlb-private build"
	g config user.email "build@localhost"
	g config core.autocrlf false
	g config gc.auto 0
	g add -A -f .
	g commit -q -m "QEMU $v (Debian $(basename "$dsc" .dsc))"
	g tag base
}

cmd_tree() {
	ensure_base
	local want p n=0 idx=$src/.git/index.assemble parent info tree out
	want=$(series_hash)
	if [ "$(cat "$src/.git/harness-series" 2>/dev/null)" != "$want" ]; then
		if [ -n "$(g status --porcelain --untracked-files=no)" ] && [ -z "${FORCE:-}" ]; then
			g status --short --untracked-files=no | head -20 >&2
			die "build/qemu/src has uncommitted edits and patches/qemu changed:" \
				"commit them and run 'make qemu-patches', or FORCE=1 to drop them"
		fi
		# One commit per patch, each applied to a scratch index, so that
		# the work tree is only touched where the result differs.
		parent=$(g rev-parse base)
		GIT_INDEX_FILE=$idx g read-tree base
		for p in $(grep -v '^[[:space:]]*\(#\|$\)' "$pq/series" || true); do
			if ! out=$(GIT_INDEX_FILE=$idx g apply --cached -p1 "$pq/$p" 2>&1); then
				echo "$out" >&2
				rm -f "$idx"
				die "patches/qemu/$p does not apply (see above)"
			fi
			tree=$(GIT_INDEX_FILE=$idx g write-tree)
			# The patch's author, subject and changelog make the commit.
			info=$(git mailinfo "$src/.git/msg" /dev/null < "$pq/$p")
			parent=$( { sed -n 's/^Subject: //p' <<< "$info"; echo; cat "$src/.git/msg"; } |
				GIT_AUTHOR_NAME=$(sed -n 's/^Author: //p' <<< "$info") \
				GIT_AUTHOR_EMAIL=$(sed -n 's/^Email: //p' <<< "$info") \
				GIT_AUTHOR_DATE=$(sed -n 's/^Date: //p' <<< "$info") \
				g commit-tree "$tree" -p "$parent")
			n=$((n + 1))
		done
		rm -f "$idx"
		g checkout -q ${FORCE:+-f} -B work "$parent"
		echo "$want" > "$src/.git/harness-series"
		say "$n patches of patches/qemu/series applied"
	fi
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

cmd_patches() {
	[ -d "$src/.git" ] || die "no build/qemu/src: run 'make qemu' first"
	[ -z "$(g status --porcelain --untracked-files=no)" ] ||
		die "build/qemu/src has uncommitted edits: commit them first"
	local tmp=$q/patches.tmp f n
	rm -rf "$tmp" && mkdir -p "$tmp"
	g format-patch -q --no-signature --zero-commit -o "$tmp" base..work
	rm -f "$pq"/[0-9][0-9][0-9][0-9]-*.patch
	: > "$pq/series"
	n=0
	for f in "$tmp"/*.patch; do
		[ -e "$f" ] || continue
		mv "$f" "$pq/"
		basename "$f" >> "$pq/series"
		n=$((n + 1))
	done
	rmdir "$tmp"
	series_hash > "$src/.git/harness-series"
	say "$n patches written to patches/qemu/ (series)"
}

case "${1:-build}" in
build) cmd_build ;;
tree) cmd_tree ;;
patches) cmd_patches ;;
*) die "usage: $0 build|tree|patches" ;;
esac
