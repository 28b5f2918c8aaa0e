#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The one parser of the test lists (harness/*.list, docs/tests.md).  A list
# has one test a line, "NAME TIMEOUT_S PROGRAM [ARGUMENTS...]", and these
# comment lines:
#   "#% NAME=VALUE"        what the list needs of the test VM (pools, memory)
#   "#@ upstream|project"  whose the tests below are (make test-base)
#   "#@ debug off|on"      tests between are left out of make test-debug
#   "#@ long", "#@ long end"  tests between run only with FULL=1 (or T)
#
#   list.sh select LIST PATTERN FULL DEBUG   the tests of this run, with the
#       list's "#%" lines: PATTERN (a shell glob on NAME, * and ?; empty:
#       all), the long tests only with FULL or a PATTERN that matches them,
#       the "#@ debug off" ones left out when DEBUG unless FULL; fails when
#       no test is left
#   list.sh need LIST NAME       the value of the last "#% NAME=" line
#   list.sh needs LIST           the "#%" lines (for a list made from LIST)
#   list.sh tests LIST           "NAME TIMEOUT PROGRAM ARGS..." lines, the
#       form /init reads in the guest
#   list.sh count LIST           how many tests
#   list.sh limit LIST           the sum of the tests' timeouts
#   list.sh programs LIST        the programs to stage, one a line: each
#       PROGRAM, and for a wrapper of harness/guest/ the test program it runs
#       (its first argument with a '/')
#   list.sh owners LIST          "NAME upstream|project" lines
set -euo pipefail

die() { echo "list.sh: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: list.sh select|need|needs|tests|count|limit|programs|owners LIST ..."
cmd=$1 list=$2
[ -f "$list" ] || die "no list $list"
test_lines() { awk '!/^[[:space:]]*(#|$)/' "$list"; }

case $cmd in
select)
	pat=${3:-} full=${4:-} debug=${5:-}
	awk -v pat="$pat" -v full="$full" -v debug="$debug" -v name="$list" '
		BEGIN {
			# The shell glob PATTERN (* and ?) as an anchored regex.
			all = pat == ""; re = "^"
			for (i = 1; i <= length(pat); i++) {
				c = substr(pat, i, 1)
				if (c == "*") re = re ".*"
				else if (c == "?") re = re "."
				else if (index("\\^$.[]|()+{}", c)) re = re "\\" c
				else re = re c
			}
			re = re "$"
		}
		/^#@ long$/ { long = 1 } /^#@ long end$/ { long = 0 }
		/^#@ debug off/ { off = 1 } /^#@ debug on/ { off = 0 }
		/^#[%@]/ { print; next }
		/^[[:space:]]*(#|$)/ { next }
		all && long && !full { next }
		debug && off && !full { next }
		all || $1 ~ re { print; n++ }
		END { if (!n) { print "list.sh: no test of " name " is left (pattern \"" \
			pat "\"" (debug ? ", debug run" : "") \
			"; FULL=1 adds the long and debug-off ones)" > "/dev/stderr"; exit 1 } }' "$list"
	;;
need)
	sed -n "s/^#% $3=//p" "$list" | tail -n 1
	;;
needs)
	grep '^#%' "$list" || true
	;;
tests)
	test_lines
	;;
count)
	test_lines | wc -l
	;;
limit)
	test_lines | awk '{ t += $2 } END { print t + 0 }'
	;;
programs)
	test_lines | awk '{
		print $3
		if ($3 ~ /^guest\//)
			for (i = 4; i <= NF; i++)
				if ($i ~ /\//) { print $i; break }
	}' | sort -u
	;;
owners)
	awk '/^#@[[:space:]]*upstream/ { who = "upstream"; next }
		/^#@[[:space:]]*project/ { who = "project"; next }
		/^[[:space:]]*(#|$)/ { next }
		{ print $1, (who == "" ? "upstream" : who) }' "$list"
	;;
*)
	die "unknown command $cmd"
	;;
esac
