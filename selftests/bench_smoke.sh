#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark program, once, with tiny sizes: not a measurement (make
# bench is), only a check that it still builds and runs.
exec ./kdispose_bench --smoke
