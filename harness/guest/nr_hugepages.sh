#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run a test program of the initramfs with the default (2M) huge page pool
# resized to N pages, as run_vmtests.sh does for some mm selftests, and put
# the pool back afterwards.
#   nr_hugepages.sh N PROGRAM [ARGS...]      PROGRAM relative to /tests
n=$1 prog=$2
shift 2
old=$(cat /proc/sys/vm/nr_hugepages)
echo "$n" > /proc/sys/vm/nr_hugepages
cd "/tests/$(dirname "$prog")" || exit 1
"./$(basename "$prog")" "$@"
rc=$?
echo "$old" > /proc/sys/vm/nr_hugepages
now=$(cat /proc/sys/vm/nr_hugepages)
[ "$now" = "$old" ] || { echo "nr_hugepages.sh: pool back to $now pages, not $old"; exit 1; }
exit $rc
