#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lib_pkgconfig_build.sh OUTDIR KSFT_DIR: installs libkdispose (make -C
# ../lib install) into a scratch prefix, builds lib_pkgconfig_prog.c against
# it with the flags pkg-config gives, linked with the shared library, and
# puts next to the program in OUTDIR the shared objects it runs with: the
# dynamic loader, libc, liburing and libkdispose. The test VM has no libc,
# so lib_pkgconfig_test.sh starts the program through that loader.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$1
ksft=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

make -s -C "$here/../lib" install PREFIX="$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
cc -O2 -g -Wall -D_GNU_SOURCE -I"$ksft" $(pkg-config --cflags kdispose) \
	-o "$out/lib_pkgconfig_prog" "$here/lib_pkgconfig_prog.c" \
	$(pkg-config --libs kdispose)

# The loader and every library the program needs, resolved as it would be.
LD_LIBRARY_PATH="$tmp/prefix/lib" ldd "$out/lib_pkgconfig_prog" |
	sed -n -e 's/^.* => \(\/[^ ]*\) .*$/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*ld-linux[^ ]*\) .*$/\1/p' |
	while read -r lib; do
		cp -L "$lib" "$out/"
	done
for lib in ld-linux-x86-64.so.2 libc.so.6 liburing.so.2 libkdispose.so.1; do
	[[ -f "$out/$lib" ]] || { echo "$0: $lib not found" >&2; exit 1; }
done
