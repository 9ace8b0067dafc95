// SPDX-License-Identifier: GPL-2.0
/*
 * The owner: the state of one open /dev/kdispose file (struct
 * kdispose_ctx), its quotas, fdinfo, and the finalizer path.
 *
 * Finalize: the file's release hook takes every object still published,
 *   roots first (each with its subtree), with disposing == false. It runs
 *   wherever the last fput() happens (task work of any task, or a kworker),
 *   so it never looks at current or user memory. It then frees the table
 *   and drops the file's reference on its state.
 *   The table's references are usually the last ones, but need not be: a
 *   mapping keeps its buffer, and a lookup through another file may hold a
 *   transient reference (table.c). So no object reference relies on the
 *   file: each published object pins its owner's state until the object is
 *   freed, and whichever put is the last, of an object or then of the
 *   owner, frees it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "internal.h"

/**
 * kdispose_ctx_alloc - allocate the state of a newly opened file
 *
 * Context: process context; the ->open of /dev/kdispose.
 * Return: the state, or NULL when out of memory.
 */
struct kdispose_ctx *kdispose_ctx_alloc(void)
{
	struct kdispose_ctx *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return NULL;
	ctx->user = kdispose_user_get();
	if (!ctx->user) {
		kfree(ctx);
		return NULL;
	}
	refcount_set(&ctx->ref, 1);
	mutex_init(&ctx->lock);
	xa_init(&ctx->mmap_xa);
	ctx->next_seq = 1;
	ctx->tgid = task_tgid_nr(current);
	return ctx;
}

/**
 * kdispose_ctx_put_many - drop references on an owner's state
 * @ctx: the owner
 * @n: how many, at least 1: the references of objects freed together
 *
 * The last reference goes once the release hook has run and every object
 * is freed: then the state is freed.
 *
 * Context: process context.
 */
void kdispose_ctx_put_many(struct kdispose_ctx *ctx, unsigned int n)
{
	if (!refcount_sub_and_test(n, &ctx->ref))
		return;
	kdispose_spares_free(ctx);
	kdispose_user_put(ctx->user);
	mutex_destroy(&ctx->lock);
	kfree(ctx);
}

/**
 * kdispose_report_leak - log an object that reached the finalizer undisposed
 * @obj: the object, being finalized
 *
 * Rate-limited; called only when the leak_report parameter is on.
 *
 * Context: any process context.
 */
void kdispose_report_leak(struct kdispose_object *obj)
{
	char comm[TASK_COMM_LEN] = "(exited)";
	struct task_struct *task;

	rcu_read_lock();
	task = pid_task(find_pid_ns(obj->tgid, &init_pid_ns), PIDTYPE_TGID);
	if (task)
		get_task_comm(comm, task);
	rcu_read_unlock();
	pr_info_ratelimited("leak: %s object %#llx \"%s\" created by pid %d (%s) %u ms ago was never disposed\n",
			    kdispose_kind_name(obj->kind), obj->handle,
			    obj->label, obj->tgid, comm,
			    jiffies_to_msecs((u32)jiffies - obj->created));
}

/* One line per released file that held undisposed objects. */
static void kdispose_report_leak_summary(struct kdispose_ctx *ctx,
					 unsigned int total,
					 const unsigned int *count)
{
	char buf[128];
	unsigned int kind;
	int len = 0;

	for (kind = 0; kind < KDISPOSE_NR_KINDS; kind++)
		if (count[kind])
			len += scnprintf(buf + len, sizeof(buf) - len, "%s%u %s",
					 len ? ", " : "", count[kind],
					 kdispose_kind_name(kind));
	pr_info_ratelimited("leak: fd of pid %d released with %u undisposed objects: %s\n",
			    ctx->tgid, total, buf);
}

/**
 * kdispose_ctx_release - the finalizer path: release a file's objects
 * @ctx: the owner, whose file has no reference left
 *
 * Takes every object still in the table, children before parents, runs
 * ->dispose(obj, false) on each and frees @ctx. Linear in the number of
 * objects, yielding the CPU regularly.
 *
 * Context: process context of any task (task work of the last fput(), or a
 * kworker): uses neither current nor user memory.
 */
void kdispose_ctx_release(struct kdispose_ctx *ctx)
{
	struct kdispose_taken taken = {};
	unsigned int n = 0, total = 0;
	struct kdispose_table *table;
	struct kdispose_object *obj;
	u32 slot;

	mutex_lock(&ctx->lock);
	table = kdispose_table_locked(ctx);
	for (slot = 0; slot < ctx->hwm; slot++) {
		if (slot % KDISPOSE_RESCHED_BATCH == 0)
			cond_resched();
		obj = rcu_dereference_protected(table->slots[slot].obj,
						lockdep_is_held(&ctx->lock));
		if (!obj || obj->parent)
			continue;
		n += kdispose_take_tree_locked(ctx, obj, false, &taken);
		if (n >= KDISPOSE_RESCHED_BATCH) {
			mutex_unlock(&ctx->lock);
			kdispose_dispose_taken(ctx, &taken, false, 0);
			cond_resched();
			total += n;
			n = 0;
			mutex_lock(&ctx->lock);
		}
	}
	mutex_unlock(&ctx->lock);
	kdispose_dispose_taken(ctx, &taken, false, 0);
	total += n;

	if (total && READ_ONCE(kdispose_leak_report))
		kdispose_report_leak_summary(ctx, total, taken.count);

	WARN_ON_ONCE(!xa_empty(&ctx->mmap_xa));
	xa_destroy(&ctx->mmap_xa);
	kdispose_table_free(ctx);
	/* Objects still referenced (mapped, or looked up) keep the rest. */
	kdispose_ctx_put(ctx);
}

/**
 * kdispose_charge_bytes - charge memory-buffer bytes to a file's quotas
 * @ctx: the owner
 * @bytes: how many
 *
 * Charges both the file (max_bytes) and the user that opened it
 * (max_user_bytes, see user.c).
 *
 * Context: process context. Takes @ctx->lock.
 * Return: 0, or -EDQUOT when the file would exceed max_bytes or its user
 * max_user_bytes.
 */
int kdispose_charge_bytes(struct kdispose_ctx *ctx, u64 bytes)
{
	/* Read once: root may lower it meanwhile, and max - bytes must not wrap. */
	u64 max = READ_ONCE(kdispose_max_bytes);
	int err;

	err = kdispose_user_charge_bytes(ctx->user, bytes);
	if (err)
		return err;
	mutex_lock(&ctx->lock);
	if (bytes > max || ctx->bytes > max - bytes)
		err = -EDQUOT;
	else
		ctx->bytes += bytes;
	mutex_unlock(&ctx->lock);
	if (err)
		kdispose_user_uncharge_bytes(ctx->user, bytes);
	return err;
}

/**
 * kdispose_uncharge_bytes - give back bytes charged by kdispose_charge_bytes()
 * @ctx: the owner
 * @bytes: how many
 *
 * Context: process context. Takes @ctx->lock.
 */
void kdispose_uncharge_bytes(struct kdispose_ctx *ctx, u64 bytes)
{
	mutex_lock(&ctx->lock);
	ctx->bytes -= bytes;
	mutex_unlock(&ctx->lock);
	kdispose_user_uncharge_bytes(ctx->user, bytes);
}

/**
 * kdispose_show_fdinfo - the kdispose lines of /proc/<pid>/fdinfo/<fd>
 * @m: the seq_file
 * @ctx: the owner
 *
 * Context: process context. Takes @ctx->lock.
 */
void kdispose_show_fdinfo(struct seq_file *m, struct kdispose_ctx *ctx)
{
	unsigned int kind, live = 0;

	mutex_lock(&ctx->lock);
	for (kind = 0; kind < KDISPOSE_NR_KINDS; kind++)
		live += ctx->nlive[kind];
	seq_printf(m, "kdispose_live:\t%u\n", live);
	seq_printf(m, "kdispose_next_seq:\t%llu\n", ctx->next_seq);
	seq_printf(m, "kdispose_disposed:\t%llu\n", ctx->ndisposed);
	seq_printf(m, "kdispose_bytes:\t%llu\n", ctx->bytes);
	for (kind = 0; kind < KDISPOSE_NR_KINDS; kind++)
		if (kdispose_ops(kind))
			seq_printf(m, "kdispose_live_%s:\t%u\n",
				   kdispose_kind_name(kind), ctx->nlive[kind]);
	mutex_unlock(&ctx->lock);
}
