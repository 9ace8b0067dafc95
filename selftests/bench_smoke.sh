#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark programs of tools/bench, once, with tiny sizes: not a
# measurement (make bench is), only a check that they still build and run.
./kdispose_bench --smoke || exit
exec ./lib_bench 100
