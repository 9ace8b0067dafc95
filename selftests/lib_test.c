// SPDX-License-Identifier: GPL-2.0
/*
 * lib_test: libkdispose against the real module.
 *
 * The object model (idempotent and thread-safe dispose, the class chain in
 * both directions, forgotten chain-ups, the finalizer path of
 * kd_ctx_close() checked against the module counters, safe-handle
 * deferral, use after dispose, KD_AUTO/KD_TAKE, cascade), every kind's
 * wrappers, and batch and io_uring dispose with the ioctl fallback.
 *
 * Then the API of version 1.1: the KDISPOSE_DEBUG reports (captured from
 * stderr), call sites passed through a factory of the caller's (read back
 * with the kernel's query), kd_prep_dispose() in linked SQEs, init hooks
 * that fail halfway, checked casts, KD_AUTO_UNREF, the version checks,
 * and what kd_ctx_close() counts and kd_ctx_fd() polls.
 *
 * Last, what the fast path shares: memory that constructors reuse, the
 * kinds' own classes disposed without a class chain, and threads that
 * create and dispose on one context at once.
 */
#include "kdispose_test.h"

#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "kdispose.h"

/*
 * Test classes: test_c derives from test_b, test_b from test_a, test_a
 * from the token kind. Each level logs its call; test_b can be told to
 * forget its chain-up or to chain up twice.
 */
#define LOG_MAX 16

struct call_log {
	int n;
	char who[LOG_MAX];
	bool disposing[LOG_MAX];
	int token_get[LOG_MAX];	/* kd_token_get() at entry: kernel alive? */
};

enum flaw {
	FLAW_NONE,
	FLAW_B_FORGETS,
	FLAW_B_TWICE,
};

struct tobj {
	struct kd_obj obj;
	struct call_log *log;
	enum flaw flaw;
};

static void log_call(struct kd_obj *obj, char who, bool disposing)
{
	struct tobj *t = (struct tobj *)obj;
	struct call_log *l = t->log;
	uint64_t v;

	if (!l || l->n >= LOG_MAX)
		return;
	l->who[l->n] = who;
	l->disposing[l->n] = disposing;
	l->token_get[l->n] = kd_token_get(obj, &v);
	l->n++;
}

static const struct kd_class test_a_class, test_b_class, test_c_class;

static void test_a_dispose(struct kd_obj *obj, bool disposing)
{
	log_call(obj, 'A', disposing);
	kd_chain_dispose(&test_a_class, obj, disposing);
}

static void test_b_dispose(struct kd_obj *obj, bool disposing)
{
	struct tobj *t = (struct tobj *)obj;

	log_call(obj, 'B', disposing);
	if (t->flaw == FLAW_B_FORGETS)
		return;
	kd_chain_dispose(&test_b_class, obj, disposing);
	if (t->flaw == FLAW_B_TWICE)
		kd_chain_dispose(&test_b_class, obj, disposing);
}

static void test_c_dispose(struct kd_obj *obj, bool disposing)
{
	log_call(obj, 'C', disposing);
	kd_chain_dispose(&test_c_class, obj, disposing);
}

static const struct kd_class test_a_class = {
	.name = "test_a",
	.size = sizeof(struct tobj),
	.parent = &kd_token_class,
	.dispose = test_a_dispose,
};

static const struct kd_class test_b_class = {
	.name = "test_b",
	.size = sizeof(struct tobj),
	.parent = &test_a_class,
	.dispose = test_b_dispose,
};

static const struct kd_class test_c_class = {
	.name = "test_c",
	.size = sizeof(struct tobj),
	.parent = &test_b_class,
	.dispose = test_c_dispose,
};

static struct tobj *tobj_new(struct kd_ctx *ctx, struct call_log *log,
			     enum flaw flaw, int *err)
{
	struct tobj *t;

	t = (struct tobj *)kd_token_new(ctx, &test_c_class, NULL, 7, err);
	if (t) {
		t->log = log;
		t->flaw = flaw;
	}
	return t;
}

/* Library-only objects that record the order in which they are disposed. */
struct order {
	int n;
	int id[64];
};

struct node {
	struct kd_obj obj;
	struct order *order;
	int id;
};

static const struct kd_class node_class;

static void node_dispose(struct kd_obj *obj, bool disposing)
{
	struct node *n = (struct node *)obj;

	if (n->order && n->order->n < 64)
		n->order->id[n->order->n++] = n->id;
	kd_chain_dispose(&node_class, obj, disposing);
}

static const struct kd_class node_class = {
	.name = "test_node",
	.size = sizeof(struct node),
	.dispose = node_dispose,
};

/* A token kind whose dispose counts its runs and takes its time. */
static atomic_int counted_runs;
static const struct kd_class counted_class;

static void counted_dispose(struct kd_obj *obj, bool disposing)
{
	atomic_fetch_add(&counted_runs, 1);
	usleep(2000);
	kd_chain_dispose(&counted_class, obj, disposing);
}

static const struct kd_class counted_class = {
	.name = "test_counted",
	.size = sizeof(struct kd_obj),
	.parent = &kd_token_class,
	.dispose = counted_dispose,
};

static uint64_t handle_of(struct kd_obj *obj)
{
	return kd_handle_value(kd_obj_handle(obj));
}

FIXTURE(lib) {
	struct kd_ctx *ctx;	/* NULL once a test closed it */
};

FIXTURE_SETUP(lib)
{
	int err = 0;

	self->ctx = kd_ctx_open(0, &err);
	ASSERT_NE(NULL, self->ctx) TH_LOG("kd_ctx_open: %s", strerror(-err));
}

FIXTURE_TEARDOWN(lib)
{
	if (self->ctx)
		EXPECT_LE(0, kd_ctx_close(self->ctx));
}

TEST(ctx_open_bad_flags)
{
	int err = 0;

	EXPECT_EQ(NULL, kd_ctx_open(1U << 31, &err));
	EXPECT_EQ(-EINVAL, err);
	EXPECT_EQ(-EINVAL, kd_ctx_close(NULL));
}

TEST_F(lib, dispose_idempotent)
{
	struct kdispose_query q;
	struct kd_obj *tok;
	uint64_t h;
	int err;

	tok = kd_token_new(self->ctx, NULL, NULL, 42, &err);
	ASSERT_NE(NULL, tok);
	h = handle_of(tok);
	EXPECT_EQ(0, kd_raw_query(self->ctx, h, &q));
	EXPECT_EQ(0, kd_obj_is_disposed(tok));

	EXPECT_EQ(1, kd_dispose(tok));
	EXPECT_EQ(1, kd_obj_is_disposed(tok));
	EXPECT_EQ(-EIDRM, kd_raw_query(self->ctx, h, &q));
	EXPECT_EQ(0, kd_dispose(tok));
	EXPECT_EQ(0, kd_close(tok));
	EXPECT_EQ(0, kd_obj_unref(tok));
	EXPECT_EQ(-EINVAL, kd_dispose(NULL));
}

struct race {
	pthread_barrier_t start;
	struct kd_obj *obj;
	atomic_int ones, zeros, others;
};

static void *race_dispose(void *arg)
{
	struct race *r = arg;
	int ret;

	pthread_barrier_wait(&r->start);
	ret = kd_dispose(r->obj);
	if (ret == 1)
		atomic_fetch_add(&r->ones, 1);
	else if (ret == 0)
		atomic_fetch_add(&r->zeros, 1);
	else
		atomic_fetch_add(&r->others, 1);
	return NULL;
}

TEST_F(lib, dispose_8_threads_one_winner)
{
	pthread_t th[8];
	struct race r;
	int round, i, err;

	for (round = 0; round < 20; round++) {
		memset(&r, 0, sizeof(r));
		atomic_store(&counted_runs, 0);
		r.obj = kd_token_new(self->ctx, &counted_class, NULL, round,
				     &err);
		ASSERT_NE(NULL, r.obj);
		ASSERT_EQ(0, pthread_barrier_init(&r.start, NULL, 8));
		for (i = 0; i < 8; i++)
			ASSERT_EQ(0, pthread_create(&th[i], NULL, race_dispose,
						    &r));
		for (i = 0; i < 8; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&r.start);
		EXPECT_EQ(1, atomic_load(&r.ones));
		EXPECT_EQ(7, atomic_load(&r.zeros));
		EXPECT_EQ(0, atomic_load(&r.others));
		EXPECT_EQ(1, atomic_load(&counted_runs));
		EXPECT_EQ(0, kd_raw_dispose(self->ctx, handle_of(r.obj)));
		kd_obj_unref(r.obj);
	}
}

TEST_F(lib, chain_order_disposing_true)
{
	struct call_log log = { 0 };
	struct tobj *t;
	int err;

	t = tobj_new(self->ctx, &log, FLAW_NONE, &err);
	ASSERT_NE(NULL, t);
	ASSERT_EQ(1, kd_dispose(&t->obj));
	ASSERT_EQ(3, log.n);
	EXPECT_EQ('C', log.who[0]);
	EXPECT_EQ('B', log.who[1]);
	EXPECT_EQ('A', log.who[2]);
	for (int i = 0; i < 3; i++) {
		EXPECT_TRUE(log.disposing[i]);
		/* The kind's dispose comes last: the kernel object is alive. */
		EXPECT_EQ(0, log.token_get[i]);
	}
	EXPECT_TRUE(kd_handle_is_closed(kd_obj_handle(&t->obj)));
	EXPECT_EQ(0, kd_dispose(&t->obj));
	EXPECT_EQ(3, log.n);
	kd_obj_unref(&t->obj);
}

TEST_F(lib, chain_order_finalizer)
{
	struct call_log log = { 0 };
	struct tobj *t;
	int err;

	t = tobj_new(self->ctx, &log, FLAW_NONE, &err);
	ASSERT_NE(NULL, t);
	EXPECT_EQ(1, kd_ctx_close(self->ctx));
	self->ctx = NULL;
	ASSERT_EQ(3, log.n);
	EXPECT_EQ('C', log.who[0]);
	EXPECT_EQ('B', log.who[1]);
	EXPECT_EQ('A', log.who[2]);
	for (int i = 0; i < 3; i++) {
		EXPECT_FALSE(log.disposing[i]);
		EXPECT_EQ(0, log.token_get[i]);
	}
	/* Finalized: disposing it now does nothing, using it fails. */
	EXPECT_EQ(1, kd_obj_is_disposed(&t->obj));
	EXPECT_EQ(0, kd_dispose(&t->obj));
	EXPECT_EQ(-EIDRM, kd_token_set(&t->obj, 1));
	EXPECT_EQ(3, log.n);
	kd_obj_unref(&t->obj);
}

TEST_F(lib, chain_up_forgotten)
{
	struct call_log log = { 0 };
	struct kdispose_query q;
	struct tobj *t;
	int err;

	t = tobj_new(self->ctx, &log, FLAW_B_FORGETS, &err);
	ASSERT_NE(NULL, t);
	EXPECT_EQ(-EPROTO, kd_dispose(&t->obj));
	/* The library ran the rest of the chain for B. */
	ASSERT_EQ(3, log.n);
	EXPECT_EQ('C', log.who[0]);
	EXPECT_EQ('B', log.who[1]);
	EXPECT_EQ('A', log.who[2]);
	EXPECT_EQ(-EIDRM, kd_raw_query(self->ctx, handle_of(&t->obj), &q));
	EXPECT_EQ(0, kd_dispose(&t->obj));
	kd_obj_unref(&t->obj);
}

TEST_F(lib, chain_up_twice)
{
	struct call_log log = { 0 };
	struct tobj *t;
	int err;

	t = tobj_new(self->ctx, &log, FLAW_B_TWICE, &err);
	ASSERT_NE(NULL, t);
	EXPECT_EQ(-EPROTO, kd_dispose(&t->obj));
	ASSERT_EQ(3, log.n);
	EXPECT_EQ('A', log.who[2]);
	kd_obj_unref(&t->obj);
}

TEST_F(lib, chain_up_forgotten_finalizer)
{
	struct call_log log = { 0 };
	struct tobj *t;
	int err;

	t = tobj_new(self->ctx, &log, FLAW_B_FORGETS, &err);
	ASSERT_NE(NULL, t);
	EXPECT_EQ(1, kd_ctx_close(self->ctx));
	self->ctx = NULL;
	ASSERT_EQ(3, log.n);
	EXPECT_EQ('A', log.who[2]);
	EXPECT_FALSE(log.disposing[2]);
	kd_obj_unref(&t->obj);
}

TEST(bad_classes)
{
	static const struct kd_class small = {
		.name = "small",
		.size = sizeof(struct kd_obj) - 1,
	};
	static const struct kd_class shrinks = {
		.name = "shrinks",
		.size = sizeof(struct kd_obj),
		.parent = &test_c_class,
	};
	struct kd_ctx *ctx;
	int err = 0;

	ctx = kd_ctx_open(0, &err);
	ASSERT_NE(NULL, ctx);
	EXPECT_EQ(NULL, kd_obj_new(ctx, &small, NULL, &err));
	EXPECT_EQ(-EINVAL, err);
	EXPECT_EQ(NULL, kd_obj_new(ctx, NULL, NULL, &err));
	EXPECT_EQ(-EINVAL, err);
	/* A kind's class needs its kind's constructor. */
	EXPECT_EQ(NULL, kd_obj_new(ctx, &kd_token_class, NULL, &err));
	EXPECT_EQ(-EINVAL, err);
	EXPECT_EQ(NULL, kd_memory_new(ctx, &test_c_class, NULL, 64, &err));
	EXPECT_EQ(-EINVAL, err);
	EXPECT_EQ(NULL, kd_token_new(ctx, &shrinks, NULL, 0, &err));
	EXPECT_EQ(-EINVAL, err);
	EXPECT_EQ(0, kd_ctx_close(ctx));
}

TEST_F(lib, ctx_close_finalizes_and_counters_agree)
{
	struct kd_t_counters before, after;
	struct call_log logs[50] = { 0 };
	struct tobj *t[50];
	int i, err, nfinal = 0;

	KD_T_ASSERT_COUNTERS(before);
	for (i = 0; i < 50; i++) {
		t[i] = tobj_new(self->ctx, &logs[i], FLAW_NONE, &err);
		ASSERT_NE(NULL, t[i]);
	}
	for (i = 0; i < 50; i += 5)
		EXPECT_EQ(1, kd_dispose(&t[i]->obj));
	EXPECT_EQ(40, kd_ctx_close(self->ctx));
	self->ctx = NULL;
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .created = 50, .disposed = 10, .finalized = 40,
			  .released = 50);

	for (i = 0; i < 50; i++) {
		ASSERT_EQ(3, logs[i].n);
		EXPECT_EQ(i % 5 == 0, logs[i].disposing[0]);
		EXPECT_EQ(i % 5 == 0, logs[i].disposing[2]);
		nfinal += !logs[i].disposing[0];
		kd_obj_unref(&t[i]->obj);
	}
	EXPECT_EQ(40, nfinal);
}

TEST_F(lib, ctx_close_unreferenced_objects)
{
	struct kd_obj *obj;
	int i, err;

	/* Dropping the caller's reference does not dispose: close does. */
	for (i = 0; i < 10; i++) {
		obj = kd_token_new(self->ctx, NULL, NULL, i, &err);
		ASSERT_NE(NULL, obj);
		EXPECT_EQ(0, kd_obj_unref(obj));
	}
	EXPECT_EQ(10, kd_ctx_close(self->ctx));
	self->ctx = NULL;
}

TEST_F(lib, ctx_close_waits_for_acquired_handle)
{
	struct kd_t_counters before, mid, after;
	struct kd_handle *h;
	struct kd_obj *tok;
	int fd, err;

	tok = kd_token_new(self->ctx, NULL, NULL, 1, &err);
	ASSERT_NE(NULL, tok);
	h = kd_obj_handle(tok);
	fd = kd_ctx_fd(self->ctx);
	ASSERT_EQ(0, kd_handle_acquire(h));
	KD_T_ASSERT_COUNTERS(before);

	EXPECT_EQ(1, kd_ctx_close(self->ctx));
	self->ctx = NULL;
	/* The acquired handle keeps the file open: not finalized yet. */
	EXPECT_LE(0, fcntl(fd, F_GETFD));
	KD_T_ASSERT_COUNTERS(mid);
	KD_T_EXPECT_DELTA(&before, &mid, KDISPOSE_TYPE_TOKEN, .live = 0);
	EXPECT_TRUE(kd_handle_is_closed(h));

	EXPECT_EQ(0, kd_handle_release(h));
	EXPECT_EQ(-1, fcntl(fd, F_GETFD));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .finalized = 1, .live = -1, .released = 1);
	kd_obj_unref(tok);
}

TEST_F(lib, safe_handle_deferral)
{
	struct kdispose_query q;
	struct kd_handle *h;
	struct kd_obj *tok;
	uint64_t v;
	int err;

	tok = kd_token_new(self->ctx, NULL, NULL, 5, &err);
	ASSERT_NE(NULL, tok);
	h = kd_obj_handle(tok);
	ASSERT_NE(NULL, h);
	EXPECT_FALSE(kd_handle_is_invalid(h));
	EXPECT_FALSE(kd_handle_is_closed(h));
	EXPECT_EQ(-EINVAL, kd_handle_release(h));

	ASSERT_EQ(0, kd_handle_acquire(h));
	ASSERT_EQ(0, kd_handle_acquire(h));
	EXPECT_EQ(1, kd_dispose(tok));
	EXPECT_TRUE(kd_handle_is_closed(h));
	EXPECT_EQ(-EIDRM, kd_handle_acquire(h));
	EXPECT_EQ(-EIDRM, kd_token_get(tok, &v));
	/* The raw handle still works for the holders of the references. */
	EXPECT_EQ(0, kd_raw_query(self->ctx, kd_handle_value(h), &q));

	EXPECT_EQ(0, kd_handle_release(h));
	EXPECT_EQ(0, kd_raw_query(self->ctx, kd_handle_value(h), &q));
	EXPECT_EQ(1, kd_handle_release(h));
	EXPECT_EQ(-EIDRM, kd_raw_query(self->ctx, kd_handle_value(h), &q));
	EXPECT_EQ(-EINVAL, kd_handle_release(h));
	EXPECT_EQ(0, kd_handle_close(h));
	kd_obj_unref(tok);
}

TEST_F(lib, safe_handle_close)
{
	struct kdispose_query q;
	struct kd_obj *tok;
	uint64_t v;
	int err;

	tok = kd_token_new(self->ctx, NULL, NULL, 5, &err);
	ASSERT_NE(NULL, tok);
	EXPECT_EQ(1, kd_handle_close(kd_obj_handle(tok)));
	EXPECT_EQ(-EIDRM, kd_raw_query(self->ctx, handle_of(tok), &q));
	EXPECT_EQ(-EIDRM, kd_token_get(tok, &v));
	/* The object itself is still to be disposed. */
	EXPECT_EQ(0, kd_obj_is_disposed(tok));
	EXPECT_EQ(1, kd_dispose(tok));
	kd_obj_unref(tok);
	EXPECT_EQ(NULL, kd_obj_handle(NULL));
}

TEST_F(lib, use_after_dispose)
{
	struct kd_obj *tok, *mem, *ev, *file, *grp, *node;
	struct kdispose_query q;
	char buf[8] = "";
	int pipefd[2], err;
	uint64_t v;

	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	tok = kd_token_new(self->ctx, NULL, NULL, 1, &err);
	mem = kd_memory_new(self->ctx, NULL, NULL, 4096, &err);
	ev = kd_event_new(self->ctx, NULL, NULL, 0, &err);
	file = kd_file_new(self->ctx, NULL, NULL, pipefd[0], &err);
	grp = kd_group_new(self->ctx, NULL, NULL, &err);
	node = kd_obj_new(self->ctx, &node_class, NULL, &err);
	ASSERT_TRUE(tok && mem && ev && file && grp && node);
	close(pipefd[0]);
	close(pipefd[1]);

	EXPECT_EQ(1, kd_dispose(tok));
	EXPECT_EQ(1, kd_dispose(mem));
	EXPECT_EQ(1, kd_dispose(ev));
	EXPECT_EQ(1, kd_dispose(file));
	EXPECT_EQ(1, kd_dispose(grp));
	EXPECT_EQ(1, kd_dispose(node));

	EXPECT_EQ(-EIDRM, kd_token_get(tok, &v));
	EXPECT_EQ(-EIDRM, kd_token_set(tok, 2));
	EXPECT_EQ(-EIDRM, kd_memory_read(mem, 0, buf, sizeof(buf)));
	EXPECT_EQ(-EIDRM, kd_memory_write(mem, 0, buf, sizeof(buf)));
	EXPECT_EQ(NULL, kd_memory_map(mem, NULL, &err));
	EXPECT_EQ(-EIDRM, err);
	EXPECT_EQ(-EIDRM, kd_event_signal(ev));
	EXPECT_EQ(-EIDRM, kd_event_reset(ev));
	EXPECT_EQ(-EIDRM, kd_event_wait(ev, 0));
	EXPECT_EQ(-EIDRM, kd_file_install(file, 0));
	EXPECT_EQ(-EIDRM, kd_obj_query(grp, &q));
	EXPECT_EQ(-EIDRM, kd_handle_acquire(kd_obj_handle(grp)));
	/* A disposed owner takes no new children. */
	EXPECT_EQ(NULL, kd_obj_new(self->ctx, &node_class, node, &err));
	EXPECT_EQ(-EIDRM, err);
	EXPECT_EQ(NULL, kd_token_new(self->ctx, NULL, grp, 0, &err));
	EXPECT_EQ(-EIDRM, err);
	/* Wrong kind, or no kernel object at all. */
	EXPECT_EQ(-EOPNOTSUPP, kd_token_get(mem, &v));
	EXPECT_EQ(-EOPNOTSUPP, kd_token_get(node, &v));
	EXPECT_EQ(NULL, kd_obj_handle(node));

	EXPECT_EQ(0, kd_dispose(tok));
	kd_obj_unref(tok);
	kd_obj_unref(mem);
	kd_obj_unref(ev);
	kd_obj_unref(file);
	kd_obj_unref(grp);
	kd_obj_unref(node);
}

TEST_F(lib, cleanup_macro_disposes)
{
	struct kdispose_query q;
	uint64_t h = 0;
	int err;

	{
		KD_AUTO(struct kd_obj) tok = kd_token_new(self->ctx, NULL,
							  NULL, 3, &err);

		ASSERT_NE(NULL, tok);
		h = handle_of(tok);
		EXPECT_EQ(0, kd_raw_query(self->ctx, h, &q));
	}
	EXPECT_EQ(-EIDRM, kd_raw_query(self->ctx, h, &q));
}

TEST_F(lib, take_hands_over)
{
	struct kd_obj *kept;
	uint64_t v = 0;
	int err;

	{
		KD_AUTO(struct kd_obj) tok = kd_token_new(self->ctx, NULL,
							  NULL, 4, &err);

		ASSERT_NE(NULL, tok);
		kept = KD_TAKE(tok);
		EXPECT_EQ(NULL, tok);
	}
	EXPECT_EQ(0, kd_token_get(kept, &v));
	EXPECT_EQ(4, v);
	EXPECT_EQ(1, kd_dispose(kept));
	kd_obj_unref(kept);
}

TEST(ctx_cleanup_finalizes)
{
	struct kd_t_counters before, after;
	int err;

	KD_T_ASSERT_COUNTERS(before);
	{
		_cleanup_kd_ctx_ struct kd_ctx *ctx = kd_ctx_open(0, &err);
		KD_AUTO(struct kd_obj) tok = NULL;

		ASSERT_NE(NULL, ctx);
		tok = kd_token_new(ctx, NULL, NULL, 5, &err);
		ASSERT_NE(NULL, tok);
		/* Leaked on purpose: the context's cleanup finalizes it. */
		ASSERT_NE(NULL, kd_token_new(ctx, NULL, NULL, 6, &err));
	}
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN, .created = 2,
			  .disposed = 1, .finalized = 1, .released = 2);
}

TEST_F(lib, cascade_reverse_creation_order)
{
	struct order order = { 0 };
	struct node *owner, *child[4], *grandchild;
	int i, err;

	owner = (struct node *)kd_obj_new(self->ctx, &node_class, NULL, &err);
	ASSERT_NE(NULL, owner);
	owner->order = &order;
	owner->id = 100;
	for (i = 0; i < 4; i++) {
		child[i] = (struct node *)kd_obj_new(self->ctx, &node_class,
						     &owner->obj, &err);
		ASSERT_NE(NULL, child[i]);
		child[i]->order = &order;
		child[i]->id = i;
	}
	grandchild = (struct node *)kd_obj_new(self->ctx, &node_class,
					       &child[1]->obj, &err);
	ASSERT_NE(NULL, grandchild);
	grandchild->order = &order;
	grandchild->id = 10;
	/* A child disposed before its owner is not disposed again. */
	EXPECT_EQ(1, kd_dispose(&child[2]->obj));

	EXPECT_EQ(1, kd_dispose(&owner->obj));
	ASSERT_EQ(6, order.n);
	EXPECT_EQ(2, order.id[0]);
	EXPECT_EQ(3, order.id[1]);
	EXPECT_EQ(10, order.id[2]);
	EXPECT_EQ(1, order.id[3]);
	EXPECT_EQ(0, order.id[4]);
	EXPECT_EQ(100, order.id[5]);
	for (i = 0; i < 4; i++)
		kd_obj_unref(&child[i]->obj);
	kd_obj_unref(&grandchild->obj);
	kd_obj_unref(&owner->obj);
}

TEST_F(lib, kernel_cascade_follows)
{
	struct kd_t_counters before, after;
	struct kd_obj *grp, *tok[3], *mem;
	struct kdispose_query q;
	int i, err;

	KD_T_ASSERT_COUNTERS(before);
	grp = kd_group_new(self->ctx, NULL, NULL, &err);
	ASSERT_NE(NULL, grp);
	for (i = 0; i < 3; i++) {
		tok[i] = kd_token_new(self->ctx, NULL, grp, i, &err);
		ASSERT_NE(NULL, tok[i]);
		ASSERT_EQ(0, kd_obj_query(tok[i], &q));
		EXPECT_EQ(handle_of(grp), q.parent);
		EXPECT_EQ(1, q.depth);
	}
	mem = kd_memory_new(self->ctx, NULL, tok[0], 128, &err);
	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, kd_obj_query(grp, &q));
	EXPECT_EQ(3, q.nchildren);

	/* A child acquired elsewhere holds its kernel parent too. */
	ASSERT_EQ(0, kd_handle_acquire(kd_obj_handle(tok[1])));
	EXPECT_EQ(1, kd_dispose(grp));
	EXPECT_EQ(-EIDRM, kd_raw_query(self->ctx, handle_of(tok[0]), &q));
	EXPECT_EQ(-EIDRM, kd_raw_query(self->ctx, handle_of(mem), &q));
	EXPECT_EQ(0, kd_raw_query(self->ctx, handle_of(tok[1]), &q));
	EXPECT_EQ(0, kd_raw_query(self->ctx, handle_of(grp), &q));
	EXPECT_EQ(1, kd_handle_release(kd_obj_handle(tok[1])));
	EXPECT_EQ(-EIDRM, kd_raw_query(self->ctx, handle_of(tok[1]), &q));
	EXPECT_EQ(-EIDRM, kd_raw_query(self->ctx, handle_of(grp), &q));

	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL, .created = 5,
			  .disposed = 5, .released = 5);
	for (i = 0; i < 3; i++)
		kd_obj_unref(tok[i]);
	kd_obj_unref(mem);
	kd_obj_unref(grp);
}

TEST_F(lib, kind_token)
{
	KD_AUTO(struct kd_obj) tok = NULL;
	struct kdispose_query q;
	uint64_t v = 0;
	int err;

	tok = kd_token_new(self->ctx, NULL, NULL, 0x1234, &err);
	ASSERT_NE(NULL, tok);
	EXPECT_EQ(0, kd_token_get(tok, &v));
	EXPECT_EQ(0x1234, v);
	EXPECT_EQ(0, kd_token_set(tok, 99));
	EXPECT_EQ(0, kd_token_get(tok, &v));
	EXPECT_EQ(99, v);
	EXPECT_EQ(-EINVAL, kd_token_get(tok, NULL));
	ASSERT_EQ(0, kd_obj_query(tok, &q));
	EXPECT_EQ(KDISPOSE_TYPE_TOKEN, q.type);
	EXPECT_EQ(0, strncmp("lib_test.c:", q.label, 11));
}

TEST_F(lib, kind_memory)
{
	KD_AUTO(struct kd_obj) mem = NULL;
	char buf[16] = "", *map, *again;
	struct kdispose_query q;
	uint64_t size = 0;
	int err;

	mem = kd_memory_new(self->ctx, NULL, NULL, 8192, &err);
	ASSERT_NE(NULL, mem);
	EXPECT_EQ(0, kd_memory_write(mem, 100, "hello", 6));
	EXPECT_EQ(0, kd_memory_read(mem, 100, buf, 6));
	EXPECT_STREQ("hello", buf);
	EXPECT_EQ(-EINVAL, kd_memory_read(mem, 8190, buf, 6));

	map = kd_memory_map(mem, &size, &err);
	ASSERT_NE(NULL, map) TH_LOG("kd_memory_map: %s", strerror(-err));
	EXPECT_EQ(8192, size);
	EXPECT_STREQ("hello", map + 100);
	strcpy(map + 4000, "mapped");
	EXPECT_EQ(0, kd_memory_read(mem, 4000, buf, 7));
	EXPECT_STREQ("mapped", buf);
	again = kd_memory_map(mem, NULL, &err);
	EXPECT_EQ(map, again);
	ASSERT_EQ(0, kd_obj_query(mem, &q));
	EXPECT_TRUE(q.state & KDISPOSE_STATE_MAPPED);
	EXPECT_EQ(0, kd_memory_unmap(mem));
	ASSERT_EQ(0, kd_obj_query(mem, &q));
	EXPECT_FALSE(q.state & KDISPOSE_STATE_MAPPED);

	/* Dispose unmaps what is still mapped. */
	map = kd_memory_map(mem, NULL, &err);
	ASSERT_NE(NULL, map);
	EXPECT_EQ(1, kd_dispose(mem));
	EXPECT_EQ(-1, msync(map, 4096, MS_ASYNC));
	EXPECT_EQ(ENOMEM, errno);
}

struct waiter {
	struct kd_obj *ev;
	int ret;
};

static void *wait_forever(void *arg)
{
	struct waiter *w = arg;

	w->ret = kd_event_wait(w->ev, KD_WAIT_FOREVER);
	return NULL;
}

TEST_F(lib, kind_event)
{
	KD_AUTO(struct kd_obj) ev = NULL;
	KD_AUTO(struct kd_obj) aev = NULL;
	struct waiter w = { 0 };
	pthread_t th;
	int err;

	ev = kd_event_new(self->ctx, NULL, NULL, 0, &err);
	ASSERT_NE(NULL, ev);
	EXPECT_EQ(-ETIMEDOUT, kd_event_wait(ev, 1000000));
	EXPECT_EQ(0, kd_event_signal(ev));
	EXPECT_EQ(0, kd_event_wait(ev, 0));
	EXPECT_EQ(0, kd_event_wait(ev, 0));
	EXPECT_EQ(0, kd_event_reset(ev));
	EXPECT_EQ(-ETIMEDOUT, kd_event_wait(ev, 1000000));

	aev = kd_event_new(self->ctx, NULL, NULL, KDISPOSE_EVENT_SIGNALED |
			   KDISPOSE_EVENT_AUTO_RESET, &err);
	ASSERT_NE(NULL, aev);
	EXPECT_EQ(0, kd_event_wait(aev, 0));
	EXPECT_EQ(-ETIMEDOUT, kd_event_wait(aev, 1000000));

	/* Disposing wakes a waiter: the wait does not defer the dispose. */
	w.ev = ev;
	ASSERT_EQ(0, pthread_create(&th, NULL, wait_forever, &w));
	usleep(100000);
	EXPECT_EQ(1, kd_dispose(ev));
	pthread_join(th, NULL);
	EXPECT_EQ(-EIDRM, w.ret);
}

TEST_F(lib, kind_file)
{
	KD_AUTO(struct kd_obj) file = NULL;
	int pipefd[2], fd, err;
	char buf[8] = "";

	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	file = kd_file_new(self->ctx, NULL, NULL, pipefd[1], &err);
	ASSERT_NE(NULL, file);
	close(pipefd[1]);
	fd = kd_file_install(file, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD));
	EXPECT_EQ(4, write(fd, "pin", 4));
	close(fd);
	EXPECT_EQ(4, read(pipefd[0], buf, sizeof(buf)));
	EXPECT_STREQ("pin", buf);
	fd = kd_file_install(file, KDISPOSE_FILE_NO_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, fcntl(fd, F_GETFD));
	close(fd);
	EXPECT_EQ(1, kd_dispose(file));
	/* The pinned write end is gone: the read end sees end of file. */
	EXPECT_EQ(0, read(pipefd[0], buf, sizeof(buf)));
	close(pipefd[0]);

	EXPECT_EQ(NULL, kd_file_new(self->ctx, NULL, NULL,
				    kd_ctx_fd(self->ctx), &err));
	EXPECT_EQ(-ELOOP, err);
	EXPECT_EQ(NULL, kd_file_new(self->ctx, NULL, NULL, -1, &err));
	EXPECT_EQ(-EBADF, err);
}

TEST_F(lib, dispose_many_duplicates)
{
	struct kd_obj *o[3], *list[6], *foreign;
	struct kd_ctx *other;
	int res[6], i, err;

	for (i = 0; i < 3; i++) {
		o[i] = kd_token_new(self->ctx, NULL, NULL, i, &err);
		ASSERT_NE(NULL, o[i]);
	}
	other = kd_ctx_open(0, &err);
	ASSERT_NE(NULL, other);
	foreign = kd_token_new(other, NULL, NULL, 0, &err);
	ASSERT_NE(NULL, foreign);

	list[0] = o[0];
	list[1] = o[1];
	list[2] = o[0];
	list[3] = foreign;
	list[4] = o[2];
	list[5] = o[1];
	EXPECT_EQ(3, kd_dispose_many(self->ctx, list, 6, res));
	EXPECT_EQ(1, res[0]);
	EXPECT_EQ(1, res[1]);
	EXPECT_EQ(0, res[2]);
	EXPECT_EQ(-EINVAL, res[3]);
	EXPECT_EQ(1, res[4]);
	EXPECT_EQ(0, res[5]);
	EXPECT_EQ(0, kd_obj_is_disposed(foreign));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, kd_raw_dispose(self->ctx, handle_of(o[i])));
		kd_obj_unref(o[i]);
	}
	EXPECT_EQ(0, kd_dispose_many(self->ctx, list, 3, NULL));
	EXPECT_EQ(1, kd_ctx_close(other));
	kd_obj_unref(foreign);
	EXPECT_EQ(-EINVAL, kd_dispose_many(self->ctx, NULL, 1, res));
}

TEST_F(lib, raw_dispose_many_invalid_handles)
{
	uint64_t h[3], list[8];
	int res[8], i;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, kd_raw_create(self->ctx, KDISPOSE_TYPE_TOKEN, 0,
					   i, "raw", &h[i]));
	ASSERT_EQ(1, kd_raw_dispose(self->ctx, h[2]));

	list[0] = h[0];
	list[1] = h[1];
	list[2] = h[0];
	list[3] = 0;
	list[4] = kd_t_handle_make(1ULL << 30, 0);
	list[5] = h[2];
	list[6] = h[1];
	list[7] = h[0];
	EXPECT_EQ(2, kd_raw_dispose_many(self->ctx, list, 8, res));
	EXPECT_EQ(1, res[0]);
	EXPECT_EQ(1, res[1]);
	EXPECT_EQ(0, res[2]);
	EXPECT_EQ(-ENOENT, res[3]);
	EXPECT_EQ(-ENOENT, res[4]);
	EXPECT_EQ(0, res[5]);
	EXPECT_EQ(0, res[6]);
	EXPECT_EQ(0, res[7]);
}

TEST_F(lib, dispose_many_chunks)
{
	const unsigned int n = 2 * KDISPOSE_BATCH_MAX + 452;
	struct kd_t_counters before, after;
	struct kd_obj **objs;
	uint64_t *handles;
	int *res, i, err;

	objs = calloc(n, sizeof(*objs));
	handles = calloc(n, sizeof(*handles));
	res = calloc(n, sizeof(*res));
	ASSERT_TRUE(objs && handles && res);
	EXPECT_TRUE(kd_ctx_features(self->ctx) & KD_FEATURE_BATCH);

	KD_T_ASSERT_COUNTERS(before);
	for (i = 0; i < (int)n; i++) {
		objs[i] = kd_token_new(self->ctx, NULL, NULL, i, &err);
		ASSERT_NE(NULL, objs[i]);
		ASSERT_EQ(0, kd_raw_create(self->ctx, KDISPOSE_TYPE_TOKEN, 0,
					   i, NULL, &handles[i]));
	}
	EXPECT_EQ(n, kd_dispose_many(self->ctx, objs, n, res));
	for (i = 0; i < (int)n; i++)
		ASSERT_EQ(1, res[i]) TH_LOG("object %d", i);
	EXPECT_EQ(n, kd_raw_dispose_many(self->ctx, handles, n, res));
	for (i = 0; i < (int)n; i++)
		ASSERT_EQ(1, res[i]) TH_LOG("handle %d", i);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .created = 2 * n, .disposed = 2 * n,
			  .released = 2 * n);
	for (i = 0; i < (int)n; i++)
		kd_obj_unref(objs[i]);
	free(objs);
	free(handles);
	free(res);
}

/* io_uring_wait_cqe(), but a lost completion fails instead of hanging. */
static int wait_cqe(struct io_uring *ring, struct io_uring_cqe **cqe)
{
	struct __kernel_timespec ts = { .tv_sec = 5 };

	return io_uring_wait_cqe_timeout(ring, cqe, &ts);
}

/*
 * Disposes objs[0..n) with kd_dispose_async() in batches of 64 and checks
 * each CQE: one per object, its own user_data, result 1.
 */
static int async_dispose_all(struct __test_metadata *_metadata,
			     struct io_uring *ring, struct kd_obj **objs,
			     unsigned int n)
{
	struct io_uring_cqe *cqe;
	unsigned int base, i, batch;
	char seen[64];

	for (base = 0; base < n; base += batch) {
		batch = n - base < 64 ? n - base : 64;
		memset(seen, 0, sizeof(seen));
		for (i = 0; i < batch; i++)
			ASSERT_EQ(0, kd_dispose_async(ring, objs[base + i],
						      base + i));
		ASSERT_EQ(batch, io_uring_submit(ring));
		for (i = 0; i < batch; i++) {
			ASSERT_EQ(0, wait_cqe(ring, &cqe))
				TH_LOG("batch at %u: CQE %u of %u lost",
				       base, i + 1, batch);
			ASSERT_LE(base, cqe->user_data);
			ASSERT_GT(base + batch, cqe->user_data);
			ASSERT_EQ(0, seen[cqe->user_data - base]);
			seen[cqe->user_data - base] = 1;
			ASSERT_EQ(1, kd_dispose_async_result(cqe))
				TH_LOG("object %llu", cqe->user_data);
			io_uring_cqe_seen(ring, cqe);
		}
	}
	return 0;
}

static void async_many(struct __test_metadata *_metadata, unsigned int flags,
		       unsigned int n)
{
	struct kd_t_counters before, after;
	struct kdispose_query q;
	struct io_uring ring;
	struct kd_obj **objs;
	struct kd_ctx *ctx;
	unsigned int i;
	int err;

	ctx = kd_ctx_open(flags, &err);
	ASSERT_NE(NULL, ctx);
	ASSERT_EQ(0, io_uring_queue_init(64, &ring, 0));
	objs = calloc(n, sizeof(*objs));
	ASSERT_NE(NULL, objs);
	KD_T_ASSERT_COUNTERS(before);
	for (i = 0; i < n; i++) {
		objs[i] = kd_token_new(ctx, NULL, NULL, i, &err);
		ASSERT_NE(NULL, objs[i]);
	}
	async_dispose_all(_metadata, &ring, objs, n);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(-EIDRM, kd_raw_query(ctx, handle_of(objs[i]), &q));
		EXPECT_EQ(1, kd_obj_is_disposed(objs[i]));
		kd_obj_unref(objs[i]);
	}
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .created = n, .disposed = n, .released = n);
	free(objs);
	io_uring_queue_exit(&ring);
	EXPECT_EQ(0, kd_ctx_close(ctx));
}

TEST(async_10000_in_batches_of_64)
{
	struct kd_ctx *ctx;
	int err, features;

	ctx = kd_ctx_open(0, &err);
	ASSERT_NE(NULL, ctx);
	features = kd_ctx_features(ctx);
	EXPECT_TRUE(features & KD_FEATURE_URING)
		TH_LOG("no io_uring DISPOSE command: the ioctl fallback ran");
	EXPECT_TRUE(features & KD_FEATURE_MSG_RING);
	kd_ctx_close(ctx);
	async_many(_metadata, 0, 10000);
}

TEST(async_fallback_to_ioctl)
{
	struct kd_ctx *ctx;
	int err;

	ctx = kd_ctx_open(KD_CTX_NO_URING, &err);
	ASSERT_NE(NULL, ctx);
	EXPECT_FALSE(kd_ctx_features(ctx) & KD_FEATURE_URING);
	kd_ctx_close(ctx);
	async_many(_metadata, KD_CTX_NO_URING, 1000);
}

TEST_F(lib, async_results)
{
	struct call_log log = { 0 };
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	struct kd_obj *tok, *acq, *node;
	struct tobj *bad;
	uint64_t raw;
	int res[8] = { 0 }, i, err;

	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));
	tok = kd_token_new(self->ctx, NULL, NULL, 0, &err);
	acq = kd_token_new(self->ctx, NULL, NULL, 0, &err);
	node = kd_obj_new(self->ctx, &node_class, NULL, &err);
	bad = tobj_new(self->ctx, &log, FLAW_B_FORGETS, &err);
	ASSERT_TRUE(tok && acq && node && bad);
	ASSERT_EQ(0, kd_raw_create(self->ctx, KDISPOSE_TYPE_TOKEN, 0, 0, NULL,
				   &raw));
	ASSERT_EQ(1, kd_dispose(tok));
	ASSERT_EQ(0, kd_handle_acquire(kd_obj_handle(acq)));

	ASSERT_EQ(0, kd_dispose_async(&ring, tok, 0));
	ASSERT_EQ(0, kd_dispose_async(&ring, acq, 1));
	ASSERT_EQ(0, kd_dispose_async(&ring, node, 2));
	ASSERT_EQ(0, kd_dispose_async(&ring, &bad->obj, 3));
	ASSERT_EQ(0, kd_raw_dispose_async(&ring, self->ctx, raw, 4));
	ASSERT_EQ(0, kd_raw_dispose_async(&ring, self->ctx, raw, 5));
	ASSERT_EQ(0, kd_raw_dispose_async(&ring, self->ctx, 0, 6));
	ASSERT_EQ(-EINVAL, kd_dispose_async(NULL, tok, 7));
	ASSERT_EQ(7, io_uring_submit(&ring));
	for (i = 0; i < 7; i++) {
		ASSERT_EQ(0, wait_cqe(&ring, &cqe));
		ASSERT_GT(7, cqe->user_data);
		res[cqe->user_data] = kd_dispose_async_result(cqe);
		io_uring_cqe_seen(&ring, cqe);
	}
	EXPECT_EQ(0, res[0]);	/* disposed already */
	EXPECT_EQ(1, res[1]);	/* kernel dispose deferred to the release */
	EXPECT_EQ(1, res[2]);	/* no kernel object */
	EXPECT_EQ(-EPROTO, res[3]);
	EXPECT_EQ(3, log.n);
	EXPECT_EQ(1, res[4]);
	EXPECT_EQ(0, res[5]);
	EXPECT_EQ(-ENOENT, res[6]);
	EXPECT_EQ(1, kd_handle_release(kd_obj_handle(acq)));

	/* No free SQE: nothing is done. */
	for (i = 0; i < 8; i++)
		ASSERT_NE(NULL, io_uring_get_sqe(&ring));
	EXPECT_EQ(-EBUSY, kd_dispose_async(&ring, acq, 0));
	io_uring_queue_exit(&ring);
	kd_obj_unref(tok);
	kd_obj_unref(acq);
	kd_obj_unref(node);
	kd_obj_unref(&bad->obj);
}

/* Three threads dispose the same objects: sync, batch and io_uring. */
struct mixed {
	pthread_barrier_t start;
	struct kd_ctx *ctx;
	struct kd_obj **objs;
	unsigned int n;
	int *res[3];
	int error;
	unsigned int lost_at;	/* first object of the batch with a lost CQE */
};

static void *mixed_sync(void *arg)
{
	struct mixed *m = arg;
	unsigned int i;

	pthread_barrier_wait(&m->start);
	for (i = 0; i < m->n; i++)
		m->res[0][m->n - 1 - i] = kd_dispose(m->objs[m->n - 1 - i]);
	return NULL;
}

static void *mixed_batch(void *arg)
{
	struct mixed *m = arg;
	unsigned int i;

	pthread_barrier_wait(&m->start);
	for (i = 0; i < m->n; i += 16)
		if (kd_dispose_many(m->ctx, m->objs + i, 16, m->res[1] + i) < 0)
			m->error = -EINVAL;
	return NULL;
}

static void *mixed_async(void *arg)
{
	struct mixed *m = arg;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	unsigned int i, j;

	if (io_uring_queue_init(16, &ring, 0)) {
		m->error = -ENOMEM;
		pthread_barrier_wait(&m->start);
		return NULL;
	}
	pthread_barrier_wait(&m->start);
	for (i = 0; i < m->n; i += 16) {
		for (j = i; j < i + 16; j++)
			if (kd_dispose_async(&ring, m->objs[j], j))
				m->error = -EBUSY;
		io_uring_submit(&ring);
		for (j = 0; j < 16; j++) {
			if (wait_cqe(&ring, &cqe)) {
				m->error = -ETIME;
				m->lost_at = i;
				io_uring_queue_exit(&ring);
				return NULL;
			}
			m->res[2][cqe->user_data] =
				kd_dispose_async_result(cqe);
			io_uring_cqe_seen(&ring, cqe);
		}
	}
	io_uring_queue_exit(&ring);
	return NULL;
}

static void mixed_run(struct __test_metadata *_metadata, struct kd_ctx *ctx)
{
	void *(*fn[3])(void *) = { mixed_sync, mixed_batch, mixed_async };
	struct mixed m = { .ctx = ctx, .n = 2048 };
	pthread_t th[3];
	unsigned int i, t;
	int err, wins;

	m.objs = calloc(m.n, sizeof(*m.objs));
	ASSERT_NE(NULL, m.objs);
	for (t = 0; t < 3; t++) {
		m.res[t] = calloc(m.n, sizeof(int));
		ASSERT_NE(NULL, m.res[t]);
	}
	for (i = 0; i < m.n; i++) {
		m.objs[i] = kd_token_new(ctx, NULL, NULL, i, &err);
		ASSERT_NE(NULL, m.objs[i]);
	}
	ASSERT_EQ(0, pthread_barrier_init(&m.start, NULL, 3));
	for (t = 0; t < 3; t++)
		ASSERT_EQ(0, pthread_create(&th[t], NULL, fn[t], &m));
	for (t = 0; t < 3; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&m.start);
	ASSERT_EQ(0, m.error)
		TH_LOG("async thread: %s (objects %u..%u)", strerror(-m.error),
		       m.lost_at, m.lost_at + 15);

	for (i = 0; i < m.n; i++) {
		wins = 0;
		for (t = 0; t < 3; t++) {
			ASSERT_LE(0, m.res[t][i]) TH_LOG("object %u", i);
			ASSERT_GE(1, m.res[t][i]);
			wins += m.res[t][i];
		}
		ASSERT_EQ(1, wins) TH_LOG("object %u", i);
		EXPECT_EQ(0, kd_raw_dispose(ctx, handle_of(m.objs[i])));
		kd_obj_unref(m.objs[i]);
	}
	for (t = 0; t < 3; t++)
		free(m.res[t]);
	free(m.objs);
}

TEST_F(lib, mixed_sync_batch_async_one_winner)
{
	mixed_run(_metadata, self->ctx);
}

TEST(mixed_sync_batch_async_fallback)
{
	struct kd_ctx *ctx;
	int err;

	ctx = kd_ctx_open(KD_CTX_NO_URING, &err);
	ASSERT_NE(NULL, ctx);
	mixed_run(_metadata, ctx);
	EXPECT_EQ(0, kd_ctx_close(ctx));
}

/*
 * Call-site labels: the constructor macros label the kernel object with
 * "<basename>:<line>" of their caller, truncated from the front to 15
 * characters; without a call site the label is the class name.
 */
TEST_F(lib, label_call_site_every_kind)
{
	const char *kind[] = { "token", "memory", "event", "file", "group" };
	char want[KDISPOSE_LABEL_LEN];
	struct kd_obj *obj[5] = { NULL };
	unsigned int line[5];
	struct kdispose_query q;
	int err[5] = { 0 };
	int fd, i;

	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	line[0] = __LINE__ + 1;
	obj[0] = kd_token_new(self->ctx, NULL, NULL, 1, &err[0]);
	line[1] = __LINE__ + 1;
	obj[1] = kd_memory_new(self->ctx, NULL, NULL, 4096, &err[1]);
	line[2] = __LINE__ + 1;
	obj[2] = kd_event_new(self->ctx, NULL, NULL, 0, &err[2]);
	line[3] = __LINE__ + 1;
	obj[3] = kd_file_new(self->ctx, NULL, NULL, fd, &err[3]);
	line[4] = __LINE__ + 1;
	obj[4] = kd_group_new(self->ctx, NULL, NULL, &err[4]);
	EXPECT_EQ(0, close(fd));

	for (i = 0; i < 5; i++) {
		ASSERT_NE(NULL, obj[i])
			TH_LOG("kd_%s_new: %s", kind[i], strerror(-err[i]));
		ASSERT_EQ(0, kd_raw_query(self->ctx, handle_of(obj[i]), &q));
		snprintf(want, sizeof(want), "lib_test.c:%u", line[i]);
		EXPECT_STREQ(want, q.label) TH_LOG("kind %s", kind[i]);
	}
	for (i = 0; i < 5; i++) {
		EXPECT_EQ(1, kd_dispose(obj[i]));
		EXPECT_EQ(0, kd_obj_unref(obj[i]));
	}
}

TEST_F(lib, label_call_site_truncated_keeps_line)
{
	static const struct {
		const char *file;
		unsigned int line;
		const char *label;
	} cases[] = {
		{ "lib_test.c", 88, "lib_test.c:88" },
		{ "abcdefghijk.c", 9, "abcdefghijk.c:9" },
		{ "src/protocol_parser.c", 1234, "l_parser.c:1234" },
		{ "/a/long/path/name_of_a_source_file.c", 88,
		  "ource_file.c:88" },
		{ "parser_main.c", 4294967295U, "in.c:4294967295" },
	};
	struct kdispose_query q;
	struct kd_obj *tok;
	unsigned int i;
	int err = 0;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		tok = kd_token_new_at(self->ctx, NULL, NULL, i, cases[i].file,
				      cases[i].line, &err);
		ASSERT_NE(NULL, tok) TH_LOG("%s", strerror(-err));
		ASSERT_EQ(0, kd_obj_query(tok, &q));
		EXPECT_STREQ(cases[i].label, q.label)
			TH_LOG("%s:%u", cases[i].file, cases[i].line);
		EXPECT_EQ(1, kd_dispose(tok));
		EXPECT_EQ(0, kd_obj_unref(tok));
	}
}

TEST_F(lib, label_class_name_without_call_site)
{
	struct kd_obj *(*group_new)(struct kd_ctx *, const struct kd_class *,
				    struct kd_obj *, int *) = kd_group_new;
	struct kd_obj *obj[3];
	const char *want[3] = { "kd_token", "test_a", "kd_group" };
	struct kdispose_query q;
	int err = 0, i;

	obj[0] = kd_token_new_at(self->ctx, NULL, NULL, 0, NULL, 0, &err);
	obj[1] = (kd_token_new)(self->ctx, &test_a_class, NULL, 0, &err);
	obj[2] = group_new(self->ctx, NULL, NULL, &err);
	for (i = 0; i < 3; i++) {
		ASSERT_NE(NULL, obj[i]) TH_LOG("%s", strerror(-err));
		ASSERT_EQ(0, kd_obj_query(obj[i], &q));
		EXPECT_STREQ(want[i], q.label);
	}
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(1, kd_dispose(obj[i]));
		EXPECT_EQ(0, kd_obj_unref(obj[i]));
	}
}

FIXTURE(leak) {
	struct kd_ctx *ctx;		/* NULL once the test closed it */
	struct kd_t_param leak_report;	/* saved when the test sets it */
};

FIXTURE_SETUP(leak)
{
	int err = 0;

	self->ctx = kd_ctx_open(0, &err);
	ASSERT_NE(NULL, self->ctx) TH_LOG("kd_ctx_open: %s", strerror(-err));
}

FIXTURE_TEARDOWN(leak)
{
	EXPECT_EQ(0, kd_t_param_restore(&self->leak_report));
	if (self->ctx)
		EXPECT_LE(0, kd_ctx_close(self->ctx));
}

/* An object left to kd_ctx_close() is reported with its creating line. */
TEST_F(leak, report_names_call_site)
{
	struct kd_obj *mem;
	unsigned int line;
	char needle[64];
	int err = 0, kmsg;

	if (geteuid())
		SKIP(return, "changing module parameters needs root");

	ASSERT_EQ(0, kd_t_param_set(&self->leak_report, "leak_report", "Y"));
	kmsg = kd_t_kmsg_open();
	ASSERT_LE(0, kmsg) TH_LOG("/dev/kmsg: %s", strerror(-kmsg));
	line = __LINE__ + 1;
	mem = kd_memory_new(self->ctx, NULL, NULL, 4096, &err);
	ASSERT_NE(NULL, mem) TH_LOG("kd_memory_new: %s", strerror(-err));
	EXPECT_EQ(1, kd_ctx_close(self->ctx));
	self->ctx = NULL;

	snprintf(needle, sizeof(needle), "\"lib_test.c:%u\" created by pid %d",
		 line, getpid());
	EXPECT_EQ(1, kd_t_kmsg_count(kmsg, "leak: memory object", needle))
		TH_LOG("one kernel log line with \"leak: memory object\" and %s",
		       needle);
	EXPECT_EQ(0, kd_obj_unref(mem));
	EXPECT_EQ(0, close(kmsg));
}

/*
 * KDISPOSE_DEBUG reports go to stderr: a test points fd 2 at a memfd while
 * the library runs, then reads it back. The variable is read once per
 * process, at the first report the library considers, so these tests are
 * TEST()s (a fresh child of the harness, which never called the library)
 * that set it before their first library call. Nothing may ASSERT while
 * fd 2 is redirected: the harness logs to stderr.
 */
struct capture {
	int fd;		/* the memfd */
	int saved;	/* the test's own stderr */
};

static int capture_start(struct capture *c, const char *debug)
{
	if (debug && setenv("KDISPOSE_DEBUG", debug, 1))
		return -errno;
	if (!debug)
		unsetenv("KDISPOSE_DEBUG");
	c->fd = memfd_create("kd-stderr", MFD_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	fflush(stderr);
	c->saved = dup(STDERR_FILENO);
	if (c->saved < 0 || dup2(c->fd, STDERR_FILENO) < 0)
		return -errno;
	return 0;
}

/* Restores stderr. Return: what was written meanwhile (free it), or NULL. */
static char *capture_end(struct capture *c)
{
	off_t len;
	char *buf;

	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	len = lseek(c->fd, 0, SEEK_END);
	buf = len >= 0 ? calloc(1, len + 1) : NULL;
	if (buf && pread(c->fd, buf, len, 0) != len) {
		free(buf);
		buf = NULL;
	}
	close(c->fd);
	return buf;
}

/* Return: how many lines of @text contain every one of @needles. */
static int lines_with(const char *text, const char *const *needles,
		      unsigned int n)
{
	const char *line = text, *end;
	char buf[1024];
	int count = 0;
	unsigned int i;
	size_t len;

	for (; line && *line; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		len = end ? (size_t)(end - line) : strlen(line);
		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;
		memcpy(buf, line, len);
		buf[len] = 0;
		for (i = 0; i < n && strstr(buf, needles[i]); i++)
			;
		count += i == n;
	}
	return count;
}

#define LINES_WITH(text, ...)                                           \
	lines_with(text, (const char *const[]){ __VA_ARGS__ },         \
		   sizeof((const char *const[]){ __VA_ARGS__ }) /       \
			   sizeof(const char *))

/* A forgotten chain-up dropped by KD_AUTO's cleanup is reported. */
TEST(debug_chain_report_through_kd_auto)
{
	struct call_log log = { 0 };
	char site[64], *out;
	struct capture cap;
	struct kd_ctx *ctx;
	int err = 0;

	ASSERT_EQ(0, capture_start(&cap, "chain"));
	ctx = kd_ctx_open(0, &err);
	if (ctx) {
		KD_AUTO(struct tobj) t = tobj_new(ctx, &log, FLAW_B_FORGETS,
						  &err);
		(void)t;
	}
	out = capture_end(&cap);
	ASSERT_NE(NULL, ctx) TH_LOG("kd_ctx_open: %s", strerror(-err));
	ASSERT_NE(NULL, out);
	/* The chain ran to its end all the same. */
	EXPECT_EQ(3, log.n);
	EXPECT_EQ(0, kd_ctx_close(ctx));
	/* tobj_new() is a factory without call site: its own line shows. */
	snprintf(site, sizeof(site), "created at %s:", __FILE__);
	EXPECT_EQ(1, LINES_WITH(out, "libkdispose[", "]: chain: -EPROTO:",
				"class \"test_b\" did not chain up to its parent",
				"dispose(obj, true)", "\"test_c\" object", site))
		TH_LOG("stderr was: %s", out);
	free(out);
}

/* On the finalizer path, where kd_ctx_close() cannot return it. */
TEST(debug_chain_report_on_finalizer_path)
{
	struct call_log log = { 0 };
	struct capture cap;
	struct kd_ctx *ctx;
	struct tobj *t = NULL;
	int err = 0, n = -1;
	char *out;

	ASSERT_EQ(0, capture_start(&cap, "chain"));
	ctx = kd_ctx_open(0, &err);
	if (ctx) {
		t = tobj_new(ctx, &log, FLAW_B_FORGETS, &err);
		n = kd_ctx_close(ctx);
	}
	out = capture_end(&cap);
	ASSERT_NE(NULL, t) TH_LOG("%s", strerror(-err));
	ASSERT_NE(NULL, out);
	EXPECT_EQ(1, n);
	EXPECT_EQ(1, LINES_WITH(out, "chain: -EPROTO: class \"test_b\"",
				"dispose(obj, false)",
				"finalized by kd_ctx_close()"))
		TH_LOG("stderr was: %s", out);
	EXPECT_EQ(0, kd_obj_unref(&t->obj));
	free(out);
}

/*
 * Every object the finalizer path reaches is reported with the line that
 * created it, library-only ones too; disposed ones are not.
 */
TEST(debug_leaks_report_names_call_sites)
{
	struct kd_obj *node = NULL, *tok = NULL, *done = NULL;
	unsigned int node_line = 0, tok_line = 0;
	char node_site[64], tok_site[64];
	struct capture cap;
	struct kd_ctx *ctx;
	int err = 0, n = -1;
	char *out;

	ASSERT_EQ(0, capture_start(&cap, "leaks, checks"));
	ctx = kd_ctx_open(0, &err);
	if (ctx) {
		node_line = __LINE__ + 1;
		node = kd_obj_new(ctx, &node_class, NULL, &err);
		tok_line = __LINE__ + 1;
		tok = kd_token_new(ctx, NULL, NULL, 1, &err);
		done = kd_token_new(ctx, NULL, NULL, 2, &err);
		kd_dispose(done);
		n = kd_ctx_close(ctx);
	}
	out = capture_end(&cap);
	ASSERT_NE(NULL, ctx) TH_LOG("kd_ctx_open: %s", strerror(-err));
	ASSERT_TRUE(node && tok && done);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(2, n);
	snprintf(node_site, sizeof(node_site), "created at %s:%u (no kernel object)",
		 __FILE__, node_line);
	snprintf(tok_site, sizeof(tok_site), "created at %s:%u (kernel handle",
		 __FILE__, tok_line);
	EXPECT_EQ(1, LINES_WITH(out, "]: leaks: a \"test_node\" object",
				node_site, "was never disposed"))
		TH_LOG("stderr was: %s", out);
	EXPECT_EQ(1, LINES_WITH(out, "]: leaks: a \"kd_token\" object",
				tok_site))
		TH_LOG("stderr was: %s", out);
	EXPECT_EQ(2, LINES_WITH(out, "leaks:"));
	kd_obj_unref(node);
	kd_obj_unref(tok);
	kd_obj_unref(done);
	free(out);
}

/* Three different mistakes, one -EINVAL each: the report says which. */
TEST(debug_checks_say_which_einval)
{
	static const struct kd_class orphan = {
		.name = "orphan",	/* no parent: derives kd_object only */
		.size = sizeof(struct kd_obj),
	};
	struct kd_obj *obj[4] = { NULL };
	int err[4] = { 0 };
	unsigned int line[4];
	char site[4][64];
	struct capture cap;
	struct kd_ctx *ctx;
	int open_err = 0;
	int i;
	char *out;

	ASSERT_EQ(0, capture_start(&cap, "checks"));
	ctx = kd_ctx_open(0, &open_err);
	if (ctx) {
		line[0] = __LINE__ + 1;
		obj[0] = kd_obj_new(ctx, &kd_token_class, NULL, &err[0]);
		line[1] = __LINE__ + 1;
		obj[1] = kd_memory_new(ctx, &orphan, NULL, 4096, &err[1]);
		line[2] = __LINE__ + 1;
		obj[2] = kd_memory_new(ctx, NULL, NULL, 0, &err[2]);
		obj[3] = kd_token_new(ctx, NULL, NULL, 1, &err[3]);
		line[3] = __LINE__ + 1;
		if (kd_obj_cast(obj[3], &test_a_class))
			err[3] = -EEXIST;
	}
	out = capture_end(&cap);
	ASSERT_NE(NULL, ctx) TH_LOG("kd_ctx_open: %s", strerror(-open_err));
	ASSERT_NE(NULL, out);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(NULL, obj[i]);
		EXPECT_EQ(-EINVAL, err[i]);
		snprintf(site[i], sizeof(site[i]), "at %s:%u: -EINVAL:",
			 __FILE__, line[i]);
	}
	EXPECT_EQ(1, LINES_WITH(out, "checks: kd_obj_new()", site[0],
				"class \"kd_token\" derives from a kernel kind"))
		TH_LOG("stderr was: %s", out);
	EXPECT_EQ(1, LINES_WITH(out, "checks: kd_memory_new()", site[1],
				"class \"orphan\" does not derive from \"kd_memory\"",
				"its parent is NULL"))
		TH_LOG("stderr was: %s", out);
	EXPECT_EQ(1, LINES_WITH(out, "checks: kd_memory_new()", site[2],
				"size 0"))
		TH_LOG("stderr was: %s", out);
	snprintf(site[3], sizeof(site[3]), "at %s:%u: NULL:", __FILE__,
		 line[3]);
	EXPECT_EQ(0, err[3]);
	EXPECT_EQ(1, LINES_WITH(out, "checks: kd_obj_cast()", site[3],
				"a \"kd_token\" object is not a \"test_a\""))
		TH_LOG("stderr was: %s", out);
	EXPECT_EQ(1, kd_ctx_close(ctx));
	kd_obj_unref(obj[3]);
	free(out);
}

/* Without KDISPOSE_DEBUG the library writes nothing, whatever happens. */
TEST(debug_off_by_default)
{
	struct call_log log = { 0 };
	struct kd_obj *bad = NULL;
	struct capture cap;
	struct kd_ctx *ctx;
	int err = 0;
	char *out;

	ASSERT_EQ(0, capture_start(&cap, NULL));
	ctx = kd_ctx_open(0, &err);
	if (ctx) {
		bad = kd_obj_new(ctx, &kd_token_class, NULL, &err);
		tobj_new(ctx, &log, FLAW_B_FORGETS, &err);
		kd_obj_new(ctx, &node_class, NULL, &err);
		kd_ctx_close(ctx);
	}
	out = capture_end(&cap);
	ASSERT_NE(NULL, ctx);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(NULL, bad);
	EXPECT_EQ(3, log.n);
	EXPECT_STREQ("", out);
	free(out);
}

/*
 * A factory of the caller's, written as kdispose.h says: a macro passing
 * __FILE__ and __LINE__ to an _at function, which hands them on.
 */
struct session {
	struct kd_obj obj;
	struct kd_obj *buf;	/* a member, labelled with the same site */
};

static const struct kd_class session_class = {
	.name = "test_session",
	.size = sizeof(struct session),
	.parent = &kd_token_class,
};

#define session_new(ctx, id, err) \
	session_new_at(ctx, id, __FILE__, __LINE__, err)

static struct session *session_new_at(struct kd_ctx *ctx, uint64_t id,
				      const char *file, unsigned int line,
				      int *err)
{
	struct session *s;

	s = (struct session *)kd_token_new_at(ctx, &session_class, NULL, id,
					      file, line, err);
	if (!s)
		return NULL;
	s->buf = kd_memory_new_at(ctx, NULL, &s->obj, 4096, file, line, err);
	if (!s->buf) {
		kd_dispose(&s->obj);
		kd_obj_unref(&s->obj);
		return NULL;
	}
	return s;
}

TEST_F(lib, factory_passes_its_callers_call_site)
{
	struct kdispose_query q;
	char want[KDISPOSE_LABEL_LEN];
	struct session *s;
	unsigned int line;
	int err = 0;

	line = __LINE__ + 1;
	s = session_new(self->ctx, 7, &err);
	ASSERT_NE(NULL, s) TH_LOG("session_new: %s", strerror(-err));
	snprintf(want, sizeof(want), "lib_test.c:%u", line);
	ASSERT_EQ(0, kd_obj_query(&s->obj, &q));
	EXPECT_STREQ(want, q.label);
	ASSERT_EQ(0, kd_raw_query(self->ctx, handle_of(s->buf), &q));
	EXPECT_STREQ(want, q.label);
	EXPECT_EQ(handle_of(&s->obj), q.parent);
	EXPECT_EQ(1, kd_dispose(&s->obj));
	EXPECT_EQ(1, kd_obj_is_disposed(s->buf));
	kd_obj_unref(s->buf);
	kd_obj_unref(&s->obj);
}

/*
 * kd_prep_dispose() leaves the SQE to the caller: flags and user_data are
 * set after it, and the disposes of a link chain complete in order.
 */
TEST_F(lib, prep_dispose_in_linked_sqes)
{
	struct kd_t_counters before, after;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	struct kdispose_query q;
	struct kd_obj *tok[2];
	int ret[3], i, err;

	if (!(kd_ctx_features(self->ctx) & KD_FEATURE_URING))
		SKIP(return, "the kernel has no io_uring DISPOSE command");
	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));
	for (i = 0; i < 2; i++) {
		tok[i] = kd_token_new(self->ctx, NULL, NULL, i, &err);
		ASSERT_NE(NULL, tok[i]);
	}
	KD_T_ASSERT_COUNTERS(before);
	for (i = 0; i < 3; i++) {
		sqe = io_uring_get_sqe(&ring);
		ASSERT_NE(NULL, sqe);
		if (i < 2) {
			ret[i] = kd_prep_dispose(sqe, tok[i]);
			EXPECT_EQ(KD_DISPOSE_QUEUED, ret[i]);
			EXPECT_EQ(IORING_OP_URING_CMD, sqe->opcode);
			/* Claimed at once: a second dispose has nothing to do. */
			EXPECT_EQ(0, kd_dispose(tok[i]));
		} else {
			io_uring_prep_nop(sqe);
		}
		io_uring_sqe_set_data64(sqe, 100 + i);
		if (i < 2)
			io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK);
	}
	ASSERT_EQ(3, io_uring_submit(&ring));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, wait_cqe(&ring, &cqe));
		/* A link chain completes in order. */
		EXPECT_EQ(100 + i, cqe->user_data);
		EXPECT_EQ(i < 2 ? 1 : 0, kd_dispose_async_result(cqe));
		io_uring_cqe_seen(&ring, cqe);
	}
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN, .disposed = 2,
			  .live = -2, .released = 2);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(-EIDRM, kd_raw_query(self->ctx, handle_of(tok[i]), &q));
		kd_obj_unref(tok[i]);
	}
	io_uring_queue_exit(&ring);
}

/*
 * A failed request cancels the dispose linked after it: the library object
 * is disposed, the kernel object stays until disposed by hand.
 */
TEST_F(lib, prep_dispose_cancelled_by_its_link)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	struct kdispose_query q;
	struct kd_obj *tok;
	int res[2] = { 1, 1 }, i, err;

	if (!(kd_ctx_features(self->ctx) & KD_FEATURE_URING))
		SKIP(return, "the kernel has no io_uring DISPOSE command");
	ASSERT_EQ(0, io_uring_queue_init(4, &ring, 0));
	tok = kd_token_new(self->ctx, NULL, NULL, 5, &err);
	ASSERT_NE(NULL, tok);

	sqe = io_uring_get_sqe(&ring);
	/* Handle 0 is never issued: this command fails with -ENOENT. */
	ASSERT_EQ(KD_DISPOSE_QUEUED, kd_prep_raw_dispose(sqe, self->ctx, 0));
	io_uring_sqe_set_data64(sqe, 0);
	io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK);
	sqe = io_uring_get_sqe(&ring);
	ASSERT_EQ(KD_DISPOSE_QUEUED, kd_prep_dispose(sqe, tok));
	io_uring_sqe_set_data64(sqe, 1);
	ASSERT_EQ(2, io_uring_submit(&ring));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, wait_cqe(&ring, &cqe));
		ASSERT_GT(2, cqe->user_data);
		res[cqe->user_data] = kd_dispose_async_result(cqe);
		io_uring_cqe_seen(&ring, cqe);
	}
	EXPECT_EQ(-ENOENT, res[0]);
	EXPECT_EQ(-ECANCELED, res[1]);
	EXPECT_EQ(1, kd_obj_is_disposed(tok));
	EXPECT_EQ(0, kd_raw_query(self->ctx, handle_of(tok), &q));
	EXPECT_EQ(1, kd_raw_dispose(self->ctx, handle_of(tok)));
	kd_obj_unref(tok);
	io_uring_queue_exit(&ring);
}

/* A result known at once is returned, and the SQE becomes a NOP. */
TEST_F(lib, prep_dispose_known_results)
{
	struct call_log log = { 0 };
	struct io_uring_sqe sqe;
	struct kd_obj *done, *node;
	struct tobj *bad;
	int err;

	done = kd_token_new(self->ctx, NULL, NULL, 0, &err);
	node = kd_obj_new(self->ctx, &node_class, NULL, &err);
	bad = tobj_new(self->ctx, &log, FLAW_B_FORGETS, &err);
	ASSERT_TRUE(done && node && bad);
	ASSERT_EQ(1, kd_dispose(done));

	memset(&sqe, 0xff, sizeof(sqe));
	EXPECT_EQ(0, kd_prep_dispose(&sqe, done));
	EXPECT_EQ(IORING_OP_NOP, sqe.opcode);
	memset(&sqe, 0xff, sizeof(sqe));
	EXPECT_EQ(1, kd_prep_dispose(&sqe, node));
	EXPECT_EQ(IORING_OP_NOP, sqe.opcode);
	memset(&sqe, 0xff, sizeof(sqe));
	EXPECT_EQ(-EPROTO, kd_prep_dispose(&sqe, &bad->obj));
	EXPECT_EQ(IORING_OP_NOP, sqe.opcode);
	EXPECT_EQ(3, log.n);
	memset(&sqe, 0xff, sizeof(sqe));
	EXPECT_EQ(-EINVAL, kd_prep_dispose(&sqe, NULL));
	EXPECT_EQ(IORING_OP_NOP, sqe.opcode);
	EXPECT_EQ(-EINVAL, kd_prep_dispose(NULL, node));
	kd_obj_unref(done);
	kd_obj_unref(node);
	kd_obj_unref(&bad->obj);
}

/* Without the io_uring command the ioctl disposes, the SQE is a NOP. */
TEST(prep_dispose_fallback_to_ioctl)
{
	struct io_uring_sqe sqe;
	struct kdispose_query q;
	struct kd_ctx *ctx;
	struct kd_obj *tok;
	uint64_t raw;
	int err = 0;

	ctx = kd_ctx_open(KD_CTX_NO_URING, &err);
	ASSERT_NE(NULL, ctx);
	tok = kd_token_new(ctx, NULL, NULL, 0, &err);
	ASSERT_NE(NULL, tok);
	ASSERT_EQ(0, kd_raw_create(ctx, KDISPOSE_TYPE_TOKEN, 0, 0, NULL, &raw));
	memset(&sqe, 0xff, sizeof(sqe));
	EXPECT_EQ(1, kd_prep_dispose(&sqe, tok));
	EXPECT_EQ(IORING_OP_NOP, sqe.opcode);
	EXPECT_EQ(-EIDRM, kd_raw_query(ctx, handle_of(tok), &q));
	memset(&sqe, 0xff, sizeof(sqe));
	EXPECT_EQ(1, kd_prep_raw_dispose(&sqe, ctx, raw));
	EXPECT_EQ(IORING_OP_NOP, sqe.opcode);
	EXPECT_EQ(0, kd_prep_raw_dispose(&sqe, ctx, raw));
	EXPECT_EQ(0, kd_ctx_close(ctx));
	kd_obj_unref(tok);
}

/*
 * Init hooks. The hook of struct built builds two parts and a child; told
 * to, it fails after the first part. Its class's dispose counts its runs
 * and checks that it never meets a half-built object.
 */
struct built {
	struct kd_obj obj;
	char *part[2];
	struct kd_obj *child;	/* a token owned by the object */
	uint64_t seen;		/* the token's value, read in the hook */
};

struct build_args {
	struct kd_ctx *ctx;
	int fail_after;		/* parts built before failing, or -1 */
	struct kd_obj *owner;	/* disposed by the hook, if not NULL */
	struct kd_obj *child;	/* out: the child, referenced */
};

static atomic_int built_disposes, built_half_seen;
static const struct kd_class built_class;

static int built_init(struct kd_obj *obj, void *arg)
{
	struct build_args *a = arg;
	struct built *b = (struct built *)obj;
	int i, err = 0;

	/* The kernel object exists already. */
	if (kd_token_get(obj, &b->seen))
		return -EPROTO;
	b->child = kd_token_new(a->ctx, NULL, obj, 1, &err);
	if (!b->child)
		return err;
	a->child = kd_obj_ref(b->child);
	for (i = 0; i < 2; i++) {
		if (i == a->fail_after) {
			/* Undo what this hook did; the child is the library's. */
			while (i--)
				free(b->part[i]);
			kd_obj_unref(b->child);
			return -ENOMEM;
		}
		b->part[i] = strdup("part");
	}
	if (a->owner)
		kd_dispose(a->owner);
	return 0;
}

static void built_dispose(struct kd_obj *obj, bool disposing)
{
	struct built *b = (struct built *)obj;

	atomic_fetch_add(&built_disposes, 1);
	if (!b->part[0] || !b->part[1] || !b->child)
		atomic_fetch_add(&built_half_seen, 1);
	free(b->part[0]);
	free(b->part[1]);
	kd_obj_unref(b->child);
	kd_chain_dispose(&built_class, obj, disposing);
}

static const struct kd_class built_class = {
	.name = "test_built",
	.size = sizeof(struct built),
	.parent = &kd_token_class,
	.dispose = built_dispose,
};

TEST_F(lib, init_hook_builds_before_publish)
{
	struct build_args a = { .ctx = self->ctx, .fail_after = -1 };
	struct built *b;
	int err = 0;

	atomic_store(&built_disposes, 0);
	atomic_store(&built_half_seen, 0);
	b = (struct built *)kd_token_new_full(self->ctx, &built_class, NULL,
					      99, built_init, &a, __FILE__,
					      __LINE__, &err);
	ASSERT_NE(NULL, b) TH_LOG("%s", strerror(-err));
	EXPECT_EQ(99, b->seen);
	EXPECT_TRUE(b->part[0] && b->part[1]);
	EXPECT_EQ(1, kd_dispose(&b->obj));
	EXPECT_EQ(1, atomic_load(&built_disposes));
	EXPECT_EQ(0, atomic_load(&built_half_seen));
	EXPECT_EQ(1, kd_obj_is_disposed(a.child));
	kd_obj_unref(a.child);
	kd_obj_unref(&b->obj);
}

TEST_F(lib, init_hook_failing_halfway)
{
	struct build_args a = { .ctx = self->ctx, .fail_after = 1 };
	struct kd_t_counters before, after;
	struct kdispose_query q;
	struct kd_obj *obj;
	int err = 0;

	atomic_store(&built_disposes, 0);
	atomic_store(&built_half_seen, 0);
	KD_T_ASSERT_COUNTERS(before);
	obj = kd_token_new_full(self->ctx, &built_class, NULL, 1, built_init,
				&a, __FILE__, __LINE__, &err);
	EXPECT_EQ(NULL, obj);
	EXPECT_EQ(-ENOMEM, err);
	/* No dispose ran on the half-built object... */
	EXPECT_EQ(0, atomic_load(&built_disposes));
	/* ...but its kernel object and the whole child are disposed. */
	ASSERT_NE(NULL, a.child);
	EXPECT_EQ(1, kd_obj_is_disposed(a.child));
	EXPECT_EQ(-EIDRM, kd_raw_query(self->ctx, handle_of(a.child), &q));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN, .created = 2,
			  .disposed = 2, .released = 2);
	kd_obj_unref(a.child);
	/* Nothing of it is left for the finalizer path. */
	EXPECT_EQ(0, kd_ctx_close(self->ctx));
	self->ctx = NULL;
}

/* Built, but its owner went meanwhile: disposed whole, with -EIDRM. */
TEST_F(lib, init_hook_owner_disposed_meanwhile)
{
	struct build_args a = { .ctx = self->ctx, .fail_after = -1 };
	struct kd_obj *owner, *obj;
	int err = 0;

	atomic_store(&built_disposes, 0);
	atomic_store(&built_half_seen, 0);
	owner = kd_obj_new(self->ctx, &node_class, NULL, &err);
	ASSERT_NE(NULL, owner);
	a.owner = owner;
	obj = kd_token_new_full(self->ctx, &built_class, owner, 1, built_init,
				&a, __FILE__, __LINE__, &err);
	EXPECT_EQ(NULL, obj);
	EXPECT_EQ(-EIDRM, err);
	EXPECT_EQ(1, atomic_load(&built_disposes));
	EXPECT_EQ(0, atomic_load(&built_half_seen));
	EXPECT_EQ(1, kd_obj_is_disposed(a.child));
	kd_obj_unref(a.child);
	kd_obj_unref(owner);
	EXPECT_EQ(0, kd_ctx_close(self->ctx));
	self->ctx = NULL;
}

/* The same for an object without kernel object: kd_obj_new_full(). */
struct owned {
	struct kd_obj obj;
	struct node *child;	/* a node owned by the object */
};

struct owned_args {
	struct kd_ctx *ctx;
	struct order *order;	/* where the child records its dispose */
};

static atomic_int owned_disposes;
static const struct kd_class owned_class;

static int owned_init(struct kd_obj *obj, void *arg)
{
	struct owned *o = (struct owned *)obj;
	struct owned_args *a = arg;
	int err = 0;

	o->child = (struct node *)kd_obj_new(a->ctx, &node_class, obj, &err);
	if (!o->child)
		return err;
	o->child->order = a->order;
	o->child->id = 1;
	/* The child is whole, and the library's to dispose: drop ours. */
	kd_obj_unref(&o->child->obj);
	return -ENOSPC;
}

static void owned_dispose(struct kd_obj *obj, bool disposing)
{
	atomic_fetch_add(&owned_disposes, 1);
	kd_chain_dispose(&owned_class, obj, disposing);
}

static const struct kd_class owned_class = {
	.name = "test_owned",
	.size = sizeof(struct owned),
	.dispose = owned_dispose,
};

TEST_F(lib, init_hook_failing_library_object)
{
	struct order order = { 0 };
	struct owned_args a = { .ctx = self->ctx, .order = &order };
	struct kd_obj *obj;
	int err = 0;

	atomic_store(&owned_disposes, 0);
	obj = kd_obj_new_full(self->ctx, &owned_class, NULL, owned_init, &a,
			      __FILE__, __LINE__, &err);
	EXPECT_EQ(NULL, obj);
	EXPECT_EQ(-ENOSPC, err);
	EXPECT_EQ(0, atomic_load(&owned_disposes));
	/* The child the hook made was disposed as a whole object. */
	ASSERT_EQ(1, order.n);
	EXPECT_EQ(1, order.id[0]);
	/* A NULL hook is kd_obj_new_at(). */
	obj = kd_obj_new_full(self->ctx, &node_class, NULL, NULL, NULL,
			      __FILE__, __LINE__, &err);
	ASSERT_NE(NULL, obj);
	EXPECT_EQ(1, kd_dispose(obj));
	kd_obj_unref(obj);
	EXPECT_EQ(0, kd_ctx_close(self->ctx));
	self->ctx = NULL;
}

/* Checked downcasts. */
TEST_F(lib, checked_cast)
{
	struct call_log log = { 0 };
	struct kd_obj *mem, *node;
	unsigned char *junk;
	struct tobj *t;
	int err;

	t = tobj_new(self->ctx, &log, FLAW_NONE, &err);
	mem = kd_memory_new(self->ctx, NULL, NULL, 4096, &err);
	node = kd_obj_new(self->ctx, &node_class, NULL, &err);
	junk = calloc(1, 4096);
	ASSERT_TRUE(t && mem && node && junk);

	EXPECT_TRUE(kd_obj_is_a(&t->obj, &test_c_class));
	EXPECT_TRUE(kd_obj_is_a(&t->obj, &test_a_class));
	EXPECT_TRUE(kd_obj_is_a(&t->obj, &kd_token_class));
	EXPECT_TRUE(kd_obj_is_a(&t->obj, &kd_object_class));
	EXPECT_FALSE(kd_obj_is_a(&t->obj, &kd_memory_class));
	EXPECT_FALSE(kd_obj_is_a(mem, &test_a_class));
	EXPECT_FALSE(kd_obj_is_a(node, &kd_token_class));
	EXPECT_TRUE(kd_obj_is_a(node, &node_class));
	EXPECT_FALSE(kd_obj_is_a(NULL, &kd_object_class));
	EXPECT_FALSE(kd_obj_is_a(&t->obj, NULL));
	/* Not an object at all: zeroed memory has no magic. */
	EXPECT_FALSE(kd_obj_is_a((struct kd_obj *)(junk + 2048),
				 &kd_object_class));

	EXPECT_EQ(t, KD_OBJ_CAST(&t->obj, &test_b_class, struct tobj));
	EXPECT_EQ(NULL, KD_OBJ_CAST(mem, &test_b_class, struct tobj));
	EXPECT_EQ(NULL, kd_obj_cast(node, &kd_memory_class));
	EXPECT_EQ(NULL, kd_obj_cast(NULL, &kd_memory_class));
	EXPECT_EQ(NULL, kd_obj_cast((struct kd_obj *)(junk + 2048),
				    &kd_object_class));
	/* A disposed object keeps its class. */
	EXPECT_EQ(1, kd_dispose(mem));
	EXPECT_EQ(mem, kd_obj_cast(mem, &kd_memory_class));

	free(junk);
	EXPECT_EQ(1, kd_dispose(&t->obj));
	kd_obj_unref(&t->obj);
	kd_obj_unref(mem);
	kd_obj_unref(node);
}

/* KD_AUTO_UNREF drops the reference and disposes nothing. */
TEST_F(lib, auto_unref_does_not_dispose)
{
	struct kdispose_query q;
	struct kd_obj *tok;
	uint64_t h;
	int err;

	tok = kd_token_new(self->ctx, NULL, NULL, 8, &err);
	ASSERT_NE(NULL, tok);
	h = handle_of(tok);
	{
		KD_AUTO_UNREF(struct kd_obj) ref = kd_obj_ref(tok);

		EXPECT_EQ(tok, ref);
	}
	{
		/* The caller's own reference: the context still holds one. */
		KD_AUTO_UNREF(struct kd_obj) last = tok;

		EXPECT_EQ(0, kd_obj_is_disposed(tok));
		EXPECT_EQ(0, kd_raw_query(self->ctx, h, &q));
	}
	EXPECT_EQ(0, kd_raw_query(self->ctx, h, &q));
	EXPECT_EQ(1, kd_ctx_close(self->ctx));
	self->ctx = NULL;
}

TEST(version_macros_and_check)
{
	EXPECT_EQ(KD_VERSION_MAJOR, kd_version_major());
	EXPECT_EQ(KD_VERSION_MINOR, kd_version_minor());
	EXPECT_TRUE(KD_CHECK_VERSION(1, 0));
	EXPECT_TRUE(KD_CHECK_VERSION(1, 1));
	EXPECT_TRUE(KD_CHECK_VERSION(1, 2));
	EXPECT_TRUE(KD_CHECK_VERSION(0, 99));
	EXPECT_FALSE(KD_CHECK_VERSION(1, 3));
	EXPECT_FALSE(KD_CHECK_VERSION(2, 0));
#if !KD_CHECK_VERSION(1, 1)
	EXPECT_TRUE(0) TH_LOG("KD_CHECK_VERSION is not a constant 1 in #if");
#endif
	EXPECT_TRUE(kd_check_version(1, 1));
	EXPECT_TRUE(kd_check_version(KD_VERSION_MAJOR, 0));
	EXPECT_FALSE(kd_check_version(KD_VERSION_MAJOR, KD_VERSION_MINOR + 1));
	EXPECT_FALSE(kd_check_version(KD_VERSION_MAJOR + 1, 0));
}

/*
 * kd_ctx_close()'s count is of library objects: kd_obj_new()'s count, raw
 * handles do not; the kernel's finalized counter the other way round.
 */
TEST_F(lib, ctx_close_counts_library_objects)
{
	struct kd_t_counters before, after;
	uint64_t raw;
	int i, err;

	KD_T_ASSERT_COUNTERS(before);
	for (i = 0; i < 2; i++)
		ASSERT_NE(NULL, kd_token_new(self->ctx, NULL, NULL, i, &err));
	for (i = 0; i < 3; i++)
		ASSERT_NE(NULL, kd_obj_new(self->ctx, &node_class, NULL, &err));
	ASSERT_EQ(0, kd_raw_create(self->ctx, KDISPOSE_TYPE_TOKEN, 0, 0, NULL,
				   &raw));
	EXPECT_EQ(5, kd_ctx_close(self->ctx));
	self->ctx = NULL;
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN, .created = 3,
			  .finalized = 3, .released = 3);
}

/* The device has no poll method: readable and writable, always. */
TEST_F(lib, ctx_fd_poll_tells_nothing)
{
	struct pollfd pfd = { .events = POLLIN | POLLOUT };
	struct kd_obj *ev;
	int err;

	pfd.fd = kd_ctx_fd(self->ctx);
	ASSERT_LE(0, pfd.fd);
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN | POLLOUT, pfd.revents & (POLLIN | POLLOUT));
	/* Whatever its objects do. */
	ev = kd_event_new(self->ctx, NULL, NULL, 0, &err);
	ASSERT_NE(NULL, ev);
	pfd.revents = 0;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN | POLLOUT, pfd.revents & (POLLIN | POLLOUT));
	EXPECT_EQ(1, kd_dispose(ev));
	kd_obj_unref(ev);
}

/*
 * Constructors reuse the memory of freed objects (the context keeps a few
 * of the smallest ones; malloc() keeps the others): an instance is zeroed
 * all the same, whatever its last owner left in it.
 */
struct wide {
	struct kd_obj obj;
	uint64_t word[6];
};

static const struct kd_class wide_class = {
	.name = "test_wide",
	.size = sizeof(struct wide),
	.parent = &kd_token_class,
};

TEST_F(lib, instance_zeroed_when_memory_reused)
{
	int round, i, err, dirty;
	struct wide *w;

	for (round = 0; round < 4; round++) {
		w = (struct wide *)kd_token_new(self->ctx, &wide_class, NULL,
						round, &err);
		ASSERT_NE(NULL, w) TH_LOG("%s", strerror(-err));
		for (i = dirty = 0; i < 6; i++) {
			dirty += w->word[i] != 0;
			w->word[i] = ~0ULL;
		}
		EXPECT_EQ(0, dirty) TH_LOG("round %d", round);
		EXPECT_EQ(1, kd_dispose(&w->obj));
		EXPECT_EQ(0, kd_obj_unref(&w->obj));
	}
}

/* The kinds' own classes dispose without a class chain: still one winner. */
TEST_F(lib, dispose_8_threads_one_winner_kind_class)
{
	pthread_t th[8];
	struct race r;
	int round, i, err;

	for (round = 0; round < 20; round++) {
		memset(&r, 0, sizeof(r));
		r.obj = kd_token_new(self->ctx, NULL, NULL, round, &err);
		ASSERT_NE(NULL, r.obj);
		ASSERT_EQ(0, pthread_barrier_init(&r.start, NULL, 8));
		for (i = 0; i < 8; i++)
			ASSERT_EQ(0, pthread_create(&th[i], NULL, race_dispose,
						    &r));
		for (i = 0; i < 8; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&r.start);
		EXPECT_EQ(1, atomic_load(&r.ones));
		EXPECT_EQ(7, atomic_load(&r.zeros));
		EXPECT_EQ(0, atomic_load(&r.others));
		EXPECT_EQ(0, kd_raw_dispose(self->ctx, handle_of(r.obj)));
		kd_obj_unref(r.obj);
	}
}

/*
 * Threads sharing one context: what one frees, another's constructor may
 * take (the context's spare objects), and all of them link into and out
 * of its finalizer list at once.
 */
#define SHARE_THREADS 8

struct share {
	struct kd_ctx *ctx;
	pthread_barrier_t start;
	unsigned int iters;
	atomic_int kept, bad;
};

struct share_thread {
	struct share *s;
	unsigned int id;
};

/*
 * Objects of the smallest size, which the context keeps for reuse when
 * freed: each thread publishes the one it holds, so that two constructors
 * handed the same memory see each other.
 */
static const struct kd_class bare_class = {
	.name = "test_bare",
	.size = sizeof(struct kd_obj),
};

static struct kd_obj *_Atomic share_held[SHARE_THREADS];

static void *share_spares(void *arg)
{
	struct share_thread *t = arg;
	struct share *s = t->s;
	struct kd_obj *obj;
	unsigned int i, j;
	int err;

	pthread_barrier_wait(&s->start);
	for (i = 0; i < s->iters; i++) {
		obj = kd_obj_new(s->ctx, &bare_class, NULL, &err);
		if (!obj) {
			atomic_fetch_add(&s->bad, 1);
			continue;
		}
		atomic_store(&share_held[t->id], obj);
		for (j = 0; j < SHARE_THREADS; j++)
			if (j != t->id && atomic_load(&share_held[j]) == obj)
				atomic_fetch_add(&s->bad, 1);
		atomic_store(&share_held[t->id], NULL);
		if (kd_dispose(obj) != 1 || kd_obj_unref(obj))
			atomic_fetch_add(&s->bad, 1);
	}
	return NULL;
}

/*
 * Library-only owners and children, most disposed (the cascade walks the
 * children under the context's lock), every eighth pair left to
 * kd_ctx_close().
 */
static void *share_list(void *arg)
{
	struct share_thread *t = arg;
	struct share *s = t->s;
	struct kd_obj *owner, *child;
	unsigned int i;
	int err;

	pthread_barrier_wait(&s->start);
	for (i = 0; i < s->iters; i++) {
		owner = kd_obj_new(s->ctx, &node_class, NULL, &err);
		child = owner ? kd_obj_new(s->ctx, &node_class, owner, &err) :
				NULL;
		if (!child) {
			atomic_fetch_add(&s->bad, 1);
			continue;
		}
		if (i % 8 == 7) {
			atomic_fetch_add(&s->kept, 2);
		} else if (kd_dispose(owner) != 1 ||
			   kd_obj_is_disposed(child) != 1 ||
			   kd_dispose(child) != 0) {
			atomic_fetch_add(&s->bad, 1);
		}
		kd_obj_unref(child);
		kd_obj_unref(owner);
	}
	return NULL;
}

static void share_run(struct __test_metadata *_metadata, struct kd_ctx *ctx,
		      void *(*fn)(void *), unsigned int iters, struct share *s)
{
	struct share_thread t[SHARE_THREADS];
	pthread_t th[SHARE_THREADS];
	unsigned int i;

	s->ctx = ctx;
	s->iters = iters;
	ASSERT_EQ(0, pthread_barrier_init(&s->start, NULL, SHARE_THREADS));
	for (i = 0; i < SHARE_THREADS; i++) {
		t[i] = (struct share_thread){ .s = s, .id = i };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, fn, &t[i]));
	}
	for (i = 0; i < SHARE_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&s->start);
}

TEST_F(lib, threads_share_spare_objects)
{
	struct share s = { 0 };

	share_run(_metadata, self->ctx, share_spares, kd_t_scaled(20000), &s);
	EXPECT_EQ(0, atomic_load(&s.bad));
	EXPECT_EQ(0, kd_ctx_close(self->ctx));
	self->ctx = NULL;
}

TEST_F(lib, threads_share_finalizer_list)
{
	struct share s = { 0 };

	share_run(_metadata, self->ctx, share_list, kd_t_scaled(4000), &s);
	EXPECT_EQ(0, atomic_load(&s.bad));
	EXPECT_EQ(atomic_load(&s.kept), kd_ctx_close(self->ctx));
	self->ctx = NULL;
}

TEST_HARNESS_MAIN
