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
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <drm/drm.h>
#include <drm/drm_mode.h>
#include <liburing.h>
#include <linux/kdispose.h>
#ifdef KDISPOSE_BENCH_LIB
#include <kdispose.h>
#endif

#define DEV_PATH	"/dev/kdispose"
#define DRM_CARD	"/dev/dri/card0"
#define PARAM_MAX_OBJS	"/sys/module/kdispose/parameters/max_objects"

/* An ioctl number of kdispose's magic that the module does not know. */
#define BENCH_IOC_UNKNOWN	_IO(KDISPOSE_IOC_MAGIC, 0x3f)

/* Handles per batch ioctl and per io_uring submit (row 4). */
#define DISPOSE_CHUNK	64

/* Handles each thread looks up in turn (row 6). */
#define LOOKUP_SET	64

#define MAX_ROUNDS	512
#define MAX_TEARDOWN	4
#define MAX_RESULTS	64

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
};

static const unsigned int full_teardown[] = { 1000, 10000, 100000, 1000000 };
static const unsigned int smoke_teardown[] = { 100, 1000 };

static const struct config full_config = {
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
};

static const struct config smoke_config = {
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
};

static const struct config *cfg;

/**
 * struct result - one line of the table
 * @row: the row of issue 9 it belongs to (1..8).
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

static struct result results[MAX_RESULTS];
static unsigned int nresults;

static void die(const char *fmt, ...)
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

static struct result *add(int row, const char *name, double value,
			  const char *unit)
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

static void note(struct result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->note, sizeof(r->note), fmt, ap);
	va_end(ap);
}

static void target(struct result *r, const char *op, double limit)
{
	snprintf(r->target, sizeof(r->target), "%s %g", op, limit);
}

static void skip(int row, const char *name, const char *fmt, ...)
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

static uint64_t now_ns(void)
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

/* What reading the clock twice costs, subtracted from every timed block. */
static uint64_t clock_cost;

static void calibrate_clock(void)
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

/* Nanoseconds since @t0, a now_ns() value, less the clock's own cost. */
static double elapsed(uint64_t t0)
{
	uint64_t d = now_ns() - t0;

	return d > clock_cost ? d - clock_cost : 0;
}

static void progress(const char *what)
{
	static uint64_t start;

	if (!start)
		start = now_ns();
	printf("kdispose_bench: %6.1f s: %s\n", (now_ns() - start) / 1e9,
	       what);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p)
		die("out of memory");
	return p;
}

/* The @q quantile of @n values (0: the smallest, 0.5: the median). */
static double quantile(const double *v, unsigned int n, double q)
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

static double median(const double *v, unsigned int n)
{
	return quantile(v, n, 0.5);
}

/*
 * The median of the per-round ratios @a[i] / @b[i]: the two cases of a
 * round ran next to each other, so a slow spell of the host that hits a
 * round cancels out of its ratio.
 */
static double ratio(const double *a, const double *b, unsigned int n)
{
	double *q = xcalloc(n, sizeof(*q)), m;
	unsigned int i;

	for (i = 0; i < n; i++)
		q[i] = a[i] / b[i];
	m = median(q, n);
	free(q);
	return m;
}

static long xioctl(int fd, unsigned long cmd, void *arg, const char *what)
{
	long ret = ioctl(fd, cmd, arg);

	if (ret < 0)
		die("%s: %s", what, strerror(errno));
	return ret;
}

static int open_kdispose(void)
{
	int fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("open %s: %s", DEV_PATH, strerror(errno));
	return fd;
}

static uint64_t create_token(int fd, uint64_t value)
{
	struct kdispose_create c = {
		.type = KDISPOSE_TYPE_TOKEN,
		.args = { value },
	};

	xioctl(fd, KDISPOSE_IOC_CREATE, &c, "KDISPOSE_IOC_CREATE");
	return c.handle;
}

/* Create @n tokens; their handles go to @handles unless it is NULL. */
static void create_tokens(int fd, uint64_t *handles, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t h = create_token(fd, i);

		if (handles)
			handles[i] = h;
	}
}

static void dispose_one(int fd, uint64_t handle)
{
	struct kdispose_dispose d = { .handle = handle };

	if (xioctl(fd, KDISPOSE_IOC_DISPOSE, &d, "KDISPOSE_IOC_DISPOSE") != 1)
		die("dispose of %#" PRIx64 " did not dispose it", handle);
}

/* Rows 1, 2, 3 and 8: one operation pair per iteration, cfg->block a block. */
struct pairs {
	int kfd;
	int drm_fd;
	uint64_t *handles;
#ifdef KDISPOSE_BENCH_LIB
	struct kd_ctx *ctx;
#endif
};

typedef void (*pair_fn)(struct pairs *p, unsigned int n);

static void pair_version(struct pairs *p, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < 2 * n; i++)
		if (ioctl(p->kfd, KDISPOSE_IOC_VERSION) != KDISPOSE_ABI_VERSION)
			die("KDISPOSE_IOC_VERSION: %s", strerror(errno));
}

static void pair_unknown(struct pairs *p, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < 2 * n; i++)
		if (ioctl(p->kfd, BENCH_IOC_UNKNOWN) != -1 || errno != ENOTTY)
			die("unknown ioctl did not fail with ENOTTY");
}

/* Up to copy_struct_from_user(): a reserved field that is not zero. */
static void pair_einval(struct pairs *p, unsigned int n)
{
	struct kdispose_dispose d = { .handle = 1, .flags = 1 };
	unsigned int i;

	for (i = 0; i < 2 * n; i++)
		if (ioctl(p->kfd, KDISPOSE_IOC_DISPOSE, &d) != -1 ||
		    errno != EINVAL)
			die("dispose with flags did not fail with EINVAL");
}

/* Up to the table check under the file's lock: a handle never issued. */
static void pair_enoent(struct pairs *p, unsigned int n)
{
	struct kdispose_dispose d = { .handle = 0 };
	unsigned int i;

	for (i = 0; i < 2 * n; i++)
		if (ioctl(p->kfd, KDISPOSE_IOC_DISPOSE, &d) != -1 ||
		    errno != ENOENT)
			die("dispose of handle 0 did not fail with ENOENT");
}

static void pair_kdispose(struct pairs *p, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		dispose_one(p->kfd, create_token(p->kfd, i));
}

/* n creates in a row, their handles kept for pair_dispose_kept(). */
static void pair_create_kept(struct pairs *p, unsigned int n)
{
	create_tokens(p->kfd, p->handles, n);
}

static void pair_dispose_kept(struct pairs *p, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		dispose_one(p->kfd, p->handles[i]);
}

static void pair_eventfd(struct pairs *p, unsigned int n)
{
	unsigned int i;
	int fd;

	for (i = 0; i < n; i++) {
		fd = eventfd(0, EFD_CLOEXEC);
		if (fd < 0)
			die("eventfd: %s", strerror(errno));
		close(fd);
	}
}

static void pair_vgem(struct pairs *p, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct drm_mode_create_dumb cd = {
			.width = 1, .height = 1, .bpp = 32,
		};
		struct drm_gem_close gc = {};

		xioctl(p->drm_fd, DRM_IOCTL_MODE_CREATE_DUMB, &cd,
		       "DRM_IOCTL_MODE_CREATE_DUMB");
		gc.handle = cd.handle;
		xioctl(p->drm_fd, DRM_IOCTL_GEM_CLOSE, &gc,
		       "DRM_IOCTL_GEM_CLOSE");
	}
}

#ifdef KDISPOSE_BENCH_LIB
static void pair_lib(struct pairs *p, unsigned int n)
{
	struct kd_obj *obj;
	unsigned int i;
	int err;

	for (i = 0; i < n; i++) {
		obj = kd_token_new(p->ctx, NULL, NULL, i, &err);
		if (!obj)
			die("kd_token_new: %s", strerror(-err));
		err = kd_dispose(obj);
		if (err != 1)
			die("kd_dispose returned %d", err);
		kd_obj_unref(obj);
	}
}

static void pair_lib_raw(struct pairs *p, unsigned int n)
{
	uint64_t handle;
	unsigned int i;
	int err;

	for (i = 0; i < n; i++) {
		err = kd_raw_create(p->ctx, KDISPOSE_TYPE_TOKEN, 0, i, NULL,
				    &handle);
		if (err)
			die("kd_raw_create: %s", strerror(-err));
		err = kd_raw_dispose(p->ctx, handle);
		if (err != 1)
			die("kd_raw_dispose returned %d", err);
	}
}
#endif

/**
 * struct pair_case - one case of rows 1-3 and 8
 * @run: the timed part: n iterations.
 * @prepare: optional, untimed, before @run.
 * @finish: optional, untimed, after @run.
 */
struct pair_case {
	pair_fn run;
	pair_fn prepare;
	pair_fn finish;
};

static double time_pairs(const struct pair_case *c, struct pairs *p)
{
	uint64_t t0;
	double t;

	if (c->prepare)
		c->prepare(p, cfg->block);
	t0 = now_ns();
	c->run(p, cfg->block);
	t = elapsed(t0);
	if (c->finish)
		c->finish(p, cfg->block);
	return t / cfg->block;
}

/* Open vgem's card node, or say why not (the reason goes to @why). */
static int open_vgem(char *why, size_t len)
{
	char name[16] = "";
	struct drm_version v = {
		.name = name,
		.name_len = sizeof(name) - 1,
	};
	int fd;

	fd = open(DRM_CARD, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "%s: %s (vgem.ko not loaded?)", DRM_CARD,
			 strerror(errno));
		return -1;
	}
	if (ioctl(fd, DRM_IOCTL_VERSION, &v) < 0 || strcmp(name, "vgem")) {
		snprintf(why, len, "%s is not vgem (driver \"%s\")", DRM_CARD,
			 name);
		close(fd);
		return -1;
	}
	return fd;
}

static void row_pairs(void)
{
	enum {
		P_VERSION, P_UNKNOWN, P_EINVAL, P_ENOENT, P_KDISPOSE,
		P_CREATE, P_DISPOSE, P_EVENTFD, P_VGEM, P_LIB, P_LIB_RAW,
		P_NCASES
	};
	static const struct pair_case cases[P_NCASES] = {
		[P_VERSION] = { pair_version },
		[P_UNKNOWN] = { pair_unknown },
		[P_EINVAL] = { pair_einval },
		[P_ENOENT] = { pair_enoent },
		[P_KDISPOSE] = { pair_kdispose },
		[P_CREATE] = { pair_create_kept, NULL, pair_dispose_kept },
		[P_DISPOSE] = { pair_dispose_kept, pair_create_kept, NULL },
		[P_EVENTFD] = { pair_eventfd },
		[P_VGEM] = { pair_vgem },
#ifdef KDISPOSE_BENCH_LIB
		[P_LIB] = { pair_lib },
		[P_LIB_RAW] = { pair_lib_raw },
#endif
	};
	double t[P_NCASES][MAX_ROUNDS], m[P_NCASES];
	struct pairs p = {
		.kfd = open_kdispose(),
		.handles = xcalloc(cfg->block, sizeof(uint64_t)),
	};
	char vgem_why[96] = "";
	struct result *r;
	unsigned int n = cfg->rounds, round, c;
	bool run[P_NCASES];
#ifdef KDISPOSE_BENCH_LIB
	int err;

	p.ctx = kd_ctx_open(0, &err);
	if (!p.ctx)
		die("kd_ctx_open: %s", strerror(-err));
#endif
	p.drm_fd = open_vgem(vgem_why, sizeof(vgem_why));
	for (c = 0; c < P_NCASES; c++)
		run[c] = cases[c].run && (c != P_VGEM || p.drm_fd >= 0);

	progress("rows 1-3, 8: create+dispose pairs and their peers");
	for (round = 0; round < n; round++)
		for (c = 0; c < P_NCASES; c++)
			if (run[c])
				t[c][round] = time_pairs(&cases[c], &p);
	for (c = 0; c < P_NCASES; c++)
		m[c] = run[c] ? median(t[c], n) : NAN;

	add(1, "floor: 2 x ioctl(VERSION)", m[P_VERSION], "ns");
	add(1, "floor: 2 x ioctl(unknown) -> ENOTTY", m[P_UNKNOWN], "ns");
	add(1, "token create + dispose", m[P_KDISPOSE], "ns");
	r = add(1, "create+dispose / VERSION floor",
		ratio(t[P_KDISPOSE], t[P_VERSION], n), "ratio");
	target(r, "<=", 1.3);
	add(1, "create+dispose / ENOTTY floor",
	    ratio(t[P_KDISPOSE], t[P_UNKNOWN], n), "ratio");
	r = add(1, "noise: floor blocks, 90th / 10th centile",
		quantile(t[P_VERSION], n, 0.9) /
		quantile(t[P_VERSION], n, 0.1), "ratio");
	note(r, "near 1 on an idle host; above 1.5, distrust this run");
	r = add(1, "2 x DISPOSE(flags=1) -> EINVAL", m[P_EINVAL], "ns");
	note(r, "floor + copy_struct_from_user()");
	r = add(1, "2 x DISPOSE(handle 0) -> ENOENT", m[P_ENOENT], "ns");
	note(r, "floor + copy-in + file lock and table check");
	r = add(1, "create alone (token), 1 ioctl", m[P_CREATE], "ns");
	note(r, "%u creates in a row", cfg->block);
	r = add(1, "dispose alone (token), 1 ioctl", m[P_DISPOSE], "ns");
	note(r, "%u disposes in a row", cfg->block);

	add(2, "eventfd() + close()", m[P_EVENTFD], "ns");
	r = add(2, "create+dispose / eventfd+close",
		ratio(t[P_KDISPOSE], t[P_EVENTFD], n), "ratio");
	target(r, "<=", 0.3);
	add(2, "eventfd+close / VERSION floor",
	    ratio(t[P_EVENTFD], t[P_VERSION], n), "ratio");

	if (run[P_VGEM]) {
		add(3, "vgem CREATE_DUMB + GEM_CLOSE", m[P_VGEM], "ns");
		r = add(3, "create+dispose / vgem",
			ratio(t[P_KDISPOSE], t[P_VGEM], n), "ratio");
		target(r, "<=", 0.08);
		note(r, "1x1x32bpp dumb buffer (one 4 KiB shmem object)");
		add(3, "vgem / VERSION floor",
		    ratio(t[P_VGEM], t[P_VERSION], n), "ratio");
	} else {
		skip(3, "vgem CREATE_DUMB + GEM_CLOSE", "%s", vgem_why);
	}

#ifdef KDISPOSE_BENCH_LIB
	add(8, "kd_token_new + kd_dispose + unref", m[P_LIB], "ns");
	r = add(8, "library / raw ioctl create+dispose",
		ratio(t[P_LIB], t[P_KDISPOSE], n), "ratio");
	target(r, "<=", 1.1);
	add(8, "kd_raw_create+kd_raw_dispose / ioctl",
	    ratio(t[P_LIB_RAW], t[P_KDISPOSE], n), "ratio");
	kd_ctx_close(p.ctx);
#else
	skip(8, "library kd_dispose",
	     "not available: lib/libkdispose.a was not built");
#endif
	if (p.drm_fd >= 0)
		close(p.drm_fd);
	close(p.kfd);
	free(p.handles);
}

/* Row 4: the handles are created first; only their disposal is timed. */
static double dispose_single(int fd, uint64_t *h)
{
	unsigned int i;
	uint64_t t0;

	create_tokens(fd, h, cfg->dispose_block);
	t0 = now_ns();
	for (i = 0; i < cfg->dispose_block; i++)
		dispose_one(fd, h[i]);
	return elapsed(t0) / cfg->dispose_block;
}

static double dispose_batch(int fd, uint64_t *h, int32_t *res)
{
	unsigned int i;
	uint64_t t0;

	create_tokens(fd, h, cfg->dispose_block);
	t0 = now_ns();
	for (i = 0; i < cfg->dispose_block; i += DISPOSE_CHUNK) {
		struct kdispose_dispose_batch b = {
			.handles = (uintptr_t)(h + i),
			.results = (uintptr_t)(res + i),
			.count = DISPOSE_CHUNK,
		};

		xioctl(fd, KDISPOSE_IOC_DISPOSE_BATCH, &b,
		       "KDISPOSE_IOC_DISPOSE_BATCH");
		if (b.ndisposed != DISPOSE_CHUNK)
			die("batch disposed %u of %u", b.ndisposed,
			    DISPOSE_CHUNK);
	}
	return elapsed(t0) / cfg->dispose_block;
}

/* liburing 2.3 has no prep helper for IORING_OP_URING_CMD: fill by hand. */
static void prep_dispose(struct io_uring_sqe *sqe, int fd, uint64_t handle)
{
	struct kdispose_dispose d = { .handle = handle };

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = KDISPOSE_URING_CMD_DISPOSE;
	memcpy(sqe->cmd, &d, sizeof(d));
	sqe->user_data = handle;
}

/*
 * The block's handles disposed DISPOSE_CHUNK per submit, or as many
 * IORING_OP_NOPs (@nop): what io_uring itself costs per request.
 */
static double time_uring(struct io_uring *ring, int fd, uint64_t *h, bool nop)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	unsigned int i, j, head, seen;
	uint64_t t0;
	int ret;

	if (!nop)
		create_tokens(fd, h, cfg->dispose_block);
	t0 = now_ns();
	for (i = 0; i < cfg->dispose_block; i += DISPOSE_CHUNK) {
		for (j = 0; j < DISPOSE_CHUNK; j++) {
			sqe = io_uring_get_sqe(ring);
			if (nop)
				io_uring_prep_nop(sqe);
			else
				prep_dispose(sqe, fd, h[i + j]);
		}
		ret = io_uring_submit_and_wait(ring, DISPOSE_CHUNK);
		if (ret != DISPOSE_CHUNK)
			die("io_uring_submit_and_wait: %d", ret);
		seen = 0;
		io_uring_for_each_cqe(ring, head, cqe) {
			if (cqe->res != !nop)
				die("io_uring completion %d", cqe->res);
			seen++;
		}
		if (seen != DISPOSE_CHUNK)
			die("io_uring: %u completions of %u", seen,
			    DISPOSE_CHUNK);
		io_uring_cq_advance(ring, seen);
	}
	return elapsed(t0) / cfg->dispose_block;
}

static void row_dispose(void)
{
	double single[MAX_ROUNDS], batch[MAX_ROUNDS], uring[MAX_ROUNDS];
	double nop[MAX_ROUNDS], ms, mb, mu, mn;
	uint64_t *h = xcalloc(cfg->dispose_block, sizeof(*h));
	int32_t *res = xcalloc(cfg->dispose_block, sizeof(*res));
	int fd = open_kdispose();
	struct io_uring ring;
	struct result *r;
	unsigned int round;
	int ret;

	ret = io_uring_queue_init(DISPOSE_CHUNK, &ring, 0);
	if (ret)
		die("io_uring_queue_init: %s", strerror(-ret));

	progress("row 4: batch and io_uring dispose");
	for (round = 0; round < cfg->rounds; round++) {
		single[round] = dispose_single(fd, h);
		batch[round] = dispose_batch(fd, h, res);
		uring[round] = time_uring(&ring, fd, h, false);
		nop[round] = time_uring(&ring, fd, h, true);
	}
	ms = median(single, cfg->rounds);
	mb = median(batch, cfg->rounds);
	mu = median(uring, cfg->rounds);
	mn = median(nop, cfg->rounds);

	add(4, "dispose, 1 ioctl per handle", ms, "ns");
	add(4, "dispose, batch ioctl (64/call)", mb, "ns");
	add(4, "dispose, io_uring (64/submit)", mu, "ns");
	r = add(4, "batch / 1 ioctl per handle",
		ratio(batch, single, cfg->rounds), "ratio");
	target(r, "<=", 0.2);
	note(r, "per handle; blocks of %u handles", cfg->dispose_block);
	r = add(4, "io_uring / 1 ioctl per handle",
		ratio(uring, single, cfg->rounds), "ratio");
	target(r, "<=", 0.3);
	note(r, "per handle; IORING_OP_URING_CMD, SQE filled by hand");
	r = add(4, "io_uring NOP / 1 ioctl per handle",
		ratio(nop, single, cfg->rounds), "ratio");
	note(r, "io_uring's own cost per request, %.0f ns: the floor above",
	     mn);

	io_uring_queue_exit(&ring);
	close(fd);
	free(res);
	free(h);
}

/* Row 5: the finalizer path, timed as the close() that triggers it. */
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

static void row_teardown(void)
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

/*
 * Row 6: lookup ioctls from two threads on one fd against one thread.
 * Both threads exist in both modes (the idle one waits on a barrier), so
 * the fd lookup costs the same: a multithreaded process takes a file
 * reference in every ioctl.
 */
enum lookup_case { LOOKUP_DISJOINT, LOOKUP_SHARED, LOOKUP_FLOOR, NLOOKUP };

struct lookup {
	int fd;
	unsigned int active;
	enum lookup_case which;
	bool quit;
	uint64_t handles[2][LOOKUP_SET];
	pthread_barrier_t start;
	pthread_barrier_t done;
};

struct lookup_thread {
	struct lookup *l;
	unsigned int index;
	pthread_t tid;
};

static void lookup_run(struct lookup *l, unsigned int index)
{
	unsigned int own = l->which == LOOKUP_DISJOINT ? index : 0;
	const uint64_t *set = l->handles[own];
	struct kdispose_op op = { .op = KDISPOSE_OP_TOKEN_GET };
	unsigned int i;

	for (i = 0; i < cfg->lookups; i++) {
		if (l->which == LOOKUP_FLOOR) {
			if (ioctl(l->fd, KDISPOSE_IOC_VERSION) !=
			    KDISPOSE_ABI_VERSION)
				die("KDISPOSE_IOC_VERSION: %s",
				    strerror(errno));
			continue;
		}
		op.handle = set[i % LOOKUP_SET];
		op.args[0] = 0;
		xioctl(l->fd, KDISPOSE_IOC_OP, &op, "KDISPOSE_OP_TOKEN_GET");
	}
}

static void *lookup_thread_fn(void *arg)
{
	struct lookup_thread *t = arg;
	struct lookup *l = t->l;
	cpu_set_t cpus;

	CPU_ZERO(&cpus);
	CPU_SET(t->index, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		die("sched_setaffinity: %s", strerror(errno));
	for (;;) {
		pthread_barrier_wait(&l->start);
		if (l->quit)
			return NULL;
		if (t->index < l->active)
			lookup_run(l, t->index);
		pthread_barrier_wait(&l->done);
	}
}

/* Wall-clock time of one round with @active threads working. */
static double lookup_round(struct lookup *l, enum lookup_case which,
			   unsigned int active)
{
	uint64_t t0;

	l->which = which;
	l->active = active;
	pthread_barrier_wait(&l->start);
	t0 = now_ns();
	pthread_barrier_wait(&l->done);
	return elapsed(t0);
}

static void row_lookup(void)
{
	static const char *const names[NLOOKUP] = {
		[LOOKUP_DISJOINT] = "TOKEN_GET (own handles)",
		[LOOKUP_SHARED] = "TOKEN_GET (shared handles)",
		[LOOKUP_FLOOR] = "ioctl(VERSION) floor",
	};
	double one[NLOOKUP][MAX_ROUNDS], two[NLOOKUP][MAX_ROUNDS];
	double speedup[NLOOKUP];
	struct result *verdict_line = NULL;
	struct lookup_thread threads[2];
	struct lookup l = { .fd = open_kdispose() };
	char name[64];
	struct result *r;
	unsigned int i, round, c;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		skip(6, "2 threads / 1 thread", "needs 2 CPUs");
		close(l.fd);
		return;
	}
	create_tokens(l.fd, l.handles[0], LOOKUP_SET);
	create_tokens(l.fd, l.handles[1], LOOKUP_SET);
	pthread_barrier_init(&l.start, NULL, 3);
	pthread_barrier_init(&l.done, NULL, 3);
	for (i = 0; i < 2; i++) {
		threads[i].l = &l;
		threads[i].index = i;
		if (pthread_create(&threads[i].tid, NULL, lookup_thread_fn,
				   &threads[i]))
			die("pthread_create failed");
	}

	progress("row 6: lookups from 1 and 2 threads");
	for (round = 0; round < cfg->rounds; round++)
		for (c = 0; c < NLOOKUP; c++) {
			one[c][round] = lookup_round(&l, c, 1);
			two[c][round] = lookup_round(&l, c, 2);
		}
	l.quit = true;
	pthread_barrier_wait(&l.start);
	for (i = 0; i < 2; i++)
		pthread_join(threads[i].tid, NULL);
	pthread_barrier_destroy(&l.start);
	pthread_barrier_destroy(&l.done);

	for (c = 0; c < NLOOKUP; c++) {
		double m1 = median(one[c], cfg->rounds);
		double m2 = median(two[c], cfg->rounds);

		speedup[c] = 2 * m1 / m2;
		snprintf(name, sizeof(name), "%s, 1 thread", names[c]);
		add(6, name, m1 / cfg->lookups, "ns");
		snprintf(name, sizeof(name), "%s, 2 threads", names[c]);
		r = add(6, name, m2 / (2.0 * cfg->lookups), "ns");
		note(r, "aggregate: wall time / ops of both threads");
		snprintf(name, sizeof(name), "%s, speed-up", names[c]);
		r = add(6, name, speedup[c], "x");
		if (c == LOOKUP_DISJOINT) {
			verdict_line = r;
			target(r, ">=", 1.7);
			note(r, "%d handles per thread", LOOKUP_SET);
		}
		if (c == LOOKUP_SHARED)
			note(r, "both threads on the same %d handles",
			     LOOKUP_SET);
		if (c == LOOKUP_FLOOR)
			note(r, "what the VM and host give 2 threads at best");
	}
	if (speedup[LOOKUP_FLOOR] < 1.7) {
		verdict_line->unmeasurable = true;
		note(verdict_line,
		     "empty ioctls sped up %.2fx: the VM had no 2 host cores",
		     speedup[LOOKUP_FLOOR]);
	}
	r = add(6, "own handles / floor speed-up",
		speedup[LOOKUP_DISJOINT] / speedup[LOOKUP_FLOOR], "ratio");
	note(r, "1.0: lookups scale as well as an empty ioctl");
	close(l.fd);
}

/*
 * Row 7: kernel memory per object, from what creating N of them takes from
 * MemFree (everything: slab, the handle table, pages allocated directly)
 * and adds to each slab cache of /proc/slabinfo (in whole slabs, so the
 * packing of objects into pages counts). The three kinds are created one
 * after the other and freed together at the end: a free in between would
 * put pages on per-CPU lists that the next kind takes back without MemFree
 * moving. MemFree still moves in per-CPU batches of pages, megabytes in
 * all: hence 10^6 tokens and 2 * 10^5 eventfds.
 */
#define MAX_CACHES	512

/* A line of /proc/slabinfo (version 2.1). */
#define SLABINFO_LINE \
	"%39s %ld %ld %ld %ld %ld : tunables %*d %*d %*d : slabdata %ld %ld"

struct slab_cache {
	char name[40];
	long active;
	long objsize;
	long objperslab;
	long pagesperslab;
	long slabs;
};

struct mem_snapshot {
	long memfree_kb;
	unsigned int ncaches;
	struct slab_cache caches[MAX_CACHES];
};

static long memfree_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		die("/proc/meminfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %ld kB", &kb) == 1)
			break;
	fclose(f);
	if (kb < 0)
		die("no MemFree in /proc/meminfo");
	return kb;
}

static void snapshot(struct mem_snapshot *s)
{
	char line[512];
	FILE *f;

	/* Let frees deferred by RCU (slab pages, old tables) finish first. */
	usleep(cfg->settle_us);
	s->ncaches = 0;
	f = fopen("/proc/slabinfo", "r");
	if (!f)
		die("/proc/slabinfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f) && s->ncaches < MAX_CACHES) {
		struct slab_cache *c = &s->caches[s->ncaches];
		long num, active_slabs;

		if (sscanf(line, SLABINFO_LINE, c->name, &c->active, &num,
			   &c->objsize, &c->objperslab, &c->pagesperslab,
			   &active_slabs, &c->slabs) == 8)
			s->ncaches++;
	}
	fclose(f);
	s->memfree_kb = memfree_kb();
}

static const struct slab_cache *find_cache(const struct mem_snapshot *s,
					   const char *name)
{
	unsigned int i;

	for (i = 0; i < s->ncaches; i++)
		if (!strcmp(s->caches[i].name, name))
			return &s->caches[i];
	return NULL;
}

/**
 * struct mem_growth - what creating n objects cost the kernel, per object
 * @total: bytes MemFree lost.
 * @slab: bytes of slab pages, over every cache.
 * @objects: the objects of the caches that grew by at least half an object
 *	per created object (sum of their objsize).
 * @grown: those caches, "name objsize xcount, ...".
 */
struct mem_growth {
	double total;
	double slab;
	double objects;
	char grown[96];
};

static void growth(const struct mem_snapshot *a, const struct mem_snapshot *b,
		   unsigned int n, struct mem_growth *g)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = 0;
	unsigned int i;

	memset(g, 0, sizeof(*g));
	g->total = (a->memfree_kb - b->memfree_kb) * 1024.0 / n;
	for (i = 0; i < b->ncaches; i++) {
		const struct slab_cache *after = &b->caches[i];
		const struct slab_cache *before = find_cache(a, after->name);
		long dslabs = after->slabs - (before ? before->slabs : 0);
		long dactive = after->active - (before ? before->active : 0);
		double per = (double)dactive / n;

		g->slab += (double)dslabs * after->pagesperslab * page / n;
		if (per < 0.5)
			continue;
		g->objects += per * after->objsize;
		if (len < sizeof(g->grown))
			len += snprintf(g->grown + len, sizeof(g->grown) - len,
					"%s%s %ld x%.2f", len ? ", " : "",
					after->name, after->objsize, per);
	}
}

/* Make room for @n more open files. */
static void raise_nofile(unsigned int n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		die("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= n + 64)
		return;
	rl.rlim_cur = n + 64;
	rl.rlim_max = n + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("setrlimit(RLIMIT_NOFILE, %u): %s", n + 64,
		    strerror(errno));
}

static void row_memory(void)
{
	static struct mem_snapshot s[4];
	const struct slab_cache *obj_cache;
	struct mem_growth token, buffer, efd;
	struct kdispose_create c = {
		.type = KDISPOSE_TYPE_MEMORY,
		.args = { 4096 },
	};
	int *fds = xcalloc(cfg->mem_eventfds, sizeof(*fds));
	int token_fd = open_kdispose(), buffer_fd = open_kdispose();
	struct result *r;
	unsigned int i;

	progress("row 7: kernel memory per object");
	raise_nofile(cfg->mem_eventfds);

	snapshot(&s[0]);
	create_tokens(token_fd, NULL, cfg->mem_tokens);
	snapshot(&s[1]);
	for (i = 0; i < cfg->mem_buffers; i++)
		xioctl(buffer_fd, KDISPOSE_IOC_CREATE, &c,
		       "create memory buffer");
	snapshot(&s[2]);
	for (i = 0; i < cfg->mem_eventfds; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC);
		if (fds[i] < 0)
			die("eventfd: %s", strerror(errno));
	}
	snapshot(&s[3]);

	for (i = 0; i < cfg->mem_eventfds; i++)
		close(fds[i]);
	free(fds);
	close(buffer_fd);
	close(token_fd);
	growth(&s[0], &s[1], cfg->mem_tokens, &token);
	growth(&s[1], &s[2], cfg->mem_buffers, &buffer);
	growth(&s[2], &s[3], cfg->mem_eventfds, &efd);

	obj_cache = find_cache(&s[1], "kdispose_object");
	if (obj_cache) {
		r = add(7, "token: slab object (objsize)", obj_cache->objsize,
			"B");
		target(r, "<=", 96);
		note(r, "kdispose_object: %ld per %ld KiB slab = %.1f B each",
		     obj_cache->objperslab, obj_cache->pagesperslab * 4,
		     obj_cache->pagesperslab * 4096.0 / obj_cache->objperslab);
	} else {
		skip(7, "token: slab object (objsize)",
		     "no kdispose_object cache in /proc/slabinfo");
	}
	r = add(7, "token: kernel memory", token.total, "B");
	note(r, "%u live: slab pages %.0f B, rest (handle table) %.0f B",
	     cfg->mem_tokens, token.slab, token.total - token.slab);
	r = add(7, "4 KiB buffer: kernel memory", buffer.total, "B");
	note(r, "%u live: slab pages %.0f B, rest (page, table) %.0f B",
	     cfg->mem_buffers, buffer.slab, buffer.total - buffer.slab);
	r = add(7, "4 KiB buffer: slab objects", buffer.objects, "B");
	note(r, "%s", buffer.grown);
	r = add(7, "eventfd: slab objects", efd.objects, "B");
	note(r, "%s", efd.grown);
	r = add(7, "eventfd: kernel memory", efd.total, "B");
	note(r, "%u open: slab pages %.0f B, rest (fd table) %.0f B",
	     cfg->mem_eventfds, efd.slab, efd.total - efd.slab);
	if (efd.total > 0)
		add(7, "token / eventfd kernel memory",
		    token.total / efd.total, "ratio");
	else
		skip(7, "token / eventfd kernel memory",
		     "MemFree did not move: too few objects");
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

static void print_table(void)
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
	for (row = 1; row <= 8; row++) {
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

static void print_tsv(void)
{
	const struct result *r;
	unsigned int i;
	int row;

	printf("\nBENCH_TSV_BEGIN\n");
	printf("row\tname\tvalue\tunit\ttarget\tverdict\tnote\n");
	for (row = 1; row <= 8; row++)
		for (i = 0; i < nresults; i++) {
			r = &results[i];
			if (r->row == row)
				printf("%d\t%s\t%s\t%s\t%s\t%s\t%s\n", row,
				       r->name, format_value(r), r->unit,
				       r->target, verdict(r), r->note);
		}
	printf("BENCH_TSV_END\n");
}

static void bad_usage(const char *prog)
{
	fprintf(stderr, "usage: %s [--smoke] [--rows N,N...]\n", prog);
	exit(2);
}

/* The rows of a "1,4,7" list, as bits 1..8 of a mask. */
static unsigned int parse_rows(const char *list, const char *prog)
{
	unsigned int mask = 0;
	char *end;
	long row;

	do {
		row = strtol(list, &end, 10);
		if (end == list || row < 1 || row > 8 ||
		    (*end && *end != ','))
			bad_usage(prog);
		mask |= 1U << row;
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
	unsigned int rows = ~0U;
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

	/* Memory first, while the slab caches hold few free objects. */
	if (rows & 1U << 7)
		row_memory();
	if (rows & (1U << 1 | 1U << 2 | 1U << 3 | 1U << 8))
		row_pairs();
	if (rows & 1U << 4)
		row_dispose();
	if (rows & 1U << 6)
		row_lookup();
	if (rows & 1U << 5)
		row_teardown();
	progress("done");

	print_table();
	print_tsv();
	return 0;
}
