#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run a built-in KUnit suite again through debugfs and judge its results.
#   kunit.sh SUITE
# The suite also ran at boot; running it here puts it in the test list with
# its own timeout and lets the debug kernel watch it like any other test.
suite=$1
d=/sys/kernel/debug/kunit/$suite
if [ ! -d "$d" ]; then
	echo "SKIP: KUnit suite $suite is not built in (no $d)"
	exit 4
fi
echo run > "$d/run" || exit 1
cat "$d/results"
# The suite's own result line is the last "ok"/"not ok" at column 0.
last=$(grep -E '^(ok|not ok) ' "$d/results" | tail -1)
case "$last" in
"ok "*) exit 0 ;;
*) echo "suite $suite failed: ${last:-no result}"; exit 1 ;;
esac
