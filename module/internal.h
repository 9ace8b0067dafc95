/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Structures shared by the files of the kdispose module. The lifecycle they
 * implement is described at the top of table.c.
 */
#ifndef _KDISPOSE_INTERNAL_H
#define _KDISPOSE_INTERNAL_H

#include <linux/bits.h>
#include <linux/kdispose.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/nospec.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/types.h>
#include <linux/xarray.h>

struct file;
struct kdispose_user;
struct poll_table_struct;
struct seq_file;
struct vm_area_struct;

/*
 * A handle is (seq << KDISPOSE_SLOT_BITS) | slot: seq counts the creates of
 * one file from 1 and is never reused, slot indexes the file's dense table.
 */
#define KDISPOSE_SLOT_BITS	24
#define KDISPOSE_MAX_SLOTS	BIT(KDISPOSE_SLOT_BITS)
#define KDISPOSE_SEQ_MAX	(U64_MAX >> KDISPOSE_SLOT_BITS)

/* Freed objects a file keeps for its next creates (kdispose_ctx.spare). */
#define KDISPOSE_SPARE		4

/*
 * The length of kind-indexed arrays: one more than the number of kinds in
 * kinds.h, since the UAPI numbers them from 1 (main.c checks that each
 * value fits and that no two are equal).
 */
enum {
	KDISPOSE_KIND_NONE,
#define KDISPOSE_KIND(ID, name)	KDISPOSE_KIND_INDEX_##ID,
#include "kinds.h"
#undef KDISPOSE_KIND
	KDISPOSE_NR_KINDS
};

/* Module parameters, defined in main.c. */
extern unsigned int kdispose_max_objects;
extern unsigned long kdispose_max_bytes;
extern unsigned long long kdispose_max_handle_seq;
extern unsigned long kdispose_max_user_objects;
extern unsigned long long kdispose_max_user_bytes;
extern bool kdispose_leak_report;

/**
 * enum kdispose_state - where an object is in its life
 * @KDISPOSE_NEW: allocated and being initialised; no handle works yet.
 * @KDISPOSE_LIVE: published in its file's table.
 * @KDISPOSE_DISPOSED: taken out of the table by an explicit dispose.
 * @KDISPOSE_FINALIZED: taken out of the table by the file's release.
 */
enum kdispose_state {
	KDISPOSE_NEW,
	KDISPOSE_LIVE,
	KDISPOSE_DISPOSED,
	KDISPOSE_FINALIZED,
};

/**
 * struct kdispose_object - one resource in a file's table
 * @handle: the handle userspace names the object by. Set before the object
 *	is published and never changed after.
 * @ref: references: one for the table while the object is published, one
 *	per user (an ioctl in progress, a memory mapping, a waiter). Zero while
 *	the object is being created (lookups cannot take a reference yet) and
 *	once it is being freed. The last put calls &kdispose_kind_ops.release.
 * @created: jiffies at creation (truncated: it gives ages up to 49 days),
 *	for leak reports.
 * @tgid: the thread group that created the object, for leak reports.
 * @nchildren: number of entries on @children. Protected by @owner's lock.
 * @kind: the kind, a value of enum kdispose_type.
 * @state: enum kdispose_state. Written under @owner's lock; read without it
 *	by lookups, which hold a reference.
 * @owner: the file whose table holds (or held) the object. Set before the
 *	object is published; from the publish until the object is freed the
 *	object holds a reference on it (&kdispose_file.ref), so the owner's
 *	state outlives every reference to the object, whoever holds it.
 * @parent: the parent while both are in the table, else NULL. Protected by
 *	@owner's lock.
 * @children: the live children, most recent first. Protected by @owner's
 *	lock.
 * @sibling: entry on the parent's @children while published; once taken out
 *	of the table, entry on the list of objects a dispose is releasing.
 *	Protected by @owner's lock.
 * @value: the token kind's value.
 * @priv: the per-kind state of the other kinds.
 * @label: NUL-terminated diagnostic label.
 *
 * Objects come from a SLAB_TYPESAFE_BY_RCU cache: a lockless lookup may
 * find memory that has been freed and reused for another object, of this
 * file or of another one, so it validates @owner, @handle and @state after
 * taking a reference (see table.c).
 */
struct kdispose_object {
	u64 handle;
	refcount_t ref;
	u32 created;
	pid_t tgid;
	u16 nchildren;
	u8 kind;
	u8 state;
	struct kdispose_ctx *owner;
	struct kdispose_object *parent;
	struct hlist_head children;
	struct hlist_node sibling;
	union {
		u64 value;
		void *priv;
	};
	char label[KDISPOSE_LABEL_LEN];
};

/**
 * struct kdispose_slot - one entry of a file's handle table
 * @obj: the published object, or NULL (free, reserved by a create in
 *	progress, or emptied by a dispose). Written under the file's lock, read
 *	under RCU.
 * @seq: the seq of the latest object published in this slot, 0 if none.
 *	Tells a disposed handle (EIDRM) from one never issued (ENOENT).
 */
struct kdispose_slot {
	struct kdispose_object __rcu *obj;
	u64 seq;
};

/**
 * struct kdispose_table - the array of slots, replaced when it grows
 * @rcu: frees the old array after a grace period.
 * @size: number of entries of @slots.
 * @slots: the slots.
 */
struct kdispose_table {
	struct rcu_head rcu;
	u32 size;
	struct kdispose_slot slots[];
};

/**
 * struct kdispose_ctx - the owner: per-open-file state of /dev/kdispose
 * @ref: references: one for the open file, dropped by its release hook
 *	once every object is finalized, and one per published object until
 *	that object is freed. The last one frees the state.
 * @lock: serialises every change to the table: slot allocation, publish,
 *	dispose, the parent/child links and the counters below. Lookups do not
 *	take it. Never held across a copy to or from user memory.
 * @table: the slots. Replaced by a larger copy under @lock; read under RCU.
 * @free: stack of free slot indexes below @hwm. Protected by @lock.
 * @nfree: entries on @free. Protected by @lock.
 * @hwm: slots ever used (the next never-used slot). Protected by @lock.
 * @next_seq: the seq of the next create. Protected by @lock.
 * @nlive: published objects, per kind. Protected by @lock.
 * @ndisposed: objects this file disposed explicitly. Protected by @lock.
 * @bytes: memory-buffer bytes charged to this file. Protected by @lock.
 * @mmap_xa: the mappable objects, indexed by their mmap page offset (their
 *	seq). Has its own lock; read under RCU by mmap.
 * @user: the user the file's slots and bytes are charged to (user.c).
 * @tgid: the thread group that opened the file, the "fd owner" of traces
 *	and leak reports.
 * @spare: memory of up to KDISPOSE_SPARE objects this file freed, kept for
 *	its next creates (object.c). Each entry is claimed and filled with an
 *	atomic exchange, without @lock. Freed with the state.
 *
 * After the release hook only @ref, @lock, @bytes, @user, @tgid and @spare
 * remain valid: the table is freed there, and whatever still holds an
 * object (a mapping, another file's failed lookup) only releases it.
 */
struct kdispose_ctx {
	refcount_t ref;
	struct mutex lock;	/* see above: everything but lookups */
	struct kdispose_table __rcu *table;
	u32 *free;
	u32 nfree;
	u32 hwm;
	u64 next_seq;
	u32 nlive[KDISPOSE_NR_KINDS];
	u64 ndisposed;
	u64 bytes;
	struct xarray mmap_xa;
	struct kdispose_user *user;
	pid_t tgid;
	struct kdispose_object *spare[KDISPOSE_SPARE];
};

/**
 * struct kdispose_shared - the part of an object that all its names share
 * @ref: references to the state: one per handle object naming it, until
 *	that object's ->release, and one per export file. The last put frees
 *	the state (&kdispose_kind_ops.share_free).
 * @names: the handles not yet disposed or finalized, in any table, and
 *	the export files not yet released. Never goes up from zero: the drop
 *	to zero ends the object, once (share.c).
 * @handles: the handles among @names, for the poll of an export fd.
 * @kind: the kind.
 * @owner: the table state of the creator, pinned until the state is
 *	freed: what the kind charged to it (a buffer's bytes) goes back there.
 *
 * Starts the state of each kind that can be exported (memory, event);
 * atomics only, no lock.
 */
struct kdispose_shared {
	refcount_t ref;
	atomic_t names;
	atomic_t handles;
	u8 kind;
	struct kdispose_ctx *owner;
};

/**
 * enum kdispose_via - which entry point asked for a dispose
 * @KDISPOSE_VIA_IOCTL: KDISPOSE_IOC_DISPOSE.
 * @KDISPOSE_VIA_BATCH: KDISPOSE_IOC_DISPOSE_BATCH.
 * @KDISPOSE_VIA_URING: KDISPOSE_URING_CMD_DISPOSE.
 * @KDISPOSE_VIA_NONBLOCK: or-ed in when the caller must not wait.
 */
enum kdispose_via {
	KDISPOSE_VIA_IOCTL,
	KDISPOSE_VIA_BATCH,
	KDISPOSE_VIA_URING,
	KDISPOSE_VIA_NONBLOCK = 0x100,
};

/**
 * struct kdispose_kind_ops - what one kind of object does
 * @init: optional. Called once by create, before the object is published,
 *	in the creating task. Parses @args (return -EINVAL for unknown bits or
 *	non-zero unused words) and acquires the resource. On failure nothing
 *	else is called: @init must undo its own work.
 * @dispose: optional. Called exactly once when the object leaves the table,
 *	with the disposing flag of the .NET pattern: true for an explicit
 *	dispose, in the disposing task; false on the finalizer path, which may
 *	run in any task or a kworker and must not touch user memory or
 *	current. Other threads may still hold references: do only what is safe
 *	against them (mark, wake waiters). Called without the file's lock.
 * @release: optional. Called exactly once when the last reference goes
 *	away, in whatever context dropped it (process context, may sleep):
 *	frees the resource. Also called for an object whose create failed
 *	after @init succeeded.
 * @op: optional. Runs a KDISPOSE_OP_* of this kind on a referenced object.
 *	@op->op is known to belong to this kind. Missing: EOPNOTSUPP.
 * @query: optional. Fills @q->info and @q->state for KDISPOSE_IOC_QUERY.
 * @mmap: optional. Maps the object into @vma; the object then gets an
 *	mmap offset. Must take its own reference for the mapping.
 * @share_free: set for the kinds that can be exported (share.c), whose
 *	obj->priv is the struct kdispose_shared at the start of their state:
 *	frees that state at its last reference. Their ->dispose must call
 *	kdispose_share_dispose() and their ->release kdispose_share_release().
 * @share_poll: optional, for a kind with @share_free: the poll of its
 *	export fds. Missing: always ready, as a file without poll.
 * @share_read: optional, for a kind with @share_free: the read of its
 *	export fds. Missing: EINVAL.
 */
struct kdispose_kind_ops {
	int (*init)(struct kdispose_object *obj,
		    const struct kdispose_create *args);
	void (*dispose)(struct kdispose_object *obj, bool disposing);
	void (*release)(struct kdispose_object *obj);
	long (*op)(struct kdispose_object *obj, struct kdispose_op *op);
	void (*query)(struct kdispose_object *obj, struct kdispose_query *q);
	int (*mmap)(struct kdispose_object *obj, struct vm_area_struct *vma);
	void (*share_free)(struct kdispose_shared *sh);
	__poll_t (*share_poll)(struct kdispose_shared *sh, struct file *file,
			       struct poll_table_struct *pt);
	ssize_t (*share_read)(struct kdispose_shared *sh, struct file *file,
			      char __user *buf, size_t len);
};

#define KDISPOSE_KIND(ID, name)						\
	extern const struct kdispose_kind_ops kdispose_##name##_ops;
#include "kinds.h"
#undef KDISPOSE_KIND

/* The ops of each kind, indexed by its UAPI value (main.c). */
extern const struct kdispose_kind_ops *const kdispose_kinds[KDISPOSE_NR_KINDS];

/**
 * kdispose_ops - the ops of a kind of object
 * @kind: a value of enum kdispose_type, possibly from user space
 *
 * Context: any context.
 * Return: the ops, or NULL when @kind is not a kind.
 */
static inline const struct kdispose_kind_ops *kdispose_ops(unsigned int kind)
{
	if (kind >= KDISPOSE_NR_KINDS)
		return NULL;
	return kdispose_kinds[array_index_nospec(kind, KDISPOSE_NR_KINDS)];
}

const char *kdispose_kind_name(unsigned int kind);

/* Room for the longest name in kinds.h, in tracepoints. */
#define KDISPOSE_KIND_NAME_LEN	8

/* Loops over objects or slots yield the CPU after this many. */
#define KDISPOSE_RESCHED_BATCH	1024

/**
 * struct kdispose_taken - objects taken out of a table, to be disposed
 * @head: the objects, linked by their @sibling, children before parents.
 * @tail: the last one, where the next is appended.
 * @count: how many there are, per kind.
 */
struct kdispose_taken {
	struct hlist_head head;
	struct hlist_node *tail;
	unsigned int count[KDISPOSE_NR_KINDS];
};

/* table.c */
int kdispose_slot_reserve_locked(struct kdispose_ctx *ctx, u64 *handle);
void kdispose_slot_free_locked(struct kdispose_ctx *ctx, u32 slot);
struct kdispose_object *kdispose_slot_find_locked(struct kdispose_ctx *ctx,
						  u64 handle);
void kdispose_slot_fill_locked(struct kdispose_ctx *ctx,
			       struct kdispose_object *obj);
void kdispose_slot_clear_locked(struct kdispose_ctx *ctx,
				struct kdispose_object *obj);
void kdispose_slot_retire_locked(struct kdispose_ctx *ctx, u64 handle);
void kdispose_table_free(struct kdispose_ctx *ctx);
struct kdispose_object *kdispose_object_lookup(struct kdispose_ctx *ctx,
					       u64 handle);
struct kdispose_object *kdispose_object_lookup_mmap(struct kdispose_ctx *ctx,
						    unsigned long pgoff);

/* ctx.c */
struct kdispose_ctx *kdispose_ctx_alloc(void);
void kdispose_ctx_put_many(struct kdispose_ctx *ctx, unsigned int n);
void kdispose_ctx_release(struct kdispose_ctx *ctx);
void kdispose_report_leak(struct kdispose_object *obj);
int kdispose_charge_bytes(struct kdispose_ctx *ctx, u64 bytes);
void kdispose_uncharge_bytes(struct kdispose_ctx *ctx, u64 bytes);
void kdispose_show_fdinfo(struct seq_file *m, struct kdispose_ctx *ctx);

/**
 * kdispose_ctx_put - drop a reference on an owner's state
 * @ctx: the owner
 *
 * Context: process context.
 */
static inline void kdispose_ctx_put(struct kdispose_ctx *ctx)
{
	kdispose_ctx_put_many(ctx, 1);
}

/* object.c */
int kdispose_cache_init(void);
void kdispose_cache_exit(void);
void kdispose_spares_free(struct kdispose_ctx *ctx);
int kdispose_object_create(struct kdispose_ctx *ctx,
			   const struct kdispose_create *args,
			   u64 __user *uhandle, struct kdispose_shared *import);
int kdispose_object_dispose(struct kdispose_ctx *ctx, u64 handle,
			    unsigned int via);
unsigned int kdispose_object_dispose_many(struct kdispose_ctx *ctx,
					  const u64 *handles, s32 *results,
					  unsigned int n);
unsigned int kdispose_take_tree_locked(struct kdispose_ctx *ctx,
				       struct kdispose_object *root,
				       bool disposing,
				       struct kdispose_taken *out);
void kdispose_dispose_taken(struct kdispose_ctx *ctx,
			    struct kdispose_taken *taken, bool disposing,
			    unsigned int via);
void kdispose_object_query(struct kdispose_object *obj,
			   struct kdispose_query *q);
void kdispose_object_put(struct kdispose_object *obj);

/**
 * kdispose_handle_slot - the table slot within a handle
 * @handle: the handle
 */
static inline u32 kdispose_handle_slot(u64 handle)
{
	return handle & (KDISPOSE_MAX_SLOTS - 1);
}

/**
 * kdispose_handle_seq - the create sequence number within a handle
 * @handle: the handle
 */
static inline u64 kdispose_handle_seq(u64 handle)
{
	return handle >> KDISPOSE_SLOT_BITS;
}

/**
 * kdispose_table_locked - an owner's table, for a holder of its lock
 * @ctx: the owner
 */
static inline struct kdispose_table *
kdispose_table_locked(struct kdispose_ctx *ctx)
{
	return rcu_dereference_protected(ctx->table,
					 lockdep_is_held(&ctx->lock));
}

/**
 * kdispose_object_get - take a reference on an object
 * @obj: an object the caller already holds a reference on
 */
static inline void kdispose_object_get(struct kdispose_object *obj)
{
	refcount_inc(&obj->ref);
}

/**
 * kdispose_object_seq - the create sequence number within a handle
 * @obj: the object
 */
static inline u64 kdispose_object_seq(const struct kdispose_object *obj)
{
	return obj->handle >> KDISPOSE_SLOT_BITS;
}

/* user.c */
struct kdispose_user *kdispose_user_get(void);
void kdispose_user_put(struct kdispose_user *user);
int kdispose_user_charge_slots(struct kdispose_user *user, u32 n);
void kdispose_user_uncharge_slots(struct kdispose_user *user, u32 n);
int kdispose_user_charge_bytes(struct kdispose_user *user, u64 bytes);
void kdispose_user_uncharge_bytes(struct kdispose_user *user, u64 bytes);

/* share.c */
void kdispose_share_init(struct kdispose_object *obj,
			 struct kdispose_shared *sh);
void kdispose_share_attach(struct kdispose_object *obj,
			   struct kdispose_shared *sh);
void kdispose_share_dispose(struct kdispose_object *obj, bool disposing);
void kdispose_share_release(struct kdispose_object *obj);
long kdispose_share_export(struct kdispose_ctx *ctx, u64 handle,
			   unsigned int flags);
int kdispose_share_import(struct kdispose_ctx *ctx,
			  const struct kdispose_import *args,
			  u64 __user *uhandle);

/* kind_event.c */
long kdispose_event_wait_many(struct kdispose_ctx *ctx,
			      const u64 __user *uhandles, unsigned int n,
			      bool all, u64 timeout_ns, u32 *index);

/* main.c */
extern const struct file_operations kdispose_fops;

/* ioctl.c */
long kdispose_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* uring.c */
struct io_uring_cmd;
int kdispose_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags);

/* stats.c */
extern const struct attribute_group *kdispose_attr_groups[];

/*
 * One CPU's counts, per kind; only that CPU writes them (this_cpu_inc()),
 * any reader sums them (stats.c says why a read is consistent). 64-bit
 * counters: the module is built for 64-bit kernels, where a remote
 * READ_ONCE() of one cannot tear. The increments are inline: each object's
 * life makes three, on its hot paths.
 */
struct kdispose_cpu_counters {
	u64 created[KDISPOSE_NR_KINDS];
	u64 disposed[KDISPOSE_NR_KINDS];
	u64 finalized[KDISPOSE_NR_KINDS];
	u64 released[KDISPOSE_NR_KINDS];
};

DECLARE_PER_CPU(struct kdispose_cpu_counters, kdispose_cpu_counters);

/**
 * kdispose_stats_created - count a published object
 * @kind: its kind
 *
 * Context: any context.
 */
static inline void kdispose_stats_created(unsigned int kind)
{
	this_cpu_inc(kdispose_cpu_counters.created[kind]);
}

/**
 * kdispose_stats_taken - count an object taken out of its table
 * @kind: its kind
 * @disposing: true for an explicit dispose, false for the finalizer path
 *
 * Context: any context.
 */
static inline void kdispose_stats_taken(unsigned int kind, bool disposing)
{
	if (disposing)
		this_cpu_inc(kdispose_cpu_counters.disposed[kind]);
	else
		this_cpu_inc(kdispose_cpu_counters.finalized[kind]);
}

/**
 * kdispose_stats_released - count an object whose last reference is gone
 * @kind: its kind
 *
 * Context: any context.
 */
static inline void kdispose_stats_released(unsigned int kind)
{
	this_cpu_inc(kdispose_cpu_counters.released[kind]);
}

#endif /* _KDISPOSE_INTERNAL_H */
