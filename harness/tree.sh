#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Assemble the kernel tree in build/linux from the Debian base source, the
# project's .patch files and its new files.
#
#   tree.sh tree      unpack the base (once), apply every .patch, link new files
#   tree.sh patches   regenerate the .patch files from edits made in build/linux
#   tree.sh series    export the change as a git format-patch series
#
# build/linux is a git repository: commit "base" (tag "base") is the pristine
# source, branch "work" is base plus the patches.  New files are symlinks into
# this repository and are listed in .git/info/exclude, so "git status" in
# build/linux shows only edits to upstream files.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/BASE"
linux=$top/build/linux
# Top-level kernel directories whose content in this repository is kernel code.
kdirs="arch block Documentation drivers fs include init ipc kernel lib mm \
	samples scripts security tools virt"

say() { echo "  TREE    $*"; }
die() { echo "tree: error: $*" >&2; exit 1; }

g() { git -C "$linux" "$@"; }

# Every file of ours under a kernel directory, relative to $top.
our_files() {
	(cd "$top" && for d in $kdirs; do
		[ -d "$d" ] && find "$d" -type f ! -name '*.orig' ! -name '*.rej'
	done | LC_ALL=C sort)
}

ensure_base() {
	[ -d "$linux/.git" ] && g rev-parse -q --verify base >/dev/null && return
	[ -f "$TARBALL" ] || die "$TARBALL missing: apt-get install $PACKAGE"
	rm -rf "$linux" && mkdir -p "$linux"
	say "unpacking $TARBALL (about 15 s)"
	tar -C "$linux" --strip-components=1 -xJf "$TARBALL"
	local v
	v=$(make -s -C "$linux" kernelversion)
	if [ "$v" != "$VERSION" ]; then
		echo "tree: warning: $TARBALL is $v, patches are made against $VERSION;" \
			"trying anyway" >&2
	fi
	say "recording pristine base $v as a git commit (about 30 s)"
	g init -q -b work
	g config user.name "kvm-hugetlb-private build"
	g config user.email "build@localhost"
	g config core.autocrlf false
	g config gc.auto 0
	g add -A -f .
	g commit -q -m "Linux $v (Debian $PACKAGE)"
	g tag base
}

cmd_tree() {
	ensure_base
	if [ -n "$(g status --porcelain --untracked-files=no)" ] && [ -z "${FORCE:-}" ]; then
		g status --short --untracked-files=no | head -20 >&2
		die "build/linux has edits that are not in the repository's .patch files:" \
			"run 'make patches' to keep them, or 'make tree FORCE=1' to drop them"
	fi

	# Apply every patch to a scratch index built from base, so that the work
	# tree is only touched where the result differs (keeps rebuilds small).
	local idx=$linux/.git/index.assemble p n=0
	rm -f "$idx"
	GIT_INDEX_FILE=$idx g read-tree base
	for p in $(our_files | grep '\.patch$' || true); do
		if ! out=$(GIT_INDEX_FILE=$idx g apply --cached --verbose -p1 "$top/$p" 2>&1); then
			echo "$out" | grep -v '^Checking patch' >&2
			rm -f "$idx"
			die "patch $p does not apply to $VERSION (see the failing file and hunk above)"
		fi
		n=$((n + 1))
	done
	local tree commit
	tree=$(GIT_INDEX_FILE=$idx g write-tree)
	rm -f "$idx"
	if [ "$(g rev-parse 'HEAD^{tree}')" != "$tree" ]; then
		commit=$(echo "base + $n project patches" | g commit-tree "$tree" -p base)
		FORCE_ARG=
		[ -n "${FORCE:-}" ] && FORCE_ARG=-f
		g checkout -q $FORCE_ARG -B work "$commit"
	fi
	say "$n patches applied to $VERSION"

	# New files: symlinks into this repository, hidden from git status.
	local f excl=$linux/.git/info/exclude m=0
	: > "$excl"
	for f in $(our_files | grep -v '\.patch$' || true); do
		if [ -e "$linux/$f" ] && [ ! -L "$linux/$f" ]; then
			die "$f exists upstream: change it with $f.patch instead"
		fi
		mkdir -p "$(dirname "$linux/$f")"
		ln -sfn "$top/$f" "$linux/$f"
		echo "/$f" >> "$excl"
		m=$((m + 1))
	done
	# Drop links to files that left the repository.
	find "$linux" -xtype l -lname "$top/*" -delete
	say "$m new files linked"
}

cmd_patches() {
	[ -d "$linux/.git" ] || die "no build/linux: run 'make tree' first"
	local f n=0
	# Upstream files that differ from base, in the work tree or committed.
	for f in $(g diff --name-only base); do
		mkdir -p "$(dirname "$top/$f")"
		g diff --no-color --no-ext-diff base -- "$f" > "$top/$f.patch"
		n=$((n + 1))
	done
	# .patch files whose upstream file is pristine again.
	for f in $(our_files | grep '\.patch$' || true); do
		if g diff --quiet base -- "${f%.patch}"; then
			rm -f "$top/$f"
			say "removed $f (file is pristine)"
		fi
	done
	g add -u
	g diff --cached --quiet || g commit -q -m "local edits folded into .patch files"
	say "$n .patch files written"
}

cmd_series() {
	[ -d "$linux/.git" ] || die "no build/linux: run 'make tree' first"
	local out=$top/build/series
	rm -rf "$out" && mkdir -p "$out"
	# One throw-away branch with every file of ours, committed per top-level
	# component, so that a reviewer gets a normal format-patch series.
	local wt=$top/build/series-wt
	rm -rf "$wt"
	g worktree prune
	# One commit with every .patch (not build/linux's local history).
	local changes
	changes=$(echo "kvm-hugetlb-private: changes to upstream files" |
		g commit-tree 'work^{tree}' -p base)
	g worktree add -q --detach "$wt" "$changes"
	local f
	for f in $(our_files | grep -v '\.patch$' || true); do
		mkdir -p "$(dirname "$wt/$f")"
		cp "$top/$f" "$wt/$f"
	done
	git -C "$wt" add -A -f .
	git -C "$wt" commit -q -m "kvm-hugetlb-private: new files" \
		-m "Generated from the project repository by 'make series'."
	git -C "$wt" format-patch -q -o "$out" base..HEAD
	g worktree remove --force "$wt"
	say "series written to build/series/"
	ls "$out"
}

case "${1:-}" in
tree) cmd_tree ;;
patches) cmd_patches ;;
series) cmd_series ;;
*) die "usage: $0 tree|patches|series" ;;
esac
