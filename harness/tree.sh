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
#   tree.sh base          only unpack the base and record it (tag base)
#
# build/linux is a git repository: tag "base" is the pristine source, branch
# "work" has one commit per patch of the series.  Commits are made with fixed
# dates and committer, so applying an unchanged series gives the same commit
# ids, and the work tree is only touched where a file differs (incremental
# kernel rebuilds stay small).
#
# Editing workflow (see README.md, "Editing the series"):
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

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/BASE"
linux=$top/build/linux
pdir=${PATCH_DIR:-$top/patches/linux}
ident_name="kvm-hugetlb-private build"
ident_email="build@localhost"
fixed_date="1970-01-01T00:00:00Z"

say() { echo "  TREE    $*"; }
die() { echo "tree: error: $*" >&2; exit 1; }

g() { git -C "$linux" "$@"; }

# The patch files of the series, in order.
series_files() {
	[ -f "$pdir/series" ] || die "patches/linux/series missing"
	sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$pdir/series"
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
	g config user.name "$ident_name"
	g config user.email "$ident_email"
	g config core.autocrlf false
	g config gc.auto 0
	g add -A -f .
	g commit -q -m "Linux $v (Debian $PACKAGE)"
	g tag base
	g update-ref refs/series/applied work
}

# Refuse to lose what make patches has not exported.
check_clean() {
	[ -n "${FORCE:-}" ] && return
	local head applied
	head=$(g symbolic-ref -q HEAD || true)
	[ "$head" = refs/heads/work ] ||
		die "build/linux is not on branch work (a rebase in progress?):" \
			"finish it and run 'make patches', or 'make tree FORCE=1'"
	if [ -n "$(g status --porcelain --untracked-files=no)" ]; then
		g status --short --untracked-files=no | head -20 >&2
		die "build/linux has edits that are not committed and exported:" \
			"commit them (git commit --fixup=...) and run 'make patches'," \
			"or 'make tree FORCE=1' to drop them"
	fi
	applied=$(g rev-parse -q --verify refs/series/applied || true)
	if [ -n "$applied" ] && [ "$(g rev-parse work)" != "$applied" ]; then
		g log --oneline "$applied..work" | head -20 >&2
		die "build/linux has commits that are not in patches/linux/:" \
			"run 'make patches' to keep them, or 'make tree FORCE=1' to drop them"
	fi
}

cmd_tree() {
	ensure_base
	check_clean

	# Files of the old layout (symlinks into this repository) go away.
	find "$linux" -path "$linux/.git" -prune -o -type l -lname "$top/*" -print0 |
		xargs -0 -r rm -f
	: > "$linux/.git/info/exclude"

	# Commit every patch on top of base in a scratch index, without touching
	# the work tree; then move work there, which rewrites only what differs.
	[ -f "$pdir/series" ] || die "patches/linux/series missing"
	local p n=0 parent tree
	idx=$linux/.git/index.assemble.$$
	tmp=$(mktemp -d)
	trap 'rm -rf "${tmp:-}"; rm -f "${idx:-}"' EXIT
	rm -f "$idx"
	GIT_INDEX_FILE=$idx g read-tree base
	parent=$(g rev-parse base)
	for p in $(series_files); do
		[ -f "$pdir/$p" ] || die "patches/linux/$p (listed in series) missing"
		g mailinfo -k "$tmp/msg" "$tmp/diff" < "$pdir/$p" > "$tmp/info"
		if ! out=$(GIT_INDEX_FILE=$idx g apply --cached --verbose -p1 "$tmp/diff" 2>&1); then
			echo "$out" | grep -v '^Checking patch' >&2
			die "patches/linux/$p does not apply (see the failing file and hunk above)"
		fi
		tree=$(GIT_INDEX_FILE=$idx g write-tree)
		local subject author email
		subject=$(sed -n 's/^Subject: //p' "$tmp/info" | sed 's/^\[[^]]*\] *//')
		author=$(sed -n 's/^Author: //p' "$tmp/info")
		email=$(sed -n 's/^Email: //p' "$tmp/info")
		[ -n "$subject" ] || die "patches/linux/$p has no Subject:"
		parent=$({ echo "$subject"; if [ -s "$tmp/msg" ]; then echo; cat "$tmp/msg"; fi; } |
			GIT_AUTHOR_NAME=${author:-$ident_name} GIT_AUTHOR_EMAIL=${email:-$ident_email} \
			GIT_AUTHOR_DATE=$fixed_date GIT_COMMITTER_NAME=$ident_name \
			GIT_COMMITTER_EMAIL=$ident_email GIT_COMMITTER_DATE=$fixed_date \
			g commit-tree "$tree" -p "$parent")
		n=$((n + 1))
	done
	if [ "$(g rev-parse -q --verify work || true)" != "$parent" ] ||
	   [ -n "$(g status --porcelain --untracked-files=no)" ]; then
		FORCE_ARG=
		[ -n "${FORCE:-}" ] && FORCE_ARG=-f
		g checkout -q $FORCE_ARG -B work "$parent"
	fi
	g update-ref refs/series/applied work
	say "$n patches of patches/linux/series applied to $VERSION (branch work)"
}

# Write base..$1 to patches/linux/: NNNN-subject.patch and series.  Stable:
# no commit ids, dates or git version in the files, so exporting an
# unchanged series rewrites identical files.  Comments of the old series
# file stay before the patch they preceded (matched by subject slug).
cmd_export() {
	local ref=${1:-work}
	[ "$(g rev-list --count "base..$ref")" -gt 0 ] || die "base..$ref is empty"
	tmp=$(mktemp -d)
	trap 'rm -rf "${tmp:-}"' EXIT
	g -c core.abbrev=12 -c diff.noprefix=false -c format.signOff=false \
		format-patch -q --zero-commit --no-signature --no-numbered \
		--no-cover-letter --no-thread --abbrev=12 --stat=72 \
		--no-base -o "$tmp" "base..$ref" >/dev/null
	# Drop the Date: line of the mail header.
	local f
	for f in "$tmp"/*.patch; do
		sed -i '1,/^$/{/^Date: /d}' "$f"
	done
	mkdir -p "$pdir"
	python3 - "$pdir" "$tmp" <<-'EOF'
	import os, re, sys, shutil
	pdir, tmp = sys.argv[1:]
	slug = lambda n: re.sub(r"^\d{4}-", "", n)
	old = os.path.join(pdir, "series")
	comments, header = {}, []
	if os.path.exists(old):
	    lines = open(old).read().splitlines()
	    i = 0
	    while i < len(lines) and lines[i].startswith("#"):
	        header.append(lines[i])
	        i += 1
	    pending = []
	    for line in lines[i:]:
	        if not line.strip() or line.startswith("#"):
	            pending.append(line)
	            continue
	        comments[slug(line.strip())] = pending
	        pending = []
	if not header:
	    header = ["# The kernel patch series, in the order a reviewer reads it",
	              "# (quilt format; harness/tree.sh applies it, 'make patches'",
	              "# rewrites it from build/linux; comments before an entry stay",
	              "# with it)."]
	new = sorted(f for f in os.listdir(tmp) if f.endswith(".patch"))
	for f in os.listdir(pdir):
	    if re.match(r"^\d{4}-.*\.patch$", f) and f not in new:
	        os.unlink(os.path.join(pdir, f))
	out = header[:]
	for f in new:
	    shutil.copyfile(os.path.join(tmp, f), os.path.join(pdir, f))
	    for line in comments.get(slug(f), []):
	        if line.strip() or (out and out[-1].strip()):
	            out.append(line)
	    out.append(f)
	open(old, "w").write("\n".join(out).rstrip("\n") + "\n")
	EOF
	say "$(ls "$tmp" | wc -l) patches written to ${pdir#$top/}/"
}

cmd_patches() {
	[ -d "$linux/.git" ] || die "no build/linux: run 'make tree' first"
	[ "$(g symbolic-ref -q HEAD || true)" = refs/heads/work ] ||
		die "build/linux is not on branch work (a rebase in progress?)"
	if [ -n "$(g status --porcelain --untracked-files=no)" ]; then
		g status --short --untracked-files=no | head -20 >&2
		die "build/linux has uncommitted edits: commit them to the patch they" \
			"belong to (git commit --fixup=<commit>; git rebase -i --autosquash base)"
	fi
	cmd_export work
	g update-ref refs/series/applied work
}

cmd_series() {
	[ -d "$linux/.git" ] || die "no build/linux: run 'make tree' first"
	local name email out=$top/build/series cover=$pdir/cover-letter.txt
	name=$(git -C "$top" config user.name || true)
	email=$(git -C "$top" config user.email || true)
	[ -n "$name" ] && [ -n "$email" ] ||
		die "git config user.name and user.email are not set: the series" \
			"is posted under your name (git config --global user.name 'Your Name';" \
			"git config --global user.email you@example.org)"
	# The series again, authored and signed off by the user.
	local c parent tip sob="Signed-off-by: $name <$email>"
	parent=$(g rev-parse base)
	for c in $(g rev-list --reverse base..work); do
		parent=$(g log -1 --format=%B "$c" |
			git interpret-trailers --if-exists addIfDifferent \
				--trailer "$sob" |
			GIT_AUTHOR_NAME=$name GIT_AUTHOR_EMAIL=$email \
			GIT_COMMITTER_NAME=$name GIT_COMMITTER_EMAIL=$email \
			g commit-tree "$c^{tree}" -p "$parent")
	done
	tip=$parent
	g update-ref refs/series/posted "$tip"
	rm -rf "$out" && mkdir -p "$out"
	g -c user.name="$name" -c user.email="$email" -c format.signOff=false \
		format-patch -q --cover-letter --thread=shallow \
		--no-signature -o "$out" "base..$tip" >/dev/null
	# The cover letter from patches/linux/cover-letter.txt: its first line is
	# the subject, the rest the text above format-patch's shortlog.
	local cl
	cl=$(ls "$out"/0000-cover-letter.patch)
	python3 - "$cl" "$cover" <<-'EOF'
	import sys
	cl, tpl = sys.argv[1:]
	t = open(tpl).read().split("\n", 1)
	s = open(cl).read()
	s = s.replace("*** SUBJECT HERE ***", t[0].strip())
	s = s.replace("*** BLURB HERE ***", t[1].strip("\n") if len(t) > 1 else "")
	open(cl, "w").write(s)
	EOF
	say "$(($(ls "$out" | wc -l) - 1)) patches and a cover letter in build/series/ ($name <$email>)"
	ls "$out"
}

# One tree.sh at a time per build/linux (make -j, or a second shell).
if [ -d "$linux/.git" ]; then
	exec 9>"$linux/.git/tree.lock"
	flock 9
fi

case "${1:-}" in
tree) cmd_tree ;;
base) ensure_base ;;
patches) cmd_patches ;;
export) cmd_export "${2:-work}" ;;
series) cmd_series ;;
*) die "usage: $0 tree|patches|series|base|export REF" ;;
esac
