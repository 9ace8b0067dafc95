// SPDX-License-Identifier: GPL-2.0
/*
 * The lifecycle of an object: create, publish, take, dispose, release.
 *
 * Create: reserve -> init -> copy out -> publish.
 *   A create first reserves a slot and a sequence number under the owner's
 *   lock, which fixes the handle (table.c). The kind's ->init then acquires
 *   the resource without any lock held, and the handle is written to user
 *   space. Only then is the object published: its slot is filled under the
 *   lock. A failure at any step before publishing (a bad argument, no
 *   memory, a faulting copy-out, the parent disposed meanwhile) undoes the
 *   earlier steps, and nobody ever saw the object: a handle can only be
 *   used once the object behind it is complete, and no published handle
 *   exists that the caller did not learn about.
 *
 * Import: a create whose object names the shared state of an exported one
 *   (share.c) instead of getting a new resource from ->init; every other
 *   step is the same, and the new handle is one more name of the object.
 *
 * Dispose: take -> dispose -> put -> release.
 *   The owner decision is "take": under the owner's lock, the first dispose
 *   of a handle empties its slot. Whoever empties it owns the object's
 *   release; a later dispose finds the slot empty and returns 0. Take works
 *   on a whole subtree, children before parents, so a cascade is decided
 *   atomically. After the lock is dropped each taken object gets its kind's
 *   ->dispose(obj, disposing) exactly once, then the table's reference is
 *   put. The resource itself is freed by ->release when the last reference
 *   goes: an ioctl still running in another thread, or a memory mapping,
 *   defers it (SafeHandle's reference count). The finalizer (ctx.c) takes
 *   and disposes the same way, with disposing == false.
 *
 * Yielding: every loop over objects or slots that a user can make long
 *   (a cascade, a batch, the finalizer, the release of what they took)
 *   calls cond_resched() at least every KDISPOSE_RESCHED_BATCH objects.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "internal.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

static struct kmem_cache *kdispose_object_cache;

/*
 * Runs once per object when its slab page is allocated, not at each
 * allocation: the reference count of free objects stays zero, which is what
 * lets a lockless lookup that raced with a free fail to take a reference.
 */
static void kdispose_object_ctor(void *mem)
{
	struct kdispose_object *obj = mem;

	refcount_set(&obj->ref, 0);
}

/**
 * kdispose_cache_init - create the object cache
 *
 * Context: module init.
 * Return: 0 or -ENOMEM.
 */
int kdispose_cache_init(void)
{
	/*
	 * The cost of the smallest object, which benchmarks report: SLUB
	 * adds a free pointer after the objects of a SLAB_TYPESAFE_BY_RCU
	 * cache, so 88 bytes take 96.
	 */
	BUILD_BUG_ON(sizeof(struct kdispose_object) > 88);

	kdispose_object_cache =
		kmem_cache_create("kdispose_object",
				  sizeof(struct kdispose_object), 0,
				  SLAB_TYPESAFE_BY_RCU | SLAB_ACCOUNT,
				  kdispose_object_ctor);
	return kdispose_object_cache ? 0 : -ENOMEM;
}

/**
 * kdispose_cache_exit - destroy the object cache
 *
 * Context: module exit, after every file is gone.
 */
void kdispose_cache_exit(void)
{
	kmem_cache_destroy(kdispose_object_cache);
}

/*
 * A file's spare objects: the memory of the last few objects it freed,
 * which its next creates take before asking the cache (io_uring keeps its
 * requests the same way). Claiming an entry is one exchange, so neither
 * side takes a lock: a create that finds every entry empty allocates, a
 * free that finds every entry taken gives the memory back to the cache.
 * A spare's reference count is zero, as in the cache, so a lookup that
 * still sees its memory fails as it does on freed memory (table.c), and
 * it holds no reference on its owner: the owner's last put frees the
 * spares, after every object that could refill them is gone. The memory
 * stays charged to the memory cgroup of the task that first allocated it.
 */
static struct kdispose_object *kdispose_spare_get(struct kdispose_ctx *ctx)
{
	struct kdispose_object *obj;
	unsigned int i;

	for (i = 0; i < KDISPOSE_SPARE; i++) {
		if (!READ_ONCE(ctx->spare[i]))
			continue;
		obj = xchg(&ctx->spare[i], NULL);
		if (obj)
			return obj;
	}
	return NULL;
}

static bool kdispose_spare_put(struct kdispose_ctx *ctx,
			       struct kdispose_object *obj)
{
	unsigned int i;

	for (i = 0; i < KDISPOSE_SPARE; i++)
		if (!READ_ONCE(ctx->spare[i]) &&
		    !cmpxchg(&ctx->spare[i], NULL, obj))
			return true;
	return false;
}

/**
 * kdispose_spares_free - give a file's spare objects back to the cache
 * @ctx: the owner, whose last reference is gone
 *
 * Context: any process context.
 */
void kdispose_spares_free(struct kdispose_ctx *ctx)
{
	unsigned int i;

	for (i = 0; i < KDISPOSE_SPARE; i++)
		if (ctx->spare[i])
			kmem_cache_free(kdispose_object_cache, ctx->spare[i]);
}

/* The number of ancestors of a published object. */
static unsigned int kdispose_depth_locked(const struct kdispose_object *obj)
{
	unsigned int depth = 0;

	while ((obj = obj->parent))
		depth++;
	return depth;
}

/* Check that @handle names a live object that may become a parent. */
static struct kdispose_object *
kdispose_parent_locked(struct kdispose_ctx *ctx, u64 handle)
{
	struct kdispose_object *parent = kdispose_slot_find_locked(ctx, handle);

	if (IS_ERR(parent))
		return parent;
	if (parent->nchildren >= KDISPOSE_MAX_CHILDREN ||
	    kdispose_depth_locked(parent) + 1 > KDISPOSE_MAX_DEPTH)
		return ERR_PTR(-EMLINK);
	return parent;
}

/*
 * Publish a fully initialised object: from here on its handle works.
 * The parent, checked at reserve time, may have been disposed since.
 */
static int kdispose_publish_locked(struct kdispose_ctx *ctx,
				   struct kdispose_object *obj, u64 parent_handle)
{
	struct kdispose_object *parent = NULL;

	if (parent_handle) {
		parent = kdispose_parent_locked(ctx, parent_handle);
		if (IS_ERR(parent))
			return PTR_ERR(parent);
		obj->parent = parent;
		hlist_add_head(&obj->sibling, &parent->children);
		parent->nchildren++;
	}
	if (kdispose_ops(obj->kind)->mmap)
		xa_store(&ctx->mmap_xa, kdispose_object_seq(obj), obj, 0);

	WRITE_ONCE(obj->state, KDISPOSE_LIVE);
	/* Until it is freed, the object pins its owner (see ctx.c). */
	refcount_inc(&ctx->ref);
	/* The table's reference. A lookup can take its own from now on. */
	smp_wmb();
	refcount_set(&obj->ref, 1);
	kdispose_slot_fill_locked(ctx, obj);

	ctx->nlive[obj->kind]++;
	kdispose_stats_created(obj->kind);
	trace_kdispose_create(obj);
	return 0;
}

/*
 * Keep a user's label as printable ASCII only: it reaches the kernel log.
 * Truncated to KDISPOSE_LABEL_LEN - 1 characters, NUL-padded: one pass over
 * what the user wrote, no more (most labels are short, or empty).
 */
static void kdispose_label_copy(char *label, const char *user)
{
	unsigned int i;
	char c;

	memset(label, 0, KDISPOSE_LABEL_LEN);
	for (i = 0; i < KDISPOSE_LABEL_LEN - 1 && (c = user[i]); i++)
		label[i] = isascii(c) && isprint(c) ? c : '?';
}

/**
 * kdispose_object_create - create, initialise and publish a new object
 * @ctx: the owner
 * @args: the create arguments, copied from user space
 * @uhandle: where to write the new handle, before it is published
 * @import: NULL to create a new resource with the kind's ->init; else the
 *	shared state of an exported object, which the new handle will name
 *	(KDISPOSE_IOC_IMPORT; the caller holds an export file of it)
 *
 * Context: process context, the creating task. Takes @ctx->lock twice; calls
 * the kind's ->init without it.
 * Return: 0 on success; -EINVAL for bad arguments; -ENOENT or -EIDRM for a
 * bad parent; -EMLINK when the parent cannot take another child; -EMFILE,
 * -ENOSPC or -EDQUOT when a limit of the file or of its user is reached;
 * -EFAULT when @uhandle cannot be written; -ENOMEM; or what the kind's
 * ->init returned.
 */
int kdispose_object_create(struct kdispose_ctx *ctx,
			   const struct kdispose_create *args,
			   u64 __user *uhandle, struct kdispose_shared *import)
{
	const struct kdispose_kind_ops *ops = kdispose_ops(args->type);
	struct kdispose_object *obj;
	u64 handle;
	int err;

	if (!ops || args->flags)
		return -EINVAL;

	obj = kdispose_spare_get(ctx);
	if (!obj)
		obj = kmem_cache_alloc(kdispose_object_cache,
				       GFP_KERNEL_ACCOUNT);
	if (!obj)
		return -ENOMEM;
	/*
	 * Not a memset of the whole object: a racing lookup may still look at
	 * the reference count of the object this memory held before, which
	 * is and stays zero until the publish.
	 */
	obj->state = KDISPOSE_NEW;
	obj->kind = args->type;
	obj->owner = ctx;
	obj->parent = NULL;
	obj->nchildren = 0;
	obj->tgid = task_tgid_nr(current);
	obj->created = (u32)jiffies;
	obj->priv = NULL;
	INIT_HLIST_HEAD(&obj->children);
	INIT_HLIST_NODE(&obj->sibling);
	kdispose_label_copy(obj->label, args->label);

	mutex_lock(&ctx->lock);
	err = kdispose_slot_reserve_locked(ctx, &handle);
	if (!err && args->parent) {
		struct kdispose_object *parent;

		parent = kdispose_parent_locked(ctx, args->parent);
		if (IS_ERR(parent)) {
			kdispose_slot_free_locked(ctx,
						  kdispose_handle_slot(handle));
			err = PTR_ERR(parent);
		}
	}
	if (!err && ops->mmap) {
		err = xa_reserve(&ctx->mmap_xa,
				 handle >> KDISPOSE_SLOT_BITS,
				 GFP_KERNEL_ACCOUNT);
		if (err)
			kdispose_slot_free_locked(ctx,
						  kdispose_handle_slot(handle));
	}
	mutex_unlock(&ctx->lock);
	if (err)
		goto err_free;
	WRITE_ONCE(obj->handle, handle);

	if (import)
		kdispose_share_attach(obj, import);
	else if (ops->init)
		err = ops->init(obj, args);
	if (err)
		goto err_unreserve;

	if (put_user(handle, uhandle)) {
		err = -EFAULT;
		goto err_release;
	}

	mutex_lock(&ctx->lock);
	err = kdispose_publish_locked(ctx, obj, args->parent);
	if (err) {
		/*
		 * The caller has seen the handle: from now on it names an
		 * object that is gone (EIDRM), not one never issued.
		 */
		kdispose_slot_retire_locked(ctx, handle);
		mutex_unlock(&ctx->lock);
		goto err_release;
	}
	mutex_unlock(&ctx->lock);
	return 0;

err_release:
	if (ops->release)
		ops->release(obj);
err_unreserve:
	mutex_lock(&ctx->lock);
	if (ops->mmap)
		xa_release(&ctx->mmap_xa, kdispose_handle_seq(handle));
	kdispose_slot_free_locked(ctx, kdispose_handle_slot(handle));
	mutex_unlock(&ctx->lock);
err_free:
	kmem_cache_free(kdispose_object_cache, obj);
	return err;
}

/* Unpublish one object whose children are gone already. */
static void kdispose_unpublish_locked(struct kdispose_ctx *ctx,
				      struct kdispose_object *obj,
				      bool disposing)
{
	kdispose_slot_clear_locked(ctx, obj);
	if (kdispose_ops(obj->kind)->mmap)
		xa_erase(&ctx->mmap_xa, kdispose_object_seq(obj));
	WRITE_ONCE(obj->state, disposing ? KDISPOSE_DISPOSED :
					   KDISPOSE_FINALIZED);
	ctx->nlive[obj->kind]--;
	if (disposing)
		ctx->ndisposed++;
	kdispose_stats_taken(obj->kind, disposing);
}

/*
 * The last reference is gone: free the resource. @deferred tells whether
 * that reference was another user's than the table's. The object's memory
 * and its reference on the owner go next, at once or with others.
 */
static void kdispose_object_release_resource(struct kdispose_object *obj,
					     bool deferred)
{
	const struct kdispose_kind_ops *ops = kdispose_ops(obj->kind);

	trace_kdispose_release(obj, deferred);
	if (ops->release)
		ops->release(obj);
	kdispose_stats_released(obj->kind);
}

/* Free a released object: to its owner's spares, or to the cache. */
static void kdispose_object_free(struct kdispose_ctx *ctx,
				 struct kdispose_object *obj)
{
	if (!kdispose_spare_put(ctx, obj))
		kmem_cache_free(kdispose_object_cache, obj);
	kdispose_ctx_put(ctx);
}

static void kdispose_object_release(struct kdispose_object *obj,
				    bool deferred)
{
	kdispose_object_release_resource(obj, deferred);
	kdispose_object_free(obj->owner, obj);
}

/*
 * Objects of one owner whose resources are released, freed together: those
 * the owner's spares do not take go back to the cache in one
 * kmem_cache_free_bulk(), and the references they held on the owner go in
 * one atomic, instead of one each per object. A freed object refuses new
 * references (its count is zero) whether its memory has gone back to the
 * cache yet or not, so nothing can tell the delay.
 */
#define KDISPOSE_FREE_BULK	16

struct kdispose_free_batch {
	unsigned int n;
	unsigned int nref;
	bool spares_full;
	void *objs[KDISPOSE_FREE_BULK];
};

static void kdispose_free_flush(struct kdispose_ctx *ctx,
				struct kdispose_free_batch *fb)
{
	if (fb->n)
		kmem_cache_free_bulk(kdispose_object_cache, fb->n, fb->objs);
	if (fb->nref)
		kdispose_ctx_put_many(ctx, fb->nref);
	fb->n = 0;
	fb->nref = 0;
}

static void kdispose_free_add(struct kdispose_ctx *ctx,
			      struct kdispose_free_batch *fb,
			      struct kdispose_object *obj)
{
	fb->nref++;
	if (!fb->spares_full) {
		if (kdispose_spare_put(ctx, obj))
			return;
		fb->spares_full = true;
	}
	fb->objs[fb->n++] = obj;
	if (fb->n == KDISPOSE_FREE_BULK)
		kdispose_free_flush(ctx, fb);
}

/*
 * Take one object whose children are gone out of the table: off its
 * parent's list, then unpublished. The table's reference stays with the
 * caller. Inline: the finalizer and the batch run it once per object.
 */
static __always_inline void
kdispose_take_one_locked(struct kdispose_ctx *ctx, struct kdispose_object *obj,
			 bool disposing)
{
	struct kdispose_object *parent = obj->parent;

	if (parent) {
		hlist_del_init(&obj->sibling);
		parent->nchildren--;
		obj->parent = NULL;
	}
	kdispose_unpublish_locked(ctx, obj, disposing);
}

/**
 * kdispose_take_tree_locked - take a subtree out of its owner's table
 * @ctx: the owner
 * @root: the subtree's root, published in @ctx
 * @disposing: true for an explicit dispose, false for the finalizer
 * @out: where the taken objects are appended, children first (depth-first,
 *	post-order); the table's references move there
 *
 * Iterative: the depth of a tree is bounded, but the stack of a kernel
 * thread is small. Yields the CPU every KDISPOSE_RESCHED_BATCH objects.
 *
 * Context: @ctx->lock held.
 * Return: the number of objects taken.
 */
unsigned int kdispose_take_tree_locked(struct kdispose_ctx *ctx,
				       struct kdispose_object *root,
				       bool disposing,
				       struct kdispose_taken *out)
{
	struct kdispose_object *obj = root, *parent;
	unsigned int n = 0;

	for (;;) {
		while (!hlist_empty(&obj->children))
			obj = hlist_entry(obj->children.first,
					  struct kdispose_object, sibling);
		parent = obj->parent;
		kdispose_take_one_locked(ctx, obj, disposing);
		/* Ownership of the table's reference moves to @out. */
		if (out->tail)
			hlist_add_behind(&obj->sibling, out->tail);
		else
			hlist_add_head(&obj->sibling, &out->head);
		out->tail = &obj->sibling;
		out->count[obj->kind]++;
		if (++n % KDISPOSE_RESCHED_BATCH == 0)
			cond_resched();
		if (obj == root)
			return n;
		obj = parent;
	}
}

/*
 * Dispose one object taken out of its table: ->dispose, then the put of the
 * table's reference. Returns true when that was the last reference: the
 * resource is released, and the caller frees the object.
 */
static __always_inline bool
kdispose_dispose_one(struct kdispose_ctx *ctx, struct kdispose_object *obj,
		     bool disposing, unsigned int via)
{
	const struct kdispose_kind_ops *ops = kdispose_ops(obj->kind);

	if (disposing) {
		trace_kdispose_dispose(ctx, obj->handle, obj, via);
	} else {
		trace_kdispose_finalize(obj);
		if (READ_ONCE(kdispose_leak_report))
			kdispose_report_leak(obj);
	}
	if (ops->dispose)
		ops->dispose(obj, disposing);
	if (!refcount_dec_and_test(&obj->ref))
		return false;
	kdispose_object_release_resource(obj, false);
	return true;
}

/**
 * kdispose_dispose_taken - dispose the objects taken out of a table
 * @ctx: their owner
 * @taken: the objects, in the order they are to be disposed
 * @disposing: true for an explicit dispose, false for the finalizer
 * @via: the entry point of an explicit dispose, ignored when finalizing
 *
 * Runs each object's ->dispose and puts the table's reference, yielding the
 * CPU every KDISPOSE_RESCHED_BATCH objects; those whose last reference that
 * was are freed KDISPOSE_FREE_BULK at a time.
 *
 * Context: process context, @ctx->lock not held.
 */
void kdispose_dispose_taken(struct kdispose_ctx *ctx,
			    struct kdispose_taken *taken, bool disposing,
			    unsigned int via)
{
	struct kdispose_free_batch fb;
	struct kdispose_object *obj;
	struct hlist_node *next;
	unsigned int n = 0;

	fb.n = 0;
	fb.nref = 0;
	fb.spares_full = false;
	hlist_for_each_entry_safe(obj, next, &taken->head, sibling) {
		if (++n % KDISPOSE_RESCHED_BATCH == 0)
			cond_resched();
		hlist_del_init(&obj->sibling);
		if (kdispose_dispose_one(ctx, obj, disposing, via))
			kdispose_free_add(ctx, &fb, obj);
	}
	kdispose_free_flush(ctx, &fb);
	taken->tail = NULL;
}

/*
 * The owner decision of a dispose: take @obj, what the table holds for the
 * handle (kdispose_slot_find_locked()), and its descendants out of the
 * table onto @taken. Returns what the dispose reports (1, 0 or -ENOENT), or
 * -EAGAIN for @nonblock and an object with children.
 */
static int kdispose_take_found_locked(struct kdispose_ctx *ctx,
				      struct kdispose_object *obj,
				      bool nonblock,
				      struct kdispose_taken *taken)
{
	if (IS_ERR(obj))
		return PTR_ERR(obj) == -EIDRM ? 0 : PTR_ERR(obj);
	if (nonblock && obj->nchildren)
		return -EAGAIN;
	kdispose_take_tree_locked(ctx, obj, true, taken);
	return 1;
}

/**
 * kdispose_object_dispose - explicitly dispose an object and its descendants
 * @ctx: the owner
 * @handle: the object
 * @via: the entry point (enum kdispose_via), with KDISPOSE_VIA_NONBLOCK
 *	when the caller must not wait (an io_uring command's first try)
 *
 * The first dispose of a handle takes the object (and, first, its
 * descendants) out of the table, runs ->dispose(obj, true) on each and drops
 * the table's references; the resources are released at the last put.
 *
 * Context: process context. Takes @ctx->lock.
 * Return: 1 when this call disposed the object, 0 when it was disposed
 * already, -ENOENT when @handle was never issued by @ctx, -EAGAIN when
 * the caller must not wait and the lock is contended or the object has
 * children.
 */
int kdispose_object_dispose(struct kdispose_ctx *ctx, u64 handle,
			    unsigned int via)
{
	struct kdispose_taken taken = {};
	struct kdispose_object *obj;
	int ret;

	if (!(via & KDISPOSE_VIA_NONBLOCK))
		mutex_lock(&ctx->lock);
	else if (!mutex_trylock(&ctx->lock))
		return -EAGAIN;
	/* The common case, an object without children, needs no list. */
	obj = kdispose_slot_find_locked(ctx, handle);
	if (!IS_ERR(obj) && !obj->nchildren) {
		kdispose_take_one_locked(ctx, obj, true);
		mutex_unlock(&ctx->lock);
		if (kdispose_dispose_one(ctx, obj, true, via))
			kdispose_object_free(ctx, obj);
		return 1;
	}
	ret = kdispose_take_found_locked(ctx, obj, via & KDISPOSE_VIA_NONBLOCK,
					 &taken);
	mutex_unlock(&ctx->lock);

	if (ret == 0)
		trace_kdispose_dispose(ctx, handle, NULL, via);
	kdispose_dispose_taken(ctx, &taken, true, via);
	return ret;
}

/**
 * kdispose_object_dispose_many - dispose several handles under one lock
 * @ctx: the owner
 * @handles: the handles
 * @results: what kdispose_object_dispose() would return for each; may
 *	overlay @handles as long as result i is stored over handle i or an
 *	earlier one (each handle is read before its result is written)
 * @n: how many
 *
 * Takes every object, in order, in one hold of the lock, then disposes
 * them; a duplicate handle gets 1 once and 0 after.
 *
 * Context: process context. Takes @ctx->lock.
 * Return: the number of handles this call disposed.
 */
unsigned int kdispose_object_dispose_many(struct kdispose_ctx *ctx,
					  const u64 *handles, s32 *results,
					  unsigned int n)
{
	struct kdispose_taken taken = {};
	unsigned int i, ndisposed = 0;
	struct kdispose_object *obj;
	u64 handle;

	mutex_lock(&ctx->lock);
	for (i = 0; i < n; i++) {
		handle = handles[i];
		obj = kdispose_slot_find_locked(ctx, handle);
		results[i] = kdispose_take_found_locked(ctx, obj, false,
							&taken);
		if (results[i] == 1)
			ndisposed++;
		else if (results[i] == 0)
			trace_kdispose_dispose(ctx, handle, NULL,
					       KDISPOSE_VIA_BATCH);
	}
	mutex_unlock(&ctx->lock);

	kdispose_dispose_taken(ctx, &taken, true, KDISPOSE_VIA_BATCH);
	return ndisposed;
}

/**
 * kdispose_object_query - fill the generic part of a query
 * @obj: a referenced object
 * @q: the reply; the kind's ->query fills the rest
 *
 * Context: process context. Takes the owner's lock.
 */
void kdispose_object_query(struct kdispose_object *obj,
			   struct kdispose_query *q)
{
	struct kdispose_ctx *ctx = obj->owner;

	q->type = obj->kind;
	q->refcount = refcount_read(&obj->ref);
	memcpy(q->label, obj->label, sizeof(q->label));
	mutex_lock(&ctx->lock);
	q->parent = obj->parent ? obj->parent->handle : 0;
	q->nchildren = obj->nchildren;
	q->depth = kdispose_depth_locked(obj);
	mutex_unlock(&ctx->lock);
}

/**
 * kdispose_object_put - drop a reference; the last one releases the object
 * @obj: the object
 *
 * Context: process context (the kind's ->release may sleep).
 */
void kdispose_object_put(struct kdispose_object *obj)
{
	if (refcount_dec_and_test(&obj->ref))
		kdispose_object_release(obj, true);
}
