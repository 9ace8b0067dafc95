// SPDX-License-Identifier: GPL-2.0
/*
 * Per-user quotas: what one user can pin, however its files are held.
 *
 * The per-file quotas (max_objects, max_bytes) bound one file; but a file
 * outlives its fds while a memory mapping, a fork or a message in flight
 * holds it, so counting files by RLIMIT_NOFILE bounds nothing. Every owner
 * is therefore charged to the user that opened it (the real uid of the
 * opener, as RLIMIT_NOFILE and the kernel's user_struct count), and that
 * user is bounded by two sums over all its owners:
 *
 * - slots: the capacity of the owners' handle tables, charged when a table
 *   grows and given back when the owner's file is released. A live object
 *   needs a slot, so this bounds the live objects and the tables' memory,
 *   including tables that stay large after their objects are gone. Over
 *   max_user_objects a create fails with EDQUOT.
 * - bytes: memory-buffer bytes, charged by a buffer's ->init and given back
 *   by its ->release: a buffer that a mapping keeps after its dispose still
 *   counts. Over max_user_bytes a create fails with EDQUOT.
 *
 * Nothing on the create/dispose fast path of a token or an event touches
 * the user: tables grow by doubling, and only memory buffers charge bytes.
 *
 * Locking: kdispose_users and each user's @node are protected by
 * kdispose_users_lock, taken only when an owner is allocated or freed
 * (the open and the end of a file, not its creates and disposes). The
 * charges are atomics, checked against the limit after the add so that two
 * racing charges cannot both pass.
 */
#include <linux/cred.h>
#include <linux/hashtable.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uidgid.h>

#include "internal.h"

/**
 * struct kdispose_user - the charges of one user
 * @node: entry in kdispose_users. Protected by kdispose_users_lock.
 * @uid: the user.
 * @ref: owners charged to this user.
 * @slots: table slots of all its owners.
 * @bytes: memory-buffer bytes of all its owners' buffers.
 */
struct kdispose_user {
	struct hlist_node node;
	kuid_t uid;
	refcount_t ref;
	atomic_long_t slots;
	atomic64_t bytes;
};

#define KDISPOSE_USERS_BITS	6

static DEFINE_SPINLOCK(kdispose_users_lock);
static DEFINE_HASHTABLE(kdispose_users, KDISPOSE_USERS_BITS);

static struct kdispose_user *kdispose_user_find_locked(kuid_t uid)
{
	struct kdispose_user *user;

	hash_for_each_possible(kdispose_users, user, node, __kuid_val(uid))
		if (uid_eq(user->uid, uid))
			return user;
	return NULL;
}

/**
 * kdispose_user_get - the charges of the current task's real user
 *
 * Context: process context, may sleep.
 * Return: the user, with a reference the caller gives back with
 * kdispose_user_put(); NULL when out of memory.
 */
struct kdispose_user *kdispose_user_get(void)
{
	kuid_t uid = current_uid();
	struct kdispose_user *user, *new;

	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new)
		return NULL;
	spin_lock(&kdispose_users_lock);
	user = kdispose_user_find_locked(uid);
	if (user) {
		refcount_inc(&user->ref);
	} else {
		user = new;
		new = NULL;
		user->uid = uid;
		refcount_set(&user->ref, 1);
		hash_add(kdispose_users, &user->node, __kuid_val(uid));
	}
	spin_unlock(&kdispose_users_lock);
	kfree(new);
	return user;
}

/**
 * kdispose_user_put - drop a reference taken by kdispose_user_get()
 * @user: the user
 *
 * The last owner of a user frees it; its charges are zero by then.
 *
 * Context: any context.
 */
void kdispose_user_put(struct kdispose_user *user)
{
	spin_lock(&kdispose_users_lock);
	if (!refcount_dec_and_test(&user->ref)) {
		spin_unlock(&kdispose_users_lock);
		return;
	}
	hash_del(&user->node);
	spin_unlock(&kdispose_users_lock);
	WARN_ON_ONCE(atomic_long_read(&user->slots) ||
		     atomic64_read(&user->bytes));
	kfree(user);
}

/**
 * kdispose_user_charge_slots - charge table slots to a user
 * @user: the user
 * @n: how many
 *
 * Context: any context.
 * Return: 0, or -EDQUOT when the user would exceed max_user_objects.
 */
int kdispose_user_charge_slots(struct kdispose_user *user, u32 n)
{
	unsigned long max = READ_ONCE(kdispose_max_user_objects);

	if (atomic_long_add_return(n, &user->slots) > max) {
		atomic_long_sub(n, &user->slots);
		return -EDQUOT;
	}
	return 0;
}

/**
 * kdispose_user_uncharge_slots - give back kdispose_user_charge_slots()
 * @user: the user
 * @n: how many
 *
 * Context: any context.
 */
void kdispose_user_uncharge_slots(struct kdispose_user *user, u32 n)
{
	atomic_long_sub(n, &user->slots);
}

/**
 * kdispose_user_charge_bytes - charge memory-buffer bytes to a user
 * @user: the user
 * @bytes: how many
 *
 * Context: any context.
 * Return: 0, or -EDQUOT when the user would exceed max_user_bytes.
 */
int kdispose_user_charge_bytes(struct kdispose_user *user, u64 bytes)
{
	u64 max = READ_ONCE(kdispose_max_user_bytes);

	if (bytes > max)
		return -EDQUOT;
	if (atomic64_add_return(bytes, &user->bytes) > max) {
		atomic64_sub(bytes, &user->bytes);
		return -EDQUOT;
	}
	return 0;
}

/**
 * kdispose_user_uncharge_bytes - give back kdispose_user_charge_bytes()
 * @user: the user
 * @bytes: how many
 *
 * Context: any context.
 */
void kdispose_user_uncharge_bytes(struct kdispose_user *user, u64 bytes)
{
	atomic64_sub(bytes, &user->bytes);
}
