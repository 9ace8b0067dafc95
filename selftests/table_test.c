// SPDX-License-Identifier: GPL-2.0
/*
 * table_test: the per-file handle table and its ABI. Each test checks one
 * behaviour: an errno path with otherwise valid input, the handle rules
 * (non-zero, increasing, never reused), query, the token operations,
 * labels, quotas and parent/child links. The fixture teardown checks the
 * module counters after every test: invariants hold and nothing is left
 * live or unreleased once the test's file is closed.
 */
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>

#include "kdispose_test.h"

/* Create/dispose cycles of the "handles are never reused" test. */
#define CYCLES		((int)kd_t_scaled(100000))

FIXTURE(table)
{
	KD_T_DEV_MEMBERS;
	struct kd_t_param max_objects;	/* saved by the quota tests */
	struct kd_t_param max_handle_seq; /* saved by the exhaustion test */
};

FIXTURE_SETUP(table)
{
	KD_T_DEV_SETUP(self);
}

/* No ASSERT here: a failing ASSERT in teardown would re-enter teardown. */
FIXTURE_TEARDOWN(table)
{
	EXPECT_EQ(0, kd_t_param_restore(&self->max_objects));
	EXPECT_EQ(0, kd_t_param_restore(&self->max_handle_seq));
	KD_T_DEV_TEARDOWN(self, KD_T_ALL, 0);
}

/* A page that is not mapped: any access to it faults. */
static void *unmapped_page(void)
{
	long size = sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, size);
	return p;
}

/* A read-only page holding a copy of @len bytes of @src. */
static void *readonly_copy(const void *src, size_t len)
{
	long size = sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, src, len);
	if (mprotect(p, size, PROT_READ)) {
		munmap(p, size);
		return NULL;
	}
	return p;
}

TEST_F(table, create_handles_nonzero_increasing)
{
	struct kd_t_counters before, after;
	__u64 h, prev = 0;
	__u64 v;
	int i;

	KD_T_ASSERT_COUNTERS(before);
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(0, kd_t_token(self->fd, 0, i, "inc", &h));
		ASSERT_NE(0, h);
		ASSERT_LT(prev, h) TH_LOG("create %d", i);
		prev = h;
	}
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL, .created = 64,
			  .live = 64);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .created = 64, .live = 64);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_live", &v));
	EXPECT_EQ(64, v);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_live_token", &v));
	EXPECT_EQ(64, v);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_next_seq", &v));
	EXPECT_EQ(65, v);
}

TEST_F(table, fdinfo_counts_disposes)
{
	__u64 h[3];
	__u64 v;
	int i;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, kd_t_token(self->fd, 0, i, NULL, &h[i]));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h[0]));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h[2]));
	ASSERT_EQ(0, kd_t_dispose(self->fd, h[2]));
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_disposed", &v));
	EXPECT_EQ(2, v);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_live", &v));
	EXPECT_EQ(1, v);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_live_memory", &v));
	EXPECT_EQ(0, v);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_bytes", &v));
	EXPECT_EQ(0, v);
}

TEST_F(table, dispose_twice_returns_1_then_0)
{
	struct kd_t_counters before, after;
	__u64 h;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 7, NULL, &h));
	KD_T_ASSERT_COUNTERS(before);
	EXPECT_EQ(1, kd_t_dispose(self->fd, h));
	EXPECT_EQ(0, kd_t_dispose(self->fd, h));
	EXPECT_EQ(0, kd_t_dispose(self->fd, h));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .disposed = 1, .live = -1, .released = 1);
}

TEST_F(table, handle_zero_enoent)
{
	struct kdispose_query q;
	__u64 h;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &h));
	EXPECT_EQ(-ENOENT, kd_t_dispose(self->fd, 0));
	EXPECT_EQ(-ENOENT, kd_t_query(self->fd, 0, &q));
	EXPECT_EQ(-ENOENT, kd_t_op(self->fd, 0, KDISPOSE_OP_TOKEN_GET, NULL));
}

/* The next handle the file would issue has not been issued yet. */
TEST_F(table, future_handle_enoent)
{
	struct kdispose_query q;
	__u64 h, next;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &h));
	next = kd_t_handle_make(kd_t_handle_seq(h) + 1, kd_t_handle_slot(h));
	EXPECT_EQ(-ENOENT, kd_t_query(self->fd, next, &q));
	EXPECT_EQ(-ENOENT, kd_t_dispose(self->fd, next));
	next = kd_t_handle_make(kd_t_handle_seq(h) + 1,
				kd_t_handle_slot(h) + 1);
	EXPECT_EQ(-ENOENT, kd_t_dispose(self->fd, next));
	EXPECT_EQ(0, kd_t_query(self->fd, h, &q));
}

TEST_F(table, slot_beyond_table_enoent)
{
	struct kdispose_query q;
	__u64 h, forged;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &h));
	forged = kd_t_handle_make(kd_t_handle_seq(h), kd_t_handle_slot(h) + 1000);
	EXPECT_EQ(-ENOENT, kd_t_query(self->fd, forged, &q));
	EXPECT_EQ(-ENOENT, kd_t_dispose(self->fd, forged));
	forged = kd_t_handle_make(kd_t_handle_seq(h), KD_T_SLOT_MASK);
	EXPECT_EQ(-ENOENT, kd_t_dispose(self->fd, forged));
}

/* A seq the file issued, but to another slot than the one named. */
TEST_F(table, seq_newer_than_slot_enoent)
{
	struct kdispose_query q;
	__u64 a, b, forged;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &a));
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 2, NULL, &b));
	ASSERT_NE(kd_t_handle_slot(a), kd_t_handle_slot(b));
	forged = kd_t_handle_make(kd_t_handle_seq(b), kd_t_handle_slot(a));
	EXPECT_EQ(-ENOENT, kd_t_query(self->fd, forged, &q));
	EXPECT_EQ(-ENOENT, kd_t_dispose(self->fd, forged));
	EXPECT_EQ(0, kd_t_query(self->fd, a, &q));
	EXPECT_EQ(0, kd_t_query(self->fd, b, &q));
}

/* A forged handle older than its slot's occupant is a disposed object. */
TEST_F(table, seq_older_than_slot_eidrm)
{
	struct kdispose_query q;
	__u64 a, b, c, forged;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &a));
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 2, NULL, &b));
	ASSERT_EQ(1, kd_t_dispose(self->fd, a));
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 3, NULL, &c));
	/* The most recently freed slot is reused first. */
	ASSERT_EQ(kd_t_handle_slot(a), kd_t_handle_slot(c));
	forged = kd_t_handle_make(kd_t_handle_seq(b), kd_t_handle_slot(c));
	EXPECT_EQ(-EIDRM, kd_t_query(self->fd, forged, &q));
	EXPECT_EQ(0, kd_t_dispose(self->fd, forged));
	EXPECT_EQ(0, kd_t_query(self->fd, c, &q));
}

TEST_F(table, query_after_dispose_eidrm)
{
	struct kdispose_query q;
	__u64 h;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &h));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	EXPECT_EQ(-EIDRM, kd_t_query(self->fd, h, &q));
}

TEST_F(table, op_after_dispose_eidrm)
{
	__u64 h, v;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &h));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	EXPECT_EQ(-EIDRM, kd_t_token_get(self->fd, h, &v));
	EXPECT_EQ(-EIDRM, kd_t_token_set(self->fd, h, 2));
}

/* A stale handle never reaches the new object that took over its slot. */
TEST_F(table, stale_handle_spares_slot_reuser)
{
	struct kdispose_query q;
	__u64 old, h, v;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &old));
	ASSERT_EQ(1, kd_t_dispose(self->fd, old));
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 2, NULL, &h));
	ASSERT_EQ(kd_t_handle_slot(old), kd_t_handle_slot(h));
	EXPECT_EQ(-EIDRM, kd_t_query(self->fd, old, &q));
	EXPECT_EQ(-EIDRM, kd_t_token_set(self->fd, old, 3));
	EXPECT_EQ(0, kd_t_dispose(self->fd, old));
	ASSERT_EQ(0, kd_t_token_get(self->fd, h, &v));
	EXPECT_EQ(2, v);
}

/* Handles of another file mean nothing here. */
TEST_F(table, other_file_handle_enoent)
{
	struct kdispose_query q;
	__u64 mine, theirs;
	int fd2;

	fd2 = kd_t_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, kd_t_token(fd2, 0, 1, NULL, &theirs));
	ASSERT_EQ(0, kd_t_token(fd2, 0, 2, NULL, &theirs));
	ASSERT_EQ(0, kd_t_token(fd2, 0, 3, NULL, &theirs));
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 4, NULL, &mine));
	EXPECT_EQ(-ENOENT, kd_t_query(self->fd, theirs, &q));
	EXPECT_EQ(-ENOENT, kd_t_dispose(self->fd, theirs));
	EXPECT_EQ(0, kd_t_query(fd2, theirs, &q));
	EXPECT_EQ(0, close(fd2));
}

TEST_F(table, handles_never_reused)
{
	__u64 first, h, prev;
	uint64_t t0;
	__u64 v;
	int i;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 0, NULL, &first));
	ASSERT_EQ(1, kd_t_dispose(self->fd, first));
	prev = first;
	t0 = kd_t_now_ns();
	for (i = 1; i < CYCLES; i++) {
		ASSERT_EQ(0, kd_t_token(self->fd, 0, i, NULL, &h));
		ASSERT_LT(prev, h) TH_LOG("cycle %d", i);
		ASSERT_EQ(1, kd_t_dispose(self->fd, h));
		prev = h;
	}
	TH_LOG("%d create/dispose cycles in %" PRIu64 " ms", CYCLES,
	       (kd_t_now_ns() - t0) / 1000000);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_next_seq", &v));
	EXPECT_EQ(CYCLES + 1, v);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_live", &v));
	EXPECT_EQ(0, v);
	EXPECT_EQ(0, kd_t_dispose(self->fd, first));
	EXPECT_EQ(-EIDRM, kd_t_token_get(self->fd, first, &v));
}

TEST_F(table, create_flags_einval)
{
	struct kd_t_counters before, after;
	struct kdispose_create c;

	KD_T_ASSERT_COUNTERS(before);
	kd_t_create_args(&c, KDISPOSE_TYPE_TOKEN, 0, 1, 0, NULL);
	c.flags = 1;
	EXPECT_EQ(-EINVAL, kd_t_ioctl(self->fd, KDISPOSE_IOC_CREATE, &c));
	c.flags = 1U << 31;
	EXPECT_EQ(-EINVAL, kd_t_ioctl(self->fd, KDISPOSE_IOC_CREATE, &c));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL);
}

TEST_F(table, create_type_zero_einval)
{
	__u64 h = 0;

	EXPECT_EQ(-EINVAL, kd_t_create(self->fd, 0, 0, 0, 0, NULL, &h));
	EXPECT_EQ(0, h);
}

TEST_F(table, create_type_unknown_einval)
{
	struct kd_t_counters c;
	__u64 h = 0;

	/* The first value past the module's kinds: one per counters row. */
	ASSERT_EQ(0, kd_t_counters_read(&c));
	EXPECT_EQ(-EINVAL, kd_t_create(self->fd, KD_T_NROWS + c.nextra, 0,
				       0, 0, NULL, &h));
	EXPECT_EQ(-EINVAL, kd_t_create(self->fd, 0, 0, 0, 0, NULL, &h));
	EXPECT_EQ(-EINVAL, kd_t_create(self->fd, 0x80000001U, 0, 0, 0, NULL,
				       &h));
	EXPECT_EQ(-EINVAL, kd_t_create(self->fd, ~0U, 0, 0, 0, NULL, &h));
	EXPECT_EQ(0, h);
}

/* A token uses args[0] only: args[1] must be zero. */
TEST_F(table, create_unused_arg_einval)
{
	struct kd_t_counters before, after;
	__u64 h = 0;

	KD_T_ASSERT_COUNTERS(before);
	EXPECT_EQ(-EINVAL, kd_t_create(self->fd, KDISPOSE_TYPE_TOKEN, 0, 1, 1,
				       NULL, &h));
	EXPECT_EQ(0, h);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL);
}

TEST_F(table, dispose_flags_einval)
{
	struct kdispose_dispose d = { .flags = 1 };
	struct kdispose_query q;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &d.handle));
	EXPECT_EQ(-EINVAL, kd_t_ioctl(self->fd, KDISPOSE_IOC_DISPOSE, &d));
	EXPECT_EQ(0, kd_t_query(self->fd, d.handle, &q));
}

TEST_F(table, dispose_pad_einval)
{
	struct kdispose_dispose d = { .pad = 1 };
	struct kdispose_query q;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &d.handle));
	EXPECT_EQ(-EINVAL, kd_t_ioctl(self->fd, KDISPOSE_IOC_DISPOSE, &d));
	EXPECT_EQ(0, kd_t_query(self->fd, d.handle, &q));
}

TEST_F(table, query_flags_einval)
{
	struct kdispose_query q = { .flags = 1 };

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &q.handle));
	EXPECT_EQ(-EINVAL, kd_t_ioctl(self->fd, KDISPOSE_IOC_QUERY, &q));
}

TEST_F(table, op_flags_einval)
{
	struct kdispose_op o = { .op = KDISPOSE_OP_TOKEN_SET, .flags = 1 };
	__u64 v;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 5, NULL, &o.handle));
	o.args[0] = 6;
	EXPECT_EQ(-EINVAL, kd_t_ioctl(self->fd, KDISPOSE_IOC_OP, &o));
	ASSERT_EQ(0, kd_t_token_get(self->fd, o.handle, &v));
	EXPECT_EQ(5, v);
}

/* TOKEN_SET uses args[0] only: each other word must be zero. */
TEST_F(table, op_unused_arg_einval)
{
	__u64 h, v;
	int i;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 5, NULL, &h));
	for (i = 1; i < 4; i++) {
		__u64 args[4] = { 6 };

		args[i] = 1;
		EXPECT_EQ(-EINVAL, kd_t_op(self->fd, h, KDISPOSE_OP_TOKEN_SET,
					   args)) TH_LOG("args[%d]", i);
	}
	ASSERT_EQ(0, kd_t_token_get(self->fd, h, &v));
	EXPECT_EQ(5, v);
}

/* A caller's struct larger than the kernel's with a non-zero tail. */
TEST_F(table, create_bigger_struct_e2big)
{
	struct {
		struct kdispose_create c;
		__u64 tail;
	} big;
	struct kd_t_counters before, after;
	unsigned long cmd = _IOC(_IOC_READ | _IOC_WRITE, KDISPOSE_IOC_MAGIC,
				 _IOC_NR(KDISPOSE_IOC_CREATE), sizeof(big));

	KD_T_ASSERT_COUNTERS(before);
	kd_t_create_args(&big.c, KDISPOSE_TYPE_TOKEN, 0, 1, 0, NULL);
	big.tail = 1;
	EXPECT_EQ(-E2BIG, kd_t_ioctl(self->fd, cmd, &big));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL);
}

/* A caller's struct larger than the kernel's with a zero tail works. */
TEST_F(table, query_bigger_struct_zero_tail)
{
	struct {
		struct kdispose_query q;
		__u64 tail;
	} big = { 0 };
	unsigned long cmd = _IOC(_IOC_READ | _IOC_WRITE, KDISPOSE_IOC_MAGIC,
				 _IOC_NR(KDISPOSE_IOC_QUERY), sizeof(big));

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 42, NULL, &big.q.handle));
	EXPECT_EQ(0, kd_t_ioctl(self->fd, cmd, &big));
	EXPECT_EQ(KDISPOSE_TYPE_TOKEN, big.q.type);
	EXPECT_EQ(42, big.q.info[0]);
}

TEST_F(table, unknown_command_enotty)
{
	struct kdispose_query q = { 0 };

	EXPECT_EQ(-ENOTTY, kd_t_ioctl(self->fd,
			_IOWR(KDISPOSE_IOC_MAGIC, 0x7f, struct kdispose_query),
			&q));
	EXPECT_EQ(-ENOTTY, kd_t_ioctl(self->fd, _IO(KDISPOSE_IOC_MAGIC, 0x3f),
				      NULL));
}

TEST_F(table, foreign_magic_enotty)
{
	struct kdispose_query q = { 0 };

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &q.handle));
	EXPECT_EQ(-ENOTTY, kd_t_ioctl(self->fd,
			_IOWR(KDISPOSE_IOC_MAGIC + 1, _IOC_NR(KDISPOSE_IOC_QUERY),
			      struct kdispose_query), &q));
}

TEST_F(table, create_unmapped_arg_efault)
{
	struct kd_t_counters before, after;
	void *bad = unmapped_page();
	__u64 v;

	ASSERT_NE(NULL, bad);
	KD_T_ASSERT_COUNTERS(before);
	EXPECT_EQ(-EFAULT, kd_t_ioctl(self->fd, KDISPOSE_IOC_CREATE, bad));
	EXPECT_EQ(-EFAULT, kd_t_ioctl(self->fd, KDISPOSE_IOC_CREATE, NULL));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_live", &v));
	EXPECT_EQ(0, v);
}

/*
 * The arguments are readable but the handle cannot be written back: the
 * object must not survive (nobody would know its handle).
 */
TEST_F(table, create_readonly_arg_efault)
{
	struct kd_t_counters before, after;
	struct kd_t_delta d;
	struct kdispose_create c, *ro;
	__u64 v;

	kd_t_create_args(&c, KDISPOSE_TYPE_TOKEN, 0, 1, 0, "ro");
	ro = readonly_copy(&c, sizeof(c));
	ASSERT_NE(NULL, ro);
	KD_T_ASSERT_COUNTERS(before);
	EXPECT_EQ(-EFAULT, kd_t_ioctl(self->fd, KDISPOSE_IOC_CREATE, ro));
	KD_T_ASSERT_COUNTERS(after);
	d = kd_t_delta(&before, &after, KD_T_ALL);
	EXPECT_EQ(0, d.live);
	EXPECT_EQ(d.created, d.released);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_live", &v));
	EXPECT_EQ(0, v);
	EXPECT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_disposed", &v));
	EXPECT_EQ(0, v) TH_LOG("an undone create is no explicit dispose");
}

TEST_F(table, dispose_unmapped_arg_efault)
{
	struct kdispose_query q;
	__u64 h;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &h));
	EXPECT_EQ(-EFAULT, kd_t_ioctl(self->fd, KDISPOSE_IOC_DISPOSE,
				      unmapped_page()));
	EXPECT_EQ(0, kd_t_query(self->fd, h, &q));
}

TEST_F(table, query_unmapped_arg_efault)
{
	__u64 h;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &h));
	EXPECT_EQ(-EFAULT, kd_t_ioctl(self->fd, KDISPOSE_IOC_QUERY,
				      unmapped_page()));
}

/* The copy-out of a query fails: the call's reference is still dropped. */
TEST_F(table, query_readonly_arg_efault)
{
	struct kdispose_query q = { 0 }, *ro;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &q.handle));
	ro = readonly_copy(&q, sizeof(q));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-EFAULT, kd_t_ioctl(self->fd, KDISPOSE_IOC_QUERY, ro));
	ASSERT_EQ(0, kd_t_query(self->fd, q.handle, &q));
	EXPECT_EQ(2, q.refcount);
}

TEST_F(table, op_unmapped_arg_efault)
{
	__u64 h;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &h));
	EXPECT_EQ(-EFAULT, kd_t_ioctl(self->fd, KDISPOSE_IOC_OP,
				      unmapped_page()));
}

/* What a query reports of a token just created without a parent. */
static void expect_new_root_token(struct __test_metadata *_metadata,
				  const struct kdispose_query *q)
{
	EXPECT_EQ(KDISPOSE_TYPE_TOKEN, q->type);
	EXPECT_EQ(0, q->state);
	EXPECT_EQ(2, q->refcount) TH_LOG("the table's and this call's");
	EXPECT_EQ(0, q->parent);
	EXPECT_EQ(0, q->nchildren);
	EXPECT_EQ(0, q->depth);
}

TEST_F(table, query_reports_token)
{
	struct kdispose_query q;
	__u64 h;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 0x1122334455667788ULL, "tok",
				&h));
	ASSERT_EQ(0, kd_t_query(self->fd, h, &q));
	EXPECT_EQ(h, q.handle);
	expect_new_root_token(_metadata, &q);
	EXPECT_EQ(0x1122334455667788ULL, q.info[0]);
	EXPECT_EQ(0, q.info[1]);
	EXPECT_STREQ("tok", q.label);
}

TEST_F(table, query_reports_links)
{
	struct kdispose_query q;
	__u64 root, mid, leaf, leaf2;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, "root", &root));
	ASSERT_EQ(0, kd_t_token(self->fd, root, 2, "mid", &mid));
	ASSERT_EQ(0, kd_t_token(self->fd, mid, 3, "leaf", &leaf));
	ASSERT_EQ(0, kd_t_token(self->fd, mid, 4, "leaf2", &leaf2));

	ASSERT_EQ(0, kd_t_query(self->fd, root, &q));
	EXPECT_EQ(0, q.parent);
	EXPECT_EQ(1, q.nchildren);
	EXPECT_EQ(0, q.depth);
	ASSERT_EQ(0, kd_t_query(self->fd, mid, &q));
	EXPECT_EQ(root, q.parent);
	EXPECT_EQ(2, q.nchildren);
	EXPECT_EQ(1, q.depth);
	ASSERT_EQ(0, kd_t_query(self->fd, leaf, &q));
	EXPECT_EQ(mid, q.parent);
	EXPECT_EQ(0, q.nchildren);
	EXPECT_EQ(2, q.depth);
	EXPECT_EQ(2, q.refcount);

	ASSERT_EQ(1, kd_t_dispose(self->fd, leaf));
	ASSERT_EQ(0, kd_t_query(self->fd, mid, &q));
	EXPECT_EQ(1, q.nchildren);
}

TEST_F(table, token_get_set)
{
	struct kdispose_query q;
	__u64 h, v = 0;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 11, NULL, &h));
	ASSERT_EQ(0, kd_t_token_get(self->fd, h, &v));
	EXPECT_EQ(11, v);
	ASSERT_EQ(0, kd_t_token_set(self->fd, h, ~0ULL));
	ASSERT_EQ(0, kd_t_token_get(self->fd, h, &v));
	EXPECT_EQ(~0ULL, v);
	ASSERT_EQ(0, kd_t_query(self->fd, h, &q));
	EXPECT_EQ(~0ULL, q.info[0]);
}

TEST_F(table, op_unknown_eopnotsupp)
{
	__u64 h;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &h));
	EXPECT_EQ(-EOPNOTSUPP, kd_t_op(self->fd, h, 0, NULL));
	EXPECT_EQ(-EOPNOTSUPP, kd_t_op(self->fd, h, 0x01ff, NULL));
	EXPECT_EQ(-EOPNOTSUPP, kd_t_op(self->fd, h, 0xff01, NULL));
	EXPECT_EQ(-EOPNOTSUPP, kd_t_op(self->fd, h, ~0U, NULL));
}

TEST_F(table, op_of_other_type_eopnotsupp)
{
	__u64 h, v;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 9, NULL, &h));
	EXPECT_EQ(-EOPNOTSUPP, kd_t_op(self->fd, h, KDISPOSE_OP_MEM_READ,
				       NULL));
	EXPECT_EQ(-EOPNOTSUPP, kd_t_op(self->fd, h, KDISPOSE_OP_EVENT_SIGNAL,
				       NULL));
	EXPECT_EQ(-EOPNOTSUPP, kd_t_op(self->fd, h, KDISPOSE_OP_EVENT_WAIT,
				       NULL));
	EXPECT_EQ(-EOPNOTSUPP, kd_t_op(self->fd, h, KDISPOSE_OP_FILE_INSTALL,
				       NULL));
	ASSERT_EQ(0, kd_t_token_get(self->fd, h, &v));
	EXPECT_EQ(9, v);
}

/* A label that fills the field is truncated to LEN - 1 bytes plus NUL. */
TEST_F(table, label_truncated)
{
	const char *label = "0123456789abcdefXYZ";
	struct kdispose_query q;
	__u64 h;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, label, &h));
	ASSERT_EQ(0, kd_t_query(self->fd, h, &q));
	EXPECT_EQ('\0', q.label[KDISPOSE_LABEL_LEN - 1]);
	EXPECT_EQ(0, strncmp(label, q.label, KDISPOSE_LABEL_LEN - 1));
}

/* A short label comes back NUL-padded: no stale bytes after it. */
TEST_F(table, label_nul_padded)
{
	struct kdispose_query q;
	__u64 h;
	int i;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, "ab", &h));
	memset(&q, 0, sizeof(q));
	memset(q.label, 0x5a, sizeof(q.label));
	q.handle = h;
	ASSERT_EQ(0, kd_t_ioctl(self->fd, KDISPOSE_IOC_QUERY, &q));
	EXPECT_STREQ("ab", q.label);
	for (i = 2; i < KDISPOSE_LABEL_LEN; i++)
		EXPECT_EQ('\0', q.label[i]) TH_LOG("label[%d]", i);
}

/* What the caller wrote after the label's NUL stays out of the object. */
TEST_F(table, label_bytes_after_nul_dropped)
{
	struct kdispose_create c = { .type = KDISPOSE_TYPE_TOKEN };
	struct kdispose_query q;
	int i;

	memset(c.label, 'Z', sizeof(c.label));
	memcpy(c.label, "ab", 3);
	ASSERT_EQ(0, kd_t_ioctl(self->fd, KDISPOSE_IOC_CREATE, &c));
	ASSERT_EQ(0, kd_t_query(self->fd, c.handle, &q));
	EXPECT_STREQ("ab", q.label);
	for (i = 2; i < KDISPOSE_LABEL_LEN; i++)
		EXPECT_EQ('\0', q.label[i]) TH_LOG("label[%d]", i);
}

/*
 * A file reuses the memory of the objects it freed for its next creates:
 * nothing of their lives (label, value, links, children, references)
 * shows in the new objects.
 */
TEST_F(table, reused_object_starts_clean)
{
	__u64 root, mid, leaf, h[6];
	struct kdispose_query q;
	int i, j;

	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, "root-label-xyz", &root));
		ASSERT_EQ(0, kd_t_token(self->fd, root, 2, "mid", &mid));
		ASSERT_EQ(0, kd_t_token(self->fd, mid, 3, "leaf", &leaf));
		ASSERT_EQ(0, kd_t_query(self->fd, leaf, &q));
		ASSERT_EQ(1, kd_t_dispose(self->fd, root));
	}
	for (i = 0; i < 6; i++) {
		ASSERT_EQ(0, kd_t_token(self->fd, 0, 0, NULL, &h[i]));
		ASSERT_EQ(0, kd_t_query(self->fd, h[i], &q));
		expect_new_root_token(_metadata, &q);
		EXPECT_EQ(0, q.info[0]);
		for (j = 0; j < KDISPOSE_LABEL_LEN; j++)
			EXPECT_EQ('\0', q.label[j]) TH_LOG("label[%d]", j);
	}
	/* A child of a reused object is its only child. */
	ASSERT_EQ(0, kd_t_token(self->fd, h[0], 7, "child", &leaf));
	ASSERT_EQ(0, kd_t_query(self->fd, h[0], &q));
	EXPECT_EQ(1, q.nchildren);
	ASSERT_EQ(1, kd_t_dispose(self->fd, h[0]));
	EXPECT_EQ(-EIDRM, kd_t_query(self->fd, leaf, &q));
	for (i = 1; i < 6; i++)
		ASSERT_EQ(1, kd_t_dispose(self->fd, h[i]));
}

TEST_F(table, max_objects_emfile)
{
	struct kd_t_counters before, after;
	__u64 h[8], extra = 0;
	int i;

	if (geteuid())
		SKIP(return, "changing module parameters needs root");

	ASSERT_EQ(0, kd_t_param_set_u64(&self->max_objects, "max_objects", 8));
	KD_T_ASSERT_COUNTERS(before);
	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, kd_t_token(self->fd, 0, i, NULL, &h[i]));
	EXPECT_EQ(-EMFILE, kd_t_token(self->fd, 0, 8, NULL, &extra));
	EXPECT_EQ(-EMFILE, kd_t_token(self->fd, 0, 8, NULL, &extra));
	EXPECT_EQ(0, extra);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL, .created = 8, .live = 8);

	ASSERT_EQ(1, kd_t_dispose(self->fd, h[3]));
	EXPECT_EQ(0, kd_t_token(self->fd, 0, 9, NULL, &extra));
	EXPECT_LT(h[7], extra);
	EXPECT_EQ(-EMFILE, kd_t_token(self->fd, 0, 10, NULL, &extra));
}

/* The limit is per file: another file still has room. */
TEST_F(table, max_objects_per_file)
{
	__u64 h;
	int fd2;

	if (geteuid())
		SKIP(return, "changing module parameters needs root");

	ASSERT_EQ(0, kd_t_param_set_u64(&self->max_objects, "max_objects", 1));
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &h));
	EXPECT_EQ(-EMFILE, kd_t_token(self->fd, 0, 2, NULL, &h));
	fd2 = kd_t_open();
	ASSERT_LE(0, fd2);
	EXPECT_EQ(0, kd_t_token(fd2, 0, 3, NULL, &h));
	EXPECT_EQ(0, close(fd2));
}

/* Handles are never reused, so running out of them is final. */
TEST_F(table, max_handle_seq_enospc)
{
	struct kd_t_counters before, after;
	struct kdispose_query q;
	__u64 h[5], extra = 0;
	__u64 v;
	int i;

	if (geteuid())
		SKIP(return, "changing module parameters needs root");

	ASSERT_EQ(0, kd_t_param_set_u64(&self->max_handle_seq,
					"max_handle_seq", 5));
	KD_T_ASSERT_COUNTERS(before);
	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, kd_t_token(self->fd, 0, i, NULL, &h[i]))
			TH_LOG("create %d", i);
	EXPECT_EQ(-ENOSPC, kd_t_token(self->fd, 0, 5, NULL, &extra));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h[0]));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h[1]));
	EXPECT_EQ(-ENOSPC, kd_t_token(self->fd, 0, 6, NULL, &extra));
	EXPECT_EQ(0, extra);
	EXPECT_EQ(0, kd_t_query(self->fd, h[4], &q));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL, .created = 5,
			  .disposed = 2, .live = 3, .released = 2);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_live", &v));
	EXPECT_EQ(3, v);
}

TEST_F(table, dispose_parent_disposes_subtree)
{
	struct kd_t_counters before, after;
	struct kdispose_query q;
	__u64 root, a, b, c, other;
	__u64 v;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, "root", &root));
	ASSERT_EQ(0, kd_t_token(self->fd, root, 2, "a", &a));
	ASSERT_EQ(0, kd_t_token(self->fd, root, 3, "b", &b));
	ASSERT_EQ(0, kd_t_token(self->fd, a, 4, "c", &c));
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 5, "other", &other));
	KD_T_ASSERT_COUNTERS(before);
	EXPECT_EQ(1, kd_t_dispose(self->fd, root));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .disposed = 4, .live = -4, .released = 4);
	EXPECT_EQ(-EIDRM, kd_t_query(self->fd, a, &q));
	EXPECT_EQ(-EIDRM, kd_t_query(self->fd, b, &q));
	EXPECT_EQ(-EIDRM, kd_t_query(self->fd, c, &q));
	EXPECT_EQ(0, kd_t_dispose(self->fd, c));
	EXPECT_EQ(0, kd_t_query(self->fd, other, &q));
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_live", &v));
	EXPECT_EQ(1, v);
}

/* Disposing a child leaves its parent and siblings alone. */
TEST_F(table, dispose_child_keeps_parent)
{
	struct kdispose_query q;
	__u64 parent, c1, c2;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &parent));
	ASSERT_EQ(0, kd_t_token(self->fd, parent, 2, NULL, &c1));
	ASSERT_EQ(0, kd_t_token(self->fd, parent, 3, NULL, &c2));
	ASSERT_EQ(1, kd_t_dispose(self->fd, c1));
	ASSERT_EQ(0, kd_t_query(self->fd, parent, &q));
	EXPECT_EQ(1, q.nchildren);
	EXPECT_EQ(0, kd_t_query(self->fd, c2, &q));
	EXPECT_EQ(parent, q.parent);
}

TEST_F(table, parent_disposed_eidrm)
{
	struct kd_t_counters before, after;
	__u64 parent, h = 0;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &parent));
	ASSERT_EQ(1, kd_t_dispose(self->fd, parent));
	KD_T_ASSERT_COUNTERS(before);
	EXPECT_EQ(-EIDRM, kd_t_token(self->fd, parent, 2, NULL, &h));
	EXPECT_EQ(0, h);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL);
}

TEST_F(table, parent_of_other_file_enoent)
{
	__u64 theirs, h = 0;
	int fd2;

	fd2 = kd_t_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, kd_t_token(fd2, 0, 1, NULL, &theirs));
	ASSERT_EQ(0, kd_t_token(fd2, 0, 2, NULL, &theirs));
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 3, NULL, &h));
	h = 0;
	EXPECT_EQ(-ENOENT, kd_t_token(self->fd, theirs, 4, NULL, &h));
	EXPECT_EQ(0, h);
	EXPECT_EQ(0, close(fd2));
}

/* An object may have KDISPOSE_MAX_DEPTH ancestors, not one more. */
TEST_F(table, depth_limit_emlink)
{
	struct kdispose_query q;
	__u64 h, parent = 0, extra = 0;
	int depth;

	for (depth = 0; depth <= KDISPOSE_MAX_DEPTH; depth++) {
		ASSERT_EQ(0, kd_t_token(self->fd, parent, depth, NULL, &h))
			TH_LOG("depth %d", depth);
		parent = h;
	}
	ASSERT_EQ(0, kd_t_query(self->fd, parent, &q));
	EXPECT_EQ(KDISPOSE_MAX_DEPTH, q.depth);
	EXPECT_EQ(-EMLINK, kd_t_token(self->fd, parent, 0, NULL, &extra));
	EXPECT_EQ(0, extra);
}

TEST_F_TIMEOUT(table, children_limit_emlink, 120)
{
	struct kdispose_query q;
	__u64 parent, h, extra = 0;
	int i;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 0, NULL, &parent));
	for (i = 0; i < KDISPOSE_MAX_CHILDREN; i++)
		ASSERT_EQ(0, kd_t_token(self->fd, parent, i, NULL, &h))
			TH_LOG("child %d", i);
	ASSERT_EQ(0, kd_t_query(self->fd, parent, &q));
	EXPECT_EQ(KDISPOSE_MAX_CHILDREN, q.nchildren);
	EXPECT_EQ(-EMLINK, kd_t_token(self->fd, parent, 0, NULL, &extra));
	EXPECT_EQ(0, extra);
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	EXPECT_EQ(0, kd_t_token(self->fd, parent, 0, NULL, &extra));
}

struct stalled_create {
	int fd;
	struct kdispose_create *args;
	int ret;
};

static void *stalled_create_run(void *arg)
{
	struct stalled_create *sc = arg;

	sc->ret = kd_t_ioctl(sc->fd, KDISPOSE_IOC_CREATE, sc->args);
	return NULL;
}

/*
 * A create whose handle reached user space, but whose parent was disposed
 * before the publish, fails with EIDRM; the handle it wrote names an
 * object that is gone (EIDRM), not one never issued (ENOENT). The copy-out
 * of the handle is held by a write-protect userfaultfd while the parent
 * goes.
 */
TEST_F(table, handle_seen_but_never_published_eidrm)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	struct uffdio_writeprotect wp = { 0 };
	struct stalled_create sc = { .fd = self->fd };
	struct kdispose_query q;
	struct uffd_msg msg;
	struct pollfd pfd;
	pthread_t thread;
	long page = sysconf(_SC_PAGESIZE);
	__u64 parent;
	char *area;
	int uffd;

	ASSERT_EQ(0, kd_t_create(self->fd, KDISPOSE_TYPE_GROUP, 0, 0, 0,
				 "parent", &parent));
	area = mmap(NULL, page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	sc.args = (void *)area;
	kd_t_create_args(sc.args, KDISPOSE_TYPE_TOKEN, parent, 7, 0, "child");

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 && (errno == ENOSYS || errno == EPERM))
		SKIP(return, "no userfaultfd here (%s)", strerror(errno));
	ASSERT_LE(0, uffd);
	api.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	reg.range.start = (uintptr_t)area;
	reg.range.len = page;
	reg.mode = UFFDIO_REGISTER_MODE_WP;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
	wp.range = reg.range;
	wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_WRITEPROTECT, &wp));

	ASSERT_EQ(0, pthread_create(&thread, NULL, stalled_create_run, &sc));
	/* The create reads its arguments, then stalls writing the handle. */
	pfd.fd = uffd;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, 30000));
	ASSERT_EQ(sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	EXPECT_EQ(1, kd_t_dispose(self->fd, parent));
	wp.mode = 0;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_WRITEPROTECT, &wp));
	ASSERT_EQ(0, pthread_join(thread, NULL));

	EXPECT_EQ(-EIDRM, sc.ret);
	ASSERT_NE(0, sc.args->handle);
	EXPECT_EQ(-EIDRM, kd_t_query(self->fd, sc.args->handle, &q));
	EXPECT_EQ(0, kd_t_dispose(self->fd, sc.args->handle));
	close(uffd);
	munmap(area, page);
}

TEST_HARNESS_MAIN
