// SPDX-License-Identifier: GPL-2.0
/*
 * lib_share_test: libkdispose's sharing calls (version 1.2) against the
 * real module: kd_export() and kd_event_fd(), kd_import() and its class,
 * chain and finalizer list, kd_wait_any() and kd_wait_all().
 *
 * The kernel's own rules (Documentation/sharing.md) have their tests in
 * the module's programs; these check what the library adds: which class an
 * import gets, that it is an object like any other of its context (its
 * own chain, owner cascade, finalizer, label, init hook), that it crosses
 * fork, the flags of the fds, and which index and errno each wait failure
 * reports.
 */
#include "kdispose_test.h"

#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kdispose.h"

/* An event class of the test's, counting its dispose calls. */
struct counted_event {
	struct kd_obj obj;
	int runs;
	bool disposing;
};

static const struct kd_class counted_event_class;

static void counted_event_dispose(struct kd_obj *obj, bool disposing)
{
	struct counted_event *e = (struct counted_event *)obj;

	e->runs++;
	e->disposing = disposing;
	kd_chain_dispose(&counted_event_class, obj, disposing);
}

static const struct kd_class counted_event_class = {
	.name = "counted_event",
	.size = sizeof(struct counted_event),
	.parent = &kd_event_class,
	.dispose = counted_event_dispose,
};

/* A class of no kernel kind. */
static const struct kd_class plain_class = {
	.name = "plain",
	.size = sizeof(struct kd_obj),
};

static uint64_t handle_of(struct kd_obj *obj)
{
	return kd_handle_value(kd_obj_handle(obj));
}

/*
 * Two fixtures, with and without the kind variants: each test gets two
 * contexts, the exporter's and the importer's, and its teardown checks
 * that nothing is left in the module once both are closed.
 */
#define SHARE_MEMBERS							\
	struct kd_ctx *ctx;	/* the exporter; NULL once closed */	\
	struct kd_ctx *ctx2;	/* the importer; NULL once closed */	\
	struct kd_t_counters start

#define SHARE_SETUP(f) do {						\
	__typeof__(f) __f = (f);					\
	int __err = 0;							\
									\
	KD_T_ASSERT_COUNTERS(__f->start);				\
	__f->ctx = kd_ctx_open(0, &__err);				\
	ASSERT_NE(NULL, __f->ctx) TH_LOG("kd_ctx_open: %s",		\
					 strerror(-__err));		\
	__f->ctx2 = kd_ctx_open(0, &__err);				\
	ASSERT_NE(NULL, __f->ctx2) TH_LOG("kd_ctx_open: %s",		\
					  strerror(-__err));		\
} while (0)

/* An export fd's last close may end its object in task work: wait 2 s. */
#define SHARE_TEARDOWN(f) do {						\
	__typeof__(f) __f = (f);					\
									\
	if (__f->ctx)							\
		EXPECT_LE(0, kd_ctx_close(__f->ctx));			\
	if (__f->ctx2)							\
		EXPECT_LE(0, kd_ctx_close(__f->ctx2));			\
	KD_T_EXPECT_SETTLED_WITHIN(__f->start, KD_T_ALL, 2000);		\
} while (0)

FIXTURE(share) {
	SHARE_MEMBERS;
};

FIXTURE_SETUP(share)
{
	SHARE_SETUP(self);
}

FIXTURE_TEARDOWN(share)
{
	SHARE_TEARDOWN(self);
}

/* The same, run once per kind that can be shared. */
FIXTURE(import) {
	SHARE_MEMBERS;
};

FIXTURE_VARIANT(import) {
	bool memory;	/* export a memory buffer, not an event */
};

FIXTURE_VARIANT_ADD(import, memory) {
	.memory = true,
};

FIXTURE_VARIANT_ADD(import, event) {
	.memory = false,
};

FIXTURE_SETUP(import)
{
	SHARE_SETUP(self);
}

FIXTURE_TEARDOWN(import)
{
	SHARE_TEARDOWN(self);
}

/* A new event of @ctx, or NULL (the test then fails on it). */
static struct kd_obj *event_new(struct kd_ctx *ctx, uint64_t flags)
{
	int err = 0;

	return kd_event_new(ctx, NULL, NULL, flags, &err);
}

/* Disposes and unreferences each of @objs that is not NULL. */
static void drop(struct kd_obj **objs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (objs[i]) {
			kd_dispose(objs[i]);
			kd_obj_unref(objs[i]);
		}
	}
}

/* Return: poll(2)'s revents of @fd right now. */
static short revents_of(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) < 0 ? -1 : pfd.revents;
}

/*
 * Export fds
 */

TEST_F(share, export_cloexec_unless_asked)
{
	KD_AUTO(struct kd_obj) mem = NULL;
	int fd, err;

	mem = kd_memory_new(self->ctx, NULL, NULL, 4096, &err);
	ASSERT_NE(NULL, mem);

	fd = kd_export(mem, 0);
	ASSERT_LE(0, fd) TH_LOG("kd_export: %s", strerror(-fd));
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(fd, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(0, close(fd));

	fd = kd_export(mem, KD_EXPORT_NO_CLOEXEC | KD_EXPORT_NONBLOCK);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_NONBLOCK, fcntl(fd, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(0, close(fd));
}

TEST_F(share, export_unknown_flag)
{
	KD_AUTO(struct kd_obj) ev = event_new(self->ctx, 0);

	ASSERT_NE(NULL, ev);
	EXPECT_EQ(-EINVAL, kd_export(ev, 1U << 31));
	EXPECT_EQ(-EINVAL, kd_event_fd(ev, KD_EXPORT_NONBLOCK << 1));
}

TEST_F(share, export_each_call_a_new_fd)
{
	KD_AUTO(struct kd_obj) ev = event_new(self->ctx, 0);
	int fd1, fd2;

	ASSERT_NE(NULL, ev);
	fd1 = kd_export(ev, 0);
	fd2 = kd_export(ev, 0);
	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd2);
	/* Two open files: closing one leaves the other working. */
	EXPECT_NE(fd1, fd2);
	ASSERT_EQ(0, close(fd1));
	EXPECT_EQ(0, kd_event_signal(ev));
	EXPECT_EQ(POLLIN, revents_of(fd2));
	EXPECT_EQ(0, close(fd2));
}

TEST_F(share, export_kinds_that_cannot_be_shared)
{
	KD_AUTO(struct kd_obj) tok = NULL;
	KD_AUTO(struct kd_obj) grp = NULL;
	KD_AUTO(struct kd_obj) plain = NULL;
	int err;

	tok = kd_token_new(self->ctx, NULL, NULL, 7, &err);
	grp = kd_group_new(self->ctx, NULL, NULL, &err);
	plain = kd_obj_new(self->ctx, &plain_class, NULL, &err);
	ASSERT_NE(NULL, tok);
	ASSERT_NE(NULL, grp);
	ASSERT_NE(NULL, plain);
	EXPECT_EQ(-EOPNOTSUPP, kd_export(tok, 0));
	EXPECT_EQ(-EOPNOTSUPP, kd_export(grp, 0));
	EXPECT_EQ(-EOPNOTSUPP, kd_export(plain, 0));
	EXPECT_EQ(-EINVAL, kd_export(NULL, 0));
}

TEST_F(share, export_disposed)
{
	struct kd_obj *mem, *ev = event_new(self->ctx, 0);
	int err;

	ASSERT_NE(NULL, ev);
	EXPECT_EQ(1, kd_dispose(ev));
	EXPECT_EQ(-EIDRM, kd_event_fd(ev, 0));
	EXPECT_EQ(0, kd_obj_unref(ev));

	mem = kd_memory_new(self->ctx, NULL, NULL, 64, &err);
	ASSERT_NE(NULL, mem);
	EXPECT_EQ(1, kd_dispose(mem));
	EXPECT_EQ(-EIDRM, kd_export(mem, 0));
	EXPECT_EQ(0, kd_obj_unref(mem));
}

TEST_F(share, event_fd_of_another_kind)
{
	KD_AUTO(struct kd_obj) mem = NULL;
	int err;

	mem = kd_memory_new(self->ctx, NULL, NULL, 64, &err);
	ASSERT_NE(NULL, mem);
	EXPECT_EQ(-EOPNOTSUPP, kd_event_fd(mem, 0));
}

/*
 * kd_event_fd(): poll readiness, read, and EPOLLHUP when no table holds
 * the event any more.
 */
TEST_F(share, event_fd_polls_and_reads)
{
	KD_AUTO(struct kd_obj) ev = event_new(self->ctx, 0);
	uint64_t v = 0;
	int fd;

	ASSERT_NE(NULL, ev);
	fd = kd_event_fd(ev, KD_EXPORT_NONBLOCK);
	ASSERT_LE(0, fd) TH_LOG("kd_event_fd: %s", strerror(-fd));
	EXPECT_EQ(0, revents_of(fd));
	EXPECT_EQ(-1, read(fd, &v, sizeof(v)));
	EXPECT_EQ(EAGAIN, errno);

	EXPECT_EQ(0, kd_event_signal(ev));
	EXPECT_EQ(POLLIN, revents_of(fd));
	EXPECT_EQ(8, read(fd, &v, sizeof(v)));
	EXPECT_EQ(1, v);
	/* Manual reset: the read leaves it signaled. */
	EXPECT_EQ(POLLIN, revents_of(fd));
	EXPECT_EQ(0, kd_event_reset(ev));
	EXPECT_EQ(0, revents_of(fd));
	EXPECT_EQ(0, close(fd));
}

TEST_F(share, event_fd_read_consumes_auto_reset)
{
	KD_AUTO(struct kd_obj) ev = event_new(self->ctx,
					      KDISPOSE_EVENT_AUTO_RESET);
	uint64_t v = 0;
	int fd;

	ASSERT_NE(NULL, ev);
	fd = kd_event_fd(ev, KD_EXPORT_NONBLOCK);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, kd_event_signal(ev));
	EXPECT_EQ(POLLIN, revents_of(fd));
	EXPECT_EQ(8, read(fd, &v, sizeof(v)));
	EXPECT_EQ(1, v);
	EXPECT_EQ(-1, read(fd, &v, sizeof(v)));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-ETIMEDOUT, kd_event_wait(ev, 0));
	EXPECT_EQ(0, close(fd));
}

TEST_F(share, event_fd_hup_without_handles)
{
	struct kd_obj *ev = event_new(self->ctx, 0), *imp;
	int fd, err = 0;

	ASSERT_NE(NULL, ev);
	fd = kd_event_fd(ev, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, revents_of(fd) & POLLHUP);
	EXPECT_EQ(1, kd_dispose(ev));
	EXPECT_EQ(POLLHUP, revents_of(fd) & POLLHUP);

	/* An import names it in a table again: nobody hung up any more. */
	imp = kd_import(self->ctx2, NULL, NULL, fd, &err);
	ASSERT_NE(NULL, imp) TH_LOG("kd_import: %s", strerror(-err));
	EXPECT_EQ(0, revents_of(fd) & POLLHUP);
	EXPECT_EQ(0, kd_event_signal(imp));
	EXPECT_EQ(POLLIN, revents_of(fd));
	EXPECT_EQ(1, kd_dispose(imp));
	EXPECT_EQ(POLLHUP, revents_of(fd) & POLLHUP);
	EXPECT_EQ(0, kd_obj_unref(imp));
	EXPECT_EQ(0, kd_obj_unref(ev));
	EXPECT_EQ(0, close(fd));
}

/*
 * Imports
 */

/* The object of the variant's kind, in @ctx. */
static struct kd_obj *variant_new(const FIXTURE_VARIANT(import) *variant,
				  struct kd_ctx *ctx)
{
	int err = 0;

	if (variant->memory)
		return kd_memory_new(ctx, NULL, NULL, 4096, &err);
	return kd_event_new(ctx, NULL, NULL, 0, &err);
}

TEST_F(import, without_class_takes_the_kind)
{
	const struct kd_class *want = variant->memory ? &kd_memory_class :
							&kd_event_class;
	struct kd_obj *obj[2] = { variant_new(variant, self->ctx), NULL };
	struct kdispose_query q;
	int fd, err = 0;

	ASSERT_NE(NULL, obj[0]);
	fd = kd_export(obj[0], 0);
	ASSERT_LE(0, fd) TH_LOG("kd_export: %s", strerror(-fd));
	obj[1] = kd_import(self->ctx2, NULL, NULL, fd, &err);
	EXPECT_EQ(0, close(fd));
	ASSERT_NE(NULL, obj[1]) TH_LOG("kd_import: %s", strerror(-err));
	EXPECT_EQ(want, obj[1]->klass);
	EXPECT_TRUE(kd_obj_is_a(obj[1], want));
	ASSERT_EQ(0, kd_obj_query(obj[1], &q));
	EXPECT_EQ(variant->memory ? KDISPOSE_TYPE_MEMORY : KDISPOSE_TYPE_EVENT,
		  q.type);
	drop(obj, 2);
}

TEST_F(import, with_the_kind_class)
{
	const struct kd_class *cls = variant->memory ? &kd_memory_class :
						       &kd_event_class;
	struct kd_obj *obj[2] = { variant_new(variant, self->ctx), NULL };
	int fd, err = 0;

	ASSERT_NE(NULL, obj[0]);
	fd = kd_export(obj[0], 0);
	ASSERT_LE(0, fd);
	obj[1] = kd_import(self->ctx2, cls, NULL, fd, &err);
	EXPECT_EQ(0, close(fd));
	ASSERT_NE(NULL, obj[1]) TH_LOG("kd_import: %s", strerror(-err));
	EXPECT_EQ(cls, obj[1]->klass);
	drop(obj, 2);
}

TEST_F(import, of_another_kind)
{
	const struct kd_class *other = variant->memory ? &kd_event_class :
							 &kd_memory_class;
	struct kd_t_counters before, after;
	struct kd_obj *obj = variant_new(variant, self->ctx);
	int fd, err = 0;

	ASSERT_NE(NULL, obj);
	fd = kd_export(obj, 0);
	ASSERT_LE(0, fd);
	KD_T_ASSERT_COUNTERS(before);
	EXPECT_EQ(NULL, kd_import(self->ctx2, other, NULL, fd, &err));
	EXPECT_EQ(-EMEDIUMTYPE, err);
	err = 0;
	EXPECT_EQ(NULL, kd_import(self->ctx2, &kd_token_class, NULL, fd, &err));
	EXPECT_EQ(-EMEDIUMTYPE, err);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL, .created = 0);
	/* Nothing was left on the importer's finalizer list. */
	EXPECT_EQ(0, kd_ctx_close(self->ctx2));
	self->ctx2 = NULL;
	EXPECT_EQ(0, close(fd));
	drop(&obj, 1);
}

TEST_F(import, into_a_class_of_no_kind)
{
	struct kd_t_counters before, after;
	struct kd_obj *obj = variant_new(variant, self->ctx);
	int fd, err = 0;

	ASSERT_NE(NULL, obj);
	fd = kd_export(obj, 0);
	ASSERT_LE(0, fd);
	KD_T_ASSERT_COUNTERS(before);
	EXPECT_EQ(NULL, kd_import(self->ctx2, &plain_class, NULL, fd, &err));
	EXPECT_EQ(-EINVAL, err);
	err = 0;
	EXPECT_EQ(NULL,
		  kd_import(self->ctx2, &kd_object_class, NULL, fd, &err));
	EXPECT_EQ(-EINVAL, err);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL, .created = 0);
	EXPECT_EQ(0, close(fd));
	drop(&obj, 1);
}

TEST_F(share, import_derived_class_runs_its_chain)
{
	struct kd_obj *ev = event_new(self->ctx, 0), *imp;
	struct counted_event *ce;
	int fd, err = 0;

	ASSERT_NE(NULL, ev);
	fd = kd_export(ev, 0);
	ASSERT_LE(0, fd);
	imp = kd_import(self->ctx2, &counted_event_class, NULL, fd, &err);
	EXPECT_EQ(0, close(fd));
	ASSERT_NE(NULL, imp) TH_LOG("kd_import: %s", strerror(-err));
	ce = KD_OBJ_CAST(imp, &counted_event_class, struct counted_event);
	ASSERT_NE(NULL, ce);
	EXPECT_EQ(0, ce->runs);
	EXPECT_EQ(0, kd_event_signal(imp));

	EXPECT_EQ(1, kd_dispose(imp));
	EXPECT_EQ(1, ce->runs);
	EXPECT_TRUE(ce->disposing);
	EXPECT_EQ(0, kd_dispose(imp));
	EXPECT_EQ(1, ce->runs);
	/* That handle is gone; the object lives on through the exporter's. */
	EXPECT_EQ(-EIDRM, kd_raw_query(self->ctx2, handle_of(imp),
				       &(struct kdispose_query){ 0 }));
	EXPECT_EQ(-EIDRM, kd_event_wait(imp, 0));
	EXPECT_EQ(0, kd_event_wait(ev, 0));
	EXPECT_EQ(0, kd_obj_unref(imp));
	drop(&ev, 1);
}

/* On the importer's finalizer path the chain runs with disposing false. */
TEST_F(share, import_derived_class_finalized)
{
	struct kd_obj *ev = event_new(self->ctx, 0), *imp;
	struct counted_event *ce;
	int fd, err = 0;

	ASSERT_NE(NULL, ev);
	fd = kd_export(ev, 0);
	ASSERT_LE(0, fd);
	imp = kd_import(self->ctx2, &counted_event_class, NULL, fd, &err);
	EXPECT_EQ(0, close(fd));
	ASSERT_NE(NULL, imp) TH_LOG("kd_import: %s", strerror(-err));
	ce = (struct counted_event *)imp;
	ce->disposing = true;

	EXPECT_EQ(1, kd_ctx_close(self->ctx2));
	self->ctx2 = NULL;
	EXPECT_EQ(1, ce->runs);
	EXPECT_FALSE(ce->disposing);
	EXPECT_EQ(0, kd_event_signal(ev));
	EXPECT_EQ(0, kd_obj_unref(imp));
	drop(&ev, 1);
}

TEST_F(import, each_a_new_handle)
{
	struct kd_obj *obj[3] = { variant_new(variant, self->ctx) };
	uint64_t v = 0x1122334455667788ULL, r = 0;
	int fd, err = 0;

	ASSERT_NE(NULL, obj[0]);
	fd = kd_export(obj[0], 0);
	ASSERT_LE(0, fd);
	obj[1] = kd_import(self->ctx2, NULL, NULL, fd, &err);
	obj[2] = kd_import(self->ctx2, NULL, NULL, fd, &err);
	EXPECT_EQ(0, close(fd));
	ASSERT_NE(NULL, obj[1]);
	ASSERT_NE(NULL, obj[2]);
	EXPECT_NE(obj[1], obj[2]);
	EXPECT_NE(handle_of(obj[1]), handle_of(obj[2]));

	/* Disposing one import leaves the other working. */
	EXPECT_EQ(1, kd_dispose(obj[1]));
	if (variant->memory) {
		EXPECT_EQ(0, kd_memory_write(obj[2], 8, &v, sizeof(v)));
		EXPECT_EQ(0, kd_memory_read(obj[0], 8, &r, sizeof(r)));
		EXPECT_EQ(v, r);
	} else {
		EXPECT_EQ(0, kd_event_signal(obj[2]));
		EXPECT_EQ(0, kd_event_wait(obj[0], 0));
	}
	drop(obj, 3);
}

TEST_F(import, owner_cascade)
{
	struct kd_obj *obj[3] = { variant_new(variant, self->ctx) };
	int fd, err = 0;

	ASSERT_NE(NULL, obj[0]);
	obj[1] = kd_group_new(self->ctx2, NULL, NULL, &err);
	ASSERT_NE(NULL, obj[1]);
	fd = kd_export(obj[0], 0);
	ASSERT_LE(0, fd);
	obj[2] = kd_import(self->ctx2, NULL, obj[1], fd, &err);
	EXPECT_EQ(0, close(fd));
	ASSERT_NE(NULL, obj[2]) TH_LOG("kd_import: %s", strerror(-err));

	EXPECT_EQ(1, kd_dispose(obj[1]));
	EXPECT_EQ(1, kd_obj_is_disposed(obj[2]));
	EXPECT_EQ(-EIDRM, kd_raw_query(self->ctx2, handle_of(obj[2]),
				       &(struct kdispose_query){ 0 }));
	/* The exporter's name is untouched. */
	EXPECT_EQ(0, kd_obj_query(obj[0], &(struct kdispose_query){ 0 }));
	drop(obj, 3);
}

TEST_F(import, owner_of_another_context)
{
	struct kd_obj *obj[2] = { variant_new(variant, self->ctx) };
	struct kd_t_counters before, after;
	int fd, err = 0;

	ASSERT_NE(NULL, obj[0]);
	obj[1] = kd_group_new(self->ctx, NULL, NULL, &err);
	ASSERT_NE(NULL, obj[1]);
	fd = kd_export(obj[0], 0);
	ASSERT_LE(0, fd);
	KD_T_ASSERT_COUNTERS(before);
	EXPECT_EQ(NULL, kd_import(self->ctx2, NULL, obj[1], fd, &err));
	EXPECT_EQ(-EINVAL, err);
	/* Refused before anything reached the kernel. */
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL, .created = 0);
	EXPECT_EQ(0, close(fd));
	drop(obj, 2);
}

TEST_F(share, import_not_an_export_fd)
{
	int pipefd[2], err = 0;

	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	EXPECT_EQ(NULL, kd_import(self->ctx2, NULL, NULL, pipefd[0], &err));
	EXPECT_EQ(-EINVAL, err);
	err = 0;
	EXPECT_EQ(NULL, kd_import(self->ctx2, NULL, NULL, kd_ctx_fd(self->ctx),
				  &err));
	EXPECT_EQ(-EINVAL, err);
	EXPECT_EQ(0, close(pipefd[0]));
	EXPECT_EQ(0, close(pipefd[1]));
}

TEST_F(share, import_bad_fd)
{
	int err = 0;

	EXPECT_EQ(NULL, kd_import(self->ctx2, NULL, NULL, -1, &err));
	EXPECT_EQ(-EBADF, err);
	err = 0;
	EXPECT_EQ(NULL, kd_import(self->ctx2, NULL, NULL, INT_MAX, &err));
	EXPECT_EQ(-EBADF, err);
	err = 0;
	EXPECT_EQ(NULL, kd_import(NULL, NULL, NULL, 0, &err));
	EXPECT_EQ(-EINVAL, err);
}

/* The kernel label of an import is its call site, as for a constructor. */
TEST_F(import, label_is_call_site)
{
	struct kd_obj *obj[4] = { variant_new(variant, self->ctx) };
	char full[64], want[KDISPOSE_LABEL_LEN];
	struct kdispose_query q;
	unsigned int line;
	size_t len;
	int fd, err = 0;

	ASSERT_NE(NULL, obj[0]);
	fd = kd_export(obj[0], 0);
	ASSERT_LE(0, fd);
	line = __LINE__ + 1;
	obj[1] = kd_import(self->ctx2, NULL, NULL, fd, &err);
	obj[2] = (kd_import)(self->ctx2, NULL, NULL, fd, &err);
	obj[3] = (kd_import)(self->ctx2, &counted_event_class, NULL, fd, &err);
	EXPECT_EQ(0, close(fd));
	ASSERT_NE(NULL, obj[1]);
	ASSERT_NE(NULL, obj[2]);

	snprintf(full, sizeof(full), "lib_share_test.c:%u", line);
	len = strlen(full);
	snprintf(want, sizeof(want), "%s",
		 full + (len > KDISPOSE_LABEL_LEN - 1 ?
			 len - (KDISPOSE_LABEL_LEN - 1) : 0));
	ASSERT_EQ(0, kd_obj_query(obj[1], &q));
	EXPECT_STREQ(want, q.label);
	ASSERT_EQ(0, kd_obj_query(obj[2], &q));
	EXPECT_STREQ("kd_import", q.label);
	if (variant->memory) {
		EXPECT_EQ(NULL, obj[3]);
	} else {
		ASSERT_NE(NULL, obj[3]);
		ASSERT_EQ(0, kd_obj_query(obj[3], &q));
		EXPECT_STREQ("counted_event", q.label);
	}
	drop(obj, 4);
}

static int init_fails(struct kd_obj *obj __attribute__((unused)),
		      void *arg __attribute__((unused)))
{
	return -ENOTRECOVERABLE;
}

static int init_signals(struct kd_obj *obj, void *arg)
{
	*(int *)arg = kd_event_signal(obj);
	return 0;
}

TEST_F(share, import_full_init_hook)
{
	struct kd_obj *obj[2] = { event_new(self->ctx, 0) };
	struct kd_t_counters before, after;
	int fd, err = 0, hook = 1;

	ASSERT_NE(NULL, obj[0]);
	fd = kd_export(obj[0], 0);
	ASSERT_LE(0, fd);

	/* A failing hook: the new handle is disposed, nothing is left. */
	KD_T_ASSERT_COUNTERS(before);
	EXPECT_EQ(NULL, kd_import_full(self->ctx2, NULL, NULL, fd, init_fails,
				       NULL, __FILE__, __LINE__, &err));
	EXPECT_EQ(-ENOTRECOVERABLE, err);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_EVENT, .created = 1,
			  .disposed = 1, .released = 1);

	/* The hook runs on the imported kernel object. */
	obj[1] = kd_import_full(self->ctx2, NULL, NULL, fd, init_signals, &hook,
				__FILE__, __LINE__, &err);
	ASSERT_NE(NULL, obj[1]) TH_LOG("kd_import_full: %s", strerror(-err));
	EXPECT_EQ(0, hook);
	EXPECT_EQ(0, kd_event_wait(obj[0], 0));
	EXPECT_EQ(0, close(fd));
	drop(obj, 2);
}

/*
 * The importer's kd_ctx_close() finalizes the imported object like any
 * other; the object lives on through the exporter's handle.
 */
TEST_F(import, ctx_close_finalizes_imports)
{
	struct kd_obj *obj[2] = { variant_new(variant, self->ctx) };
	struct kd_t_counters before, after;
	int fd, err = 0;

	ASSERT_NE(NULL, obj[0]);
	fd = kd_export(obj[0], 0);
	ASSERT_LE(0, fd);
	obj[1] = kd_import(self->ctx2, NULL, NULL, fd, &err);
	EXPECT_EQ(0, close(fd));
	ASSERT_NE(NULL, obj[1]);

	KD_T_ASSERT_COUNTERS(before);
	EXPECT_EQ(1, kd_ctx_close(self->ctx2));
	self->ctx2 = NULL;
	KD_T_ASSERT_COUNTERS(after);
	/* The counters count handles: the importer's is released too. */
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL, .finalized = 1,
			  .live = -1, .released = 1);
	EXPECT_EQ(1, kd_obj_is_disposed(obj[1]));
	EXPECT_EQ(-EIDRM, kd_export(obj[1], 0));
	EXPECT_EQ(0, kd_obj_query(obj[0], &(struct kdispose_query){ 0 }));
	EXPECT_EQ(0, kd_obj_unref(obj[1]));
	drop(obj, 1);
}

/* A memory buffer imported and mapped in two tables shares its pages. */
TEST_F(share, import_memory_maps_the_same_pages)
{
	struct kd_obj *obj[2] = { NULL };
	uint64_t size = 0;
	char *a, *b;
	int fd, err = 0;

	obj[0] = kd_memory_new(self->ctx, NULL, NULL, 8192, &err);
	ASSERT_NE(NULL, obj[0]);
	fd = kd_export(obj[0], 0);
	ASSERT_LE(0, fd);
	obj[1] = kd_import(self->ctx2, NULL, NULL, fd, &err);
	EXPECT_EQ(0, close(fd));
	ASSERT_NE(NULL, obj[1]);
	a = kd_memory_map(obj[0], NULL, &err);
	b = kd_memory_map(obj[1], &size, &err);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b) TH_LOG("kd_memory_map: %s", strerror(-err));
	EXPECT_EQ(8192, size);
	strcpy(a + 5000, "through one table");
	EXPECT_STREQ("through one table", b + 5000);
	drop(obj, 2);
}

/*
 * Across fork: the child opens its own context, imports the fd it
 * inherited and answers through the shared object.
 */
#define FORK_MAGIC 0x5eedf00dULL

TEST_F(share, fork_round_trip_memory)
{
	struct kd_obj *mem = NULL;
	uint64_t v = FORK_MAGIC;
	int fd, err = 0, status;
	pid_t pid;

	mem = kd_memory_new(self->ctx, NULL, NULL, 4096, &err);
	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, kd_memory_write(mem, 0, &v, sizeof(v)));
	fd = kd_export(mem, 0);
	ASSERT_LE(0, fd);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct kd_ctx *ctx = kd_ctx_open(0, &err);
		struct kd_obj *imp;
		uint64_t got = 0;

		if (!ctx)
			_exit(10);
		imp = kd_import(ctx, NULL, NULL, fd, &err);
		if (!imp)
			_exit(11);
		if (imp->klass != &kd_memory_class)
			_exit(12);
		if (kd_memory_read(imp, 0, &got, sizeof(got)) || got != v)
			_exit(13);
		got = ~v;
		if (kd_memory_write(imp, 8, &got, sizeof(got)))
			_exit(14);
		if (kd_dispose(imp) != 1)
			_exit(15);
		kd_obj_unref(imp);
		_exit(kd_ctx_close(ctx) == 0 ? 0 : 16);
	}
	EXPECT_EQ(0, close(fd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	v = 0;
	EXPECT_EQ(0, kd_memory_read(mem, 8, &v, sizeof(v)));
	EXPECT_EQ(~FORK_MAGIC, v);
	drop(&mem, 1);
}

/*
 * The child waits for any of its own event and the parent's imported one;
 * the parent signals its event and the child's wait returns its index.
 * Nothing sleeps: the child's wait returns whenever the signal arrives.
 */
TEST_F(share, fork_wait_any_on_imported_event)
{
	struct kd_obj *ev = event_new(self->ctx, 0);
	int fd, err = 0, status;
	pid_t pid;

	ASSERT_NE(NULL, ev);
	fd = kd_export(ev, 0);
	ASSERT_LE(0, fd);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct kd_ctx *ctx = kd_ctx_open(0, &err);
		struct kd_obj *objs[2];
		unsigned int index = 99;
		int ret;

		if (!ctx)
			_exit(10);
		objs[0] = kd_event_new(ctx, NULL, NULL, 0, &err);
		objs[1] = kd_import(ctx, &kd_event_class, NULL, fd, &err);
		if (!objs[0] || !objs[1])
			_exit(11);
		ret = kd_wait_any(objs, 2, KD_WAIT_FOREVER, &index);
		/* Finalized by the close: 2. */
		if (kd_ctx_close(ctx) != 2)
			_exit(12);
		_exit(ret == 1 && index == 99 ? 0 : 13);
	}
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, kd_event_signal(ev));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	drop(&ev, 1);
}

/*
 * Waits on many
 */

TEST_F(share, wait_any_lowest_signaled)
{
	struct kd_obj *ev[3] = {
		event_new(self->ctx, 0),
		event_new(self->ctx, KDISPOSE_EVENT_AUTO_RESET),
		event_new(self->ctx, KDISPOSE_EVENT_AUTO_RESET),
	};

	ASSERT_NE(NULL, ev[0]);
	ASSERT_NE(NULL, ev[1]);
	ASSERT_NE(NULL, ev[2]);
	EXPECT_EQ(0, kd_event_signal(ev[2]));
	EXPECT_EQ(0, kd_event_signal(ev[1]));
	EXPECT_EQ(1, kd_wait_any(ev, 3, 0, NULL));
	/* Only the winner's signal was consumed. */
	EXPECT_EQ(-ETIMEDOUT, kd_event_wait(ev[1], 0));
	EXPECT_EQ(0, kd_event_wait(ev[2], 0));
	drop(ev, 3);
}

TEST_F(share, wait_any_timeout)
{
	struct kd_obj *ev[2] = { event_new(self->ctx, 0),
				 event_new(self->ctx, 0) };
	unsigned int index = 99;

	ASSERT_NE(NULL, ev[0]);
	ASSERT_NE(NULL, ev[1]);
	EXPECT_EQ(-ETIMEDOUT, kd_wait_any(ev, 2, 0, &index));
	EXPECT_EQ(-ETIMEDOUT, kd_wait_any(ev, 2, 1000000, &index));
	EXPECT_EQ(99, index);
	drop(ev, 2);
}

TEST_F(share, wait_all_needs_every_event)
{
	struct kd_obj *ev[2] = {
		event_new(self->ctx, KDISPOSE_EVENT_AUTO_RESET),
		event_new(self->ctx, KDISPOSE_EVENT_AUTO_RESET),
	};

	ASSERT_NE(NULL, ev[0]);
	ASSERT_NE(NULL, ev[1]);
	EXPECT_EQ(0, kd_event_signal(ev[0]));
	EXPECT_EQ(-ETIMEDOUT, kd_wait_all(ev, 2, 0, NULL));
	/* Nothing consumed by the failed wait. */
	EXPECT_EQ(0, kd_event_signal(ev[1]));
	EXPECT_EQ(0, kd_wait_all(ev, 2, 0, NULL));
	/* Both consumed by the one that succeeded. */
	EXPECT_EQ(-ETIMEDOUT, kd_wait_any(ev, 2, 0, NULL));
	drop(ev, 2);
}

TEST_F(share, wait_all_same_event_twice)
{
	struct kd_obj *obj[3] = { event_new(self->ctx, KDISPOSE_EVENT_SIGNALED) };
	struct kd_obj *twice[2];
	unsigned int index = 99;
	int fd, err = 0;

	ASSERT_NE(NULL, obj[0]);
	twice[0] = obj[0];
	twice[1] = obj[0];
	EXPECT_EQ(-EINVAL, kd_wait_all(twice, 2, 0, &index));
	EXPECT_EQ(1, index);

	/* Two imports of one event are the same event too. */
	fd = kd_export(obj[0], 0);
	ASSERT_LE(0, fd);
	obj[1] = kd_import(self->ctx2, NULL, NULL, fd, &err);
	obj[2] = kd_import(self->ctx2, NULL, NULL, fd, &err);
	EXPECT_EQ(0, close(fd));
	ASSERT_NE(NULL, obj[1]);
	ASSERT_NE(NULL, obj[2]);
	index = 99;
	EXPECT_EQ(-EINVAL, kd_wait_all(obj + 1, 2, 0, &index));
	EXPECT_EQ(1, index);
	/* For any, the same event twice is fine. */
	EXPECT_EQ(0, kd_wait_any(obj + 1, 2, 0, NULL));
	drop(obj, 3);
}

TEST_F(share, wait_disposed_event)
{
	struct kd_obj *ev[3] = {
		event_new(self->ctx, 0),
		event_new(self->ctx, 0),
		event_new(self->ctx, KDISPOSE_EVENT_SIGNALED),
	};
	unsigned int index = 99;

	ASSERT_NE(NULL, ev[0]);
	ASSERT_NE(NULL, ev[1]);
	ASSERT_NE(NULL, ev[2]);
	EXPECT_EQ(1, kd_dispose(ev[1]));
	EXPECT_EQ(-EIDRM, kd_wait_any(ev, 3, 0, &index));
	EXPECT_EQ(1, index);
	index = 99;
	EXPECT_EQ(-EIDRM, kd_wait_all(ev, 3, 0, &index));
	EXPECT_EQ(1, index);
	/* The index is that of the array passed. */
	index = 99;
	EXPECT_EQ(-EIDRM, kd_wait_any(ev + 1, 2, 0, &index));
	EXPECT_EQ(0, index);
	EXPECT_EQ(0, kd_wait_any(ev + 2, 1, 0, NULL));
	drop(ev, 3);
}

struct many_waiter {
	struct kd_obj **events;
	unsigned int n;
	bool all;
	pid_t tid;
	unsigned int index;
	int ret;
};

static void *many_wait_forever(void *arg)
{
	struct many_waiter *w = arg;

	w->tid = syscall(SYS_gettid);
	if (w->all)
		w->ret = kd_wait_all(w->events, w->n, KD_WAIT_FOREVER,
				     &w->index);
	else
		w->ret = kd_wait_any(w->events, w->n, KD_WAIT_FOREVER,
				     &w->index);
	return NULL;
}

/*
 * Return: true once thread @tid sleeps (state S in its stat), within 10
 * seconds. A thread that sleeps in a wait forever is in the kernel's
 * wait, so what ends it comes through the kernel.
 */
static bool thread_sleeps(pid_t tid)
{
	uint64_t deadline = kd_t_now_ns() + 10000000000ULL;
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	do {
		if (kd_t_read_file(path, buf, sizeof(buf)) > 0) {
			p = strrchr(buf, ')');
			if (p && p[1] == ' ' && p[2] == 'S')
				return true;
		}
		usleep(10000);
	} while (kd_t_now_ns() < deadline);
	return false;
}

/* A dispose from another thread ends a wait in progress, with the index. */
TEST_F(share, wait_woken_by_dispose)
{
	struct kd_obj *ev[3] = { event_new(self->ctx, 0),
				 event_new(self->ctx, 0),
				 event_new(self->ctx, 0) };
	struct many_waiter w = { .events = ev, .n = 3, .index = 99 };
	pthread_t th;

	ASSERT_NE(NULL, ev[0]);
	ASSERT_NE(NULL, ev[1]);
	ASSERT_NE(NULL, ev[2]);
	ASSERT_EQ(0, pthread_create(&th, NULL, many_wait_forever, &w));
	while (!__atomic_load_n(&w.tid, __ATOMIC_ACQUIRE))
		usleep(1000);
	EXPECT_TRUE(thread_sleeps(w.tid));
	EXPECT_EQ(1, kd_dispose(ev[2]));
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(-EIDRM, w.ret);
	EXPECT_EQ(2, w.index);
	drop(ev, 3);
}

/* A wait for all ends when the last event is signaled from elsewhere. */
TEST_F(share, wait_all_woken_by_last_signal)
{
	struct kd_obj *ev[2] = { event_new(self->ctx, 0),
				 event_new(self->ctx, 0) };
	struct many_waiter w = { .events = ev, .n = 2, .all = true,
				 .index = 99 };
	pthread_t th;

	ASSERT_NE(NULL, ev[0]);
	ASSERT_NE(NULL, ev[1]);
	EXPECT_EQ(0, kd_event_signal(ev[1]));
	ASSERT_EQ(0, pthread_create(&th, NULL, many_wait_forever, &w));
	while (!__atomic_load_n(&w.tid, __ATOMIC_ACQUIRE))
		usleep(1000);
	EXPECT_TRUE(thread_sleeps(w.tid));
	EXPECT_EQ(0, kd_event_signal(ev[0]));
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(99, w.index);
	drop(ev, 2);
}

TEST_F(share, wait_events_of_two_contexts)
{
	struct kd_obj *ev[2] = { event_new(self->ctx, KDISPOSE_EVENT_SIGNALED),
				 event_new(self->ctx2,
					   KDISPOSE_EVENT_SIGNALED) };
	unsigned int index = 99;

	ASSERT_NE(NULL, ev[0]);
	ASSERT_NE(NULL, ev[1]);
	EXPECT_EQ(-EINVAL, kd_wait_any(ev, 2, 0, &index));
	EXPECT_EQ(1, index);
	index = 99;
	EXPECT_EQ(-EINVAL, kd_wait_all(ev, 2, 0, &index));
	EXPECT_EQ(1, index);
	/* The events were released: each still disposes (1). */
	drop(ev, 2);
}

TEST_F(share, wait_not_an_event)
{
	struct kd_obj *obj[3] = { event_new(self->ctx, 0) };
	unsigned int index = 99;
	int err = 0;

	obj[1] = kd_token_new(self->ctx, NULL, NULL, 1, &err);
	obj[2] = kd_obj_new(self->ctx, &plain_class, NULL, &err);
	ASSERT_NE(NULL, obj[0]);
	ASSERT_NE(NULL, obj[1]);
	ASSERT_NE(NULL, obj[2]);
	EXPECT_EQ(-EOPNOTSUPP, kd_wait_any(obj, 2, 0, &index));
	EXPECT_EQ(1, index);
	index = 99;
	EXPECT_EQ(-EOPNOTSUPP, kd_wait_all((struct kd_obj *[]){ obj[0], obj[2] },
					   2, 0, &index));
	EXPECT_EQ(1, index);
	drop(obj, 3);
}

TEST_F(share, wait_bad_arguments)
{
	struct kd_obj *ev[KDISPOSE_WAIT_MAX + 1] = { NULL };
	unsigned int index = 99, i;

	for (i = 0; i < KDISPOSE_WAIT_MAX + 1; i++) {
		ev[i] = event_new(self->ctx, KDISPOSE_EVENT_SIGNALED);
		ASSERT_NE(NULL, ev[i]);
	}
	EXPECT_EQ(-EINVAL, kd_wait_any(ev, 0, 0, &index));
	EXPECT_EQ(-EINVAL, kd_wait_any(ev, KDISPOSE_WAIT_MAX + 1, 0, &index));
	EXPECT_EQ(-EINVAL, kd_wait_all(NULL, 1, 0, &index));
	EXPECT_EQ(99, index);
	/* NULL in the array is a bad object, with its index. */
	EXPECT_EQ(-EINVAL,
		  kd_wait_any((struct kd_obj *[]){ ev[0], NULL }, 2, 0, &index));
	EXPECT_EQ(1, index);
	/* The most a wait takes. */
	EXPECT_EQ(0, kd_wait_all(ev, KDISPOSE_WAIT_MAX, 0, NULL));
	drop(ev, KDISPOSE_WAIT_MAX + 1);
}

TEST_HARNESS_MAIN
