#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check every step of the series in build/linux (base..work): the tree at
# that step builds, and scripts/checkpatch.pl --strict is clean on its patch.
#
#   check-series.sh [FIRST[-LAST]]   steps to check (1-based, default all)
#   CHECKPATCH_ONLY=1 check-series.sh   checkpatch only (make checkpatch)
#
# Builds run out of tree from a git worktree of build/linux at
# build/linux-steps, in two configurations: the test VM's (tinyconfig +
# harness/config/test-vm.config, everything built in; build/kernel-steps)
# and the same with KVM and the KUnit suites as modules
# (+ test-vm-modules.config, bzImage and modules, so modpost checks every
# symbol they use; build/kernel-steps-modules).  Options that do not exist
# yet at a step are dropped.  With ccache, neither the normal build
# directory nor the work tree of build/linux is disturbed.  Each step
# rebuilds what its patch changed; a configuration is redone only when a
# Kconfig file changed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/BASE"
linux=$top/build/linux
wt=$top/build/linux-steps
cfgdir=$top/harness/config
jobs=${JOBS:-$(nproc)}
# The options of the former whole-file check: new files need no MAINTAINERS
# entry here, and SPDX tags are checked by scripts/spdxcheck.py's own rules.
# build/linux has no upstream history, so the commit ids of Fixes: tags
# cannot be looked up (UNKNOWN_COMMIT_ID).
cp_opts="--strict --quiet --no-signoff --ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG,UNKNOWN_COMMIT_ID"

die() { echo "check-series: error: $*" >&2; exit 1; }
g() { git -C "$linux" "$@"; }

[ -d "$linux/.git" ] || die "no build/linux: run 'make tree' first"
mapfile -t commits < <(g rev-list --reverse base..work)
n=${#commits[@]}
[ "$n" -gt 0 ] || die "base..work is empty"
first=1 last=$n
if [ -n "${1:-}" ]; then
	first=${1%-*}; last=${1#*-}
	[[ "$1" == *-* ]] || last=$first
	[ -z "$last" ] && last=$n
	[ "$first" -ge 1 ] && [ "$last" -le "$n" ] && [ "$first" -le "$last" ] ||
		die "steps $1 not within 1-$n"
fi

export PATH=/usr/bin:$PATH	# Debian's python3, with ply for spdxcheck.py
export CCACHE_DIR=${CCACHE_DIR:-$top/build/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-4G}
# Not depend mode (harness/kernel.sh): a step that adds a Kconfig option
# changes autoconf.h, and only the preprocessor mode finds the previous
# step's objects for the files whose preprocessed source is the same.
unset CCACHE_DEPEND
export KBUILD_BUILD_TIMESTAMP="1970-01-01 00:00:00 UTC"
export KBUILD_BUILD_USER=build KBUILD_BUILD_HOST=localhost
kmake() { make -s -C "$wt" ARCH=x86_64 O="$out" CC="ccache gcc" HOSTCC="ccache gcc" "$@"; }

# needs_config OUT C FRAGS: whether OUT must be configured again for commit
# C: never configured, configured for fragments other than FRAGS, or a
# Kconfig file changed since the commit it was configured at (or that
# commit cannot be compared with any more).
needs_config() {
	local out=$1 c=$2 frags=$3 step changed
	[ -f "$out/.config" ] || return 0
	step=$(cat "$out/.config.step" 2>/dev/null) && [ -n "$step" ] || return 0
	[ "$frags" = "$(cat "$out/.config.fragment" 2>/dev/null)" ] || return 0
	changed=$(git -C "$wt" diff --name-only "$step" "$c" -- '*Kconfig*' 2>/dev/null) ||
		return 0
	[ -n "$changed" ]
}

# build_step I C OUT TARGETS FRAGMENTS...: configure OUT (when needs_config)
# and build TARGETS of step I (commit C); prints ok, warnings or FAILED.
# Warnings of the compiler, modpost (WARNING:) and Kconfig are failures.
build_step() {
	local i=$1 c=$2 out=$3 targets=$4 frags
	shift 4
	frags=$(cat "$@")
	mkdir -p "$out"
	if needs_config "$out" "$c" "$frags"; then
		# Not configured for any step until this one has succeeded.
		rm -f "$out/.config.step" "$out/.config.fragment"
		if ! { kmake tinyconfig &&
		       KCONFIG_CONFIG=$out/.config "$wt/scripts/kconfig/merge_config.sh" \
			-m -O "$out" "$out/.config" "$@" &&
		       kmake olddefconfig; } >"$out/.config.log" 2>&1 ||
		   grep -qi 'warning' "$out/.config.log"; then
			cp "$out/.config.log" "$out/build-$i.log"
			echo FAILED
			return
		fi
		echo "$frags" > "$out/.config.fragment"
		echo "$c" > "$out/.config.step"
	fi
	# shellcheck disable=SC2086
	if kmake -j"$jobs" $targets >"$out/build-$i.log" 2>&1; then
		if grep -qi 'warning:' "$out/build-$i.log"; then echo warnings; else echo ok; fi
	else
		echo FAILED
	fi
}

checkpatch() {
	g format-patch --stdout -1 "$1" | "$linux/scripts/checkpatch.pl" $cp_opts -
}

if [ -n "${CHECKPATCH_ONLY:-}" ]; then
	bad=0
	for i in $(seq "$first" "$last"); do
		c=${commits[$((i - 1))]}
		if ! res=$(checkpatch "$c" 2>&1) || [ -n "$res" ]; then
			printf '  CHECK   %02d/%02d %s\n%s\n' "$i" "$n" \
				"$(g log -1 --format=%s "$c")" "$res"
			bad=1
		fi
	done
	[ $bad = 0 ] && echo "  CHECK   checkpatch --strict: clean on patches $first-$last of $n"
	exit $bad
fi

if [ ! -d "$wt" ] || ! git -C "$wt" rev-parse -q --verify HEAD >/dev/null 2>&1; then
	rm -rf "$wt"
	g worktree prune
	g worktree add -q --detach "$wt" base || die "cannot make $wt"
fi

total0=$(date +%s) bad=0
echo "  STEPS   checking steps $first-$last of $n (builds: test VM config, O=build/kernel-steps;" \
	"with modules, O=build/kernel-steps-modules)"
for i in $(seq "$first" "$last"); do
	c=${commits[$((i - 1))]}
	subj=$(g log -1 --format=%s "$c")
	t0=$(date +%s)
	git -C "$wt" checkout -q -f --detach "$c" || die "checkout of step $i failed"
	out=$top/build/kernel-steps
	build=$(build_step "$i" "$c" "$out" bzImage "$cfgdir/test-vm.config")
	[ "$build" = ok ] || { bad=1; tail -20 "$out/build-$i.log" | sed 's/^/          /'; }
	out=$top/build/kernel-steps-modules
	mods=$(build_step "$i" "$c" "$out" "bzImage modules" \
		"$cfgdir/test-vm.config" "$cfgdir/test-vm-modules.config")
	[ "$mods" = ok ] || { bad=1; tail -20 "$out/build-$i.log" | sed 's/^/          /'; }
	if res=$(checkpatch "$c" 2>&1) && [ -z "$res" ]; then cpr=clean; else cpr=DIRTY; bad=1; fi
	printf '  STEP    %02d/%02d build %-8s modules %-8s checkpatch %-5s %4d s  %s\n' \
		"$i" "$n" "$build" "$mods" "$cpr" $(($(date +%s) - t0)) "$subj"
	[ "$cpr" = clean ] || echo "$res" | sed 's/^/          /'
done
total=$(($(date +%s) - total0))
if [ $bad = 0 ]; then
	echo "  STEPS   steps $first-$last of $n build and are checkpatch clean ($total s)"
else
	echo "  STEPS   FAILED: see above ($total s; logs in build/kernel-steps*/build-N.log)" >&2
fi
exit $bad
