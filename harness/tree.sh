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
# "work" has one commit per patch of the series.  Commits are made with fixed
# dates and committer, so applying an unchanged series gives the same commit
# ids, and the work tree is only touched where a file differs (incremental
# kernel rebuilds stay small).
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

# The commit of the base BASE names, made if build/linux does not have it
# yet: a first base becomes build/linux (the tag is set here); a new one
# (BASE moved) is imported as a commit beside the old one, and cmd_tree
# moves tag base only once the series applies to it.  Prints the commit.
base_subject="Linux $VERSION (Debian $PACKAGE $PACKAGE_VERSION)"
ensure_base() {
	local tar tmp v c idx
	if [ -d "$linux/.git" ]; then
		c=$(g log -1 --format='%H %s' base 2>/dev/null || true)
		[ "${c#* }" = "$base_subject" ] && { echo "${c%% *}"; return; }
		c=$(g log -1 --format=%H --fixed-strings --grep="$base_subject" refs/series/bases 2>/dev/null || true)
		[ -n "$c" ] && { echo "$c"; return; }
	fi
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
	if [ -d "$linux/.git" ]; then
		idx=$linux/.git/index.base.$$
		GIT_INDEX_FILE=$idx GIT_WORK_TREE=$tmp g add -A -f .
		c=$(GIT_INDEX_FILE=$idx g write-tree)
		rm -f "$idx"
		c=$(echo "$base_subject" | GIT_AUTHOR_NAME=$ident_name GIT_AUTHOR_EMAIL=$ident_email \
			GIT_AUTHOR_DATE=$fixed_date GIT_COMMITTER_NAME=$ident_name \
			GIT_COMMITTER_EMAIL=$ident_email GIT_COMMITTER_DATE=$fixed_date \
			g commit-tree "$c")
		# Kept reachable until cmd_tree tags it.
		g update-ref refs/series/bases "$c"
	else
		git -C "$tmp" init -q -b work
		git -C "$tmp" config user.name "$ident_name"
		git -C "$tmp" config user.email "$ident_email"
		git -C "$tmp" config core.autocrlf false
		git -C "$tmp" config gc.auto 0
		git -C "$tmp" add -A -f .
		GIT_AUTHOR_DATE=$fixed_date GIT_COMMITTER_DATE=$fixed_date \
			git -C "$tmp" commit -q -m "$base_subject"
		git -C "$tmp" tag base
		git -C "$tmp" update-ref refs/series/applied work
		rm -rf "$linux"
		mkdir -p "${linux%/*}"
		mv "$tmp" "$linux"
		c=$(g rev-parse base)
	fi
	rm -rf "$tmp"
	trap - EXIT
	echo "$c"
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
	local base p n=0 parent tree files

	# A series that names a missing patch stops before anything changes.
	files=$(series_files)
	for p in $files; do
		[ -f "$pdir/$p" ] || die "patches/linux/series names $p, which" \
			"patches/linux/ does not have: restore the file or drop the line"
	done
	[ -d "$linux/.git" ] && check_clean
	base=$(ensure_base)
	check_clean

	# Files of the old layout (symlinks into this repository) go away.
	find "$linux" -path "$linux/.git" -prune -o -type l -lname "$top/*" -print0 |
		xargs -0 -r rm -f
	: > "$linux/.git/info/exclude"

	# Commit every patch on top of base in a scratch index, without touching
	# the work tree; then move work there, which rewrites only what differs.
	idx=$linux/.git/index.assemble.$$
	tmp=$(mktemp -d)
	trap 'rm -rf "${tmp:-}"; rm -f "${idx:-}"' EXIT
	rm -f "$idx"
	GIT_INDEX_FILE=$idx g read-tree "$base"
	parent=$base
	for p in $files; do
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
	# The work tree first (only what differs is rewritten), then branch
	# work, tag base (moved when BASE moved) and refs/series/applied in one
	# transaction: an interrupt leaves either the old refs, with the new
	# files showing as edits that FORCE=1 drops, or the new ones.
	if [ "$(g rev-parse -q --verify work || true)" != "$parent" ] ||
	   [ -n "$(g status --porcelain --untracked-files=no)" ]; then
		if [ -n "${FORCE:-}" ]; then
			g read-tree --reset -u "$parent"
		else
			g read-tree -m -u HEAD "$parent"
		fi
	fi
	[ "$(g rev-parse base)" = "$base" ] || say "tag base moves to $VERSION ($PACKAGE_VERSION)"
	g update-ref --stdin >/dev/null <<-EOF
	start
	update refs/heads/work $parent
	update refs/tags/base $base
	update refs/series/applied $parent
	delete refs/series/bases
	commit
	EOF
	g symbolic-ref HEAD refs/heads/work
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
base) ensure_base >/dev/null ;;
patches) cmd_patches ;;
export) cmd_export "${2:-work}" ;;
series) cmd_series ;;
*) die "usage: $0 tree|patches|series|base|export REF" ;;
esac
