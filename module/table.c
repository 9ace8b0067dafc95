// SPDX-License-Identifier: GPL-2.0
/*
 * The handle table of an owner: its slots, how a create reserves one, and
 * the lockless lookups.
 *
 * A handle is (seq << KDISPOSE_SLOT_BITS) | slot: seq counts the creates of
 * one owner from 1 and is never reused, slot indexes a dense array that
 * doubles when full. Each slot remembers the seq of the latest object
 * published in it, which tells a disposed handle (EIDRM) from one never
 * issued (ENOENT). Slots are reserved, filled and emptied under the owner's
 * lock; the array is replaced by a larger copy under it and freed after a
 * grace period.
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
 *   the last one of another file's object: that each object pins its
 *   owner's state (ctx.c) is what makes that release safe after the other
 *   file's release hook has run.
 */
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "internal.h"

/* The table starts with this many slots and doubles when full. */
#define KDISPOSE_TABLE_MIN	64

/*
 * Make room for one more slot: double the table and the free stack. The
 * new slots are charged to the file's user.
 */
static int kdispose_table_grow_locked(struct kdispose_ctx *ctx)
{
	struct kdispose_table *old = kdispose_table_locked(ctx);
	u32 size = old ? old->size * 2 : KDISPOSE_TABLE_MIN;
	struct kdispose_table *new;
	u32 *free;
	int err;

	if (old && old->size >= KDISPOSE_MAX_SLOTS)
		return -EMFILE;
	err = kdispose_user_charge_slots(ctx->user,
					 size - (old ? old->size : 0));
	if (err)
		return err;
	new = kvzalloc(struct_size(new, slots, size), GFP_KERNEL_ACCOUNT);
	free = new ? kvmalloc_array(size, sizeof(*free), GFP_KERNEL_ACCOUNT) :
		     NULL;
	if (!free) {
		kvfree(new);
		kdispose_user_uncharge_slots(ctx->user,
					     size - (old ? old->size : 0));
		return -ENOMEM;
	}
	new->size = size;
	if (old) {
		memcpy(new->slots, old->slots, old->size * sizeof(old->slots[0]));
		memcpy(free, ctx->free, ctx->nfree * sizeof(*free));
	}
	kvfree(ctx->free);
	ctx->free = free;
	rcu_assign_pointer(ctx->table, new);
	if (old)
		kvfree_rcu(old, rcu);
	return 0;
}

/**
 * kdispose_slot_reserve_locked - reserve a slot and a seq for a create
 * @ctx: the owner
 * @handle: set to the handle of the create in progress
 *
 * Context: @ctx->lock held.
 * Return: 0; -ENOSPC when the owner's seqs are used up; -EMFILE at
 * max_objects; -EDQUOT when the table cannot grow within the user's quota;
 * -ENOMEM.
 */
int kdispose_slot_reserve_locked(struct kdispose_ctx *ctx, u64 *handle)
{
	struct kdispose_table *table = kdispose_table_locked(ctx);
	u32 slot;
	int err;

	if (ctx->next_seq > min_t(u64, kdispose_max_handle_seq,
				  KDISPOSE_SEQ_MAX))
		return -ENOSPC;
	if (ctx->hwm - ctx->nfree >= min(kdispose_max_objects,
					 KDISPOSE_MAX_SLOTS))
		return -EMFILE;
	if (ctx->nfree) {
		slot = ctx->free[--ctx->nfree];
	} else {
		if (!table || ctx->hwm == table->size) {
			err = kdispose_table_grow_locked(ctx);
			if (err)
				return err;
		}
		slot = ctx->hwm++;
	}
	*handle = (ctx->next_seq++ << KDISPOSE_SLOT_BITS) | slot;
	return 0;
}

/**
 * kdispose_slot_free_locked - give back a slot that holds no object
 * @ctx: the owner
 * @slot: the slot
 *
 * Context: @ctx->lock held.
 */
void kdispose_slot_free_locked(struct kdispose_ctx *ctx, u32 slot)
{
	ctx->free[ctx->nfree++] = slot;
}

/**
 * kdispose_slot_find_locked - the published object a handle names
 * @ctx: the owner
 * @handle: the handle, possibly forged
 *
 * Context: @ctx->lock held.
 * Return: the object; ERR_PTR(-EIDRM) when @handle was issued but its
 * object has left the table; ERR_PTR(-ENOENT) when it was never issued.
 */
struct kdispose_object *kdispose_slot_find_locked(struct kdispose_ctx *ctx,
						  u64 handle)
{
	struct kdispose_table *table = kdispose_table_locked(ctx);
	u32 slot = kdispose_handle_slot(handle);
	u64 seq = kdispose_handle_seq(handle);
	struct kdispose_object *obj;

	if (!seq || !table || slot >= table->size ||
	    seq > table->slots[slot].seq)
		return ERR_PTR(-ENOENT);
	obj = rcu_dereference_protected(table->slots[slot].obj,
					lockdep_is_held(&ctx->lock));
	if (!obj || obj->handle != handle)
		return ERR_PTR(-EIDRM);
	return obj;
}

/**
 * kdispose_slot_fill_locked - publish a complete object in its slot
 * @ctx: the owner
 * @obj: the object, with its table reference set
 *
 * From here on lookups find it.
 *
 * Context: @ctx->lock held.
 */
void kdispose_slot_fill_locked(struct kdispose_ctx *ctx,
			       struct kdispose_object *obj)
{
	struct kdispose_table *table = kdispose_table_locked(ctx);
	struct kdispose_slot *slot;

	slot = &table->slots[kdispose_handle_slot(obj->handle)];
	WRITE_ONCE(slot->seq, kdispose_object_seq(obj));
	rcu_assign_pointer(slot->obj, obj);
}

/**
 * kdispose_slot_clear_locked - take an object out of its slot
 * @ctx: the owner
 * @obj: the object, published in @ctx
 *
 * The slot is free for the next create; lookups that find @obj meanwhile
 * see its state.
 *
 * Context: @ctx->lock held.
 */
void kdispose_slot_clear_locked(struct kdispose_ctx *ctx,
				struct kdispose_object *obj)
{
	struct kdispose_table *table = kdispose_table_locked(ctx);
	u32 slot = kdispose_handle_slot(obj->handle);

	RCU_INIT_POINTER(table->slots[slot].obj, NULL);
	kdispose_slot_free_locked(ctx, slot);
}

/**
 * kdispose_slot_retire_locked - a reserved handle that was never published
 * @ctx: the owner
 * @handle: the handle, which the caller has seen
 *
 * From now on @handle names an object that is gone (EIDRM), not one never
 * issued. The slot itself is still reserved: kdispose_slot_free_locked()
 * gives it back.
 *
 * Context: @ctx->lock held.
 */
void kdispose_slot_retire_locked(struct kdispose_ctx *ctx, u64 handle)
{
	struct kdispose_table *table = kdispose_table_locked(ctx);

	WRITE_ONCE(table->slots[kdispose_handle_slot(handle)].seq,
		   kdispose_handle_seq(handle));
}

/**
 * kdispose_table_free - free an owner's table, once every object left it
 * @ctx: the owner, in its release hook
 *
 * Context: process context; nothing can look the table up any more.
 */
void kdispose_table_free(struct kdispose_ctx *ctx)
{
	struct kdispose_table *table = rcu_access_pointer(ctx->table);

	kvfree(ctx->free);
	ctx->free = NULL;
	if (table)
		kdispose_user_uncharge_slots(ctx->user, table->size);
	RCU_INIT_POINTER(ctx->table, NULL);
	kvfree(table);
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
 * object named by @handle in @ctx's table, else put it. Called after the RCU
 * section: that put may be the last one, and ->release may sleep. The
 * owner is compared first: another file issues the same handle values.
 */
static bool kdispose_object_keep(struct kdispose_object *obj,
				 struct kdispose_ctx *ctx, u64 handle)
{
	if (READ_ONCE(obj->owner) == ctx &&
	    READ_ONCE(obj->handle) == handle &&
	    READ_ONCE(obj->state) == KDISPOSE_LIVE)
		return true;
	kdispose_object_put(obj);
	return false;
}

/**
 * kdispose_object_lookup - find a live object and take a reference on it
 * @ctx: the owner
 * @handle: the handle to look up
 *
 * Context: any process context; lockless (RCU).
 * Return: the object, which the caller must kdispose_object_put();
 * ERR_PTR(-EIDRM) when @handle was issued but its object is gone;
 * ERR_PTR(-ENOENT) when @handle was never issued by @ctx.
 */
struct kdispose_object *kdispose_object_lookup(struct kdispose_ctx *ctx,
					       u64 handle)
{
	u32 slot = kdispose_handle_slot(handle);
	u64 seq = kdispose_handle_seq(handle);
	struct kdispose_object *obj = NULL;
	struct kdispose_table *table;
	u64 last = 0;

	rcu_read_lock();
	table = rcu_dereference(ctx->table);
	if (seq && table && slot < table->size) {
		obj = rcu_dereference(table->slots[slot].obj);
		if (obj && !kdispose_object_tryget(obj))
			obj = NULL;
		last = READ_ONCE(table->slots[slot].seq);
	}
	rcu_read_unlock();
	if (obj && kdispose_object_keep(obj, ctx, handle))
		return obj;
	return ERR_PTR(seq && seq <= last ? -EIDRM : -ENOENT);
}

/**
 * kdispose_object_lookup_mmap - find a live mappable object by mmap offset
 * @ctx: the owner
 * @pgoff: the page offset given to mmap()
 *
 * Context: any process context; lockless (RCU).
 * Return: the object with a reference the caller must put, or NULL.
 */
struct kdispose_object *kdispose_object_lookup_mmap(struct kdispose_ctx *ctx,
						    unsigned long pgoff)
{
	struct kdispose_object *obj;

	rcu_read_lock();
	obj = xa_load(&ctx->mmap_xa, pgoff);
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
	return kdispose_object_keep(obj, ctx, obj->handle) ? obj : NULL;
}
