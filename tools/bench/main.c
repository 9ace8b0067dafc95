// SPDX-License-Identifier: GPL-2.0
/*
 * kdispose_bench: where kdispose stands against the syscall floor and the
 * kernel's own peers (eventfd, DRM GEM on vgem), measured side by side.
 *
 * Run as root in a machine with kdispose.ko loaded (and vgem.ko for row 3):
 *
 *	kdispose_bench             the full benchmark (a minute or more
 *	                           under QEMU TCG)
 *	kdispose_bench --smoke     one round, tiny sizes: checks that every
 *	                           row still runs, in a second or two
 *	kdispose_bench --rows 1,4  only the rows named (rows 1, 2, 3 and 8
 *	                           are measured together)
 *
 * Method. The cases that a row compares run side by side: in each round
 * every case runs one short block in turn, so a slow or fast spell of the
 * host (an emulator on a shared machine) hits all of them alike, and the
 * value of a case is the median over its blocks. Blocks are short (well
 * under a millisecond), so that most of them run without the host taking
 * the CPU away; the cost of reading the clock is subtracted. Ratios are
 * the results; absolute times under an emulator mean little on their own.
 * Setup that a row does not measure (creating the handles that row 4
 * disposes or row 5 finalizes) runs outside the timed blocks.
 *
 * Output: a readable table, then the same rows as TSV (columns row, name,
 * value, unit, target, verdict, note) between the BENCH_TSV_BEGIN and
 * BENCH_TSV_END marker lines, for a host that only sees the console.
 * Targets are the project's aims, not assertions: a missed target is
 * reported, and only a failing system call makes the program exit 1.
 *
 * This file has the options and the order of the rows; the harness
 * (harness.c) and each row's own file are listed in bench.h.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

#define ROW(n)	(1U << (n))

/*
 * The rows in the order they run: memory first, while the slab caches
 * hold few free objects. The table is printed by row number whatever the
 * order.
 */
static const struct {
	unsigned int rows;
	void (*run)(void);
} bench_rows[] = {
	{ ROW(7), row_memory },
	{ ROW(1) | ROW(2) | ROW(3) | ROW(8), row_pairs },
	{ ROW(4), row_dispose },
	{ ROW(10), row_share },
	{ ROW(6), row_lookup },
	{ ROW(9), row_scaling },
	{ ROW(5), row_teardown },
};

static void bad_usage(const char *prog)
{
	fprintf(stderr, "usage: %s [--smoke] [--rows N,N...]\n", prog);
	exit(2);
}

/* The rows of a "1,4,7" list, as bits 1..NROWS of a mask. */
static unsigned int parse_rows(const char *list, const char *prog)
{
	unsigned int mask = 0;
	char *end;
	long row;

	do {
		row = strtol(list, &end, 10);
		if (end == list || row < 1 || row > NROWS ||
		    (*end && *end != ','))
			bad_usage(prog);
		mask |= ROW(row);
		list = end + 1;
	} while (*end);
	return mask;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "smoke", no_argument, NULL, 's' },
		{ "rows", required_argument, NULL, 'r' },
		{}
	};
	unsigned int rows = ~0U, i;
	int opt;

	cfg = &full_config;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			cfg = &smoke_config;
			break;
		case 'r':
			rows = parse_rows(optarg, argv[0]);
			break;
		default:
			bad_usage(argv[0]);
		}
	}
	if (optind != argc)
		bad_usage(argv[0]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	calibrate_clock();

	for (i = 0; i < ARRAY_SIZE(bench_rows); i++)
		if (rows & bench_rows[i].rows)
			bench_rows[i].run();
	progress("done");

	print_table();
	print_tsv();
	return 0;
}
