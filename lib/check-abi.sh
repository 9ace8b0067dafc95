#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check-abi.sh LIB MAP: the shared library defines exactly the symbols that
# the version script lists, each with a KDISPOSE_ version, and nothing else.
set -euo pipefail

lib=$1
map=$2

exported=$(objdump -T "$lib" | awk '
	$0 ~ /\*UND\*/ { next }
	NF >= 7 && $(NF - 1) ~ /^KDISPOSE_/ && $NF !~ /^KDISPOSE_/ { print $NF }
' | sort)
unversioned=$(objdump -T "$lib" | awk '
	$0 ~ /\*UND\*/ || NF < 7 { next }
	$2 == "g" && $(NF - 1) !~ /^KDISPOSE_/ { print $NF }
')
listed=$(sed -n 's/^[[:space:]]*\(kd_[a-z_0-9]*\);$/\1/p' "$map" | sort)

if [[ -n "$unversioned" ]]; then
	echo "check-abi: global symbols without a KDISPOSE_ version:" >&2
	echo "$unversioned" >&2
	exit 1
fi
if [[ "$exported" != "$listed" ]]; then
	echo "check-abi: exported (<) and listed (>) symbols differ:" >&2
	diff <(echo "$exported") <(echo "$listed") >&2 || true
	exit 1
fi
echo "check-abi: $(echo "$exported" | wc -l) symbols, all KDISPOSE_1.0"
