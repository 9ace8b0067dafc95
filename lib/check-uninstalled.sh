#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check-uninstalled.sh: build against this tree, not an installed copy,
# the way libkdispose(7) tells a reader of a checkout to: after "make -C
# lib", PKG_CONFIG_PATH=<tree>/lib, where pkg-config finds
# kdispose-uninstalled.pc and prefers it to any installed kdispose.pc.
# Builds examples/lifecycle.c and a small program with the flags it gives,
# shared and static, checks that the flags name this tree, and runs the
# small program (LD_LIBRARY_PATH=lib for the shared one). Without
# /dev/kdispose (the build host) it reports kd_ctx_open()'s -ENOENT.
set -euo pipefail

lib=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$lib/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

export PKG_CONFIG_PATH=$lib
unset PKG_CONFIG_DISABLE_UNINSTALLED PKG_CONFIG_LIBDIR || true

fail()
{
	echo "check-uninstalled: $*" >&2
	exit 1
}

[[ -f $lib/kdispose-uninstalled.pc ]] || fail "no kdispose-uninstalled.pc: run make -C lib"
cflags=$(pkg-config --cflags kdispose)
libs=$(pkg-config --libs kdispose)
static_libs=$(pkg-config --static --libs kdispose)
version=$(pkg-config --modversion kdispose)
[[ $version == $(make -s --no-print-directory -C "$lib" print-version) ]] ||
	fail "pkg-config says version $version"
# The flags name this tree (as ${pcfiledir}/..: compare real paths).
dirs=
for flag in $cflags $libs; do
	case $flag in
	-I* | -L*) dirs+=" $(realpath "${flag:2}")" ;;
	esac
done
[[ $dirs == " $root/include $root/include/uapi $lib" ]] ||
	fail "the flags do not name this tree's include/ and lib/: $cflags $libs"
echo "check-uninstalled: pkg-config --cflags --libs kdispose: $cflags $libs"

cat >"$tmp/prog.c" <<'PROG'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <kdispose.h>

int main(void)
{
	struct kd_ctx *ctx;
	int err = 0;

	if (!kd_check_version(KD_VERSION_MAJOR, KD_VERSION_MINOR))
		return 1;
	ctx = kd_ctx_open(0, &err);
	if (!ctx) {
		printf("libkdispose %d.%d; kd_ctx_open: %s\n",
		       kd_version_major(), kd_version_minor(), strerror(-err));
		return err == -ENOENT ? 0 : 1;
	}
	printf("libkdispose %d.%d; %d finalized\n", kd_version_major(),
	       kd_version_minor(), kd_ctx_close(ctx));
	return 0;
}
PROG

# shellcheck disable=SC2086 # the flags are words
cc -Wall -Wextra -Werror $cflags -o "$tmp/prog" "$tmp/prog.c" $libs
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror -static $cflags -o "$tmp/prog-static" "$tmp/prog.c" \
	$static_libs
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror $cflags -o "$tmp/lifecycle" \
	"$root/examples/lifecycle.c" $libs
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror -static $cflags -o "$tmp/lifecycle-static" \
	"$root/examples/lifecycle.c" $static_libs
readelf -d "$tmp/lifecycle" | grep -q 'NEEDED.*\[libkdispose\.so\.1\]' ||
	fail "lifecycle does not need libkdispose.so.1"
echo "check-uninstalled: shared: $(LD_LIBRARY_PATH=$lib "$tmp/prog")"
echo "check-uninstalled: static: $("$tmp/prog-static")"
echo "check-uninstalled: examples/lifecycle.c builds, shared and static"
