#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run a test program of the initramfs with PM_SEED in its environment.
#   seeded.sh SEED PROGRAM [ARGS...]      PROGRAM relative to /tests
seed=$1 prog=$2
shift 2
cd "/tests/$(dirname "$prog")" || exit 1
PM_SEED=$seed exec "./$(basename "$prog")" "$@"
