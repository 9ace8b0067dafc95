#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check-abi.sh LIB MAP [ABIDIR]: the shared library defines exactly the
# symbols that the version script lists, each with the version of the node
# that lists it, and nothing else; and no released node changed.
#
# The map has one node per release (liburing's layout): KDISPOSE_1.0 first,
# then each later node inheriting the one before it ("} KDISPOSE_1.0;").
# Every node but the newest is released, and ABIDIR (default: abi/ next to
# MAP) holds a frozen copy of it, one "name FUNC" or "name OBJECT size" a
# line: the library must still define exactly those symbols at that
# version, with the same type and, for data, the same size (a program may
# copy-relocate a class). The newest node may still grow until its release,
# when its frozen copy is added (objdump -T of the library, as below).
set -euo pipefail

lib=$1
map=$2
abidir=${3:-$(dirname "$map")/abi}

fail()
{
	echo "check-abi: $*" >&2
	exit 1
}

# "name version type size" of each versioned symbol the library defines.
defined=$(objdump -T "$lib" | awk '
	$0 ~ /\*UND\*/ || NF < 7 { next }
	$(NF - 1) ~ /^KDISPOSE_/ && $NF !~ /^KDISPOSE_/ {
		print $NF, $(NF - 1), ($3 == "DO" ? "OBJECT" : "FUNC"), $(NF - 2)
	}' | LC_ALL=C sort)
unversioned=$(objdump -T "$lib" | awk '
	$0 ~ /\*UND\*/ || NF < 7 { next }
	$2 == "g" && $(NF - 1) !~ /^KDISPOSE_/ { print $NF }
')
[[ -z "$unversioned" ]] ||
	fail "global symbols without a KDISPOSE_ version:"$'\n'"$unversioned"

# "name node" of each symbol the map lists, and the nodes in order with
# the node each inherits.
listed=$(awk '
	/^KDISPOSE_[0-9.]+ *\{/ { node = $1; next }
	/^\}/ { node = ""; next }
	node != "" && /^[[:space:]]*kd_[a-z_0-9]*;$/ {
		gsub(/[[:space:];]/, ""); print $0, node
	}' "$map" | LC_ALL=C sort)
nodes=$(awk '
	/^KDISPOSE_[0-9.]+ *\{/ { node = $1 }
	/^\}/ && node != "" {
		parent = $0; gsub(/[}; \t]/, "", parent)
		print node, (parent == "" ? "-" : parent); node = ""
	}' "$map")

prev=-
while read -r node parent; do
	[[ $parent == "$prev" ]] ||
		fail "$node inherits '$parent', not the node before it ('$prev')"
	prev=$node
done <<<"$nodes"
newest=$prev

got=$(awk '{ print $1, $2 }' <<<"$defined")
if [[ "$got" != "$listed" ]]; then
	echo "check-abi: exported (<) and listed (>) symbol@version differ:" >&2
	diff <(echo "$got") <(echo "$listed") >&2 || true
	exit 1
fi

summary=()
while read -r node _; do
	count=$(awk -v n="$node" '$2 == n' <<<"$defined" | wc -l)
	frozen=$abidir/$node
	if [[ ! -f $frozen ]]; then
		[[ $node == "$newest" ]] ||
			fail "$node is released (a newer node exists) but $frozen is missing"
		summary+=("$count in $node (open)")
		continue
	fi
	want=$(grep -v '^#' "$frozen" | LC_ALL=C sort)
	# Sizes are hex in objdump, decimal in the frozen copy.
	have=$(awk -v n="$node" '$2 == n { print $1, $3, $4 }' <<<"$defined" |
		while read -r name type size; do
			if [[ $type == OBJECT ]]; then
				echo "$name OBJECT $((16#$size))"
			else
				echo "$name FUNC"
			fi
		done)
	have=$(LC_ALL=C sort <<<"$have")
	if [[ "$have" != "$want" ]]; then
		echo "check-abi: released $node changed: library (<), $frozen (>):" >&2
		diff <(echo "$have") <(echo "$want") >&2 || true
		exit 1
	fi
	summary+=("$count in $node (released, unchanged)")
done <<<"$nodes"

total=$(wc -l <<<"$defined")
line="check-abi: $total symbols:"
for part in "${summary[@]}"; do
	line+=" $part;"
done
echo "${line%;}"
