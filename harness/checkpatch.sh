#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/checkpatch.pl --strict on what the project adds: every new kernel
# source file, and the added lines of every .patch file.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cp=$top/build/linux/scripts/checkpatch.pl
[ -x "$cp" ] || { echo "checkpatch: run 'make tree' first" >&2; exit 1; }
opts="--strict --quiet --no-signoff --ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG"
bad=0
cd "$top/build/linux"
# Debian's python3, which has ply for scripts/spdxcheck.py.
export PATH=/usr/bin:$PATH
for f in $(cd "$top" && git ls-files 'arch' 'fs' 'include' 'mm' 'virt' 'tools' 'Documentation' | grep -E '\.(c|h)$'); do
	"$cp" $opts -f "$f" || bad=1
done
for p in $(cd "$top" && git ls-files | grep '\.patch$' | grep -v '^tools/perf/'); do
	"$cp" $opts "$top/$p" || bad=1
done
[ $bad = 0 ] && echo "  CHECK   checkpatch --strict: clean"
exit $bad
