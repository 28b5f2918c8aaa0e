#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Assemble the kernel tree in build/linux from the Debian base source and the
# patch series in patches/linux/ (quilt layout: "series" lists the patches in
# order, each a `git format-patch` file with its changelog).
#
#   tree.sh tree          unpack the base (once), apply the series as commits
#   tree.sh patches       write build/linux's base..work back to patches/linux/
#   tree.sh series        the series for posting, with a cover letter, in
#                         build/series/ (author and Signed-off-by: yours)
#   tree.sh export REF    write base..REF to patches/linux/ (used by patches)
#   tree.sh base          only unpack the base and record it (tag base, or,
#                         when BASE moved, a commit that make tree tags)
#
# The base is Debian's $PACKAGE of exactly BASE's PACKAGE_VERSION: the
# installed package's tarball if it is that version, else the package
# fetched into build/base/ through apt with a private state (harness/apt.sh);
# a version the archive no longer has stops with an error, never a fallback.
#
# build/linux is a git repository: tag "base" is the pristine source, branch
# "work" has one commit per patch of the series.  Applying, exporting,
# protecting unexported work and the posting copy follow the rules of
# harness/patch-queue.sh, the same for the QEMU series: fixed dates and
# committer (an unchanged series gives the same commit ids, the work tree is
# only touched where a file differs), stable export ("[PATCH]", no Date, no
# Signed-off-by; series comments kept).
#
# Editing workflow (docs/series.md, "Changing a patch"):
#
#   cd build/linux
#   edit; git commit --fixup=<commit of the patch to change>
#   git rebase -i --autosquash base     # or: git commit --amend, rebase -i
#   cd ../..; make patches              # patches/linux/*.patch and series
#
# A new patch is a new commit on work (put it where it belongs with
# rebase -i); its subject names its file.  `make tree` refuses to move work
# while build/linux has edits or commits that `make patches` has not
# exported (FORCE=1 drops them); refs/series/applied records the last commit
# that make tree applied or make patches exported.
set -euo pipefail
shopt -s inherit_errexit	# a die() in $(...) stops the script

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/BASE"

say() { echo "  TREE    $*"; }
die() { echo "tree: error: $*" >&2; exit 1; }

# shellcheck source=harness/patch-queue.sh
. "$top/harness/patch-queue.sh"
pq_init linux
pq_dir=${PATCH_DIR:-$pq_dir}
linux=$pq_src

# The tarball of the base: Debian's $PACKAGE of exactly $PACKAGE_VERSION.
# The installed one if the installed package is that version; else the
# package fetched into build/base/ (never installed), its tarball kept there.
base_tarball() {
	local inst dir=$top/build/base tar deb
	inst=$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$PACKAGE" 2>/dev/null || true)
	inst=${inst#installed }
	[[ $inst == *" "* ]] && inst=	# not installed (e.g. config-files)
	if [ "$inst" = "$PACKAGE_VERSION" ] && [ -f "$TARBALL" ]; then
		echo "$TARBALL"
		return
	fi
	tar=$dir/$PACKAGE_VERSION/$(basename "$TARBALL")
	if [ ! -f "$tar" ]; then
		# shellcheck source=harness/apt.sh
		. "$top/harness/apt.sh"
		# shellcheck disable=SC2086
		apt_init "$dir/apt" $SUITES
		say "fetching $PACKAGE $PACKAGE_VERSION into build/base" \
			"(installed: ${inst:-none})" >&2
		apt_fetch deb "$PACKAGE" "$PACKAGE_VERSION" "$dir" BASE >&2
		deb=$(apt_deb "$dir" "$PACKAGE" "$PACKAGE_VERSION") ||
			die "apt-get download left no $PACKAGE $PACKAGE_VERSION .deb in build/base"
		mkdir -p "${tar%/*}"
		if ! dpkg-deb --fsys-tarfile "$deb" | tar -xO ".$TARBALL" > "$tar.tmp" 2>/dev/null ||
		   [ ! -s "$tar.tmp" ]; then
			rm -f "$tar.tmp" "$deb"
			die "$(basename "$deb") has no $TARBALL: check TARBALL in BASE"
		fi
		mv "$tar.tmp" "$tar"
		rm -f "$deb"
	fi
	echo "$tar"
}

# The kernel version of the source tree in $1, from its Makefile.
kernel_version() {
	awk -F' *= *' '$1 == "VERSION" { v = $2 } $1 == "PATCHLEVEL" { p = $2 }
		$1 == "SUBLEVEL" { s = $2 } $1 == "NAME" { exit }
		END { print v "." p "." s }' "$1/Makefile"
}

# The commit of the base BASE names, imported (pq_import_base) if
# build/linux does not have it yet.  Prints the commit.
base_subject="Linux $VERSION (Debian $PACKAGE $PACKAGE_VERSION)"
ensure_base() {
	local tar tmp v c
	c=$(pq_find_base "$base_subject")
	[ -n "$c" ] && { echo "$c"; return; }
	tar=$(base_tarball)
	tmp=$top/build/base/src.$$
	rm -rf "$tmp" && mkdir -p "$tmp"
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	say "unpacking $tar (about 15 s)" >&2
	tar -C "$tmp" --strip-components=1 -xJf "$tar" || die "cannot unpack $tar"
	v=$(kernel_version "$tmp")
	[ "$v" = "$VERSION" ] ||
		die "$tar is Linux $v, but BASE says VERSION=$VERSION: fix BASE"
	say "recording the pristine base $v as a git commit (about 30 s)" >&2
	c=$(pq_import_base "$tmp" "$base_subject")
	trap - EXIT
	echo "$c"
}

cmd_tree() {
	local base
	pq_check_series
	[ -d "$linux/.git" ] && pq_check_clean
	base=$(ensure_base)
	pq_lock
	pq_check_clean
	# Files of the old layout (symlinks into this repository) go away.
	find "$linux" -path "$linux/.git" -prune -o -type l -lname "$top/*" -print0 |
		xargs -0 -r rm -f
	: > "$linux/.git/info/exclude"
	pq_apply "$base"
}

pq_lock

case "${1:-}" in
tree) cmd_tree ;;
base) ensure_base >/dev/null ;;
patches) pq_patches ;;
export) [ -d "$linux/.git" ] || die "no build/linux: run 'make tree' first"
	pq_export "${2:-work}" ;;
series) pq_series ;;
*) die "usage: $0 tree|patches|series|base|export REF" ;;
esac
