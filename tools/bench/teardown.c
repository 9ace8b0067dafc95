// SPDX-License-Identifier: GPL-2.0
/*
 * Row 5: the finalizer path, timed as the close() that triggers it (the
 * file's release hook runs before close() returns), of files holding 10^3
 * to 10^6 live tokens: the time per handle should not grow with their
 * number.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define PARAM_MAX_OBJS	"/sys/module/kdispose/parameters/max_objects"

static unsigned int read_uint_param(const char *path)
{
	unsigned int v;
	FILE *f = fopen(path, "r");

	if (!f || fscanf(f, "%u", &v) != 1)
		die("read %s: %s", path, strerror(errno));
	fclose(f);
	return v;
}

static int write_uint_param(const char *path, unsigned int v)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	if (fprintf(f, "%u\n", v) < 0) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

/* max_objects as it was before row 5 raised it; put back at exit. */
static unsigned int saved_max_objects;

static void restore_max_objects(void)
{
	if (write_uint_param(PARAM_MAX_OBJS, saved_max_objects))
		fprintf(stderr, "kdispose_bench: could not restore %s to %u\n",
			PARAM_MAX_OBJS, saved_max_objects);
}

static double time_teardown(unsigned int n)
{
	int fd = open_kdispose();
	uint64_t t0;

	create_tokens(fd, NULL, n);
	t0 = now_ns();
	close(fd);
	return elapsed(t0) / n;
}

/* Closes per round of a file with @n handles: enough for teardown_handles. */
static unsigned int teardown_repeat(unsigned int n)
{
	return n < cfg->teardown_handles ? cfg->teardown_handles / n : 1;
}

void row_teardown(void)
{
	unsigned int largest = cfg->teardown[cfg->nteardown - 1];
	unsigned int i, j, round, nt[MAX_TEARDOWN] = {};
	double *t[MAX_TEARDOWN], first = 0, m = 0, fastest[MAX_TEARDOWN];
	char name[64];
	struct result *r;

	progress("row 5: close of files with many handles");
	for (i = 0; i < cfg->nteardown; i++)
		t[i] = xcalloc(cfg->teardown_rounds *
			       teardown_repeat(cfg->teardown[i]),
			       sizeof(double));
	saved_max_objects = read_uint_param(PARAM_MAX_OBJS);
	if (saved_max_objects < largest) {
		if (write_uint_param(PARAM_MAX_OBJS, largest))
			die("write %s: %s", PARAM_MAX_OBJS, strerror(errno));
		atexit(restore_max_objects);
	}
	for (round = 0; round < cfg->teardown_rounds; round++)
		for (i = 0; i < cfg->nteardown; i++)
			for (j = 0; j < teardown_repeat(cfg->teardown[i]); j++)
				t[i][nt[i]++] = time_teardown(cfg->teardown[i]);

	for (i = 0; i < cfg->nteardown; i++) {
		m = median(t[i], nt[i]);
		fastest[i] = quantile(t[i], nt[i], 0);
		if (!i)
			first = m;
		snprintf(name, sizeof(name), "finalize per handle, %u live",
			 cfg->teardown[i]);
		r = add(5, name, m, "ns");
		note(r, "median of %u closes", nt[i]);
		free(t[i]);
	}

	snprintf(name, sizeof(name), "per handle, %u / %u live", largest,
		 cfg->teardown[0]);
	r = add(5, name, m / first, "ratio");
	target(r, "<=", 1.3);
	note(r, "close() of the fd, token objects; medians");
	r = add(5, "the same, fastest closes",
		fastest[cfg->nteardown - 1] / fastest[0], "ratio");
	note(r, "less sensitive to a loaded host than the medians");
}
