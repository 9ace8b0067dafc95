// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Objects: classes, the dispose chain, the finalizer list and the cascade.
 *
 * Lifecycle of an object:
 *
 *   create   allocate (refs: caller + finalizer list), then publish: link
 *            into ctx->objects and the owner's children, under
 *            ctx->objects_lock.
 *   claim    state LIVE -> DISPOSING, one compare-and-swap: the winner
 *            alone runs what follows; every other disposer returns 0.
 *   dispose  (kd_dispose) children first, newest first; then the class
 *            chain with disposing = true; unlink ("SuppressFinalize"), state
 *            DISPOSED, drop the finalizer list's reference.
 *   finalize (kd_ctx_close) every object still LIVE is claimed and
 *            unlinked under ctx->objects_lock, then, outside it, newest
 *            first (so children before parents) gets the chain with
 *            disposing = false, state FINALIZED, and loses the list's
 *            reference.
 *   free     the last kd_obj_unref(): drop the owner and the context.
 *
 * Between create and publish, the _full constructors run the caller's init
 * hook (__kd_obj_init_publish). Nothing else can reach the object then, so
 * a hook that fails leaves an object that no dispose ever saw: it is
 * claimed, its children (created by the hook) and its kernel object are
 * disposed, and its references dropped, without its class chain.
 *
 * The chain: dispose(obj, disposing) of the object's class runs first; each
 * class ends with kd_chain_dispose(), which runs its parent's, down to
 * kd_object_class (level 0). chain.ran records the levels entered. If the
 * top-level call returns without level 0 having run, a class forgot to
 * chain up: the lowest level entered is the culprit, the library runs the
 * rest of the chain from its parent and reports -EPROTO.
 */
#include <errno.h>
#include <stdlib.h>

#include "lib.h"

/* The end of every chain: kd_chain_run() checks that it was reached. */
static void kd_object_dispose(struct kd_obj *obj __attribute__((unused)),
			      bool disposing __attribute__((unused)))
{
}

KD_EXPORT const struct kd_class kd_object_class = {
	.name = "kd_object",
	.size = sizeof(struct kd_obj),
	.dispose = kd_object_dispose,
};

static const struct kd_class *kd_class_parent(const struct kd_class *cls)
{
	if (cls == &kd_object_class)
		return NULL;
	return cls->parent ? cls->parent : &kd_object_class;
}

/*
 * Return: the level of @cls (kd_object_class: 0), or -EINVAL if invalid,
 * with the reason reported to KDISPOSE_DEBUG=checks on behalf of @site.
 */
static int kd_class_depth(const struct kd_class *cls,
			  const struct kd_site *site)
{
	const struct kd_class *c, *parent;
	int depth = 0;

	if (!cls) {
		__kd_check_failed(site, -EINVAL, "the class is NULL");
		return -EINVAL;
	}
	for (c = cls; c != &kd_object_class; c = parent) {
		parent = kd_class_parent(c);
		if (++depth > KD_CLASS_MAX_DEPTH) {
			__kd_check_failed(
				site, -EINVAL,
				"class \"%s\" is more than %d levels deep",
				__kd_class_name(cls), KD_CLASS_MAX_DEPTH);
			return -EINVAL;
		}
		if (c->size < sizeof(struct kd_obj)) {
			__kd_check_failed(
				site, -EINVAL,
				"class \"%s\" has size %zu, less than struct kd_obj",
				__kd_class_name(c), c->size);
			return -EINVAL;
		}
		if (c->size < parent->size) {
			__kd_check_failed(
				site, -EINVAL,
				"class \"%s\" (size %zu) is smaller than its parent \"%s\" (size %zu)",
				__kd_class_name(c), c->size,
				__kd_class_name(parent), parent->size);
			return -EINVAL;
		}
	}
	if (cls->size > SIZE_MAX / 2) {
		__kd_check_failed(site, -EINVAL, "class \"%s\" has size %zu",
				  __kd_class_name(cls), cls->size);
		return -EINVAL;
	}
	return depth;
}

bool __kd_class_derives(const struct kd_class *cls, const struct kd_class *base)
{
	for (; cls; cls = kd_class_parent(cls))
		if (cls == base)
			return true;
	return false;
}

/* The class of @p's chain at @level. */
static const struct kd_class *kd_class_at(struct kd_obj_priv *p,
					  unsigned int level)
{
	const struct kd_class *cls = kd_priv_obj(p)->klass;
	unsigned int i;

	for (i = p->depth; i > level; i--)
		cls = kd_class_parent(cls);
	return cls;
}

/* Return: the level of @cls in @p's chain, or -1 if it is not in it. */
static int kd_class_level(struct kd_obj_priv *p, const struct kd_class *cls)
{
	const struct kd_class *c = kd_priv_obj(p)->klass;
	int level = p->depth;

	for (; c; c = kd_class_parent(c), level--)
		if (c == cls)
			return level;
	return -1;
}

/*
 * Objects of the smallest size, those of the kinds' own classes (most
 * objects) and of classes that add no field, are kept in ctx->spare when
 * freed, up to KD_CTX_SPARE of them, for the next constructors of the
 * context: taking one is a load and an exchange, where malloc() and free()
 * are a call each, and a few dozen instructions. A slot holds one pointer
 * and is emptied by an exchange, so two takers cannot get the same object.
 */
static struct kd_obj_priv *kd_obj_alloc(struct kd_ctx *ctx,
					const struct kd_class *cls)
{
	struct kd_obj_priv *p;
	unsigned int i;

	if (cls->size == sizeof(struct kd_obj))
		for (i = 0; i < KD_CTX_SPARE; i++)
			if (atomic_load_explicit(&ctx->spare[i],
						 memory_order_relaxed) &&
			    (p = atomic_exchange_explicit(&ctx->spare[i], NULL,
							  memory_order_acquire)))
				return p;
	return malloc(sizeof(*p) + cls->size);
}

/* Frees @p (of @ctx) or keeps it for kd_obj_alloc(). */
static void kd_obj_dealloc(struct kd_ctx *ctx, struct kd_obj_priv *p)
{
	struct kd_obj_priv *empty;
	unsigned int i;

	if (kd_priv_obj(p)->klass->size == sizeof(struct kd_obj))
		for (i = 0; i < KD_CTX_SPARE; i++) {
			empty = NULL;
			if (!atomic_load_explicit(&ctx->spare[i],
						  memory_order_relaxed) &&
			    atomic_compare_exchange_strong_explicit(
				    &ctx->spare[i], &empty, p,
				    memory_order_release, memory_order_relaxed))
				return;
		}
	free(p);
}

/*
 * Allocates an object of @cls for @ctx, not yet visible to kd_ctx_close()
 * nor to @owner's cascade: __kd_obj_init_publish() does that, or
 * __kd_obj_destroy() frees it. @site is the constructor's call site.
 */
struct kd_obj_priv *__kd_obj_create(struct kd_ctx *ctx,
				    const struct kd_class *cls,
				    struct kd_obj *owner,
				    const struct kd_site *site, int *err)
{
	struct kd_obj_priv *p, *op = NULL;
	int depth;

	if (!ctx) {
		__kd_check_failed(site, -EINVAL, "the context is NULL");
		*err = -EINVAL;
		return NULL;
	}
	/*
	 * A kind's own class (or one like it) is level 2 and valid, as
	 * kd_class_depth() would find walking it.
	 */
	if (cls && cls->parent == &__kd_kobj_class &&
	    cls->size == sizeof(struct kd_obj))
		depth = 2;
	else
		depth = kd_class_depth(cls, site);
	if (depth < 0) {
		*err = -EINVAL;
		return NULL;
	}
	if (owner) {
		op = __kd_obj_priv(owner);
		if (!op || op->ctx != ctx) {
			__kd_check_failed(
				site, -EINVAL,
				op ? "the owner belongs to another context" :
				     "the owner is not a libkdispose object");
			*err = -EINVAL;
			return NULL;
		}
	}
	/*
	 * Not calloc(): glibc's calloc() bypasses the per-thread cache that
	 * malloc() and free() share, and a spare object is not zeroed. The
	 * fields are set one by one instead; only the instance is zeroed,
	 * as kd_class documents.
	 */
	p = kd_obj_alloc(ctx, cls);
	if (!p) {
		*err = -ENOMEM;
		return NULL;
	}
	p->magic = KD_OBJ_MAGIC;
	atomic_init(&p->state, KD_LIVE);
	atomic_init(&p->refs, 2);
	p->ctx = ctx;
	__kd_ctx_get(ctx);
	p->owner = NULL;
	if (op) {
		p->owner = owner;
		atomic_fetch_add(&op->refs, 1);
	}
	kd_list_init(&p->ctx_link);
	kd_list_init(&p->sibling);
	kd_list_init(&p->children);
	atomic_init(&p->nchildren, 0);
	p->depth = depth;
	/* No thread runs the chain yet: kd_chain_dispose() compares this. */
	atomic_init(&p->chain_thread, 0);
	p->file = site->file;
	p->line = site->line;
	p->kind = NULL;
	p->map = NULL;
	p->map_len = 0;
	kd_priv_obj(p)->klass = cls;
	if (cls->size > sizeof(struct kd_obj))
		memset(p->instance + sizeof(struct kd_obj), 0,
		       cls->size - sizeof(struct kd_obj));
	return p;
}

/*
 * Return: 0, or -EIDRM when the context is closing or the owner claimed.
 *
 * The owner's child count goes up before its state is read, and its claim
 * (__kd_obj_dispose) sets the state before the count is read, both
 * sequentially consistent: either this sees the claim and backs out, or
 * the claimer sees the count and looks for the child under
 * ctx->objects_lock.
 */
static int kd_obj_publish(struct kd_obj_priv *p)
{
	struct kd_ctx *ctx = p->ctx;
	struct kd_obj_priv *op = __kd_obj_priv(p->owner);
	int ret = 0;

	kd_lock(&ctx->objects_lock);
	if (op)
		atomic_fetch_add(&op->nchildren, 1);
	if (ctx->closing || (op && atomic_load(&op->state) != KD_LIVE)) {
		if (op)
			atomic_fetch_sub(&op->nchildren, 1);
		ret = -EIDRM;
	} else {
		kd_list_add_tail(&ctx->objects, &p->ctx_link);
		if (op)
			kd_list_add_tail(&op->children, &p->sibling);
	}
	kd_unlock(&ctx->objects_lock);
	return ret;
}

/* The last reference is gone (__kd_obj_put()). */
static inline void kd_obj_free(struct kd_obj_priv *p)
{
	struct kd_obj_priv *op = __kd_obj_priv(p->owner);
	struct kd_ctx *ctx = p->ctx;

	p->magic = 0;
	kd_obj_dealloc(ctx, p);
	if (op)
		__kd_obj_put(op);
	__kd_ctx_put(ctx);
}

void __kd_obj_free(struct kd_obj_priv *p)
{
	kd_obj_free(p);
}

/* Frees an object that kd_obj_publish() refused or was never given. */
void __kd_obj_destroy(struct kd_obj_priv *p)
{
	__kd_obj_free(p);
}

static struct kd_obj *kd_obj_new_site(struct kd_ctx *ctx,
				      const struct kd_class *cls,
				      struct kd_obj *owner, kd_init_fn *init,
				      void *arg, const struct kd_site *site,
				      int *err)
{
	struct kd_obj_priv *p;
	int ret;

	if (cls && __kd_class_derives(cls, &__kd_kobj_class)) {
		__kd_check_failed(
			site, -EINVAL,
			"class \"%s\" derives from a kernel kind: create it with that kind's constructor (kd_token_new() ...)",
			__kd_class_name(cls));
		ret = -EINVAL;
		goto err;
	}
	p = __kd_obj_create(ctx, cls, owner, site, &ret);
	if (!p)
		goto err;
	ret = __kd_obj_init_publish(p, init, arg);
	if (ret)
		goto err;
	return kd_priv_obj(p);
err:
	if (err)
		*err = ret;
	return NULL;
}

KD_EXPORT struct kd_obj *kd_obj_new(struct kd_ctx *ctx,
				    const struct kd_class *cls,
				    struct kd_obj *owner, int *err)
{
	const struct kd_site site = { .fn = "kd_obj_new" };

	return kd_obj_new_site(ctx, cls, owner, NULL, NULL, &site, err);
}

KD_EXPORT struct kd_obj *kd_obj_new_at(struct kd_ctx *ctx,
				       const struct kd_class *cls,
				       struct kd_obj *owner, const char *file,
				       unsigned int line, int *err)
{
	const struct kd_site site = {
		.fn = "kd_obj_new",
		.file = file,
		.line = line,
	};

	return kd_obj_new_site(ctx, cls, owner, NULL, NULL, &site, err);
}

KD_EXPORT struct kd_obj *kd_obj_new_full(struct kd_ctx *ctx,
					 const struct kd_class *cls,
					 struct kd_obj *owner, kd_init_fn *init,
					 void *arg, const char *file,
					 unsigned int line, int *err)
{
	const struct kd_site site = {
		.fn = "kd_obj_new_full",
		.file = file,
		.line = line,
	};

	return kd_obj_new_site(ctx, cls, owner, init, arg, &site, err);
}

KD_EXPORT struct kd_obj *kd_obj_ref(struct kd_obj *obj)
{
	struct kd_obj_priv *p = __kd_obj_priv(obj);

	if (p)
		atomic_fetch_add(&p->refs, 1);
	return obj;
}

KD_EXPORT int kd_obj_unref(struct kd_obj *obj)
{
	struct kd_obj_priv *p = __kd_obj_priv(obj);

	if (!p)
		return -EINVAL;
	/* __kd_obj_put(), with the free inline: most objects end here. */
	if (atomic_fetch_sub(&p->refs, 1) == 1)
		kd_obj_free(p);
	return 0;
}

KD_EXPORT int kd_obj_is_disposed(struct kd_obj *obj)
{
	struct kd_obj_priv *p = __kd_obj_priv(obj);

	if (!p)
		return -EINVAL;
	return atomic_load(&p->state) != KD_LIVE;
}

KD_EXPORT bool kd_obj_is_a(struct kd_obj *obj, const struct kd_class *cls)
{
	struct kd_obj_priv *p = __kd_obj_priv(obj);

	return p && cls && __kd_class_derives(obj->klass, cls);
}

KD_EXPORT struct kd_obj *kd_obj_cast_at(struct kd_obj *obj,
					const struct kd_class *cls,
					const char *file, unsigned int line)
{
	const struct kd_site site = {
		.fn = "kd_obj_cast",
		.file = file,
		.line = line,
	};

	if (!obj || kd_obj_is_a(obj, cls))
		return obj;
	if (!__kd_obj_priv(obj))
		__kd_check_failed(
			&site, 0,
			"%p is not a libkdispose object (cast to \"%s\")",
			(void *)obj, __kd_class_name(cls));
	else
		__kd_check_failed(&site, 0, "a \"%s\" object is not a \"%s\"",
				  __kd_class_name(obj->klass),
				  __kd_class_name(cls));
	return NULL;
}

KD_EXPORT struct kd_obj *kd_obj_cast(struct kd_obj *obj,
				     const struct kd_class *cls)
{
	return kd_obj_cast_at(obj, cls, NULL, 0);
}

/*
 * Enters the dispose of @cls, at @level of @p's chain. A class without
 * dispose inherits its parent's: both are entered at once, as if it had
 * chained up (which is all kd_chain_dispose() could find it doing), down
 * to a class with a dispose; kd_object_class has one.
 */
static void kd_chain_call(struct kd_obj_priv *p, const struct kd_class *cls,
			  unsigned int level)
{
	while (!cls->dispose) {
		p->chain.ran |= 1U << level;
		cls = kd_class_parent(cls);
		level--;
	}
	p->chain.ran |= 1U << level;
	p->chain.entered = cls;
	p->chain.level = level;
	cls->dispose(kd_priv_obj(p), p->chain.disposing);
}

/* Records the first misbehaviour of a chain, for kd_chain_report(). */
static void kd_chain_fault(struct kd_obj_priv *p, const struct kd_class *cls,
			   const char *fault)
{
	if (!p->chain.bad) {
		p->chain.culprit = cls;
		p->chain.fault = fault;
	}
	p->chain.bad = true;
}

/*
 * KDISPOSE_DEBUG=chain: the -EPROTO of a chain, which on the finalizer path
 * and in KD_AUTO's cleanup reaches nobody.
 */
static void kd_chain_report(struct kd_obj_priv *p)
{
	char site[160];

	if (!__kd_debug_on(KD_DEBUG_CHAIN))
		return;
	__kd_obj_site(p, site, sizeof(site));
	__kd_debug(
		KD_DEBUG_CHAIN,
		"-EPROTO: class \"%s\" %s in dispose(obj, %s) of a \"%s\" object created at %s%s; the library ran the rest of the chain",
		__kd_class_name(p->chain.culprit), p->chain.fault,
		p->chain.disposing ? "true" : "false",
		__kd_class_name(kd_priv_obj(p)->klass), site,
		p->chain.disposing ?
			"" :
			" (finalized by kd_ctx_close(), which cannot return it)");
}

KD_EXPORT void kd_chain_dispose(const struct kd_class *cls, struct kd_obj *obj,
				bool disposing)
{
	struct kd_obj_priv *p = __kd_obj_priv(obj);
	int level;

	/*
	 * Only the thread running @obj's chain may extend it. Any thread may
	 * ask, while that one sets itself there: an atomic load, which sees
	 * either no thread or that one, and only that one sees itself.
	 */
	if (!p || atomic_load(&p->state) != KD_DISPOSING ||
	    !pthread_equal(atomic_load_explicit(&p->chain_thread,
						memory_order_relaxed),
			   pthread_self()))
		return;
	/*
	 * The class entered last is the one that chains up in a chain that
	 * runs as it should: its level is known. Any other is looked for.
	 */
	if (cls == p->chain.entered)
		level = p->chain.level;
	else
		level = kd_class_level(p, cls);
	if (level <= 0) {
		kd_chain_fault(
			p, cls,
			"chained up with a class not in the object's chain");
		return;
	}
	if (!(p->chain.ran & (1U << level))) {
		kd_chain_fault(
			p, cls,
			"was passed to kd_chain_dispose() while its dispose was not running");
		return;
	}
	if (p->chain.ran & (1U << (level - 1))) {
		kd_chain_fault(p, cls, "chained up twice");
		return;
	}
	if (disposing != p->chain.disposing)
		kd_chain_fault(p, cls, "changed disposing when chaining up");
	kd_chain_call(p, kd_class_parent(cls), level - 1);
}

/*
 * Runs the class chain of @p, whose class is not a kind's own (see
 * kd_chain_run()).
 */
static int kd_chain_run_classes(struct kd_obj_priv *p, bool disposing,
				enum kd_mode mode, int *kernel)
{
	const struct kd_class *cls = kd_priv_obj(p)->klass;
	unsigned int lowest;

	atomic_store_explicit(&p->chain_thread, pthread_self(),
			      memory_order_relaxed);
	p->chain = (struct kd_chain){
		.disposing = disposing,
		.mode = disposing ? mode : KD_MODE_FINALIZE,
	};

	kd_chain_call(p, cls, p->depth);
	while (!(p->chain.ran & 1)) {
		/* The lowest level entered did not chain up: finish for it. */
		lowest = __builtin_ctz(p->chain.ran);
		kd_chain_fault(p, kd_class_at(p, lowest),
			       "did not chain up to its parent");
		kd_chain_call(p, kd_class_at(p, lowest - 1), lowest - 1);
	}
	*kernel = p->chain.kernel;
	if (!p->chain.bad)
		return 0;
	kd_chain_report(p);
	return -EPROTO;
}

/*
 * Runs @p's class chain; the kind's dispose in it releases the kernel
 * object as @mode says (KD_MODE_FINALIZE when not @disposing).
 * Return: 0, or -EPROTO if a class misbehaved; *kernel gets what the
 * kind's dispose returned (see __kd_handle_close()), 0 if there is none.
 */
static inline int kd_chain_run(struct kd_obj_priv *p, bool disposing,
			       enum kd_mode mode, int *kernel)
{
	const struct kd_class *cls = kd_priv_obj(p)->klass;

	/*
	 * A kind's own class (kd_token_class...) has no dispose: its chain is
	 * the library's alone, the kind's dispose and kd_object_class's
	 * empty one, which chain up as they should. Run the kind's part
	 * directly, without the two indirect calls and the bookkeeping that
	 * exist to check classes written outside the library.
	 */
	if (cls->parent == &__kd_kobj_class && !cls->dispose) {
		*kernel =
			__kd_kobj_close(p, disposing ? mode : KD_MODE_FINALIZE);
		return 0;
	}
	return kd_chain_run_classes(p, disposing, mode, kernel);
}

/*
 * Unlinks a claimed object from the finalizer list and from its owner.
 * Context: ctx->objects_lock held.
 */
static inline void kd_obj_unlink_locked(struct kd_obj_priv *p)
{
	struct kd_obj_priv *op = __kd_obj_priv(p->owner);

	kd_list_del(&p->ctx_link);
	if (op && !kd_list_empty(&p->sibling))
		atomic_fetch_sub(&op->nchildren, 1);
	kd_list_del(&p->sibling);
}

/* Disposes @p's children not claimed yet, newest first. */
static int kd_obj_cascade(struct kd_obj_priv *p)
{
	struct kd_obj_priv *c;
	struct kd_list *pos;
	int ret = 0, r;

	for (;;) {
		c = NULL;
		if (!atomic_load(&p->nchildren))
			return ret;
		kd_lock(&p->ctx->objects_lock);
		for (pos = p->children.prev; pos != &p->children;
		     pos = pos->prev) {
			c = kd_container_of(pos, struct kd_obj_priv, sibling);
			if (atomic_load(&c->state) == KD_LIVE) {
				atomic_fetch_add(&c->refs, 1);
				break;
			}
			c = NULL;
		}
		kd_unlock(&p->ctx->objects_lock);
		if (!c)
			return ret;
		/*
		 * A child claimed by another thread meanwhile returns 0 here
		 * and is left to that thread.
		 */
		r = __kd_obj_dispose(c, NULL);
		if (r < 0 && !ret)
			ret = r;
		__kd_obj_put(c);
	}
}

/*
 * Dispose() of @p. With @pending NULL, the kind's dispose disposes the
 * kernel object itself (KD_MODE_SYNC). Otherwise the caller offers to do
 * it (KD_MODE_DEFER, in a batch or an io_uring command): *pending is set
 * when it must dispose p->handle.value and then call __kd_handle_finish(),
 * which happens only with a return of 1. The caller holds a reference on
 * @p.
 * Return: as kd_dispose().
 */
static inline __attribute__((always_inline)) int
kd_obj_dispose(struct kd_obj_priv *p, bool *pending)
{
	enum kd_mode mode = pending ? KD_MODE_DEFER : KD_MODE_SYNC;
	unsigned int live = KD_LIVE;
	int ret, r, kernel;

	if (pending)
		*pending = false;
	if (!atomic_compare_exchange_strong(&p->state, &live, KD_DISPOSING))
		return 0;
	ret = atomic_load(&p->nchildren) ? kd_obj_cascade(p) : 0;
	r = kd_chain_run(p, true, mode, &kernel);
	if (r < 0)
		ret = r;
	if (kernel == KD_CLOSE_PENDING && ret) {
		/* An error is the result: nothing is left to the caller. */
		__kd_sys_dispose(p->ctx->fd, p->handle.value);
		__kd_handle_finish(&p->handle);
	} else if (kernel == KD_CLOSE_PENDING) {
		*pending = true;
	} else if (!ret && kernel < 0) {
		ret = kernel;
	}
	kd_lock(&p->ctx->objects_lock);
	kd_obj_unlink_locked(p);
	kd_unlock(&p->ctx->objects_lock);
	/* Only LIVE and DISPOSING (the claim above) are waited on. */
	atomic_store_explicit(&p->state, KD_DISPOSED, memory_order_release);
	__kd_obj_put(p);
	return ret ? ret : 1;
}

/* kd_obj_dispose(), inline in kd_dispose(), for the other callers. */
int __kd_obj_dispose(struct kd_obj_priv *p, bool *pending)
{
	return kd_obj_dispose(p, pending);
}

/*
 * An init hook failed: free @p, never published, without running its
 * chain. What the hook created with @p as owner is whole: dispose it. The
 * hook may have stored references to @p in those children, so the memory
 * goes with the last reference, not here.
 */
static void kd_obj_abort(struct kd_obj_priv *p)
{
	atomic_store(&p->state, KD_DISPOSING);
	kd_obj_cascade(p);
	if (p->kind)
		__kd_kobj_release(p);
	atomic_store(&p->state, KD_DISPOSED);
	__kd_obj_put(p); /* the finalizer list's, never used */
	__kd_obj_put(p); /* the caller's, never handed out */
}

/*
 * The end of every constructor: runs @init (if not NULL) on @p, then
 * publishes it. Return: 0, or -errno with @p gone: @init's error (see
 * kd_obj_new_full()), or -EIDRM when publishing fails, in which case an
 * object the hook completed is disposed whole, and one without hook is
 * freed (its kernel object disposed) as it was never seen.
 */
int __kd_obj_init_publish(struct kd_obj_priv *p, kd_init_fn *init, void *arg)
{
	int ret;

	if (init) {
		ret = init(kd_priv_obj(p), arg);
		if (ret < 0) {
			kd_obj_abort(p);
			return ret;
		}
	}
	ret = kd_obj_publish(p);
	if (!ret)
		return 0;
	if (init) {
		__kd_obj_dispose(p, NULL);
		__kd_obj_put(p);
	} else {
		if (p->kind)
			__kd_kobj_release(p);
		__kd_obj_destroy(p);
	}
	return ret;
}

KD_EXPORT int kd_dispose(struct kd_obj *obj)
{
	struct kd_obj_priv *p = __kd_obj_priv(obj);

	if (!p)
		return -EINVAL;
	return kd_obj_dispose(p, NULL);
}

KD_EXPORT int kd_close(struct kd_obj *obj)
{
	return kd_dispose(obj);
}

/*
 * The objects of one kd_dispose_many() chunk whose kernel objects wait for
 * the batch ioctl.
 */
struct kd_batch {
	unsigned int n;
	uint64_t handles[KDISPOSE_BATCH_MAX];
	int results[KDISPOSE_BATCH_MAX];
	unsigned int index[KDISPOSE_BATCH_MAX];
};

static void kd_batch_flush(struct kd_ctx *ctx, struct kd_batch *b,
			   struct kd_obj *const *objs, int *results)
{
	struct kd_obj_priv *p;
	unsigned int i;
	int ret;

	if (!b->n)
		return;
	ret = kd_raw_dispose_many(ctx, b->handles, b->n, b->results);
	for (i = 0; i < b->n; i++) {
		p = __kd_obj_priv(objs[b->index[i]]);
		__kd_handle_finish(&p->handle);
		if (ret < 0)
			results[b->index[i]] = ret;
		else if (b->results[i] < 0)
			results[b->index[i]] = b->results[i];
	}
	b->n = 0;
}

KD_EXPORT int kd_dispose_many(struct kd_ctx *ctx, struct kd_obj *const *objs,
			      unsigned int n, int *results)
{
	struct kd_obj_priv *p;
	struct kd_batch *b;
	unsigned int i;
	int *res = results;
	int count = 0;
	bool pending;

	if (!ctx || (n && !objs) || n > INT32_MAX)
		return -EINVAL;
	b = malloc(sizeof(*b));
	if (!res)
		res = calloc(n ? n : 1, sizeof(*res));
	if (!b || !res) {
		free(b);
		if (res != results)
			free(res);
		return -ENOMEM;
	}
	b->n = 0;
	for (i = 0; i < n; i++) {
		p = __kd_obj_priv(objs[i]);
		if (!p || p->ctx != ctx) {
			static const struct kd_site site = {
				.fn = "kd_dispose_many",
			};

			__kd_check_failed(
				&site, -EINVAL,
				p ? "objs[%u] belongs to another context" :
				    "objs[%u] is not a libkdispose object",
				i);
			res[i] = -EINVAL;
			continue;
		}
		res[i] = __kd_obj_dispose(p, &pending);
		if (pending) {
			b->handles[b->n] = p->handle.value;
			b->index[b->n++] = i;
			if (b->n == KDISPOSE_BATCH_MAX)
				kd_batch_flush(ctx, b, objs, res);
		}
	}
	kd_batch_flush(ctx, b, objs, res);
	for (i = 0; i < n; i++)
		count += res[i] == 1;
	free(b);
	if (res != results)
		free(res);
	return count;
}

/*
 * KDISPOSE_DEBUG=leaks: @p reached the finalizer path. The kernel's leak
 * report (the module's leak_report parameter) names kernel objects only,
 * by a 15-byte label; this names every library object by its full call
 * site.
 */
static void kd_leak_report(struct kd_obj_priv *p)
{
	char site[160];

	if (!__kd_debug_on(KD_DEBUG_LEAKS))
		return;
	__kd_obj_site(p, site, sizeof(site));
	if (p->kind)
		__kd_debug(
			KD_DEBUG_LEAKS,
			"a \"%s\" object created at %s (kernel handle %#llx) was never disposed: kd_ctx_close() finalizes it",
			__kd_class_name(kd_priv_obj(p)->klass), site,
			(unsigned long long)p->handle.value);
	else
		__kd_debug(
			KD_DEBUG_LEAKS,
			"a \"%s\" object created at %s (no kernel object) was never disposed: kd_ctx_close() finalizes it",
			__kd_class_name(kd_priv_obj(p)->klass), site);
}

/*
 * The finalizer path of kd_ctx_close(): claims every object not claimed
 * yet, then runs dispose(obj, false) on each, newest first.
 * Return: how many objects were finalized.
 */
int __kd_ctx_finalize(struct kd_ctx *ctx)
{
	struct kd_list claimed, *pos, *prev;
	struct kd_obj_priv *p;
	unsigned int live;
	int n = 0, kernel;

	kd_list_init(&claimed);
	kd_lock(&ctx->objects_lock);
	ctx->closing = true;
	for (pos = ctx->objects.prev; pos != &ctx->objects; pos = prev) {
		prev = pos->prev;
		p = kd_container_of(pos, struct kd_obj_priv, ctx_link);
		live = KD_LIVE;
		if (!atomic_compare_exchange_strong(&p->state, &live,
						    KD_DISPOSING))
			continue;
		kd_obj_unlink_locked(p);
		kd_list_add_tail(&claimed, &p->ctx_link);
	}
	kd_unlock(&ctx->objects_lock);

	while (!kd_list_empty(&claimed)) {
		p = kd_container_of(claimed.next, struct kd_obj_priv, ctx_link);
		kd_list_del(&p->ctx_link);
		kd_leak_report(p);
		kd_chain_run(p, false, KD_MODE_FINALIZE, &kernel);
		atomic_store(&p->state, KD_FINALIZED);
		__kd_obj_put(p);
		n++;
	}
	return n;
}
