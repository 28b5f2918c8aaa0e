#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/checkpatch.pl --strict on every patch of the series (build/linux's
# base..work, so that edits not yet exported are checked too).  New files are
# whole in their patches, so every line the project adds is checked.
exec env CHECKPATCH_ONLY=1 "$(dirname "$0")/check-series.sh" "$@"
