/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kdispose_bench, split as tools/perf/bench is: a harness that every row
 * uses and one file per row.
 *
 *	harness.c	the sizes of a run, the result lines, timing and the
 *			clock's calibration, statistics, the table and the TSV
 *	device.c	the /dev/kdispose calls several rows make, and vgem's card
 *	main.c		the options, and which row runs when
 *	pairs.c		rows 1, 2, 3 and 8: create+dispose pairs and peers
 *	dispose.c	row 4: dispose one by one, batched, through io_uring
 *	teardown.c	row 5: the finalizer, as the close() of a full file
 *	lookup.c	row 6: lookups from one and two threads
 *	memory.c	row 7: kernel memory per object
 *	scaling.c	row 9: N processes against eventfd, for a fixed time
 *	share.c		row 10: export + import + dispose against vgem PRIME
 *
 * A row measures its cases side by side (see main.c for the method) and
 * reports with add(), note(), target() and skip(); main.c prints the lines
 * grouped by row, so the order in which rows run does not show.
 */
#ifndef KDISPOSE_BENCH_H
#define KDISPOSE_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEV_PATH	"/dev/kdispose"
#define DRM_CARD	"/dev/dri/card0"

/* The kernel's spellings (linux/compiler_attributes.h, linux/kernel.h). */
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#define __noreturn	__attribute__((noreturn))
#define __aligned(x)	__attribute__((aligned(x)))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Rows are numbered 1..NROWS, as the issues that asked for them did. */
#define NROWS		10
#define MAX_ROUNDS	512
#define MAX_TEARDOWN	4
#define MAX_RESULTS	160

/**
 * struct config - the sizes of one run
 * @smoke: the quick run: sizes too small for verdicts.
 * @rounds: rounds of rows 1-4, 6 and 8: each case runs one block per round.
 * @block: operations (a create+dispose pair, two ioctls...) per block.
 * @dispose_block: handles disposed per block and way (row 4), a multiple
 *	of DISPOSE_CHUNK.
 * @teardown: live-handle counts whose close is timed (row 5), ascending.
 * @nteardown: entries of @teardown.
 * @teardown_rounds: rounds of row 5.
 * @teardown_handles: handles each size finalizes per round, at least: the
 *	small sizes are closed several times per round.
 * @lookups: lookup ioctls per thread and block (row 6).
 * @mem_tokens: tokens created to measure their memory (row 7).
 * @mem_buffers: 4 KiB memory buffers created to measure theirs.
 * @mem_eventfds: eventfds created to measure theirs.
 * @settle_us: pause before each memory snapshot, for frees that RCU defers.
 * @scale_rounds: rounds of row 9: each process count and case runs once per
 *	round.
 * @scale_ms: how long each of those runs lasts (row 9).
 */
struct config {
	bool smoke;
	unsigned int rounds;
	unsigned int block;
	unsigned int dispose_block;
	const unsigned int *teardown;
	unsigned int nteardown;
	unsigned int teardown_rounds;
	unsigned int teardown_handles;
	unsigned int lookups;
	unsigned int mem_tokens;
	unsigned int mem_buffers;
	unsigned int mem_eventfds;
	unsigned int settle_us;
	unsigned int scale_rounds;
	unsigned int scale_ms;
};

extern const struct config full_config;
extern const struct config smoke_config;

/* The run's sizes: one of the two above, chosen by main() before any row. */
extern const struct config *cfg;

/* What reading the clock twice costs, subtracted from every timed block. */
extern uint64_t clock_cost;

/**
 * struct result - one line of the table
 * @row: the row it belongs to (1..NROWS).
 * @name: what was measured.
 * @value: the median, a ratio, a size; NAN when the row was skipped.
 * @unit: "ns", "ratio", "x" (a speed-up) or "B".
 * @target: "<= N" or ">= N", or "" when the line has none.
 * @note: how the value came about, or why the line was skipped.
 * @unmeasurable: this run cannot tell whether the target is met.
 */
struct result {
	int row;
	char name[64];
	double value;
	const char *unit;
	char target[16];
	char note[112];
	bool unmeasurable;
};

/* harness.c */
__noreturn __printf(1, 2) void die(const char *fmt, ...);
void *xcalloc(size_t n, size_t size);
struct result *add(int row, const char *name, double value, const char *unit);
__printf(2, 3) void note(struct result *r, const char *fmt, ...);
void target(struct result *r, const char *op, double limit);
__printf(3, 4) void skip(int row, const char *name, const char *fmt, ...);
uint64_t now_ns(void);
void calibrate_clock(void);
double elapsed(uint64_t t0);
void progress(const char *what);
double quantile(const double *v, unsigned int n, double q);
double median(const double *v, unsigned int n);
double ratio(const double *a, const double *b, unsigned int n);
void print_table(void);
void print_tsv(void);

/* device.c */
long xioctl(int fd, unsigned long cmd, void *arg, const char *what);
int open_kdispose(void);
uint64_t create_token(int fd, uint64_t value);
void create_tokens(int fd, uint64_t *handles, unsigned int n);
void dispose_one(int fd, uint64_t handle);
int open_vgem(char *why, size_t len);

/* The rows, one file each. */
void row_pairs(void);
void row_dispose(void);
void row_teardown(void);
void row_lookup(void);
void row_memory(void);
void row_scaling(void);
void row_share(void);

#endif /* KDISPOSE_BENCH_H */
