// SPDX-License-Identifier: GPL-2.0
/*
 * Sharing: export fds, imports, and the names of an object
 * (Documentation/sharing.md has the rules and why).
 *
 * The state of a kind that can be shared (a memory buffer, an event) starts
 * with a struct kdispose_shared, which obj->priv points to. Several
 * handles, in any tables, and export fds may name it:
 *
 * Names: @names counts the handles that are neither disposed nor
 *   finalized and the export files not yet released. A create starts it at
 *   1; an export or an import adds one, always from a name that exists (the
 *   handle looked up, the export file held by the import), so it never
 *   goes up from zero. Each handle drops its name in its kind's ->dispose
 *   (exactly once, the core sees to that), each export file in its
 *   ->release. The drop that takes @names to zero ends the object, once,
 *   with the disposing flag of that last name.
 *
 * References: @ref counts what keeps the state's memory: each handle
 *   object naming it, until that object's ->release, and each export file.
 *   The last put frees it through the kind's ->share_free.
 *
 * Export files hold no file, no address space and no table: an object
 *   holds nothing but its resource, so no reference cycle can go through
 *   one. A FILE object refuses them (ELOOP), like every file not on its
 *   allowlist.
 */
#include <linux/anon_inodes.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "internal.h"
#include "trace.h"

/**
 * struct kdispose_export_file - the private data of an export fd
 * @sh: the object it names; holds a reference and a name.
 * @ctx: the table state of the exporter, pinned: the export is charged as
 *	one object to its user until the file is released.
 */
struct kdispose_export_file {
	struct kdispose_shared *sh;
	struct kdispose_ctx *ctx;
};

/* Anon-inode names of the export files, per kind. */
static const char *const kdispose_export_names[KDISPOSE_NR_KINDS] = {
#define KDISPOSE_KIND(ID, name)						\
	[KDISPOSE_TYPE_##ID] = "[kdispose-" #name "]",
#include "kinds.h"
#undef KDISPOSE_KIND
};

/**
 * kdispose_share_init - start the shared state of a new object
 * @obj: the object being created, in its kind's ->init
 * @sh: the shared state, at the start of the kind's state
 *
 * The object's handle is the first name. The state pins the creator's
 * table state, to which the kind charges what it holds.
 *
 * Context: process context.
 */
void kdispose_share_init(struct kdispose_object *obj,
			 struct kdispose_shared *sh)
{
	refcount_set(&sh->ref, 1);
	atomic_set(&sh->names, 1);
	atomic_set(&sh->handles, 1);
	sh->kind = obj->kind;
	sh->owner = obj->owner;
	refcount_inc(&sh->owner->ref);
	obj->priv = sh;
}

/* The last reference: the kind frees its state, then the creator is let go. */
static void kdispose_share_put(struct kdispose_shared *sh)
{
	struct kdispose_ctx *owner = sh->owner;

	if (!refcount_dec_and_test(&sh->ref))
		return;
	kdispose_ops(sh->kind)->share_free(sh);
	kdispose_ctx_put(owner);
}

/* Drop a name; the last one ends the object. */
static void kdispose_share_drop(struct kdispose_shared *sh, bool handle,
				bool disposing)
{
	if (handle)
		atomic_dec(&sh->handles);
	if (atomic_dec_and_test(&sh->names))
		trace_kdispose_share_end(sh, disposing);
}

/**
 * kdispose_share_dispose - the ->dispose of a handle of a shared kind
 * @obj: the handle's object, taken out of its table
 * @disposing: as for &kdispose_kind_ops.dispose
 *
 * Drops the handle's name: the object ends if it was the last.
 *
 * Context: process context, any task.
 */
void kdispose_share_dispose(struct kdispose_object *obj, bool disposing)
{
	kdispose_share_drop(obj->priv, true, disposing);
}

/**
 * kdispose_share_release - the ->release of a handle of a shared kind
 * @obj: the handle's object, at its last reference
 *
 * An object whose create failed was never published and never disposed:
 * its name goes here, silently (a create's was the only one, an import's
 * is not the last, since the import holds the export file).
 *
 * Context: process context.
 */
void kdispose_share_release(struct kdispose_object *obj)
{
	struct kdispose_shared *sh = obj->priv;

	if (obj->state == KDISPOSE_NEW) {
		atomic_dec(&sh->handles);
		atomic_dec(&sh->names);
	}
	kdispose_share_put(sh);
}

/**
 * kdispose_share_attach - make a new object a handle of an exported one
 * @obj: the object being imported, in place of its kind's ->init
 * @sh: the shared state, named by an export file the caller holds
 *
 * Context: process context.
 */
void kdispose_share_attach(struct kdispose_object *obj,
			   struct kdispose_shared *sh)
{
	refcount_inc(&sh->ref);
	atomic_inc(&sh->names);
	atomic_inc(&sh->handles);
	obj->priv = sh;
}

static int kdispose_export_release(struct inode *inode, struct file *file)
{
	struct kdispose_export_file *ef = file->private_data;

	kdispose_share_drop(ef->sh, false, false);
	kdispose_share_put(ef->sh);
	kdispose_user_uncharge_slots(ef->ctx->user, 1);
	kdispose_ctx_put(ef->ctx);
	kfree(ef);
	return 0;
}

static __poll_t kdispose_export_poll(struct file *file, poll_table *pt)
{
	struct kdispose_export_file *ef = file->private_data;
	const struct kdispose_kind_ops *ops = kdispose_ops(ef->sh->kind);

	if (!ops->share_poll)
		return DEFAULT_POLLMASK;
	return ops->share_poll(ef->sh, file, pt);
}

static ssize_t kdispose_export_read(struct file *file, char __user *buf,
				    size_t len, loff_t *ppos)
{
	struct kdispose_export_file *ef = file->private_data;
	const struct kdispose_kind_ops *ops = kdispose_ops(ef->sh->kind);

	if (!ops->share_read)
		return -EINVAL;
	return ops->share_read(ef->sh, file, buf, len);
}

static void kdispose_export_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct kdispose_export_file *ef = file->private_data;

	seq_printf(m, "kdispose_kind:\t%s\n", kdispose_kind_name(ef->sh->kind));
	seq_printf(m, "kdispose_names:\t%d\n", atomic_read(&ef->sh->names));
	seq_printf(m, "kdispose_handles:\t%d\n",
		   atomic_read(&ef->sh->handles));
}

static const struct file_operations kdispose_export_fops = {
	.owner = THIS_MODULE,
	.release = kdispose_export_release,
	.poll = kdispose_export_poll,
	.read = kdispose_export_read,
	.show_fdinfo = kdispose_export_show_fdinfo,
	.llseek = noop_llseek,
};

/* Make the export file of @sh; the caller has added its name already. */
static struct file *kdispose_export_file(struct kdispose_ctx *ctx,
					 struct kdispose_shared *sh)
{
	struct kdispose_export_file *ef;
	struct file *file;
	int err;

	err = kdispose_user_charge_slots(ctx->user, 1);
	if (err)
		return ERR_PTR(err);
	ef = kmalloc(sizeof(*ef), GFP_KERNEL_ACCOUNT);
	if (!ef) {
		err = -ENOMEM;
		goto err_uncharge;
	}
	ef->sh = sh;
	ef->ctx = ctx;
	file = anon_inode_getfile(kdispose_export_names[sh->kind],
				  &kdispose_export_fops, ef, O_RDONLY);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		goto err_free;
	}
	/* The file's references, dropped by its ->release. */
	refcount_inc(&sh->ref);
	refcount_inc(&ctx->ref);
	return file;

err_free:
	kfree(ef);
err_uncharge:
	kdispose_user_uncharge_slots(ctx->user, 1);
	return ERR_PTR(err);
}

/**
 * kdispose_share_export - KDISPOSE_IOC_EXPORT: a new export fd for a handle
 * @ctx: the caller's table
 * @handle: the object to export
 * @flags: KDISPOSE_EXPORT_* bits, checked by the caller
 *
 * Context: process context, the calling task.
 * Return: the new fd; -ENOENT or -EIDRM for a bad handle; -EOPNOTSUPP for a
 * kind that cannot be shared; -EDQUOT when the caller's user holds
 * max_user_objects already; -EMFILE or -ENFILE; -ENOMEM.
 */
long kdispose_share_export(struct kdispose_ctx *ctx, u64 handle,
			   unsigned int flags)
{
	struct kdispose_object *obj;
	struct kdispose_shared *sh;
	struct file *file;
	long fd;

	obj = kdispose_object_lookup(ctx, handle);
	if (IS_ERR(obj))
		return PTR_ERR(obj);
	if (!kdispose_ops(obj->kind)->share_free) {
		fd = -EOPNOTSUPP;
		goto out;
	}
	sh = obj->priv;
	/*
	 * The handle was live at the lookup. If it has been disposed since
	 * and the object has no name left, the object has ended: too late.
	 * Any other name keeps it, and the export is then ordered before
	 * that dispose.
	 */
	if (!atomic_inc_not_zero(&sh->names)) {
		fd = -EIDRM;
		goto out;
	}
	fd = get_unused_fd_flags(flags & KDISPOSE_EXPORT_NO_CLOEXEC ?
				 0 : O_CLOEXEC);
	if (fd < 0)
		goto err_drop;
	file = kdispose_export_file(ctx, sh);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		fd = PTR_ERR(file);
		goto err_drop;
	}
	fd_install(fd, file);
	goto out;

err_drop:
	/* A name nobody saw; it may be the last if the handle went. */
	kdispose_share_drop(sh, false, false);
out:
	kdispose_object_put(obj);
	return fd;
}

/**
 * kdispose_share_import - KDISPOSE_IOC_IMPORT: a new handle for an export fd
 * @ctx: the caller's table
 * @args: the import arguments, copied from user space and checked
 * @uhandle: where the new handle is written, before it is published
 *
 * Context: process context, the calling task.
 * Return: 0; -EBADF for an fd that is not open; -EINVAL for one that is
 * not an export fd, or for an @args->type that is not a type;
 * -EMEDIUMTYPE for an object of another type than @args->type; or what
 * kdispose_object_create() returns.
 */
int kdispose_share_import(struct kdispose_ctx *ctx,
			  const struct kdispose_import *args,
			  u64 __user *uhandle)
{
	struct kdispose_create create = {
		.parent = args->parent,
	};
	struct kdispose_export_file *ef;
	struct file *file;
	int err;

	if (args->fd < 0)
		return -EBADF;
	file = fget(args->fd);
	if (!file)
		return -EBADF;
	if (file->f_op != &kdispose_export_fops) {
		err = -EINVAL;
		goto out;
	}
	ef = file->private_data;
	if (args->type && !kdispose_ops(args->type)) {
		err = -EINVAL;
		goto out;
	}
	if (args->type && args->type != ef->sh->kind) {
		err = -EMEDIUMTYPE;
		goto out;
	}
	create.type = ef->sh->kind;
	memcpy(create.label, args->label, sizeof(create.label));
	/* The file's name keeps the object from ending meanwhile. */
	err = kdispose_object_create(ctx, &create, uhandle, ef->sh);
out:
	fput(file);
	return err;
}
