// SPDX-License-Identifier: GPL-2.0
/*
 * The per-file handle table and the lifecycle of an object.
 *
 * Create: reserve -> init -> copy out -> publish.
 *   A create first reserves a slot and a sequence number under the file's
 *   lock, which fixes the handle. The type's ->init then acquires the
 *   resource without any lock held, and the handle is written to user space.
 *   Only then is the object published: its slot is filled under the lock. A
 *   failure at any step before publishing (a bad argument, no memory, a
 *   faulting copy-out, the parent disposed meanwhile) undoes the earlier
 *   steps, and nobody ever saw the object: a handle can only be used once
 *   the object behind it is complete, and no published handle exists that
 *   the caller did not learn about.
 *
 * Dispose: take -> dispose -> put -> release.
 *   The owner decision is "take": under the file's lock, the first dispose of
 *   a handle empties its slot. Whoever empties it owns the object's
 *   release; a later dispose finds the slot empty and returns 0. Take works
 *   on a whole subtree, children before parents, so a cascade is decided
 *   atomically. After the lock is dropped each taken object gets its type's
 *   ->dispose(obj, disposing) exactly once, then the table's reference is
 *   put. The resource itself is freed by ->release when the last reference
 *   goes: an ioctl still running in another thread, or a memory mapping,
 *   defers it (SafeHandle's reference count).
 *
 * Finalize: the file's release hook takes every object still published,
 *   roots first (each with its subtree), with disposing == false. It runs
 *   wherever the last fput() happens (task work of any task, or a kworker),
 *   so it never looks at current or user memory. It then frees the table
 *   and drops the file's reference on its state (struct kdispose_file).
 *   The table's references are usually the last ones, but need not be: a
 *   lookup through another file may hold a transient reference (below).
 *   So no object reference relies on the file: each published object pins
 *   its owner's state until the object is freed, and whichever put is the
 *   last, of an object or then of the owner, frees it.
 *
 * Lookup: lockless, under RCU. Objects come from a SLAB_TYPESAFE_BY_RCU
 *   cache, so the memory a slot pointed to may have been freed and reused
 *   meanwhile for another object, of this file or of another file that
 *   issued the same handle value (handles are per-file counters). A lookup
 *   therefore takes a reference only if the count is not zero (a zero
 *   count is an object being created or freed), and then checks that the
 *   object is still the one named by the handle in this file: same owner,
 *   same handle, still live. Holding a reference pins the object's
 *   identity: it cannot be freed and reused until that reference is put.
 *   When the check fails the lookup puts its reference, which may then be
 *   the last one of another file's object: the pin on the owner is what
 *   makes that release safe after the other file's release hook has run.
 *
 * Yielding: every loop over objects or slots that a user can make long
 *   (a cascade, a batch, the finalizer, the release of what they took)
 *   calls cond_resched() at least every KDISPOSE_RESCHED_BATCH objects.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "internal.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/* The table starts with this many slots and doubles when full. */
#define KDISPOSE_TABLE_MIN	64

/* The finalizer path yields the CPU after this many objects. */
#define KDISPOSE_RESCHED_BATCH	1024

static struct kmem_cache *kdispose_object_cache;

static u32 kdispose_handle_slot(u64 handle)
{
	return handle & (KDISPOSE_MAX_SLOTS - 1);
}

static u64 kdispose_handle_seq(u64 handle)
{
	return handle >> KDISPOSE_SLOT_BITS;
}

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

/**
 * kdispose_file_alloc - allocate the state of a newly opened file
 *
 * Context: process context; the ->open of /dev/kdispose.
 * Return: the state, or NULL when out of memory.
 */
struct kdispose_file *kdispose_file_alloc(void)
{
	struct kdispose_file *kf;

	kf = kzalloc(sizeof(*kf), GFP_KERNEL_ACCOUNT);
	if (!kf)
		return NULL;
	kf->user = kdispose_user_get();
	if (!kf->user) {
		kfree(kf);
		return NULL;
	}
	refcount_set(&kf->ref, 1);
	mutex_init(&kf->lock);
	xa_init(&kf->mmap_xa);
	kf->next_seq = 1;
	kf->tgid = task_tgid_nr(current);
	return kf;
}

static struct kdispose_table *kdispose_table_locked(struct kdispose_file *kf)
{
	return rcu_dereference_protected(kf->table,
					 lockdep_is_held(&kf->lock));
}

/*
 * The state of a file whose last reference is gone: every object is freed
 * and the release hook has run.
 */
static void kdispose_file_put(struct kdispose_file *kf)
{
	if (!refcount_dec_and_test(&kf->ref))
		return;
	kdispose_user_put(kf->user);
	mutex_destroy(&kf->lock);
	kfree(kf);
}

/*
 * Make room for one more slot: double the table and the free stack. The
 * new slots are charged to the file's user.
 */
static int kdispose_table_grow_locked(struct kdispose_file *kf)
{
	struct kdispose_table *old = kdispose_table_locked(kf);
	u32 size = old ? old->size * 2 : KDISPOSE_TABLE_MIN;
	struct kdispose_table *new;
	u32 *free;
	int err;

	if (old && old->size >= KDISPOSE_MAX_SLOTS)
		return -EMFILE;
	err = kdispose_user_charge_slots(kf->user,
					 size - (old ? old->size : 0));
	if (err)
		return err;
	new = kvzalloc(struct_size(new, slots, size), GFP_KERNEL_ACCOUNT);
	free = new ? kvmalloc_array(size, sizeof(*free), GFP_KERNEL_ACCOUNT) :
		     NULL;
	if (!free) {
		kvfree(new);
		kdispose_user_uncharge_slots(kf->user,
					     size - (old ? old->size : 0));
		return -ENOMEM;
	}
	new->size = size;
	if (old) {
		memcpy(new->slots, old->slots, old->size * sizeof(old->slots[0]));
		memcpy(free, kf->free, kf->nfree * sizeof(*free));
	}
	kvfree(kf->free);
	kf->free = free;
	rcu_assign_pointer(kf->table, new);
	if (old)
		kvfree_rcu(old, rcu);
	return 0;
}

/* Reserve a slot and a seq: fixes the handle of a create in progress. */
static int kdispose_slot_reserve_locked(struct kdispose_file *kf,
					u64 *handle)
{
	struct kdispose_table *table = kdispose_table_locked(kf);
	u32 slot;
	int err;

	if (kf->next_seq > min_t(u64, kdispose_max_handle_seq,
				 KDISPOSE_SEQ_MAX))
		return -ENOSPC;
	if (kf->hwm - kf->nfree >= min(kdispose_max_objects,
				       KDISPOSE_MAX_SLOTS))
		return -EMFILE;
	if (kf->nfree) {
		slot = kf->free[--kf->nfree];
	} else {
		if (!table || kf->hwm == table->size) {
			err = kdispose_table_grow_locked(kf);
			if (err)
				return err;
		}
		slot = kf->hwm++;
	}
	*handle = (kf->next_seq++ << KDISPOSE_SLOT_BITS) | slot;
	return 0;
}

static void kdispose_slot_free_locked(struct kdispose_file *kf, u32 slot)
{
	kf->free[kf->nfree++] = slot;
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
kdispose_parent_locked(struct kdispose_file *kf, u64 handle)
{
	struct kdispose_table *table = kdispose_table_locked(kf);
	u32 slot = kdispose_handle_slot(handle);
	u64 seq = kdispose_handle_seq(handle);
	struct kdispose_object *parent = NULL;

	if (seq && table && slot < table->size)
		parent = rcu_dereference_protected(table->slots[slot].obj,
						   lockdep_is_held(&kf->lock));
	if (!parent || parent->handle != handle) {
		if (!seq || !table || slot >= table->size ||
		    seq > table->slots[slot].seq)
			return ERR_PTR(-ENOENT);
		return ERR_PTR(-EIDRM);
	}
	if (parent->nchildren >= KDISPOSE_MAX_CHILDREN ||
	    kdispose_depth_locked(parent) + 1 > KDISPOSE_MAX_DEPTH)
		return ERR_PTR(-EMLINK);
	return parent;
}

/*
 * Publish a fully initialised object: from here on its handle works.
 * The parent, checked at reserve time, may have been disposed since.
 */
static int kdispose_publish_locked(struct kdispose_file *kf,
				   struct kdispose_object *obj, u64 parent_handle)
{
	struct kdispose_table *table = kdispose_table_locked(kf);
	struct kdispose_slot *slot;
	struct kdispose_object *parent = NULL;

	if (parent_handle) {
		parent = kdispose_parent_locked(kf, parent_handle);
		if (IS_ERR(parent))
			return PTR_ERR(parent);
		obj->parent = parent;
		hlist_add_head(&obj->sibling, &parent->children);
		parent->nchildren++;
	}
	if (kdispose_type(obj->type)->mmap)
		xa_store(&kf->mmap_xa, kdispose_object_seq(obj), obj, 0);

	slot = &table->slots[kdispose_handle_slot(obj->handle)];
	WRITE_ONCE(slot->seq, kdispose_object_seq(obj));
	WRITE_ONCE(obj->state, KDISPOSE_LIVE);
	/* Until it is freed, the object pins its owner (see the top). */
	refcount_inc(&kf->ref);
	/* The table's reference. A lookup can take its own from now on. */
	smp_wmb();
	refcount_set(&obj->ref, 1);
	rcu_assign_pointer(slot->obj, obj);

	kf->nlive[obj->type]++;
	kdispose_stats_created(obj->type);
	trace_kdispose_create(obj);
	return 0;
}

/* Keep a user's label as printable ASCII only: it reaches the kernel log. */
static void kdispose_label_copy(char *label, const char *user)
{
	unsigned int i;

	strscpy_pad(label, user, KDISPOSE_LABEL_LEN);
	for (i = 0; label[i]; i++)
		if (!isprint(label[i]) || !isascii(label[i]))
			label[i] = '?';
}

/**
 * kdispose_object_create - create, initialise and publish a new object
 * @kf: the owner
 * @args: the create arguments, copied from user space
 * @uhandle: where to write the new handle, before it is published
 *
 * Context: process context, the creating task. Takes @kf->lock twice; calls
 * the type's ->init without it.
 * Return: 0 on success; -EINVAL for bad arguments; -ENOENT or -EIDRM for a
 * bad parent; -EMLINK when the parent cannot take another child; -EMFILE,
 * -ENOSPC or -EDQUOT when a limit of the file or of its user is reached;
 * -EFAULT when @uhandle cannot be written; -ENOMEM; or what the type's
 * ->init returned.
 */
int kdispose_object_create(struct kdispose_file *kf,
			   const struct kdispose_create *args,
			   u64 __user *uhandle)
{
	const struct kdispose_type_ops *ops = kdispose_type(args->type);
	struct kdispose_object *obj;
	u64 handle;
	int err;

	if (!ops || args->flags)
		return -EINVAL;

	obj = kmem_cache_alloc(kdispose_object_cache, GFP_KERNEL_ACCOUNT);
	if (!obj)
		return -ENOMEM;
	/*
	 * Not a memset of the whole object: a racing lookup may still look at
	 * the reference count of the object this memory held before, which
	 * is and stays zero until the publish.
	 */
	obj->state = KDISPOSE_NEW;
	obj->type = args->type;
	obj->owner = kf;
	obj->parent = NULL;
	obj->nchildren = 0;
	obj->tgid = task_tgid_nr(current);
	obj->created = (u32)jiffies;
	obj->priv = NULL;
	INIT_HLIST_HEAD(&obj->children);
	INIT_HLIST_NODE(&obj->sibling);
	kdispose_label_copy(obj->label, args->label);

	mutex_lock(&kf->lock);
	err = kdispose_slot_reserve_locked(kf, &handle);
	if (!err && args->parent) {
		struct kdispose_object *parent;

		parent = kdispose_parent_locked(kf, args->parent);
		if (IS_ERR(parent)) {
			kdispose_slot_free_locked(kf,
						  kdispose_handle_slot(handle));
			err = PTR_ERR(parent);
		}
	}
	if (!err && ops->mmap) {
		err = xa_reserve(&kf->mmap_xa,
				 handle >> KDISPOSE_SLOT_BITS,
				 GFP_KERNEL_ACCOUNT);
		if (err)
			kdispose_slot_free_locked(kf,
						  kdispose_handle_slot(handle));
	}
	mutex_unlock(&kf->lock);
	if (err)
		goto err_free;
	WRITE_ONCE(obj->handle, handle);

	err = ops->init ? ops->init(obj, args) : 0;
	if (err)
		goto err_unreserve;

	if (put_user(handle, uhandle)) {
		err = -EFAULT;
		goto err_release;
	}

	mutex_lock(&kf->lock);
	err = kdispose_publish_locked(kf, obj, args->parent);
	if (err) {
		/*
		 * The caller has seen the handle: from now on it names an
		 * object that is gone (EIDRM), not one never issued.
		 */
		kdispose_table_locked(kf)->slots[kdispose_handle_slot(handle)]
			.seq = kdispose_handle_seq(handle);
		mutex_unlock(&kf->lock);
		goto err_release;
	}
	mutex_unlock(&kf->lock);
	return 0;

err_release:
	if (ops->release)
		ops->release(obj);
err_unreserve:
	mutex_lock(&kf->lock);
	if (ops->mmap)
		xa_release(&kf->mmap_xa, kdispose_handle_seq(handle));
	kdispose_slot_free_locked(kf, kdispose_handle_slot(handle));
	mutex_unlock(&kf->lock);
err_free:
	kmem_cache_free(kdispose_object_cache, obj);
	return err;
}

/* Unpublish one object whose children are gone already. */
static void kdispose_unpublish_locked(struct kdispose_file *kf,
				      struct kdispose_object *obj,
				      bool disposing)
{
	struct kdispose_table *table = kdispose_table_locked(kf);
	u32 slot = kdispose_handle_slot(obj->handle);

	RCU_INIT_POINTER(table->slots[slot].obj, NULL);
	kdispose_slot_free_locked(kf, slot);
	if (kdispose_type(obj->type)->mmap)
		xa_erase(&kf->mmap_xa, kdispose_object_seq(obj));
	WRITE_ONCE(obj->state, disposing ? KDISPOSE_DISPOSED :
					   KDISPOSE_FINALIZED);
	kf->nlive[obj->type]--;
	if (disposing)
		kf->ndisposed++;
	kdispose_stats_taken(obj->type, disposing);
}

/*
 * The last reference is gone: free the resource and the object. @deferred
 * tells whether that reference was another user's than the table's.
 */
static void kdispose_object_release(struct kdispose_object *obj,
				    bool deferred)
{
	const struct kdispose_type_ops *ops = kdispose_type(obj->type);
	struct kdispose_file *kf = obj->owner;

	trace_kdispose_release(obj, deferred);
	if (ops->release)
		ops->release(obj);
	kdispose_stats_released(obj->type);
	kmem_cache_free(kdispose_object_cache, obj);
	kdispose_file_put(kf);
}

/**
 * struct kdispose_taken - objects taken out of a table, to be disposed
 * @head: the objects, linked by their @sibling, children before parents.
 * @tail: the last one, where the next is appended.
 * @count: how many there are, per type.
 */
struct kdispose_taken {
	struct hlist_head head;
	struct hlist_node *tail;
	unsigned int count[KDISPOSE_NR_TYPES];
};

/*
 * Take @root and its descendants out of the table, appending them to @out
 * children first (depth-first, post-order). Iterative: the depth of a tree
 * is bounded, but the stack of a kernel thread is small. Returns the
 * number of objects taken.
 */
static unsigned int kdispose_take_tree_locked(struct kdispose_file *kf,
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
		if (parent) {
			hlist_del(&obj->sibling);
			parent->nchildren--;
			obj->parent = NULL;
		}
		kdispose_unpublish_locked(kf, obj, disposing);
		/* Ownership of the table's reference moves to @out. */
		if (out->tail)
			hlist_add_behind(&obj->sibling, out->tail);
		else
			hlist_add_head(&obj->sibling, &out->head);
		out->tail = &obj->sibling;
		out->count[obj->type]++;
		if (++n % KDISPOSE_RESCHED_BATCH == 0)
			cond_resched();
		if (obj == root)
			return n;
		obj = parent;
	}
}

static void kdispose_report_leak(struct kdispose_object *obj)
{
	char comm[TASK_COMM_LEN] = "(exited)";
	struct task_struct *task;

	rcu_read_lock();
	task = pid_task(find_pid_ns(obj->tgid, &init_pid_ns), PIDTYPE_TGID);
	if (task)
		get_task_comm(comm, task);
	rcu_read_unlock();
	pr_info_ratelimited("leak: %s object %#llx \"%s\" created by pid %d (%s) %u ms ago was never disposed\n",
			    kdispose_type(obj->type)->name, obj->handle,
			    obj->label, obj->tgid, comm,
			    jiffies_to_msecs((u32)jiffies - obj->created));
}

/*
 * Run ->dispose on taken objects, in order, and put the table's references.
 * @via is the entry point of an explicit dispose, ignored when finalizing.
 */
static void kdispose_dispose_taken(struct kdispose_file *kf,
				   struct kdispose_taken *taken,
				   bool disposing, unsigned int via)
{
	struct kdispose_object *obj;
	struct hlist_node *next;
	unsigned int n = 0;

	hlist_for_each_entry_safe(obj, next, &taken->head, sibling) {
		const struct kdispose_type_ops *ops = kdispose_type(obj->type);

		if (++n % KDISPOSE_RESCHED_BATCH == 0)
			cond_resched();
		hlist_del_init(&obj->sibling);
		if (disposing) {
			trace_kdispose_dispose(kf, obj->handle, obj, via);
		} else {
			trace_kdispose_finalize(obj);
			if (READ_ONCE(kdispose_leak_report))
				kdispose_report_leak(obj);
		}
		if (ops->dispose)
			ops->dispose(obj, disposing);
		if (refcount_dec_and_test(&obj->ref))
			kdispose_object_release(obj, false);
	}
	taken->tail = NULL;
}

/*
 * The owner decision of a dispose: take the object named by @handle, and
 * its descendants, out of the table onto @taken. Returns what the dispose
 * reports (1, 0 or -ENOENT), or -EAGAIN for @nonblock and an object with
 * children.
 */
static int kdispose_take_handle_locked(struct kdispose_file *kf, u64 handle,
				       bool nonblock,
				       struct kdispose_taken *taken)
{
	struct kdispose_table *table = kdispose_table_locked(kf);
	u32 slot = kdispose_handle_slot(handle);
	u64 seq = kdispose_handle_seq(handle);
	struct kdispose_object *obj;

	if (!seq || !table || slot >= table->size ||
	    seq > table->slots[slot].seq)
		return -ENOENT;
	obj = rcu_dereference_protected(table->slots[slot].obj,
					lockdep_is_held(&kf->lock));
	if (!obj || obj->handle != handle)
		return 0;
	if (nonblock && obj->nchildren)
		return -EAGAIN;
	kdispose_take_tree_locked(kf, obj, true, taken);
	return 1;
}

/**
 * kdispose_object_dispose - explicitly dispose an object and its descendants
 * @kf: the owner
 * @handle: the object
 * @via: the entry point (enum kdispose_via), with KDISPOSE_VIA_NONBLOCK
 *	when the caller must not wait (an io_uring command's first try)
 *
 * The first dispose of a handle takes the object (and, first, its
 * descendants) out of the table, runs ->dispose(obj, true) on each and drops
 * the table's references; the resources are released at the last put.
 *
 * Context: process context. Takes @kf->lock.
 * Return: 1 when this call disposed the object, 0 when it was disposed
 * already, -ENOENT when @handle was never issued by @kf, -EAGAIN when
 * the caller must not wait and the lock is contended or the object has
 * children.
 */
int kdispose_object_dispose(struct kdispose_file *kf, u64 handle,
			    unsigned int via)
{
	struct kdispose_taken taken = {};
	int ret;

	if (!(via & KDISPOSE_VIA_NONBLOCK))
		mutex_lock(&kf->lock);
	else if (!mutex_trylock(&kf->lock))
		return -EAGAIN;
	ret = kdispose_take_handle_locked(kf, handle,
					  via & KDISPOSE_VIA_NONBLOCK, &taken);
	mutex_unlock(&kf->lock);

	if (ret == 0)
		trace_kdispose_dispose(kf, handle, NULL, via);
	kdispose_dispose_taken(kf, &taken, true, via);
	return ret;
}

/**
 * kdispose_object_dispose_many - dispose several handles under one lock
 * @kf: the owner
 * @handles: the handles
 * @results: what kdispose_object_dispose() would return for each; may
 *	overlay @handles as long as result i is stored over handle i or an
 *	earlier one (each handle is read before its result is written)
 * @n: how many
 *
 * Takes every object, in order, in one hold of the lock, then disposes
 * them; a duplicate handle gets 1 once and 0 after.
 *
 * Context: process context. Takes @kf->lock.
 * Return: the number of handles this call disposed.
 */
unsigned int kdispose_object_dispose_many(struct kdispose_file *kf,
					  const u64 *handles, s32 *results,
					  unsigned int n)
{
	struct kdispose_taken taken = {};
	unsigned int i, ndisposed = 0;
	u64 handle;

	mutex_lock(&kf->lock);
	for (i = 0; i < n; i++) {
		handle = handles[i];
		results[i] = kdispose_take_handle_locked(kf, handle, false,
							 &taken);
		if (results[i] == 1)
			ndisposed++;
		else if (results[i] == 0)
			trace_kdispose_dispose(kf, handle, NULL,
					       KDISPOSE_VIA_BATCH);
	}
	mutex_unlock(&kf->lock);

	kdispose_dispose_taken(kf, &taken, true, KDISPOSE_VIA_BATCH);
	return ndisposed;
}

/* One line per released file that held undisposed objects. */
static void kdispose_report_leak_summary(struct kdispose_file *kf,
					 unsigned int total,
					 const unsigned int *count)
{
	char buf[128];
	unsigned int type;
	int len = 0;

	for (type = 0; type < KDISPOSE_NR_TYPES; type++)
		if (count[type])
			len += scnprintf(buf + len, sizeof(buf) - len, "%s%u %s",
					 len ? ", " : "", count[type],
					 kdispose_type(type)->name);
	pr_info_ratelimited("leak: fd of pid %d released with %u undisposed objects: %s\n",
			    kf->tgid, total, buf);
}

/**
 * kdispose_file_release - the finalizer path: release a file's objects
 * @kf: the owner, whose file has no reference left
 *
 * Takes every object still in the table, children before parents, runs
 * ->dispose(obj, false) on each and frees @kf. Linear in the number of
 * objects, yielding the CPU regularly.
 *
 * Context: process context of any task (task work of the last fput(), or a
 * kworker): uses neither current nor user memory.
 */
void kdispose_file_release(struct kdispose_file *kf)
{
	struct kdispose_taken taken = {};
	unsigned int n = 0, total = 0;
	struct kdispose_table *table;
	struct kdispose_object *obj;
	u32 slot;

	mutex_lock(&kf->lock);
	table = kdispose_table_locked(kf);
	for (slot = 0; slot < kf->hwm; slot++) {
		if (slot % KDISPOSE_RESCHED_BATCH == 0)
			cond_resched();
		obj = rcu_dereference_protected(table->slots[slot].obj,
						lockdep_is_held(&kf->lock));
		if (!obj || obj->parent)
			continue;
		n += kdispose_take_tree_locked(kf, obj, false, &taken);
		if (n >= KDISPOSE_RESCHED_BATCH) {
			mutex_unlock(&kf->lock);
			kdispose_dispose_taken(kf, &taken, false, 0);
			cond_resched();
			total += n;
			n = 0;
			mutex_lock(&kf->lock);
		}
	}
	mutex_unlock(&kf->lock);
	kdispose_dispose_taken(kf, &taken, false, 0);
	total += n;

	if (total && READ_ONCE(kdispose_leak_report))
		kdispose_report_leak_summary(kf, total, taken.count);

	WARN_ON_ONCE(!xa_empty(&kf->mmap_xa));
	xa_destroy(&kf->mmap_xa);
	kvfree(kf->free);
	kf->free = NULL;
	if (table)
		kdispose_user_uncharge_slots(kf->user, table->size);
	RCU_INIT_POINTER(kf->table, NULL);
	kvfree(table);
	/* Objects still referenced (mapped, or looked up) keep the rest. */
	kdispose_file_put(kf);
}

/*
 * Take a reference on the object @obj points to, unless it is being created
 * or freed. Called under RCU: @obj may be memory that has been freed and
 * reused for another object meanwhile.
 */
static bool kdispose_object_tryget(struct kdispose_object *obj)
{
	if (!refcount_inc_not_zero(&obj->ref))
		return false;
	/* The reference pins the object's identity: read it after. */
	smp_acquire__after_ctrl_dep();
	return true;
}

/*
 * Keep the reference kdispose_object_tryget() took if @obj is the live
 * object named by @handle in @kf's table, else put it. Called after the RCU
 * section: that put may be the last one, and ->release may sleep. The
 * owner is compared first: another file issues the same handle values.
 */
static bool kdispose_object_keep(struct kdispose_object *obj,
				 struct kdispose_file *kf, u64 handle)
{
	if (READ_ONCE(obj->owner) == kf &&
	    READ_ONCE(obj->handle) == handle &&
	    READ_ONCE(obj->state) == KDISPOSE_LIVE)
		return true;
	kdispose_object_put(obj);
	return false;
}

/**
 * kdispose_object_lookup - find a live object and take a reference on it
 * @kf: the owner
 * @handle: the handle to look up
 *
 * Context: any process context; lockless (RCU).
 * Return: the object, which the caller must kdispose_object_put();
 * ERR_PTR(-EIDRM) when @handle was issued but its object is gone;
 * ERR_PTR(-ENOENT) when @handle was never issued by @kf.
 */
struct kdispose_object *kdispose_object_lookup(struct kdispose_file *kf,
					       u64 handle)
{
	u32 slot = kdispose_handle_slot(handle);
	u64 seq = kdispose_handle_seq(handle);
	struct kdispose_object *obj = NULL;
	struct kdispose_table *table;
	u64 last = 0;

	rcu_read_lock();
	table = rcu_dereference(kf->table);
	if (seq && table && slot < table->size) {
		obj = rcu_dereference(table->slots[slot].obj);
		if (obj && !kdispose_object_tryget(obj))
			obj = NULL;
		last = READ_ONCE(table->slots[slot].seq);
	}
	rcu_read_unlock();
	if (obj && kdispose_object_keep(obj, kf, handle))
		return obj;
	return ERR_PTR(seq && seq <= last ? -EIDRM : -ENOENT);
}

/**
 * kdispose_object_lookup_mmap - find a live mappable object by mmap offset
 * @kf: the owner
 * @pgoff: the page offset given to mmap()
 *
 * Context: any process context; lockless (RCU).
 * Return: the object with a reference the caller must put, or NULL.
 */
struct kdispose_object *kdispose_object_lookup_mmap(struct kdispose_file *kf,
						    unsigned long pgoff)
{
	struct kdispose_object *obj;

	rcu_read_lock();
	obj = xa_load(&kf->mmap_xa, pgoff);
	if (obj && !kdispose_object_tryget(obj))
		obj = NULL;
	rcu_read_unlock();
	if (!obj)
		return NULL;
	/* The seq is the offset: with the owner it names one object. */
	if (kdispose_object_seq(obj) != pgoff) {
		kdispose_object_put(obj);
		return NULL;
	}
	return kdispose_object_keep(obj, kf, obj->handle) ? obj : NULL;
}

/**
 * kdispose_object_query - fill the generic part of a query
 * @obj: a referenced object
 * @q: the reply; the type's ->query fills the rest
 *
 * Context: process context. Takes the owner's lock.
 */
void kdispose_object_query(struct kdispose_object *obj,
			   struct kdispose_query *q)
{
	struct kdispose_file *kf = obj->owner;

	q->type = obj->type;
	q->refcount = refcount_read(&obj->ref);
	memcpy(q->label, obj->label, sizeof(q->label));
	mutex_lock(&kf->lock);
	q->parent = obj->parent ? obj->parent->handle : 0;
	q->nchildren = obj->nchildren;
	q->depth = kdispose_depth_locked(obj);
	mutex_unlock(&kf->lock);
}

/**
 * kdispose_object_put - drop a reference; the last one releases the object
 * @obj: the object
 *
 * Context: process context (the type's ->release may sleep).
 */
void kdispose_object_put(struct kdispose_object *obj)
{
	if (refcount_dec_and_test(&obj->ref))
		kdispose_object_release(obj, true);
}

/**
 * kdispose_charge_bytes - charge memory-buffer bytes to a file's quotas
 * @kf: the owner
 * @bytes: how many
 *
 * Charges both the file (max_bytes) and the user that opened it
 * (max_user_bytes, see user.c).
 *
 * Context: process context. Takes @kf->lock.
 * Return: 0, or -EDQUOT when the file would exceed max_bytes or its user
 * max_user_bytes.
 */
int kdispose_charge_bytes(struct kdispose_file *kf, u64 bytes)
{
	/* Read once: root may lower it meanwhile, and max - bytes must not wrap. */
	u64 max = READ_ONCE(kdispose_max_bytes);
	int err;

	err = kdispose_user_charge_bytes(kf->user, bytes);
	if (err)
		return err;
	mutex_lock(&kf->lock);
	if (bytes > max || kf->bytes > max - bytes)
		err = -EDQUOT;
	else
		kf->bytes += bytes;
	mutex_unlock(&kf->lock);
	if (err)
		kdispose_user_uncharge_bytes(kf->user, bytes);
	return err;
}

/**
 * kdispose_uncharge_bytes - give back bytes charged by kdispose_charge_bytes()
 * @kf: the owner
 * @bytes: how many
 *
 * Context: process context. Takes @kf->lock.
 */
void kdispose_uncharge_bytes(struct kdispose_file *kf, u64 bytes)
{
	mutex_lock(&kf->lock);
	kf->bytes -= bytes;
	mutex_unlock(&kf->lock);
	kdispose_user_uncharge_bytes(kf->user, bytes);
}

/**
 * kdispose_show_fdinfo - the kdispose lines of /proc/<pid>/fdinfo/<fd>
 * @m: the seq_file
 * @kf: the owner
 *
 * Context: process context. Takes @kf->lock.
 */
void kdispose_show_fdinfo(struct seq_file *m, struct kdispose_file *kf)
{
	unsigned int type, live = 0;

	mutex_lock(&kf->lock);
	for (type = 0; type < KDISPOSE_NR_TYPES; type++)
		live += kf->nlive[type];
	seq_printf(m, "kdispose_live:\t%u\n", live);
	seq_printf(m, "kdispose_next_seq:\t%llu\n", kf->next_seq);
	seq_printf(m, "kdispose_disposed:\t%llu\n", kf->ndisposed);
	seq_printf(m, "kdispose_bytes:\t%llu\n", kf->bytes);
	for (type = 0; type < KDISPOSE_NR_TYPES; type++)
		if (kdispose_type(type))
			seq_printf(m, "kdispose_live_%s:\t%u\n",
				   kdispose_type(type)->name, kf->nlive[type]);
	mutex_unlock(&kf->lock);
}
