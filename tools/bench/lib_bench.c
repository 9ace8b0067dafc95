// SPDX-License-Identifier: GPL-2.0
/*
 * lib_bench: what libkdispose costs on top of the raw ioctls. Not a test:
 * it prints timings and asserts nothing about them.
 *
 *	./lib_bench [N]		N operations per repetition (default 20000)
 *
 * Each row is the median over 5 repetitions of the time per operation,
 * and of its ratio to the raw ioctl row measured in the same repetition.
 * Rows that dispose time the dispose alone: the objects are created before
 * the timed section. Run it with kdispose.ko loaded: "tools/bench/run
 * --lib" runs it in the VM after kdispose_bench, whose row 8 is the
 * summary of this one; selftests/bench_smoke.sh runs it once, tiny.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include <liburing.h>

#include "kdispose.h"

#define REPS	5
#define CHUNK	64

struct bench {
	struct kd_ctx *ctx;
	int fd;
	unsigned int n;
	struct kd_obj **objs;
	uint64_t *handles;
	int *results;
	struct io_uring ring;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void fail(const char *what, int err)
{
	fprintf(stderr, "lib_bench: %s: %s\n", what, strerror(-err));
	exit(1);
}

static uint64_t raw_create(struct bench *b)
{
	struct kdispose_create c = { .type = KDISPOSE_TYPE_TOKEN };

	if (ioctl(b->fd, KDISPOSE_IOC_CREATE, &c))
		fail("KDISPOSE_IOC_CREATE", -errno);
	return c.handle;
}

static void raw_dispose(struct bench *b, uint64_t handle)
{
	struct kdispose_dispose d = { .handle = handle };

	if (ioctl(b->fd, KDISPOSE_IOC_DISPOSE, &d) != 1)
		fail("KDISPOSE_IOC_DISPOSE", -errno);
}

static void make_objs(struct bench *b)
{
	unsigned int i;
	int err;

	for (i = 0; i < b->n; i++) {
		b->objs[i] = kd_token_new(b->ctx, NULL, NULL, i, &err);
		if (!b->objs[i])
			fail("kd_token_new", err);
	}
}

static void drop_objs(struct bench *b)
{
	unsigned int i;

	for (i = 0; i < b->n; i++)
		kd_obj_unref(b->objs[i]);
}

static uint64_t pair_raw(struct bench *b)
{
	uint64_t t = now_ns();
	unsigned int i;

	for (i = 0; i < b->n; i++)
		raw_dispose(b, raw_create(b));
	return now_ns() - t;
}

static uint64_t pair_lib(struct bench *b)
{
	uint64_t t = now_ns();
	struct kd_obj *obj;
	unsigned int i;
	int err;

	for (i = 0; i < b->n; i++) {
		obj = kd_token_new(b->ctx, NULL, NULL, i, &err);
		if (!obj)
			fail("kd_token_new", err);
		err = kd_dispose(obj);
		if (err != 1)
			fail("kd_dispose", err < 0 ? err : -EPROTO);
		kd_obj_unref(obj);
	}
	return now_ns() - t;
}

/* The library's own work: an object without kernel object, no syscall. */
static const struct kd_class plain_class = {
	.name = "bench_plain",
	.size = sizeof(struct kd_obj),
};

static uint64_t pair_plain(struct bench *b)
{
	uint64_t t = now_ns();
	struct kd_obj *obj;
	unsigned int i;
	int err;

	for (i = 0; i < b->n; i++) {
		obj = kd_obj_new(b->ctx, &plain_class, NULL, &err);
		if (!obj)
			fail("kd_obj_new", err);
		if (kd_dispose(obj) != 1)
			fail("kd_dispose", -EPROTO);
		kd_obj_unref(obj);
	}
	return now_ns() - t;
}

static uint64_t dispose_raw(struct bench *b)
{
	unsigned int i;
	uint64_t t;

	for (i = 0; i < b->n; i++)
		b->handles[i] = raw_create(b);
	t = now_ns();
	for (i = 0; i < b->n; i++)
		raw_dispose(b, b->handles[i]);
	return now_ns() - t;
}

static uint64_t dispose_lib(struct bench *b)
{
	unsigned int i;
	uint64_t t;

	make_objs(b);
	t = now_ns();
	for (i = 0; i < b->n; i++)
		if (kd_dispose(b->objs[i]) != 1)
			fail("kd_dispose", -EPROTO);
	t = now_ns() - t;
	drop_objs(b);
	return t;
}

static uint64_t dispose_many(struct bench *b)
{
	unsigned int i, chunk;
	uint64_t t;

	make_objs(b);
	t = now_ns();
	for (i = 0; i < b->n; i += chunk) {
		chunk = b->n - i < CHUNK ? b->n - i : CHUNK;
		if (kd_dispose_many(b->ctx, b->objs + i, chunk,
				    b->results) != (int)chunk)
			fail("kd_dispose_many", -EPROTO);
	}
	t = now_ns() - t;
	drop_objs(b);
	return t;
}

static uint64_t dispose_async(struct bench *b)
{
	struct io_uring_cqe *cqe;
	unsigned int i, j, chunk;
	uint64_t t;
	int ret;

	make_objs(b);
	t = now_ns();
	for (i = 0; i < b->n; i += chunk) {
		chunk = b->n - i < CHUNK ? b->n - i : CHUNK;
		for (j = 0; j < chunk; j++) {
			ret = kd_dispose_async(&b->ring, b->objs[i + j], j);
			if (ret)
				fail("kd_dispose_async", ret);
		}
		ret = io_uring_submit_and_wait(&b->ring, chunk);
		if (ret != (int)chunk)
			fail("io_uring_submit_and_wait", ret < 0 ? ret : -EIO);
		for (j = 0; j < chunk; j++) {
			ret = io_uring_wait_cqe(&b->ring, &cqe);
			if (ret)
				fail("io_uring_wait_cqe", ret);
			if (kd_dispose_async_result(cqe) != 1)
				fail("async dispose", cqe->res);
			io_uring_cqe_seen(&b->ring, cqe);
		}
	}
	t = now_ns() - t;
	drop_objs(b);
	return t;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, REPS, sizeof(v[0]), cmp_double);
	return v[REPS / 2];
}

enum { PAIR_RAW, PAIR_LIB, PAIR_PLAIN, DISPOSE_RAW, DISPOSE_LIB, DISPOSE_MANY,
	DISPOSE_ASYNC, NCASES };

static uint64_t (*const cases[NCASES])(struct bench *) = {
	pair_raw, pair_lib, pair_plain, dispose_raw, dispose_lib, dispose_many,
	dispose_async,
};

/* The baseline each case is compared with, in the same repetition. */
static const int baseline[NCASES] = {
	PAIR_RAW, PAIR_RAW, PAIR_RAW,
	DISPOSE_RAW, DISPOSE_RAW, DISPOSE_RAW, DISPOSE_RAW,
};

static const char *const names[NCASES] = {
	"create+dispose, raw ioctls",
	"create+dispose, kd_token_new+kd_dispose",
	"create+dispose, library only (no syscall)",
	"dispose, raw ioctl",
	"dispose, kd_dispose",
	"dispose, kd_dispose_many (64 per call)",
	"dispose, kd_dispose_async (64 per submit)",
};

int main(int argc, char **argv)
{
	double ns[NCASES][REPS], ratio[NCASES][REPS];
	struct bench b = { .n = argc > 1 ? atoi(argv[1]) : 20000 };
	int err, r, c;

	if (!b.n)
		b.n = 20000;
	b.ctx = kd_ctx_open(0, &err);
	if (!b.ctx)
		fail("kd_ctx_open", err);
	b.fd = kd_ctx_fd(b.ctx);
	b.objs = calloc(b.n, sizeof(*b.objs));
	b.handles = calloc(b.n, sizeof(*b.handles));
	b.results = calloc(CHUNK, sizeof(*b.results));
	if (!b.objs || !b.handles || !b.results)
		fail("calloc", -ENOMEM);
	err = io_uring_queue_init(CHUNK, &b.ring, 0);
	if (err)
		fail("io_uring_queue_init", err);

	/*
	 * The cases of one repetition run back to back, so that a ratio
	 * compares times taken under the same load; ratios are medians of
	 * the per-repetition ratios.
	 */
	for (r = 0; r < REPS; r++)
		for (c = 0; c < NCASES; c++)
			ns[c][r] = (double)cases[c](&b) / b.n;
	for (r = 0; r < REPS; r++)
		for (c = 0; c < NCASES; c++)
			ratio[c][r] = ns[c][r] / ns[baseline[c]][r];

	printf("lib_bench: %d repetitions of %u operations; medians\n", REPS,
	       b.n);
	printf("%-44s %10s %8s\n", "case", "ns/op", "ratio");
	for (c = 0; c < NCASES; c++)
		printf("%-44s %10.0f %8.2f\n", names[c], median(ns[c]),
		       median(ratio[c]));
	printf("io_uring path: %s\n",
	       kd_ctx_features(b.ctx) & KD_FEATURE_URING ?
	       "the DISPOSE command" : "the ioctl fallback");

	io_uring_queue_exit(&b.ring);
	kd_ctx_close(b.ctx);
	return 0;
}
