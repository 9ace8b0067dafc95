#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# lib_pkgconfig_test: runs lib_pkgconfig_prog, built against the installed
# libkdispose.so through pkg-config, with the shared objects that
# lib_pkgconfig_build.sh put beside it (the VM has no system libc).
cd "$(dirname "$0")" || exit 1
exec ./ld-linux-x86-64.so.2 --library-path . ./lib_pkgconfig_prog
