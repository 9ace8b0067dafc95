#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check-man.sh --tree MANDIR | --installed MANDIR...
#
# --tree MANDIR: the man pages of the source tree (man's own layout:
#   MANDIR/manN/NAME.N), as a reader of a checkout sees them:
#   - every page, and every alias (a symlink to a page of its section),
#     reads with "man -l MANDIR/manN/NAME.N" from any directory, without
#     a warning of man or groff;
#   - every symbol of libkdispose.map, and every macro and inline function
#     of include/kdispose.h, has a page or an alias in man3;
#   - the EXAMPLE section of every page compiles as one C file against the
#     tree's headers (-Wall -Wextra -Werror), and links against
#     libkdispose.a when it has a main(). Its code is the text between
#     .EX/.EE (or .nf/.fi) with groff's escapes undone (\e \- \(dq \(aq \&).
# --installed MANDIR...: every page installed under MANDIR (by "make
#   install" into a scratch DESTDIR) reads with man -l, aliases included.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
mode=${1:-}
shift || true
[[ ($mode == --tree && $# == 1) || ($mode == --installed && $# -ge 1) ]] ||
	{ sed -n '4,/^set /s/^# \{0,1\}//p' "$0" >&2; exit 2; }

if ! command -v man >/dev/null; then
	[[ $(id -u) == 0 ]] || { echo "check-man: man is missing" >&2; exit 1; }
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends man-db >&2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

fail()
{
	echo "check-man: $*" >&2
	failed=1
}

# Reads one page with man -l, from a directory that is not its own (so
# that nothing resolves relative to the working directory by chance).
read_page()
{
	local page=$1 out=$tmp/out err=$tmp/err

	(cd "$tmp" && LC_ALL=C.UTF-8 MANWIDTH=80 \
		man --warnings -l "$page") >"$out" 2>"$err" || true
	if [[ -s $err ]]; then
		fail "$page: $(head -n 3 "$err")"
	elif ! grep -q '^NAME' "$out"; then
		fail "$page: man -l printed no NAME section"
	fi
}

# Every page of MANDIR/manN (or MANDIR itself): real pages and symlinks.
read_all()
{
	local dir=$1 page n=0 target

	while IFS= read -r -d '' page; do
		if [[ -L $page ]]; then
			target=$(readlink "$page")
			[[ $target != */* && -f $(dirname "$page")/$target ]] ||
				fail "$page: an alias must link to a page of its own section, not '$target'"
		elif head -n 1 "$page" | grep -q '^\.so '; then
			# man -l resolves .so against the working directory.
			fail "$page: a .so stub: make the alias a symlink"
		fi
		read_page "$page"
		n=$((n + 1))
	done < <(find "$dir" -path '*/man[0-9]/*' \( -type f -o -type l \) \
		 -print0 | sort -z)
	((n)) || fail "no pages under $dir"
	echo "check-man: $n pages read with man -l under $dir"
}

# The C code of a page's EXAMPLE section.
example_of()
{
	awk '
		/^\.SH / { in_ex = ($0 ~ /^\.SH "?EXAMPLES?"?$/); code = 0; next }
		!in_ex { next }
		/^\.(EX|nf)/ { code = 1; next }
		/^\.(EE|fi)/ { code = 0; next }
		code && !/^[.\x27]/ { print }
	' "$1" | sed -e 's/\\e/\x01/g' -e 's/\\-/-/g' -e 's/\\(dq/"/g' \
		-e "s/\\\\(aq/'/g" -e 's/\\&//g' -e 's/\x01/\\/g'
}

check_examples()
{
	local dir=$1 page name src n=0
	local cflags=(-std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE
		      -I"$root/include" -I"$root/include/uapi")

	for page in "$dir"/man[0-9]/*; do
		[[ -L $page ]] && continue
		name=$(basename "$page")
		src=$tmp/${name//./_}.c
		example_of "$page" >"$src"
		[[ -s $src ]] || continue
		n=$((n + 1))
		if ! cc "${cflags[@]}" -c -o "$src.o" "$src" 2>"$tmp/cc.err"; then
			fail "$page: its EXAMPLE does not compile:"$'\n'"$(head -n 20 "$tmp/cc.err")"
			continue
		fi
		if grep -q '^int main(' "$src" &&
		   ! cc -static -o "$src.bin" "$src.o" "$root/lib/libkdispose.a" \
			-luring -pthread 2>"$tmp/cc.err"; then
			fail "$page: its EXAMPLE does not link:"$'\n'"$(head -n 20 "$tmp/cc.err")"
		fi
	done
	echo "check-man: $n EXAMPLE sections compiled"
}

# What the library exports or the header defines, each with a page.
check_coverage()
{
	local dir=$1 name names missing=0

	names=$( (sed -n 's/^[[:space:]]*\(kd_[a-z_0-9]*\);$/\1/p' \
			"$here/libkdispose.map"
		  sed -n -e 's/^#define \([A-Za-z_][A-Za-z_0-9]*\)(.*/\1/p' \
			 -e 's/^#define \(_cleanup_[a-z_]*_\) .*/\1/p' \
			 -e 's/^static inline [a-z ]*[ *]\(kd_[a-z_0-9]*\)(.*/\1/p' \
			"$root/include/kdispose.h") | sort -u)
	for name in $names; do
		[[ -e $dir/man3/$name.3 ]] ||
			{ fail "$name has no page ($dir/man3/$name.3)"; missing=$((missing + 1)); }
	done
	echo "check-man: $(wc -w <<<"$names") symbols and macros, $missing without a page"
}

if [[ $mode == --tree ]]; then
	dir=$(cd "$1" && pwd)
	read_all "$dir"
	check_coverage "$dir"
	check_examples "$dir"
else
	for d in "$@"; do
		read_all "$(cd "$d" && pwd)"
	done
fi
((failed == 0)) || exit 1
