// SPDX-License-Identifier: GPL-2.0
/*
 * uring_test: dispose through io_uring (KDISPOSE_URING_CMD_DISPOSE).
 *
 * Many disposes per submit with each completion checked; the same result as
 * the ioctl for every case the ioctl knows; unknown commands; the
 * IO_URING_F_NONBLOCK path (a first attempt that cannot finish without
 * waiting returns -EAGAIN and io_uring retries it from an io-wq worker,
 * which shows up as an "iou-wrk-*" thread of the test process); closing the
 * device and tearing down the ring while commands are in flight; and the
 * ring, the ioctl and the batch ioctl racing for the same handles.
 *
 * liburing 2.3 has no io_uring_prep_uring_cmd(): the SQE is filled by hand,
 * which works with newer liburing too. Race loops run for a time budget with
 * an iteration cap, so the file takes well under a minute under QEMU TCG.
 *
 * Loop bodies holding an ASSERT or EXPECT are braced: with a TH_LOG, such a
 * macro is two statements, and the second would run after the loop.
 */
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>

#include "kdispose_test.h"

#define RING_ENTRIES	256

/* Disposes per submit, as a server dropping objects would queue them. */
#define PER_SUBMIT	64

/* Tokens disposed in batches of PER_SUBMIT. */
#define MANY		10000

/*
 * Longest wait for one completion. A command that never completes fails
 * the test here instead of hanging it until the harness' alarm.
 */
#define CQE_TIMEOUT_S	5

/* Longest wait for the objects of a closed file to be released. */
#define SETTLE_MS	10000

/* The lock contention test: a creator/disposer thread against the ring. */
#define CONTEND_BUDGET_MS	5000
#define CONTEND_ROUNDS		2000

/* Ring, ioctl and batch racing for the same handles. */
#define MIX_HANDLES	(3 * PER_SUBMIT)
#define MIX_ROUNDS	2000
#define MIX_BUDGET_MS	10000

/* Tokens per method when comparing the cost of a dispose. */
#define COST_HANDLES	4096

static uint64_t deadline_after(int ms)
{
	return kd_t_now_ns() + (uint64_t)ms * 1000000;
}

/*
 * prep_cmd() - fill @sqe with an IORING_OP_URING_CMD for @fd: @cmd_op and
 * the 16-byte payload @d in sqe->cmd (no IORING_SETUP_SQE128 needed).
 */
static void prep_cmd(struct io_uring_sqe *sqe, int fd, __u32 cmd_op,
		     const struct kdispose_dispose *d, __u64 user_data)
{
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = cmd_op;
	memcpy(sqe->cmd, d, sizeof(*d));
	sqe->user_data = user_data;
}

/* Queue a dispose of @handle with IOSQE_* @sqe_flags. Return: 0 or -EBUSY. */
static int queue_dispose(struct io_uring *ring, int fd, __u64 handle,
			 __u8 sqe_flags, __u64 user_data)
{
	struct kdispose_dispose d = { .handle = handle };
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return -EBUSY;
	prep_cmd(sqe, fd, KDISPOSE_URING_CMD_DISPOSE, &d, user_data);
	sqe->flags |= sqe_flags;
	return 0;
}

/*
 * reap() - wait at most CQE_TIMEOUT_S for one completion.
 * Return: 0 with its user_data and res, or -ETIME (none came), or -errno.
 */
static int reap(struct io_uring *ring, __u64 *user_data, int *res)
{
	struct __kernel_timespec ts = { .tv_sec = CQE_TIMEOUT_S };
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	if (ret)
		return ret;
	*user_data = cqe->user_data;
	*res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

/*
 * run_cmd() - submit one command (@d, @cmd_op, @sqe_flags) and wait for it.
 * Return: 0 with the completion's result in *@res, or the ring's -errno.
 */
static int run_cmd(struct io_uring *ring, int fd, __u32 cmd_op,
		   const struct kdispose_dispose *d, __u8 sqe_flags, int *res)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	__u64 user_data;
	int ret;

	if (!sqe)
		return -EBUSY;
	prep_cmd(sqe, fd, cmd_op, d, 0);
	sqe->flags |= sqe_flags;
	ret = io_uring_submit(ring);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	return reap(ring, &user_data, res);
}

/* Dispose @handle through the ring. Return: as run_cmd(). */
static int ring_dispose(struct io_uring *ring, int fd, __u64 handle,
			__u8 sqe_flags, int *res)
{
	struct kdispose_dispose d = { .handle = handle };

	return run_cmd(ring, fd, KDISPOSE_URING_CMD_DISPOSE, &d, sqe_flags,
		       res);
}

/*
 * Dispose @count handles through the ring, PER_SUBMIT per submit, with
 * user_data = index. Return: 0 with every result in @results, or -errno.
 */
static int ring_dispose_all(struct io_uring *ring, int fd,
			    const __u64 *handles, int *results, int count)
{
	int done, n, i, ret, res;
	__u64 idx;

	for (done = 0; done < count; done += n) {
		n = count - done < PER_SUBMIT ? count - done : PER_SUBMIT;
		for (i = done; i < done + n; i++) {
			ret = queue_dispose(ring, fd, handles[i], 0, i);
			if (ret)
				return ret;
		}
		ret = io_uring_submit(ring);
		if (ret != n)
			return ret < 0 ? ret : -EIO;
		for (i = 0; i < n; i++) {
			ret = reap(ring, &idx, &res);
			if (ret)
				return ret;
			if (idx < (__u64)done || idx >= (__u64)(done + n))
				return -EPROTO;
			results[idx] = res;
		}
	}
	return 0;
}

/* Return: the number of io-wq workers ("iou-wrk-*") of this process. */
static int io_workers(void)
{
	return kd_t_count_entries("/proc/self/task", "comm", "iou-wrk-");
}

/* Set up a ring, or SKIP the test when this kernel has no io_uring. */
#define RING_INIT(ring, entries, flags) do {				\
	int __ret = io_uring_queue_init(entries, ring, flags);		\
									\
	if (__ret == -ENOSYS || __ret == -EPERM)			\
		SKIP(return, "io_uring_setup: %s", strerror(-__ret));	\
	ASSERT_EQ(0, __ret) TH_LOG("io_uring_queue_init: %s",		\
				   strerror(-__ret));			\
} while (0)

FIXTURE(uring)
{
	KD_T_DEV_MEMBERS;
	struct io_uring ring;
	bool ring_up;			/* @ring is set up, not yet torn down */
};

FIXTURE_SETUP(uring)
{
	KD_T_DEV_SETUP(self);
}

/*
 * Every object the test created is released once it is over, whichever
 * path released it. The ring's exit and its io-wq workers finish in
 * kworkers and may hold the file a little longer: hence the wait. No
 * ASSERT here: it would re-enter the teardown.
 */
FIXTURE_TEARDOWN(uring)
{
	if (self->ring_up)
		io_uring_queue_exit(&self->ring);
	KD_T_DEV_TEARDOWN(self, KD_T_ALL, SETTLE_MS);
}

#define FIXTURE_RING(entries, flags) do {				\
	RING_INIT(&self->ring, entries, flags);				\
	self->ring_up = true;						\
} while (0)

TEST_F_TIMEOUT(uring, dispose_10k_in_batches_of_64, 60)
{
	static __u64 handles[MANY];
	static bool seen[MANY];
	struct kd_t_counters before, after;
	struct kdispose_query q;
	int done, n, i, res;
	uint64_t t0, t1;
	__u64 idx, v;

	FIXTURE_RING(RING_ENTRIES, 0);
	for (i = 0; i < MANY; i++) {
		ASSERT_EQ(0, kd_t_token(self->fd, 0, i, NULL, &handles[i]));
	}
	KD_T_ASSERT_COUNTERS(before);

	t0 = kd_t_now_ns();
	for (done = 0; done < MANY; done += n) {
		n = MANY - done < PER_SUBMIT ? MANY - done : PER_SUBMIT;
		for (i = done; i < done + n; i++) {
			ASSERT_EQ(0, queue_dispose(&self->ring, self->fd,
						   handles[i], 0, i));
		}
		ASSERT_EQ(n, io_uring_submit(&self->ring));
		for (i = 0; i < n; i++) {
			ASSERT_EQ(0, reap(&self->ring, &idx, &res));
			ASSERT_TRUE(idx >= (__u64)done &&
				    idx < (__u64)(done + n))
				TH_LOG("user_data %llu not of this submit", idx);
			ASSERT_FALSE(seen[idx]) TH_LOG("two CQEs for %llu", idx);
			seen[idx] = true;
			ASSERT_EQ(1, res) TH_LOG("dispose %llu (%#llx)", idx,
						 handles[idx]);
		}
	}
	t1 = kd_t_now_ns();

	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .disposed = MANY, .live = -MANY, .released = MANY);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_live", &v));
	EXPECT_EQ(0, v);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_disposed", &v));
	EXPECT_EQ(MANY, v);
	for (i = 0; i < MANY; i++) {
		ASSERT_EQ(-EIDRM, kd_t_query(self->fd, handles[i], &q));
	}
	TH_LOG("%d disposes, %d per submit: %.2f us each", MANY, PER_SUBMIT,
	       (t1 - t0) / 1000.0 / MANY);
}

/*
 * Errno parity: each row builds the same state on a fresh file for every
 * path (handles are deterministic per file), disposes the same struct
 * kdispose_dispose, and expects the same result and the same table after.
 */
enum parity_path {
	PATH_IOCTL,
	PATH_URING,		/* inline first attempt (IO_URING_F_NONBLOCK) */
	PATH_URING_ASYNC,	/* IOSQE_ASYNC: straight to an io-wq worker */
	PATH_BATCH,		/* a batch of one */
	NR_PATHS,
};

static const char *const path_names[NR_PATHS] = {
	"ioctl", "uring", "uring+IOSQE_ASYNC", "batch",
};

FIXTURE(parity)
{
	int fd[NR_PATHS];
	struct io_uring ring;
	bool ring_up;
};

FIXTURE_VARIANT(parity)
{
	/* Build the state on @fd and fill @d. Return: 0 or -errno. */
	int (*arrange)(int fd, struct kdispose_dispose *d);
	int want;
	bool batchable;		/* no per-handle flags or pad in a batch */
};

static int arrange_live(int fd, struct kdispose_dispose *d)
{
	return kd_t_token(fd, 0, 1, "live", &d->handle);
}

static int arrange_disposed(int fd, struct kdispose_dispose *d)
{
	int ret = kd_t_token(fd, 0, 1, NULL, &d->handle);

	if (ret)
		return ret;
	return kd_t_dispose(fd, d->handle) == 1 ? 0 : -EPROTO;
}

static int arrange_cascaded(int fd, struct kdispose_dispose *d)
{
	__u64 group;
	int ret;

	ret = kd_t_create(fd, KDISPOSE_TYPE_GROUP, 0, 0, 0, NULL, &group);
	if (!ret)
		ret = kd_t_token(fd, group, 1, NULL, &d->handle);
	if (ret)
		return ret;
	return kd_t_dispose(fd, group) == 1 ? 0 : -EPROTO;
}

static int arrange_never_issued(int fd, struct kdispose_dispose *d)
{
	__u64 h;
	int ret = kd_t_token(fd, 0, 1, NULL, &h);

	if (ret)
		return ret;
	d->handle = kd_t_handle_make(kd_t_handle_seq(h) + 1,
				     kd_t_handle_slot(h));
	return 0;
}

static int arrange_zero(int fd, struct kdispose_dispose *d)
{
	__u64 h;

	d->handle = 0;
	return kd_t_token(fd, 0, 1, NULL, &h);
}

static int arrange_empty_file(int fd, struct kdispose_dispose *d)
{
	d->handle = kd_t_handle_make(1, 0);
	return 0;
}

static int arrange_slot_beyond_table(int fd, struct kdispose_dispose *d)
{
	__u64 h;
	int ret = kd_t_token(fd, 0, 1, NULL, &h);

	if (ret)
		return ret;
	d->handle = kd_t_handle_make(kd_t_handle_seq(h), KD_T_SLOT_MASK);
	return 0;
}

/* The disposed object's slot now holds a newer one, which must survive. */
static int arrange_slot_reused(int fd, struct kdispose_dispose *d)
{
	__u64 newer;
	int ret;

	ret = arrange_disposed(fd, d);
	if (!ret)
		ret = kd_t_token(fd, 0, 2, NULL, &newer);
	return ret;
}

/* An older seq with the slot of a live object, which must survive. */
static int arrange_forged_older_seq(int fd, struct kdispose_dispose *d)
{
	__u64 a, b;
	int ret;

	ret = kd_t_token(fd, 0, 1, NULL, &a);
	if (!ret)
		ret = kd_t_token(fd, 0, 2, NULL, &b);
	if (ret)
		return ret;
	d->handle = kd_t_handle_make(kd_t_handle_seq(a), kd_t_handle_slot(b));
	return 0;
}

static int arrange_other_files_handle(int fd, struct kdispose_dispose *d)
{
	__u64 h;
	int other, ret, i;

	other = kd_t_open();
	if (other < 0)
		return other;
	for (i = 0, ret = 0; i < 3 && !ret; i++)
		ret = kd_t_token(other, 0, i, NULL, &d->handle);
	close(other);
	return ret ? ret : kd_t_token(fd, 0, 1, NULL, &h);
}

static int arrange_flags(int fd, struct kdispose_dispose *d)
{
	d->flags = 1;
	return arrange_live(fd, d);
}

static int arrange_flags_high(int fd, struct kdispose_dispose *d)
{
	d->flags = 1U << 31;
	return arrange_live(fd, d);
}

static int arrange_pad(int fd, struct kdispose_dispose *d)
{
	d->pad = 1;
	return arrange_live(fd, d);
}

static int arrange_pad_high(int fd, struct kdispose_dispose *d)
{
	d->pad = 1U << 31;
	return arrange_live(fd, d);
}

FIXTURE_VARIANT_ADD(parity, live)
{
	.arrange = arrange_live, .want = 1, .batchable = true,
};

FIXTURE_VARIANT_ADD(parity, disposed_already)
{
	.arrange = arrange_disposed, .want = 0, .batchable = true,
};

FIXTURE_VARIANT_ADD(parity, disposed_by_cascade)
{
	.arrange = arrange_cascaded, .want = 0, .batchable = true,
};

FIXTURE_VARIANT_ADD(parity, stale_handle_slot_reused)
{
	.arrange = arrange_slot_reused, .want = 0, .batchable = true,
};

FIXTURE_VARIANT_ADD(parity, forged_older_seq_live_slot)
{
	.arrange = arrange_forged_older_seq, .want = 0, .batchable = true,
};

FIXTURE_VARIANT_ADD(parity, never_issued)
{
	.arrange = arrange_never_issued, .want = -ENOENT, .batchable = true,
};

FIXTURE_VARIANT_ADD(parity, handle_zero)
{
	.arrange = arrange_zero, .want = -ENOENT, .batchable = true,
};

FIXTURE_VARIANT_ADD(parity, empty_file)
{
	.arrange = arrange_empty_file, .want = -ENOENT, .batchable = true,
};

FIXTURE_VARIANT_ADD(parity, slot_beyond_table)
{
	.arrange = arrange_slot_beyond_table, .want = -ENOENT,
	.batchable = true,
};

FIXTURE_VARIANT_ADD(parity, other_files_handle)
{
	.arrange = arrange_other_files_handle, .want = -ENOENT,
	.batchable = true,
};

FIXTURE_VARIANT_ADD(parity, flags)
{
	.arrange = arrange_flags, .want = -EINVAL,
};

FIXTURE_VARIANT_ADD(parity, flags_high_bit)
{
	.arrange = arrange_flags_high, .want = -EINVAL,
};

FIXTURE_VARIANT_ADD(parity, pad)
{
	.arrange = arrange_pad, .want = -EINVAL,
};

FIXTURE_VARIANT_ADD(parity, pad_high_bit)
{
	.arrange = arrange_pad_high, .want = -EINVAL,
};

FIXTURE_SETUP(parity)
{
	int p;

	for (p = 0; p < NR_PATHS; p++)
		self->fd[p] = -1;
}

FIXTURE_TEARDOWN(parity)
{
	int p;

	if (self->ring_up)
		io_uring_queue_exit(&self->ring);
	for (p = 0; p < NR_PATHS; p++)
		if (self->fd[p] >= 0) {
			EXPECT_EQ(0, close(self->fd[p]));
		}
}

TEST_F(parity, same_result_on_every_path)
{
	struct kdispose_dispose d[NR_PATHS] = { 0 };
	int res[NR_PATHS];
	__u64 live[NR_PATHS], disposed[NR_PATHS];
	__s32 result;
	int p, fd;

	RING_INIT(&self->ring, 8, 0);
	self->ring_up = true;
	for (p = 0; p < NR_PATHS; p++) {
		if (p == PATH_BATCH && !variant->batchable)
			continue;
		self->fd[p] = fd = kd_t_open();
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, variant->arrange(fd, &d[p]));
		ASSERT_EQ(d[PATH_IOCTL].handle, d[p].handle);
		switch (p) {
		case PATH_IOCTL:
			res[p] = kd_t_ioctl(fd, KDISPOSE_IOC_DISPOSE, &d[p]);
			break;
		case PATH_URING:
		case PATH_URING_ASYNC:
			ASSERT_EQ(0, run_cmd(&self->ring, fd,
					     KDISPOSE_URING_CMD_DISPOSE, &d[p],
					     p == PATH_URING_ASYNC ?
					     IOSQE_ASYNC : 0, &res[p]))
				TH_LOG("%s: no completion", path_names[p]);
			break;
		case PATH_BATCH:
			ASSERT_EQ(0, kd_t_dispose_batch(fd, &d[p].handle,
							&result, 1, NULL));
			res[p] = result;
			break;
		}
		EXPECT_EQ(variant->want, res[p])
			TH_LOG("%s: handle %#llx flags %#x pad %#x",
			       path_names[p], d[p].handle, d[p].flags,
			       d[p].pad);
		ASSERT_EQ(0, kd_t_fdinfo(fd, "kdispose_live", &live[p]));
		ASSERT_EQ(0, kd_t_fdinfo(fd, "kdispose_disposed",
					 &disposed[p]));
		EXPECT_EQ(live[PATH_IOCTL], live[p])
			TH_LOG("%s: live objects after", path_names[p]);
		EXPECT_EQ(disposed[PATH_IOCTL], disposed[p])
			TH_LOG("%s: disposed objects after", path_names[p]);
	}
}

TEST_F(uring, unknown_cmd_op_is_eopnotsupp)
{
	static const __u32 ops[] = { 0, KDISPOSE_URING_CMD_DISPOSE + 1, 0x100,
				     1U << 31, ~0U };
	struct kdispose_dispose d = { 0 };
	struct kdispose_query q;
	unsigned int i, async;
	int res;

	FIXTURE_RING(8, 0);
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &d.handle));
	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		for (async = 0; async < 2; async++) {
			ASSERT_EQ(0, run_cmd(&self->ring, self->fd, ops[i], &d,
					     async ? IOSQE_ASYNC : 0, &res));
			EXPECT_EQ(-EOPNOTSUPP, res)
				TH_LOG("cmd_op %#x%s", ops[i],
				       async ? " IOSQE_ASYNC" : "");
		}
	}
	EXPECT_EQ(0, kd_t_query(self->fd, d.handle, &q))
		TH_LOG("an unknown command touched the object");
	ASSERT_EQ(0, ring_dispose(&self->ring, self->fd, d.handle, 0, &res));
	EXPECT_EQ(1, res);
}

TEST_F(uring, childless_dispose_completes_inline)
{
	static __u64 handles[PER_SUBMIT];
	static int results[PER_SUBMIT];
	int i;

	FIXTURE_RING(RING_ENTRIES, 0);
	for (i = 0; i < PER_SUBMIT; i++) {
		ASSERT_EQ(0, kd_t_token(self->fd, 0, i, NULL, &handles[i]));
	}
	ASSERT_EQ(0, ring_dispose_all(&self->ring, self->fd, handles, results,
				      PER_SUBMIT));
	for (i = 0; i < PER_SUBMIT; i++) {
		EXPECT_EQ(1, results[i]) TH_LOG("dispose %d", i);
	}
	EXPECT_EQ(0, io_workers())
		TH_LOG("an uncontended dispose without children was punted");
}

TEST_F(uring, forced_async_dispose_runs_in_worker)
{
	static __u64 handles[2 * PER_SUBMIT];
	struct kd_t_counters before, after;
	struct kdispose_query q;
	int i, n = ARRAY_SIZE(handles), res;
	__u64 idx;

	FIXTURE_RING(RING_ENTRIES, 0);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, kd_t_token(self->fd, 0, i, NULL, &handles[i]));
	}
	KD_T_ASSERT_COUNTERS(before);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, queue_dispose(&self->ring, self->fd, handles[i],
					   IOSQE_ASYNC, i));
	}
	ASSERT_EQ(n, io_uring_submit(&self->ring));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, reap(&self->ring, &idx, &res))
			TH_LOG("%d of %d IOSQE_ASYNC disposes completed", i, n);
		ASSERT_EQ(1, res) TH_LOG("dispose %llu", idx);
	}
	EXPECT_LT(0, io_workers());
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .disposed = n, .live = -n, .released = n);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(-EIDRM, kd_t_query(self->fd, handles[i], &q));
	}
}

/*
 * A tree: a root group, SUB groups under it, each with LEAVES tokens, and
 * a chain of groups CHAIN deep under the first of them. The handles are in
 * creation order, parents first. Return: how many, or -errno.
 */
#define SUB	4
#define LEAVES	16
#define CHAIN	8
#define TREE_SIZE	(1 + SUB * (1 + LEAVES) + CHAIN)

static int make_tree(int fd, __u64 *h)
{
	int n = 0, i, j, ret;
	__u64 root;

	ret = kd_t_create(fd, KDISPOSE_TYPE_GROUP, 0, 0, 0, "root", &root);
	if (ret)
		return ret;
	h[n++] = root;
	for (i = 0; i < SUB; i++) {
		__u64 sub;

		ret = kd_t_create(fd, KDISPOSE_TYPE_GROUP, root, 0, 0, "sub",
				  &sub);
		if (ret)
			return ret;
		h[n++] = sub;
		for (j = 0; j < LEAVES; j++) {
			ret = kd_t_token(fd, sub, j, NULL, &h[n]);
			if (ret)
				return ret;
			n++;
		}
	}
	for (i = 0; i < CHAIN; i++) {
		ret = kd_t_create(fd, KDISPOSE_TYPE_GROUP,
				  i ? h[n - 1] : h[1], 0, 0, "chain", &h[n]);
		if (ret)
			return ret;
		n++;
	}
	return n;
}

TEST_F(uring, parent_with_children_retried_in_worker)
{
	struct kd_t_counters before, after;
	struct kdispose_query q;
	__u64 h[TREE_SIZE], v;
	int i, res;

	FIXTURE_RING(8, 0);
	ASSERT_EQ(TREE_SIZE, make_tree(self->fd, h));
	ASSERT_EQ(0, io_workers());
	KD_T_ASSERT_COUNTERS(before);

	ASSERT_EQ(0, ring_dispose(&self->ring, self->fd, h[0], 0, &res))
		TH_LOG("the dispose of a parent never completed");
	EXPECT_EQ(1, res);
	EXPECT_LT(0, io_workers())
		TH_LOG("no io-wq worker ran: the inline attempt did not "
		       "return -EAGAIN");

	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_GROUP,
			  .disposed = 1 + SUB + CHAIN,
			  .live = -(1 + SUB + CHAIN),
			  .released = 1 + SUB + CHAIN);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .disposed = SUB * LEAVES, .live = -SUB * LEAVES,
			  .released = SUB * LEAVES);
	for (i = 0; i < TREE_SIZE; i++) {
		EXPECT_EQ(-EIDRM, kd_t_query(self->fd, h[i], &q))
			TH_LOG("object %d of the tree", i);
	}
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_disposed", &v));
	EXPECT_EQ(TREE_SIZE, v);
}

/* Creates and disposes tokens on the ring's file until told to stop. */
struct hammer {
	int fd;
	atomic_bool stop;
	long rounds;
	int err;		/* first failure: -errno, or 1000 + result */
};

static void *hammer_fn(void *arg)
{
	struct hammer *hm = arg;
	__u64 h;
	int ret;

	while (!atomic_load(&hm->stop)) {
		ret = kd_t_token(hm->fd, 0, hm->rounds, NULL, &h);
		if (!ret) {
			ret = kd_t_dispose(hm->fd, h);
			ret = ret == 1 ? 0 : 1000 + ret;
		}
		if (ret) {
			hm->err = ret;
			break;
		}
		hm->rounds++;
	}
	return NULL;
}

TEST_F_TIMEOUT(uring, contended_lock_all_complete, 60)
{
	static __u64 handles[PER_SUBMIT];
	static int results[PER_SUBMIT];
	struct hammer hm = { .fd = self->fd };
	struct kd_t_counters before, after;
	uint64_t deadline;
	pthread_t tid;
	int rounds, i, workers;

	FIXTURE_RING(RING_ENTRIES, 0);
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, pthread_create(&tid, NULL, hammer_fn, &hm));
	deadline = deadline_after(CONTEND_BUDGET_MS);
	for (rounds = 0; rounds < CONTEND_ROUNDS &&
			 kd_t_now_ns() < deadline; rounds++) {
		for (i = 0; i < PER_SUBMIT; i++) {
			ASSERT_EQ(0, kd_t_token(self->fd, 0, i, NULL,
						&handles[i]));
		}
		ASSERT_EQ(0, ring_dispose_all(&self->ring, self->fd, handles,
					      results, PER_SUBMIT))
			TH_LOG("round %d: a dispose never completed", rounds);
		for (i = 0; i < PER_SUBMIT; i++) {
			ASSERT_EQ(1, results[i]) TH_LOG("round %d dispose %d",
							rounds, i);
		}
	}
	workers = io_workers();
	atomic_store(&hm.stop, true);
	ASSERT_EQ(0, pthread_join(tid, NULL));
	EXPECT_EQ(0, hm.err) TH_LOG("the other thread failed");
	TH_LOG("%d rounds of %d ring disposes against %ld create+dispose; "
	       "%d io-wq workers (contended first attempts)", rounds,
	       PER_SUBMIT, hm.rounds, workers);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .created = rounds * PER_SUBMIT + hm.rounds,
			  .disposed = rounds * PER_SUBMIT + hm.rounds,
			  .released = rounds * PER_SUBMIT + hm.rounds);
}

TEST_F(uring, close_fd_with_unsubmitted_sqes)
{
	static __u64 handles[PER_SUBMIT];
	struct kd_t_counters before, after;
	int i, res;
	__u64 idx;

	FIXTURE_RING(RING_ENTRIES, 0);
	KD_T_ASSERT_COUNTERS(before);
	for (i = 0; i < PER_SUBMIT; i++) {
		ASSERT_EQ(0, kd_t_token(self->fd, 0, i, NULL, &handles[i]));
	}
	for (i = 0; i < PER_SUBMIT; i++) {
		ASSERT_EQ(0, queue_dispose(&self->ring, self->fd, handles[i],
					   i % 2 ? IOSQE_ASYNC : 0, i));
	}
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(PER_SUBMIT, io_uring_submit(&self->ring));
	for (i = 0; i < PER_SUBMIT; i++) {
		ASSERT_EQ(0, reap(&self->ring, &idx, &res));
		EXPECT_EQ(-EBADF, res) TH_LOG("dispose %llu", idx);
	}
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .created = PER_SUBMIT, .finalized = PER_SUBMIT,
			  .released = PER_SUBMIT);
}

/*
 * Roots for the in-flight tests: every 4th a group with LEAVES tokens
 * (its dispose is retried in a worker), the others tokens. sizes[i] is the
 * number of objects root i stands for. Return: objects created, or -errno.
 */
#define ROOTS	(2 * PER_SUBMIT)

static int make_roots(int fd, __u64 *roots, int *sizes)
{
	int i, j, ret, total = 0;
	__u64 leaf;

	for (i = 0; i < ROOTS; i++) {
		if (i % 4) {
			ret = kd_t_token(fd, 0, i, NULL, &roots[i]);
			sizes[i] = 1;
		} else {
			ret = kd_t_create(fd, KDISPOSE_TYPE_GROUP, 0, 0, 0,
					  NULL, &roots[i]);
			for (j = 0; !ret && j < LEAVES; j++)
				ret = kd_t_token(fd, roots[i], j, NULL, &leaf);
			sizes[i] = 1 + LEAVES;
		}
		if (ret)
			return ret;
		total += sizes[i];
	}
	return total;
}

/*
 * Tokens that no command names: only the file's release can finalize
 * them, so they show that the file was released. Return: 0 or -errno.
 */
#define SPARES	PER_SUBMIT

static int make_spares(int fd)
{
	__u64 h;
	int i, ret;

	for (i = 0; i < SPARES; i++) {
		ret = kd_t_token(fd, 0, i, "spare", &h);
		if (ret)
			return ret;
	}
	return 0;
}

/* Roots whose dispose goes straight to a worker, the others inline. */
static __u8 root_sqe_flags(int i)
{
	return i % 4 == 1 || i % 4 == 2 ? IOSQE_ASYNC : 0;
}

TEST_F_TIMEOUT(uring, close_fd_with_commands_in_flight, 60)
{
	static __u64 roots[ROOTS];
	static int sizes[ROOTS];
	struct kd_t_counters before, after;
	int total, disposed = 0, badf = 0, i, res;
	__u64 idx;

	FIXTURE_RING(RING_ENTRIES, 0);
	KD_T_ASSERT_COUNTERS(before);
	total = make_roots(self->fd, roots, sizes);
	ASSERT_LT(0, total);
	ASSERT_EQ(0, make_spares(self->fd));
	total += SPARES;
	for (i = 0; i < ROOTS; i++) {
		ASSERT_EQ(0, queue_dispose(&self->ring, self->fd, roots[i],
					   root_sqe_flags(i), i));
	}
	ASSERT_EQ(ROOTS, io_uring_submit(&self->ring));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;

	for (i = 0; i < ROOTS; i++) {
		ASSERT_EQ(0, reap(&self->ring, &idx, &res))
			TH_LOG("%d of %d disposes completed", i, ROOTS);
		ASSERT_GT(ROOTS, idx);
		EXPECT_TRUE(res == 1 || res == -EBADF)
			TH_LOG("dispose %llu: %d", idx, res);
		if (res == 1)
			disposed += sizes[idx];
		else if (res == -EBADF)
			badf++;
	}
	ASSERT_EQ(0, kd_t_wait_settled(&before, &after, SETTLE_MS));
	TH_LOG("%d objects: %d disposed in flight, %d EBADF, the rest "
	       "finalized", total, disposed, badf);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL, .created = total,
			  .disposed = disposed, .finalized = total - disposed,
			  .released = total);
}

TEST_F_TIMEOUT(uring, ring_exit_with_commands_in_flight, 60)
{
	static __u64 roots[ROOTS];
	static int sizes[ROOTS];
	struct kd_t_counters before, after;
	const struct kd_t_count *a = &after.row[KD_T_ALL];
	const struct kd_t_count *b = &before.row[KD_T_ALL];
	int total, i;

	FIXTURE_RING(RING_ENTRIES, 0);
	KD_T_ASSERT_COUNTERS(before);
	total = make_roots(self->fd, roots, sizes);
	ASSERT_LT(0, total);
	ASSERT_EQ(0, make_spares(self->fd));
	total += SPARES;
	for (i = 0; i < ROOTS; i++) {
		ASSERT_EQ(0, queue_dispose(&self->ring, self->fd, roots[i],
					   root_sqe_flags(i), i));
	}
	ASSERT_EQ(ROOTS, io_uring_submit(&self->ring));
	io_uring_queue_exit(&self->ring);
	self->ring_up = false;
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;

	ASSERT_EQ(0, kd_t_wait_settled(&before, &after, SETTLE_MS))
		TH_LOG("the file was not released after the ring's exit");
	TH_LOG("%d objects: %llu disposed, %llu finalized", total,
	       a->disposed - b->disposed, a->finalized - b->finalized);
	EXPECT_EQ(total, a->created - b->created);
	EXPECT_EQ(total, (a->disposed - b->disposed) +
			 (a->finalized - b->finalized));
	EXPECT_LE(SPARES, a->finalized - b->finalized);
	EXPECT_EQ(total, a->released - b->released);
}

/* The ring holds the only reference to the file: its exit finalizes. */
TEST_F_TIMEOUT(uring, ring_exit_releases_registered_file, 60)
{
	static __u64 roots[ROOTS];
	static int sizes[ROOTS];
	struct kd_t_counters before, after;
	const struct kd_t_count *a = &after.row[KD_T_ALL];
	const struct kd_t_count *b = &before.row[KD_T_ALL];
	int total, i;

	FIXTURE_RING(RING_ENTRIES, 0);
	KD_T_ASSERT_COUNTERS(before);
	total = make_roots(self->fd, roots, sizes);
	ASSERT_LT(0, total);
	ASSERT_EQ(0, make_spares(self->fd));
	total += SPARES;
	ASSERT_EQ(0, io_uring_register_files(&self->ring, &self->fd, 1));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	for (i = 0; i < ROOTS; i++) {
		ASSERT_EQ(0, queue_dispose(&self->ring, 0, roots[i],
					   IOSQE_FIXED_FILE |
					   root_sqe_flags(i), i));
	}
	ASSERT_EQ(ROOTS, io_uring_submit(&self->ring));
	io_uring_queue_exit(&self->ring);
	self->ring_up = false;

	ASSERT_EQ(0, kd_t_wait_settled(&before, &after, SETTLE_MS))
		TH_LOG("the file was not released after the ring's exit");
	TH_LOG("%d objects: %llu disposed, %llu finalized", total,
	       a->disposed - b->disposed, a->finalized - b->finalized);
	EXPECT_EQ(total, a->created - b->created);
	EXPECT_EQ(total, (a->disposed - b->disposed) +
			 (a->finalized - b->finalized));
	EXPECT_LE(SPARES, a->finalized - b->finalized);
	EXPECT_EQ(total, a->released - b->released);
}

/* The payload fits in a 64-byte SQE; a 128-byte SQE ring works the same. */
TEST_F(uring, sqe128_ring)
{
	struct kdispose_dispose d = { .pad = 1 };
	__u64 h;
	int res;

	FIXTURE_RING(8, IORING_SETUP_SQE128);
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &h));
	d.handle = h;
	ASSERT_EQ(0, run_cmd(&self->ring, self->fd,
			     KDISPOSE_URING_CMD_DISPOSE, &d, 0, &res));
	EXPECT_EQ(-EINVAL, res);
	ASSERT_EQ(0, ring_dispose(&self->ring, self->fd, h, 0, &res));
	EXPECT_EQ(1, res);
	ASSERT_EQ(0, ring_dispose(&self->ring, self->fd, h, 0, &res));
	EXPECT_EQ(0, res);
}

/*
 * Results 1 and 0 are successes: a request linked after the dispose runs.
 * A negative result fails the dispose and cancels the link, as for any
 * io_uring request.
 */
TEST_F(uring, link_after_dispose)
{
	static const struct {
		bool live;		/* dispose a live handle, else twice */
		__u8 flags;		/* IOSQE_* of the dispose */
		bool bad;		/* handle 0: fails with -ENOENT */
	} cases[] = {
		{ .live = true },
		{ .live = true, .flags = IOSQE_ASYNC },
		{ .live = false },
		{ .live = false, .flags = IOSQE_ASYNC },
		{ .bad = true },
	};
	struct io_uring_sqe *sqe;
	unsigned int c;
	int i, res[2], want;
	__u64 h, idx;

	FIXTURE_RING(8, 0);
	for (c = 0; c < ARRAY_SIZE(cases); c++) {
		ASSERT_EQ(0, kd_t_token(self->fd, 0, c, NULL, &h));
		if (!cases[c].live) {
			ASSERT_EQ(1, kd_t_dispose(self->fd, h));
		}
		if (cases[c].bad)
			h = 0;
		want = cases[c].bad ? -ENOENT : cases[c].live;
		ASSERT_EQ(0, queue_dispose(&self->ring, self->fd, h,
					   cases[c].flags | IOSQE_IO_LINK, 0));
		sqe = io_uring_get_sqe(&self->ring);
		ASSERT_NE(NULL, sqe);
		io_uring_prep_nop(sqe);
		sqe->user_data = 1;
		ASSERT_EQ(2, io_uring_submit(&self->ring));
		for (i = 0; i < 2; i++) {
			ASSERT_EQ(0, reap(&self->ring, &idx, &res[i]))
				TH_LOG("case %u: %d of 2 completed", c, i);
			ASSERT_EQ(i, idx) TH_LOG("case %u", c);
		}
		EXPECT_EQ(want, res[0]) TH_LOG("case %u: dispose", c);
		EXPECT_EQ(cases[c].bad ? -ECANCELED : 0, res[1])
			TH_LOG("case %u: the linked NOP after a dispose that "
			       "returned %d", c, res[0]);
	}
}

/* The ring, the ioctl and the batch ioctl dispose the same handles. */
enum mix_path { MIX_RING, MIX_IOCTL, MIX_BATCH, NR_MIX };

static const char *mix_name(enum mix_path path)
{
	return path == MIX_RING ? "ring" : path == MIX_IOCTL ? "ioctl" :
					   "batch";
}

struct mix {
	int fd;
	struct io_uring *ring;
	pthread_barrier_t go;		/* handles[] ready, or stop */
	pthread_barrier_t done;		/* results[] written */
	bool stop;			/* set before the last "go" */
	__u64 handles[MIX_HANDLES];
	int results[NR_MIX][MIX_HANDLES];
	int err[NR_MIX];		/* first failure of the machinery */
};

struct mixer {
	struct mix *mix;
	enum mix_path path;
};

/* Ring: forward. Ioctl: backward. Batch: from the middle, wrapping. */
static int mix_round(struct mix *mix, enum mix_path path)
{
	__u64 rotated[MIX_HANDLES];
	__s32 res[MIX_HANDLES];
	int *out = mix->results[path];
	int i, ret, half = MIX_HANDLES / 2;

	switch (path) {
	case MIX_RING:
		return ring_dispose_all(mix->ring, mix->fd, mix->handles, out,
					MIX_HANDLES);
	case MIX_IOCTL:
		for (i = MIX_HANDLES - 1; i >= 0; i--)
			out[i] = kd_t_dispose(mix->fd, mix->handles[i]);
		return 0;
	case MIX_BATCH:
		for (i = 0; i < MIX_HANDLES; i++)
			rotated[i] = mix->handles[(i + half) % MIX_HANDLES];
		for (i = 0; i < MIX_HANDLES; i += PER_SUBMIT) {
			ret = kd_t_dispose_batch(mix->fd, rotated + i, res + i,
						 PER_SUBMIT, NULL);
			if (ret)
				return ret;
		}
		for (i = 0; i < MIX_HANDLES; i++)
			out[(i + half) % MIX_HANDLES] = res[i];
		return 0;
	default:
		return -EINVAL;
	}
}

static void *mixer_fn(void *arg)
{
	struct mixer *m = arg;
	struct mix *mix = m->mix;
	int ret;

	for (;;) {
		pthread_barrier_wait(&mix->go);
		if (mix->stop)
			return NULL;
		ret = mix_round(mix, m->path);
		if (ret && !mix->err[m->path])
			mix->err[m->path] = ret;
		pthread_barrier_wait(&mix->done);
	}
}

TEST_F_TIMEOUT(uring, ring_ioctl_batch_one_winner, 60)
{
	static struct mix mix;
	struct mixer mixers[NR_MIX];
	pthread_t tids[NR_MIX];
	struct kd_t_counters before, after;
	long wins[NR_MIX] = { 0 };
	uint64_t deadline;
	int rounds, i, p, winners;

	FIXTURE_RING(RING_ENTRIES, 0);
	mix.fd = self->fd;
	mix.ring = &self->ring;
	ASSERT_EQ(0, pthread_barrier_init(&mix.go, NULL, NR_MIX + 1));
	ASSERT_EQ(0, pthread_barrier_init(&mix.done, NULL, NR_MIX + 1));
	for (p = 0; p < NR_MIX; p++) {
		mixers[p] = (struct mixer){ .mix = &mix, .path = p };
		ASSERT_EQ(0, pthread_create(&tids[p], NULL, mixer_fn,
					    &mixers[p]));
	}
	KD_T_ASSERT_COUNTERS(before);
	deadline = deadline_after(MIX_BUDGET_MS);
	for (rounds = 0; rounds < MIX_ROUNDS && kd_t_now_ns() < deadline;
	     rounds++) {
		for (i = 0; i < MIX_HANDLES; i++) {
			ASSERT_EQ(0, kd_t_token(self->fd, 0, i, NULL,
						&mix.handles[i]));
		}
		pthread_barrier_wait(&mix.go);
		pthread_barrier_wait(&mix.done);
		for (p = 0; p < NR_MIX; p++) {
			ASSERT_EQ(0, mix.err[p]) TH_LOG("%s: round %d",
							mix_name(p), rounds);
		}
		for (i = 0; i < MIX_HANDLES; i++) {
			winners = 0;
			for (p = 0; p < NR_MIX; p++) {
				int r = mix.results[p][i];

				ASSERT_TRUE(r == 0 || r == 1)
					TH_LOG("round %d %s handle %d: %d",
					       rounds, mix_name(p), i, r);
				winners += r;
				wins[p] += r;
			}
			ASSERT_EQ(1, winners) TH_LOG("round %d handle %d",
						     rounds, i);
		}
	}
	mix.stop = true;
	pthread_barrier_wait(&mix.go);
	for (p = 0; p < NR_MIX; p++) {
		EXPECT_EQ(0, pthread_join(tids[p], NULL));
	}
	TH_LOG("%d rounds of %d handles; won by ring %ld, ioctl %ld, "
	       "batch %ld", rounds, MIX_HANDLES, wins[MIX_RING],
	       wins[MIX_IOCTL], wins[MIX_BATCH]);
	for (p = 0; p < NR_MIX; p++) {
		EXPECT_LT(0, wins[p]) TH_LOG("%s never won: no race",
					     mix_name(p));
	}
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .created = rounds * MIX_HANDLES,
			  .disposed = rounds * MIX_HANDLES,
			  .released = rounds * MIX_HANDLES);
}

/*
 * The cost of a dispose by one ioctl each, through the ring (PER_SUBMIT
 * per submit) and by the batch ioctl (PER_SUBMIT per call), measured in one
 * run on tokens. Only correctness is asserted; the timings are logged.
 */
TEST_F_TIMEOUT(uring, cost_per_dispose, 60)
{
	static __u64 handles[COST_HANDLES];
	static int results[COST_HANDLES];
	static __s32 bres[COST_HANDLES];
	static const char *const names[] = { "ioctl", "ring", "batch" };
	double us[3];
	uint64_t t0;
	int m, i;

	FIXTURE_RING(RING_ENTRIES, 0);
	for (m = 0; m < 3; m++) {
		for (i = 0; i < COST_HANDLES; i++) {
			ASSERT_EQ(0, kd_t_token(self->fd, 0, i, NULL,
						&handles[i]));
		}
		t0 = kd_t_now_ns();
		switch (m) {
		case 0:
			for (i = 0; i < COST_HANDLES; i++)
				results[i] = kd_t_dispose(self->fd,
							  handles[i]);
			break;
		case 1:
			ASSERT_EQ(0, ring_dispose_all(&self->ring, self->fd,
						      handles, results,
						      COST_HANDLES));
			break;
		case 2:
			for (i = 0; i < COST_HANDLES; i += PER_SUBMIT) {
				ASSERT_EQ(0, kd_t_dispose_batch(self->fd,
								handles + i,
								bres + i,
								PER_SUBMIT,
								NULL));
			}
			for (i = 0; i < COST_HANDLES; i++)
				results[i] = bres[i];
			break;
		}
		us[m] = (kd_t_now_ns() - t0) / 1000.0 / COST_HANDLES;
		for (i = 0; i < COST_HANDLES; i++) {
			ASSERT_EQ(1, results[i]) TH_LOG("%s: dispose %d",
							names[m], i);
		}
	}
	TH_LOG("per dispose: ioctl %.2f us, ring %.2f us (%.2fx), "
	       "batch %.2f us (%.2fx); %d per submit/call", us[0], us[1],
	       us[1] / us[0], us[2], us[2] / us[0], PER_SUBMIT);
}

TEST_HARNESS_MAIN
