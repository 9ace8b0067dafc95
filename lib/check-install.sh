#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check-install.sh: install libkdispose twice into a scratch directory (a
# DESTDIR staging install, and a PREFIX install), read every installed man
# page with man -l (check-man.sh --installed), then build a program against
# the PREFIX install through pkg-config, once with the shared library and
# once statically, and run both; build it once more without pkg-config
# (only -I and -L of the prefix, as a compiler whose default paths hold the
# library would), and a program using the UAPI header alone. Without
# /dev/kdispose (the build host) the programs still prove that every symbol
# resolves through the installed files: kd_ctx_open() then reports -ENOENT.
set -euo pipefail

cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

version=$(make -s --no-print-directory print-version)
make -s install DESTDIR="$tmp/stage" PREFIX=/usr
for f in usr/lib/libkdispose.a "usr/lib/libkdispose.so.$version" \
	 usr/lib/libkdispose.so.1 usr/lib/libkdispose.so \
	 usr/lib/pkgconfig/kdispose.pc usr/include/kdispose.h \
	 usr/include/kdispose/linux/kdispose.h \
	 usr/share/man/man3/kd_dispose.3 usr/share/man/man3/KD_TAKE.3 \
	 usr/share/man/man3/kd_prep_dispose.3 \
	 usr/share/man/man7/libkdispose.7; do
	[[ -e "$tmp/stage/$f" ]] || { echo "check-install: no $f" >&2; exit 1; }
done
[[ -L $tmp/stage/usr/share/man/man3/KD_TAKE.3 ]] ||
	{ echo "check-install: the alias KD_TAKE.3 is not a symlink" >&2; exit 1; }
grep -qx 'prefix=/usr' "$tmp/stage/usr/lib/pkgconfig/kdispose.pc"
grep -qx "Version: $version" "$tmp/stage/usr/lib/pkgconfig/kdispose.pc"
./check-man.sh --installed "$tmp/stage/usr/share/man"

make -s install PREFIX="$tmp/prefix"
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"

cat >"$tmp/prog.c" <<'PROG'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <kdispose.h>

int main(void)
{
	struct kd_obj *tok;
	struct kd_ctx *ctx;
	uint64_t v = 0;
	int err = 0;

	ctx = kd_ctx_open(0, &err);
	if (!ctx) {
		printf("kd_ctx_open: %s\n", strerror(-err));
		return err == -ENOENT ? 0 : 1;
	}
	tok = kd_token_new(ctx, NULL, NULL, 42, &err);
	if (!tok || kd_token_get(tok, &v) || v != 42 || kd_dispose(tok) != 1)
		return 1;
	kd_obj_unref(tok);
	printf("token 42 created, read and disposed; %d finalized\n",
	       kd_ctx_close(ctx));
	return 0;
}
PROG

# shellcheck disable=SC2046
cc -Wall -Werror $(pkg-config --cflags kdispose) -o "$tmp/prog-shared" \
	"$tmp/prog.c" $(pkg-config --libs kdispose) \
	-Wl,-rpath,"$tmp/prefix/lib"
# shellcheck disable=SC2046
cc -Wall -Werror -static $(pkg-config --cflags kdispose) \
	-o "$tmp/prog-static" "$tmp/prog.c" $(pkg-config --static --libs kdispose)

readelf -d "$tmp/prog-shared" | grep -q 'NEEDED.*\[libkdispose\.so\.1\]'
echo "check-install: shared: $("$tmp/prog-shared")"
echo "check-install: static: $("$tmp/prog-static")"

# Without pkg-config: <kdispose.h> finds the UAPI header under its
# installed name, <kdispose/linux/kdispose.h>.
cc -Wall -Werror -I"$tmp/prefix/include" -o "$tmp/prog-plain" "$tmp/prog.c" \
	-L"$tmp/prefix/lib" -lkdispose -Wl,-rpath,"$tmp/prefix/lib"
echo "check-install: without pkg-config: $("$tmp/prog-plain")"
cat >"$tmp/raw.c" <<'PROG'
#include <stdio.h>
#include <sys/ioctl.h>
#include <kdispose/linux/kdispose.h>

int main(void)
{
	printf("KDISPOSE_IOC_VERSION %#lx, ABI %d\n",
	       (unsigned long)KDISPOSE_IOC_VERSION, KDISPOSE_ABI_VERSION);
	return 0;
}
PROG
cc -Wall -Werror -I"$tmp/prefix/include" -o "$tmp/raw" "$tmp/raw.c"
echo "check-install: UAPI header alone: $("$tmp/raw")"
