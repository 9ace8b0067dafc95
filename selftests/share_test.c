// SPDX-License-Identifier: GPL-2.0
/*
 * share_test: objects shared between tables and processes, through
 * KDISPOSE_IOC_EXPORT and KDISPOSE_IOC_IMPORT (Documentation/sharing.md
 * has the rules). A handle in any table and an export fd are names of the
 * object; each name ends once, the way names end where it lives (a dispose
 * or its table's close for a handle, the last close for an export fd), and
 * the object ends when its last name does: the tracepoint
 * kdispose:kdispose_share_end fires then, once, with the disposing flag of
 * that last name.
 *
 * One behaviour per test:
 * - export: which kinds, the fd it gives (O_CLOEXEC unless asked), its
 *   errors (a disposed handle, one never issued, flags, pad);
 * - import: a new handle each time, disposed on its own; the same object
 *   behind it (memory written through one table reads back through
 *   another, an event signaled in one wakes a waiter in the other); its
 *   errors; a parent in the importer's table, whose dispose cascades to
 *   the imported handle only;
 * - exactly once: many names, removed one by one, the last being a
 *   dispose, a table's close or the export fd's close: one end, at the
 *   last, with that name's disposing flag; fdinfo counts the names down;
 * - fork and SCM_RIGHTS: a child imports and uses the object, the parent
 *   sees it;
 * - eight processes removing their names of one object at the same time,
 *   round after round: one end per object, counters and module references
 *   back where they were;
 * - a mapping made through a table outlives every name;
 * - a waiter through a disposed handle gets EIDRM, waiters through the
 *   object's other handles keep waiting;
 * - the per-user quotas as uid 65534: an export fd is an object of its
 *   exporter, an imported buffer's bytes stay with its creator;
 * - cycles: a FILE object refuses an export fd, and an export fd in flight
 *   in a unix socket cycle ends with the cycle.
 * Fixture teardowns check the module counters: created == disposed +
 * finalized + live, and nothing the test made is left live or unreleased.
 */
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <signal.h>

#include "kdispose_test.h"

#define NOBODY		65534

/* The size of the shared buffers: two pages. */
#define SH_BYTES	8192

/* Longest wait for what a close releases (a file's release may lag). */
#define SETTLE_MS	15000

/*
 * A bound on waits that the test expects to end (a child signaling an
 * event): the test fails rather than hangs if they do not.
 */
#define WAIT_BOUND_NS	(20 * 1000000000ULL)
#define FOREVER		(~0ULL)

/* The names kdispose gives the anonymous inodes of export fds. */
static const char *const kind_names[] = {
	[KDISPOSE_TYPE_TOKEN] = "token",
	[KDISPOSE_TYPE_MEMORY] = "memory",
	[KDISPOSE_TYPE_EVENT] = "event",
	[KDISPOSE_TYPE_FILE] = "file",
	[KDISPOSE_TYPE_GROUP] = "group",
};

/* An object of @type in @fd, under @parent. Return: 0 or -errno. */
static int sh_create(int fd, __u32 type, __u64 parent, __u64 *h)
{
	int file, ret;

	switch (type) {
	case KDISPOSE_TYPE_MEMORY:
		return kd_t_create(fd, type, parent, SH_BYTES, 0, "shared", h);
	case KDISPOSE_TYPE_TOKEN:
		return kd_t_token(fd, parent, 1, "shared", h);
	case KDISPOSE_TYPE_FILE:
		file = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (file < 0)
			return -errno;
		ret = kd_t_create(fd, type, parent, file, 0, "shared", h);
		close(file);
		return ret;
	default:
		return kd_t_create(fd, type, parent, 0, 0, "shared", h);
	}
}

static int mem_write(int fd, __u64 h, __u64 off, const void *buf, __u64 len)
{
	__u64 args[4] = { off, len, (uintptr_t)buf };

	return kd_t_op(fd, h, KDISPOSE_OP_MEM_WRITE, args);
}

static int mem_read(int fd, __u64 h, __u64 off, void *buf, __u64 len)
{
	__u64 args[4] = { off, len, (uintptr_t)buf };

	return kd_t_op(fd, h, KDISPOSE_OP_MEM_READ, args);
}

static int ev_signal(int fd, __u64 h)
{
	return kd_t_op(fd, h, KDISPOSE_OP_EVENT_SIGNAL, NULL);
}

/* Return: 0 (signaled), -ETIMEDOUT, -EIDRM or another -errno. */
static int ev_wait(int fd, __u64 h, __u64 timeout_ns)
{
	__u64 args[4] = { timeout_ns };

	return kd_t_op(fd, h, KDISPOSE_OP_EVENT_WAIT, args);
}

/*
 * Leave a mark on object @h of @type: @len bytes of @data at @off of a
 * buffer, or an event signaled. Return: 0 or -errno.
 */
static int obj_fill(int fd, __u64 h, __u32 type, __u64 off, const void *data,
		    __u64 len)
{
	if (type == KDISPOSE_TYPE_MEMORY)
		return mem_write(fd, h, off, data, len);
	return ev_signal(fd, h);
}

/* Return: the query's state bits of @h, or ~0 if the query failed. */
static __u32 obj_state(int fd, __u64 h)
{
	struct kdispose_query q;

	return kd_t_query(fd, h, &q) ? ~0U : q.state;
}

/* Return: the query of @h: 0 or -errno (EIDRM for a disposed handle). */
static int obj_alive(int fd, __u64 h)
{
	struct kdispose_query q;

	return kd_t_query(fd, h, &q);
}

/* Return: kdispose_names of export fd @efd, or -errno. */
static long long names_of(int efd)
{
	__u64 v;
	int ret = kd_t_fdinfo(efd, "kdispose_names", &v);

	return ret ? ret : (long long)v;
}

/* Return: kdispose_handles of export fd @efd, or -errno. */
static long long handles_of(int efd)
{
	__u64 v;
	int ret = kd_t_fdinfo(efd, "kdispose_handles", &v);

	return ret ? ret : (long long)v;
}

/* What a forked child reports to the test. */
struct report {
	char why[256];		/* the child's first failure */
};

/* In a child: record why it failed (the first reason wins), return -1. */
#define CHILD_CHECK(rep, cond, fmt, ...) do {				\
	if (!(cond)) {							\
		if (!(rep)->why[0])					\
			snprintf((rep)->why, sizeof((rep)->why),	\
				 "line %d: " fmt, __LINE__,		\
				 ##__VA_ARGS__);			\
		return -1;						\
	}								\
} while (0)

static struct report *report_map(void)
{
	struct report *rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return rep == MAP_FAILED ? NULL : rep;
}

/* Return: true when child @pid exited with 0. */
static bool child_ok(pid_t pid)
{
	int status;

	if (pid <= 0 || waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * The main fixture: table A (the device fixture's fd) holds one object of
 * the variant's kind, table B imports it.
 */
FIXTURE(share) {
	KD_T_DEV_MEMBERS;	/* fd: table A, the creator's */
	int b;			/* table B, the importer's; -1 once closed */
	__u64 h;		/* the object, in A */
	int efd;		/* its export fd, or -1 */
	bool tracing;		/* kdispose_share_end enabled */
};

FIXTURE_VARIANT(share) {
	__u32 type;
	__u32 other;		/* a shareable type it is not */
};

FIXTURE_VARIANT_ADD(share, memory) {
	.type = KDISPOSE_TYPE_MEMORY,
	.other = KDISPOSE_TYPE_EVENT,
};

FIXTURE_VARIANT_ADD(share, event) {
	.type = KDISPOSE_TYPE_EVENT,
	.other = KDISPOSE_TYPE_MEMORY,
};

FIXTURE_SETUP(share)
{
	int ret;

	self->b = -1;
	self->efd = -1;
	KD_T_DEV_SETUP(self);
	self->b = kd_t_open();
	ASSERT_LE(0, self->b);
	ret = sh_create(self->fd, variant->type, 0, &self->h);
	ASSERT_EQ(0, ret) TH_LOG("create: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(share)
{
	if (self->efd >= 0)
		EXPECT_EQ(0, close(self->efd));
	if (self->b >= 0)
		EXPECT_EQ(0, close(self->b));
	KD_T_DEV_TEARDOWN(self, KD_T_ALL, SETTLE_MS);
	if (self->tracing)
		EXPECT_EQ(0, kd_t_ends_stop());
}

/* Export the fixture's object into self->efd: ASSERT. */
#define EXPORT(self) do {						\
	(self)->efd = kd_t_export((self)->fd, (self)->h, 0);		\
	ASSERT_LE(0, (self)->efd) TH_LOG("export: %s",			\
					 strerror(-(self)->efd));	\
} while (0)

TEST_F(share, export_fd_is_cloexec)
{
	EXPORT(self);
	EXPECT_EQ(FD_CLOEXEC, fcntl(self->efd, F_GETFD) & FD_CLOEXEC);
}

TEST_F(share, export_no_cloexec_flag_clears_cloexec)
{
	self->efd = kd_t_export(self->fd, self->h, KDISPOSE_EXPORT_NO_CLOEXEC);
	ASSERT_LE(0, self->efd);
	EXPECT_EQ(0, fcntl(self->efd, F_GETFD) & FD_CLOEXEC);
}

/*
 * The fd is an anonymous inode named after the kind, and its fdinfo says
 * what it names: the kind, one handle, two names (the handle and itself).
 */
TEST_F(share, export_fd_names_its_object)
{
	char path[64], link[64] = "", want[64], kind[16] = "";

	EXPORT(self);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", self->efd);
	ASSERT_LT(0, readlink(path, link, sizeof(link) - 1));
	snprintf(want, sizeof(want), "anon_inode:[kdispose-%s]",
		 kind_names[variant->type]);
	EXPECT_STREQ(want, link);
	ASSERT_EQ(0, kd_t_fdinfo_str(self->efd, "kdispose_kind", kind,
				sizeof(kind)));
	EXPECT_STREQ(kind_names[variant->type], kind);
	EXPECT_EQ(2, names_of(self->efd));
	EXPECT_EQ(1, handles_of(self->efd));
}

/* Each export is a new file: closing one leaves the other working. */
TEST_F(share, each_export_is_a_new_fd)
{
	int efd2;
	__u64 hb;

	EXPORT(self);
	efd2 = kd_t_export(self->fd, self->h, 0);
	ASSERT_LE(0, efd2);
	EXPECT_NE(self->efd, efd2);
	EXPECT_EQ(3, names_of(self->efd));
	EXPECT_EQ(0, close(self->efd));
	self->efd = efd2;
	EXPECT_EQ(2, names_of(efd2));
	EXPECT_EQ(0, kd_t_import(self->b, efd2, 0, 0, "imp", &hb));
}

TEST_F(share, export_of_disposed_handle_is_eidrm)
{
	ASSERT_EQ(1, kd_t_dispose(self->fd, self->h));
	EXPECT_EQ(-EIDRM, kd_t_export(self->fd, self->h, 0));
}

TEST_F(share, export_of_handle_never_issued_is_enoent)
{
	EXPECT_EQ(-ENOENT, kd_t_export(self->fd, self->h + (1ULL << 30), 0));
	EXPECT_EQ(-ENOENT, kd_t_export(self->fd, 0, 0));
	/* A's handle means nothing in B. */
	EXPECT_EQ(-ENOENT, kd_t_export(self->b, self->h, 0));
}

TEST_F(share, export_unknown_flag_is_einval)
{
	EXPECT_EQ(-EINVAL, kd_t_export(self->fd, self->h,
				       KDISPOSE_EXPORT_NO_CLOEXEC << 1));
	EXPECT_EQ(-EINVAL, kd_t_export(self->fd, self->h, 1U << 31));
}

TEST_F(share, export_pad_is_einval)
{
	struct kdispose_export e = { .handle = self->h, .pad = 1 };

	EXPECT_EQ(-EINVAL, kd_t_ioctl(self->fd, KDISPOSE_IOC_EXPORT, &e));
}

/* Two imports into one table are two handles, none of them A's. */
TEST_F(share, import_gives_a_new_handle_each_time)
{
	struct kdispose_query q;
	__u64 b1, b2, a2;

	EXPORT(self);
	ASSERT_EQ(0, kd_t_import(self->b, self->efd, 0, 0, "imp1", &b1));
	ASSERT_EQ(0, kd_t_import(self->b, self->efd, 0, 0, "imp2", &b2));
	EXPECT_NE(0, b1);
	EXPECT_NE(b1, b2);
	/* Into the creator's own table too: a second handle of A's. */
	ASSERT_EQ(0, kd_t_import(self->fd, self->efd, 0, 0, "imp3", &a2));
	EXPECT_NE(self->h, a2);
	ASSERT_EQ(0, kd_t_query(self->b, b2, &q));
	EXPECT_EQ(variant->type, q.type);
	EXPECT_STREQ("imp2", q.label);
	EXPECT_EQ(5, names_of(self->efd));
	EXPECT_EQ(4, handles_of(self->efd));
}

/* Each handle is disposed on its own: the others keep working. */
TEST_F(share, disposing_one_import_leaves_the_others)
{
	__u64 b1, b2;

	EXPORT(self);
	ASSERT_EQ(0, kd_t_import(self->b, self->efd, 0, 0, "imp1", &b1));
	ASSERT_EQ(0, kd_t_import(self->b, self->efd, 0, 0, "imp2", &b2));
	ASSERT_EQ(1, kd_t_dispose(self->b, b1));
	EXPECT_EQ(0, kd_t_dispose(self->b, b1));
	EXPECT_EQ(-EIDRM, obj_alive(self->b, b1));
	EXPECT_EQ(0, obj_alive(self->b, b2));
	EXPECT_EQ(0, obj_alive(self->fd, self->h));
	EXPECT_EQ(3, names_of(self->efd));
	/* And the creator's dispose leaves the import. */
	ASSERT_EQ(1, kd_t_dispose(self->fd, self->h));
	EXPECT_EQ(0, obj_alive(self->b, b2));
	EXPECT_EQ(2, names_of(self->efd));
}

/* An import counts as a create of its kind in the counters. */
TEST_F(share, import_counts_as_a_create)
{
	struct kd_t_counters before, after;
	__u64 b1;

	EXPORT(self);
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, kd_t_import(self->b, self->efd, 0, 0, "imp", &b1));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, variant->type, .created = 1,
			  .live = 1);
	ASSERT_EQ(1, kd_t_dispose(self->b, b1));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, variant->type, .created = 1,
			  .disposed = 1, .released = 1);
}

/*
 * The export fd alone keeps the object: with A closed (its handle
 * finalized), an import into B still finds it as A left it.
 */
TEST_F(share, export_fd_alone_keeps_the_object)
{
	char data[16] = "kept by the fd", got[16] = "";
	__u64 hb;

	ASSERT_EQ(0, obj_fill(self->fd, self->h, variant->type, 100, data,
			      sizeof(data)));
	EXPORT(self);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(1, names_of(self->efd));
	EXPECT_EQ(0, handles_of(self->efd));
	ASSERT_EQ(0, kd_t_import(self->b, self->efd, variant->type, 0, "imp",
				 &hb));
	if (variant->type == KDISPOSE_TYPE_MEMORY) {
		ASSERT_EQ(0, mem_read(self->b, hb, 100, got, sizeof(got)));
		EXPECT_EQ(0, memcmp(data, got, sizeof(data)));
	} else {
		EXPECT_EQ(KDISPOSE_STATE_SIGNALED,
			  obj_state(self->b, hb) & KDISPOSE_STATE_SIGNALED);
	}
}

/*
 * An object never exported has one name, its handle: it ends (once) at
 * that handle's dispose, as any other.
 */
TEST_F(share, unshared_object_ends_at_its_dispose)
{
	struct kd_t_ends e;
	int ret;

	ret = kd_t_ends_start();
	if (ret == -ENOENT)
		SKIP(return, "no tracepoint kdispose:kdispose_share_end");
	ASSERT_EQ(0, ret);
	self->tracing = true;
	ASSERT_EQ(1, kd_t_dispose(self->fd, self->h));
	ASSERT_EQ(0, kd_t_ends_wait(&e, 1, SETTLE_MS));
	EXPECT_EQ(1, e.n);
	EXPECT_EQ(1, e.disposing);
}

TEST_F(share, import_of_a_closed_fd_is_ebadf)
{
	int efd;
	__u64 hb;

	EXPORT(self);
	efd = self->efd;
	ASSERT_EQ(0, close(efd));
	self->efd = -1;
	EXPECT_EQ(-EBADF, kd_t_import(self->b, efd, 0, 0, "imp", &hb));
	EXPECT_EQ(-EBADF, kd_t_import(self->b, -1, 0, 0, "imp", &hb));
}

TEST_F(share, import_of_a_pipe_is_einval)
{
	int p[2];
	__u64 hb;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	EXPECT_EQ(-EINVAL, kd_t_import(self->b, p[0], 0, 0, "imp", &hb));
	EXPECT_EQ(-EINVAL, kd_t_import(self->b, p[1], 0, 0, "imp", &hb));
	close(p[0]);
	close(p[1]);
}

/* A /dev/kdispose fd is no export fd, whatever table it is. */
TEST_F(share, import_of_a_device_fd_is_einval)
{
	__u64 hb;

	EXPECT_EQ(-EINVAL, kd_t_import(self->b, self->fd, 0, 0, "imp", &hb));
	EXPECT_EQ(-EINVAL, kd_t_import(self->b, self->b, 0, 0, "imp", &hb));
}

TEST_F(share, import_as_another_type_is_emediumtype)
{
	__u64 hb;

	EXPORT(self);
	EXPECT_EQ(-EMEDIUMTYPE, kd_t_import(self->b, self->efd, variant->other,
					    0, "imp", &hb));
	EXPECT_EQ(-EMEDIUMTYPE, kd_t_import(self->b, self->efd,
					    KDISPOSE_TYPE_TOKEN, 0, "imp",
					    &hb));
	/* Nothing was made. */
	EXPECT_EQ(2, names_of(self->efd));
}

TEST_F(share, import_as_no_type_is_einval)
{
	__u64 hb;

	EXPORT(self);
	EXPECT_EQ(-EINVAL, kd_t_import(self->b, self->efd, 99, 0, "imp", &hb));
	EXPECT_EQ(2, names_of(self->efd));
}

TEST_F(share, import_as_type_zero_accepts_any)
{
	struct kdispose_query q;
	__u64 b1, b2;

	EXPORT(self);
	ASSERT_EQ(0, kd_t_import(self->b, self->efd, 0, 0, "any", &b1));
	ASSERT_EQ(0, kd_t_query(self->b, b1, &q));
	EXPECT_EQ(variant->type, q.type);
	ASSERT_EQ(0, kd_t_import(self->b, self->efd, variant->type, 0, "own",
				 &b2));
	ASSERT_EQ(0, kd_t_query(self->b, b2, &q));
	EXPECT_EQ(variant->type, q.type);
}

/*
 * The parent of an import is in the importer's table, and its dispose
 * cascades to the imported handle: the object lives on in A.
 */
TEST_F(share, import_under_a_parent_cascades_in_its_table)
{
	struct kdispose_query q;
	__u64 group, hb;

	EXPORT(self);
	ASSERT_EQ(0, kd_t_create(self->b, KDISPOSE_TYPE_GROUP, 0, 0, 0, "grp",
				 &group));
	ASSERT_EQ(0, kd_t_import(self->b, self->efd, 0, group, "child", &hb));
	ASSERT_EQ(0, kd_t_query(self->b, hb, &q));
	EXPECT_EQ(group, q.parent);
	EXPECT_EQ(1, q.depth);
	ASSERT_EQ(0, kd_t_query(self->b, group, &q));
	EXPECT_EQ(1, q.nchildren);
	/* A's handle has no parent: the tree is per table. */
	ASSERT_EQ(0, kd_t_query(self->fd, self->h, &q));
	EXPECT_EQ(0, q.parent);

	ASSERT_EQ(1, kd_t_dispose(self->b, group));
	EXPECT_EQ(-EIDRM, obj_alive(self->b, hb));
	EXPECT_EQ(0, kd_t_dispose(self->b, hb));
	EXPECT_EQ(0, obj_alive(self->fd, self->h));
	EXPECT_EQ(2, names_of(self->efd));
}

/* A parent of A's table means nothing in B. */
TEST_F(share, import_under_a_parent_never_issued_is_enoent)
{
	__u64 hb;

	EXPORT(self);
	EXPECT_EQ(-ENOENT, kd_t_import(self->b, self->efd, 0, self->h, "imp",
				       &hb));
	EXPECT_EQ(2, names_of(self->efd));
}

TEST_F(share, import_under_a_disposed_parent_is_eidrm)
{
	__u64 group, hb;

	EXPORT(self);
	ASSERT_EQ(0, kd_t_create(self->b, KDISPOSE_TYPE_GROUP, 0, 0, 0, "grp",
				 &group));
	ASSERT_EQ(1, kd_t_dispose(self->b, group));
	EXPECT_EQ(-EIDRM, kd_t_import(self->b, self->efd, 0, group, "imp",
				      &hb));
	EXPECT_EQ(2, names_of(self->efd));
}

TEST_F(share, import_flags_is_einval)
{
	struct kdispose_import im = { .flags = 1 };

	EXPORT(self);
	im.fd = self->efd;
	EXPECT_EQ(-EINVAL, kd_t_ioctl(self->b, KDISPOSE_IOC_IMPORT, &im));
	im.flags = 1U << 31;
	EXPECT_EQ(-EINVAL, kd_t_ioctl(self->b, KDISPOSE_IOC_IMPORT, &im));
}

TEST_F(share, import_pad_is_einval)
{
	struct kdispose_import im = { .pad = 1 };

	EXPORT(self);
	im.fd = self->efd;
	EXPECT_EQ(-EINVAL, kd_t_ioctl(self->b, KDISPOSE_IOC_IMPORT, &im));
	EXPECT_EQ(2, names_of(self->efd));
}

/* The kinds that cannot be shared. */
FIXTURE(unshareable) {
	KD_T_DEV_MEMBERS;
};

FIXTURE_VARIANT(unshareable) {
	__u32 type;
};

FIXTURE_VARIANT_ADD(unshareable, token) {
	.type = KDISPOSE_TYPE_TOKEN,
};

FIXTURE_VARIANT_ADD(unshareable, file) {
	.type = KDISPOSE_TYPE_FILE,
};

FIXTURE_VARIANT_ADD(unshareable, group) {
	.type = KDISPOSE_TYPE_GROUP,
};

FIXTURE_SETUP(unshareable)
{
	KD_T_DEV_SETUP(self);
}

FIXTURE_TEARDOWN(unshareable)
{
	KD_T_DEV_TEARDOWN(self, KD_T_ALL, 0);
}

TEST_F(unshareable, export_is_eopnotsupp)
{
	__u64 h;

	ASSERT_EQ(0, sh_create(self->fd, variant->type, 0, &h));
	EXPECT_EQ(-EOPNOTSUPP, kd_t_export(self->fd, h, 0));
	EXPECT_EQ(0, obj_alive(self->fd, h));
}

/* Two tables, for the tests of one kind. */
FIXTURE(pair) {
	KD_T_DEV_MEMBERS;	/* fd: table A */
	int b;			/* table B; -1 once closed */
	int efd;		/* an export fd, or -1 */
};

FIXTURE_SETUP(pair)
{
	self->b = -1;
	self->efd = -1;
	KD_T_DEV_SETUP(self);
	self->b = kd_t_open();
	ASSERT_LE(0, self->b);
}

FIXTURE_TEARDOWN(pair)
{
	if (self->efd >= 0)
		EXPECT_EQ(0, close(self->efd));
	if (self->b >= 0)
		EXPECT_EQ(0, close(self->b));
	KD_T_DEV_TEARDOWN(self, KD_T_ALL, SETTLE_MS);
}

/* Memory written through table A reads back through table B, and back. */
TEST_F(pair, memory_is_the_same_through_both_tables)
{
	char a[64], b[64];
	__u64 ha, hb;

	ASSERT_EQ(0, sh_create(self->fd, KDISPOSE_TYPE_MEMORY, 0, &ha));
	self->efd = kd_t_export(self->fd, ha, 0);
	ASSERT_LE(0, self->efd);
	ASSERT_EQ(0, kd_t_import(self->b, self->efd, KDISPOSE_TYPE_MEMORY, 0,
				 "imp", &hb));
	memset(a, 'a', sizeof(a));
	ASSERT_EQ(0, mem_write(self->fd, ha, SH_BYTES - sizeof(a), a,
			       sizeof(a)));
	ASSERT_EQ(0, mem_read(self->b, hb, SH_BYTES - sizeof(b), b,
			      sizeof(b)));
	EXPECT_EQ(0, memcmp(a, b, sizeof(a)));
	memset(b, 'b', sizeof(b));
	ASSERT_EQ(0, mem_write(self->b, hb, 0, b, sizeof(b)));
	ASSERT_EQ(0, mem_read(self->fd, ha, 0, a, sizeof(a)));
	EXPECT_EQ(0, memcmp(a, b, sizeof(a)));
}

struct waiter {
	pthread_t thread;
	int fd;
	__u64 handle;
	bool many;		/* KDISPOSE_IOC_WAIT, else KDISPOSE_OP_EVENT_WAIT */
	pid_t tid;		/* set by the thread before it waits */
	int ret;		/* the wait's result */
	__u32 index;		/* KDISPOSE_IOC_WAIT's index */
	int done;		/* set (atomically) after @ret */
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	__atomic_store_n(&w->tid, syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	if (w->many)
		w->ret = kd_t_wait(w->fd, &w->handle, 1, 0, FOREVER, &w->index);
	else
		w->ret = ev_wait(w->fd, w->handle, FOREVER);
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Start a waiter and wait until it sleeps. Return: 0 or -1. */
static int waiter_start(struct waiter *w, int fd, __u64 h, bool many)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->handle = h;
	w->many = many;
	if (pthread_create(&w->thread, NULL, waiter_main, w))
		return -1;
	while (!__atomic_load_n(&w->tid, __ATOMIC_SEQ_CST))
		usleep(100);
	return kd_t_wait_asleep(w->tid, SYS_ioctl) ? 0 : -1;
}

static bool waiter_done(struct waiter *w)
{
	return __atomic_load_n(&w->done, __ATOMIC_SEQ_CST);
}

/* Wait (10 s at most) until @w returned. Return: whether it did. */
static bool waiter_wait_done(struct waiter *w)
{
	int i;

	for (i = 0; i < 10000 && !waiter_done(w); i++)
		usleep(1000);
	return waiter_done(w);
}

/*
 * Join @w if it returned; a waiter that did not (the test failed) is left
 * to the process' exit rather than hang the test.
 */
static void waiter_reap(struct waiter *w)
{
	if (waiter_wait_done(w))
		pthread_join(w->thread, NULL);
	else
		pthread_detach(w->thread);
}

/* An event signaled through table A wakes a waiter in table B. */
TEST_F(pair, event_signaled_in_one_table_wakes_the_other)
{
	struct waiter w;
	__u64 ha, hb;

	ASSERT_EQ(0, sh_create(self->fd, KDISPOSE_TYPE_EVENT, 0, &ha));
	self->efd = kd_t_export(self->fd, ha, 0);
	ASSERT_LE(0, self->efd);
	ASSERT_EQ(0, kd_t_import(self->b, self->efd, KDISPOSE_TYPE_EVENT, 0,
				 "imp", &hb));
	ASSERT_EQ(0, waiter_start(&w, self->b, hb, false));
	ASSERT_EQ(0, ev_signal(self->fd, ha));
	EXPECT_TRUE(waiter_wait_done(&w));
	waiter_reap(&w);
	EXPECT_EQ(0, w.ret);
}

/*
 * A mapping of the buffer made through each table, then every name gone
 * (B's handle, A's handle, the export fd, the tables' fds): both mappings
 * keep working, with the same pages, until munmap.
 */
TEST_F(pair, mapping_outlives_every_name)
{
	struct kdispose_query qa, qb;
	unsigned char *ma, *mb;
	char got[SH_BYTES];
	__u64 ha, hb;
	size_t i;

	ASSERT_EQ(0, sh_create(self->fd, KDISPOSE_TYPE_MEMORY, 0, &ha));
	self->efd = kd_t_export(self->fd, ha, 0);
	ASSERT_LE(0, self->efd);
	ASSERT_EQ(0, kd_t_import(self->b, self->efd, KDISPOSE_TYPE_MEMORY, 0,
				 "imp", &hb));
	ASSERT_EQ(0, kd_t_query(self->fd, ha, &qa));
	ASSERT_EQ(0, kd_t_query(self->b, hb, &qb));
	ma = mmap(NULL, SH_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd,
		  qa.info[1]);
	ASSERT_NE(MAP_FAILED, ma);
	mb = mmap(NULL, SH_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, self->b,
		  qb.info[1]);
	ASSERT_NE(MAP_FAILED, mb);

	memset(ma, 0x11, SH_BYTES);
	EXPECT_EQ(0x11, mb[0]);
	EXPECT_EQ(0x11, mb[SH_BYTES - 1]);
	ASSERT_EQ(0, mem_read(self->b, hb, 0, got, sizeof(got)));
	EXPECT_EQ(0, memcmp(got, ma, SH_BYTES));

	ASSERT_EQ(1, kd_t_dispose(self->b, hb));
	memset(mb, 0x22, SH_BYTES);
	EXPECT_EQ(0x22, ma[SH_BYTES / 2]);
	ASSERT_EQ(0, mem_read(self->fd, ha, 0, got, sizeof(got)));
	EXPECT_EQ(0, memcmp(got, mb, SH_BYTES));

	ASSERT_EQ(1, kd_t_dispose(self->fd, ha));
	memset(ma, 0x33, SH_BYTES);
	EXPECT_EQ(0x33, mb[SH_BYTES - 1]);

	EXPECT_EQ(1, names_of(self->efd));
	ASSERT_EQ(0, close(self->efd));
	self->efd = -1;
	ASSERT_EQ(0, close(self->b));
	self->b = -1;
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	for (i = 0; i < SH_BYTES; i++)
		mb[i] = (unsigned char)i;
	for (i = 0; i < SH_BYTES && ma[i] == (unsigned char)i; i++)
		;
	EXPECT_EQ(SH_BYTES, i) TH_LOG("the mappings differ at byte %zu", i);
	EXPECT_EQ(0, munmap(ma, SH_BYTES));
	for (i = 0; i < SH_BYTES && mb[i] == (unsigned char)i; i++)
		;
	EXPECT_EQ(SH_BYTES, i) TH_LOG("B's mapping changed at byte %zu", i);
	EXPECT_EQ(0, munmap(mb, SH_BYTES));
}

/*
 * Exactly once. The object of A has five names: A's handle, two imports
 * in B, one in C and the export fd. The test removes them one by one, in
 * an order whose last step is the variant's; until then nothing ends, the
 * object works through the names left and the export fd's fdinfo counts
 * them down; at the last, the object ends once, with the disposing flag
 * of that last name (1 for a dispose, 0 for a table's close or the export
 * fd's close).
 */
enum step {
	DISPOSE_A,	/* dispose A's handle */
	DISPOSE_B1,	/* dispose B's first import */
	DISPOSE_B2,	/* ... and its second */
	DISPOSE_C,	/* dispose C's import */
	CLOSE_B,	/* close table B: its imports left are finalized */
	CLOSE_C,	/* close table C */
	CLOSE_FD,	/* close the export fd */
};

#define NSTEPS	5

FIXTURE(once) {
	KD_T_DEV_MEMBERS;	/* fd: table A */
	int b, c;		/* tables B and C; -1 once closed */
	int efd;		/* the export fd, or -1 */
	bool tracing;
};

FIXTURE_VARIANT(once) {
	__u32 type;
	int disposing;			/* the last name's flag */
	enum step steps[NSTEPS];	/* the order, the variant's last */
};

#define ONCE_LAST_DISPOSE	{ CLOSE_C, DISPOSE_B2, DISPOSE_A, CLOSE_FD, \
				  DISPOSE_B1 }
#define ONCE_LAST_TABLE_CLOSE	{ DISPOSE_B2, DISPOSE_A, DISPOSE_C, CLOSE_FD, \
				  CLOSE_B }
#define ONCE_LAST_FD_CLOSE	{ DISPOSE_B1, CLOSE_C, DISPOSE_A, DISPOSE_B2, \
				  CLOSE_FD }

FIXTURE_VARIANT_ADD(once, memory_last_disposed) {
	.type = KDISPOSE_TYPE_MEMORY, .disposing = 1,
	.steps = ONCE_LAST_DISPOSE,
};

FIXTURE_VARIANT_ADD(once, memory_last_table_closed) {
	.type = KDISPOSE_TYPE_MEMORY, .disposing = 0,
	.steps = ONCE_LAST_TABLE_CLOSE,
};

FIXTURE_VARIANT_ADD(once, memory_last_fd_closed) {
	.type = KDISPOSE_TYPE_MEMORY, .disposing = 0,
	.steps = ONCE_LAST_FD_CLOSE,
};

FIXTURE_VARIANT_ADD(once, event_last_disposed) {
	.type = KDISPOSE_TYPE_EVENT, .disposing = 1,
	.steps = ONCE_LAST_DISPOSE,
};

FIXTURE_VARIANT_ADD(once, event_last_table_closed) {
	.type = KDISPOSE_TYPE_EVENT, .disposing = 0,
	.steps = ONCE_LAST_TABLE_CLOSE,
};

FIXTURE_VARIANT_ADD(once, event_last_fd_closed) {
	.type = KDISPOSE_TYPE_EVENT, .disposing = 0,
	.steps = ONCE_LAST_FD_CLOSE,
};

FIXTURE_SETUP(once)
{
	int ret;

	self->b = -1;
	self->c = -1;
	self->efd = -1;
	ret = kd_t_ends_start();
	if (ret == -ENOENT)
		SKIP(return, "no tracepoint kdispose:kdispose_share_end");
	ASSERT_EQ(0, ret) TH_LOG("tracefs: %s", strerror(-ret));
	self->tracing = true;
	KD_T_DEV_SETUP(self);
	self->b = kd_t_open();
	ASSERT_LE(0, self->b);
	self->c = kd_t_open();
	ASSERT_LE(0, self->c);
}

FIXTURE_TEARDOWN(once)
{
	if (self->efd >= 0)
		EXPECT_EQ(0, close(self->efd));
	if (self->b >= 0)
		EXPECT_EQ(0, close(self->b));
	if (self->c >= 0)
		EXPECT_EQ(0, close(self->c));
	KD_T_DEV_TEARDOWN(self, KD_T_ALL, SETTLE_MS);
	if (self->tracing)
		EXPECT_EQ(0, kd_t_ends_stop());
}

/* One handle name of the object: its table (a fixture member) and value. */
struct name {
	int *fd;
	__u64 h;
	bool alive;
};

/* Check that the object still works through a handle @n names. */
static int name_works(const struct name *n, __u32 type)
{
	char got[8];

	if (type == KDISPOSE_TYPE_MEMORY) {
		if (mem_read(*n->fd, n->h, 0, got, sizeof(got)))
			return -1;
		return memcmp(got, "shared!", 8) ? -1 : 0;
	}
	return obj_state(*n->fd, n->h) == KDISPOSE_STATE_SIGNALED ? 0 : -1;
}

TEST_F(once, ends_once_at_the_last_name)
{
	static const char *const step_names[] = {
		[DISPOSE_A] = "dispose A's handle",
		[DISPOSE_B1] = "dispose B's first import",
		[DISPOSE_B2] = "dispose B's second import",
		[DISPOSE_C] = "dispose C's import",
		[CLOSE_B] = "close B", [CLOSE_C] = "close C",
		[CLOSE_FD] = "close the export fd",
	};
	struct kd_t_counters before, after;
	struct name names[4] = {
		[0] = { .fd = &self->fd }, [1] = { .fd = &self->b },
		[2] = { .fd = &self->b }, [3] = { .fd = &self->c },
	};
	int ndisposed = 0, nfinalized = 0, alive = 4, s, i;
	enum step step;
	struct kd_t_ends e;

	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, sh_create(self->fd, variant->type, 0, &names[0].h));
	ASSERT_EQ(0, obj_fill(self->fd, names[0].h, variant->type, 0,
			      "shared!", 8));
	self->efd = kd_t_export(self->fd, names[0].h, 0);
	ASSERT_LE(0, self->efd);
	for (i = 1; i < 4; i++) {
		ASSERT_EQ(0, kd_t_import(*names[i].fd, self->efd, 0, 0, "imp",
					 &names[i].h));
	}
	for (i = 0; i < 4; i++)
		names[i].alive = true;
	EXPECT_EQ(5, names_of(self->efd));
	EXPECT_EQ(4, handles_of(self->efd));

	for (s = 0; s < NSTEPS; s++) {
		step = variant->steps[s];
		switch (step) {
		case DISPOSE_A:
		case DISPOSE_B1:
		case DISPOSE_B2:
		case DISPOSE_C:
			i = step - DISPOSE_A;
			ASSERT_EQ(1, kd_t_dispose(*names[i].fd, names[i].h));
			names[i].alive = false;
			ndisposed++;
			alive--;
			break;
		case CLOSE_B:
		case CLOSE_C:
			for (i = 1; i < 4; i++) {
				if (names[i].fd != (step == CLOSE_B ?
						    &self->b : &self->c))
					continue;
				nfinalized += names[i].alive;
				alive -= names[i].alive;
				names[i].alive = false;
			}
			if (step == CLOSE_B) {
				ASSERT_EQ(0, close(self->b));
				self->b = -1;
			} else {
				ASSERT_EQ(0, close(self->c));
				self->c = -1;
			}
			break;
		case CLOSE_FD:
			ASSERT_EQ(0, close(self->efd));
			self->efd = -1;
			break;
		}
		if (s == NSTEPS - 1)
			break;
		ASSERT_EQ(0, kd_t_ends_read(&e));
		EXPECT_EQ(0, e.n) TH_LOG("the object ended at step %d (%s)",
					 s + 1, step_names[step]);
		if (self->efd >= 0) {
			EXPECT_EQ(alive + 1, names_of(self->efd))
				TH_LOG("after %s", step_names[step]);
			EXPECT_EQ(alive, handles_of(self->efd));
		}
		for (i = 0; i < 4; i++) {
			if (names[i].alive) {
				EXPECT_EQ(0, name_works(&names[i],
							variant->type))
					TH_LOG("handle %d after %s", i,
					       step_names[step]);
			}
		}
	}

	ASSERT_EQ(0, kd_t_ends_wait(&e, 1, SETTLE_MS));
	ASSERT_EQ(0, kd_t_wait_settled(&before, &after, SETTLE_MS));
	/* Nothing more comes after the files are all released. */
	ASSERT_EQ(0, kd_t_ends_read(&e));
	EXPECT_EQ(1, e.n) TH_LOG("the object ended %d times", e.n);
	EXPECT_EQ(variant->disposing, e.disposing)
		TH_LOG("the last name (%s) gave disposing=%d",
		       step_names[variant->steps[NSTEPS - 1]], !variant->disposing);
	EXPECT_EQ(variant->type == KDISPOSE_TYPE_MEMORY, e.memory);
	EXPECT_EQ(variant->type == KDISPOSE_TYPE_EVENT, e.event);
	KD_T_EXPECT_DELTA(&before, &after, variant->type, .created = 4,
			  .disposed = ndisposed, .finalized = nfinalized,
			  .released = 4);
}

/*
 * Across processes: a child imports the export fd into a table of its own
 * and writes the buffer or signals the event; the parent sees it through
 * its handle.
 */
FIXTURE(xproc) {
	KD_T_DEV_MEMBERS;	/* fd: the parent's table */
	struct report *rep;	/* shared with the child */
	__u64 h;
};

FIXTURE_VARIANT(xproc) {
	__u32 type;
};

FIXTURE_VARIANT_ADD(xproc, memory) {
	.type = KDISPOSE_TYPE_MEMORY,
};

FIXTURE_VARIANT_ADD(xproc, event) {
	.type = KDISPOSE_TYPE_EVENT,
};

FIXTURE_SETUP(xproc)
{
	KD_T_DEV_SETUP(self);
	self->rep = report_map();
	ASSERT_NE(NULL, self->rep);
	ASSERT_EQ(0, sh_create(self->fd, variant->type, 0, &self->h));
}

FIXTURE_TEARDOWN(xproc)
{
	KD_T_DEV_TEARDOWN(self, KD_T_ALL, SETTLE_MS);
	if (self->rep)
		munmap(self->rep, sizeof(*self->rep));
}

#define CHILD_DATA	"written by the child"

/* In the child: import @efd, use it, let go of everything. */
static int child_use(struct report *rep, int efd, __u32 type)
{
	int fd = kd_t_open(), ret;
	__u64 h;

	CHILD_CHECK(rep, fd >= 0, "open: %s", strerror(-fd));
	ret = kd_t_import(fd, efd, type, 0, "child", &h);
	CHILD_CHECK(rep, ret == 0, "import: %s", strerror(-ret));
	CHILD_CHECK(rep, close(efd) == 0, "close the export fd");
	if (type == KDISPOSE_TYPE_MEMORY)
		ret = mem_write(fd, h, 16, CHILD_DATA, sizeof(CHILD_DATA));
	else
		ret = ev_signal(fd, h);
	CHILD_CHECK(rep, ret == 0, "use: %s", strerror(-ret));
	CHILD_CHECK(rep, kd_t_dispose(fd, h) == 1, "dispose");
	return close(fd);
}

/* The parent's side: see what the child did, through handle @h. */
static void parent_sees(struct __test_metadata *_metadata, int fd, __u64 h,
			__u32 type, pid_t pid, struct report *rep)
{
	char got[sizeof(CHILD_DATA)] = "";

	if (type == KDISPOSE_TYPE_EVENT) {
		/* Bounded: a child that never signals fails the test. */
		EXPECT_EQ(0, ev_wait(fd, h, WAIT_BOUND_NS));
	}
	EXPECT_TRUE(child_ok(pid)) TH_LOG("child: %s", rep->why);
	if (type == KDISPOSE_TYPE_MEMORY) {
		ASSERT_EQ(0, mem_read(fd, h, 16, got, sizeof(got)));
		EXPECT_STREQ(CHILD_DATA, got);
	}
	EXPECT_EQ(0, obj_alive(fd, h));
}

TEST_F(xproc, child_by_fork_uses_the_object)
{
	int efd;
	pid_t pid;

	efd = kd_t_export(self->fd, self->h, 0);
	ASSERT_LE(0, efd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(child_use(self->rep, efd, variant->type) ? 1 : 0);
	}
	/* The child's copy of the fd is the name from here on. */
	ASSERT_EQ(0, close(efd));
	parent_sees(_metadata, self->fd, self->h, variant->type, pid,
		    self->rep);
}

static int child_receive(struct report *rep, int sock, __u32 type)
{
	int efd = kd_t_recv_fd(sock, NULL);

	CHILD_CHECK(rep, efd >= 0, "recvmsg: %s", strerror(-efd));
	return child_use(rep, efd, type);
}

/* A child that did not inherit the fd gets it over SCM_RIGHTS. */
TEST_F(xproc, child_by_scm_rights_uses_the_object)
{
	int sv[2], efd;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sv[0]);
		_exit(child_receive(self->rep, sv[1], variant->type) ? 1 : 0);
	}
	close(sv[1]);
	efd = kd_t_export(self->fd, self->h, 0);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, kd_t_send_fd(sv[0], efd, 'e'));
	/* In flight, then the child's: the parent's copy goes now. */
	ASSERT_EQ(0, close(efd));
	parent_sees(_metadata, self->fd, self->h, variant->type, pid,
		    self->rep);
	close(sv[0]);
}

/*
 * Many importers. NPROCS worker processes, each with a table of its own;
 * each round the parent creates an object in its table, exports it and
 * sends the export fd to every worker, which imports it once or twice and
 * checks it; then, at the parent's word, the parent and all the workers
 * remove their names at the same time. The round's mode says how: DISPOSE
 * (export fds closed before the word: the last name is a handle that is
 * disposed, so disposing=1), CLOSE (tables and export fds closed: 0) or
 * MIX (any of them, in a random order). Each round must end its object
 * exactly once, after the word, and leave the counters consistent.
 */
#define NPROCS		8
#define MANY_ROUNDS	150
#define MANY_MAX_IMPORTS	2

enum many_mode { MODE_DISPOSE, MODE_CLOSE, MODE_MIX, NR_MODES };

static const char *const mode_names[] = {
	[MODE_DISPOSE] = "dispose", [MODE_CLOSE] = "close", [MODE_MIX] = "mix",
};

/* A round's order, sent to a worker with the export fd. */
struct many_order {
	__u32 round;
	__u32 type;
	__u32 mode;
	__u32 nimports;
	__u32 seed;
};

struct many_worker {
	pid_t pid;
	int sock;		/* the parent's end: orders, fds and replies */
};

FIXTURE(many) {
	KD_T_DEV_MEMBERS;	/* fd: the parent's table */
	struct report *rep;	/* the workers' first failure */
	struct many_worker w[NPROCS];
	int go[2];		/* the word: one byte per worker */
	long refcnt;		/* the module's before the fixture */
	bool tracing;
};

FIXTURE_SETUP(many)
{
	int ret;

	self->go[0] = -1;
	self->go[1] = -1;
	self->refcnt = kd_t_module_refcnt();
	ASSERT_LE(0, self->refcnt);
	ret = kd_t_ends_start();
	if (ret == -ENOENT)
		SKIP(return, "no tracepoint kdispose:kdispose_share_end");
	ASSERT_EQ(0, ret);
	self->tracing = true;
	KD_T_DEV_SETUP(self);
	self->rep = report_map();
	ASSERT_NE(NULL, self->rep);
}

FIXTURE_TEARDOWN(many)
{
	int i;

	for (i = 0; i < NPROCS; i++) {
		if (self->w[i].pid > 0) {
			kill(self->w[i].pid, SIGKILL);
			waitpid(self->w[i].pid, NULL, 0);
		}
		if (self->w[i].sock > 0)
			close(self->w[i].sock);
	}
	if (self->go[0] >= 0)
		close(self->go[0]);
	if (self->go[1] >= 0)
		close(self->go[1]);
	KD_T_DEV_TEARDOWN(self, KD_T_ALL, SETTLE_MS);
	EXPECT_EQ(self->refcnt, kd_t_module_refcnt_wait(self->refcnt,
							SETTLE_MS));
	if (self->tracing)
		EXPECT_EQ(0, kd_t_ends_stop());
	if (self->rep)
		munmap(self->rep, sizeof(*self->rep));
}

/* The tag a round's buffer holds at offset 0. */
static __u64 many_tag(__u32 round)
{
	return 0x6d616e79ULL << 32 | round;	/* "many" */
}

static unsigned int rnd_next(unsigned int *seed)
{
	*seed = *seed * 1103515245 + 12345;
	return *seed >> 16;
}

/* A worker's names of this round. */
struct many_names {
	__u64 h[MANY_MAX_IMPORTS];
	bool alive[MANY_MAX_IMPORTS];
	int efd;		/* its copy of the export fd, or -1 */
};

/* In a worker: remove the names, in the order @o's mode says. */
static int many_remove(struct report *rep, int *fd,
		       const struct many_order *o, struct many_names *n)
{
	unsigned int seed = o->seed, left = o->nimports + (n->efd >= 0), i;
	int ret;

	while (left) {
		i = rnd_next(&seed) % (o->nimports + 2);
		if (i < o->nimports) {
			/* CLOSE: handles go with the table only. */
			if (!n->alive[i] || o->mode == MODE_CLOSE)
				continue;
			ret = kd_t_dispose(*fd, n->h[i]);
			CHILD_CHECK(rep, ret == 1, "round %u: dispose: %d",
				    o->round, ret);
			n->alive[i] = false;
			left--;
		} else if (i == o->nimports) {
			if (n->efd < 0)
				continue;
			CHILD_CHECK(rep, close(n->efd) == 0, "close efd");
			n->efd = -1;
			left--;
		} else if (o->mode != MODE_DISPOSE) {
			/* The table: every handle left in it goes. */
			for (i = 0; i < o->nimports; i++) {
				left -= n->alive[i];
				n->alive[i] = false;
			}
			CHILD_CHECK(rep, close(*fd) == 0, "close the table");
			*fd = kd_t_open();
			CHILD_CHECK(rep, *fd >= 0, "open: %s", strerror(-*fd));
		}
	}
	return 0;
}

/* A worker: orders until the parent closes its socket. */
static int many_worker(struct report *rep, int sock, int go)
{
	int fd = kd_t_open(), ret;
	struct many_order o;
	struct many_names n;
	struct kdispose_query q;
	unsigned int i;
	__u64 tag;
	char c;

	CHILD_CHECK(rep, fd >= 0, "open: %s", strerror(-fd));
	for (;;) {
		n.efd = kd_t_recv_fd(sock, &c);
		if (n.efd == -EPIPE)
			break;
		CHILD_CHECK(rep, n.efd >= 0, "recvmsg: %s", strerror(-n.efd));
		CHILD_CHECK(rep, read(sock, &o, sizeof(o)) == sizeof(o),
			    "read the order");
		for (i = 0; i < o.nimports; i++) {
			ret = kd_t_import(fd, n.efd, o.type, 0, "worker",
					  &n.h[i]);
			CHILD_CHECK(rep, ret == 0, "round %u: import: %s",
				    o.round, strerror(-ret));
			n.alive[i] = true;
			ret = kd_t_query(fd, n.h[i], &q);
			CHILD_CHECK(rep, ret == 0 && q.type == o.type &&
				    !strcmp(q.label, "worker"),
				    "round %u: query: %d", o.round, ret);
			if (o.type != KDISPOSE_TYPE_MEMORY)
				continue;
			ret = mem_read(fd, n.h[i], 0, &tag, sizeof(tag));
			CHILD_CHECK(rep, ret == 0 && tag == many_tag(o.round),
				    "round %u: the buffer holds %#llx (%d)",
				    o.round, tag, ret);
		}
		if (o.mode == MODE_DISPOSE) {
			CHILD_CHECK(rep, close(n.efd) == 0, "close efd");
			n.efd = -1;
		}
		CHILD_CHECK(rep, write(sock, "r", 1) == 1, "ready");
		CHILD_CHECK(rep, read(go, &c, 1) == 1, "wait for the word");
		if (many_remove(rep, &fd, &o, &n))
			return -1;
		CHILD_CHECK(rep, write(sock, "d", 1) == 1, "done");
	}
	return close(fd);
}

/* Read one reply byte @want from every worker. Return: 0 or -1. */
static int many_replies(FIXTURE_DATA(many) *self, char want)
{
	char c;
	int i;

	for (i = 0; i < NPROCS; i++)
		if (read(self->w[i].sock, &c, 1) != 1 || c != want)
			return -1;
	return 0;
}

TEST_F_TIMEOUT(many, importers_end_the_object_once, 600)
{
	unsigned long rounds = kd_t_scaled(MANY_ROUNDS), r;
	unsigned int seed = 1, nimports, i;
	struct many_order o;
	struct kd_t_counters now;
	struct kd_t_ends e;
	int sv[2], efd, ret, ends[NR_MODES] = { 0 };
	char why[160] = "";
	__u64 h, tag;
	pid_t pid;

	ASSERT_EQ(0, pipe2(self->go, O_CLOEXEC));
	for (i = 0; i < NPROCS; i++) {
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
					sv));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(sv[0]);
			while (i--)
				close(self->w[i].sock);
			close(self->go[1]);
			close(self->fd);
			_exit(many_worker(self->rep, sv[1], self->go[0]) ?
			      1 : 0);
		}
		close(sv[1]);
		self->w[i].pid = pid;
		self->w[i].sock = sv[0];
	}

	for (r = 1; r <= rounds; r++) {
		o.round = r;
		o.type = r % 2 ? KDISPOSE_TYPE_MEMORY : KDISPOSE_TYPE_EVENT;
		o.mode = rnd_next(&seed) % NR_MODES;
		/* The last round's one end, and nothing after it. */
		ASSERT_EQ(0, kd_t_ends_read(&e));
		ASSERT_EQ(r > 1, e.n) TH_LOG("round %lu ended %d times",
					     r - 1, e.n);
		ASSERT_EQ(0, kd_t_trace_write("trace", ""));
		ASSERT_EQ(0, sh_create(self->fd, o.type, 0, &h));
		tag = many_tag(r);
		if (o.type == KDISPOSE_TYPE_MEMORY)
			ASSERT_EQ(0, mem_write(self->fd, h, 0, &tag,
					       sizeof(tag)));
		efd = kd_t_export(self->fd, h, 0);
		ASSERT_LE(0, efd);
		nimports = 0;
		for (i = 0; i < NPROCS; i++) {
			o.nimports = 1 + rnd_next(&seed) % MANY_MAX_IMPORTS;
			o.seed = rnd_next(&seed);
			nimports += o.nimports;
			ASSERT_EQ(0, kd_t_send_fd(self->w[i].sock, efd, 'e'));
			ASSERT_EQ(sizeof(o), write(self->w[i].sock, &o,
						   sizeof(o)));
		}
		ASSERT_EQ(0, many_replies(self, 'r'))
			TH_LOG("round %lu: a worker failed: %s", r,
			       self->rep->why);
		ASSERT_EQ(0, kd_t_ends_read(&e));
		ASSERT_EQ(0, e.n) TH_LOG("round %lu ended before the word", r);
		if (o.mode == MODE_DISPOSE) {
			ASSERT_EQ(0, close(efd));
			efd = -1;
		} else {
			/* The workers' copies are the same file: one name. */
			ASSERT_EQ(nimports + 2, names_of(efd))
				TH_LOG("round %lu", r);
		}

		/* The word, and the parent's own names, all at once. */
		ASSERT_EQ(NPROCS, write(self->go[1], "gggggggg", NPROCS));
		if (o.mode == MODE_CLOSE) {
			ASSERT_EQ(0, close(self->fd));
			self->fd = kd_t_open();
			ASSERT_LE(0, self->fd);
		} else {
			ASSERT_EQ(1, kd_t_dispose(self->fd, h));
		}
		if (efd >= 0)
			ASSERT_EQ(0, close(efd));
		ASSERT_EQ(0, many_replies(self, 'd'))
			TH_LOG("round %lu: a worker failed: %s", r,
			       self->rep->why);

		ASSERT_EQ(0, kd_t_ends_wait(&e, 1, SETTLE_MS));
		ASSERT_EQ(1, e.n) TH_LOG("round %lu (%s) ended %d times", r,
					 mode_names[o.mode], e.n);
		if (o.mode == MODE_DISPOSE)
			EXPECT_EQ(1, e.disposing) TH_LOG("round %lu", r);
		if (o.mode == MODE_CLOSE)
			EXPECT_EQ(0, e.disposing) TH_LOG("round %lu", r);
		EXPECT_EQ(o.type == KDISPOSE_TYPE_MEMORY, e.memory);
		ends[o.mode]++;
		ASSERT_EQ(0, kd_t_counters_read(&now));
		ASSERT_EQ(0, kd_t_counters_check(&now, why, sizeof(why)))
			TH_LOG("round %lu: %s", r, why);
	}
	ksft_print_msg("%lu rounds of %d importers: %d disposed, %d closed, %d mixed, each ended once\n",
		       rounds, NPROCS, ends[MODE_DISPOSE], ends[MODE_CLOSE],
		       ends[MODE_MIX]);
	fflush(stdout);

	for (i = 0; i < NPROCS; i++) {
		close(self->w[i].sock);
		self->w[i].sock = -1;
		ret = child_ok(self->w[i].pid);
		self->w[i].pid = 0;
		EXPECT_TRUE(ret) TH_LOG("worker %u: %s", i, self->rep->why);
	}
}

/*
 * Waiters. One event, three handles: A's, and two imports in B. A waiter
 * sleeps on each; B's first import is disposed: its waiter gets EIDRM
 * (the handle is gone), the two others go on sleeping and return 0 when
 * the event is signaled. Once through KDISPOSE_OP_EVENT_WAIT, once
 * through KDISPOSE_IOC_WAIT.
 */
FIXTURE(waiter) {
	KD_T_DEV_MEMBERS;	/* fd: table A */
	int b;
	__u64 ha;		/* the event, in A */
	struct waiter w[3];
	int started;
};

FIXTURE_VARIANT(waiter) {
	bool many;
};

FIXTURE_VARIANT_ADD(waiter, op_event_wait) {
	.many = false,
};

FIXTURE_VARIANT_ADD(waiter, ioc_wait) {
	.many = true,
};

FIXTURE_SETUP(waiter)
{
	self->b = -1;
	KD_T_DEV_SETUP(self);
	self->b = kd_t_open();
	ASSERT_LE(0, self->b);
}

FIXTURE_TEARDOWN(waiter)
{
	int i;

	/* A wait the test left going (it failed) ends with a signal. */
	if (self->ha)
		ev_signal(self->fd, self->ha);
	for (i = 0; i < self->started; i++)
		waiter_reap(&self->w[i]);
	if (self->b >= 0)
		EXPECT_EQ(0, close(self->b));
	KD_T_DEV_TEARDOWN(self, KD_T_ALL, SETTLE_MS);
}

TEST_F(waiter, disposed_handle_ends_only_its_waits)
{
	__u64 ha, b1, b2;
	int efd, i;

	ASSERT_EQ(0, sh_create(self->fd, KDISPOSE_TYPE_EVENT, 0, &ha));
	self->ha = ha;
	efd = kd_t_export(self->fd, ha, 0);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, kd_t_import(self->b, efd, 0, 0, "b1", &b1));
	ASSERT_EQ(0, kd_t_import(self->b, efd, 0, 0, "b2", &b2));
	ASSERT_EQ(0, close(efd));

	ASSERT_EQ(0, waiter_start(&self->w[0], self->b, b1, variant->many));
	self->started++;
	ASSERT_EQ(0, waiter_start(&self->w[1], self->b, b2, variant->many));
	self->started++;
	ASSERT_EQ(0, waiter_start(&self->w[2], self->fd, ha, variant->many));
	self->started++;

	ASSERT_EQ(1, kd_t_dispose(self->b, b1));
	ASSERT_TRUE(waiter_wait_done(&self->w[0]));
	EXPECT_EQ(-EIDRM, self->w[0].ret);
	if (variant->many)
		EXPECT_EQ(0, self->w[0].index);
	/*
	 * The others were not woken for good: they sleep (again, if the
	 * dispose woke them to look), inside the wait they started.
	 */
	for (i = 1; i < 3; i++) {
		EXPECT_TRUE(kd_t_wait_asleep(self->w[i].tid, SYS_ioctl))
			TH_LOG("waiter %d", i);
		EXPECT_FALSE(waiter_done(&self->w[i])) TH_LOG("waiter %d", i);
	}
	ASSERT_EQ(0, ev_signal(self->fd, ha));
	for (i = 1; i < 3; i++) {
		ASSERT_TRUE(waiter_wait_done(&self->w[i]))
			TH_LOG("waiter %d", i);
		EXPECT_EQ(0, self->w[i].ret) TH_LOG("waiter %d: %s", i,
						    strerror(-self->w[i].ret));
	}
}

/*
 * Quotas, as uid 65534: an export fd is one object of the exporting user
 * (max_user_objects) until it is closed; a buffer's bytes stay charged to
 * its creator (max_user_bytes) whoever holds it, so exporting and closing
 * frees nothing, and the importer's file holds no bytes.
 */
#define Q_USER_OBJECTS	256
#define Q_USER_BYTES	(256 << 10)

/* Slots a table's first create charges to its user. */
#define Q_TABLE_MIN	64

FIXTURE(quota) {
	struct report *rep;
	struct kd_t_param param[2];
	struct kd_t_counters start;
	int fd;			/* root's table, or -1 */
};

FIXTURE_SETUP(quota)
{
	int ret;

	self->fd = -1;
	self->rep = report_map();
	ASSERT_NE(NULL, self->rep);
	KD_T_ASSERT_COUNTERS(self->start);
	ret = kd_t_param_set_u64(&self->param[0], "max_user_objects",
				 Q_USER_OBJECTS);
	ASSERT_EQ(0, ret) TH_LOG("max_user_objects: %s", strerror(-ret));
	ret = kd_t_param_set_u64(&self->param[1], "max_user_bytes",
				 Q_USER_BYTES);
	ASSERT_EQ(0, ret) TH_LOG("max_user_bytes: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(quota)
{
	unsigned int i;

	if (self->fd >= 0)
		EXPECT_EQ(0, close(self->fd));
	KD_T_EXPECT_SETTLED_WITHIN(self->start, KD_T_ALL, SETTLE_MS);
	for (i = 0; i < ARRAY_SIZE(self->param); i++)
		EXPECT_EQ(0, kd_t_param_restore(&self->param[i]));
	if (self->rep)
		munmap(self->rep, sizeof(*self->rep));
}

/* In the child: become nobody, for good. Return: 0 or -errno. */
static int become_nobody(void)
{
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		return -errno;
	return getuid() == NOBODY ? 0 : -EPERM;
}

typedef int (*user_fn)(struct report *rep, void *arg);

/* Run @fn(@rep, @arg) in a child that dropped to nobody. Return: pid. */
static pid_t as_nobody(struct report *rep, user_fn fn, void *arg)
{
	pid_t pid = fork();
	int ret;

	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	rep->why[0] = '\0';
	ret = become_nobody();
	if (ret) {
		snprintf(rep->why, sizeof(rep->why), "setresuid: %s",
			 strerror(-ret));
		_exit(2);
	}
	_exit(fn(rep, arg) ? 1 : 0);
}

#define Q_MAX_EXPORTS	(Q_USER_OBJECTS + 8)

static int user_exports(struct report *rep, void *arg)
{
	static int efds[Q_MAX_EXPORTS];
	int fd = kd_t_open(), fd2, n = 0, e, i;
	struct rlimit rl = { 4096, 4096 };
	__u64 h, t;

	CHILD_CHECK(rep, setrlimit(RLIMIT_NOFILE, &rl) == 0 ||
		    getrlimit(RLIMIT_NOFILE, &rl) == 0, "rlimit");
	CHILD_CHECK(rep, rl.rlim_cur > Q_MAX_EXPORTS + 16,
		    "RLIMIT_NOFILE %llu", (unsigned long long)rl.rlim_cur);
	CHILD_CHECK(rep, fd >= 0, "open: %s", strerror(-fd));
	/* One buffer: the table's first Q_TABLE_MIN slots. */
	CHILD_CHECK(rep, !kd_t_create(fd, KDISPOSE_TYPE_MEMORY, 0, 4096, 0,
				      "q", &h), "create");
	for (;;) {
		e = kd_t_export(fd, h, 0);
		if (e < 0 || n == Q_MAX_EXPORTS)
			break;
		efds[n++] = e;
	}
	CHILD_CHECK(rep, e == -EDQUOT, "export %d: %s", n + 1,
		    e < 0 ? strerror(-e) : "no EDQUOT");
	CHILD_CHECK(rep, n == Q_USER_OBJECTS - Q_TABLE_MIN,
		    "%d export fds with a quota of %d objects and a table of %d slots",
		    n, Q_USER_OBJECTS, Q_TABLE_MIN);
	/* Closing one gives back one. */
	CHILD_CHECK(rep, close(efds[--n]) == 0, "close");
	efds[n] = kd_t_export(fd, h, 0);
	CHILD_CHECK(rep, efds[n] >= 0, "export after a close: %s",
		    strerror(-efds[n]));
	n++;
	e = kd_t_export(fd, h, 0);
	CHILD_CHECK(rep, e == -EDQUOT, "export over the quota: %s",
		    e < 0 ? strerror(-e) : "success");
	/* They count as objects for creates too: a new table gets nothing. */
	fd2 = kd_t_open();
	CHILD_CHECK(rep, fd2 >= 0, "open: %s", strerror(-fd2));
	e = kd_t_token(fd2, 0, 0, "q", &t);
	CHILD_CHECK(rep, e == -EDQUOT, "create at the bound: %s",
		    e ? strerror(-e) : "success");
	for (i = 0; i < Q_TABLE_MIN; i++)
		CHILD_CHECK(rep, close(efds[--n]) == 0, "close");
	e = kd_t_token(fd2, 0, 0, "q", &t);
	CHILD_CHECK(rep, e == 0, "create after %d closes: %s", Q_TABLE_MIN,
		    strerror(-e));
	while (n)
		close(efds[--n]);
	close(fd2);
	return close(fd);
}

TEST_F(quota, export_fds_count_as_user_objects)
{
	EXPECT_TRUE(child_ok(as_nobody(self->rep, user_exports, NULL)))
		TH_LOG("as uid %d: %s", NOBODY, self->rep->why);
}

/*
 * The user fills its byte quota with one buffer, exports it to root and
 * lets go of everything else; while root holds the import, the user's new
 * buffers are refused; once root disposes it they are not.
 */
static int user_hands_over_bytes(struct report *rep, void *arg)
{
	int sock = *(int *)arg, fd = kd_t_open(), efd, ret;
	__u64 h;
	char c;

	CHILD_CHECK(rep, fd >= 0, "open: %s", strerror(-fd));
	ret = kd_t_create(fd, KDISPOSE_TYPE_MEMORY, 0, Q_USER_BYTES, 0, "q",
			  &h);
	CHILD_CHECK(rep, ret == 0, "a buffer of the whole quota: %s",
		    strerror(-ret));
	CHILD_CHECK(rep, mem_write(fd, h, 0, "nobody's", 8) == 0, "write");
	efd = kd_t_export(fd, h, 0);
	CHILD_CHECK(rep, efd >= 0, "export: %s", strerror(-efd));
	CHILD_CHECK(rep, kd_t_send_fd(sock, efd, 'e') == 0, "send");
	CHILD_CHECK(rep, close(efd) == 0, "close efd");
	CHILD_CHECK(rep, kd_t_dispose(fd, h) == 1, "dispose");
	CHILD_CHECK(rep, close(fd) == 0, "close");
	CHILD_CHECK(rep, read(sock, &c, 1) == 1 && c == 'i', "root imported");

	fd = kd_t_open();
	CHILD_CHECK(rep, fd >= 0, "open: %s", strerror(-fd));
	ret = kd_t_create(fd, KDISPOSE_TYPE_MEMORY, 0, 4096, 0, "q", &h);
	CHILD_CHECK(rep, ret == -EDQUOT,
		    "a page while root holds the bytes: %s",
		    ret ? strerror(-ret) : "success (the bytes escaped)");
	CHILD_CHECK(rep, write(sock, "x", 1) == 1, "tell root");
	CHILD_CHECK(rep, read(sock, &c, 1) == 1 && c == 'd', "root disposed");
	ret = kd_t_create(fd, KDISPOSE_TYPE_MEMORY, 0, 4096, 0, "q", &h);
	CHILD_CHECK(rep, ret == 0, "a page once the buffer is gone: %s",
		    strerror(-ret));
	return close(fd);
}

TEST_F(quota, imported_bytes_stay_with_their_creator)
{
	int sv[2], efd;
	__u64 hr, bytes = 1, live = 0;
	char buf[8] = "", c;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = as_nobody(self->rep, user_hands_over_bytes, &sv[1]);
	ASSERT_LT(0, pid);
	close(sv[1]);
	self->fd = kd_t_open();
	ASSERT_LE(0, self->fd);
	efd = kd_t_recv_fd(sv[0], NULL);
	ASSERT_LE(0, efd) TH_LOG("nobody: %s", self->rep->why);
	ASSERT_EQ(0, kd_t_import(self->fd, efd, KDISPOSE_TYPE_MEMORY, 0,
				 "root", &hr));
	ASSERT_EQ(0, close(efd));
	ASSERT_EQ(0, mem_read(self->fd, hr, 0, buf, 8));
	EXPECT_EQ(0, memcmp(buf, "nobody's", 8));
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_bytes", &bytes));
	EXPECT_EQ(0, bytes) TH_LOG("the importer is charged the bytes");
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_live", &live));
	EXPECT_EQ(1, live);
	ASSERT_EQ(1, write(sv[0], "i", 1));
	ASSERT_EQ(1, read(sv[0], &c, 1)) TH_LOG("nobody: %s", self->rep->why);
	ASSERT_EQ(1, kd_t_dispose(self->fd, hr));
	ASSERT_EQ(1, write(sv[0], "d", 1));
	EXPECT_TRUE(child_ok(pid)) TH_LOG("as uid %d: %s", NOBODY,
					  self->rep->why);
	close(sv[0]);
}

/*
 * Cycles. An export fd holds its object, and an object holds no file: a
 * FILE object refuses an export fd, and an export fd caught in a unix
 * socket cycle is freed with the cycle by the unix garbage collector.
 */
FIXTURE(cycle) {
	KD_T_DEV_MEMBERS;
	long refcnt;		/* the module's before the fixture */
	bool tracing;
};

FIXTURE_SETUP(cycle)
{
	self->refcnt = kd_t_module_refcnt();
	ASSERT_LE(0, self->refcnt);
	KD_T_DEV_SETUP(self);
}

FIXTURE_TEARDOWN(cycle)
{
	KD_T_DEV_TEARDOWN(self, KD_T_ALL, SETTLE_MS);
	EXPECT_EQ(self->refcnt, kd_t_module_refcnt_wait(self->refcnt,
							SETTLE_MS));
	if (self->tracing)
		EXPECT_EQ(0, kd_t_ends_stop());
}

TEST_F(cycle, file_object_of_an_export_fd_is_eloop)
{
	__u64 h, f;
	int efd;

	ASSERT_EQ(0, sh_create(self->fd, KDISPOSE_TYPE_MEMORY, 0, &h));
	efd = kd_t_export(self->fd, h, 0);
	ASSERT_LE(0, efd);
	EXPECT_EQ(-ELOOP, kd_t_create(self->fd, KDISPOSE_TYPE_FILE, 0, efd, 0,
				      "loop", &f));
	EXPECT_EQ(2, names_of(efd));
	EXPECT_EQ(0, close(efd));
}

/* Run the unix garbage collector: close a socket with an fd in flight. */
static void unix_gc(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv))
		return;
	kd_t_send_fd(sv[1], sv[0], 'g');
	close(sv[0]);
	close(sv[1]);
}

/*
 * The export fd is the object's only name, in flight in a datagram socket
 * that is in flight in itself; every fd is closed. Only the collector can
 * free that socket, and with it the export fd: then the object ends, once,
 * and the module's references come back.
 */
TEST_F(cycle, export_fd_in_a_unix_cycle_is_collected)
{
	struct kd_t_ends e;
	int sv[2], efd, ret;
	__u64 h;

	ret = kd_t_ends_start();
	if (ret == -ENOENT)
		SKIP(return, "no tracepoint kdispose:kdispose_share_end");
	ASSERT_EQ(0, ret);
	self->tracing = true;
	ASSERT_EQ(0, sh_create(self->fd, KDISPOSE_TYPE_MEMORY, 0, &h));
	efd = kd_t_export(self->fd, h, 0);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(1, names_of(efd));

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, kd_t_send_fd(sv[1], efd, 'e'));
	ASSERT_EQ(0, kd_t_send_fd(sv[1], sv[0], 's'));
	ASSERT_EQ(0, close(efd));
	ASSERT_EQ(0, close(sv[0]));
	ASSERT_EQ(0, close(sv[1]));

	unix_gc();
	ASSERT_EQ(0, kd_t_ends_wait(&e, 1, SETTLE_MS));
	EXPECT_EQ(1, e.n) TH_LOG("the object in the cycle ended %d times",
				 e.n);
	EXPECT_EQ(0, e.disposing);
}

TEST_HARNESS_MAIN
