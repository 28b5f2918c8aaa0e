#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The patch-queue engine of both series, one set of rules.  A queue is a
# source tree that is a git repository (tag "base": the pristine source,
# which the caller unpacks; branch "work": one commit per patch) and a patch
# directory in quilt layout ("series" lists the NNNN-subject.patch files in
# order, with "#" comments; cover-letter.txt and subject-prefix, if there,
# are the cover letter and format-patch's subject prefix of the posting
# copy):
#
#   linux   build/linux      patches/linux/  base: harness/tree.sh
#   qemu    build/qemu/src   patches/qemu/   base: harness/qemu-build.sh
#
# The rules:
#  - apply (pq_apply): each patch is committed on top of base in a scratch
#    index with fixed dates and committer, so an unchanged series gives the
#    same commit ids, and the work tree is rewritten only where a file
#    differs (incremental rebuilds stay small);
#  - protect (pq_check_clean): the tree is not moved while it has
#    uncommitted edits, is off branch work (a rebase), or has commits that
#    were not exported; FORCE=1 drops them.  refs/series/applied is the last
#    commit applied or exported;
#  - export (pq_export, pq_patches): git format-patch with subject
#    "[PATCH]", no Date, zeroed commit ids, no git version and no
#    Signed-off-by, so re-exporting an unchanged series rewrites identical
#    files; the comments of series stay with the patch they precede;
#  - post (pq_series): the posting copy, author and Signed-off-by from
#    git config user.name/user.email, with the cover letter of
#    cover-letter.txt (without one, format-patch's placeholders stay, which
#    git send-email refuses to send).
#
# Sourced by tree.sh and qemu-build.sh, which define say() and die(), call
# pq_init QUEUE and provide the base (pq_find_base, pq_import_base).  Run
# directly it does what needs no base:
#
#   patch-queue.sh linux|qemu patches|series|export [REF]

pq_ident_name="kvm-hugetlb-private build"
pq_ident_email="build@localhost"
pq_fixed_date="1970-01-01T00:00:00Z"
pq_tmp='' pq_idx=''

# pq_init linux|qemu: the queue's paths, names and commands.
pq_init() {
	pq_top=${top:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
	case $1 in
	linux)
		pq_src=$pq_top/build/linux
		pq_dir=$pq_top/patches/linux
		pq_post=$pq_top/build/series
		pq_make_tree="make tree" pq_make_patches="make patches"
		pq_header="# The kernel patch series, in the order a reviewer reads it
# (quilt format; harness/tree.sh applies it, 'make patches'
# rewrites it from build/linux; comments before an entry stay
# with it)." ;;
	qemu)
		pq_src=$pq_top/build/qemu/src
		pq_dir=$pq_top/patches/qemu
		pq_post=$pq_top/build/qemu/series
		pq_make_tree="make qemu" pq_make_patches="make qemu-patches"
		pq_header="# The QEMU patch series, in the order a reviewer reads it
# (quilt format; harness/qemu-build.sh applies it, 'make
# qemu-patches' rewrites it from build/qemu/src; comments before
# an entry stay with it)." ;;
	*) die "unknown patch queue '$1' (linux or qemu)" ;;
	esac
	pq_src_label=${pq_src#"$pq_top"/}
	pq_dir_label=${pq_dir#"$pq_top"/}
}

pq_g() { git -C "$pq_src" "$@"; }

# One user of a queue's tree at a time (make -j, or a second shell).
# Once the tree exists; again (after a first import) a no-op once held.
pq_locked=
pq_lock() {
	[ -z "$pq_locked" ] && [ -d "$pq_src/.git" ] || return 0
	exec 9>"$pq_src/.git/tree.lock"
	flock 9
	pq_locked=1
}

# The patch files of the series, in order.
pq_series_files() {
	[ -f "$pq_dir/series" ] || die "$pq_dir_label/series missing"
	sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$pq_dir/series"
}

# A series that names a missing patch stops before anything changes.
pq_check_series() {
	local p files
	files=$(pq_series_files)	# an assignment, so that its die() stops here
	for p in $files; do
		[ -f "$pq_dir/$p" ] || die "$pq_dir_label/series names $p, which" \
			"$pq_dir_label/ does not have: restore the file or drop the line"
	done
}

# pq_find_base SUFFIX: the commit of the base whose subject ends with
# SUFFIX, tag base or one imported beside it (refs/series/bases), if the
# tree has it; else nothing.
pq_find_base() {
	local r c
	[ -d "$pq_src/.git" ] || return 0
	for r in base refs/series/bases; do
		c=$(pq_g log -1 --format='%H %s' "$r" 2>/dev/null || true)
		if [ -n "$c" ] && [[ ${c#* } == *"$1" ]]; then
			echo "${c%% *}"
			return 0
		fi
	done
	return 0
}

# pq_import_base DIR SUBJECT: record the unpacked source DIR as a base commit
# with SUBJECT (fixed dates and committer); prints the commit.  A first base
# becomes the tree (DIR is moved there, tag base set); a new one (the pin
# moved) is imported beside the old one as refs/series/bases, and pq_apply
# moves tag base only once the series applies to it.  DIR is gone after.
pq_import_base() {
	local dir=$1 subject=$2 c idx
	if [ -d "$pq_src/.git" ]; then
		idx=$pq_src/.git/index.base.$$
		GIT_INDEX_FILE=$idx GIT_WORK_TREE=$dir pq_g add -A -f .
		c=$(GIT_INDEX_FILE=$idx pq_g write-tree)
		rm -f "$idx"
		c=$(echo "$subject" | GIT_AUTHOR_NAME=$pq_ident_name GIT_AUTHOR_EMAIL=$pq_ident_email \
			GIT_AUTHOR_DATE=$pq_fixed_date GIT_COMMITTER_NAME=$pq_ident_name \
			GIT_COMMITTER_EMAIL=$pq_ident_email GIT_COMMITTER_DATE=$pq_fixed_date \
			pq_g commit-tree "$c")
		# Kept reachable until pq_apply tags it.
		pq_g update-ref refs/series/bases "$c"
		rm -rf "$dir"
	else
		git -C "$dir" init -q -b work
		git -C "$dir" config user.name "$pq_ident_name"
		git -C "$dir" config user.email "$pq_ident_email"
		git -C "$dir" config core.autocrlf false
		git -C "$dir" config gc.auto 0
		git -C "$dir" add -A -f .
		GIT_AUTHOR_DATE=$pq_fixed_date GIT_COMMITTER_DATE=$pq_fixed_date \
			git -C "$dir" commit -q -m "$subject"
		git -C "$dir" tag base
		git -C "$dir" update-ref refs/series/applied work
		rm -rf "$pq_src"
		mkdir -p "${pq_src%/*}"
		mv "$dir" "$pq_src"
		c=$(pq_g rev-parse base)
	fi
	echo "$c"
}

# Refuse to lose what the export has not written to the patch directory.
pq_check_clean() {
	[ -n "${FORCE:-}" ] && return 0
	local head applied
	head=$(pq_g symbolic-ref -q HEAD || true)
	[ "$head" = refs/heads/work ] ||
		die "$pq_src_label is not on branch work (a rebase in progress?):" \
			"finish it and run '$pq_make_patches', or '$pq_make_tree FORCE=1'"
	if [ -n "$(pq_g status --porcelain --untracked-files=no)" ]; then
		pq_g status --short --untracked-files=no | head -20 >&2
		die "$pq_src_label has edits that are not committed and exported:" \
			"commit them (git commit --fixup=...) and run '$pq_make_patches'," \
			"or '$pq_make_tree FORCE=1' to drop them"
	fi
	applied=$(pq_g rev-parse -q --verify refs/series/applied || true)
	if [ -n "$applied" ] && [ "$(pq_g rev-parse work)" != "$applied" ]; then
		pq_g log --oneline "$applied..work" | head -20 >&2
		die "$pq_src_label has commits that are not in $pq_dir_label/:" \
			"run '$pq_make_patches' to keep them, or '$pq_make_tree FORCE=1' to drop them"
	fi
}

# pq_apply BASE: the series as commits on top of BASE (a commit of
# pq_import_base); branch work, tag base and refs/series/applied move there.
# The caller checked the series (pq_check_series) and the tree
# (pq_check_clean).
pq_apply() {
	local base=$1 files p n=0 parent tree out subject author email
	files=$(pq_series_files)

	# Commit every patch on top of base in a scratch index, without touching
	# the work tree; then move work there, which rewrites only what differs.
	pq_idx=$pq_src/.git/index.assemble.$$
	pq_tmp=$(mktemp -d)
	trap 'rm -rf "${pq_tmp:-}"; rm -f "${pq_idx:-}"' EXIT
	rm -f "$pq_idx"
	GIT_INDEX_FILE=$pq_idx pq_g read-tree "$base"
	parent=$base
	for p in $files; do
		pq_g mailinfo -k "$pq_tmp/msg" "$pq_tmp/diff" < "$pq_dir/$p" > "$pq_tmp/info"
		if ! out=$(GIT_INDEX_FILE=$pq_idx pq_g apply --cached --verbose -p1 "$pq_tmp/diff" 2>&1); then
			echo "$out" | grep -v '^Checking patch' >&2
			die "$pq_dir_label/$p does not apply (see the failing file and hunk above)"
		fi
		tree=$(GIT_INDEX_FILE=$pq_idx pq_g write-tree)
		subject=$(sed -n 's/^Subject: //p' "$pq_tmp/info" | sed 's/^\[[^]]*\] *//')
		author=$(sed -n 's/^Author: //p' "$pq_tmp/info")
		email=$(sed -n 's/^Email: //p' "$pq_tmp/info")
		[ -n "$subject" ] || die "$pq_dir_label/$p has no Subject:"
		parent=$({ echo "$subject"; if [ -s "$pq_tmp/msg" ]; then echo; cat "$pq_tmp/msg"; fi; } |
			GIT_AUTHOR_NAME=${author:-$pq_ident_name} GIT_AUTHOR_EMAIL=${email:-$pq_ident_email} \
			GIT_AUTHOR_DATE=$pq_fixed_date GIT_COMMITTER_NAME=$pq_ident_name \
			GIT_COMMITTER_EMAIL=$pq_ident_email GIT_COMMITTER_DATE=$pq_fixed_date \
			pq_g commit-tree "$tree" -p "$parent")
		n=$((n + 1))
	done
	rm -f "$pq_idx"
	# The work tree first (only what differs is rewritten), then branch
	# work, tag base (moved when the pin moved) and refs/series/applied in
	# one transaction: an interrupt leaves either the old refs, with the new
	# files showing as edits that FORCE=1 drops, or the new ones.
	if [ "$(pq_g rev-parse -q --verify work || true)" != "$parent" ] ||
	   [ -n "$(pq_g status --porcelain --untracked-files=no)" ]; then
		if [ -n "${FORCE:-}" ]; then
			pq_g read-tree --reset -u "$parent"
		else
			pq_g read-tree -m -u HEAD "$parent"
		fi
	fi
	[ "$(pq_g rev-parse -q --verify base || true)" = "$base" ] ||
		say "tag base moves to $(pq_g log -1 --format=%s "$base")"
	pq_g update-ref --stdin >/dev/null <<-EOF
	start
	update refs/heads/work $parent
	update refs/tags/base $base
	update refs/series/applied $parent
	delete refs/series/bases
	commit
	EOF
	pq_g symbolic-ref HEAD refs/heads/work
	say "$n patches of $pq_dir_label/series applied to $(pq_g log -1 --format=%s "$base") (branch work)"
}

# pq_export REF: write base..REF to the patch directory, NNNN-subject.patch
# and series.  Stable: no commit ids, dates, Signed-off-by or git version in
# the files, and no user or system git configuration, so exporting an
# unchanged series rewrites identical files.  Comments of the old series
# file stay before the patch they preceded (matched by subject slug).
pq_export() {
	local ref=${1:-work}
	[ "$(pq_g rev-list --count "base..$ref")" -gt 0 ] || die "base..$ref is empty"
	pq_tmp=$(mktemp -d)
	trap 'rm -rf "${pq_tmp:-}"' EXIT
	GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null \
		pq_g -c core.abbrev=12 -c diff.noprefix=false -c format.signOff=false \
		format-patch -q --zero-commit --no-signature --no-numbered \
		--no-cover-letter --no-thread --abbrev=12 --stat=72 \
		--no-base -o "$pq_tmp" "base..$ref" >/dev/null
	mkdir -p "$pq_dir"
	python3 - "$pq_dir" "$pq_tmp" "$pq_header" <<-'EOF'
	import os, re, sys, shutil
	pdir, tmp, default_header = sys.argv[1:]
	slug = lambda n: re.sub(r"^\d{4}-", "", n)

	def clean(path):
	    # The mail header without Date:, the changelog without Signed-off-by
	    # (the posting copy adds the poster's); the diff stays as it is.
	    text = open(path).read()
	    msg, sep, rest = text.partition("\n---\n")
	    lines = msg.split("\n")
	    end = lines.index("")   # the blank line that ends the mail header
	    head = [l for l in lines[:end] if not l.startswith("Date: ")]
	    body = [l for l in lines[end + 1:] if not l.startswith("Signed-off-by: ")]
	    while body and not body[-1].strip():
	        body.pop()
	    open(path, "w").write("\n".join(head + [""] + body) + sep + rest)

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
	    header = default_header.splitlines()
	new = sorted(f for f in os.listdir(tmp) if f.endswith(".patch"))
	for f in os.listdir(pdir):
	    if re.match(r"^\d{4}-.*\.patch$", f) and f not in new:
	        os.unlink(os.path.join(pdir, f))
	out = header[:]
	for f in new:
	    clean(os.path.join(tmp, f))
	    shutil.copyfile(os.path.join(tmp, f), os.path.join(pdir, f))
	    for line in comments.get(slug(f), []):
	        if line.strip() or (out and out[-1].strip()):
	            out.append(line)
	    out.append(f)
	open(old, "w").write("\n".join(out).rstrip("\n") + "\n")
	EOF
	say "$(find "$pq_tmp" -name '*.patch' | wc -l) patches written to $pq_dir_label/"
}

# Export branch work: the edits must be committed to their patch.
pq_patches() {
	[ -d "$pq_src/.git" ] || die "no $pq_src_label: run '$pq_make_tree' first"
	[ "$(pq_g symbolic-ref -q HEAD || true)" = refs/heads/work ] ||
		die "$pq_src_label is not on branch work (a rebase in progress?)"
	if [ -n "$(pq_g status --porcelain --untracked-files=no)" ]; then
		pq_g status --short --untracked-files=no | head -20 >&2
		die "$pq_src_label has uncommitted edits: commit them to the patch they" \
			"belong to (git commit --fixup=<commit>; git rebase -i --autosquash base)"
	fi
	pq_export work
	pq_g update-ref refs/series/applied work
}

# The posting copy: the series again, authored and signed off by the user,
# with a cover letter, in pq_post.
pq_series() {
	[ -d "$pq_src/.git" ] || die "no $pq_src_label: run '$pq_make_tree' first"
	local name email out=$pq_post cover=$pq_dir/cover-letter.txt
	name=$(git -C "$pq_top" config user.name || true)
	email=$(git -C "$pq_top" config user.email || true)
	[ -n "$name" ] && [ -n "$email" ] ||
		die "git config user.name and user.email are not set: the series" \
			"is posted under your name (git config --global user.name 'Your Name';" \
			"git config --global user.email you@example.org)"
	local c parent tip sob="Signed-off-by: $name <$email>"
	parent=$(pq_g rev-parse base)
	for c in $(pq_g rev-list --reverse base..work); do
		parent=$(pq_g log -1 --format=%B "$c" |
			git interpret-trailers --if-exists addIfDifferent \
				--trailer "$sob" |
			GIT_AUTHOR_NAME=$name GIT_AUTHOR_EMAIL=$email \
			GIT_COMMITTER_NAME=$name GIT_COMMITTER_EMAIL=$email \
			pq_g commit-tree "$c^{tree}" -p "$parent")
	done
	tip=$parent
	pq_g update-ref refs/series/posted "$tip"
	rm -rf "$out" && mkdir -p "$out"
	# subject-prefix, if there, is format-patch's (e.g. "RFC PATCH v3").
	local prefix=PATCH
	[ -f "$pq_dir/subject-prefix" ] && prefix=$(head -n 1 "$pq_dir/subject-prefix")
	pq_g -c user.name="$name" -c user.email="$email" -c format.signOff=false \
		format-patch -q --cover-letter --thread=shallow --subject-prefix="$prefix" \
		--no-signature -o "$out" "base..$tip" >/dev/null
	# The cover letter from cover-letter.txt: its first line is the subject,
	# the rest the text above format-patch's shortlog.
	if [ -f "$cover" ]; then
		python3 - "$out/0000-cover-letter.patch" "$cover" <<-'EOF'
		import sys
		cl, tpl = sys.argv[1:]
		t = open(tpl).read().split("\n", 1)
		s = open(cl).read()
		s = s.replace("*** SUBJECT HERE ***", t[0].strip())
		s = s.replace("*** BLURB HERE ***", t[1].strip("\n") if len(t) > 1 else "")
		open(cl, "w").write(s)
		EOF
	else
		say "no ${cover#"$pq_top"/}: fill in the subject and text of" \
			"${out#"$pq_top"/}/0000-cover-letter.patch before posting"
	fi
	say "$(($(find "$out" -name '*.patch' | wc -l) - 1)) patches and a cover letter in" \
		"${out#"$pq_top"/}/ ($name <$email>)"
	ls "$out"
}

# Run directly: the commands that need no base.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	shopt -s inherit_errexit	# a die() in $(...) stops the script
	say() { echo "  QUEUE   $*"; }
	die() { echo "patch-queue: error: $*" >&2; exit 1; }
	top=$(cd "$(dirname "$0")/.." && pwd)
	pq_init "${1:-}"
	pq_lock
	case "${2:-}" in
	patches) pq_patches ;;
	export) [ -d "$pq_src/.git" ] || die "no $pq_src_label: run '$pq_make_tree' first"
		pq_export "${3:-work}" ;;
	series) pq_series ;;
	*) die "usage: $0 linux|qemu patches|series|export [REF]" ;;
	esac
fi
