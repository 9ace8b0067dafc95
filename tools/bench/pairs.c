// SPDX-License-Identifier: GPL-2.0
/*
 * Rows 1, 2, 3 and 8: a token's create + dispose against the syscall floor
 * (row 1, with a breakdown), against eventfd() + close() (row 2), against
 * a DRM GEM handle on vgem (row 3) and through the library (row 8). One
 * operation pair per iteration, cfg->block iterations a block; every case
 * runs one block per round, so they share each round's host.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <drm/drm.h>
#include <drm/drm_mode.h>
#include <linux/kdispose.h>
#ifdef KDISPOSE_BENCH_LIB
#include <kdispose.h>
#endif

#include "bench.h"

/* An ioctl number of kdispose's magic that the module does not know. */
#define BENCH_IOC_UNKNOWN	_IO(KDISPOSE_IOC_MAGIC, 0x3f)

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

void row_pairs(void)
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
