// SPDX-License-Identifier: GPL-2.0
/*
 * Row 4: dispose per handle, one KDISPOSE_IOC_DISPOSE per handle against
 * the batch ioctl and io_uring; IORING_OP_NOP shows what io_uring itself
 * costs per request. The handles are created first; only their disposal
 * is timed.
 */
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

void row_dispose(void)
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
