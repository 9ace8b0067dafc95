// SPDX-License-Identifier: GPL-2.0
/*
 * lib_test: libkdispose against the real module.
 *
 * The object model (idempotent and thread-safe dispose, the class chain in
 * both directions, forgotten chain-ups, the finalizer path of
 * kd_ctx_close() checked against the module counters, safe-handle
 * deferral, use after dispose, KD_AUTO/KD_TAKE, cascade), every kind's
 * wrappers, and batch and io_uring dispose with the ioctl fallback.
 */
#include "kdispose_test.h"

#include <liburing.h>
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

TEST_HARNESS_MAIN
