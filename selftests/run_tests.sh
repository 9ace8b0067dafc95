#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs kdispose selftest programs and prints the TAP that the kernel's
# tools/testing/selftests/kselftest/runner.sh prints: one "ok/not ok N
# selftests: kdispose: PROGRAM" line per program, the program's own output
# (the harness' per-test TAP) prefixed with "# ". Each program gets the
# timeout of ./settings (kselftest's format, "timeout=SECONDS"; 45 when
# absent). Exits 1 when a program failed. The kernel's runner itself needs
# coreutils' "timeout --foreground" and its exit code 124, which busybox's
# timeout lacks: this one works under busybox ash and on a full system.
#
#   ./run_tests.sh [PROGRAM...]    default: every executable *_test here
#
# A real machine needs kdispose.ko loaded first; device_test also needs
# KDISPOSE_KO (the .ko's path) to reload the module after its rmmod test.

cd "$(dirname "$0")" || exit 1

timeout=45
if [ -r settings ]; then
	while IFS='=' read -r key value; do
		case $key in
		timeout) timeout=$value ;;
		esac
	done <settings
fi
# A debug kernel under emulation is about ten times slower; a long fuzzing
# run sets its own limit.
if [ -n "${KDISPOSE_SLOW:-}" ]; then
	timeout=$((timeout * 10))
fi
if [ -n "${KDISPOSE_TIMEOUT:-}" ]; then
	timeout=$KDISPOSE_TIMEOUT
fi

if [ $# -eq 0 ]; then
	for prog in ./*_test; do
		[ -x "$prog" ] && set -- "$@" "${prog#./}"
	done
fi

echo "TAP version 13"
echo "1..$#"
num=0
failed=0
rcfile=$(mktemp)
for prog in "$@"; do
	num=$((num + 1))
	title="selftests: kdispose: $prog"
	echo "# $title"
	if [ ! -x "./$prog" ]; then
		echo "# Warning: file $prog is missing!"
		echo "not ok $num $title"
		failed=1
		continue
	fi
	{ timeout -k 5 "$timeout" "./$prog" 2>&1; echo $? >"$rcfile"; } |
		sed -e 's/^/# /'
	rc=$(cat "$rcfile")
	case $rc in
	0) echo "ok $num $title" ;;
	4) echo "ok $num $title # SKIP" ;;
	124|137|143)
		echo "#"
		echo "not ok $num $title # TIMEOUT $timeout seconds"
		failed=1
		;;
	*)
		echo "not ok $num $title # exit=$rc"
		failed=1
		;;
	esac
done
rm -f "$rcfile"
exit $failed
