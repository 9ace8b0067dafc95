// SPDX-License-Identifier: GPL-2.0
/*
 * The harness of kdispose_bench: the sizes of a run, the result lines and
 * their verdicts, the clock, the statistics every row takes its values
 * from, and the table and TSV that main() prints at the end.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static const unsigned int full_teardown[] = { 1000, 10000, 100000, 1000000 };
static const unsigned int smoke_teardown[] = { 100, 1000 };

const struct config full_config = {
	.rounds = 400,
	.block = 50,
	.dispose_block = 128,
	.teardown = full_teardown,
	.nteardown = 4,
	.teardown_rounds = 5,
	.teardown_handles = 100000,
	.lookups = 2000,
	.mem_tokens = 1000000,
	.mem_buffers = 10000,
	.mem_eventfds = 200000,
	.settle_us = 300000,
	.scale_rounds = 40,
	.scale_ms = 25,
};

const struct config smoke_config = {
	.smoke = true,
	.rounds = 1,
	.block = 50,
	.dispose_block = 128,
	.teardown = smoke_teardown,
	.nteardown = 2,
	.teardown_rounds = 1,
	.teardown_handles = 1000,
	.lookups = 1000,
	.mem_tokens = 1000,
	.mem_buffers = 100,
	.mem_eventfds = 1000,
	.settle_us = 10000,
	.scale_rounds = 1,
	.scale_ms = 5,
};

const struct config *cfg;
uint64_t clock_cost;

static struct result results[MAX_RESULTS];
static unsigned int nresults;

/**
 * die() - print a message and exit 1
 * @fmt: printf format of the message, which gets the program's name in front
 *
 * What a failing system call ends in: the only way the program fails.
 */
void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "kdispose_bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

/**
 * xcalloc() - calloc() that does not fail
 * @n: number of elements
 * @size: size of one
 *
 * Return: zeroed memory; the program dies when there is none.
 */
void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p)
		die("out of memory");
	return p;
}

/**
 * add() - append a line to the table
 * @row: the row it belongs to (1..NROWS)
 * @name: what was measured
 * @value: the value; NAN makes it a skipped line
 * @unit: "ns", "ratio", "x" or "B"
 *
 * Return: the line, for note() and target().
 */
struct result *add(int row, const char *name, double value, const char *unit)
{
	struct result *r;

	if (nresults == MAX_RESULTS)
		die("too many results");
	r = &results[nresults++];
	memset(r, 0, sizeof(*r));
	r->row = row;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->value = value;
	r->unit = unit;
	return r;
}

/**
 * note() - say how a line's value came about
 * @r: the line
 * @fmt: printf format of the note
 */
void note(struct result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->note, sizeof(r->note), fmt, ap);
	va_end(ap);
}

/**
 * target() - give a line the project's aim, which makes it get a verdict
 * @r: the line
 * @op: "<=" or ">="
 * @limit: what the value is compared with
 */
void target(struct result *r, const char *op, double limit)
{
	snprintf(r->target, sizeof(r->target), "%s %g", op, limit);
}

/**
 * skip() - append a line that could not be measured
 * @row: the row it belongs to
 * @name: what it would have measured
 * @fmt: printf format of the reason
 */
void skip(int row, const char *name, const char *fmt, ...)
{
	struct result *r = add(row, name, NAN, "-");
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->note, sizeof(r->note), fmt, ap);
	va_end(ap);
}

static const char *verdict(const struct result *r)
{
	double limit;

	if (isnan(r->value))
		return "skip";
	if (!r->target[0])
		return "";
	if (cfg->smoke)
		return "-";
	if (r->unmeasurable)
		return "n/a";
	limit = strtod(r->target + 3, NULL);
	if (r->target[0] == '<')
		return r->value <= limit ? "met" : "MISSED";
	return r->value >= limit ? "met" : "MISSED";
}

/**
 * now_ns() - the monotonic clock
 *
 * Return: nanoseconds of CLOCK_MONOTONIC.
 */
uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/**
 * calibrate_clock() - measure what reading the clock costs
 *
 * Sets clock_cost, which elapsed() subtracts: in the guest the clocksource
 * is the HPET and a read is a system call, as long as a cheap ioctl.
 */
void calibrate_clock(void)
{
	double d[MAX_ROUNDS];
	unsigned int i;
	uint64_t t0;

	for (i = 0; i < MAX_ROUNDS; i++) {
		t0 = now_ns();
		d[i] = now_ns() - t0;
	}
	qsort(d, MAX_ROUNDS, sizeof(d[0]), cmp_double);
	clock_cost = d[MAX_ROUNDS / 2];
}

/**
 * elapsed() - the time a block took
 * @t0: a now_ns() value taken when the block started
 *
 * Return: nanoseconds since @t0, less the clock's own cost.
 */
double elapsed(uint64_t t0)
{
	uint64_t d = now_ns() - t0;

	return d > clock_cost ? d - clock_cost : 0;
}

/**
 * progress() - say which row starts, and when since the first call
 * @what: the row
 */
void progress(const char *what)
{
	static uint64_t start;

	if (!start)
		start = now_ns();
	printf("kdispose_bench: %6.1f s: %s\n", (now_ns() - start) / 1e9,
	       what);
}

/**
 * quantile() - a quantile of a set of values, interpolated
 * @v: the values (left as they are)
 * @n: how many
 * @q: 0 for the smallest, 0.5 for the median, 1 for the largest
 *
 * Return: the @q quantile of the @n values of @v.
 */
double quantile(const double *v, unsigned int n, double q)
{
	double *s = xcalloc(n, sizeof(*s)), pos, m;
	unsigned int i;

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	pos = q * (n - 1);
	i = pos;
	m = i + 1 < n ? s[i] + (pos - i) * (s[i + 1] - s[i]) : s[i];
	free(s);
	return m;
}

/**
 * median() - the median of a set of values
 * @v: the values
 * @n: how many
 *
 * Return: quantile(@v, @n, 0.5).
 */
double median(const double *v, unsigned int n)
{
	return quantile(v, n, 0.5);
}

/**
 * ratio() - the ratio of two cases measured round by round
 * @a: the numerator's value in each round
 * @b: the denominator's, in the same rounds
 * @n: the number of rounds
 *
 * The two cases of a round ran next to each other, so a slow spell of the
 * host that hits a round cancels out of its ratio.
 *
 * Return: the median of the per-round ratios @a[i] / @b[i].
 */
double ratio(const double *a, const double *b, unsigned int n)
{
	double *q = xcalloc(n, sizeof(*q)), m;
	unsigned int i;

	for (i = 0; i < n; i++)
		q[i] = a[i] / b[i];
	m = median(q, n);
	free(q);
	return m;
}

/* The value as the table and the TSV show it: "-" for a skipped line. */
static const char *format_value(const struct result *r)
{
	static char buf[32];
	int digits = strcmp(r->unit, "ratio") && strcmp(r->unit, "x") ? 0 : 3;

	if (isnan(r->value))
		return "-";
	snprintf(buf, sizeof(buf), "%.*f", digits, r->value);
	return buf;
}

/**
 * print_table() - the readable table: every line, grouped by row
 */
void print_table(void)
{
	const struct result *r;
	struct utsname u;
	unsigned int i;
	int row;

	uname(&u);
	printf("\nkdispose benchmarks: kernel %s, %ld CPUs, %s\n", u.release,
	       sysconf(_SC_NPROCESSORS_ONLN),
	       cfg->smoke ? "smoke run (one round, tiny sizes: no verdicts)" :
			    "medians over interleaved blocks");
	printf("ns: time per operation under QEMU TCG, meaningless alone: %s\n",
	       "compare the ratios");
	printf("reading the clock costs %" PRIu64 " ns, %s\n", clock_cost,
	       "subtracted from each block");
	printf("\n%3s  %-40s %10s %-5s  %-7s  %-7s %s\n", "row", "measurement",
	       "value", "unit", "target", "verdict", "note");
	for (row = 1; row <= NROWS; row++) {
		printf("\n");
		for (i = 0; i < nresults; i++) {
			r = &results[i];
			if (r->row != row)
				continue;
			printf("%3d  %-40s %10s %-5s  %-7s  %-7s %s\n", row,
			       r->name, format_value(r), r->unit, r->target,
			       verdict(r), r->note);
		}
	}
}

/**
 * print_tsv() - the same lines as TSV between two marker lines
 *
 * Columns row, name, value, unit, target, verdict, note, between the
 * BENCH_TSV_BEGIN and BENCH_TSV_END lines, for a host that only sees the
 * console (tools/bench/run cuts them out).
 */
void print_tsv(void)
{
	const struct result *r;
	unsigned int i;
	int row;

	printf("\nBENCH_TSV_BEGIN\n");
	printf("row\tname\tvalue\tunit\ttarget\tverdict\tnote\n");
	for (row = 1; row <= NROWS; row++)
		for (i = 0; i < nresults; i++) {
			r = &results[i];
			if (r->row == row)
				printf("%d\t%s\t%s\t%s\t%s\t%s\t%s\n", row,
				       r->name, format_value(r), r->unit,
				       r->target, verdict(r), r->note);
		}
	printf("BENCH_TSV_END\n");
}
