# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shell helpers that kdispose's scripts share. A script sources it after
# its "set -euo pipefail":
#
#   prog=NAME                      # optional, the prefix of its messages;
#   . "$root/scripts/lib.sh"       # default: the script's file name
#
#   log MSG...         "NAME: MSG..." on stderr
#   die MSG...         log MSG..., then exit 1
#   usage [FROM [TO]]  the script's header comment on stderr, each line
#                      without its "# ": from line FROM (a sed address,
#                      default 4: after the shebang, the SPDX line and the
#                      "#" under it) up to the line before the one TO
#                      matches (default /^set /: the header ends where the
#                      code starts); then exit 2
#
# A script's header comment is its help text, so that the two cannot
# disagree.

: "${prog:=$(basename "$0")}"

log()
{
	echo "$prog: $*" >&2
}

die()
{
	log "$@"
	exit 1
}

# shellcheck disable=SC2120 # FROM and TO are optional
usage()
{
	local from=${1:-4} to=${2:-/^set /}

	sed -n "$from,$to{$to!s/^# \{0,1\}//p}" "$0" >&2
	exit 2
}
