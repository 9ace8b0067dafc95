// SPDX-License-Identifier: GPL-2.0
/*
 * Row 4: dispose per handle, one KDISPOSE_IOC_DISPOSE per handle against
 * the batch ioctl and io_uring; IORING_OP_NOP shows what io_uring itself
 * costs per request. The handles are created first; only their disposal
 * is timed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>
#include <linux/kdispose.h>

#include "bench.h"

/* Handles per batch ioctl and per io_uring submit. */
#define DISPOSE_CHUNK	64

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

/* What each io_uring block submits. */
enum uring_case {
	URING_DISPOSE,		/* KDISPOSE_URING_CMD_DISPOSE of a live handle */
	URING_UNKNOWN,		/* an unknown command: EOPNOTSUPP at once */
	URING_NOP,		/* IORING_OP_NOP */
};

/* An unknown io_uring command of /dev/kdispose. */
#define URING_CMD_UNKNOWN	0x7fff

/* liburing 2.3 has no prep helper for IORING_OP_URING_CMD: fill by hand. */
static void prep_cmd(struct io_uring_sqe *sqe, int fd, __u32 op,
		     uint64_t handle)
{
	struct kdispose_dispose d = { .handle = handle };

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = op;
	memcpy(sqe->cmd, &d, sizeof(d));
	sqe->user_data = handle;
}

/*
 * The block's handles, DISPOSE_CHUNK requests per submit, of case @c:
 * disposed, or as many requests that only cost io_uring itself (a NOP)
 * or io_uring and the command's completion (an unknown command).
 */
static double time_uring(struct io_uring *ring, int fd, uint64_t *h,
			 enum uring_case c)
{
	static const int want[] = {
		[URING_DISPOSE] = 1,
		[URING_UNKNOWN] = -EOPNOTSUPP,
		[URING_NOP] = 0,
	};
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	unsigned int i, j, head, seen;
	uint64_t t0;
	int ret;

	if (c == URING_DISPOSE)
		create_tokens(fd, h, cfg->dispose_block);
	t0 = now_ns();
	for (i = 0; i < cfg->dispose_block; i += DISPOSE_CHUNK) {
		for (j = 0; j < DISPOSE_CHUNK; j++) {
			sqe = io_uring_get_sqe(ring);
			if (c == URING_NOP)
				io_uring_prep_nop(sqe);
			else if (c == URING_UNKNOWN)
				prep_cmd(sqe, fd, URING_CMD_UNKNOWN, 0);
			else
				prep_cmd(sqe, fd, KDISPOSE_URING_CMD_DISPOSE,
					 h[i + j]);
		}
		ret = io_uring_submit_and_wait(ring, DISPOSE_CHUNK);
		if (ret != DISPOSE_CHUNK)
			die("io_uring_submit_and_wait: %d", ret);
		seen = 0;
		io_uring_for_each_cqe(ring, head, cqe) {
			if (cqe->res != want[c])
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

void row_dispose(void)
{
	double single[MAX_ROUNDS], batch[MAX_ROUNDS], uring[MAX_ROUNDS];
	double unknown[MAX_ROUNDS], nop[MAX_ROUNDS], ms, mb, mu, mk, mn;
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
		uring[round] = time_uring(&ring, fd, h, URING_DISPOSE);
		unknown[round] = time_uring(&ring, fd, h, URING_UNKNOWN);
		nop[round] = time_uring(&ring, fd, h, URING_NOP);
	}
	ms = median(single, cfg->rounds);
	mb = median(batch, cfg->rounds);
	mu = median(uring, cfg->rounds);
	mk = median(unknown, cfg->rounds);
	mn = median(nop, cfg->rounds);

	add(4, "dispose, 1 ioctl per handle", ms, "ns");
	add(4, "dispose, batch ioctl (64/call)", mb, "ns");
	add(4, "dispose, io_uring (64/submit)", mu, "ns");
	r = add(4, "batch / 1 ioctl per handle",
		ratio(batch, single, cfg->rounds), "ratio");
	target(r, "<=", 0.15);
	note(r, "per handle; blocks of %u handles", cfg->dispose_block);
	r = add(4, "io_uring / 1 ioctl per handle",
		ratio(uring, single, cfg->rounds), "ratio");
	target(r, "<=", 0.3);
	note(r, "per handle; IORING_OP_URING_CMD, SQE filled by hand");
	r = add(4, "io_uring unknown cmd / 1 ioctl per handle",
		ratio(unknown, single, cfg->rounds), "ratio");
	note(r, "a command that completes at once with EOPNOTSUPP, %.0f ns",
	     mk);
	r = add(4, "io_uring NOP / 1 ioctl per handle",
		ratio(nop, single, cfg->rounds), "ratio");
	note(r, "io_uring's own cost per request, %.0f ns: the floor above",
	     mn);

	io_uring_queue_exit(&ring);
	close(fd);
	free(res);
	free(h);
}
